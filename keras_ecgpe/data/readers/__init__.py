"""Record readers: any supported ECG file in, one canonical `ECGRecord` out.

`read_record` decides the format from what exists on disk (a `.hea` header means WFDB,
a `.mat` without one means CPSC2018, a `.csv` is a plain or MedalCare-XL CSV);
`inspect_record` summarises a record as a JSON-ready dict. Every failure is a
`RecordError` naming the file. TensorFlow is never imported here.
"""

from __future__ import annotations

import os
import pathlib

from keras_ecgpe.data.readers.confinement import check_inside
from keras_ecgpe.data.readers.cpsc2018_mat_reader import read_cpsc2018_mat
from keras_ecgpe.data.readers.csv_reader import read_csv_record
from keras_ecgpe.data.readers.medalcare_csv_reader import read_medalcare_csv
from keras_ecgpe.data.readers.wfdb_reader import read_wfdb_record
from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.errors import ConfigError, RecordError

# Names accepted by `format=`, including the `source_format` names records carry.
FORMATS = {
    "wfdb": "wfdb",
    "cinc-mat": "wfdb",
    "cpsc2018": "cpsc2018",
    "cpsc2018-mat": "cpsc2018",
    "medalcare": "medalcare",
    "medalcare-csv": "medalcare",
    "csv": "csv",
}
_SUFFIXES = (".hea", ".dat", ".mat", ".csv")


def read_record(
    path: os.PathLike | str,
    *,
    format: str | None = None,
    fs: float | None = None,
    max_samples: int | None = None,
    root: os.PathLike | str | None = None,
    allow_outside: bool = False,
) -> ECGRecord:
    """Reads one ECG record of any supported format.

    The path may name the record with or without extension (`dir/E07505`,
    `dir/E07505.hea`, `dir/A1986.mat`, `x.csv`). Without `format`: a `.hea` next to the
    path means WFDB (`.dat` or CinC `.mat` signal files); a `.mat` without `.hea` means a
    CPSC2018 struct file; a `.csv` under a `WP2_largeDataset*` folder means MedalCare-XL,
    any other `.csv` a CSV with a header row of lead names.

    Args:
        path: the record, with or without extension.
        format: force a reader: "wfdb", "cpsc2018", "medalcare" or "csv" (the
            `source_format` names "cinc-mat", "cpsc2018-mat", "medalcare-csv" work too).
        fs: sampling rate of a plain CSV without a `# fs=` line; other formats carry theirs.
        max_samples: most samples to read; default one hour at the record's fs.
        root: the folder every file read must resolve inside (links followed): the record
            file, and the signal files a WFDB header names. Default: the folder the
            record is named in. See `confinement`.
        allow_outside: skip that check (a layout of links the caller trusts).

    Returns:
        `ECGRecord`: float32 `(time, 12)` in mV, canonical lead order, fs, ids, labels.

    Raises:
        RecordError: naming the file, for a missing record or any unusable content, or a
            file resolving outside `root`.
        ConfigError: unknown `format`, `fs` given for a format that carries its own,
            `max_samples` not a positive integer.

    Example:

    ```python
    from keras_ecgpe.data.readers import read_record
    record = read_record("real-ecg/cinc/HR06000")
    record.signal.shape, record.labels  # ((5000, 12), ('164934002', '426783006'))
    ```
    """
    if not os.fspath(path):  # Path("") would silently mean the current folder
        raise RecordError(None, "record path '' is empty")
    if format is not None and format not in FORMATS:
        raise ConfigError(f"`format` must be one of {sorted(FORMATS)}. Received: format={format!r}")
    kind, target = _resolve(pathlib.Path(path), FORMATS.get(format))
    if not allow_outside:
        root = pathlib.Path(path).parent if root is None else pathlib.Path(root)
        check_inside(target, root)
    if fs is not None and kind != "csv":
        raise ConfigError(
            f"`fs` applies only to plain CSV records; {target} carries its "
            f"own sampling rate. Received: fs={fs!r}"
        )
    if kind == "wfdb":
        return read_wfdb_record(
            target, max_samples=max_samples, root=None if allow_outside else root
        )
    if kind == "cpsc2018":
        return read_cpsc2018_mat(target, max_samples=max_samples)
    if kind == "medalcare":
        return read_medalcare_csv(target, max_samples=max_samples)
    return read_csv_record(target, fs=fs, max_samples=max_samples)


def _resolve(path: pathlib.Path, forced: str | None):
    """Returns `(reader kind, file to open)` from `format` or what exists next to `path`."""
    suffix = path.suffix.lower()
    # Record names may contain dots ("rec.1"): only known suffixes are extensions.
    suffix = suffix if suffix in _SUFFIXES else ""
    base = path.with_suffix("") if suffix else path
    hea, mat, csv = (pathlib.Path(f"{base}{ext}") for ext in (".hea", ".mat", ".csv"))
    kind = forced
    if kind is None:
        if suffix == ".csv" or (
            not suffix and csv.is_file() and not hea.is_file() and not mat.is_file()
        ):
            in_medalcare = any(part.startswith("WP2_largeDataset") for part in path.parts)
            kind = "medalcare" if in_medalcare else "csv"
        elif hea.is_file():
            kind = "wfdb"
        elif suffix == ".dat":
            raise RecordError(path, f"WFDB signal file without its header {hea.name}")
        elif mat.is_file():
            kind = "cpsc2018"
        else:
            looked = [path] if suffix else [hea, mat, csv]
            raise RecordError(
                path, "no such record (looked for " + ", ".join(map(str, looked)) + ")"
            )
    # Keep the caller's spelling of the file when it already names the right one.
    target = {"wfdb": hea, "cpsc2018": mat, "medalcare": csv, "csv": csv}[kind]
    return kind, path if suffix == target.suffix else target


from keras_ecgpe.data.readers.inspect import inspect_record  # noqa: E402  (needs read_record)

__all__ = ["FORMATS", "inspect_record", "read_record"]
