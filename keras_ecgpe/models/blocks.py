"""Small building blocks shared by several families.

Each block is a function taking a tensor and a `name` prefix and returning a tensor; every
layer it creates is named `<prefix>_<role>`, so weights can be matched by name when a
backbone is transferred, frozen or inspected.
"""

from __future__ import annotations

import keras

from keras_ecgpe.models.layers import SinusoidalPositionEncoding


def conv_bn_act(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int,
    *,
    name: str,
    strides: int = 1,
    activation: str = "relu",
    batch_norm: bool = True,
    zero_gamma: bool = False,
) -> keras.KerasTensor:
    """Conv1D ('same' padding) -> optional BatchNorm -> optional activation.

    The convolution has no bias when a BatchNorm follows (the BN offset replaces it).
    `zero_gamma` starts the BN scale at zero, so a residual branch begins as identity.
    """
    x = keras.layers.Conv1D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=not batch_norm,
        name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(
            epsilon=1e-5,
            momentum=0.9,
            name=f"{name}_bn",
            gamma_initializer="zeros" if zero_gamma else "ones",
        )(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def concat_pool(x: keras.KerasTensor, *, name: str) -> keras.KerasTensor:
    """Concatenates global average and global max over time: `(b, t, c) -> (b, 2c)`."""
    mean = keras.layers.GlobalAveragePooling1D(name=f"{name}_avg")(x)
    peak = keras.layers.GlobalMaxPooling1D(name=f"{name}_max")(x)
    return keras.layers.Concatenate(name=f"{name}_concat")([mean, peak])


def limit_steps(x: keras.KerasTensor, max_steps: int, *, name: str) -> keras.KerasTensor:
    """Average-pools over time until the sequence has at most `max_steps` steps.

    Weight-free, so the same weights serve every window length; recurrent layers after it
    can be unrolled for export (docs/background.md, "TFLite conversion traps": unroll over
    <= 64 steps).
    """
    steps = x.shape[1]
    if steps is None or steps <= max_steps:
        return x
    pool = -(-steps // max_steps)
    return keras.layers.AveragePooling1D(pool, strides=pool, padding="same", name=f"{name}_pool")(x)


def recurrent_stack(
    x: keras.KerasTensor,
    *,
    rnn_type: str,
    units: int,
    num_layers: int,
    bidirectional: bool,
    unroll: bool,
    name: str,
) -> keras.KerasTensor:
    """Stacked LSTM/GRU returning full sequences: `(b, t, c) -> (b, t, units * dirs)`."""
    layer_class = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[rnn_type]
    for index in range(1, num_layers + 1):
        layer_name = f"{name}_{rnn_type}{index}"
        cell = layer_class(units, return_sequences=True, unroll=unroll, name=layer_name)
        if bidirectional:
            cell = keras.layers.Bidirectional(cell, name=f"{layer_name}_bidir")
        x = cell(x)
    return x


def transformer_encoder(
    x: keras.KerasTensor,
    *,
    num_layers: int,
    num_heads: int,
    mlp_dim: int,
    dropout: float,
    name: str,
) -> keras.KerasTensor:
    """Sine position code, then pre-norm encoder layers, then a final LayerNorm.

    Each layer is `x + MHA(LN(x))` then `x + MLP(LN(x))` (GELU); `key_dim` is the width
    divided by `num_heads`, so the caller must pass a width divisible by `num_heads`.
    """
    width = x.shape[-1]
    x = SinusoidalPositionEncoding(name=f"{name}_position")(x)
    for index in range(1, num_layers + 1):
        prefix = f"{name}_layer{index}"
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_ln1")(x)
        y = keras.layers.MultiHeadAttention(
            num_heads, width // num_heads, dropout=dropout, name=f"{prefix}_mha"
        )(y, y)
        y = keras.layers.Dropout(dropout, name=f"{prefix}_drop1")(y)
        x = keras.layers.Add(name=f"{prefix}_add1")([x, y])
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{prefix}_ln2")(x)
        y = keras.layers.Dense(mlp_dim, activation="gelu", name=f"{prefix}_mlp1")(y)
        y = keras.layers.Dense(width, name=f"{prefix}_mlp2")(y)
        y = keras.layers.Dropout(dropout, name=f"{prefix}_drop2")(y)
        x = keras.layers.Add(name=f"{prefix}_add2")([x, y])
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln")(x)
