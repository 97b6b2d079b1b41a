"""MedalCare-XL simulated ECGs: headerless CSV, 12 leads at 500 Hz, either orientation."""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING

from keras_ecgpe.data.readers.common import build_record, check_length, sample_cap
from keras_ecgpe.data.readers.csv_table import check_csv_size, line_chars_for, load_numbers
from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.errors import RecordError
from keras_ecgpe.leads import CANONICAL_LEADS

if TYPE_CHECKING:
    import os

MEDALCARE_FS = 500.0


def read_medalcare_csv(path: os.PathLike | str, *, max_samples: int | None = None) -> ECGRecord:
    """Reads one MedalCare-XL CSV (`<nnnnnn>_<variant>.csv`) into a canonical `ECGRecord`.

    The release writes no header: 12 leads in the order I, II, III, aVR, aVL, aVF,
    V1-V6 at 500 Hz, taken as mV. Releases and re-exports differ in orientation, so a
    12 x N array (leads as rows) and an N x 12 array (leads as columns) are both
    accepted; a 12 x 12 array is ambiguous and refused. Labels come from the path and
    are left to the dataset source.

    Args:
        path: the `.csv` file.
        max_samples: most samples to read; default one hour at 500 Hz.

    Returns:
        `ECGRecord` with `source_format="medalcare-csv"`, float32 `(time, 12)` in mV.

    Raises:
        RecordError: naming the file: not 12 columns or 12 rows of numbers, too long or
            too large, NaN/inf, all flat.

    Example:

    ```python
    record = read_medalcare_csv(
        "WP2_largeDataset_Noise/sinus/train/run_S65/000014_raw.csv")
    record.signal.shape  # (5000, 12)
    ```
    """
    path = pathlib.Path(path)
    cap = sample_cap(max_samples, MEDALCARE_FS)
    check_csv_size(path, cap, len(CANONICAL_LEADS))
    try:
        handle = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise RecordError(path, f"cannot read CSV file: {exc}") from exc
    with handle:
        # 12 leads as rows is allowed: one line may then hold every sample of a lead.
        data = load_numbers(handle, path, max_rows=cap + 1, max_line_chars=line_chars_for(cap))
    if data.size == 0:
        raise RecordError(path, "no samples")
    rows, columns = data.shape
    if columns == 12 and rows != 12:
        signal = data
    elif rows == 12 and columns != 12:
        signal = data.T
    else:
        raise RecordError(
            path, f"expected 12 leads as rows or as columns; found a {rows} x {columns} table"
        )
    check_length(signal.shape[0], cap, path)
    return build_record(
        signal,
        CANONICAL_LEADS,
        fs=MEDALCARE_FS,
        path=path,
        record_id=path.stem,
        source_format="medalcare-csv",
        units="mV",
    )
