"""Keeps library chatter off the user's stderr unless `--verbose` asks for it.

TensorFlow's C++ runtime writes several lines to file descriptor 2 while it is imported
(absl's "All log messages before absl::InitializeLog()", oneDNN, CUDA and CPU-feature
notices), before any setting of Python's can stop it. `quiet_tensorflow_import` installs an
import hook that runs TensorFlow's first import with descriptor 2 pointed at a temporary
file and logs what was written there at DEBUG, so `-v` shows it and the default shows
nothing. `TF_CPP_MIN_LOG_LEVEL=3` then keeps the runtime's later lines away (INFO to
ERROR, e.g. "failed call to cuInit" on a machine without a GPU driver); real failures still
raise in Python. Python warnings (wfdb's RuntimeWarnings, deprecations) are logged at DEBUG too, one
line each, instead of the two-line source excerpt Python prints.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

_LOG = logging.getLogger("keras_ecgpe.cli.native")
_PACKAGE = "tensorflow"


def quiet_tensorflow_import(verbose: bool) -> None:
    """Hides TensorFlow's start-up lines (logged at DEBUG instead) unless `verbose`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if verbose or _PACKAGE in sys.modules:
        return
    if not any(isinstance(finder, _QuietFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())


def route_warnings_to_log() -> contextlib.AbstractContextManager:
    """Within the returned context, Python warnings are one DEBUG line each."""
    return _warnings_logged()


@contextlib.contextmanager
def _warnings_logged() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _log_warning
        yield


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    del file, line
    text = " ".join(str(message).split())
    _LOG.debug("%s: %s (%s:%s)", category.__name__, text, filename, lineno)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` through the other finders and wraps its loader (once)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != _PACKAGE:
            return None
        sys.meta_path.remove(self)  # one import only; the real finders do the finding
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with _stderr_descriptor_logged():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # e.g. get_resource_reader, is_package
        return getattr(self._loader, name)


@contextlib.contextmanager
def _stderr_descriptor_logged() -> Iterator[None]:
    """Points descriptor 2 at a temporary file; logs its lines at DEBUG afterwards."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 to redirect
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read(1 << 20).decode("utf-8", "replace").splitlines():
                if line.strip():
                    _LOG.debug("tensorflow start-up: %s", line.strip())
