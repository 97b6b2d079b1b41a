"""Progress and diagnostic messages: one package logger, configured once by the caller.

Every module logs through `logging.getLogger(__name__)`, a child of the package logger
`keras_ecgpe`. Progress ("[2/4] Pretraining ...", "epoch 3: ...") is logged at INFO, details
useful when something goes wrong at DEBUG. Messages go to stderr, so what a command was asked
for (a table, JSON) stays alone on stdout. The CLI calls `configure` with its
`--quiet`/`--verbose` level; a Python caller may configure `logging` itself, and if nobody
did, the first progress reporter installs the default (INFO on stderr).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

PACKAGE = "keras_ecgpe"
QUIET, NORMAL, VERBOSE = -1, 0, 1
_LEVELS = {QUIET: logging.WARNING, NORMAL: logging.INFO, VERBOSE: logging.DEBUG}
_HANDLER_NAME = "keras_ecgpe.stderr"


def configure(verbosity: int = NORMAL, stream: TextIO | None = None) -> logging.Logger:
    """Sends the package's messages to `stream` (default: the current stderr).

    Args:
        verbosity: `QUIET` (warnings only), `NORMAL` (progress) or `VERBOSE` (debug too).
        stream: a text stream; None means `sys.stderr` at the time of each message.

    Returns:
        The package logger.

    Example:
    >>> import io
    >>> out = io.StringIO()
    >>> log = configure(VERBOSE, out)
    >>> logging.getLogger("keras_ecgpe.demo").debug("seen")
    >>> out.getvalue()
    'seen\\n'
    >>> reset()
    """
    if verbosity not in _LEVELS:
        raise ValueError(f"`verbosity` must be one of {sorted(_LEVELS)}. Received: {verbosity}")
    logger = logging.getLogger(PACKAGE)
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(handler)
    handler = _StderrHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(_LEVELS[verbosity])
    logger.propagate = False  # one copy of each line, whatever the root logger does
    return logger


def reset() -> None:
    """Undoes `configure`: the package logger passes its records to the root logger again."""
    logger = logging.getLogger(PACKAGE)
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def progress_reporter(name: str, enabled: bool = True) -> Callable[[str], None]:
    """A `say(text)` function logging progress at INFO on logger `name` (silent if not enabled).

    Installs the default configuration when neither the package logger nor the root logger
    has a handler, so a Python caller sees progress without setting up `logging`.
    """
    if not enabled:
        return _silent
    package, root = logging.getLogger(PACKAGE), logging.getLogger()
    if not package.handlers and not root.handlers:
        configure(NORMAL)
    return logging.getLogger(name).info


def progress_enabled() -> bool:
    """Whether progress (INFO) would be shown: False under `QUIET` or a caller's own
    `logging` set-up above INFO; True while nothing is configured (the default is INFO)."""
    package, root = logging.getLogger(PACKAGE), logging.getLogger()
    if not package.handlers and not root.handlers:
        return True
    return package.isEnabledFor(logging.INFO)


def _silent(text: str) -> None:
    del text


class _StderrHandler(logging.StreamHandler):
    """A stream handler that looks `sys.stderr` up at each message (pytest and click swap it)."""

    def __init__(self, stream=None):
        super().__init__(stream or sys.stderr)
        self._fixed = stream

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = self._fixed or sys.stderr
        super().emit(record)
