"""A tf_keras twin of a Keras 3 zoo model: same graph, same layer names, same weights.

tensorflow-model-optimization only handles tf_keras (Keras 2) models (docs/background.md), so
QAT and pruning work on a twin. The twin is not written by hand per family: the Keras 3
model's own functional graph is replayed with a tf_keras layer in place of each Keras 3
layer, built from that layer's config (filters, kernel size, strides, padding, ...). The
nested backbone is inlined, so the twin is one flat functional model (tfmot refuses
nested models) whose layers carry the Keras 3 names; weights then copy layer by layer,
by name, in both directions.

Two layouts. "1d" is the literal twin (Conv1D stays Conv1D): pruning trains it. "2d" is
the quantisation twin: the input is viewed as `(batch, time, 1, leads)` and every 1-D
layer becomes its `(k, 1)` 2-D counterpart, the same arithmetic (TF runs Conv1D as a
Conv2D) but the form tfmot's 8-bit scheme was built for: per-channel int8 kernels and the
Conv2D -> BatchNorm -> ReLU fusions that let the converter fold BatchNorm into the
convolution. With Conv1D, tfmot's per-channel quantiser refuses 3-D kernels, and a
fake-quantised Conv1D kernel keeps the converter from folding the BatchNorm (a MUL and an
ADD per convolution, rounded where QAT did not round).

Only the layer classes in `LAYER_KEYS` (`layer_keys.py`) are translated; anything else
(recurrent layers, attention, LayerNorm, custom layers) raises `TwinError` naming the
layer. Recurrent layers are left out on purpose: tfmot cannot quantise them, and its
pruning of tf_keras 2.21 LSTM cells left them dense here (0 % zeros after pruning to 50 %).
Import this module only in the QAT/pruning child process: it imports tf_keras.
"""

from __future__ import annotations

import keras
import numpy as np
import tf_keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.export.qat.layer_keys import LAYER_KEYS

LAYOUTS = ("1d", "2d")
# 1-D layer -> (2-D class, config keys that gain a unit second axis).
_AS_2D = {
    "Conv1D": ("Conv2D", ("kernel_size", "strides", "dilation_rate")),
    "MaxPooling1D": ("MaxPooling2D", ("pool_size", "strides")),
    "AveragePooling1D": ("AveragePooling2D", ("pool_size", "strides")),
    "GlobalAveragePooling1D": ("GlobalAveragePooling2D", ()),
    "GlobalMaxPooling1D": ("GlobalMaxPooling2D", ()),
}


class TwinError(ConfigError):
    """The Keras 3 model holds a layer the tf_keras twin cannot reproduce."""


def twin_layer(layer: keras.layers.Layer, layout: str = "1d") -> tf_keras.layers.Layer:
    """The tf_keras layer equivalent to one Keras 3 layer (unbuilt, same name).

    Raises:
        TwinError: the layer's class is not translatable, or it uses an option the twin
            does not reproduce (channels-first data, non-float32 weights).
    """
    kind = type(layer).__name__
    config = layer.get_config()
    if kind not in LAYER_KEYS:
        raise TwinError(
            f"layer {layer.name!r} ({kind}) has no tf_keras twin; translatable "
            f"layers: {', '.join(sorted(LAYER_KEYS))}"
        )
    if config.get("data_format", "channels_last") != "channels_last":
        raise TwinError(f"layer {layer.name!r}: only channels_last data is translated")
    # Mixed-precision runs keep float32 weights: their float32 twin holds the same numbers.
    if layer.dtype_policy.variable_dtype != "float32":
        raise TwinError(
            f"layer {layer.name!r}: {layer.dtype_policy.variable_dtype} "
            "weights; the twin holds float32 weights only"
        )
    arguments = {key: config[key] for key in LAYER_KEYS[kind] if key in config}
    if layout == "2d" and kind in _AS_2D:
        kind, widened = _AS_2D[kind]
        for key in widened:
            value = arguments[key]
            arguments[key] = (value[0] if isinstance(value, (list, tuple)) else value, 1)
    return getattr(tf_keras.layers, kind)(name=layer.name, **arguments)


def _replay(functional, inputs, layout):
    """Runs `functional`'s graph on tf_keras tensors, nested models inlined.

    Keras 3 keeps the graph in `Function._run_through_graph`, which maps each operation
    through `operation_fn` before calling it: the one Keras hook that walks the nodes in
    order with their real call arguments (lists for Add/Concatenate included).
    """

    def operation_fn(operation):
        if isinstance(operation, keras.Model):
            return lambda x, **kwargs: _replay(operation, x, layout)
        layer = twin_layer(operation, layout)
        # Keras 3 records `mask=None` on pooling calls; the 2-D layers take no mask.
        return lambda *args, **kwargs: layer(
            *args, **{key: value for key, value in kwargs.items() if value is not None}
        )

    return functional._run_through_graph(inputs, operation_fn=operation_fn)


