"""README documents every command of the CLI (sqlite-utils' docs test, in spirit), and the
model zoo's tables list every registered model."""

from __future__ import annotations

import pathlib
import re

import click

from keras_ecgpe.cli.main import cli
from keras_ecgpe.models import list_families, list_models, model_family

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
MODELS_DOC = README.parent / "docs" / "models.md"


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


def _table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after `heading`, header and rule left out."""
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _names(cell: str) -> set[str]:
    return set(re.findall(r"[a-z0-9_]+", cell))


def test_models_doc_lists_every_registered_model_under_its_family():
    rows = _table_rows(MODELS_DOC.read_text(), "## Families")
    listed = {name: row[1] for row in rows for name in _names(row[0])}
    missing = [name for name in list_models() if name not in listed]
    assert not missing, f"add {missing} to the families table of docs/models.md"
    wrong = [n for n in list_models() if listed[n] != model_family(n).__name__]
    assert not wrong, f"docs/models.md gives the wrong family for {wrong}"


def test_readme_zoo_table_has_every_family_and_the_model_count():
    text = README.read_text()
    listed = set().union(*(_names(row[1]) for row in _table_rows(text, "### Model zoo")))
    missing = [f.__name__ for f in list_families() if next(iter(f.VARIANTS)) not in listed]
    assert not missing, f"add a row for {missing} to README's model-zoo table"
    count = re.search(r"(\d+) registered models", text)
    assert count and int(count.group(1)) == len(list_models()), "README's model count"
