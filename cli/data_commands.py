"""`ecgpe-keras data ...`: inspect records, prepare caches, write the synthetic demo."""

from __future__ import annotations

import click


@click.group()
def data() -> None:
    """Read, inspect and prepare ECG datasets."""
