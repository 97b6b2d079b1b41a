"""The paper's per-sample augmentations as stateless TensorFlow ops."""

import numpy as np
import pytest
import tensorflow as tf

from keras_ecgpe.data.augment import AUGMENTATIONS, AugmentConfig, augment_batch
from keras_ecgpe.errors import ConfigError

FS = 500.0


def _batch(batch=64, time=1000, seed=0):
    return tf.random.stateless_normal([batch, time, 12], [seed, 7])


def _run(x, name, seed=(3, 4), **params):
    return augment_batch(x, tf.constant(seed), AugmentConfig.only(name, **params), FS).numpy()


def test_same_seed_same_output_other_seed_differs():
    x = _batch()
    a = augment_batch(x, tf.constant([1, 2]))
    b = augment_batch(x, tf.constant([1, 2]))
    c = augment_batch(x, tf.constant([1, 3]))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    graph = tf.function(augment_batch)
    assert np.array_equal(graph(x, tf.constant([5, 6])), graph(x, tf.constant([5, 6])))


def test_default_mixes_the_six_choices_uniformly():
    x = _batch(batch=600, time=200).numpy()
    y = augment_batch(x, tf.constant([9, 9])).numpy()
    unchanged = np.mean([np.array_equal(a, b) for a, b in zip(x, y)])
    flipped = np.mean([np.array_equal(-a, b) for a, b in zip(x, y)])
    assert abs(unchanged - 1 / 6) < 0.06 and abs(flipped - 1 / 6) < 0.06, (unchanged, flipped)


def test_none_and_flip():
    x = _batch()
    assert np.array_equal(_run(x, "none"), x.numpy())
    assert np.array_equal(_run(x, "flip"), -x.numpy())


def test_drop_leads_zeroes_whole_leads_with_p_0_2():
    x = _batch(batch=256, time=200).numpy()
    y = _run(x, "drop_leads")
    zeroed = np.all(y == 0, axis=1)  # (batch, leads)
    kept = np.all(y == x, axis=1)
    assert np.all(zeroed | kept)  # every lead is either gone entirely or untouched
    assert abs(zeroed.mean() - 0.2) < 0.03, zeroed.mean()
    assert zeroed.mean() > 0.1 and np.any(zeroed.sum(axis=1) != zeroed.sum(axis=1)[0])


def test_drop_samples_zeroes_ten_percent_of_time_steps():
    x = _batch(batch=32, time=1000).numpy()
    y = _run(x, "drop_samples")
    dropped = np.all(y == 0, axis=2)  # (batch, time): zeroed across all leads
    assert np.all(dropped.sum(axis=1) == 100)
    assert np.array_equal(y[~dropped], x[~dropped])
    assert not np.array_equal(dropped[0], dropped[1])  # positions differ per sample
    quarter = _run(x, "drop_samples", drop_samples_fraction=0.25)
    assert np.all(quarter == 0, axis=2).sum() == 32 * 250


def test_sine_adds_the_configured_amplitude_and_frequency():
    x = _batch(batch=16, time=2000).numpy()
    y = _run(
        x,
        "sine",
        sine_min_hz=10.0,
        sine_max_hz=10.0,
        sine_min_amplitude=0.5,
        sine_max_amplitude=0.5,
    )
    added = y - x
    np.testing.assert_allclose(added, added[:, :, :1].repeat(12, axis=2), atol=1e-5)
    std = x.std(axis=(1, 2))
    np.testing.assert_allclose(np.abs(added[:, :, 0]).max(axis=1), 0.5 * std, rtol=0.01)
    spectrum = np.abs(np.fft.rfft(added[:, :, 0], axis=1))
    peak_hz = np.argmax(spectrum, axis=1) * FS / 2000
    assert np.all(peak_hz == 10.0)


def test_pulse_adds_a_square_of_configured_width_and_height():
    x = _batch(batch=32, time=2000).numpy()
    y = _run(
        x,
        "pulse",
        pulse_min_width_s=0.1,
        pulse_max_width_s=0.1,
        pulse_min_amplitude=0.8,
        pulse_max_amplitude=0.8,
    )
    added = (y - x)[:, :, 0]
    std = x.std(axis=(1, 2))
    signs = set()
    for row, height in zip(added, std):
        inside = np.abs(row) > 1e-4
        assert 49 <= inside.sum() <= 51  # 0.1 s at 500 Hz
        idx = np.flatnonzero(inside)
        assert idx[-1] - idx[0] + 1 == inside.sum()  # one contiguous run
        np.testing.assert_allclose(np.abs(row[inside]), 0.8 * height, rtol=1e-4)
        signs.add(np.sign(row[idx[0]]))
    assert signs == {-1.0, 1.0}


def test_shapes_dtypes_and_compiled_functions():
    x = _batch(batch=8, time=300)
    for name in AUGMENTATIONS:
        y = augment_batch(x, tf.constant([1, 1]), AugmentConfig.only(name), FS)
        assert y.shape == x.shape and y.dtype == tf.float32
    half = augment_batch(tf.cast(x, tf.float16), tf.constant([1, 1]))
    assert half.dtype == tf.float16
    spec = [tf.TensorSpec([None, None, 12], tf.float32), tf.TensorSpec([2], tf.int64)]
    graph = tf.function(lambda a, s: augment_batch(a, s, AugmentConfig(), FS), input_signature=spec)
    assert graph(x, tf.constant([4, 2], tf.int64)).shape == x.shape
    xla = tf.function(
        lambda a, s: augment_batch(a, s, AugmentConfig.only("flip"), FS), jit_compile=True
    )
    assert np.array_equal(xla(x, tf.constant([4, 2])), -x.numpy())
    data = (
        tf.data.Dataset.from_tensor_slices(x)
        .batch(4)
        .enumerate()
        .map(lambda i, b: augment_batch(b, tf.stack([i, i]), AugmentConfig(), FS))
    )
    assert [b.shape[0] for b in data] == [4, 4]


def test_config_is_strict():
    config = AugmentConfig()
    assert AugmentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match=r"unknown augmentation option\(s\) \['flip'\].*p_flip"):
        AugmentConfig.from_dict({"flip": 1.0})
    with pytest.raises(ConfigError, match="must sum to 1"):
        AugmentConfig(p_flip=0.5)
    with pytest.raises(ConfigError, match="drop_lead_p"):
        AugmentConfig(drop_lead_p=1.5)
    with pytest.raises(ConfigError, match="sine_min_hz"):
        AugmentConfig(sine_min_hz=20.0, sine_max_hz=10.0)
    with pytest.raises(ConfigError, match="sine_min_hz"):
        augment_batch(_batch(2, 100), tf.constant([1, 1]), AugmentConfig(sine_min_hz=48.0), 100.0)
    with pytest.raises(ConfigError, match="fs"):
        augment_batch(_batch(2, 100), tf.constant([1, 1]), config, 0)
