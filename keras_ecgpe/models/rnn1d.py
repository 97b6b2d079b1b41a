"""Recurrent backbone: a strided convolutional stem, then LSTM or GRU layers.

Recurrent layers over 2048 raw samples are slow to train and cannot be unrolled for
export; the stem shrinks time first (32-fold by default) and a weight-free pooling caps
the sequence at `max_steps`, so `unroll=True` (the export build) stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.models import checks
from keras_ecgpe.models.backbone import ECGBackbone, make_input
from keras_ecgpe.models.blocks import concat_pool, conv_bn_act, limit_steps, recurrent_stack

if TYPE_CHECKING:
    from typing import Any


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class RNN1D(ECGBackbone):
    """LSTM/GRU backbone, uni- or bidirectional, over a downsampled sequence.

    Stem: `stem_layers` convolutions of `width` channels, `stem_kernel_size` taps, stride
    2, BN and ReLU; then average pooling down to at most `max_steps` steps; then
    `num_layers` recurrent layers of `units` (per direction) returning sequences; then
    concat (mean + max) pooling over time.

    Args:
        input_len: window length in samples.
        num_leads: number of leads (channels), 12 by default.
        rnn_type: "lstm" or "gru".
        bidirectional: run each recurrent layer in both directions.
        units: hidden units per direction.
        num_layers: stacked recurrent layers.
        width: channels of the stem convolutions.
        stem_layers: stride-2 stem convolutions (time shrinks 2**stem_layers-fold).
        stem_kernel_size: taps of the stem convolutions.
        max_steps: longest sequence the recurrent layers see.
        unroll: unroll the recurrent loops (the export build; same weights).
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` -> `(batch, 2 * units * directions)`.

    Example:
    >>> RNN1D(input_len=256, rnn_type="gru", units=8, width=8).output_shape
    (None, 16)
    """

    VARIANTS = {
        f"{prefix}{rnn_type}": {"rnn_type": rnn_type, "bidirectional": bidirectional}
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
        num_layers: int = 2,
        width: int = 64,
        stem_layers: int = 5,
        stem_kernel_size: int = 7,
        max_steps: int = 64,
        unroll: bool = False,
        **kwargs: Any,
    ):
        checks.choice("rnn_type", rnn_type, ("lstm", "gru"))
        checks.choice("bidirectional", bidirectional, (True, False))
        checks.positive_int("units", units)
        checks.positive_int("num_layers", num_layers)
        checks.positive_int("width", width)
        checks.positive_int("stem_layers", stem_layers, allow_zero=True)
        checks.positive_int("stem_kernel_size", stem_kernel_size)
        checks.positive_int("max_steps", max_steps)
        checks.choice("unroll", unroll, (True, False))
        inputs = make_input(input_len, num_leads)
        x = inputs
        for index in range(1, stem_layers + 1):
            x = conv_bn_act(x, width, stem_kernel_size, strides=2, name=f"stem{index}")
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
                width=width,
                stem_layers=stem_layers,
                stem_kernel_size=stem_kernel_size,
                max_steps=max_steps,
                unroll=unroll,
            ),
            **kwargs,
        )