def keras_layers_by_name(model: keras.Model) -> dict[str, object]:
    """Every leaf layer of a Keras 3 model (nested models flattened), by name."""
    found = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.update(keras_layers_by_name(layer))
        else:
            found[layer.name] = layer
    return found


def build_twin(
    model: keras.Model,
    *,
    layout: str = "1d",
    batch_size: int | None = None,
    copy_weights: bool = True,
) -> tf_keras.Model:
    """Builds the flat tf_keras twin of a Keras 3 functional model.

    Args:
        model: a Keras 3 functional model (an `ECGClassifier` from the zoo) mapping
            `(batch, time, leads)` to logits.
        layout: "1d" (the literal twin) or "2d" (the quantisation twin, see above).
        batch_size: a static batch size for the input (1 for conversion), or None.
        copy_weights: copy the Keras 3 weights into the twin.

    Returns:
        A `tf_keras.Model` with input `ecg` and the same layers, names and weights.

    Raises:
        TwinError: a layer has no twin.

    Example:
    >>> from keras_ecgpe.models import build_model
    >>> model = build_model("resnet1d18", input_len=256, num_classes=1, width=8)
    >>> twin = build_twin(model)
    >>> type(twin).__module__.split(".")[0], twin.count_params() == model.count_params()
    ('tf_keras', True)
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise TwinError(f"{model.name}: only single-input, single-output models are twinned")
    if layout not in LAYOUTS:
        raise TwinError(f"`layout` must be one of {LAYOUTS}. Received: layout={layout!r}")
    time, leads = model.input_shape[1:]
    inputs = tf_keras.Input(shape=(time, leads), batch_size=batch_size, name="ecg")
    x = inputs
    if layout == "2d":
        x = tf_keras.layers.Reshape((time, 1, leads), name="ecg_2d")(inputs)
    outputs = _replay(model, x, layout)
    twin = tf_keras.Model(inputs, outputs, name=model.name)
    if copy_weights:
        copy_weights_by_name(model, twin)
    return twin


def copy_weights_by_name(
    source: keras.Model | tf_keras.Model, target: keras.Model | tf_keras.Model
) -> int:
    """Copies weights layer by layer between a Keras 3 model and its twin (either way).

    The layers holding weights must be the same on both sides, by name and weight shapes;
    everything is checked before anything is copied, so a mismatch never leaves a model
    half-copied. A Conv1D kernel `(k, in, out)` and its 2-D twin's `(k, 1, in, out)` are
    the same numbers, reshaped.

    Returns:
        The number of layers copied.

    Raises:
        TwinError: a layer with weights has no counterpart, or the shapes differ.
    """
    source_layers, target_layers = _leaf_layers(source), _leaf_layers(target)
    weighted = {name: layer.get_weights() for name, layer in source_layers.items() if layer.weights}
    unmatched = sorted(set(weighted) ^ {n for n, layer in target_layers.items() if layer.weights})
    if unmatched:
        raise TwinError(f"layers holding weights on one side only: {unmatched[:5]}")
    plan = []
    for name, weights in weighted.items():
        shapes = [np.shape(w) for w in target_layers[name].get_weights()]
        if [_unit_axis_removed(s) for s in shapes] != [
            _unit_axis_removed(np.shape(w)) for w in weights
        ]:
            raise TwinError(
                f"layer {name!r}: weight shapes {shapes} differ from "
                f"{[np.shape(w) for w in weights]}"
            )
        plan.append((target_layers[name], [np.reshape(w, s) for w, s in zip(weights, shapes)]))
    for layer, weights in plan:
        layer.set_weights(weights)
    return len(plan)


def _unit_axis_removed(shape) -> tuple:
    # (k, 1, in, out) of a 2-D twin kernel compares equal to the Conv1D (k, in, out).
    shape = tuple(shape)
    return shape[:1] + shape[2:] if len(shape) == 4 and shape[1] == 1 else shape


def _leaf_layers(model) -> dict[str, object]:
    if isinstance(model, keras.Model):
        return keras_layers_by_name(model)
    return {
        layer.name: layer
        for layer in model.layers
        if not isinstance(layer, tf_keras.layers.InputLayer)
    }
