"""Plain CSV records: a header row of lead names, one row per sample, fs stated."""

from __future__ import annotations

import csv
import pathlib
import re
from typing import TYPE_CHECKING

from keras_ecgpe.data.readers.common import (
    build_record,
    check_fs,
    check_length,
    mv_scale,
    sample_cap,
)
from keras_ecgpe.data.readers.csv_table import (
    check_csv_size,
    line_chars_for,
    load_numbers,
    read_line,
)
from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.errors import RecordError

if TYPE_CHECKING:
    import os

_SETTING = re.compile(r"\b(fs|units)\s*=\s*([^\s,;]+)", re.IGNORECASE)


def read_csv_record(
    path: os.PathLike | str, *, fs: float | None = None, max_samples: int | None = None
) -> ECGRecord:
    """Reads a CSV with a header row of lead names into a canonical `ECGRecord`.

    Layout: an optional first comment line giving settings (`# fs=500 units=uV`), a header
    row of lead names (any case or alias `leads.canonical_lead_name` knows; other columns,
    e.g. time, are dropped and reported), then one comma-separated row per sample. Values
    are in mV unless the comment line says `units=uV` or `units=V`. Missing limb leads
    are derived from I and II (reported in `lead_policy`).

    Args:
        path: the `.csv` file.
        fs: sampling rate in Hz; needed unless the comment line gives it (both must agree).
        max_samples: most rows to read; default one hour at fs. Larger files are refused
            by size before reading.

    Returns:
        `ECGRecord` with `source_format="csv"`, float32 `(time, 12)` in mV.

    Raises:
        RecordError: naming the file: no fs, fs disagreeing with the file, a numeric
            first row (a headerless file: use `format="medalcare"`), unparseable or
            ragged numbers, NaN/inf, too long or too large, missing precordial leads.

    Example:

    ```python
    record = read_csv_record("patient_007.csv", fs=500)
    record.lead_policy  # e.g. "dropped time"
    ```
    """
    path = pathlib.Path(path)
    try:
        handle = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise RecordError(path, f"cannot read CSV file: {exc}") from exc
    with handle:
        try:
            line = read_line(handle, path)
            settings = {}
            if line.lstrip().startswith("#"):
                settings = {key.lower(): value for key, value in _SETTING.findall(line)}
                line = read_line(handle, path)
        except UnicodeDecodeError as exc:
            raise RecordError(path, f"cannot read CSV header: {exc}") from exc
        if not line.strip():
            raise RecordError(path, "no header row of lead names")
        names = [
            name.strip() or f"column {index + 1}"
            for index, name in enumerate(next(csv.reader([line])))
        ]
        if all(_is_number(name) for name in names):
            raise RecordError(
                path,
                "first row holds numbers, not lead names; headerless "
                "MedalCare-XL files need format='medalcare'",
            )
        rate = _sampling_rate(fs, settings.get("fs"), path)
        cap = sample_cap(max_samples, rate)
        check_csv_size(path, cap, len(names))
        data = load_numbers(
            handle, path, max_rows=cap + 1, max_line_chars=line_chars_for(len(names))
        )
    if data.size and data.shape[1] != len(names):
        raise RecordError(
            path, f"rows hold {data.shape[1]} values but the header names {len(names)} columns"
        )
    check_length(data.shape[0], cap, path, "file holds at least")
    units = settings.get("units", "mV")
    return build_record(
        data * mv_scale(units, path),
        names,
        fs=rate,
        path=path,
        record_id=path.stem,
        source_format="csv",
        units=units,
    )


def _sampling_rate(given, in_file, path) -> float:
    """Returns fs from the argument or the file's comment line; they must agree."""
    if given is None and in_file is None:
        raise RecordError(
            path, "no sampling frequency: pass fs=... or start the file with a '# fs=500' line"
        )
    if (
        given is not None
        and in_file is not None
        and check_fs(given, path) != check_fs(in_file, path)
    ):
        raise RecordError(path, f"fs={given!r} was given but the file says fs={in_file}")
    return check_fs(given if given is not None else in_file, path)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
