"""Entry point of `ecgpe-keras`: a click group whose sub-commands import TensorFlow lazily."""

from __future__ import annotations

import click

from keras_ecgpe import __version__, messages
from keras_ecgpe.cli.data_commands import data
from keras_ecgpe.cli.errors import ReportingGroup
from keras_ecgpe.cli.export_commands import export
from keras_ecgpe.cli.grid_command import study
from keras_ecgpe.cli.models_commands import models
from keras_ecgpe.cli.native_output import quiet_tensorflow_import, route_warnings_to_log
from keras_ecgpe.cli.predict_commands import predict
from keras_ecgpe.cli.study_commands import compare_models
from keras_ecgpe.cli.train_commands import compare, evaluate, train


@click.group(cls=ReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ecgpe-keras")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="Debug messages too, on stderr.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Pulmonary embolism detection from 12-lead ECGs (Keras 3, tf.data, TFLite).

    Results (tables, JSON, file names) go to stdout; progress and diagnostics to stderr.
    Every error is one line on stderr; -v adds the details (tracebacks, library warnings,
    TensorFlow's start-up log).
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other")
    level = messages.QUIET if quiet else messages.VERBOSE if verbose else messages.NORMAL
    messages.configure(level)
    ctx.call_on_close(messages.reset)  # in-process callers (tests) get logging back as it was
    quiet_tensorflow_import(verbose)
    ctx.with_resource(route_warnings_to_log())


cli.add_command(data)
cli.add_command(models)
cli.add_command(train)
cli.add_command(evaluate)
cli.add_command(compare)
cli.add_command(compare_models)
cli.add_command(study)
cli.add_command(export)
cli.add_command(predict)


def main() -> None:
    cli(prog_name="ecgpe-keras")
