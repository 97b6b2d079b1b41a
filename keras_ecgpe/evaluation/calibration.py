"""Temperature scaling (with a per-class bias) and calibration measures.

Temperature scaling (Guo et al. 2017) divides every logit by one temperature `T` fitted on
VALIDATION data; `T > 1` softens an over-confident model. Training with a positive-class
weight `w` (or a focal loss) also shifts every logit of a class (by about `log w`), and
dividing by `T` cannot undo a shift (on the SYNTHETIC demo's ResNet, trained with focal loss
and pos_weight, the best temperature alone hit its bound of 100, every probability near 0.5).
`fit_calibration` therefore fits `T` together with one bias per class,
`p = sigmoid(z / T + b_c)` (Platt scaling with a shared slope). Both keep the order of the
logits within a class, so AUROC and AP are unchanged; only probabilities (and therefore
probability thresholds, which must be chosen after scaling) move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy import optimize

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.inputs import (
    check_inputs,
    json_float,
    probability_to_logit,
    sigmoid,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from numpy.typing import ArrayLike

TEMPERATURE_BOUNDS = (0.01, 100.0)


class ReliabilityCurve(NamedTuple):
    """Equal-width bins of predicted probability: centre, observed positive rate, mean
    predicted probability and count per bin (rates are NaN in empty bins)."""

    centres: np.ndarray
    observed: np.ndarray
    predicted: np.ndarray
    counts: np.ndarray


def _bce(y, logits):
    # log(1 + e^z) - y z: the binary cross-entropy of sigmoid(z), stable for any z.
    return float(np.mean(np.logaddexp(0.0, logits) - y * logits))


def fit_temperature(
    y_true: ArrayLike,
    logits: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
) -> float:
    """Fits one temperature for a model by minimising the mean binary cross-entropy.

    The search runs over `log T` (bounded by `log bounds`), where the loss is smoother and
    large and small temperatures are explored alike. Use validation data: a temperature
    fitted on the test set calibrates the test set by construction. On perfectly separated
    data the optimum lies at the lower bound (the loss keeps falling as `T -> 0`).

    Args:
        y_true: `(n, C)` validation labels in {0, 1}.
        logits: `(n, C)` validation logits.
        mask: optional `(n, C)` 0/1 label mask; masked entries are ignored.
        bounds: `(low, high)` temperatures searched.

    Returns:
        The temperature, a positive float.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 2, 5000)
    >>> y = rng.random(5000) < sigmoid(z)
    >>> round(fit_temperature(y, 3 * z), 1)
    3.0
    """
    y, z, m = _fit_inputs(y_true, logits, mask, bounds)
    low, high = bounds
    best = optimize.minimize_scalar(
        lambda log_t: _bce(y[m], z[m] / np.exp(log_t)),
        bounds=(np.log(low), np.log(high)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(best.x))


def fit_calibration(
    y_true: ArrayLike,
    logits: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    bounds: tuple[float, float] = TEMPERATURE_BOUNDS,
) -> tuple[float, list[float]]:
    """Fits one temperature and one bias per class: `p = sigmoid(z / T + b_c)`.

    Minimises the mean binary cross-entropy over all unmasked entries (L-BFGS-B over
    `log T` within `log bounds` and the biases). Use validation data.

    Args:
        y_true, logits, mask, bounds: as for `fit_temperature`.

    Returns:
        `(temperature, biases)`: a positive float and a list of `C` floats.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 2, 20000)
    >>> y = rng.random(20000) < sigmoid(z)
    >>> t, b = fit_calibration(y, 3 * z + 2.0)  # over-confident and shifted by +2
    >>> round(t, 1), round(b[0], 1)
    (3.0, -0.7)
    """
    y, z, m = _fit_inputs(y_true, logits, mask, bounds)
    weight = m.astype(np.float64) / m.sum()

    def loss_and_gradient(params):
        log_t, bias = params[0], params[1:]
        scaled = z / np.exp(log_t) + bias
        residual = weight * (sigmoid(scaled) - y)  # d(mean BCE)/d(scaled), masked
        gradient = np.concatenate([[-np.sum(residual * z / np.exp(log_t))], residual.sum(axis=0)])
        return float(np.sum(weight * (np.logaddexp(0.0, scaled) - y * scaled))), gradient

    start = np.zeros(1 + z.shape[1])
    limits = [(np.log(bounds[0]), np.log(bounds[1]))] + [(None, None)] * z.shape[1]
    best = optimize.minimize(
        loss_and_gradient,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=limits,
        options={"maxiter": 500},
    )
    return float(np.exp(best.x[0])), [float(b) for b in best.x[1:]]


def _fit_inputs(y_true, logits, mask, bounds):
    low, high = bounds
    if not 0 < low < high:
        raise ConfigError(f"`bounds` must be 0 < low < high. Received: bounds={bounds}")
    y, z, m = check_inputs(y_true, logits, mask)
    if not m.any():
        raise ConfigError("`mask` leaves no labelled entry to fit a temperature on")
    return y.astype(np.float64), z, m


def apply_temperature(
    logits: ArrayLike, temperature: float, bias: ArrayLike | None = None
) -> np.ndarray:
    """Returns `logits / temperature (+ bias per class)`: the calibrated logits."""
    if not temperature > 0:
        raise ConfigError(f"`temperature` must be positive. Received: temperature={temperature}")
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    return scaled if bias is None else scaled + np.asarray(bias, dtype=np.float64)


def _check_probs(y_true, probs, mask, n_bins):
    if int(n_bins) != n_bins or n_bins < 1:
        raise ConfigError(f"`n_bins` must be a positive integer. Received: n_bins={n_bins}")
    p = np.asarray(probs, dtype=np.float64)
    if not ((p >= 0) & (p <= 1)).all():
        raise ConfigError("`probs` must be probabilities in [0, 1]. Received values outside")
    # Probabilities 0 and 1 map to infinite logits; check_inputs only needs finite scores.
    y, _, m = check_inputs(y_true, np.clip(probability_to_logit(p), -1e9, 1e9), mask)
    return y, p.reshape(y.shape), m


def _bins(y, p, n_bins):
    index = np.minimum((p * n_bins).astype(int), n_bins - 1)  # p = 1 falls in the last bin
    counts = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.bincount(index, weights=y.astype(float), minlength=n_bins) / counts
        predicted = np.bincount(index, weights=p, minlength=n_bins) / counts
    return observed, predicted, counts


def reliability_curve(
    y_true: ArrayLike, probs: ArrayLike, *, n_bins: int = 15, mask: ArrayLike | None = None
) -> ReliabilityCurve:
    """Bins the predicted probabilities of all unmasked entries (pooled over classes).

    Returns:
        A `ReliabilityCurve` of `n_bins` equal-width bins on [0, 1].
    """
    y, p, m = _check_probs(y_true, probs, mask, n_bins)
    observed, predicted, counts = _bins(y[m], p[m], n_bins)
    centres = (np.arange(n_bins) + 0.5) / n_bins
    return ReliabilityCurve(centres, observed, predicted, counts)


def expected_calibration_error(
    y_true: ArrayLike,
    probs: ArrayLike,
    n_bins: int = 15,
    *,
    mask: ArrayLike | None = None,
    label_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Expected calibration error: `sum_b (n_b / n) |observed_b - mean predicted_b|`.

    Computed with equal-width bins per class over its unmasked entries; the macro value
    averages the classes that have any (others are null).

    Returns:
        A dict `{"per_class": {name: ece or None}, "macro": ece or None, "n_bins": n_bins}`.

    Example:
    >>> ece = expected_calibration_error([0, 1, 1, 1], [0.25, 0.75, 0.75, 0.75], n_bins=2)
    >>> round(ece["macro"], 6)  # (1 * 0.25 + 3 * 0.25) / 4
    0.25
    """
    y, p, m = _check_probs(y_true, probs, mask, n_bins)
    names = [str(c) for c in range(y.shape[1])] if label_names is None else list(label_names)
    if len(names) != y.shape[1]:
        raise ConfigError(f"`label_names` must be {y.shape[1]} names. Received: {names}")
    per_class = {}
    for c, name in enumerate(names):
        keep = m[:, c]
        if not keep.any():
            per_class[name] = None
            continue
        observed, predicted, counts = _bins(y[keep, c], p[keep, c], n_bins)
        filled = counts > 0
        gaps = np.abs(observed[filled] - predicted[filled])
        per_class[name] = json_float((counts[filled] * gaps).sum() / counts.sum())
    known = [v for v in per_class.values() if v is not None]
    return {
        "per_class": per_class,
        "macro": json_float(np.mean(known)) if known else None,
        "n_bins": int(n_bins),
    }
