"""Threshold-free metrics of one class: AUROC, average precision, ROC points.

Every function takes the labels `y` `(n,)` of one class, its scores `(n,)` (logits: they
rank exactly like probabilities but never saturate, see docs/background.md, "Logits, not
probabilities") and optional record
weights `(n,)` or `(B, n)`. Weights are how the bootstrap works without copying data: a
resample is a row of counts (how often each record was drawn), so 1000 resamples are one
`(1000, n)` array and one pass. Unweighted calls use weight 1 for every record.

A record is predicted positive when `score >= threshold`. Records with equal scores share
every operating point, so all curves step over groups of tied scores, never inside one.
A row without positive or negative weight gives NaN (the metric is undefined there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

TOLERANCE = 1e-12  # so a specificity of 9/10 counts as reaching a target of 0.9


class OperatingPoint(NamedTuple):
    """One point of a ROC curve: predict positive when `score >= threshold`."""

    sensitivity: float
    specificity: float
    threshold: float


def tie_groups(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sums the positive and negative weight of each group of tied scores.

    Args:
        y: `(n,)` labels in {0, 1}.
        scores: `(n,)` finite scores.
        weight: `(n,)` or `(B, n)` non-negative record weights; None means 1 each.

    Returns:
        `(levels, pos, neg)`: the distinct scores in decreasing order `(G,)` and the
        positive and negative weight at each level, `(B, G)` (B = 1 without `weight`).
    """
    y = np.asarray(y).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != scores.shape or y.size == 0:
        raise ConfigError(
            f"`y` and `scores` must be non-empty and of equal length. "
            f"Received: {y.shape} and {scores.shape}"
        )
    if not np.isfinite(scores).all():
        raise ConfigError("`scores` must be finite. Received NaN or infinite values")
    w = np.ones((1, y.size)) if weight is None else np.atleast_2d(np.asarray(weight, float))
    if w.shape[1] != y.size:
        raise ConfigError(f"`weight` must have {y.size} columns. Received shape {w.shape}")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    w = w[:, order]
    pos = np.add.reduceat(w * y[order], starts, axis=1)
    neg = np.add.reduceat(w * ~y[order], starts, axis=1)
    return sorted_scores[starts], pos, neg


def _cumulative(y, scores, weight):
    """Returns levels, per-level positives and cumulative (tp, fp, P, N) at each level."""
    levels, pos, neg = tie_groups(y, scores, weight)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    return levels, pos, tp, fp, tp[:, -1:], fp[:, -1:]


def _squeeze(values, weight):
    values = np.asarray(values, dtype=np.float64)
    return float(values[0]) if weight is None or np.ndim(weight) == 1 else values


def auroc(y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None) -> float | np.ndarray:
    """Area under the ROC curve: the Mann-Whitney U statistic over `P * N` pairs.

    A positive scored above a negative counts 1, a tie counts 1/2 (the midrank rule), so the
    result equals the brute-force pair count and is unchanged by any strictly increasing
    transform of the scores (logits or sigmoid probabilities give the same value).

    Returns:
        A float (or `(B,)` array for `(B, n)` weights); NaN without positives or negatives.

    Example:
    >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.9])
    0.875
    """
    _, pos, neg = tie_groups(y, scores, weight)
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    below = n_neg[:, None] - np.cumsum(neg, axis=1)  # negatives scored strictly lower
    u = (pos * (below + 0.5 * neg)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _squeeze(np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan), weight)


