"""Inception1D (InceptionTime, Fawaz et al. 2020), a PTB-XL benchmark leader.

Strodthoff et al. 2021's configuration: six inception modules of four branches (a 1x1
bottleneck feeding 39-, 19- and 9-tap convolutions, and a max-pool + 1x1 branch), a
residual shortcut every three modules, no time reduction, concat (avg + max) pooling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import concat_pool, conv_bn_act

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


def inception_module(
    x: keras.KerasTensor, filters: int, bottleneck: int, kernel_sizes: Sequence[int], *, name: str
) -> keras.KerasTensor:
    """Parallel convolutions of several lengths; output `filters * (len(kernel_sizes) + 1)`."""
    y = x
    if bottleneck and x.shape[-1] > 1:
        y = keras.layers.Conv1D(
            bottleneck, 1, padding="same", use_bias=False, name=f"{name}_bottleneck"
        )(x)
    branches = [
        keras.layers.Conv1D(
            filters, size, padding="same", use_bias=False, name=f"{name}_conv{size}"
        )(y)
        for size in kernel_sizes
    ]
    pooled = keras.layers.MaxPooling1D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branches.append(
        keras.layers.Conv1D(filters, 1, padding="same", use_bias=False, name=f"{name}_poolconv")(
            pooled
        )
    )
    y = keras.layers.Concatenate(name=f"{name}_concat")(branches)
    y = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(y)
    return keras.layers.Activation("relu", name=f"{name}_relu")(y)


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class Inception1D(ECGBackbone):
    """Inception1D backbone: `depth` inception modules with residual shortcuts.

    Kernel sizes are `kernel_size - 1`, half and a quarter of it, rounded down to odd
    (39, 19, 9 for 40). Every third module adds a 1x1-convolution + BN shortcut from the
    input of the group of three, followed by ReLU.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        depth: number of inception modules (a multiple of 3 uses every shortcut).
        width: filters per branch (`nb_filters`; module output is 4 x width).
        bottleneck: channels of the 1x1 bottleneck (0 for none).
        kernel_size: longest branch kernel + 1.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, 8 * width)`.

    Example:
    >>> Inception1D(input_len=256, width=4, bottleneck=4, depth=3).output_shape
    (None, 32)
    """

    VARIANTS = {"inception1d": {}}
    QAT_SUPPORTED = True

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        depth: int = 6,
        width: int = 32,
        bottleneck: int = 32,
        kernel_size: int = 40,
        **kwargs: Any,
    ):
        checks.positive_int("depth", depth)
        checks.positive_int("width", width)
        checks.positive_int("bottleneck", bottleneck, allow_zero=True)
        checks.positive_int("kernel_size", kernel_size)
        if kernel_size < 8:
            raise ConfigError(
                f"`kernel_size` must be at least 8. Received: kernel_size={kernel_size!r}"
            )
        kernel_sizes = tuple(_odd(kernel_size // 2**i) for i in range(3))
        inputs = make_input(input_len, num_leads)
        x = residual = inputs
        for index in range(1, depth + 1):
            x = inception_module(x, width, bottleneck, kernel_sizes, name=f"module{index}")
            if index % 3 == 0:
                shortcut = conv_bn_act(
                    residual, x.shape[-1], 1, activation=None, name=f"shortcut{index // 3}"
                )
                x = keras.layers.Add(name=f"shortcut{index // 3}_add")([shortcut, x])
                x = residual = keras.layers.Activation("relu", name=f"shortcut{index // 3}_relu")(x)
        features = concat_pool(x, name="pool")
        super().__init__(
            inputs,
            features,
            dict(
                input_len=input_len,
                num_leads=num_leads,
                depth=depth,
                width=width,
                bottleneck=bottleneck,
                kernel_size=kernel_size,
            ),
            **kwargs,
        )


def _odd(size: int) -> int:
    """The largest odd number not above `size` (40 -> 39, 20 -> 19, 10 -> 9)."""
    return size if size % 2 else size - 1
