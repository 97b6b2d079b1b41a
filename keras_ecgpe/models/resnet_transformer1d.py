"""ResNet + transformer: a ResNet trunk's feature sequence fed to a transformer encoder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import transformer_encoder
from keras_ecgpe.models.resnet1d import resnet_trunk

if TYPE_CHECKING:
    from typing import Any


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class ResNetTransformer1D(ECGBackbone):
    """ResNet trunk (32-fold time reduction), 1x1 projection, encoder layers, mean pooling.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        depth: ResNet depth of the trunk (18, 34, 50, 101, 152).
        width: channels of the trunk's first stage.
        kernel_size: taps of the trunk's block convolutions.
        embed_dim: token width of the encoder; must be divisible by `num_heads`.
        num_layers: encoder layers.
        num_heads: attention heads.
        mlp_dim: hidden width of each encoder layer's MLP.
        dropout: dropout in attention and after each residual branch.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, embed_dim)`.

    Example:
    >>> ResNetTransformer1D(input_len=256, width=8, embed_dim=16, num_heads=2,
    ...                     mlp_dim=32).output_shape
    (None, 16)
    """

    VARIANTS = {"resnet_transformer": {}}

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        depth: int = 18,
        width: int = 64,
        kernel_size: int = 3,
        embed_dim: int = 256,
        num_layers: int = 2,
        num_heads: int = 8,
        mlp_dim: int = 512,
        dropout: float = 0.1,
        **kwargs: Any,
    ):
        checks.positive_int("width", width)
        checks.positive_int("kernel_size", kernel_size)
        checks.positive_int("embed_dim", embed_dim)
        checks.positive_int("num_layers", num_layers)
        checks.positive_int("num_heads", num_heads)
        checks.positive_int("mlp_dim", mlp_dim)
        checks.fraction("dropout", dropout)
        if embed_dim % num_heads:
            raise ConfigError(
                f"`num_heads` must divide `embed_dim`={embed_dim}. "
                f"Received: num_heads={num_heads!r}"
            )
        inputs = make_input(input_len, num_leads)
        x = resnet_trunk(inputs, depth=depth, width=width, kernel_size=kernel_size)
        x = keras.layers.Dense(embed_dim, name="projection")(x)
        x = transformer_encoder(
            x,
            num_layers=num_layers,
            num_heads=num_heads,
            mlp_dim=mlp_dim,
            dropout=dropout,
            name="encoder",
        )
        features = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        super().__init__(
            inputs,
            features,
            dict(
                input_len=input_len,
                num_leads=num_leads,
                depth=depth,
                width=width,
                kernel_size=kernel_size,
                embed_dim=embed_dim,
                num_layers=num_layers,
                num_heads=num_heads,
                mlp_dim=mlp_dim,
                dropout=dropout,
            ),
            **kwargs,
        )
