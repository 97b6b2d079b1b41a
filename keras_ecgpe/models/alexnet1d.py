"""AlexNet-1D (Krizhevsky et al. 2012): torchvision's layout with 1-D convolutions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import conv_bn_act

if TYPE_CHECKING:
    from typing import Any

# (channels as a multiple of width, taps, stride, max-pool after) per convolution.
_LAYERS = ((1, 11, 4, True), (3, 5, 1, True), (6, 3, 1, False), (4, 3, 1, False), (4, 3, 1, True))


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class AlexNet1D(ECGBackbone):
    """AlexNet-1D backbone: five ReLU convolutions, three max-pools, two dense layers.

    Channels `width` x (1, 3, 6, 4, 4) (64, 192, 384, 256, 256 at the default), a stride-4
    first convolution and stride-2 max-pools over time; then global average pooling over
    time (in place of torchvision's fixed 6-step adaptive pool, so any window length works)
    and `fc_layers` dense layers of `fc_units` with dropout.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        width: channels of the first convolution.
        fc_units: width of the dense layers.
        fc_layers: number of dense layers after pooling.
        dropout: dropout before each dense layer.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, fc_units or 4 * width)`.

    Example:
    >>> AlexNet1D(input_len=256, width=8, fc_units=32).output_shape
    (None, 32)
    """

    VARIANTS = {"alexnet1d": {}}
    QAT_SUPPORTED = True

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        width: int = 64,
        fc_units: int = 1024,
        fc_layers: int = 2,
        dropout: float = 0.5,
        **kwargs: Any,
    ):
        checks.positive_int("width", width)
        checks.positive_int("fc_layers", fc_layers, allow_zero=True)
        if fc_layers:
            checks.positive_int("fc_units", fc_units)
        checks.fraction("dropout", dropout)
        inputs = make_input(input_len, num_leads)
        x = inputs
        for index, (multiplier, taps, strides, pool) in enumerate(_LAYERS, start=1):
            x = conv_bn_act(
                x, width * multiplier, taps, strides=strides, batch_norm=False, name=f"conv{index}"
            )
            if pool:
                x = keras.layers.MaxPooling1D(
                    3, strides=2, padding="same", name=f"conv{index}_pool"
                )(x)
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        for index in range(1, fc_layers + 1):
            x = keras.layers.Dropout(dropout, name=f"fc{index}_dropout")(x)
            x = keras.layers.Dense(fc_units, activation="relu", name=f"fc{index}")(x)
        super().__init__(
            inputs,
            x,
            dict(
                input_len=input_len,
                num_leads=num_leads,
                width=width,
                fc_units=fc_units,
                fc_layers=fc_layers,
                dropout=dropout,
            ),
            **kwargs,
        )
