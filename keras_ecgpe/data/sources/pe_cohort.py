"""A user's own pulmonary-embolism cohort, described by a manifest CSV.

Manifest columns: `record` (path relative to the manifest's folder, or absolute; with or
without extension), `label` (0/1), `patient_id`, and optionally `split`
(train/validation/test), `fold` (integer), `age`, `sex`. The manifest is checked strictly:
any bad line is an error naming the manifest and the line, because a wrong PE label or a
patient in two splits silently corrupts every result downstream.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import List, Tuple

from keras_ecgpe.data.readers.common import parse_sex
from keras_ecgpe.data.sources.base import (SPLITS, DatasetSource, SkippedItem, SourceItem,
                                           require_columns)
from keras_ecgpe.errors import RecordError

REQUIRED = ("record", "label", "patient_id")
OPTIONAL = ("split", "fold", "age", "sex")
_EXTENSIONS = (".hea", ".mat", ".csv")


class PECohortSource(DatasetSource):
    """A binary PE cohort (label name "PE") from a manifest CSV.

    Args:
        manifest_csv: path of the manifest.

    Example:

    ```python
    items, skipped = PECohortSource("pe_cohort/manifest.csv").index()
    ```
    """

    name = "pe"
    label_vocabulary = "pe"

    def __init__(self, manifest_csv):
        manifest_csv = Path(manifest_csv)
        if manifest_csv.is_dir():  # a cohort folder holding its manifest.csv
            manifest_csv = manifest_csv / "manifest.csv"
        super().__init__(manifest_csv)
        self.manifest = self.root

    @property
    def label_names(self) -> Tuple[str, ...]:
        return ("PE",)

    def index(self) -> Tuple[List[SourceItem], List[SkippedItem]]:
        folder = self.manifest.parent
        items, skipped = [], []
        records, patients = {}, {}
        with open(self.manifest, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            require_columns(self.manifest, reader.fieldnames, REQUIRED)
            unknown = [c for c in reader.fieldnames if c not in REQUIRED + OPTIONAL]
            if unknown:
                raise RecordError(self.manifest, f"unknown column(s) {', '.join(unknown)}; "
                                  f"allowed: {', '.join(REQUIRED + OPTIONAL)}")
            for row in reader:
                fail = _failure(self.manifest, reader.line_num)
                if None in row:
                    raise fail(f"more values than the {len(reader.fieldnames)} columns")
                values = {k: (v or "").strip() for k, v in row.items()}
                text, patient = values["record"], values["patient_id"]
                if not text:
                    raise fail("empty record")
                if values["label"] not in ("0", "1"):
                    raise fail(f"label must be 0 or 1, got {values['label']!r}")
                if not patient:
                    raise fail("empty patient_id")
                relative = os.path.normpath(text)
                if not os.path.isabs(relative) and relative.split(os.sep)[0] == "..":
                    raise fail(f"record {text!r} points outside the manifest's folder")
                path = Path(relative) if os.path.isabs(relative) else folder / relative
                key = str(path)
                # "x" and "x.hea" name the same record.
                same = key[:-4] if key.endswith(_EXTENSIONS + (".dat",)) else key
                if same in records:
                    raise fail(f"record {text!r} already listed on line {records[same]}")
                records[same] = reader.line_num
                split, fold = self._split_and_fold(values, fail)
                group = (split, fold)
                if patients.setdefault(patient, (group, reader.line_num))[0] != group:
                    first_group, first_line = patients[patient]
                    raise fail(f"patient {patient!r} is in split/fold {group} here and "
                               f"{first_group} on line {first_line}")
                if not _exists(path):
                    skipped.append(SkippedItem(_record_id(relative), key, f"file missing: {key}"))
                    continue
                items.append(SourceItem(
                    record_path=key, record_id=_record_id(relative), patient_id=patient,
                    labels=("PE",) if values["label"] == "1" else (), split=split, fold=fold,
                    age=_age(values.get("age", ""), fail), sex=_sex(values.get("sex", ""), fail)))
        return items, skipped

    @staticmethod
    def _split_and_fold(values, fail):
        split = fold = None
        if "split" in values:
            split = values["split"]
            if split not in SPLITS:
                raise fail(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if "fold" in values:
            try:
                fold = int(values["fold"])
            except ValueError:
                raise fail(f"fold must be an integer, got {values['fold']!r}") from None
        return split, fold


def _failure(manifest, line):
    def fail(problem: str) -> RecordError:
        return RecordError(manifest, f"line {line}: {problem}")
    return fail


def _record_id(relative: str) -> str:
    """The manifest's record path, '/'-separated, without a known file extension."""
    text = Path(relative).as_posix()
    return text[:-4] if text.endswith(_EXTENSIONS + (".dat",)) else text


def _exists(path: Path) -> bool:
    """True when the record exists as given or with a known extension added."""
    return path.is_file() or any((path.parent / (path.name + ext)).is_file()
                                 for ext in _EXTENSIONS)


def _sex(text: str, fail):
    if not text:
        return None
    sex = parse_sex(text)
    if sex is None:
        raise fail(f"sex must be M/F/male/female, got {text!r}")
    return sex


def _age(text: str, fail):
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise fail(f"age must be a number, got {text!r}") from None
