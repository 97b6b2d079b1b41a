"""Custom layers of the model zoo, registered under the package name "keras_ecgpe"."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import keras
from keras import ops

if TYPE_CHECKING:
    from typing import Any

    import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Adds the fixed sine/cosine position code of Vaswani et al. to a token sequence.

    The code has no weights, so a model trained on one window length runs on another. The
    first half of the feature axis carries sines, the second half cosines, at wavelengths
    from 2*pi to `max_wavelength` * 2*pi tokens. The table is computed from the static
    sequence length, so TFLite conversion folds it into a constant.

    Args:
        max_wavelength: longest wavelength of the code, in tokens.
        **kwargs: base layer arguments (`name`, `dtype`).

    Call arguments:
        inputs: `(batch, tokens, features)`.

    Returns:
        `inputs` plus the position code, same shape.

    Example:
    >>> layer = SinusoidalPositionEncoding()
    >>> tuple(layer(keras.ops.zeros((2, 64, 32))).shape)
    (2, 64, 32)
    """

    def __init__(self, max_wavelength: float = 10000.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        length = ops.shape(inputs)[1]
        depth = inputs.shape[-1]
        half_up, half_down = math.ceil(depth / 2), depth // 2
        positions = ops.cast(ops.arange(length), "float32")[:, None]
        # Frequencies fall geometrically over the feature axis, as in the original paper.
        exponents = ops.cast(ops.arange(half_up), "float32") / max(half_up, 1)
        frequencies = ops.power(self.max_wavelength, -exponents)[None, :]
        angles = positions * frequencies
        table = ops.concatenate([ops.sin(angles), ops.cos(angles[:, :half_down])], axis=-1)
        return inputs + ops.cast(table, inputs.dtype)[None, :, :]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
