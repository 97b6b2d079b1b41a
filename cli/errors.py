"""Turns the package's own errors into one-line CLI messages (no traceback)."""

from __future__ import annotations

import contextlib

import click

from keras_ecgpe.errors import ECGPEError


@contextlib.contextmanager
def reported_errors():
    """Re-raises ECGPEError as click.ClickException so the CLI prints `Error: ...`."""
    try:
        yield
    except ECGPEError as exc:
        raise click.ClickException(str(exc)) from exc
