"""PTB-XL with the benchmark's tasks and official folds (Strodthoff et al., JBHI 2021).

Reads `ptbxl_database.csv` and `scp_statements.csv` from the dataset root. Like the
benchmark, a record's labels are the task's statements present in `scp_codes` whatever their
likelihood value (0.0 included: the benchmark keeps every listed code); records with no label
in the task are skipped, folds 1-8 are train, 9 validation, 10 test.

The `heart_axis` column is not an SCP statement, but it carries two classes the CinC 2021
Challenge scores, left and right axis deviation (LAD 39732003, RAD 47665007). With task
"all" (every annotation PTB-XL has, the multi-source pretraining set), each item states them
as `findings` (see `heart_axis_findings`), so a multi-source set on the harmonised SNOMED CT
vocabulary labels them for PTB-XL instead of masking them out.
"""

from __future__ import annotations

import ast
import collections
import math
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.data.sources.base import (
    DatasetSource,
    SkippedItem,
    SourceItem,
    relative_path_problem,
    table_rows,
)
from keras_ecgpe.errors import ConfigError, RecordError

if TYPE_CHECKING:
    import os

TASKS = ("superdiagnostic", "subdiagnostic", "diagnostic", "form", "rhythm", "all")
SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
_COLUMNS = (
    "ecg_id",
    "patient_id",
    "age",
    "sex",
    "scp_codes",
    "strat_fold",
    "filename_lr",
    "filename_hr",
)
_MAX_CODES_CHARS = 10_000
LEFT_AXIS_DEVIATION, RIGHT_AXIS_DEVIATION = "39732003", "47665007"
# PTB-XL's heart_axis values -> the CinC axis classes they decide (docs/data-quality.md).
# LAD/ALAD (left, abnormal left axis deviation) and RAD/ARAD are deviations; MID (normal
# axis) rules both out. AXL and AXR ("left"/"right" axis within the wider normal range of
# the German convention the annotators used) and SAG (sagittal, indeterminate) do not say
# whether the axis passes -30 or +90 degrees, so they decide neither class; an empty cell
# decides nothing either: those records stay masked for LAD and RAD.
_HEART_AXIS = {
    "LAD": ((LEFT_AXIS_DEVIATION, True), (RIGHT_AXIS_DEVIATION, False)),
    "ALAD": ((LEFT_AXIS_DEVIATION, True), (RIGHT_AXIS_DEVIATION, False)),
    "RAD": ((LEFT_AXIS_DEVIATION, False), (RIGHT_AXIS_DEVIATION, True)),
    "ARAD": ((LEFT_AXIS_DEVIATION, False), (RIGHT_AXIS_DEVIATION, True)),
    "MID": ((LEFT_AXIS_DEVIATION, False), (RIGHT_AXIS_DEVIATION, False)),
}


def heart_axis_findings(value: str) -> tuple[tuple[str, bool], ...]:
    """The CinC axis classes a PTB-XL `heart_axis` value decides, as `(code, present)`.

    Example:
    >>> heart_axis_findings("ALAD")
    (('39732003', True), ('47665007', False))
    >>> heart_axis_findings("AXL"), heart_axis_findings("")
    ((), ())
    """
    return _HEART_AXIS.get(value.strip().upper(), ())


def fold_to_split(fold: int) -> str:
    """The benchmark's split of a `strat_fold`: 1-8 train, 9 validation, 10 test."""
    return "test" if fold == 10 else "validation" if fold == 9 else "train"


