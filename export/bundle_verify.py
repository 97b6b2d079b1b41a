"""`ecgpe-keras export verify BUNDLE`: is an export bundle still what the export wrote?

Three checks, in order, each stopping at the first problem with one line naming the file:
the `.tflite` has the size and SHA-256 its `model.json` records (`inference.bundle_check`);
the description embedded in the `.tflite` equals `model.json` (apart from the `file`
section, which only `model.json` can hold); and LiteRT here reproduces the golden vectors
(`golden.npz`: real validation windows and the logits the export got) within their
tolerance.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.export.golden import check_golden
from keras_ecgpe.export.tflite import ExportError
from keras_ecgpe.inference.bundle_check import verify_model_file
from keras_ecgpe.inference.tflite_runner import TFLiteRunner

if TYPE_CHECKING:
    import os

MODEL, GOLDEN = "model.tflite", "golden.npz"


@dataclasses.dataclass
class BundleCheck:
    """What `verify_bundle` found (every check passed, or it raised)."""

    folder: Path
    sha256: str
    size_bytes: int
    golden_vectors: int
    max_error: float
    atol: float

    def to_text(self) -> str:
        return (
            f"{self.folder / MODEL}: {self.size_bytes} bytes, sha256 {self.sha256[:16]}... "
            "matches model.json\n"
            f"{self.folder / MODEL}: embedded description matches model.json\n"
            f"{self.folder / GOLDEN}: {self.golden_vectors} golden vectors reproduced, "
            f"max |logit error| {self.max_error:.3g} <= {self.atol:g}: OK\n"
        )


def verify_bundle(path: os.PathLike | str) -> BundleCheck:
    """Checks an export bundle folder (or its `model.tflite`).

    Raises:
        ConfigError: not a bundle, a model file that differs from `model.json`, or an
            embedded description that differs from it.
        ExportError: missing or unreadable golden vectors, or logits outside their tolerance.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    model = folder / MODEL
    if not model.is_file():
        raise ConfigError(f"{folder}: no {MODEL}; not an export bundle folder")
    document = verify_model_file(model)
    runner = TFLiteRunner(model)
    embedded = runner.metadata() or {}
    if {k: v for k, v in embedded.items() if k != "file"} != {
        k: v for k, v in document.items() if k != "file"
    }:
        raise ConfigError(
            f"{model}: the description embedded in it differs from {folder / 'model.json'}"
        )
    golden = folder / GOLDEN
    try:
        with np.load(golden, allow_pickle=False) as data:
            count, atol = int(data["inputs"].shape[0]), float(data["atol"])
        try:
            error = check_golden(runner, golden)
        except ConfigError as exc:  # inputs the model cannot take: name the file
            raise ExportError(f"{golden}: {exc}") from None
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        TypeError,
        IndexError,
        zipfile.BadZipFile,
    ) as exc:
        raise ExportError(
            f"{golden}: unreadable golden vectors ({type(exc).__name__}: {exc})"
        ) from None
    return BundleCheck(
        folder=folder,
        sha256=document["file"]["sha256"],
        size_bytes=document["file"]["size_bytes"],
        golden_vectors=count,
        max_error=error,
        atol=atol,
    )
