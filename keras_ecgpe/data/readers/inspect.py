"""A JSON-ready summary of one record, for `ecgpe inspect`-style commands and reports."""

from __future__ import annotations

import os

from keras_ecgpe.leads import CANONICAL_LEADS


def inspect_record(
    path: os.PathLike | str,
    *,
    format: str | None = None,
    fs: float | None = None,
    max_samples: int | None = None,
    allow_outside: bool = False,
) -> dict:
    """Reads a record and summarises it.

    Leads are the canonical 12 after mapping: derived limb leads count as present, and
    `lead_policy` says which were derived, dropped or flat.

    Args:
        path, format, fs, max_samples, allow_outside: as for `read_record` (files are
            read only inside the record's folder unless `allow_outside`).

    Returns:
        dict with keys `record` (the path as given), `format`, `fs`, `n_samples`,
        `duration_s`, `leads`, `units`, `labels` (list), `lead_policy`, `age`, `sex`;
        only str, int, float, list and None values, so `json.dumps` takes it as is.

    Raises:
        RecordError, ConfigError: as for `read_record`.

    Example:

    ```python
    inspect_record("real-ecg/ptb/s0010_re")["lead_policy"]  # "dropped vx,vy,vz"
    ```
    """
    # Imported here: the package __init__ imports this module.
    from keras_ecgpe.data.readers import read_record

    record = read_record(
        path, format=format, fs=fs, max_samples=max_samples, allow_outside=allow_outside
    )
    return {
        "record": os.fspath(path),
        "format": record.source_format,
        "fs": float(record.fs),
        "n_samples": record.n_samples,
        "duration_s": float(record.duration_s),
        "leads": list(CANONICAL_LEADS),
        "units": record.units,
        "labels": list(record.labels),
        "lead_policy": record.lead_policy,
        "age": None if record.age is None else float(record.age),
        "sex": record.sex,
    }
