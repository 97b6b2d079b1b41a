"""Quantisation-aware training of a zoo model and its conversion to a full-int8 TFLite.

Steps, all in the child process: the Keras 3 model's 2-D tf_keras twin (same names and
weights, `twin.build_twin(layout="2d")`) is annotated (tfmot's 8-bit registry, plus
`quantize_config` for what it lacks) and wrapped by `quantize_apply`; the activation
ranges start at the min/max the float twin reaches on real calibration windows (tfmot
starts them at +-6 and moves them by a 0.999 moving average, which a brief fine-tune
cannot undo); the model is fine-tuned for a few epochs on the run's training windows with
the run's loss, BatchNorm frozen; then it is converted to a builtins-only int8 flatbuffer
with the same `[1, T, 12]` -> `logits` signature as every other export.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras

from keras_ecgpe.export.qat.finetune import (
    TrainingWindows,
    fine_tune,
    freeze_batch_norm,
)
from keras_ecgpe.export.qat.quantize_config import CUSTOM_OBJECTS, quantize_config_for
from keras_ecgpe.export.qat.twin import build_twin
from keras_ecgpe.export.tflite import ExportError
from keras_ecgpe.inference.tflite_runner import INPUT_NAME, OUTPUT_NAME, TFLiteRunner

if TYPE_CHECKING:
    import keras

_quantize = tfmot.quantization.keras
# Range variables of the tensor a wrapper outputs (not kernel ranges, not pre-activation).
_OUTPUT_RANGE = re.compile(r"/(post_activation|output)_(min|max):\d+$")
_PROBE_WINDOWS = 64


def quantization_model(twin: tf_keras.Model) -> tf_keras.Model:
    """Wraps a 2-D twin for QAT (tfmot's default 8-bit scheme + `quantize_config`)."""

    def annotate(layer):
        if isinstance(layer, tf_keras.layers.InputLayer):
            return layer
        return _quantize.quantize_annotate_layer(layer, quantize_config_for(layer))

    annotated = tf_keras.models.clone_model(twin, clone_function=annotate)
    annotated.set_weights(twin.get_weights())
    with _quantize.quantize_scope(CUSTOM_OBJECTS):
        return _quantize.quantize_apply(annotated)


def _observed_ranges(twin, names, windows, batch_size: int = 64) -> dict:
    """Min and max of the named float layers' outputs (and of the input) over `windows`."""
    names = list(names)
    probe = tf_keras.Model(twin.inputs, [twin.get_layer(n).output for n in names])
    low = {n: np.inf for n in names}
    high = {n: -np.inf for n in names}
    for k in range(0, len(windows), batch_size):
        outputs = probe(windows[k : k + batch_size], training=False)
        for name, value in zip(names, outputs if len(names) > 1 else [outputs]):
            low[name] = min(low[name], float(tf.reduce_min(value)))
            high[name] = max(high[name], float(tf.reduce_max(value)))
    # TFLite needs 0 inside every range.
    return {n: (min(low[n], 0.0), max(high[n], 0.0)) for n in names}


def initialise_ranges(qat_model: tf_keras.Model, twin: tf_keras.Model, windows: np.ndarray) -> int:
    """Sets every activation range of `qat_model` to what the float twin shows.

    Returns:
        The number of range pairs set.
    """
    targets = {}
    for wrapper in qat_model.layers:
        if isinstance(wrapper, _quantize.QuantizeWrapperV2):
            found = [v for v in wrapper.non_trainable_variables if _OUTPUT_RANGE.search(v.name)]
            if found:
                targets[wrapper.layer.name] = found
        elif type(wrapper).__name__ == "QuantizeLayer":  # the input quantiser
            source = wrapper.inbound_nodes[0].inbound_layers
            targets[source.name] = list(wrapper.non_trainable_variables)
    ranges = _observed_ranges(twin, targets, windows)
    for name, variables in targets.items():
        low, high = ranges[name]
        for variable in variables:
            variable.assign(
                np.full(variable.shape, low if "_min" in variable.name else high, np.float32)
            )
    return len(targets)


def to_tflite(
    qat_model: tf_keras.Model,
    window: int,
    leads: int,
    representative: np.ndarray | None,
    int8_io: bool,
) -> bytes:
    """Converts a QAT tf_keras model to a builtins-only int8 flatbuffer, batch 1."""
    ecg = tf_keras.Input(shape=(window, leads), batch_size=1, name=INPUT_NAME)
    # The signature's output takes the name of the last layer.
    logits = tf_keras.layers.Activation("linear", name=OUTPUT_NAME)(qat_model(ecg, training=False))
    converter = tf.lite.TFLiteConverter.from_keras_model(tf_keras.Model(ecg, logits))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([w[None]] for w in representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = converter.inference_output_type = tf.int8
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return bytes(converter.convert())
    except Exception as exc:  # ConverterError, ValueError, RuntimeError
        text = " ".join(str(exc).split())
        raise ExportError(
            f"QAT int8 conversion failed: {type(exc).__name__}: {text[:600]}"
        ) from None


def qat_export(
    model: keras.Model,
    data: TrainingWindows,
    loss: keras.losses.Loss,
    *,
    epochs: int,
    learning_rate: float,
    representative: np.ndarray | None,
    int8_io: bool = False,
    window: int | None = None,
) -> tuple:
    """Quantisation-aware fine-tune of a Keras 3 zoo model, converted to int8 TFLite.

    Args:
        model: the run's Keras 3 `ECGClassifier` (left unchanged).
        data: the run's `TrainingWindows`.
        loss: the run's Keras 3 loss on logits.
        epochs: fine-tune epochs, at least 1 (the kernels' int8 ranges are set in training).
        learning_rate: Adam step size of the fine-tune.
        representative: float32 calibration windows `(n, T, leads)` from the training split.
        int8_io: int8 input and output tensors.
        window: exported window length; default the model's.

    Returns:
        `(flatbuffer bytes, facts)`: facts is the JSON-safe record for `model.json`.

    Raises:
        TwinError: the model holds a layer with no 2-D twin (recurrent, attention).
        ExportError: the conversion failed.
    """
    window = window or int(model.input_shape[1])
    if window != model.input_shape[1]:  # same weights, graph rebuilt for the window
        from keras_ecgpe.models import export_view

        model = export_view(model, input_len=window)
    twin = build_twin(model, layout="2d")
    freeze_batch_norm(twin)
    qat_model = quantization_model(twin)
    freeze_batch_norm(qat_model)
    ranges = initialise_ranges(qat_model, twin, representative)
    history = fine_tune(qat_model, data, loss, epochs=epochs, learning_rate=learning_rate)
    blob = to_tflite(qat_model, window, int(model.input_shape[2]), representative, int8_io)
    # What QAT simulated against what the int8 file computes, on calibration windows.
    probe = representative[:_PROBE_WINDOWS]
    simulated = np.asarray(qat_model(probe, training=False))
    converted = TFLiteRunner(blob).logits(probe)
    facts = {
        "scheme": "tfmot default 8-bit (per-channel int8 kernels, per-tensor int8 "
        "activations), 2-D twin, BatchNorm frozen and folded",
        "epochs": int(epochs),
        "steps": int(epochs * data.steps_per_epoch),
        "windows_per_epoch": len(data),
        "batch_size": int(data.batch_size),
        "learning_rate": float(learning_rate),
        "optimizer": "adam",
        "loss_per_epoch": history,
        "ranges_initialised": int(ranges),
        "range_windows": int(len(representative)),
        "simulated_vs_tflite_max_abs_logit": float(np.max(np.abs(simulated - converted))),
    }
    return blob, facts
