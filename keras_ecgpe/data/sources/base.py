"""What every dataset source shares: index items, skipped items and the reading contract.

A source turns a dataset folder into a list of `SourceItem`s (record path, ids, labels,
official split or fold) plus a list of `SkippedItem`s naming everything it left out and why,
so nothing is dropped silently. `read` loads one item through `read_record` and attaches what
the source knows about it (patient, age, sex, labels).
"""

from __future__ import annotations

import abc
import csv
import dataclasses
import inspect
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING

from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.errors import RecordError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class SourceItem:
    """One usable record of a dataset source.

    Attributes:
        record_path: path given to `read_record` (with or without extension).
        record_id: identifier, unique within the source.
        patient_id: the patient (or, for simulations, the anatomical model); None when the
            dataset does not say.
        labels: names from the source's `label_names`, in that order.
        split: "train", "validation", "test" from the dataset's own split, or None.
        fold: the dataset's own fold number, or None.
        age, sex: from the source's metadata table, when it has one (sex "M"/"F").
        annotated: the label names whose value this record's source knows (present or
            absent); None means all of them. Multi-source sets use it for label masks.
        findings: `(SNOMED CT code, present)` pairs the record's metadata decides outside
            the source's label vocabulary (PTB-XL's heart axis); a multi-source set on the
            harmonised vocabulary labels and unmasks those classes for this record.
    """

    record_path: str
    record_id: str
    patient_id: str | None
    labels: tuple[str, ...]
    split: str | None
    fold: int | None
    age: float | None = None
    sex: str | None = None
    annotated: tuple[str, ...] | None = None
    findings: tuple[tuple[str, bool], ...] = ()


@dataclasses.dataclass(frozen=True)
class SkippedItem:
    """A record (or folder) left out at indexing, with the reason."""

    record_id: str
    path: str | None
    reason: str


class DatasetSource(abc.ABC):
    """Base class of the dataset sources.

    Subclasses set `name` (the registry name), `label_vocabulary` (the vocabulary of their
    label names in `keras_ecgpe.data.labels`), `label_names`, and implement `index`.

    Args:
        root: the dataset folder (or manifest file for the PE cohort).

    Raises:
        RecordError: `root` does not exist.
    """

    name: str = ""
    label_vocabulary: str = ""
    read_format: str | None = None
    # SNOMED CT codes the source's items may decide through `SourceItem.findings`.
    finding_codes: tuple[str, ...] = ()

    def __init__(self, root: os.PathLike | str):
        self.root = Path(root)
        if not self.root.exists():
            raise RecordError(self.root, f"{self.name} dataset not found")

    @property
    @abc.abstractmethod
    def label_names(self) -> tuple[str, ...]:
        """The class names of this source, in class-vector order."""

    @abc.abstractmethod
    def index(self) -> tuple[list[SourceItem], list[SkippedItem]]:
        """Lists the usable records and everything left out, each with its reason.

        Returns:
            `(items, skipped)`.

        Raises:
            RecordError: a metadata table is malformed (the message names the file).
        """

    def ignored_labels(self) -> list[tuple[str, int, str]]:
        """`(code, records, name)` of label codes the last `index()` met outside the classes.

        Most frequent first; listed in the data-quality summary so no label is dropped
        without a trace. Empty for sources whose every label is a class.
        """
        return []

    def read(self, item: SourceItem, **read_options: Any) -> ECGRecord:
        """Reads one indexed record and attaches the source's ids, labels, age and sex.

        Args:
            item: an item from `index()`.
            **read_options: passed to `read_record` (e.g. `max_samples`).

        Returns:
            The `ECGRecord`, with `record_id`, `patient_id` and `labels` from the item, and
            `age`/`sex` from the item where the source knows them (else from the file).

        Raises:
            RecordError: the file cannot be read.
        """
        from keras_ecgpe.data.readers import read_record

        if self.read_format is not None:
            read_options.setdefault("format", self.read_format)
        # Every file the record leads to must resolve inside the dataset (confinement.py).
        read_options.setdefault("root", self.root if self.root.is_dir() else self.root.parent)
        read_options.setdefault("allow_outside", self._links_may_leave_root())
        record = read_record(item.record_path, **read_options)
        extra = {
            key: value for key, value in (("age", item.age), ("sex", item.sex)) if value is not None
        }
        return dataclasses.replace(
            record,
            record_id=item.record_id,
            patient_id=item.patient_id,
            labels=item.labels,
            **extra,
        )

    def _links_may_leave_root(self) -> bool:
        """Whether reads may follow links out of the dataset folder (the PE cohort's
        `allow_absolute_paths`); not a constructor option here, so not in the cache key."""
        return False

    def describe(self) -> dict:
        """JSON-safe identity of this source: name, resolved root and its options.

        Options are the constructor's keyword arguments, read back from the attributes of
        the same name, so a new option is part of the cache key without further code.
        """
        # The first parameter after self is the root (or the PE manifest).
        names = list(inspect.signature(type(self).__init__).parameters)[2:]
        options = {name: getattr(self, name) for name in names if hasattr(self, name)}
        return {"name": self.name, "root": str(self.root.resolve()), "options": options}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"


