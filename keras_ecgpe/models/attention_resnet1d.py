"""Attention ResNet-1D: a ResNet trunk followed by multi-head self-attention over time.

The study's best-known variant. The reference code hard-coded its heads; here the number
of heads and the reduction of the attended sequence (mean or flatten) are arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.layers import SinusoidalPositionEncoding
from keras_ecgpe.models.resnet1d import resnet_trunk

if TYPE_CHECKING:
    from typing import Any


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class AttentionResNet1D(ECGBackbone):
    """ResNet trunk, then `x = LayerNorm(x + MHA(x, x))` over the trunk's time steps.

    The trunk reduces time 32-fold (64 steps for 2048 samples), so attention is over a
    short sequence of learned features, not raw samples. A sine position code is added
    before attention so the heads can tell early from late beats. Reduction "mean" averages
    over time (any window length); "flatten" keeps every step (features grow with time and
    the model is tied to its `input_len`).

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        depth: ResNet depth of the trunk (18, 34, 50, 101, 152).
        width: channels of the trunk's first stage.
        kernel_size: taps of the trunk's block convolutions.
        num_heads: attention heads; must divide the trunk's output channels.
        reduction: "mean" or "flatten".
        dropout: attention dropout.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, channels)` for "mean" or
        `(batch, steps * channels)` for "flatten".

    Example:
    >>> AttentionResNet1D(input_len=256, width=8, num_heads=4).output_shape
    (None, 64)
    """

    VARIANTS = {
        **{f"attresnet{depth}": {"depth": depth} for depth in (18, 34, 50)},
        "attresnet18_flatten": {"depth": 18, "reduction": "flatten"},
    }

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        depth: int = 18,
        width: int = 64,
        kernel_size: int = 3,
        num_heads: int = 8,
        reduction: str = "mean",
        dropout: float = 0.1,
        **kwargs: Any,
    ):
        checks.positive_int("width", width)
        checks.positive_int("kernel_size", kernel_size)
        checks.positive_int("num_heads", num_heads)
        checks.choice("reduction", reduction, ("mean", "flatten"))
        checks.fraction("dropout", dropout)
        inputs = make_input(input_len, num_leads)
        x = resnet_trunk(inputs, depth=depth, width=width, kernel_size=kernel_size)
        channels = x.shape[-1]
        if channels % num_heads:
            raise ConfigError(
                f"`num_heads` must divide the trunk's {channels} channels. "
                f"Received: num_heads={num_heads!r}"
            )
        y = SinusoidalPositionEncoding(name="attention_position")(x)
        y = keras.layers.MultiHeadAttention(
            num_heads, channels // num_heads, dropout=dropout, name="attention_mha"
        )(y, y)
        x = keras.layers.Add(name="attention_add")([x, y])
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_ln")(x)
        if reduction == "mean":
            features = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        else:
            features = keras.layers.Flatten(name="flatten")(x)
        super().__init__(
            inputs,
            features,
            dict(
                input_len=input_len,
                num_leads=num_leads,
                depth=depth,
                width=width,
                kernel_size=kernel_size,
                num_heads=num_heads,
                reduction=reduction,
                dropout=dropout,
            ),
            **kwargs,
        )
