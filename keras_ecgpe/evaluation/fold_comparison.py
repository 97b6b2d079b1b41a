"""Comparing two models over cross-validation folds: corrected t-test, sign test, Holm.

Per-fold paired differences d_1..d_n (n = k folds x r repeats) of a metric are the primary
result. Training sets of different folds overlap, so the folds' differences are correlated
and the plain paired t-test (variance var(d)/n) is too liberal. Nadeau & Bengio (2003), as
used by Bouckaert & Frank (2004), correct the variance to (1/n + n2/n1) var(d), with n1 and
n2 the training and test records per fold:

    t = mean(d) / sqrt((1/n + n2/n1) var(d)),  df = n - 1.

The exact sign test counts folds where A beats B (ties dropped) against Binomial(m, 1/2).
Holm's step-down procedure adjusts p-values of several comparisons for multiplicity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike


def _differences(differences):
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size < 2 or not np.isfinite(d).all():
        raise ConfigError(
            "`differences` must be at least 2 finite per-fold values. "
            f"Received: {np.asarray(differences).tolist()}"
        )
    return d


def corrected_resampled_ttest(
    differences: ArrayLike, *, n_train: ArrayLike, n_test: ArrayLike, alpha: float = 0.05
) -> dict:
    """Nadeau-Bengio corrected resampled t-test of per-fold paired differences.

    Args:
        differences: `(n,)` per-fold differences (model A - model B), all folds and repeats.
        n_train: training records per fold (a number, or `(n,)` per fold: their mean
            ratio n2/n1 is used).
        n_test: test records per fold (a number or `(n,)`).
        alpha: 1 - confidence level of the interval of the mean difference.

    Returns:
        `{"mean_difference", "t", "df", "p_value" (two-sided), "ci_low", "ci_high",
        "n_folds", "test_train_ratio", "alpha", "method"}`; "t" and "p_value" are None with
        "undefined": reason when all differences are equal.

    Example:
    >>> r = corrected_resampled_ttest([0.02, 0.03, 0.01, 0.04, 0.02], n_train=80, n_test=20)
    >>> round(r["t"], 3), r["df"]
    (3.138, 4)
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"`alpha` must be in (0, 1). Received: alpha={alpha}")
    d = _differences(differences)
    n1 = np.broadcast_to(np.asarray(n_train, dtype=np.float64), d.shape)
    n2 = np.broadcast_to(np.asarray(n_test, dtype=np.float64), d.shape)
    if not ((n1 > 0).all() and (n2 > 0).all()):
        raise ConfigError(
            f"`n_train` and `n_test` must be positive. Received: "
            f"n_train={np.asarray(n_train).tolist()}, "
            f"n_test={np.asarray(n_test).tolist()}"
        )
    ratio = float(np.mean(n2 / n1))
    n, mean = d.size, float(d.mean())
    se = float(np.sqrt((1 / n + ratio) * d.var(ddof=1)))
    half = float(stats.t.ppf(1 - alpha / 2, n - 1) * se)
    out = {
        "mean_difference": mean,
        "df": n - 1,
        "n_folds": n,
        "test_train_ratio": ratio,
        "se": se,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "alpha": float(alpha),
        "method": "corrected resampled t-test (Nadeau & Bengio 2003)",
    }
    if se == 0.0:
        out.update(t=None, p_value=None, undefined="all per-fold differences are equal")
        return out
    t = mean / se
    out.update(t=float(t), p_value=float(2 * stats.t.sf(abs(t), n - 1)))
    return out


def sign_test(differences: ArrayLike) -> dict:
    """Exact two-sided sign test of per-fold differences (ties, d == 0, are dropped).

    Returns:
        `{"n_positive", "n_negative", "n_ties", "p_value", "method"}`; "p_value" is None
        (with "undefined") when every difference is a tie.

    Example:
    >>> sign_test([0.1, 0.2, 0.05, 0.3, 0.0])["p_value"]
    0.125
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size == 0 or not np.isfinite(d).all():
        raise ConfigError(
            f"`differences` must be finite per-fold values. Received: "
            f"{np.asarray(differences).tolist()}"
        )
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    out = {
        "n_positive": pos,
        "n_negative": neg,
        "n_ties": int((d == 0).sum()),
        "method": "exact sign test (binomial, p = 1/2), ties dropped",
    }
    if pos + neg == 0:
        return {**out, "p_value": None, "undefined": "every difference is a tie"}
    return {**out, "p_value": float(stats.binomtest(pos, pos + neg, 0.5).pvalue)}


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order.

    Sorted ascending, adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j)).

    Example:
    >>> holm_adjust([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():
        raise ConfigError(
            f"`p_values` must be probabilities in [0, 1]. Received: {np.asarray(p_values).tolist()}"
        )
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = stepped
    return [float(v) for v in out]
