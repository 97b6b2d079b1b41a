"""Integrated gradients and their mapping onto a record: exact where the answer is known.

A linear model's integrated gradients are exactly `x * w` (its gradient is constant), so
the window maps, their placement across sliding windows and the completeness identity are
checked against closed forms. Completeness on the zoo's families (tiny, untrained models)
is the slow-tier check that one gradient path serves every family. Inputs are SYNTHETIC.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fixtures import FAMILY_REPRESENTATIVES, tiny_model
from keras_ecgpe.data.preprocessing import PreprocessConfig, apply_preprocessing
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.explain import integrated_gradients, map_to_record
from keras_ecgpe.explain.record_attribution import preprocessed_offset

# Completeness on the zoo: the trapezoid rule's gap falls as 1/steps and scales with the
# attribution mass (measured at 32 steps: 0.01-0.7 % of sum |a_i| across the families), so
# |sum of attributions - (F(x) - F(x'))| <= 1 % of sum |a_i| at 32 steps.
MASS_TOLERANCE, STEPS = 0.01, 32


def _linear_model(window: int, seed: int = 0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((window, 12))
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


def test_linear_model_attributions_are_input_times_weight():
    model = _linear_model(16)
    x = np.random.default_rng(0).normal(size=(3, 16, 12)).astype(np.float32)
    result = integrated_gradients(model, x, output=1, steps=4)
    kernel = model.layers[-1].get_weights()[0][:, 1].reshape(16, 12)
    np.testing.assert_allclose(result.values, x * kernel, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.abs(result.completeness_gap), 0.0, atol=1e-4)


def test_windows_add_up_on_the_record_and_keep_completeness():
    model = _linear_model(8, seed=1)
    signal = np.random.default_rng(1).normal(size=(20, 12)).astype(np.float32)
    starts = np.array([0, 6, 12])
    windows = np.stack([signal[s : s + 8] for s in starts])
    result = integrated_gradients(model, windows, output=0, steps=2)
    mean = map_to_record(result, starts, 20, "mean", offset=0, fs=10.0, n_record=20)
    # Sample 7 lies in windows 0 and 1 (at positions 7 and 1): the mean of their maps.
    expected = (result.values[0, 7] + result.values[1, 1]) / 3
    np.testing.assert_allclose(mean.values[7], expected)
    assert abs(mean.completeness_gap) < 1e-4
    assert mean.logit == pytest.approx(result.logits.mean())
    top = map_to_record(result, starts, 20, "max", offset=0, fs=10.0, n_record=20)
    best = int(np.argmax(result.logits))
    np.testing.assert_allclose(top.values.sum(), result.values[best].sum())
    assert top.logit == pytest.approx(result.logits.max())
    shares = mean.lead_shares()
    assert list(shares) == ["I", "II", "III", "aVR", "aVL", "aVF"] + [f"V{k}" for k in range(1, 7)]
    assert sum(shares.values()) == pytest.approx(1.0)


def test_segments_rank_where_the_attribution_is():
    model = _linear_model(8)
    x = np.zeros((1, 8, 12), np.float32)
    x[0, 5, 3] = 4.0  # all input, hence all attribution, at sample 5 of aVR
    result = integrated_gradients(model, x, output=0, steps=2)
    mapped = map_to_record(result, np.array([0]), 8, "mean", offset=-2, fs=4.0, n_record=6)
    # offset -2: two samples of padding first, so sample 5 is at (5 - 2) / 4 = 0.75 s.
    segment = mapped.top_segments(segment_s=0.5, top=1)[0]
    assert (segment["start_s"], segment["end_s"], segment["leads"][0]) == (0.5, 1.0, "aVR")
    assert segment["share"] == pytest.approx(1.0)
    assert mapped.inside.tolist() == [False, False] + [True] * 6


@pytest.mark.parametrize(
    ("config", "n", "fs", "expected"),
    [
        (PreprocessConfig(target_fs=100.0, duration_s=10.0), 12000, 1000.0, (100, 100.0, 1200)),
        (
            PreprocessConfig(target_fs=100.0, duration_s=10.0, crop="start"),
            12000,
            1000.0,
            (0, 100.0, 1200),
        ),
        (
            PreprocessConfig(target_fs=None, duration_s=10.0, pad="zero"),
            900,
            100.0,
            (-50, 100.0, 900),
        ),
        (PreprocessConfig(target_fs=100.0), 5000, 500.0, (0, 100.0, 1000)),
    ],
)
def test_offset_follows_the_preprocessing(config, n, fs, expected):
    assert preprocessed_offset(n, fs, config) == expected
    # The preprocessed signal has the length the offset implies.
    x = np.random.default_rng(0).normal(size=(n, 12)).astype(np.float32)
    out, _ = apply_preprocessing(x, fs, config)
    length = out.shape[0]
    assert length == (round(config.duration_s * expected[1]) if config.duration_s else expected[2])


def test_bad_arguments_are_refused():
    model = _linear_model(8)
    with pytest.raises(ConfigError, match="steps"):
        integrated_gradients(model, np.zeros((1, 8, 12)), steps=0)
    with pytest.raises(ConfigError, match="windows"):
        integrated_gradients(model, np.zeros((1, 9, 12)))
    with pytest.raises(ConfigError, match="output"):
        integrated_gradients(model, np.zeros((1, 8, 12)), output=2)


# One model per family (registry module); the graph variants of FAMILY_REPRESENTATIVES
# (bigru, attresnet18_flatten, transformer_patch) share their family's gradient path and
# would add about 40 s of tracing to the slow tier.
VARIANTS = ("bigru", "attresnet18_flatten", "transformer_patch")
FAMILIES = tuple(name for name in FAMILY_REPRESENTATIVES if name not in VARIANTS)


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_completeness_on_every_family(name):
    model = tiny_model(name, num_classes=1, input_len=64)
    x = np.random.default_rng(3).normal(size=(1, 64, 12)).astype(np.float32)
    result = integrated_gradients(model, x, output=0, steps=STEPS)
    mass = np.abs(result.values).sum()
    assert abs(result.completeness_gap[0]) <= MASS_TOLERANCE * mass + 1e-6, (
        result.completeness_gap,
        mass,
    )
    # The logits integrated gradients report are the model's own.
    np.testing.assert_allclose(result.logits, model.predict(x, verbose=0)[:, 0], atol=1e-4)