def require_columns(
    path: os.PathLike | str, fieldnames: Sequence[str] | None, required: Iterable[str]
) -> None:
    """Raises RecordError naming `path` when a CSV header lacks required columns."""
    missing = [column for column in required if column not in (fieldnames or ())]
    if missing:
        found = ", ".join(fieldnames[:20] if fieldnames else ()) or "no header"
        raise RecordError(path, f"missing column(s) {', '.join(missing)}; found: {found:.500}")


# Label tables and manifests above this size are refused before reading: PTB-XL's database,
# the largest public one, is 7 MB; a cohort of a million records needs about 100 MB.
MAX_TABLE_BYTES = 256 * 2**20


def table_rows(
    path: os.PathLike | str, required: Iterable[str], *, allowed: Iterable[str] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Streams the rows of a label table or manifest CSV, one line at a time.

    Every problem is a `RecordError` naming `path` (and the line): a file larger than
    `MAX_TABLE_BYTES`, a missing, repeated or (with `allowed`) unknown column, a row with
    more values than the header, bytes that are not UTF-8, or CSV syntax the `csv` module
    refuses (such as a field longer than its field size limit).

    Args:
        path: the CSV file (UTF-8, with or without a byte-order mark).
        required: columns the header must have.
        allowed: if given, the only columns the header may have.

    Yields:
        `(line_number, row)`: `row` maps every header column to its stripped value, ""
            where the line stops early.

    Example:

    ```python
    for line, row in table_rows("REFERENCE.csv", ("Recording",)):
        print(line, row["Recording"])
    ```
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise RecordError(path, f"cannot read the table ({exc.strerror})") from None
    if size > MAX_TABLE_BYTES:
        handle.close()
        raise RecordError(
            path,
            f"{size} bytes, more than the {MAX_TABLE_BYTES} a label "
            "table or manifest may have; not read",
        )
    with handle:
        reader = csv.DictReader(handle)
        try:
            names = reader.fieldnames or []
            require_columns(path, names, required)
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise RecordError(path, f"column(s) {repeated} appear more than once")
            unknown = [name for name in names if allowed is not None and name not in allowed]
            if unknown:
                raise RecordError(
                    path,
                    f"unknown column(s) {', '.join(map(repr, unknown))}; "
                    f"allowed: {', '.join(allowed)}",
                )
            for row in reader:
                if None in row:
                    raise RecordError(
                        path, f"line {reader.line_num}: more values than the {len(names)} columns"
                    )
                yield reader.line_num, {key: (value or "").strip() for key, value in row.items()}
        except UnicodeDecodeError as exc:
            raise RecordError(
                path, f"not UTF-8 text after line {reader.line_num} ({exc.reason})"
            ) from None
        except csv.Error as exc:
            raise RecordError(path, f"line {reader.line_num + 1}: malformed CSV ({exc})") from None
        except OSError as exc:  # e.g. an I/O error, or a folder named like the table
            raise RecordError(path, f"cannot read the table ({exc.strerror})") from None


def relative_path_problem(text: str, folder: str) -> str | None:
    """Why `text` cannot name a file inside `folder` (a phrase), or None when it can.

    Refused: empty text, a NUL character, an absolute path (POSIX, Windows drive or UNC),
    and `..` components that climb out of the folder. Backslashes count as separators so
    a table written on Windows is judged the same way.

    Example:
    >>> relative_path_problem("../x", "the dataset folder")
    'points outside the dataset folder'
    """
    if not text:
        return "is empty"
    if "\x00" in text:
        return "holds a NUL character"
    if os.path.isabs(text) or PureWindowsPath(text).anchor:
        return f"is an absolute path; give it relative to {folder}"
    if posixpath.normpath(text.replace("\\", "/")).split("/")[0] == "..":
        return f"points outside {folder}"
    return None
