"""Entry point of `ecgpe-keras`: a click group whose sub-commands import TensorFlow lazily."""

from __future__ import annotations

import click

from keras_ecgpe import __version__
from keras_ecgpe.cli.data_commands import data
from keras_ecgpe.cli.export_commands import export, predict
from keras_ecgpe.cli.models_commands import models
from keras_ecgpe.cli.train_commands import compare, evaluate, train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ecgpe-keras")
def cli() -> None:
    """Pulmonary embolism detection from 12-lead ECGs (Keras 3, tf.data, TFLite)."""


cli.add_command(data)
cli.add_command(models)
cli.add_command(train)
cli.add_command(evaluate)
cli.add_command(compare)
cli.add_command(export)
cli.add_command(predict)


def main() -> None:
    cli(prog_name="ecgpe-keras")
