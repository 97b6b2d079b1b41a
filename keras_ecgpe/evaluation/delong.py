"""DeLong's AUROC variance and paired test, with the O(N log N) midrank algorithm.

DeLong, DeLong & Clarke-Pearson (1988): for m positives X_i and n negatives Y_j, with
psi(x, y) = 1 if x > y, 1/2 if x == y, 0 otherwise, the structural components are
V10_i = mean_j psi(X_i, Y_j) and V01_j = mean_i psi(X_i, Y_j); AUC = mean V10 = mean V01 and
Var(AUC) = s10/m + s01/n (sample variances). For k models on the same records the same
components give the k x k covariance, hence the paired test
z = (A1 - A2) / sqrt(Var1 + Var2 - 2 Cov12).

Sun & Xu (2014) compute the components from midranks in O(N log N): with Tx the midranks of
the positives among themselves, Ty of the negatives among themselves and Tz of all records,
V10_i = (Tz_i - Tx_i) / n and V01_j = 1 - (Tz_j - Ty_j) / m.

The interval of one AUROC is computed on the logit scale of the AUC (delta method,
se_logit = se / (A (1 - A))) and transformed back, so it stays inside (0, 1); the interval
of a difference is on the plain scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

METHOD = "DeLong (1988), midrank algorithm of Sun & Xu (2014)"


def _inputs(y_true, scores):
    y = np.asarray(y_true)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if y.ndim != 1 or s.shape[1] != y.shape[0] or not np.isin(y, (0, 1)).all():
        raise ConfigError(
            "`y_true` must be (n,) labels in {0, 1} and scores (n,) or (k, n). "
            f"Received shapes {y.shape} and {np.shape(scores)}"
        )
    if not np.isfinite(s).all():
        raise ConfigError("Scores must be finite. Received NaN or infinite values")
    y = y.astype(bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise ConfigError(
            "DeLong's variance needs at least 2 positives and 2 negatives. "
            f"Received {m} positives and {n} negatives"
        )
    return y, s, m, n


def delong_components(y_true: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs and their DeLong covariance matrix for k score vectors on the same records.

    Args:
        y_true: `(n,)` labels in {0, 1} (at least 2 of each).
        scores: `(n,)` or `(k, n)` scores (logits).

    Returns:
        `(auc, covariance)`: `(k,)` AUROCs and the `(k, k)` covariance matrix.
    """
    y, s, m, n = _inputs(y_true, scores)
    pos, neg = s[:, y], s[:, ~y]
    tx = stats.rankdata(pos, axis=1)
    ty = stats.rankdata(neg, axis=1)
    tz = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    auc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    covariance = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return auc, covariance


def delong_auroc(y_true: ArrayLike, scores: ArrayLike, *, alpha: float = 0.05) -> dict:
    """AUROC with its DeLong standard error and a logit-scale confidence interval.

    Args:
        y_true: `(n,)` labels in {0, 1} (at least 2 positives and 2 negatives).
        scores: `(n,)` scores (logits).
        alpha: 1 - confidence level.

    Returns:
        `{"auroc", "se", "ci_low", "ci_high", "alpha", "n_positive", "n_negative",
        "method", "ci_scale": "logit", "warning"}` ("warning" None unless the AUROC is 0
        or 1, where the variance is 0 and the interval degenerate).

    Example:
    >>> r = delong_auroc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    >>> round(r["auroc"], 4), r["ci_low"] < r["auroc"] < r["ci_high"]
    (0.8889, True)
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"`alpha` must be in (0, 1). Received: alpha={alpha}")
    auc, cov = delong_components(y_true, scores)
    a, se = float(auc[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    y = np.asarray(y_true).astype(bool)
    out = {
        "auroc": a,
        "se": se,
        "alpha": float(alpha),
        "n_positive": int(y.sum()),
        "n_negative": int((~y).sum()),
        "method": METHOD,
        "ci_scale": "logit",
        "warning": None,
    }
    if a in (0.0, 1.0):
        out.update(
            ci_low=a,
            ci_high=a,
            warning=f"AUROC is {a:g}: DeLong's variance is 0 "
            "and the interval is degenerate; report the bootstrap interval instead",
        )
        return out
    z = stats.norm.ppf(1 - alpha / 2)
    centre, half = np.log(a / (1 - a)), z * se / (a * (1 - a))
    out.update(
        ci_low=float(1 / (1 + np.exp(-(centre - half)))),
        ci_high=float(1 / (1 + np.exp(-(centre + half)))),
    )
    return out


def delong_test(
    y_true: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, *, alpha: float = 0.05
) -> dict:
    """Paired DeLong test of two models' AUROCs on the same records.

    Args:
        y_true: `(n,)` labels in {0, 1}.
        scores_a: `(n,)` scores of model A.
        scores_b: `(n,)` scores of model B, for the same records in the same order.
        alpha: 1 - confidence level of the difference's interval.

    Returns:
        `{"auroc_a", "auroc_b", "difference" (A - B), "se", "z", "p_value" (two-sided),
        "ci_low", "ci_high" (of the difference, plain scale), "correlation", "alpha",
        "method"}`; "z" and "p_value" are None (with "undefined": reason) when the
        difference has zero variance.

    Example:
    >>> r = delong_test([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9],
    ...                 [0.3, 0.2, 0.1, 0.4, 0.5, 0.6])
    >>> round(r["difference"], 4)
    0.3333
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"`alpha` must be in (0, 1). Received: alpha={alpha}")
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ConfigError(
            f"`scores_a` and `scores_b` must have one shape. Received {a.shape} and {b.shape}"
        )
    auc, cov = delong_components(y_true, np.stack([a, b]))
    diff = float(auc[0] - auc[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    denominator = np.sqrt(cov[0, 0] * cov[1, 1])
    out = {
        "auroc_a": float(auc[0]),
        "auroc_b": float(auc[1]),
        "difference": diff,
        "se": float(np.sqrt(max(var, 0.0))),
        "alpha": float(alpha),
        "method": METHOD,
        "correlation": float(cov[0, 1] / denominator) if denominator > 0 else None,
    }
    half = stats.norm.ppf(1 - alpha / 2) * out["se"]
    out.update(ci_low=diff - half, ci_high=diff + half)
    if var <= 1e-300:
        out.update(z=None, p_value=None, undefined="the paired difference has zero variance")
        return out
    z = diff / np.sqrt(var)
    out.update(z=float(z), p_value=float(2 * stats.norm.sf(abs(z))))
    return out
