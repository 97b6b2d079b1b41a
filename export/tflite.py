"""Conversion of a Keras classifier to a builtins-only TFLite flatbuffer.

The converted graph is the model's export view (`keras_ecgpe.models.export_view`: RNNs
unrolled, same weights) behind a static batch of 1: input `ecg` float32 `[1, T, 12]` mV,
output `logits` `[1, C]` (never sigmoid: int8 LOGISTIC outputs collapse, docs/background.md).
It goes through `TFLiteConverter.from_keras_model` on a functional batch-1 wrapper: a
bare `tf.function` converted with `from_concrete_functions` has no signature, and with
the model as trackable object (or through a SavedModel) LiteRT returned NaN here.

Modes: "none" (float32), "float16" (float16 weights), "dynamic" (int8 weights, activations
quantised at run time: no calibration), "int8" (full integer, calibrated) and "int16x8"
(int16 activations, int8 weights, calibrated). The calibrated modes run in a child process
(`convert_worker`): the int8 calibrator can segfault (tensorflow#75140), and a crash
there must become an error message, not a dead CLI.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ECGPEError
from keras_ecgpe.export.child_process import run_child
from keras_ecgpe.inference.tflite_runner import INPUT_NAME, OUTPUT_NAME

if TYPE_CHECKING:
    from collections.abc import Iterable

    import keras

MODES = ("none", "float16", "dynamic", "int8", "int16x8")
CALIBRATED = ("int8", "int16x8")
CHILD_TIMEOUT_S = 1800


class ExportError(ECGPEError):
    """An export cannot produce a valid artefact; nothing was written."""


def check_mode(mode: str, int8_io: bool = False) -> None:
    if mode not in MODES:
        raise ExportError(f"--quantize must be one of {', '.join(MODES)}. Received: {mode!r}")
    if int8_io and mode != "int8":
        raise ExportError(f"--int8-io needs --quantize int8. Received: --quantize {mode}")


def serving_model(model: keras.Model, window: int) -> keras.Model:
    """The batch-1 functional wrapper `ecg [1, window, leads] -> {"logits": [1, C]}`."""
    import keras

    from keras_ecgpe.models import ECGClassifier, export_view

    # Zoo models get their export build; any other Keras model is converted as it is.
    view = export_view(model, input_len=window) if isinstance(model, ECGClassifier) else model
    ecg = keras.Input(shape=(window, view.input_shape[-1]), batch_size=1, name=INPUT_NAME)
    return keras.Model(ecg, {OUTPUT_NAME: view(ecg, training=False)}, name="serving")


def convert_model(
    model: keras.Model,
    mode: str,
    *,
    window: int,
    representative: np.ndarray | None = None,
    int8_io: bool = False,
) -> bytes:
    """Converts in this process. Prefer `convert`, which isolates the calibrated modes.

    Args:
        model: an `ECGClassifier` producing logits.
        mode: one of `MODES`.
        window: samples per window of the exported input.
        representative: float32 `(n, window, leads)` calibration windows (int8, int16x8).
        int8_io: int8 input and output tensors (mode int8 only).

    Returns:
        The flatbuffer bytes.

    Raises:
        ExportError: unknown mode, missing calibration data, or a graph that needs
            TensorFlow (Flex) or other non-builtin operators.
    """
    import tensorflow as tf

    check_mode(mode, int8_io)
    converter = tf.lite.TFLiteConverter.from_keras_model(serving_model(model, window))
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode in CALIBRATED:
        windows = np.asarray(representative if representative is not None else [], np.float32)
        if windows.ndim != 3 or not len(windows) or not np.isfinite(windows).all():
            raise ExportError(
                f"--quantize {mode} needs finite calibration windows "
                f"(n, {window}, leads); received shape {windows.shape}"
            )
        converter.representative_dataset = lambda: ([w[None]] for w in windows)
        ops = (
            [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if mode == "int8"
            else [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        )
    if int8_io:
        converter.inference_input_type = converter.inference_output_type = tf.int8
    converter.target_spec.supported_ops = ops
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the traced endpoint
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError, ValueError, RuntimeError
        raise ExportError(_conversion_message(mode, exc)) from None


def _conversion_message(mode: str, exc: Exception) -> str:
    # The converter repeats one sentence per offending op instance: keep each once.
    sentences = [part.strip().rstrip(".") for part in " ".join(str(exc).split()).split(". ")]
    text = ". ".join(dict.fromkeys(part for part in sentences if part))
    if "Select TF" in text or "flex op" in text or "not supported by the native TFLite" in text:
        found = ", ".join(dict.fromkeys(re.findall(r"'tf\.(\w+)'", text))) or "see below"
        return (
            f"{mode} conversion needs TensorFlow (Flex) operators ({found}), which the "
            f"LiteRT runtimes of phones and microcontrollers lack; only builtin operators "
            f"are allowed ({text[:300]})"
        )
    return f"{mode} conversion failed: {type(exc).__name__}: {text[:600]}"


def convert(
    model: keras.Model,
    mode: str,
    *,
    window: int,
    representative: np.ndarray | None = None,
    int8_io: bool = False,
    model_path: os.PathLike | None = None,
) -> bytes:
    """Converts `model`, in a child process for the calibrated modes.

    Args:
        model: an `ECGClassifier` (used in-process; saved for the child if no `model_path`).
        mode, window, representative, int8_io: as `convert_model`.
        model_path: the `.keras` file `model` was loaded from, given to the child as is.

    Returns:
        The flatbuffer bytes.

    Raises:
        ExportError: as `convert_model`, or the child process crashed or timed out.

    Example:

    ```python
    blob = convert(model, "int8", window=1000, representative=windows)
    ```
    """
    check_mode(mode, int8_io)
    if mode not in CALIBRATED:
        return convert_model(model, mode, window=window, int8_io=int8_io)
    with tempfile.TemporaryDirectory(prefix="ecgpe-convert-") as tmp:
        tmp = Path(tmp)
        if model_path is None:
            model_path = tmp / "model.keras"
            model.save(model_path)
        windows = np.asarray(representative if representative is not None else [], np.float32)
        np.save(tmp / "representative.npy", windows, allow_pickle=False)
        out = tmp / "model.tflite"
        args = [
            "-m",
            "keras_ecgpe.export.convert_worker",
            "--model",
            model_path,
            "--window",
            window,
            "--mode",
            mode,
            "--representative",
            tmp / "representative.npy",
            "--out",
            out,
        ]
        run_child(
            args + (["--int8-io"] if int8_io else []),
            task=f"{mode} conversion",
            timeout_s=CHILD_TIMEOUT_S,
            error=ExportError,
            crash_hint="a TFLite converter crash, e.g. tensorflow#75140 for RNN loops",
        )
        return out.read_bytes()


def _builtin_names() -> set:
    from ai_edge_litert import schema_py_generated as schema

    return {name for name in vars(schema.BuiltinOperator) if not name.startswith("_")}


_BUILTIN_NAMES = _builtin_names()


def check_ops(ops: Iterable[str], target: str | None = None) -> None:
    """Refuses non-builtin operators, and WHILE loops for `target="micro"`.

    Raises:
        ExportError: naming the offending operators.
    """
    foreign = sorted(op for op in ops if op not in _BUILTIN_NAMES or op == "CUSTOM")
    if foreign:
        raise ExportError(
            f"the converted model holds non-builtin operators {foreign}; "
            "only builtin operators are allowed"
        )
    if target == "micro" and "WHILE" in ops:
        raise ExportError(
            "--target micro: the model contains a WHILE loop (a recurrent "
            "layer that was not unrolled), which TFLite Micro cannot run; "
            "export its unrolled build (export_view) or another model"
        )
