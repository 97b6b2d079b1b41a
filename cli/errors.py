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
    """Re-raises ECGPEError as click.ClickException so the CLI prints `Error: ...`.

    The message is folded onto one line: some come from libraries that write several (a
    YAML parser's error points at the offending line with a caret).
    """
    try:
        yield
    except ECGPEError as exc:
        raise click.ClickException(" ".join(str(exc).split())) from exc
