"""Temperature scaling, expected calibration error and reliability curves."""

import numpy as np
import pytest

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import (
    apply_temperature,
    auroc,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    reliability_curve,
    sigmoid,
)
from keras_ecgpe.evaluation.calibration import TEMPERATURE_BOUNDS
from keras_ecgpe.inference import contract_io


def overconfident(n=4000, seed=0, temperature=3.0):
    """SYNTHETIC: labels drawn from a calibrated model's probabilities sigmoid(z); the
    returned logits are z scaled by `temperature` (an over-confident model)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, size=(n, 2)) + np.array([-1.0, 0.5])
    y = (rng.random(z.shape) < sigmoid(z)).astype(int)
    return y, temperature * z


def second_class_masked_and_noisy(seed):
    """SYNTHETIC: `overconfident` data whose second class is masked out and its logits
    replaced by noise; returns `(y, logits, noisy logits, mask)`."""
    y, logits = overconfident(seed=seed)
    mask = np.ones_like(y)
    mask[:, 1] = 0
    noisy = logits.copy()
    noisy[:, 1] = 50 * np.random.default_rng(seed + 1).normal(size=len(y))
    return y, logits, noisy, mask


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_ece():
    y, logits = overconfident()
    t = fit_temperature(y, logits)
    assert t == pytest.approx(3.0, rel=0.10)
    before = expected_calibration_error(y, sigmoid(logits))["macro"]
    after = expected_calibration_error(y, sigmoid(apply_temperature(logits, t)))["macro"]
    assert after < 0.5 * before
    # Scaling by a positive temperature never changes the ranking.
    assert auroc(y[:, 0], apply_temperature(logits, t)[:, 0]) == pytest.approx(
        auroc(y[:, 0], logits[:, 0])
    )


def test_fit_temperature_ignores_masked_entries_and_checks_arguments():
    y, logits, noisy, mask = second_class_masked_and_noisy(seed=1)
    assert fit_temperature(y, noisy, mask=mask) == pytest.approx(
        fit_temperature(y[:, :1], logits[:, :1]), rel=1e-4
    )
    with pytest.raises(ConfigError, match="bounds"):
        fit_temperature(y, logits, bounds=(2.0, 1.0))
    with pytest.raises(ConfigError, match="temperature"):
        apply_temperature(logits, 0.0)


def test_a_shifted_model_needs_the_bias_and_fit_calibration_recovers_both():
    # SYNTHETIC: over-confident (x3) and shifted per class (+3, -1), as a positive-class
    # weight or a focal loss shifts a trained model's logits.
    y, logits = overconfident(n=20000, seed=3)
    shifted = logits + np.array([3.0, -1.0])
    t, bias = fit_calibration(y, shifted)
    assert t == pytest.approx(3.0, rel=0.05)
    np.testing.assert_allclose(bias, [-1.0, 1.0 / 3.0], atol=0.1)  # -3 / T, +1 / T
    # Temperature alone cannot remove a shift.
    ece = {
        name: expected_calibration_error(y, sigmoid(z))["macro"]
        for name, z in (
            ("temperature", apply_temperature(shifted, fit_temperature(y, shifted))),
            ("temperature+bias", apply_temperature(shifted, t, bias)),
        )
    }
    assert ece["temperature+bias"] < 0.02 < 0.1 < ece["temperature"]
    calibrated = apply_temperature(shifted, t, bias)
    for c in range(2):  # the order within each class is kept
        assert auroc(y[:, c], calibrated[:, c]) == pytest.approx(auroc(y[:, c], logits[:, c]))


def test_fit_calibration_ignores_masked_entries_and_keeps_its_bounds():
    y, logits, noisy, mask = second_class_masked_and_noisy(seed=4)
    t_masked, bias_masked = fit_calibration(y, noisy, mask=mask)
    t_alone, bias_alone = fit_calibration(y[:, :1], logits[:, :1])
    assert t_masked == pytest.approx(t_alone, rel=1e-3)
    assert bias_masked[0] == pytest.approx(bias_alone[0], abs=1e-3)
    separated = np.array([[0], [0], [1], [1]]), np.array([[-1.0], [-2.0], [1.0], [2.0]])
    t, _ = fit_calibration(*separated)
    assert TEMPERATURE_BOUNDS[0] <= t <= TEMPERATURE_BOUNDS[1]
    with pytest.raises(ConfigError, match="mask"):
        fit_calibration(y, logits, mask=np.zeros_like(y))


def test_contract_probabilities_apply_the_bias_and_old_contracts_mean_zero():
    contract = {"label_names": ["A", "B"], "temperature": 2.0, "calibration_bias": [-1.0, 0.5]}
    logits = np.array([[2.0, -2.0]])
    np.testing.assert_allclose(
        contract_io.probabilities(contract, logits), sigmoid(np.array([[0.0, -0.5]]))
    )
    del contract["calibration_bias"]  # contracts written before the bias existed
    np.testing.assert_allclose(
        contract_io.probabilities(contract, logits), sigmoid(np.array([[1.0, -1.0]]))
    )


def test_ece_and_reliability_curve_by_hand():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.1, 0.1, 0.9, 0.9, 0.6])
    # 4 bins of 0.25: bin 0 holds 3 records (observed 1/3, mean 0.1), bin 2 one (0 vs 0.6),
    # bin 3 two (1 vs 0.9).
    curve = reliability_curve(y, p, n_bins=4)
    np.testing.assert_array_equal(curve.counts, [3, 0, 1, 2])
    np.testing.assert_allclose(curve.centres, [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(curve.observed[[0, 2, 3]], [1 / 3, 0.0, 1.0])
    assert np.isnan(curve.observed[1])
    expected = (3 * (1 / 3 - 0.1) + 1 * 0.6 + 2 * 0.1) / 6
    ece = expected_calibration_error(y, p, 4, label_names=["PE"])
    assert ece["per_class"]["PE"] == pytest.approx(expected)
    assert ece["macro"] == pytest.approx(expected)


def test_ece_per_class_with_mask_and_probability_one():
    y = np.array([[1, 0], [1, 1], [0, 1]])
    p = np.array([[1.0, 0.0], [1.0, 0.5], [0.0, 0.5]])
    ece = expected_calibration_error(y, p, 10, mask=[[1, 0], [1, 1], [1, 1]])
    assert ece["per_class"]["0"] == pytest.approx(0.0)  # p = 1 lands in the last bin
    assert ece["per_class"]["1"] == pytest.approx(0.5)  # only the two unmasked 0.5s count
    assert ece["macro"] == pytest.approx(0.25)
    with pytest.raises(ConfigError, match="probs"):
        expected_calibration_error(y, p + 0.5)
