"""Shared test fixtures: where the real PhysioNet sample records live."""

from __future__ import annotations

import pathlib

import pytest

REAL_ECG = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"


@pytest.fixture(scope="session")
def real_ecg() -> pathlib.Path:
    """The real-record folder (../shared/data/real-ecg beside the repository)."""
    if not REAL_ECG.is_dir():
        pytest.fail(f"real ECG samples not found at {REAL_ECG}")
    return REAL_ECG


@pytest.fixture
def progress_on_stderr():
    """Progress (keras_ecgpe.messages) on the current stderr, as the CLI configures it.

    Without it, a library call under pytest logs to pytest's own root handler (a caller's
    logging set-up is respected), and capsys or a CliRunner sees nothing.
    """
    from keras_ecgpe import messages

    messages.configure(messages.NORMAL)
    yield
    messages.reset()
