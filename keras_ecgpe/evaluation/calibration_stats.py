"""How well calibrated probabilities match outcomes: intercept, slope, Brier, ECE and its
noise floor.

All functions take CALIBRATED logits `z` of one class (the model's logits after
`apply_temperature`), so `p = sigmoid(z)` and `logit(p) = z` without saturating.

- Calibration-in-the-large: `a` in `logit P(y=1) = a + logit(p)` (logit(p) as an offset);
  0 is ideal. Calibration slope: `b` in `logit P(y=1) = a + b logit(p)`; 1 is ideal, < 1
  means predictions too extreme. Both are maximum-likelihood logistic fits (statsmodels GLM,
  binomial family) with Wald 95 % intervals.
- Brier score: mean (p - y)^2.
- ECE: equal-width bins, `sum_b (n_b / n) |observed_b - mean predicted_b|`. It is biased
  upward at small n, so beside its percentile bootstrap interval we report the noise floor:
  the ECE of a perfectly calibrated model with the same probabilities, from labels simulated
  as Bernoulli(p) (mean and 95th percentile over simulations). An observed ECE below the
  floor's 95th percentile is no evidence of miscalibration.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import statsmodels.api as sm
from scipy import stats

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.bootstrap import resample_weights
from keras_ecgpe.evaluation.inputs import check_binary, sigmoid

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def _wald(value, se, z):
    return {
        "value": float(value),
        "ci_low": float(value - z * se),
        "ci_high": float(value + z * se),
        "se": float(se),
    }


def _undefined(reason):
    return {"value": None, "ci_low": None, "ci_high": None, "se": None, "undefined": reason}


def calibration_intercept_slope(
    y_true: ArrayLike, logits: ArrayLike, *, alpha: float = 0.05
) -> dict:
    """Calibration-in-the-large and calibration slope with Wald intervals.

    Args:
        y_true: `(n,)` labels in {0, 1}.
        logits: `(n,)` calibrated logits.
        alpha: 1 - confidence level.

    Returns:
        `{"intercept": {...}, "slope": {...}, "alpha", "n", "method"}`, each of the two
        `{"value", "ci_low", "ci_high", "se"}` or None values with "undefined": reason
        (one class only, or a slope fit that separates the data perfectly).

    Example:
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 2, 4000)
    >>> y = (rng.random(4000) < sigmoid(z)).astype(int)
    >>> r = calibration_intercept_slope(y, 2 * z)  # too extreme by a factor 2
    >>> round(r["slope"]["value"], 1)
    0.5
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"`alpha` must be in (0, 1). Received: alpha={alpha}")
    y, z = check_binary(y_true, logits)
    out = {
        "alpha": float(alpha),
        "n": int(y.size),
        "method": "logistic regression (statsmodels GLM, binomial), Wald intervals; "
        "intercept with logit(p) as offset",
    }
    if y.min() == y.max():
        reason = "only one class in the labels"
        return {**out, "intercept": _undefined(reason), "slope": _undefined(reason)}
    q = stats.norm.ppf(1 - alpha / 2)
    family = sm.families.Binomial()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # perfect separation / no convergence: undefined
        try:
            fit = sm.GLM(y, np.ones((y.size, 1)), family=family, offset=z).fit()
            out["intercept"] = _wald(fit.params[0], fit.bse[0], q)
        except (Warning, ValueError, np.linalg.LinAlgError) as error:
            out["intercept"] = _undefined(f"the intercept fit failed: {error}")
        try:
            fit = sm.GLM(y, np.column_stack([np.ones(y.size), z]), family=family).fit()
            out["slope"] = _wald(fit.params[1], fit.bse[1], q)
        except (Warning, ValueError, np.linalg.LinAlgError) as error:
            out["slope"] = _undefined(f"the slope fit failed (perfect separation?): {error}")
    return out


def brier_score(y_true: ArrayLike, logits: ArrayLike) -> float:
    """Mean squared difference between `sigmoid(logits)` and the labels.

    Example:
    >>> brier_score([0, 1], [0.0, 0.0])
    0.25
    """
    y, z = check_binary(y_true, logits)
    return float(np.mean((sigmoid(z) - y) ** 2))


