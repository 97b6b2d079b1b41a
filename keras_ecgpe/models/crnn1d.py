"""CRNN-1D: a ResNet trunk followed by LSTM or GRU layers over its feature sequence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import concat_pool, limit_steps, recurrent_stack
from keras_ecgpe.models.resnet1d import resnet_trunk

if TYPE_CHECKING:
    from typing import Any


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class CRNN1D(ECGBackbone):
    """ResNet trunk (32-fold time reduction), recurrent layers, concat pooling.

    The trunk's sequence (64 steps for 2048 samples) is average-pooled down to at most
    `max_steps` steps (weight-free), so the export build (`unroll=True`) stays small.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        rnn_type: "lstm" or "gru".
        bidirectional: run each recurrent layer in both directions.
        units: hidden units per direction.
        num_layers: stacked recurrent layers.
        depth: ResNet depth of the trunk (18, 34, 50, 101, 152).
        width: channels of the trunk's first stage.
        kernel_size: taps of the trunk's block convolutions.
        max_steps: longest sequence the recurrent layers see.
        unroll: unroll the recurrent loops (the export build; same weights).
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, 2 * units * directions)`.

    Example:
    >>> CRNN1D(input_len=256, width=8, units=8).output_shape
    (None, 16)
    """

    VARIANTS = {
        f"crnn_{prefix}{rnn_type}": {"rnn_type": rnn_type, "bidirectional": bidirectional}
        for rnn_type in ("lstm", "gru")
        for prefix, bidirectional in (("", False), ("bi", True))
    }

    def __init__(
        self,
        input_len: int,
        num_leads: int = 12,
        rnn_type: str = "lstm",
        bidirectional: bool = False,
        units: int = 128,
        num_layers: int = 1,
        depth: int = 18,
        width: int = 64,
        kernel_size: int = 3,
        max_steps: int = 64,
        unroll: bool = False,
        **kwargs: Any,
    ):
        checks.choice("rnn_type", rnn_type, ("lstm", "gru"))
        checks.choice("bidirectional", bidirectional, (True, False))
        checks.positive_int("units", units)
        checks.positive_int("num_layers", num_layers)
        checks.positive_int("width", width)
        checks.positive_int("kernel_size", kernel_size)
        checks.positive_int("max_steps", max_steps)
        checks.choice("unroll", unroll, (True, False))
        inputs = make_input(input_len, num_leads)
        x = resnet_trunk(inputs, depth=depth, width=width, kernel_size=kernel_size)
        x = limit_steps(x, max_steps, name="steps")
        x = recurrent_stack(
            x,
            rnn_type=rnn_type,
            units=units,
            num_layers=num_layers,
            bidirectional=bidirectional,
            unroll=unroll,
            name="rnn",
        )
        features = concat_pool(x, name="pool")
        super().__init__(
            inputs,
            features,
            dict(
                input_len=input_len,
                num_leads=num_leads,
                rnn_type=rnn_type,
                bidirectional=bidirectional,
                units=units,
                num_layers=num_layers,
                depth=depth,
                width=width,
                kernel_size=kernel_size,
                max_steps=max_steps,
                unroll=unroll,
            ),
            **kwargs,
        )
