"""DS-CNN-1D: a depthwise-separable 1-D CNN sized for microcontrollers (TFLite Micro).

The MobileNet recipe (Howard et al. 2017) in one dimension: every block is a depthwise
convolution over time (one filter per channel) and a pointwise (1-tap) convolution that
mixes channels, each followed by BatchNorm (folded into the convolution at export) and
ReLU. A separable block costs `k + c_out` multiplies per input channel and step instead of
a full convolution's `k * c_out`, so the default build has about 40 thousand weights
(about 70 KB as int8) and a tensor arena of well under 256 KB in TFLite Micro for a
12-lead 10-s window at 250 Hz (docs/micro.md has the measured figures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import conv_bn_act

if TYPE_CHECKING:
    from typing import Any

# (channels as a multiple of width, stride of the depthwise convolution) per block.
_BLOCKS = ((2, 2), (4, 2), (4, 1), (8, 2), (8, 1))


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class DSCNN1D(ECGBackbone):
    """DS-CNN-1D backbone: a strided stem, depthwise-separable blocks, global average pool.

    A stride-2 convolution of `width` channels and `stem_kernel` taps, then five stages
    (depthwise `kernel_size` taps with strides 2, 2, 1, 2, 1; pointwise to `width` x 2, 4,
    4, 8, 8 channels), each half BatchNorm + ReLU, then global average pooling over time.
    Total downsampling 16, so the last block sees a 10-s window at 250 Hz as 157 steps.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        width: channels of the stem (the blocks are multiples of it).
        kernel_size: taps of every depthwise convolution.
        stem_kernel: taps of the stem convolution.
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, 8 * width)`.

    Example:
    >>> DSCNN1D(input_len=256, width=4).output_shape
    (None, 32)
    """

    VARIANTS = {"dscnn1d": {}}
    QAT_SUPPORTED = False  # the QAT twin (export/qat/twin.py) has no DepthwiseConv1D

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        width: int = 16,
        kernel_size: int = 9,
        stem_kernel: int = 7,
        **kwargs: Any,
    ):
        checks.positive_int("width", width)
        checks.positive_int("kernel_size", kernel_size)
        checks.positive_int("stem_kernel", stem_kernel)
        inputs = make_input(input_len, num_leads)
        x = conv_bn_act(inputs, width, stem_kernel, strides=2, name="dscnn_stem")
        for index, (multiplier, strides) in enumerate(_BLOCKS, start=1):
            name = f"dscnn_stage{index}"
            x = keras.layers.DepthwiseConv1D(
                kernel_size, strides=strides, padding="same", use_bias=False, name=f"{name}_dw"
            )(x)
            x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_dw_bn")(x)
            x = keras.layers.Activation("relu", name=f"{name}_dw_relu")(x)
            x = conv_bn_act(x, width * multiplier, 1, name=f"{name}_pw")
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        super().__init__(
            inputs,
            x,
            dict(
                input_len=input_len,
                num_leads=num_leads,
                width=width,
                kernel_size=kernel_size,
                stem_kernel=stem_kernel,
            ),
            **kwargs,
        )