def _bin_matrix(p, n_bins):
    index = np.minimum((p * n_bins).astype(int), n_bins - 1)  # p = 1 in the last bin
    return np.eye(n_bins)[index]  # (n, n_bins) one-hot


def ece_from_weights(y: np.ndarray, p: np.ndarray, weights: np.ndarray, n_bins: int) -> np.ndarray:
    """ECE of labels `y` `(B, n)` or `(n,)` under record weights `(B, n)`: `(B,)` values."""
    onehot = _bin_matrix(p, n_bins)
    w = np.atleast_2d(weights)
    observed = (w * np.atleast_2d(y)) @ onehot
    predicted = (w * p) @ onehot
    return np.abs(observed - predicted).sum(axis=1) / w.sum(axis=1)


def ece_with_noise_floor(
    y_true: ArrayLike,
    logits: ArrayLike,
    *,
    n_bins: int = 15,
    n_boot: int = 1000,
    n_sim: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    groups: ArrayLike | None = None,
) -> dict:
    """ECE with a percentile bootstrap interval and the noise floor at this sample size.

    Args:
        y_true: `(n,)` labels in {0, 1}.
        logits: `(n,)` calibrated logits.
        n_bins: equal-width probability bins.
        n_boot: bootstrap resamples for the interval.
        n_sim: simulated label sets for the noise floor.
        seed: random seed (the same seed gives the same figures).
        alpha: 1 - confidence level.
        groups: optional `(n,)` patient ids: the bootstrap draws patients whole.

    Returns:
        `{"ece", "ci_low", "ci_high", "n_boot", "n_bins", "alpha", "resampled_by",
        "noise_floor": {"mean", "p95", "n_sim", "method"}, "method"}`.

    Example:
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(0, 1.5, 135)
    >>> y = (rng.random(135) < sigmoid(z)).astype(int)
    >>> r = ece_with_noise_floor(y, z, n_boot=200, n_sim=200)
    >>> r["noise_floor"]["mean"] > 0.03  # a calibrated model on 135 records is not at 0
    True
    """
    if int(n_bins) != n_bins or n_bins < 1:
        raise ConfigError(f"`n_bins` must be a positive integer. Received: n_bins={n_bins}")
    for name, value in (("n_boot", n_boot), ("n_sim", n_sim)):
        if int(value) != value or value < 1:
            raise ConfigError(f"`{name}` must be a positive integer. Received: {name}={value}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"`alpha` must be in (0, 1). Received: alpha={alpha}")
    y, z = check_binary(y_true, logits)
    p = sigmoid(z)
    value = float(ece_from_weights(y, p, np.ones(y.size), n_bins)[0])
    boot = np.concatenate(
        [
            ece_from_weights(y, p, w, n_bins)
            for w in resample_weights(y.size, n_boot=n_boot, seed=seed, groups=groups)
        ]
    )
    rng = np.random.default_rng([seed, 1])  # a stream apart from the bootstrap's
    floor = np.concatenate(
        [
            ece_from_weights(
                (rng.random((b, y.size)) < p).astype(np.float64), p, np.ones((b, y.size)), n_bins
            )
            for b in np.diff(np.r_[np.arange(0, n_sim, 256), n_sim])
        ]
    )
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return {
        "ece": value,
        "ci_low": float(low),
        "ci_high": float(high),
        "n_boot": int(n_boot),
        "n_bins": int(n_bins),
        "alpha": float(alpha),
        "resampled_by": "record" if groups is None else "group",
        "method": "equal-width bins; percentile bootstrap interval",
        "noise_floor": {
            "mean": float(floor.mean()),
            "p95": float(np.quantile(floor, 0.95)),
            "n_sim": int(n_sim),
            "method": "ECE of labels simulated as Bernoulli(p) from the "
            "same probabilities (a perfectly calibrated model)",
        },
    }
