"""A user's own pulmonary-embolism cohort, described by a manifest CSV.

Manifest columns: `record` (path relative to the manifest's folder, with or without
extension), `label` (0/1), `patient_id`, and optionally `split` (train/validation/test),
`fold` (integer >= 0), `age`, `sex`. The manifest is checked strictly: any bad line is an
error naming the manifest and the line, because a wrong PE label or a patient in two
splits silently corrupts every result downstream.

Records must stay inside the manifest's folder: `..` that climbs out of it, and symbolic
links that resolve outside it, are refused, so a manifest received from elsewhere cannot
make `prepare` read (and copy into a cache) files it was never meant to. Absolute paths
are refused too unless the source is built with `allow_absolute_paths=True`, which also
accepts links leading outside: use it for a manifest you wrote yourself over records
spread across disks. The same rule holds when the records are read: the signal files a
WFDB header names, and links on their way, must resolve inside the manifest's folder.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from keras_ecgpe.data.folder_listing import LINK, REGULAR_FILE, FolderListing
from keras_ecgpe.data.readers.common import parse_sex
from keras_ecgpe.data.sources.base import (
    SPLITS,
    DatasetSource,
    SkippedItem,
    SourceItem,
    relative_path_problem,
    table_rows,
)
from keras_ecgpe.errors import RecordError

REQUIRED = ("record", "label", "patient_id")
OPTIONAL = ("split", "fold", "age", "sex")
_EXTENSIONS = (".hea", ".mat", ".csv")
_FOLDER = "the manifest's folder"


class PECohortSource(DatasetSource):
    """A binary PE cohort (label name "PE") from a manifest CSV.

    Args:
        manifest_csv: path of the manifest, or of the folder holding `manifest.csv`.
        allow_absolute_paths: accept absolute record paths and symbolic links that lead
            outside the manifest's folder (default False: every record must lie inside
            it). Relative paths climbing out with `..` are refused either way.

    Example:

    ```python
    items, skipped = PECohortSource("pe_cohort/manifest.csv").index()
    ```
    """

    name = "pe"
    label_vocabulary = "pe"

    def __init__(self, manifest_csv: os.PathLike | str, allow_absolute_paths: bool = False):
        manifest_csv = Path(manifest_csv)
        if manifest_csv.is_dir():  # a cohort folder holding its manifest.csv
            manifest_csv = manifest_csv / "manifest.csv"
        super().__init__(manifest_csv)
        self.manifest = self.root
        # Kept private so `describe()` leaves it out of the cache key: it changes which
        # manifests are accepted, never what an accepted manifest's records contain.
        self._allow_absolute = bool(allow_absolute_paths)

    @property
    def label_names(self) -> tuple[str, ...]:
        return ("PE",)

    def _links_may_leave_root(self) -> bool:
        return self._allow_absolute

    def index(self) -> tuple[list[SourceItem], list[SkippedItem]]:
        folder = self.manifest.parent
        items, skipped = [], []
        records, patients = {}, {}
        # One listing per record folder, not a stat per candidate file (linear at scale).
        listing = FolderListing()
        for line, values in table_rows(self.manifest, REQUIRED, allowed=REQUIRED + OPTIONAL):
            fail = _failure(self.manifest, line)
            text, patient = values["record"], values["patient_id"]
            if not text:
                raise fail("empty record")
            if values["label"] not in ("0", "1"):
                raise fail(f"label must be 0 or 1, got {values['label']!r:.80}")
            if not patient:
                raise fail("empty patient_id")
            relative = self._checked_path(text, fail)
            path = Path(relative) if os.path.isabs(relative) else folder / relative
            key = str(path)
            # "x" and "x.hea" name the same record.
            same = key[:-4] if key.endswith(_EXTENSIONS + (".dat",)) else key
            if same in records:
                raise fail(f"record {text!r} already listed on line {records[same]}")
            records[same] = line
            split, fold = self._split_and_fold(values, fail)
            group = (split, fold)
            if patients.setdefault(patient, (group, line))[0] != group:
                first_group, first_line = patients[patient]
                raise fail(
                    f"patient {patient!r:.80} is in split/fold {group} here and "
                    f"{first_group} on line {first_line}"
                )
            found = _found_files(path, listing, fail)
            if not self._allow_absolute:
                _refuse_links_outside(found, folder, text, listing, fail)
            if not found:
                skipped.append(SkippedItem(_record_id(relative), key, f"file missing: {key}"))
                continue
            items.append(
                SourceItem(
                    record_path=key,
                    record_id=_record_id(relative),
                    patient_id=patient,
                    labels=("PE",) if values["label"] == "1" else (),
                    split=split,
                    fold=fold,
                    age=_age(values.get("age", ""), fail),
                    sex=_sex(values.get("sex", ""), fail),
                )
            )
        return items, skipped

    def _checked_path(self, text: str, fail) -> str:
        """The record path, normalised; refuses paths that leave the manifest's folder."""
        if os.path.isabs(text) and "\x00" not in text:
            if not self._allow_absolute:
                raise fail(
                    f"record {text!r} is an absolute path; give it relative to "
                    f"{_FOLDER}, or build the source with allow_absolute_paths=True"
                )
            return os.path.normpath(text)
        problem = relative_path_problem(text, _FOLDER)
        if problem:
            raise fail(f"record {text!r:.200} {problem}")
        return os.path.normpath(text)

    @staticmethod
    def _split_and_fold(values, fail):
        split = fold = None
        if "split" in values:
            split = values["split"]
            if split not in SPLITS:
                raise fail(f"split must be one of {', '.join(SPLITS)}, got {split!r:.80}")
        if "fold" in values:
            try:
                fold = int(values["fold"])
            except ValueError:
                fold = -1
            if fold < 0:
                raise fail(f"fold must be an integer >= 0, got {values['fold']!r:.80}")
        return split, fold


