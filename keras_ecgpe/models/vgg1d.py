"""VGG-1D (Simonyan & Zisserman 2015) with pooling over time only.

The reference PyTorch port averaged its 512 channels down to 7 (pooling over the wrong
axis); here every pooling layer acts on time and the channels reach the classifier intact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import conv_bn_act

if TYPE_CHECKING:
    from typing import Any

# Convolutions per stage (channels width, 2x, 4x, 8x, 8x); each stage ends in a max-pool.
VGG_DEPTHS = {
    11: (1, 1, 2, 2, 2),
    13: (2, 2, 2, 2, 2),
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}
_STAGE_MULTIPLIERS = (1, 2, 4, 8, 8)


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class VGG1D(ECGBackbone):
    """VGG-1D backbone: configurations A (11), B (13), D (16), E (19), with or without BN.

    Five stages of `kernel_size`-tap convolutions, each followed by a stride-2 max-pool over
    time (32-fold reduction), then global average pooling over time and `fc_layers` dense
    layers of `fc_units` with ReLU and dropout (VGG's classifier minus its last layer).

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        depth: 11, 13, 16 or 19.
        batch_norm: BatchNorm after every convolution.
        width: channels of the first stage (64 in VGG).
        kernel_size: taps of every convolution.
        fc_units: width of the dense layers (0 with `fc_layers=0` for none).
        fc_layers: number of dense layers after pooling.
        dropout: dropout after each dense layer.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, fc_units or 8 * width)`.

    Example:
    >>> VGG1D(input_len=256, depth=11, width=8, fc_units=32).output_shape
    (None, 32)
    """

    VARIANTS = {
        f"vgg{depth}{suffix}": {"depth": depth, "batch_norm": batch_norm}
        for depth in (11, 13, 16, 19)
        for suffix, batch_norm in (("", False), ("_bn", True))
    }
    QAT_SUPPORTED = True

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        depth: int = 16,
        batch_norm: bool = False,
        width: int = 64,
        kernel_size: int = 3,
        fc_units: int = 512,
        fc_layers: int = 2,
        dropout: float = 0.5,
        **kwargs: Any,
    ):
        checks.choice("depth", depth, VGG_DEPTHS)
        checks.choice("batch_norm", batch_norm, (True, False))
        checks.positive_int("width", width)
        checks.positive_int("kernel_size", kernel_size)
        checks.positive_int("fc_layers", fc_layers, allow_zero=True)
        if fc_layers:
            checks.positive_int("fc_units", fc_units)
        checks.fraction("dropout", dropout)
        inputs = make_input(input_len, num_leads)
        x = inputs
        for stage, (convs, multiplier) in enumerate(zip(VGG_DEPTHS[depth], _STAGE_MULTIPLIERS)):
            for index in range(convs):
                x = conv_bn_act(
                    x,
                    width * multiplier,
                    kernel_size,
                    batch_norm=batch_norm,
                    name=f"stage{stage + 1}_conv{index + 1}",
                )
            x = keras.layers.MaxPooling1D(2, padding="same", name=f"stage{stage + 1}_pool")(x)
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        for index in range(1, fc_layers + 1):
            x = keras.layers.Dense(fc_units, activation="relu", name=f"fc{index}")(x)
            x = keras.layers.Dropout(dropout, name=f"fc{index}_dropout")(x)
        super().__init__(
            inputs,
            x,
            dict(
                input_len=input_len,
                num_leads=num_leads,
                depth=depth,
                batch_norm=batch_norm,
                width=width,
                kernel_size=kernel_size,
                fc_units=fc_units,
                fc_layers=fc_layers,
                dropout=dropout,
            ),
            **kwargs,
        )
