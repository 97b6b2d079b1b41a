"""Turns the package's own errors into one-line CLI messages (no traceback)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import click

from keras_ecgpe.errors import ECGPEError

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Re-raises ECGPEError as click.ClickException so the CLI prints `Error: ...`."""
    try:
        yield
    except ECGPEError as exc:
        raise click.ClickException(str(exc)) from exc
