"""README documents every command of the CLI (sqlite-utils' docs test, in spirit)."""

from __future__ import annotations

import pathlib

import click

from keras_ecgpe.cli.main import cli

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _commands(group: click.Group, prefix=("ecgpe-keras",)):
    for name, command in group.commands.items():
        path = prefix + (name,)
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield " ".join(path)


def test_every_command_is_in_readme():
    text = README.read_text()
    missing = [command for command in _commands(cli) if f"`{command}" not in text]
    assert not missing, f"commands missing from README: {missing}"


def test_readme_has_no_unfilled_placeholders():
    text = README.read_text()
    for placeholder in ("DEMO_SECONDS", "TEST_MINUTES", "PIPELINE_RESULTS", "TODO"):
        assert placeholder not in text
