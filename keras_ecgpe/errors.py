"""The package's own error types.

Every reader, loader and command raises these (never a bare ValueError or a library
traceback) so the CLI can turn them into a one-line message that names the file.
"""

from __future__ import annotations

import os


class ECGPEError(Exception):
    """Base class of every error keras_ecgpe raises on purpose."""


class RecordError(ECGPEError):
    """A record file (or its header, labels or metadata) cannot be used.

    The message always starts with the path so users know which file to look at.
    """

    def __init__(self, path: os.PathLike | str | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class ConfigError(ECGPEError):
    """An option or configuration value is invalid; the message names it."""
