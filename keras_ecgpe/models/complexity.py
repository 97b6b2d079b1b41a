"""Parameter and multiply-accumulate counts of a model, per input window.

MACs are computed analytically from layer shapes for the layers that dominate the cost:
Conv1D, DepthwiseConv1D, Dense, LSTM, GRU (also inside Bidirectional) and
MultiHeadAttention (projections and the two attention products). Normalisation,
pooling, activations and additions are not counted: they are a few operations per
activation, negligible next to the above, and BatchNorm folds into the preceding
convolution at export.
"""

from __future__ import annotations

import dataclasses
import math

import keras


@dataclasses.dataclass(frozen=True)
class ModelComplexity:
    """Size and cost of a model for one window (batch 1).

    Attributes:
        parameters: all weights, trainable or not (BN statistics included).
        trainable_parameters: weights updated by training.
        macs: multiply-accumulates of one forward pass.
        macs_by_layer: MACs per counted layer, keyed by the layer's path ("backbone/...").
    """

    parameters: int
    trainable_parameters: int
    macs: int
    macs_by_layer: dict[str, int]


def model_complexity(model: keras.Model) -> ModelComplexity:
    """Counts parameters and multiply-accumulates of a built model per window.

    Args:
        model: a functional Keras model with static input shape (every zoo model is).

    Returns:
        A `ModelComplexity`.

    Example:
    >>> from keras_ecgpe.models import build_model
    >>> model = build_model("resnet1d18", input_len=2048, num_classes=1)
    >>> model_complexity(model).macs
    353632768
    """
    by_layer: dict[str, int] = {}
    _walk(model, "", by_layer)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return ModelComplexity(
        parameters=int(model.count_params()),
        trainable_parameters=int(trainable),
        macs=int(sum(by_layer.values())),
        macs_by_layer=by_layer,
    )


def _walk(model, prefix, by_layer):
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            _walk(layer, f"{path}/", by_layer)
            continue
        macs = layer_macs(layer)
        if macs:
            by_layer[path] = macs


def layer_macs(layer: keras.layers.Layer) -> int:
    """MACs of one call of a layer at batch 1, from its input/output shapes (0 if not counted)."""
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.DepthwiseConv1D)):
        steps = layer.output.shape[1]
        return steps * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.Dense):
        positions = math.prod(_first_input(layer).shape[1:-1])
        return positions * math.prod(layer.kernel.shape)
    if isinstance(layer, keras.layers.Bidirectional):
        steps, features = _first_input(layer).shape[1:]
        return sum(
            _recurrent_macs(inner, steps, features)
            for inner in (layer.forward_layer, layer.backward_layer)
        )
    if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
        steps, features = _first_input(layer).shape[1:]
        return _recurrent_macs(layer, steps, features)
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return _attention_macs(layer)
    return 0


def _first_input(layer):
    inputs = layer.input
    return inputs[0] if isinstance(inputs, (list, tuple)) else inputs


def _recurrent_macs(layer, steps, features):
    gates = 4 if isinstance(layer, keras.layers.LSTM) else 3
    return steps * gates * layer.units * (features + layer.units)


def _attention_macs(layer):
    # Self-attention: queries and keys come from the same sequence (every zoo use).
    query = _first_input(layer)
    steps = query.shape[1]
    heads, key_dim = layer.num_heads, layer.key_dim
    value_dim = layer.value_dim or key_dim
    width = query.shape[-1]
    projections = steps * width * heads * (2 * key_dim + value_dim)
    products = heads * steps * steps * (key_dim + value_dim)
    output = steps * heads * value_dim * width
    return projections + products + output