def _statement_targets(path: Path, task: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """Returns the task's label names and `{scp_code: task label}` for codes in the task."""
    if not path.is_file():
        raise RecordError(path, "PTB-XL statement table not found")
    flag = lambda row, column: row[column] not in ("", "0", "0.0")  # noqa: E731
    targets = {}
    for _, row in table_rows(
        path, ("", "diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass")
    ):
        code = row[""]
        if task == "superdiagnostic" and flag(row, "diagnostic") and row["diagnostic_class"]:
            targets[code] = row["diagnostic_class"]
        elif task == "subdiagnostic" and flag(row, "diagnostic") and row["diagnostic_subclass"]:
            targets[code] = row["diagnostic_subclass"]
        elif task == "all" or (task in ("diagnostic", "form", "rhythm") and flag(row, task)):
            targets[code] = code
    if task == "superdiagnostic":
        names = SUPERCLASSES
        strange = sorted(set(targets.values()) - set(names))
        if strange:
            raise RecordError(path, f"unknown diagnostic_class value(s) {strange}")
    else:
        names = tuple(dict.fromkeys(targets.values()))
    return names, targets


class PTBXLSource(DatasetSource):
    """PTB-XL (Wagner et al., Sci Data 2020) with a benchmark task.

    Args:
        root: folder holding `ptbxl_database.csv`, `scp_statements.csv`, `records100/`,
            `records500/`.
        task: "superdiagnostic" (NORM, MI, STTC, CD, HYP), "subdiagnostic",
            "diagnostic", "form", "rhythm" or "all"; label names other than superdiagnostic
            follow `scp_statements.csv` order.
        sampling_rate: 100 (`filename_lr`) or 500 (`filename_hr`).

    Example:

    ```python
    source = PTBXLSource("ptb-xl/1.0.3", task="superdiagnostic", sampling_rate=500)
    items, skipped = source.index()
    ```
    """

    name = "ptbxl"

    def __init__(
        self, root: os.PathLike | str, task: str = "superdiagnostic", sampling_rate: int = 100
    ):
        super().__init__(root)
        if task not in TASKS:
            raise ConfigError(f"`task` must be one of {', '.join(TASKS)}. Received: task={task!r}")
        if sampling_rate not in (100, 500):
            raise ConfigError(
                f"`sampling_rate` must be 100 or 500. Received: sampling_rate={sampling_rate!r}"
            )
        self.task = task
        self.sampling_rate = sampling_rate
        # The heart axis joins the labels of task "all" only: the other tasks are the
        # benchmark's, whose classes are SCP statements.
        self.finding_codes = (LEFT_AXIS_DEVIATION, RIGHT_AXIS_DEVIATION) if task == "all" else ()
        self.label_vocabulary = {
            "superdiagnostic": "scp_superclass",
            "subdiagnostic": "scp_subclass",
        }.get(task, "scp")
        statements = self.root / "scp_statements.csv"
        self._names, self._targets = _statement_targets(statements, task)
        self._all_codes = set(_statement_targets(statements, "all")[1])
        self._descriptions = {
            row[""]: row.get("description", "") for _, row in table_rows(statements, ("",))
        }
        self.ignored_codes: collections.Counter = collections.Counter()

    @property
    def label_names(self) -> tuple[str, ...]:
        return self._names

    def ignored_labels(self) -> list[tuple[str, int, str]]:
        return [
            (code, count, self._descriptions.get(code, ""))
            for code, count in sorted(self.ignored_codes.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    def index(self) -> tuple[list[SourceItem], list[SkippedItem]]:
        database = self.root / "ptbxl_database.csv"
        self.ignored_codes = collections.Counter()
        if not database.exists():
            raise RecordError(database, "PTB-XL database table not found")
        items, skipped = [], []
        file_column = "filename_lr" if self.sampling_rate == 100 else "filename_hr"
        for line, row in table_rows(database, _COLUMNS):
            where = f"line {line}"
            record_id = row["ecg_id"]
            codes = self._parse_codes(database, where, row["scp_codes"])
            present = {self._targets[code] for code in codes if code in self._targets}
            self.ignored_codes.update(code for code in codes if code not in self._targets)
            labels = tuple(name for name in self._names if name in present)
            filename = row[file_column]
            problem = relative_path_problem(filename, "the dataset folder")
            if problem:  # the table must not send the reader anywhere else on the disk
                raise RecordError(database, f"{where}: {file_column} {filename!r:.200} {problem}")
            if not labels:
                skipped.append(
                    SkippedItem(
                        record_id, str(self.root / filename), f"no label in task {self.task}"
                    )
                )
                continue
            missing = [
                filename + ext
                for ext in (".hea", ".dat")
                if not _is_file(self.root / (filename + ext), database, where)
            ]
            if missing:
                skipped.append(
                    SkippedItem(
                        record_id, str(self.root / filename), "file missing: " + ", ".join(missing)
                    )
                )
                continue
            fold = self._parse_fold(database, where, row["strat_fold"])
            items.append(
                SourceItem(
                    record_path=str(self.root / filename),
                    record_id=record_id,
                    patient_id=_clean_number(row["patient_id"]),
                    labels=labels,
                    split=fold_to_split(fold),
                    fold=fold,
                    age=_age(row["age"]),
                    sex=_sex(row["sex"]),
                    findings=heart_axis_findings(row.get("heart_axis", ""))
                    if self.finding_codes
                    else (),
                )
            )
        return items, skipped

    def _parse_codes(self, database, where, text) -> dict[str, float]:
        codes = None
        # literal_eval, never eval: the table is data, and "__import__('os')..." is refused.
        # TypeError: an unhashable key ("{[]: 1}"); RecursionError, MemoryError: deep
        # nesting. The length cap keeps the parser's work small (real values: < 100 chars).
        if len(text) <= _MAX_CODES_CHARS:
            try:
                codes = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
                codes = None
        if not isinstance(codes, dict) or not all(isinstance(k, str) for k in codes):
            raise RecordError(database, f"{where}: scp_codes is not a dict literal: {text!r:.200}")
        unknown = [code for code in codes if code not in self._all_codes]
        if unknown:
            raise RecordError(
                database, f"{where}: scp_codes {unknown!r:.200} are not in scp_statements.csv"
            )
        return codes

    @staticmethod
    def _parse_fold(database, where, text) -> int:
        try:
            fold = int(float(text))
        except (ValueError, OverflowError):  # OverflowError: "inf"
            fold = 0
        if not 1 <= fold <= 10:
            raise RecordError(database, f"{where}: strat_fold must be 1-10, got {text!r:.80}")
        return fold


def _clean_number(text: str):
    """PTB-XL writes ids as floats ("15709.0"); returns "15709", or None when empty."""
    text = text.strip()
    if not text:
        return None
    return text[:-2] if text.endswith(".0") else text


def _is_file(path: Path, database, where) -> bool:
    try:
        return path.is_file()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise RecordError(database, f"{where}: {str(path)!r:.200}: {exc.strerror}") from None


def _age(text: str):
    try:
        age = float(text)
    except ValueError:
        return None
    if math.isnan(age):
        return None
    # PTB-XL writes 300 for every patient older than 89 (de-identification).
    return 90.0 if age >= 300 else age


def _sex(text: str):
    # PTB-XL codes sex as 0 male, 1 female (CinC headers of the same records agree).
    return {"0": "M", "1": "F"}.get(_clean_number(text) or "")
