"""CPSC2018 (ICBEB 2018 challenge): MATLAB records labelled by REFERENCE.csv.

`REFERENCE.csv` lists `Recording, First_label, Second_label, Third_label` with codes
1 normal (SNR), 2 AF, 3 I-AVB, 4 LBBB, 5 RBBB, 6 PAC, 7 PVC, 8 STD, 9 STE; the extra columns
make it multi-label. The dataset has no official split and no patient ids: `split` and
`patient_id` are None (patient-level splitting then treats each record as its own patient).
"""

from __future__ import annotations

from keras_ecgpe.data.sources.base import DatasetSource, SkippedItem, SourceItem, table_rows
from keras_ecgpe.data.sources.walk import find_files
from keras_ecgpe.errors import RecordError

CLASSES = ("SNR", "AF", "IAVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")
_LABEL_COLUMNS = ("First_label", "Second_label", "Third_label")


class CPSC2018Source(DatasetSource):
    """CPSC2018 with its 9 classes, multi-label.

    Args:
        root: folder holding `REFERENCE.csv` and the `A*.mat` files (in it or in
            sub-folders such as `TrainingSet1/`).

    Example:

    ```python
    items, skipped = CPSC2018Source("cpsc2018").index()
    ```
    """

    name = "cpsc2018"
    label_vocabulary = "cpsc"

    @property
    def label_names(self) -> tuple[str, ...]:
        return CLASSES

    def index(self) -> tuple[list[SourceItem], list[SkippedItem]]:
        reference = self.root / "REFERENCE.csv"
        if not reference.exists():
            raise RecordError(reference, "CPSC2018 label table not found")
        files = {}
        for path in find_files(self.root, "*.mat"):
            if path.stem in files:
                raise RecordError(path, f"record {path.stem} also found at {files[path.stem]}")
            files[path.stem] = path
        items, skipped, seen = [], [], {}
        for line, row in table_rows(reference, ("Recording",) + _LABEL_COLUMNS):
            record_id = row["Recording"]
            where = f"line {line}"
            if not record_id:
                raise RecordError(reference, f"{where}: empty Recording")
            if record_id in seen:
                raise RecordError(
                    reference, f"{where}: {record_id:.80} already listed on line {seen[record_id]}"
                )
            seen[record_id] = line
            labels = _labels(reference, where, row)
            if record_id not in files:
                skipped.append(SkippedItem(record_id, None, f"file missing: {record_id}.mat"))
                continue
            items.append(SourceItem(str(files[record_id]), record_id, None, labels, None, None))
        for record_id, path in files.items():
            if record_id not in seen:
                skipped.append(SkippedItem(record_id, str(path), "no label in REFERENCE.csv"))
        return items, skipped


def _labels(reference, where, row) -> tuple[str, ...]:
    codes = set()
    for column in _LABEL_COLUMNS:
        text = row[column]
        if not text:
            continue
        # isascii: str.isdigit accepts "²", which int() refuses; the length keeps int()
        # below its 4300-digit limit.
        if not (text.isascii() and text.isdigit() and len(text) <= 3) or not 1 <= int(text) <= len(
            CLASSES
        ):
            raise RecordError(reference, f"{where}: {column} {text!r:.80} is not a code 1-9")
        codes.add(int(text))
    if not codes:
        raise RecordError(reference, f"{where}: no label in {', '.join(_LABEL_COLUMNS)}")
    return tuple(CLASSES[code - 1] for code in sorted(codes))
