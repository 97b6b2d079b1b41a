"""CPSC2018 (ICBEB 2018) original challenge files: a MATLAB struct `ECG` per record."""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING

import numpy as np
import scipy.io

from keras_ecgpe.data.readers.common import build_record, check_length, sample_cap
from keras_ecgpe.data.readers.mat_v5 import check_inflated_size
from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.errors import RecordError
from keras_ecgpe.leads import CANONICAL_LEADS

if TYPE_CHECKING:
    import os

# Fixed by the challenge: 500 Hz, millivolts, the standard 12 leads in standard order.
CPSC2018_FS = 500.0
# An uncompressed 12 x N double matrix needs 96 bytes a sample; room for the struct around it.
_BYTES_PER_SAMPLE = 12 * 8
_SLACK_BYTES = 1 << 16


def read_cpsc2018_mat(path: os.PathLike | str, *, max_samples: int | None = None) -> ECGRecord:
    """Reads a CPSC2018 `.mat` file (struct `ECG` with `sex`, `age`, `data`).

    `data` is 12 x N in mV at 500 Hz in the order I, II, III, aVR, aVL, aVF, V1-V6. The
    challenge's diagnoses live in its REFERENCE.csv, not in the file: labels stay empty.

    Args:
        path: the `.mat` file.
        max_samples: most samples to read; default one hour at 500 Hz. Files too large
            to hold only that many samples are refused before loading.

    Returns:
        `ECGRecord` with `source_format="cpsc2018-mat"`, float32 `(time, 12)` in mV.

    Raises:
        RecordError: naming the file: unreadable MATLAB file, no `ECG` struct (e.g. a CinC
            `.mat` whose `.hea` is missing), `data` not 12 x N numbers, too long, NaN/inf,
            all flat.

    Example:

    ```python
    record = read_cpsc2018_mat("real-ecg/cpsc2018/A1981.mat")
    record.duration_s  # 15.9
    ```
    """
    path = pathlib.Path(path)
    cap = sample_cap(max_samples, CPSC2018_FS)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RecordError(path, f"cannot read MATLAB file: {exc}") from exc
    if size > cap * _BYTES_PER_SAMPLE + _SLACK_BYTES:
        raise RecordError(
            path,
            f"file is {size} bytes, more than {cap} samples (max_samples) of 12 leads can take",
        )
    # A compressed element may inflate to far more than the file's size: counted first.
    check_inflated_size(path, cap * _BYTES_PER_SAMPLE + _SLACK_BYTES)
    try:
        content = scipy.io.loadmat(str(path), simplify_cells=True)
    except Exception as exc:  # scipy raises many types on malformed files
        raise RecordError(path, f"cannot read MATLAB file: {exc}") from exc
    ecg = content.get("ECG")
    if not isinstance(ecg, dict) or "data" not in ecg:
        found = ", ".join(key for key in content if not key.startswith("__")) or "nothing"
        raise RecordError(
            path,
            f"no CPSC2018 struct `ECG` with `data` (found: {found}); a CinC "
            ".mat signal file needs its .hea header next to it",
        )
    data = np.asarray(ecg["data"])
    if data.ndim != 2 or data.shape[0] != 12 or data.dtype.kind not in "iuf":
        raise RecordError(
            path,
            f"ECG.data must be a 12 x N numeric matrix; found shape "
            f"{data.shape}, dtype {data.dtype}",
        )
    check_length(data.shape[1], cap, path)
    return build_record(
        data.T,
        CANONICAL_LEADS,
        fs=CPSC2018_FS,
        path=path,
        record_id=path.stem,
        source_format="cpsc2018-mat",
        units="mV",
        age=_scalar(ecg.get("age")),
        sex=_scalar(ecg.get("sex")),
    )


def _scalar(value):
    """Returns a struct field as a plain scalar/str, or None when empty or missing."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.size != 1:
        return None
    item = array.reshape(-1)[0]
    return item.item() if isinstance(item, np.generic) else item
