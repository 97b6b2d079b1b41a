"""What every reader does once it has samples: check them, map the leads, build the record.

Readers differ only in how they get a `(time, n_leads)` array, its lead names, fs and
units out of a file. The checks that decide whether those numbers are an ECG at all
(finite, not all flat, not longer than the caller allows) live here so that every format
fails the same way, with a `RecordError` naming the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.quality import nan_runs
from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.errors import ConfigError, RecordError
from keras_ecgpe.leads import CANONICAL_LEADS, map_to_canonical

if TYPE_CHECKING:
    import os

# Default cap on record length: one hour at the record's own sampling rate.
DEFAULT_MAX_SECONDS = 3600.0

# Scale factors from the voltage units seen in ECG files to millivolts (lower-cased keys).
_TO_MV = {"mv": 1.0, "uv": 1e-3, "\u00b5v": 1e-3, "\u03bcv": 1e-3, "v": 1e3}


def check_fs(fs: object, path: os.PathLike | str) -> float:
    """Returns `fs` as a positive finite float, or raises `RecordError` naming `path`."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise RecordError(path, f"sampling frequency must be a positive number; got {fs!r}")
    return value


def sample_cap(max_samples: int | None, fs: float) -> int:
    """Returns the largest number of samples a reader may load.

    Args:
        max_samples: caller's limit, or None for one hour at `fs`.
        fs: the record's sampling rate in Hz (already checked).

    Raises:
        ConfigError: `max_samples` is not a positive integer.
    """
    if max_samples is None:
        return int(math.ceil(fs * DEFAULT_MAX_SECONDS))
    if (
        isinstance(max_samples, bool)
        or not isinstance(max_samples, (int, np.integer))
        or max_samples < 1
    ):
        raise ConfigError(
            f"`max_samples` must be a positive integer. Received: max_samples={max_samples!r}"
        )
    return int(max_samples)


def check_length(
    n_samples: int, cap: int, path: os.PathLike | str, what: str = "record holds"
) -> None:
    """Refuses records longer than `cap` samples (before they are read, where possible)."""
    if n_samples > cap:
        raise RecordError(
            path,
            f"{what} {n_samples} samples, more than the limit of {cap} "
            "(max_samples; default one hour at the record's fs)",
        )


def mv_scale(units: str, path: os.PathLike | str, lead: str = "") -> float:
    """Returns the factor that converts `units` (mV, mv, uV, V, ...) to millivolts."""
    scale = _TO_MV.get(str(units).strip().lower())
    if scale is None:
        where = f" of lead {lead}" if lead else ""
        raise RecordError(
            path, f"units{where} are {units!r}, not a voltage unit (expected mV, uV or V)"
        )
    return scale


def parse_age(value: object) -> float | None:
    """Returns an age in years from header text or a number; None if unknown."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        age = float(value)
    else:
        match = re.match(r"\s*(\d+(?:\.\d+)?)", str(value))
        age = float(match.group(1)) if match else float("nan")
    return age if math.isfinite(age) and age >= 0 else None


def parse_sex(value: object) -> str | None:
    """Returns "M" or "F" from the spellings headers use; None if unknown."""
    key = str(value).strip().lower()
    if key in ("m", "male"):
        return "M"
    if key in ("f", "female"):
        return "F"
    return None


def build_record(
    signal: np.ndarray,
    lead_names: Sequence[str],
    *,
    fs: float,
    path: os.PathLike | str,
    record_id: str,
    source_format: str,
    units: str,
    notes: Iterable[str] = (),
    age: float | None = None,
    sex: str | None = None,
    labels: Iterable[str] = (),
) -> ECGRecord:
    """Checks a signal in mV and returns it as a canonical `ECGRecord`.

    Args:
        signal: `(time, n_leads)` array in millivolts, columns named by `lead_names`.
        lead_names: the file's lead labels.
        fs, path, record_id, source_format, units, age, sex, labels: record fields.
        notes: extra remarks appended to the lead policy (e.g. a header fix).

    Returns:
        An `ECGRecord` with float32 `(time, 12)` signal in canonical lead order.

    Raises:
        RecordError: no samples, NaN/inf samples, values beyond float32, every lead
            constant, or leads that cannot be mapped to the 12 standard leads.
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 2 or signal.shape[0] == 0:
        raise RecordError(path, f"no samples (signal shape {signal.shape})")
    bad = ~np.isfinite(signal)
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        name = lead_names[col] if col < len(lead_names) else col
        runs = nan_runs(signal)
        worst = max(runs, key=runs.get)
        raise RecordError(
            path,
            f"{int(bad.sum())} missing or non-finite samples (NaN/inf), "
            f"first in lead {name} at sample {row}; longest run {runs[worst]} samples "
            f"({runs[worst] / float(fs):.3g} s) in lead "
            f"{lead_names[worst] if worst < len(lead_names) else worst}",
        )
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        signal12, policy = map_to_canonical(signal, list(lead_names), str(path))
    if not np.isfinite(signal12).all():
        raise RecordError(path, "sample values too large for float32 millivolts")
    flat = np.ptp(signal12, axis=0) == 0
    if flat.all():
        raise RecordError(path, "all leads are flat (every lead is constant)")
    parts = [policy, *notes]
    if flat.any():
        # A single flat lead can be a detached electrode: kept, but reported.
        parts.append(
            "flat leads: "
            + ",".join(lead for lead, is_flat in zip(CANONICAL_LEADS, flat) if is_flat)
        )
    return ECGRecord(
        signal=signal12,
        fs=float(fs),
        record_id=str(record_id),
        path=str(path),
        source_format=source_format,
        lead_policy="; ".join(parts),
        units=str(units),
        age=parse_age(age) if age is not None else None,
        sex=parse_sex(sex) if sex is not None else None,
        labels=tuple(str(label) for label in labels),
    )
