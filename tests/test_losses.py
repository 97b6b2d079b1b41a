"""Tests of the per-element focal and weighted BCE losses, masks and Keras' reduction."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.training.losses import SigmoidFocalLoss, WeightedBinaryCrossentropy, make_loss

RNG = np.random.default_rng(0)
Y = (RNG.random((16, 3)) < 0.4).astype(np.float32)
Z = RNG.normal(0, 3, (16, 3)).astype(np.float32)


def reference_focal(y, z, alpha, gamma):
    """Written from the paper's formula in float64, independently of the implementation."""
    p = 1 / (1 + np.exp(-z.astype(np.float64)))
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    pt = np.where(y == 1, p, 1 - p)
    at = np.where(y == 1, alpha, 1 - alpha)
    return at * (1 - pt) ** gamma * ce


def reference_bce(y, z, w):
    p = 1 / (1 + np.exp(-z.astype(np.float64)))
    return -(w * y * np.log(p) + (1 - y) * np.log(1 - p))


def elementwise(loss, y, z):
    loss = loss.__class__.from_config({**loss.get_config(), "reduction": None})
    return keras.ops.convert_to_numpy(loss(y, z))


def test_focal_matches_the_formula_per_element():
    got = elementwise(SigmoidFocalLoss(alpha=0.7, gamma=2.0), Y, Z)
    assert got.shape == (16, 3)
    np.testing.assert_allclose(got, reference_focal(Y, Z, 0.7, 2.0), rtol=1e-4, atol=1e-7)


def test_focal_with_gamma_0_alpha_half_is_half_the_bce():
    focal = elementwise(SigmoidFocalLoss(alpha=0.5, gamma=0.0), Y, Z)
    np.testing.assert_allclose(focal, 0.5 * reference_bce(Y, Z, 1.0), rtol=1e-5)


def test_focal_is_stable_for_large_logits():
    y = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    z = np.array([[80.0, -80.0, -80.0, 80.0]], np.float32)
    got = elementwise(SigmoidFocalLoss(alpha=0.7, gamma=2.0), y, z)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got[0, :2], 0.0, atol=1e-12)
    np.testing.assert_allclose(got[0, 2:], [0.7 * 80, 0.3 * 80], rtol=1e-5)


def test_bce_pos_weight_per_class_matches_the_formula():
    w = np.array([1.0, 2.5, 10.0])
    got = elementwise(WeightedBinaryCrossentropy(pos_weight=w.tolist()), Y, Z)
    np.testing.assert_allclose(got, reference_bce(Y, Z, w), rtol=1e-5)
    plain = elementwise(WeightedBinaryCrossentropy(), Y, Z)
    keras_bce = keras.losses.BinaryCrossentropy(from_logits=True)(Y, Z)
    assert float(plain.mean()) == pytest.approx(float(keras_bce), rel=1e-5)


@pytest.mark.parametrize("loss", [SigmoidFocalLoss(), WeightedBinaryCrossentropy([1, 2, 3])])
def test_mask_reduction_is_the_mean_over_labelled_entries(loss):
    mask = (RNG.random((16, 3)) < 0.7).astype(np.float32)
    values = elementwise(loss, Y, Z)
    expected = (values * mask).sum() / mask.sum()
    assert float(loss(Y, Z, sample_weight=mask)) == pytest.approx(expected, rel=1e-5)
    assert float(loss(Y, Z)) == pytest.approx(values.mean(), rel=1e-5)


@pytest.mark.parametrize("loss", [SigmoidFocalLoss(), WeightedBinaryCrossentropy([1, 2, 3])])
def test_masked_entries_change_neither_loss_nor_gradient(loss):
    mask = np.ones((16, 3), np.float32)
    mask[::2, 1] = 0.0
    y2, z2 = Y.copy(), Z.copy()
    y2[::2, 1] = 1 - y2[::2, 1]  # flip the labels nobody annotated
    z2[::2, 1] += 7.0
    assert float(loss(Y, Z, sample_weight=mask)) == pytest.approx(
        float(loss(y2, z2, sample_weight=mask)), rel=1e-6
    )
    logits = tf.Variable(Z)
    with tf.GradientTape() as tape:
        value = loss(Y, logits, sample_weight=mask)
    grad = tape.gradient(value, logits).numpy()
    assert (grad[::2, 1] == 0).all()
    assert (np.abs(grad[1::2, 1]) > 0).all() and (np.abs(grad[:, 0]) > 0).all()


def test_compiled_model_reduces_a_class_mask_as_the_loss_does():
    # Keras 3 applies (batch, C) sample weights after call(); check evaluate() agrees.
    x = RNG.normal(size=(16, 4)).astype(np.float32)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    loss = SigmoidFocalLoss()
    model.compile(loss=loss)
    mask = (RNG.random((16, 3)) < 0.6).astype(np.float32)
    logits = model.predict(x, verbose=0)
    per_element = elementwise(loss, Y, logits)
    expected = (per_element * mask).sum() / mask.sum()
    got = model.evaluate(x, Y, sample_weight=mask, batch_size=16, verbose=0)
    assert got == pytest.approx(expected, rel=1e-4)


def test_losses_serialize_and_load_inside_a_model(tmp_path):
    for loss in (SigmoidFocalLoss(alpha=0.6, gamma=1.5), WeightedBinaryCrossentropy([2.0, 3.0])):
        again = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="adam", loss=WeightedBinaryCrossentropy([2.0, 3.0]))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.loss.pos_weight == [2.0, 3.0]


def test_make_loss_and_bad_arguments():
    assert isinstance(make_loss("focal", alpha=0.25, gamma=1.0), SigmoidFocalLoss)
    assert make_loss("bce", pos_weight=[4.0]).pos_weight == [4.0]
    with pytest.raises(ConfigError, match="loss.name"):
        make_loss("hinge")
    with pytest.raises(ConfigError, match="alpha"):
        SigmoidFocalLoss(alpha=1.2)
    with pytest.raises(ConfigError, match="pos_weight"):
        WeightedBinaryCrossentropy(pos_weight=[1.0, 0.0])
