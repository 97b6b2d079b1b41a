"""An exported model is checked against its bundle's `model.json` before it is used.

`ecgpe-keras export` writes `model.tflite` and, beside it, `model.json` whose `file`
section holds the SHA-256 and size of that very `.tflite` (the copy embedded in the file
cannot hold them). `predict` and `export verify` compare them before running the model, so
a damaged or modified file (a few flipped bytes still load and predict confidently) is
refused with one line naming it. Like every checksum here it is tamper-evidence, not a
signature: whoever rewrites both files can make them agree.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.inference.tflite_runner import load_model_json

if TYPE_CHECKING:
    import os

MODEL_JSON = "model.json"  # beside model.tflite in a bundle (export/bundle.py)


def model_json_beside(tflite: os.PathLike | str) -> Path:
    """The `model.json` of the bundle holding `tflite`.

    Example:
    >>> str(model_json_beside("out/float32/model.tflite"))
    'out/float32/model.json'
    """
    return Path(tflite).with_name(MODEL_JSON)


def verify_model_file(tflite: os.PathLike | str, blob: bytes | None = None) -> dict:
    """Checks a `.tflite` against the size and SHA-256 in the `model.json` beside it.

    Args:
        tflite: the model file.
        blob: its bytes, when already read (they are what gets checked).

    Returns:
        The bundle's `model.json` (schema-checked).

    Raises:
        ConfigError: no readable `model.json` beside it, or a size or SHA-256 that differs;
            one line naming the file.
    """
    tflite = Path(tflite)
    sidecar = model_json_beside(tflite)
    if not sidecar.is_file():
        raise ConfigError(
            f"{tflite}: no {MODEL_JSON} beside it, so the model file cannot be verified; "
            f"use it inside the exported bundle folder, with its {MODEL_JSON}"
        )
    document = load_model_json(sidecar)
    facts = document["file"]
    if blob is None:
        try:
            blob = tflite.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{tflite}: unreadable model file ({exc.strerror})") from None
    if facts.get("sha256") is None:
        raise ConfigError(f"{sidecar}: holds no SHA-256 of the model file (file.sha256)")
    if len(blob) != facts.get("size_bytes") or hashlib.sha256(blob).hexdigest() != facts["sha256"]:
        raise ConfigError(
            f"{tflite}: its SHA-256 or size differs from {sidecar} (file.sha256); the model "
            "file was modified or damaged: export it again"
        )
    return document
