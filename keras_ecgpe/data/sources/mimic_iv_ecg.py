"""MIMIC-IV-ECG (Gow et al., PhysioNet 2023): about 800,000 12-lead ECGs of 160,000 patients.

Layout, as published (version 1.0): `record_list.csv` (`subject_id`, `study_id`,
`file_name`, `ecg_time`, `path`) lists every record; `path` is the WFDB record without
extension, `files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN` (the first four digits of the
subject, the subject, the study; a `.hea` and a `.dat` per study, 10 s at 500 Hz).
`machine_measurements.csv` (`subject_id`, `study_id`, `report_0` ... `report_17` free-text
machine statements, and intervals and axes) gives the ECG machine's reading of most studies.

Labels are the CinC 2021 scored classes (SNOMED CT codes, so MIMIC pools with PTB-XL and
CinC sources) found in the machine statements by phrase (`STATEMENT_CODES`): they are the
machine's automated reading, not a cardiologist's, and suit pretraining rather than
evaluation. A study without a machine-measurements row keeps its record with every label
unannotated (masked); without the file at all, every record is unannotated. The dataset has
no official split: records carry `subject_id` as their patient, so `prepare` splits and
folds by subject and no subject's ECGs are on both sides.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from keras_ecgpe.data.folder_listing import REGULAR_FILE, FolderListing
from keras_ecgpe.data.sources.base import (
    DatasetSource,
    SkippedItem,
    SourceItem,
    relative_path_problem,
    table_rows,
)
from keras_ecgpe.errors import RecordError

if TYPE_CHECKING:
    from pathlib import Path

RECORD_LIST = "record_list.csv"
MEASUREMENTS = "machine_measurements.csv"
REPORT_COLUMNS = tuple(f"report_{i}" for i in range(18))

# Lower-case phrase of a machine statement -> CinC 2021 scored class (SNOMED CT). A more
# specific phrase is listed before the phrase it contains and wins ("incomplete right
# bundle branch block" is IRBBB, never CRBBB).
STATEMENT_CODES = (
    ("sinus rhythm", "426783006"),  # NSR
    ("sinus tachycardia", "427084000"),
    ("sinus bradycardia", "426177001"),
    ("sinus arrhythmia", "427393009"),
    ("atrial fibrillation", "164889003"),
    ("atrial flutter", "164890007"),
    ("1st degree a-v block", "270492004"),
    ("first degree av block", "270492004"),
    ("incomplete right bundle branch block", "713426002"),
    ("right bundle branch block", "59118001"),
    ("left bundle branch block", "164909002"),
    ("left anterior fascicular block", "445118002"),
    ("left axis deviation", "39732003"),
    ("right axis deviation", "47665007"),
    ("prolonged qt", "111975006"),
    ("low qrs voltages", "251146004"),
    ("poor r wave progression", "365413008"),
    ("premature ventricular", "427172004"),
    ("premature atrial", "284470004"),
)
LABEL_NAMES = tuple(dict.fromkeys(code for _, code in STATEMENT_CODES))


def statement_codes(statements: list[str]) -> set[str]:
    """The classes named by a study's machine statements (case-insensitive phrases).

    Example:
    >>> sorted(statement_codes(["Sinus rhythm", "Incomplete right bundle branch block"]))
    ['426783006', '713426002']
    """
    found = set()
    for statement in statements:
        text = statement.lower()
        for phrase, code in STATEMENT_CODES:
            if phrase in text:
                found.add(code)
                text = text.replace(phrase, " ")  # a longer phrase hides the ones it holds
    return found


class MIMICIVECGSource(DatasetSource):
    """MIMIC-IV-ECG records with labels from the machine statements, split by subject.

    Args:
        root: folder holding `record_list.csv`, `files/` and, where downloaded,
            `machine_measurements.csv`.

    Example:

    ```python
    items, skipped = MIMICIVECGSource("mimic-iv-ecg/1.0").index()
    ```
    """

    name = "mimic"
    label_vocabulary = "snomed"

    @property
    def label_names(self) -> tuple[str, ...]:
        return LABEL_NAMES

    def index(self) -> tuple[list[SourceItem], list[SkippedItem]]:
        record_list = self.root / RECORD_LIST
        if not record_list.is_file():
            raise RecordError(record_list, "MIMIC-IV-ECG record list not found")
        # Local, never an attribute: the source is sent to every worker with each record.
        labels = _machine_labels(self.root / MEASUREMENTS)
        listing = FolderListing()
        items, skipped, seen = [], [], {}
        for line, row in table_rows(record_list, ("subject_id", "study_id", "path")):
            where = f"line {line}"
            study, subject, relative = row["study_id"], row["subject_id"], row["path"]
            if not study.isdigit() or not subject.isdigit():
                raise RecordError(record_list, f"{where}: subject_id and study_id must be integers")
            if study in seen:
                raise RecordError(
                    record_list, f"{where}: study {study} already listed on line {seen[study]}"
                )
            seen[study] = line
            problem = relative_path_problem(relative, "the dataset folder")
            if problem:  # the table must not send the reader anywhere else on the disk
                raise RecordError(record_list, f"{where}: path {relative!r:.200} {problem}")
            record = os.path.join(self.root, os.path.normpath(relative))
            missing = _missing_files(record, listing, record_list, where)
            if missing:
                skipped.append(SkippedItem(study, record, "file missing: " + ", ".join(missing)))
                continue
            codes = labels.get(study)
            items.append(
                SourceItem(
                    record_path=record,
                    record_id=study,
                    patient_id=subject,
                    labels=tuple(code for code in LABEL_NAMES if codes and code in codes),
                    split=None,
                    fold=None,
                    annotated=None if codes is not None else (),
                )
            )
        return items, skipped


def _machine_labels(path: Path) -> dict[str, frozenset[str]]:
    """`{study_id: classes}` from the machine statements; {} when the file is absent."""
    if not path.exists():
        return {}
    found: dict[str, frozenset[str]] = {}
    shared: dict[frozenset[str], frozenset[str]] = {}  # one object per distinct label set
    for line, row in table_rows(path, ("study_id", *REPORT_COLUMNS[:1])):
        study = row["study_id"]
        if not study.isdigit():
            raise RecordError(path, f"line {line}: study_id must be an integer, got {study!r:.80}")
        statements = [row[column] for column in REPORT_COLUMNS if row.get(column)]
        codes = frozenset(statement_codes(statements))
        found[study] = shared.setdefault(codes, codes)
    return found


def _missing_files(record: str, listing: FolderListing, record_list, where) -> list[str]:
    folder, name = os.path.split(record)
    try:
        flags = listing.flags(folder)
    except OSError as exc:
        raise RecordError(record_list, f"{where}: {folder!r:.200}: {exc.strerror}") from None
    return [
        f"{name}{ext}" for ext in (".hea", ".dat") if not flags.get(name + ext, 0) & REGULAR_FILE
    ]
