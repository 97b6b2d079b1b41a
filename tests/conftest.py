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
