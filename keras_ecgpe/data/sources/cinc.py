"""PhysioNet/CinC Challenge 2020/2021 records: `.hea` + `.mat`/`.dat` with `# Dx:` SNOMED codes.

The classes are the 26 scored classes of CinC 2021, codes scored as one diagnosis merged onto
the first code of their pair (`weights.csv`). Codes outside the scored classes are left out
of the class vector but counted in `ignored_codes`; a record without any scored code is
skipped. The header is read as text, so headers that `wfdb.rdheader` rejects (Georgia's
`E00666.mat` record line) still give their labels.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.data.labels import canonical_code, cinc_scored_classes, snomed_names
from keras_ecgpe.data.sources.base import (
    DatasetSource,
    SkippedItem,
    SourceItem,
    relative_path_problem,
)
from keras_ecgpe.data.sources.walk import find_files
from keras_ecgpe.errors import RecordError

if TYPE_CHECKING:
    import os

_MAX_HEADER_BYTES = 1 << 20  # WFDB headers are a few hundred bytes, CinC's under 2 kB


def parse_header_comments(path: Path) -> tuple[str | None, dict]:
    """Returns `(signal_file, comments)` of a WFDB header read as text.

    `signal_file` is the file named by the first signal line; `comments` maps lower-case
    keys of `#Key: value` lines to their values.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_HEADER_BYTES + 1)
    except OSError as error:
        raise RecordError(path, f"cannot read header: {error.strerror}") from error
    if len(data) > _MAX_HEADER_BYTES:
        raise RecordError(path, f"header larger than {_MAX_HEADER_BYTES} bytes; not read")
    lines = data.decode("utf-8", errors="replace").splitlines()
    body = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    signal_file = body[1].split()[0] if len(body) > 1 else None
    comments = {}
    for line in lines:
        text = line.strip()
        if text.startswith("#") and ":" in text:
            key, value = text.lstrip("#").split(":", 1)
            comments[key.strip().lower()] = value.strip()
    return signal_file, comments


class CinCSource(DatasetSource):
    """Any folder tree of CinC-format records, labelled by the CinC 2021 scored classes.

    Args:
        root: folder searched recursively for `.hea` files.

    Attributes:
        ignored_codes: after `index()`, a Counter of the unscored Dx codes met (by record).

    Example:

    ```python
    items, skipped = CinCSource("challenge-2021/training").index()
    ```
    """

    name = "cinc"
    label_vocabulary = "snomed"

    def __init__(self, root: os.PathLike | str):
        super().__init__(root)
        self.ignored_codes: collections.Counter = collections.Counter()

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(group[0] for group in cinc_scored_classes())

    def ignored_labels(self) -> list[tuple[str, int, str]]:
        names = snomed_names()
        return [
            (code, count, names.get(code, "not in the CinC 2021 tables"))
            for code, count in sorted(self.ignored_codes.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    def index(self) -> tuple[list[SourceItem], list[SkippedItem]]:
        names = self.label_names
        items, skipped, seen = [], [], {}
        self.ignored_codes = collections.Counter()
        for header in find_files(self.root, "*.hea"):
            record_id = header.stem
            if record_id in seen:
                raise RecordError(header, f"record {record_id} also found at {seen[record_id]}")
            seen[record_id] = header
            signal_file, comments = parse_header_comments(header)
            if "dx" not in comments:
                skipped.append(SkippedItem(record_id, str(header), "no '# Dx:' line in header"))
                continue
            codes = [code.strip() for code in comments["dx"].split(",") if code.strip()]
            bad = [code for code in codes if not code.isdigit()]
            if bad:
                raise RecordError(header, f"Dx value(s) {bad} are not SNOMED CT codes")
            scored = {canonical_code(code) for code in codes} & set(names)
            self.ignored_codes.update(
                code for code in set(codes) if canonical_code(code) not in names
            )
            if not scored:
                skipped.append(
                    SkippedItem(record_id, str(header), f"no scored label (Dx: {comments['dx']})")
                )
                continue
            problem = signal_file and relative_path_problem(signal_file, "the header's folder")
            if problem:  # the reader would follow it anywhere on the disk
                raise RecordError(header, f"signal file {signal_file!r:.200} {problem}")
            if not signal_file or not (header.parent / signal_file).exists():
                skipped.append(
                    SkippedItem(
                        record_id, str(header), f"file missing: {signal_file or 'no signal line'}"
                    )
                )
                continue
            items.append(
                SourceItem(
                    record_path=str(header.with_suffix("")),
                    record_id=record_id,
                    patient_id=None,
                    labels=tuple(code for code in names if code in scored),
                    split=None,
                    fold=None,
                )
            )
        return items, skipped
