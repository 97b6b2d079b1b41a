"""xresnet1d: the fastai "bag of tricks" ResNet in 1-D, a PTB-XL benchmark leader.

Differences from `ResNet1D` (He et al. 2019, "Bag of Tricks"; Strodthoff et al. 2021):
a three-convolution stem, the stride on the k-tap convolution of bottlenecks, shortcuts
that average-pool before a 1x1 projection (no information skipped by a strided 1x1), the
last BatchNorm of each residual branch starting at zero, and concat (avg + max) pooling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import concat_pool, conv_bn_act

if TYPE_CHECKING:
    from typing import Any

XRESNET_DEPTHS = {
    18: (1, (2, 2, 2, 2)),
    34: (1, (3, 4, 6, 3)),
    50: (4, (3, 4, 6, 3)),
    101: (4, (3, 4, 23, 3)),
}


def xresnet_block(
    x: keras.KerasTensor, filters: int, kernel_size: int, strides: int, expansion: int, *, name: str
) -> keras.KerasTensor:
    """Residual block with an avg-pool + 1x1 shortcut and a zero-initialised last BN."""
    out_filters = filters * expansion
    shortcut = x
    if strides != 1:
        shortcut = keras.layers.AveragePooling1D(
            strides, strides=strides, padding="same", name=f"{name}_idpool"
        )(shortcut)
    if x.shape[-1] != out_filters:
        shortcut = conv_bn_act(shortcut, out_filters, 1, activation=None, name=f"{name}_idconv")
    if expansion == 1:
        y = conv_bn_act(x, filters, kernel_size, strides=strides, name=f"{name}_1")
        y = conv_bn_act(y, filters, kernel_size, activation=None, zero_gamma=True, name=f"{name}_2")
    else:
        y = conv_bn_act(x, filters, 1, name=f"{name}_1")
        y = conv_bn_act(y, filters, kernel_size, strides=strides, name=f"{name}_2")
        y = conv_bn_act(y, out_filters, 1, activation=None, zero_gamma=True, name=f"{name}_3")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class XResNet1D(ECGBackbone):
    """xresnet1d backbone (18, 34, 50 or 101 layers) with concat pooling.

    Stem: three `stem_kernel_size` convolutions (width/2, width/2, width channels, the
    first with stride 2) and a stride-2 max-pool; then four stages of `width` to 8x
    channels (x4 in bottleneck nets); time shrinks 32-fold.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        depth: 18, 34, 50 or 101.
        width: channels of the first stage (64 in the benchmark).
        kernel_size: taps of the block convolutions (5 in the benchmark).
        stem_kernel_size: taps of the stem convolutions.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, 2 * 8 * width * expansion)`.

    Example:
    >>> XResNet1D(input_len=256, depth=18, width=8).output_shape
    (None, 128)
    """

    VARIANTS = {f"xresnet1d{depth}": {"depth": depth} for depth in (18, 34, 50, 101)}
    QAT_SUPPORTED = True

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        depth: int = 101,
        width: int = 64,
        kernel_size: int = 5,
        stem_kernel_size: int = 5,
        **kwargs: Any,
    ):
        checks.choice("depth", depth, XRESNET_DEPTHS)
        checks.positive_int("width", width)
        checks.positive_int("kernel_size", kernel_size)
        checks.positive_int("stem_kernel_size", stem_kernel_size)
        expansion, stage_depths = XRESNET_DEPTHS[depth]
        inputs = make_input(input_len, num_leads)
        stem_widths = (max(width // 2, 1), max(width // 2, 1), width)
        x = inputs
        for index, filters in enumerate(stem_widths):
            x = conv_bn_act(
                x,
                filters,
                stem_kernel_size,
                strides=2 if index == 0 else 1,
                name=f"stem{index + 1}",
            )
        x = keras.layers.MaxPooling1D(3, strides=2, padding="same", name="stem_pool")(x)
        for stage, blocks in enumerate(stage_depths):
            for index in range(blocks):
                strides = 2 if stage > 0 and index == 0 else 1
                x = xresnet_block(
                    x,
                    width * 2**stage,
                    kernel_size,
                    strides,
                    expansion,
                    name=f"stage{stage + 1}_block{index + 1}",
                )
        features = concat_pool(x, name="pool")
        super().__init__(
            inputs,
            features,
            dict(
                input_len=input_len,
                num_leads=num_leads,
                depth=depth,
                width=width,
                kernel_size=kernel_size,
                stem_kernel_size=stem_kernel_size,
            ),
            **kwargs,
        )
