"""MedalCare-XL simulated 12-lead ECGs (Gillette et al., Sci Data 2023), split from the path.

There is no metadata table: everything is in the path
`WP2_largeDataset_Noise/<pathology>/[<mi_subclass>/]<split>/run_<model>/<nnnnnn>_<variant>.csv`.
Classes are single-label: the seven non-MI pathologies plus each of the eight MI subclasses
as its own class (`mi_LAD_0.3`, ...), so a model can learn the infarct site and size; merge
them afterwards for a plain MI class. `patient_id` is the simulation model (`run_<model>`)
since the authors' train/validation/test folds are grouped by it. Each record is rendered
three times (raw, noise, filtered): one variant is indexed per record, never three records.
Files are enumerated (record numbers have gaps); `mi/examples/` (figures) is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.data.sources.base import SPLITS, DatasetSource, SkippedItem, SourceItem
from keras_ecgpe.errors import ConfigError, RecordError

if TYPE_CHECKING:
    import os

PATHOLOGIES = ("sinus", "avblock", "fam", "iab", "lae", "lbbb", "rbbb")
MI_SUBCLASSES = (
    "LAD_0.3",
    "LAD_1.0",
    "LCX_0.3_ant",
    "LCX_0.3_post",
    "LCX_1.0_ant",
    "LCX_1.0_post",
    "RCA_0.3",
    "RCA_1.0",
)
CLASSES = PATHOLOGIES + tuple("mi_" + sub for sub in MI_SUBCLASSES)
VARIANTS = ("noise", "raw", "filtered")
_SIGNALS = "WP2_largeDataset_Noise"
_FILE = re.compile(r"^(\d+)_(raw|noise|filtered)\.csv$")


def find_signal_folder(root: Path) -> Path | None:
    """Finds `WP2_largeDataset_Noise` at `root` or up to three folders below it."""
    for candidate in (
        root,
        *sorted(root.glob(_SIGNALS)),
        *sorted(root.glob("*/" + _SIGNALS)),
        *sorted(root.glob("*/*/" + _SIGNALS)),
    ):
        if candidate.name == _SIGNALS and candidate.is_dir():
            return candidate
    return None


class MedalCareXLSource(DatasetSource):
    """MedalCare-XL with its predefined folds and 15 single-label classes.

    Args:
        root: the folder holding the unpacked archive, the outer `MedalCare-XL/` folder,
            the inner one, or `WP2_largeDataset_Noise` itself.
        variant: "noise" (default, noise added), "raw" (noise-free) or "filtered"
            (noise + 0.5-150 Hz band-pass).

    Example:

    ```python
    items, skipped = MedalCareXLSource("MedalCare-XL", variant="noise").index()
    ```
    """

    name = "medalcare"
    label_vocabulary = "medalcare"
    read_format = "medalcare"

    def __init__(self, root: os.PathLike | str, variant: str = "noise"):
        super().__init__(root)
        if variant not in VARIANTS:
            raise ConfigError(
                f"`variant` must be one of {', '.join(VARIANTS)}. Received: variant={variant!r}"
            )
        self.variant = variant

    @property
    def label_names(self) -> tuple[str, ...]:
        return CLASSES

    def index(self) -> tuple[list[SourceItem], list[SkippedItem]]:
        signals = find_signal_folder(self.root)
        if signals is None:
            raise RecordError(self.root, f"no {_SIGNALS} folder here or up to three levels below")
        items, skipped = [], []
        for folder in sorted(p for p in signals.iterdir() if p.is_dir()):
            if folder.name == "mi":
                for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
                    if sub.name == "examples":
                        skipped.append(
                            SkippedItem("mi/examples", str(sub), "figure illustrations, not data")
                        )
                    elif sub.name in MI_SUBCLASSES:
                        self._index_class(sub, "mi_" + sub.name, f"mi/{sub.name}", items, skipped)
                    else:
                        skipped.append(
                            SkippedItem(f"mi/{sub.name}", str(sub), "unknown MI subclass folder")
                        )
            elif folder.name in PATHOLOGIES:
                self._index_class(folder, folder.name, folder.name, items, skipped)
            else:
                skipped.append(SkippedItem(folder.name, str(folder), "unknown pathology folder"))
        return items, skipped

    def _index_class(self, folder: Path, label: str, prefix: str, items, skipped) -> None:
        for split_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
            if split_folder.name not in SPLITS:
                skipped.append(
                    SkippedItem(
                        f"{prefix}/{split_folder.name}", str(split_folder), "unknown split folder"
                    )
                )
                continue
            for run in sorted(split_folder.iterdir()):
                if not (run.is_dir() and run.name.startswith("run_")):
                    skipped.append(
                        SkippedItem(
                            f"{prefix}/{split_folder.name}/{run.name}",
                            str(run),
                            "not a run_<model> folder",
                        )
                    )
                    continue
                self._index_run(
                    run,
                    label,
                    f"{prefix}/{split_folder.name}/{run.name}",
                    split_folder.name,
                    items,
                    skipped,
                )

    def _index_run(self, run: Path, label, prefix, split, items, skipped) -> None:
        renderings = {}
        for path in sorted(run.iterdir()):
            match = _FILE.match(path.name)
            if match is None:
                skipped.append(
                    SkippedItem(
                        f"{prefix}/{path.name}", str(path), "not a <number>_<variant>.csv file"
                    )
                )
                continue
            renderings.setdefault(match.group(1), {})[match.group(2)] = path
        for number, variants in renderings.items():
            record_id = f"{prefix}/{number}"
            if self.variant not in variants:
                skipped.append(
                    SkippedItem(
                        record_id,
                        str(run),
                        f"no {self.variant} rendering (found {', '.join(sorted(variants))})",
                    )
                )
                continue
            items.append(
                SourceItem(
                    str(variants[self.variant]),
                    record_id,
                    patient_id=run.name[len("run_") :],
                    labels=(label,),
                    split=split,
                    fold=None,
                )
            )
