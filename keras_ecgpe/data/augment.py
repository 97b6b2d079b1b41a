"""Training augmentations of the seed paper, as stateless TensorFlow ops on batches.

Each sample of a `(batch, time, leads)` batch gets exactly ONE of: no change, polarity
flip, 10 % of time steps zeroed, each lead zeroed with p = 0.2, an added sine, an added
square pulse. The choice and all parameters come from `tf.random.stateless_*` ops driven
by one shape-[2] seed, so a seeded pipeline is reproducible; there are no per-sample
Python loops or `tf.py_function`, so it runs inside `tf.data.map`, `tf.function` and XLA.
Use it on training data only: evaluation must see unaugmented signals.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.strict_config import from_strict_dict

AUGMENTATIONS = ("none", "flip", "drop_samples", "drop_leads", "sine", "pulse")
_RANGES = (
    ("sine_min_hz", "sine_max_hz"),
    ("sine_min_amplitude", "sine_max_amplitude"),
    ("pulse_min_width_s", "pulse_max_width_s"),
    ("pulse_min_amplitude", "pulse_max_amplitude"),
)


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Which augmentation each sample gets, and their parameters.

    Attributes:
        p_none, p_flip, p_drop_samples, p_drop_leads, p_sine, p_pulse: probability of
            each choice per sample; they must sum to 1 (default: uniform, as the paper).
        drop_samples_fraction: fraction of time steps zeroed across all leads (exact
            count per sample, rounded).
        drop_lead_p: probability that each lead is zeroed over its whole length.
        sine_min_hz, sine_max_hz: sine frequency range, drawn uniformly; the top is
            clipped to 0.45 * fs. 0.1-50 Hz spans baseline wander to mains hum.
        sine_min_amplitude, sine_max_amplitude: sine amplitude in units of the sample's
            standard deviation (over time and leads); the same sine, with random phase,
            is added to every lead.
        pulse_min_width_s, pulse_max_width_s: square pulse width in seconds.
        pulse_min_amplitude, pulse_max_amplitude: pulse height in units of the sample's
            standard deviation, sign random; added to every lead at a random position.

    Example:
    >>> AugmentConfig.only("flip").p_flip
    1.0
    """

    p_none: float = 1 / 6
    p_flip: float = 1 / 6
    p_drop_samples: float = 1 / 6
    p_drop_leads: float = 1 / 6
    p_sine: float = 1 / 6
    p_pulse: float = 1 / 6
    drop_samples_fraction: float = 0.1
    drop_lead_p: float = 0.2
    sine_min_hz: float = 0.1
    sine_max_hz: float = 50.0
    sine_min_amplitude: float = 0.1
    sine_max_amplitude: float = 1.0
    pulse_min_width_s: float = 0.02
    pulse_max_width_s: float = 0.5
    pulse_min_amplitude: float = 0.1
    pulse_max_amplitude: float = 1.0

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and value >= 0)
            ):
                raise ConfigError(
                    f"`{field.name}` must be a number >= 0. Received: {field.name}={value!r}"
                )
            object.__setattr__(self, field.name, float(value))
        for name in ("drop_samples_fraction", "drop_lead_p") + tuple(
            f"p_{n}" for n in AUGMENTATIONS
        ):
            if getattr(self, name) > 1:
                raise ConfigError(
                    f"`{name}` must be in [0, 1]. Received: {name}={getattr(self, name)}"
                )
        total = sum(self.probabilities)
        if abs(total - 1.0) > 1e-6:
            given = dict(zip(AUGMENTATIONS, self.probabilities))
            raise ConfigError(
                f"`p_none` ... `p_pulse` must sum to 1. Received: {given} (sum {total})"
            )
        for low, high in _RANGES:
            if getattr(self, low) > getattr(self, high):
                raise ConfigError(
                    f"`{low}` must not exceed `{high}`. Received: {low}="
                    f"{getattr(self, low)}, {high}={getattr(self, high)}"
                )
        for name in ("sine_min_hz", "pulse_min_width_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(
                    f"`{name}` must be positive. Received: {name}={getattr(self, name)}"
                )

    @property
    def probabilities(self) -> tuple[float, ...]:
        """The six choice probabilities in `AUGMENTATIONS` order."""
        return tuple(getattr(self, f"p_{name}") for name in AUGMENTATIONS)

    @classmethod
    def only(cls, name: str, **params: float) -> AugmentConfig:
        """A config that always applies augmentation `name` (one of `AUGMENTATIONS`)."""
        if name not in AUGMENTATIONS:
            raise ConfigError(
                f"augmentation must be one of {', '.join(AUGMENTATIONS)}. Received: {name!r}"
            )
        probs = {f"p_{n}": float(n == name) for n in AUGMENTATIONS}
        return cls(**probs, **params)

    def to_dict(self) -> dict:
        """Returns the settings as a JSON-safe dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AugmentConfig:
        """Builds a config from a dict; unknown keys are errors, missing ones take defaults."""
        return from_strict_dict(cls, data, "augmentation")


def _uniform(shape, seed, low, high):
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high, dtype=tf.float32)


def _time_keep_mask(batch, time, seed, fraction):
    """(batch, time, 1) float mask zeroing exactly round(fraction * time) steps per sample."""
    noise = _uniform([batch, time], seed, 0.0, 1.0)
    n_drop = tf.cast(tf.round(fraction * tf.cast(time, tf.float32)), tf.int32)
    # The n_drop-th smallest value per row is the cut; top_k is far cheaper than a sort.
    smallest = tf.math.top_k(-noise, k=tf.maximum(n_drop, 1)).values
    cut = tf.where(n_drop > 0, -smallest[:, -1:], -1.0)
    return tf.cast(noise > cut, tf.float32)[:, :, tf.newaxis]


def _sine(batch, steps, seed, std, config: AugmentConfig, fs: float):
    """(batch, time, 1) sine of random frequency, phase and amplitude (x std)."""
    top_hz = min(config.sine_max_hz, 0.45 * fs)
    if config.sine_min_hz > top_hz:
        raise ConfigError(
            f"`sine_min_hz` must be below 0.45 * fs = {top_hz}. "
            f"Received: sine_min_hz={config.sine_min_hz}"
        )
    params = tf.random.split(seed, 3)
    freq = _uniform([batch, 1, 1], params[0], config.sine_min_hz, top_hz)
    phase = _uniform([batch, 1, 1], params[1], 0.0, 2 * math.pi)
    amp = (
        _uniform([batch, 1, 1], params[2], config.sine_min_amplitude, config.sine_max_amplitude)
        * std
    )
    cycles = freq * steps / fs  # whole cycles dropped so sin's argument stays in [0, 2 pi)
    return amp * tf.sin(2 * math.pi * (cycles - tf.floor(cycles)) + phase)


def _pulse(batch, steps, time, seed, std, config: AugmentConfig, fs: float):
    """(batch, time, 1) square pulse of random width, position, sign and height (x std)."""
    params = tf.random.split(seed, 4)
    width = (
        _uniform([batch, 1, 1], params[0], config.pulse_min_width_s, config.pulse_max_width_s) * fs
    )
    start = _uniform([batch, 1, 1], params[1], 0.0, 1.0) * tf.maximum(
        tf.cast(time, tf.float32) - width, 0.0
    )
    sign = tf.where(_uniform([batch, 1, 1], params[2], 0.0, 1.0) < 0.5, -1.0, 1.0)
    amp = (
        sign
        * std
        * _uniform([batch, 1, 1], params[3], config.pulse_min_amplitude, config.pulse_max_amplitude)
    )
    inside = tf.logical_and(steps >= start, steps < start + width)
    return amp * tf.cast(inside, tf.float32)


def _gain_and_offset(x, choice, seeds, config: AugmentConfig, fs: float):
    """The chosen augmentation of every sample as `x * gain + offset`.

    Every choice is a product (flip, sample drop, lead drop) or a sum (sine, pulse), so
    one multiply-add over the batch applies them all; each factor is built on a thin
    shape ((batch, time, 1) or (batch, 1, leads)) and selected per sample by `choice`.
    This is several times faster than computing six full variants and selecting.
    """
    batch, time, leads = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
    steps = tf.range(time, dtype=tf.float32)[tf.newaxis, :, tf.newaxis]  # (1, time, 1)
    std = tf.math.reduce_std(x, axis=[1, 2], keepdims=True)  # (batch, 1, 1)

    def chosen(name):
        return tf.equal(choice, AUGMENTATIONS.index(name))  # (batch, 1, 1)

    gain = tf.where(chosen("flip"), -1.0, 1.0)
    offset = tf.zeros([batch, 1, 1], tf.float32)
    if config.p_drop_samples > 0:
        keep = _time_keep_mask(batch, time, seeds[1], config.drop_samples_fraction)
        gain = gain * tf.where(chosen("drop_samples"), keep, 1.0)
    if config.p_drop_leads > 0:
        keep = tf.cast(
            _uniform([batch, 1, leads], seeds[2], 0.0, 1.0) >= config.drop_lead_p, tf.float32
        )
        gain = gain * tf.where(chosen("drop_leads"), keep, 1.0)
    if config.p_sine > 0:
        offset = offset + tf.where(
            chosen("sine"), _sine(batch, steps, seeds[3], std, config, fs), 0.0
        )
    if config.p_pulse > 0:
        offset = offset + tf.where(
            chosen("pulse"), _pulse(batch, steps, time, seeds[4], std, config, fs), 0.0
        )
    return gain, offset


def augment_batch(
    x: tf.Tensor, seed: tf.Tensor, config: AugmentConfig = AugmentConfig(), fs: float = 500.0
) -> tf.Tensor:
    """Gives each sample of a batch one randomly chosen augmentation.

    Args:
        x: float `(batch, time, leads)` tensor (mV or normalised units).
        seed: shape-[2] integer tensor; the same seed gives the same output.
        config: an `AugmentConfig` (choice probabilities and parameters).
        fs: sampling rate of `x` in Hz (for sine frequencies and pulse widths).

    Returns:
        Tensor of the same shape and dtype as `x`. The same seed gives bit-identical
        output within one execution mode; XLA (`jit_compile=True`) draws different random
        numbers than eager/graph mode, and graph mode may round the sine differently
        (about 1e-4).

    Raises:
        ConfigError: `fs` not positive or the sine range above 0.45 * fs.

    Example:
    >>> x = tf.ones([4, 500, 12])
    >>> y = augment_batch(x, tf.constant([1, 2]), AugmentConfig.only("flip"))
    >>> float(tf.reduce_max(y))
    -1.0
    """
    if isinstance(fs, bool) or not isinstance(fs, (int, float, np.number)) or not fs > 0:
        raise ConfigError(f"`fs` must be a positive number. Received: fs={fs!r}")
    x = tf.convert_to_tensor(x)
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    seeds = tf.random.split(tf.convert_to_tensor(seed), 5)
    # log(0) = -inf: a choice with probability 0 is never drawn.
    logits = tf.math.log(tf.constant([config.probabilities], tf.float32))
    choice = tf.random.stateless_categorical(
        tf.tile(logits, [tf.shape(x)[0], 1]), 1, seeds[0], dtype=tf.int32
    )[:, :, tf.newaxis]  # (batch, 1, 1)
    gain, offset = _gain_and_offset(x, choice, seeds, config, float(fs))
    return tf.cast(x * gain + offset, dtype)
