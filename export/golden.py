"""Golden test vectors: real inputs and the logits the exported model must give for them.

`golden.npz` (no pickle) holds a few real preprocessed VALIDATION windows `inputs` float32
`(k, T, 12)` (after the standardiser: exactly what goes into the `ecg` tensor, before any
int8 quantisation), the `expected_logits` `(k, C)` LiteRT gave for them here, the Keras
model's `keras_logits` for reference, and the absolute tolerance `atol` an app's runtime
should meet (other kernels, e.g. ARM or GPU delegates, round differently; integer models
may differ by an output quantisation step or two). `record_ids` and `starts` say where
each window came from. A `--target micro` bundle adds `micro_logits`, what TensorFlow
Lite Micro gave for the same inputs (within `atol` of `expected_logits`).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.atomic import atomic_write_bytes
from keras_ecgpe.export.representative import read_windows, split_plan
from keras_ecgpe.export.tflite import ExportError
from keras_ecgpe.export.verify import keras_logits
from keras_ecgpe.inference.tflite_runner import TFLiteRunner

if TYPE_CHECKING:
    import os

    import keras

    from keras_ecgpe.data.prepared_cache import PreparedCache

# Absolute logit tolerances per mode, for runtimes other than the one that made the file.
TOLERANCES = {"none": 1e-3, "float16": 1e-2, "dynamic": 5e-2, "int8": 1e-1, "int16x8": 2e-2}


def golden_vectors(
    blob: bytes,
    model: keras.Model,
    cache: PreparedCache,
    contract: dict,
    *,
    mode: str,
    count: int = 4,
) -> dict:
    """Picks `count` validation windows from records spread over the split and runs them.

    Returns:
        A dict of numpy arrays (the content of `golden.npz`).
    """
    runner = TFLiteRunner(blob)
    rows, starts = split_plan(cache, contract, "validation")
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # one window per record
    pick = first[np.unique(np.linspace(0, first.size - 1, min(count, first.size)).astype(int))]
    inputs = read_windows(cache, contract, rows[pick], starts[pick])
    expected = runner.logits(inputs)
    atol = TOLERANCES[mode]
    if runner.output_quantization:  # int8 output: at least two quantisation steps
        atol = max(atol, 2 * runner.output_quantization[0])
    return {
        "inputs": inputs,
        "expected_logits": expected,
        "keras_logits": keras_logits(model, inputs),
        "atol": np.float64(atol),
        "record_ids": np.asarray(cache.record_ids[rows[pick]]).astype(str),
        "starts": starts[pick].astype(np.int64),
        "mode": np.asarray(mode),
    }


def write_golden(path: os.PathLike | str, vectors: dict) -> None:
    """Writes the vectors as `.npz` (atomically, no pickle)."""
    buffer = io.BytesIO()
    np.savez(buffer, **vectors)
    atomic_write_bytes(path, buffer.getvalue())


def check_golden(model: TFLiteRunner | bytes | os.PathLike | str, path: os.PathLike | str) -> float:
    """Runs a `.tflite` (path, bytes or `TFLiteRunner`) on `golden.npz`; returns the max error.

    Raises:
        ExportError: an output differs from `expected_logits` by more than `atol`.

    Example:

    ```python
    check_golden("out/model.tflite", "out/golden.npz")
    # 2.4e-07
    ```
    """
    runner = model if isinstance(model, TFLiteRunner) else TFLiteRunner(model)
    with np.load(path, allow_pickle=False) as data:
        inputs, expected, atol = data["inputs"], data["expected_logits"], float(data["atol"])
    error = float(np.max(np.abs(runner.logits(inputs) - expected)))
    if not error <= atol:
        raise ExportError(
            f"{path}: the model's logits differ from the golden vectors by "
            f"{error:.3g} (tolerance {atol:g})"
        )
    return error
