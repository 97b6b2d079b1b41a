"""ResNet-1D (He et al. 2016) over time: torchvision's layout with 1-D convolutions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import conv_bn_act

if TYPE_CHECKING:
    from typing import Any

# Blocks per stage of the standard depths.
RESNET_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


def basic_block(
    x: keras.KerasTensor, filters: int, kernel_size: int, strides: int, *, name: str
) -> keras.KerasTensor:
    """Two k-tap convolutions with an identity (or 1x1 projection) shortcut."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv_bn_act(x, filters, 1, strides=strides, activation=None, name=f"{name}_proj")
    y = conv_bn_act(x, filters, kernel_size, strides=strides, name=f"{name}_1")
    y = conv_bn_act(y, filters, kernel_size, activation=None, name=f"{name}_2")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def bottleneck_block(
    x: keras.KerasTensor, filters: int, kernel_size: int, strides: int, *, name: str
) -> keras.KerasTensor:
    """1x1 reduce, k-tap (strided) convolution, 1x1 expand to 4 x `filters`."""
    out_filters = 4 * filters
    shortcut = x
    if strides != 1 or x.shape[-1] != out_filters:
        shortcut = conv_bn_act(
            x, out_filters, 1, strides=strides, activation=None, name=f"{name}_proj"
        )
    y = conv_bn_act(x, filters, 1, name=f"{name}_1")
    y = conv_bn_act(y, filters, kernel_size, strides=strides, name=f"{name}_2")
    y = conv_bn_act(y, out_filters, 1, activation=None, name=f"{name}_3")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def resnet_trunk(
    x: keras.KerasTensor,
    *,
    depth: int,
    width: int,
    kernel_size: int,
    stem_kernel_size: int = 7,
    name: str = "resnet",
) -> keras.KerasTensor:
    """Stem (stride 2 conv + stride 2 max-pool) and four stages; time shrinks 32-fold.

    Returns the feature sequence `(batch, ceil(time / 32), 8 * width * expansion)`, the
    input of the attention, recurrent and transformer variants.
    """
    checks.choice("depth", depth, RESNET_DEPTHS)
    block_type, stage_depths = RESNET_DEPTHS[depth]
    block = basic_block if block_type == "basic" else bottleneck_block
    x = conv_bn_act(x, width, stem_kernel_size, strides=2, name=f"{name}_stem")
    x = keras.layers.MaxPooling1D(3, strides=2, padding="same", name=f"{name}_stem_pool")(x)
    for stage, blocks in enumerate(stage_depths):
        filters = width * 2**stage
        for index in range(blocks):
            strides = 2 if stage > 0 and index == 0 else 1
            x = block(
                x, filters, kernel_size, strides, name=f"{name}_stage{stage + 1}_block{index + 1}"
            )
    return x


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class ResNet1D(ECGBackbone):
    """ResNet-1D backbone, 18 to 152 layers, ending in global average pooling over time.

    Basic blocks (18, 34) or bottleneck blocks (50, 101, 152) in four stages of `width`,
    2x, 4x and 8x channels; time is reduced 32-fold before pooling. With `width=64` and
    `kernel_size=3` the 18-layer net matches the seed's PyTorch ResNet-1D-18.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        depth: 18, 34, 50, 101 or 152.
        width: channels of the stem and the first stage.
        kernel_size: taps of the block convolutions.
        stem_kernel_size: taps of the stem convolution.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, 8 * width * expansion)`.

    Example:
    >>> backbone = ResNet1D(input_len=256, depth=18, width=8)
    >>> backbone.output_shape
    (None, 64)
    """

    VARIANTS = {f"resnet1d{depth}": {"depth": depth} for depth in (18, 34, 50, 101, 152)}
    QAT_SUPPORTED = True

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        depth: int = 18,
        width: int = 64,
        kernel_size: int = 3,
        stem_kernel_size: int = 7,
        **kwargs: Any,
    ):
        checks.positive_int("width", width)
        checks.positive_int("kernel_size", kernel_size)
        checks.positive_int("stem_kernel_size", stem_kernel_size)
        inputs = make_input(input_len, num_leads)
        x = resnet_trunk(
            inputs,
            depth=depth,
            width=width,
            kernel_size=kernel_size,
            stem_kernel_size=stem_kernel_size,
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
                stem_kernel_size=stem_kernel_size,
            ),
            **kwargs,
        )