def average_precision(
    y: ArrayLike, scores: ArrayLike, weight: ArrayLike | None = None
) -> float | np.ndarray:
    """Average precision: `sum_k (R_k - R_(k-1)) * P_k` over the distinct thresholds.

    The step-wise definition (no interpolation): each threshold's recall gain is weighted
    by the precision reached at that threshold.

    Example:
    >>> average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])  # (1 + 2/3) / 2
    0.8333333333333333
    """
    _, pos, tp, fp, n_pos, n_neg = _cumulative(y, scores, weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        ap = (pos * precision).sum(axis=1) / n_pos[:, 0]
    return _squeeze(np.where((n_pos[:, 0] > 0) & (n_neg[:, 0] > 0), ap, np.nan), weight)


def roc_curve(y: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve: `(fpr, tpr, thresholds)`, thresholds decreasing from `+inf`.

    Raises:
        ConfigError: `y` lacks positives or negatives.
    """
    levels, _, tp, fp, n_pos, n_neg = _cumulative(y, scores, None)
    if n_pos[0, 0] == 0 or n_neg[0, 0] == 0:
        raise ConfigError("a ROC curve needs positive and negative examples in `y`")
    fpr = np.r_[0.0, fp[0] / n_neg[0, 0]]
    return fpr, np.r_[0.0, tp[0] / n_pos[0, 0]], np.r_[np.inf, levels]


def precision_recall_curve(
    y: ArrayLike, scores: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The PR curve: `(precision, recall, thresholds)`, thresholds decreasing.

    Raises:
        ConfigError: `y` has no positives.
    """
    levels, _, tp, fp, n_pos, _ = _cumulative(y, scores, None)
    if n_pos[0, 0] == 0:
        raise ConfigError("a precision-recall curve needs positive examples in `y`")
    return tp[0] / (tp[0] + fp[0]), tp[0] / n_pos[0, 0], levels


def _best(y, scores, weight, target, name, fixed):
    if not 0.0 <= target <= 1.0:
        raise ConfigError(f"`{name}` must be in [0, 1]. Received: {name}={target}")
    levels, _, tp, fp, n_pos, n_neg = _cumulative(y, scores, weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Column 0 is the threshold above every score: nothing predicted positive.
        sens = np.c_[np.zeros(len(tp)), tp / n_pos]
        spec = np.c_[np.ones(len(tp)), (n_neg - fp) / n_neg]
    constrained, free = (spec, sens) if fixed == "specificity" else (sens, spec)
    allowed = constrained >= target - TOLERANCE
    # Among points meeting the target, the best value of the other rate (ties: first).
    best = np.argmax(np.where(allowed, free, -1.0), axis=1)
    rows = np.arange(len(tp))
    undefined = (n_pos[:, 0] == 0) | (n_neg[:, 0] == 0) | ~allowed.any(axis=1)
    thresholds = np.r_[np.inf, levels][best]
    return (
        np.where(undefined, np.nan, sens[rows, best]),
        np.where(undefined, np.nan, spec[rows, best]),
        thresholds,
    )


def operating_point(
    y: ArrayLike,
    scores: ArrayLike,
    *,
    min_specificity: float | None = None,
    min_sensitivity: float | None = None,
) -> OperatingPoint:
    """The ROC point with the best sensitivity at `specificity >= min_specificity` (or the
    best specificity at `sensitivity >= min_sensitivity`), with its threshold.

    Returns:
        An `OperatingPoint`; its rates are NaN when `y` lacks positives or negatives.
    """
    if (min_specificity is None) == (min_sensitivity is None):
        raise ConfigError(
            "give exactly one of `min_specificity` and `min_sensitivity`. "
            f"Received: {min_specificity} and {min_sensitivity}"
        )
    if min_specificity is not None:
        sens, spec, thr = _best(y, scores, None, min_specificity, "min_specificity", "specificity")
    else:
        sens, spec, thr = _best(y, scores, None, min_sensitivity, "min_sensitivity", "sensitivity")
    return OperatingPoint(float(sens[0]), float(spec[0]), float(thr[0]))


def sensitivity_at_specificity(
    y: ArrayLike, scores: ArrayLike, specificity: float = 0.9, weight: ArrayLike | None = None
) -> float | np.ndarray:
    """The best sensitivity among thresholds whose specificity is at least `specificity`.

    Example:
    >>> y, scores = [0, 0, 0, 0, 1, 1], [1, 2, 3, 5, 4, 6]
    >>> sensitivity_at_specificity(y, scores, 0.9), sensitivity_at_specificity(y, scores, 0.75)
    (0.5, 1.0)
    """
    return _squeeze(_best(y, scores, weight, specificity, "specificity", "specificity")[0], weight)


def specificity_at_sensitivity(
    y: ArrayLike, scores: ArrayLike, sensitivity: float = 0.9, weight: ArrayLike | None = None
) -> float | np.ndarray:
    """The best specificity among thresholds whose sensitivity is at least `sensitivity`."""
    return _squeeze(_best(y, scores, weight, sensitivity, "sensitivity", "sensitivity")[1], weight)
