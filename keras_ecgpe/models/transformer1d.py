"""Transformer encoder over ECG tokens made by a convolutional or a patch embedding.

The reference code attended over 2048 raw samples (quadratic cost, one lead vector per
token); here the embedding first turns the window into tens of tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import conv_bn_act, transformer_encoder

if TYPE_CHECKING:
    from typing import Any


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class Transformer1D(ECGBackbone):
    """Token embedding, sine position code, pre-norm encoder layers, mean pooling.

    Embeddings: "conv" is `stem_layers` stride-2 convolutions (BN, ReLU; the last one
    projects to `width`), time shrinking 2**stem_layers-fold; "patch" cuts the window into
    non-overlapping patches of `patch_size` samples and projects each linearly (a strided
    convolution), as in ViT. Both give 64 tokens for 2048 samples at the defaults.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        embedding: "conv" or "patch".
        width: token width (model dimension); must be divisible by `num_heads`.
        num_layers: encoder layers.
        num_heads: attention heads.
        mlp_dim: hidden width of each encoder layer's MLP.
        dropout: dropout in attention and after each residual branch.
        patch_size: samples per token of the patch embedding.
        stem_layers: stride-2 convolutions of the conv embedding.
        stem_kernel_size: taps of the conv embedding.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, width)`.

    Example:
    >>> Transformer1D(input_len=256, width=16, num_heads=2, mlp_dim=32).output_shape
    (None, 16)
    """

    VARIANTS = {"transformer": {"embedding": "conv"}, "transformer_patch": {"embedding": "patch"}}

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        embedding: str = "conv",
        width: int = 128,
        num_layers: int = 4,
        num_heads: int = 8,
        mlp_dim: int = 512,
        dropout: float = 0.1,
        patch_size: int = 32,
        stem_layers: int = 5,
        stem_kernel_size: int = 7,
        **kwargs: Any,
    ):
        checks.choice("embedding", embedding, ("conv", "patch"))
        checks.positive_int("width", width)
        checks.positive_int("num_layers", num_layers)
        checks.positive_int("num_heads", num_heads)
        checks.positive_int("mlp_dim", mlp_dim)
        checks.fraction("dropout", dropout)
        checks.positive_int("patch_size", patch_size)
        checks.positive_int("stem_layers", stem_layers)
        checks.positive_int("stem_kernel_size", stem_kernel_size)
        if width % num_heads:
            raise ConfigError(
                f"`num_heads` must divide `width`={width}. Received: num_heads={num_heads!r}"
            )
        inputs = make_input(input_len, num_leads)
        if embedding == "patch":
            if patch_size > input_len:
                raise ConfigError(
                    f"`patch_size` must not exceed `input_len`={input_len}. "
                    f"Received: patch_size={patch_size!r}"
                )
            x = keras.layers.Conv1D(
                width, patch_size, strides=patch_size, padding="valid", name="patch_embedding"
            )(inputs)
        else:
            x = inputs
            for index in range(1, stem_layers + 1):
                x = conv_bn_act(
                    x,
                    width if index == stem_layers else max(width // 2, 1),
                    stem_kernel_size,
                    strides=2,
                    name=f"stem{index}",
                )
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
                embedding=embedding,
                width=width,
                num_layers=num_layers,
                num_heads=num_heads,
                mlp_dim=mlp_dim,
                dropout=dropout,
                patch_size=patch_size,
                stem_layers=stem_layers,
                stem_kernel_size=stem_kernel_size,
            ),
            **kwargs,
        )
