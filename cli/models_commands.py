"""`ecgpe-keras models ...`: the model zoo's registered architectures."""

from __future__ import annotations

import json

import click

from keras_ecgpe.cli.errors import reported_errors
from keras_ecgpe.limits import MAX_CLASSES, MAX_INPUT_LEN, MAX_LEADS


@click.group()
def models() -> None:
    """Inspect the model zoo."""


@models.command("list")
@click.option(
    "--input-len",
    type=click.IntRange(1, MAX_INPUT_LEN),
    default=2048,
    show_default=True,
    help="Window length in samples used to count MACs.",
)
@click.option("--num-leads", type=click.IntRange(1, MAX_LEADS), default=12, show_default=True)
@click.option(
    "--num-classes",
    type=click.IntRange(1, MAX_CLASSES),
    default=1,
    show_default=True,
    help="Logits of the head.",
)
@click.option("--model", "names", multiple=True, help="Only this registered name (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(
    input_len: int, num_leads: int, num_classes: int, names: tuple[str, ...], as_json: bool
) -> None:
    """Every registered model with its parameters and multiply-accumulates per window."""
    from keras_ecgpe.models.summary import describe_models

    with reported_errors():
        rows = describe_models(input_len, num_leads, num_classes, names or None)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'name':<22}{'family':<22}{'params (M)':>12}{'MACs (M)':>12}{'features':>10}")
    for row in rows:
        click.echo(
            f"{row['name']:<22}{row['family']:<22}{row['parameters'] / 1e6:>12.2f}"
            f"{row['macs'] / 1e6:>12.1f}{row['features']:>10}"
        )
    click.echo(f"(MACs per {num_leads} x {input_len} window, batch 1)")