def _failure(manifest, line):
    def fail(problem: str) -> RecordError:
        return RecordError(manifest, f"line {line}: {problem}")

    return fail


def _record_id(relative: str) -> str:
    """The manifest's record path, '/'-separated, without a known file extension."""
    text = Path(relative).as_posix()
    return text[:-4] if text.endswith(_EXTENSIONS + (".dat",)) else text


def _found_files(path: Path, listing: FolderListing, fail) -> list[str]:
    """The record's files that exist: as given, or with a known extension added."""
    # Strings, not Path objects: pathlib's parsing was most of the index's time at scale.
    parent, name = os.path.split(str(path))
    try:
        flags = listing.flags(parent)
    except OSError as exc:  # e.g. a folder that cannot be listed
        raise fail(f"record {str(path)!r:.200}: {exc.strerror}") from None
    names = [name] + [name + ext for ext in _EXTENSIONS + (".dat",)]
    return [os.path.join(parent, n) for n in names if flags.get(n, 0) & REGULAR_FILE]


def _refuse_links_outside(
    files: list[str], folder: Path, text: str, listing: FolderListing, fail
) -> None:
    """Refuses record files that are (or lie behind) symbolic links leading outside."""
    try:
        root = listing.resolved_folder(folder)
        inside = root.rstrip(os.sep) + os.sep
        for file in files:
            parent, name = os.path.split(file)
            # A file that is not a link resolves where its folder does.
            if listing.flags(parent).get(name, 0) & LINK:
                target = str(Path(file).resolve())
            else:
                target = os.path.join(listing.resolved_folder(parent), name)
            if not (target == root or target.startswith(inside)):
                raise fail(
                    f"record {text!r} resolves to {target}, outside {_FOLDER} (a "
                    "symbolic link); copy the file in, or build the source with "
                    "allow_absolute_paths=True"
                )
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
        raise fail(f"record {text!r}: cannot resolve its path ({exc})") from None


def _sex(text: str, fail):
    if not text:
        return None
    sex = parse_sex(text)
    if sex is None:
        raise fail(f"sex must be M/F/male/female, got {text!r:.80}")
    return sex


def _age(text: str, fail):
    if not text:
        return None
    try:
        age = float(text)
    except ValueError:
        age = math.nan
    if not math.isfinite(age) or age < 0:
        raise fail(f"age must be a finite number >= 0, got {text!r:.80}")
    return age
