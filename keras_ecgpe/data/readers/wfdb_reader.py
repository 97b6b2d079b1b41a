"""WFDB records (`.hea` + `.dat`, or CinC `.mat` signal files) as canonical records."""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import tempfile
import warnings

import numpy as np
import wfdb

from keras_ecgpe.data.readers.common import build_record, mv_scale, sample_cap
from keras_ecgpe.data.readers.confinement import check_inside
from keras_ecgpe.data.readers.wfdb_header import WFDBHeader, check_signal_files, read_header
from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.errors import RecordError

_LOG = logging.getLogger(__name__)


def read_wfdb_record(
    path: os.PathLike | str,
    *,
    max_samples: int | None = None,
    root: os.PathLike | str | None = None,
) -> ECGRecord:
    """Reads a single-segment WFDB record into a canonical `ECGRecord`.

    The header is checked first (see `wfdb_header`); samples are then read by
    `wfdb.rdrecord` in physical units and converted lead by lead from the header's units
    (mV, mv, uV, V) to mV. Leads are mapped to the canonical order by
    `leads.map_to_canonical`: PTB's Frank leads vx, vy, vz are dropped and missing limb
    leads derived, both reported in `lead_policy`. CinC `# Age:`/`# Sex:`/`# Dx:`, PTB
    `# age:` and LUDB `#<age>:` comments fill age, sex and labels (SNOMED CT codes).

    Args:
        path: the record path without extension, or its `.hea` file.
        max_samples: most samples to read; default one hour at the record's fs.
        root: if given, every signal file the header names must resolve inside it
            (links followed; `confinement.check_inside`).

    Returns:
        `ECGRecord` with float32 `(time, 12)` signal in mV; `source_format` is
        "cinc-mat" when the signal files are `.mat`, else "wfdb".

    Raises:
        RecordError: naming the header or signal file, for every way the record is
            unusable (missing, truncated, unparseable, NaN, all flat, too long).

    Example:

    ```python
    record = read_wfdb_record("real-ecg/ptbxl/records500/06000/06000_hr")
    record.signal.shape, record.fs  # ((5000, 12), 500.0)
    ```
    """
    path = pathlib.Path(path)
    hea_path = path if path.suffix.lower() == ".hea" else pathlib.Path(f"{path}.hea")
    if not hea_path.is_file():
        raise RecordError(hea_path, "WFDB header not found")
    header = read_header(hea_path)
    if root is not None:
        for name in dict.fromkeys(header.file_names):
            check_inside(hea_path.parent / name, root, f"signal file named by {hea_path.name}")
    sig_len = check_signal_files(header, sample_cap(max_samples, header.fs))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = _rdrecord(header)
    except Exception as exc:  # wfdb raises many types; the user needs the file name
        raise RecordError(hea_path, f"cannot read WFDB signals: {exc}") from exc
    for warning in caught:  # e.g. numpy's RuntimeWarnings inside wfdb: details only
        _LOG.debug("%s: wfdb: %s", hea_path, " ".join(str(warning.message).split()))
    signal = np.asarray(record.p_signal, dtype=np.float64)
    if signal.ndim != 2 or signal.shape != (sig_len, len(header.lead_names)):
        raise RecordError(
            hea_path,
            f"wfdb returned signal shape {signal.shape}, expected "
            f"({sig_len}, {len(header.lead_names)})",
        )
    units = [unit or "mV" for unit in record.units]
    scales = [mv_scale(unit, hea_path, lead) for unit, lead in zip(units, header.lead_names)]
    is_mat = all(name.lower().endswith(".mat") for name in header.file_names)
    return build_record(
        signal * np.asarray(scales),
        header.lead_names,
        fs=header.fs,
        path=hea_path,
        record_id=hea_path.stem,
        source_format="cinc-mat" if is_mat else "wfdb",
        units=",".join(dict.fromkeys(units)),
        notes=header.fixes,
        age=header.age,
        sex=header.sex,
        labels=header.labels,
    )


def _rdrecord(header: WFDBHeader):
    """Returns `wfdb.rdrecord` of the header, reading a repaired header where needed."""
    base = header.path.with_suffix("")
    if not header.fixes:
        return wfdb.rdrecord(str(base), physical=True)
    # wfdb only parses headers from files: give it the repaired text next to links to
    # the original signal files (copies where the file system refuses links).
    with tempfile.TemporaryDirectory(prefix="ecgpe-wfdb-") as tmp:
        tmp_dir = pathlib.Path(tmp)
        (tmp_dir / header.path.name).write_text(header.text, encoding="ascii", errors="replace")
        for name in dict.fromkeys(header.file_names):
            source = (header.path.parent / name).resolve()
            try:
                os.symlink(source, tmp_dir / name)
            except OSError:
                shutil.copyfile(source, tmp_dir / name)
        return wfdb.rdrecord(str(tmp_dir / base.name), physical=True)
