"""What every dataset source shares: index items, skipped items and the reading contract.

A source turns a dataset folder into a list of `SourceItem`s (record path, ids, labels,
official split or fold) plus a list of `SkippedItem`s naming everything it left out and why,
so nothing is dropped silently. `read` loads one item through `read_record` and attaches what
the source knows about it (patient, age, sex, labels).
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
from pathlib import Path
from typing import List, Optional, Tuple

from keras_ecgpe.data.record import ECGRecord
from keras_ecgpe.errors import RecordError

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
    """

    record_path: str
    record_id: str
    patient_id: Optional[str]
    labels: Tuple[str, ...]
    split: Optional[str]
    fold: Optional[int]
    age: Optional[float] = None
    sex: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class SkippedItem:
    """A record (or folder) left out at indexing, with the reason."""

    record_id: str
    path: Optional[str]
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
    read_format: Optional[str] = None

    def __init__(self, root):
        self.root = Path(root)
        if not self.root.exists():
            raise RecordError(self.root, f"{self.name} dataset not found")

    @property
    @abc.abstractmethod
    def label_names(self) -> Tuple[str, ...]:
        """The class names of this source, in class-vector order."""

    @abc.abstractmethod
    def index(self) -> Tuple[List[SourceItem], List[SkippedItem]]:
        """Lists the usable records and everything left out, each with its reason.

        Returns:
            `(items, skipped)`.

        Raises:
            RecordError: a metadata table is malformed (the message names the file).
        """

    def read(self, item: SourceItem, **read_options) -> ECGRecord:
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
        record = read_record(item.record_path, **read_options)
        extra = {key: value for key, value in (("age", item.age), ("sex", item.sex))
                 if value is not None}
        return dataclasses.replace(record, record_id=item.record_id,
                                   patient_id=item.patient_id, labels=item.labels, **extra)

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


def require_columns(path, fieldnames, required) -> None:
    """Raises RecordError naming `path` when a CSV header lacks required columns."""
    missing = [column for column in required if column not in (fieldnames or ())]
    if missing:
        raise RecordError(path, f"missing column(s) {', '.join(missing)}; "
                                f"found: {', '.join(fieldnames or ()) or 'no header'}")
