"""Confidence intervals of proportions (sensitivity, specificity, PPV, NPV) and of PPV/NPV
at a stated prevalence.

Wilson score and Clopper-Pearson (exact) intervals come from statsmodels
(`proportion_confint`, methods "wilson" and "beta"). Both treat the records as independent;
when one patient contributes several records, state the patient bootstrap beside them.

PPV and NPV at a prevalence `pi` that is not the cohort's are functions of sensitivity and
specificity (Bayes). Their interval is the logit interval of Mercaldo, Lau & Zhou (2007):
`logit(PPV) = log(sens pi / ((1 - spec)(1 - pi)))` with delta-method variance
`(1 - sens) / (sens n_pos) + spec / ((1 - spec) n_neg)` (NPV alike, roles swapped), as the
two proportions come from independent groups. When a count is 0 or complete the logit is
infinite, so sensitivity and specificity are then replaced in the interval by their
adjusted values `(x + z^2/2) / (n + z^2)` (the "adjusted logit" interval of the same paper).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.inputs import json_float

# The report's primary interval for sensitivity, specificity, PPV and NPV: it kept coverage
# >= 0.95 at 5, 10 and 30 positives where Wilson dipped to 0.91 and the percentile bootstrap
# to 0.41 (benchmarks/interval_coverage.py, docs/statistics.md).
DEFAULT_INTERVAL = "clopper-pearson"
INTERVAL_METHODS = {
    "wilson": ("wilson", "Wilson score interval"),
    "clopper-pearson": ("beta", "Clopper-Pearson exact interval"),
}
PREVALENCE_METHOD = "logit interval (Mercaldo, Lau & Zhou 2007), adjusted when a count is 0"


def _check_alpha(alpha):
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"`alpha` must be in (0, 1). Received: alpha={alpha}")


def proportion_ci(
    successes: int,
    total: int,
    *,
    method: str = DEFAULT_INTERVAL,
    alpha: float = 0.05,
    undefined_reason: str = "empty denominator",
) -> dict:
    """Point estimate and confidence interval of `successes / total`.

    Args:
        successes: the count x.
        total: the count n (x <= n).
        method: "clopper-pearson" (default) or "wilson".
        alpha: 1 - confidence level.
        undefined_reason: the reason stated when `total` is 0.

    Returns:
        `{"value", "ci_low", "ci_high", "successes", "total", "alpha", "method"}`; value and
        bounds are None (with "undefined": reason) when `total` is 0.

    Example:
    >>> r = proportion_ci(8, 10, method="clopper-pearson")
    >>> round(r["ci_low"], 4), round(r["ci_high"], 4)
    (0.4439, 0.9748)
    """
    if method not in INTERVAL_METHODS:
        raise ConfigError(
            f"`method` must be one of {sorted(INTERVAL_METHODS)}. Received: method={method!r}"
        )
    _check_alpha(alpha)
    x, n = int(successes), int(total)
    if x != successes or n != total or not 0 <= x <= n:
        raise ConfigError(
            f"Counts must be integers with 0 <= successes <= total. "
            f"Received: successes={successes}, total={total}"
        )
    code, name = INTERVAL_METHODS[method]
    out = {"successes": x, "total": n, "alpha": float(alpha), "method": name}
    if n == 0:
        return {
            "value": None,
            "ci_low": None,
            "ci_high": None,
            **out,
            "undefined": undefined_reason,
        }
    low, high = proportion_confint(x, n, alpha=alpha, method=code)
    # statsmodels leaves NaN at x = 0 / x = n for "beta" in some versions: the exact bounds.
    low, high = (0.0 if x == 0 else float(low)), (1.0 if x == n else float(high))
    return {"value": x / n, "ci_low": low, "ci_high": high, **out}


def _logit_interval(estimate_log_odds, variance, z):
    half = z * np.sqrt(variance)
    expit = stats.logistic.cdf
    return float(expit(estimate_log_odds - half)), float(expit(estimate_log_odds + half))


def _adjusted(x, n, z, adjust):
    return ((x + z * z / 2) / (n + z * z), n + z * z) if adjust else (x / n, n)


def predictive_values_at_prevalence(
    tp: int, fp: int, tn: int, fn: int, prevalence: float, *, alpha: float = 0.05
) -> dict:
    """PPV and NPV at a stated prevalence, with logit intervals (Mercaldo et al. 2007).

    Args:
        tp, fp, tn, fn: the 2x2 counts at one operating point.
        prevalence: the target population's prevalence, in (0, 1).
        alpha: 1 - confidence level.

    Returns:
        `{"prevalence", "ppv": {...}, "npv": {...}}`, each `{"value", "ci_low", "ci_high",
        "method", "alpha"}`; a value that cannot be formed (no positives or no negatives, or
        nothing called positive/negative) is None with "undefined": reason.

    Example:
    >>> r = predictive_values_at_prevalence(18, 10, 90, 2, 0.05)
    >>> round(r["ppv"]["value"], 3), round(r["npv"]["value"], 4)
    (0.321, 0.9942)
    """
    _check_alpha(alpha)
    if not 0.0 < prevalence < 1.0:
        raise ConfigError(f"`prevalence` must be in (0, 1). Received: prevalence={prevalence}")
    n_pos, n_neg = tp + fn, tn + fp
    base = {"alpha": float(alpha), "method": PREVALENCE_METHOD}
    if n_pos == 0 or n_neg == 0:
        reason = "no positive record" if n_pos == 0 else "no negative record"
        none = {"value": None, "ci_low": None, "ci_high": None, "undefined": reason, **base}
        return {"prevalence": float(prevalence), "ppv": dict(none), "npv": dict(none)}
    z = float(stats.norm.ppf(1 - alpha / 2))
    sens, spec = tp / n_pos, tn / n_neg
    pi = float(prevalence)
    adjust = min(tp, fn, tn, fp) == 0
    s_adj, n1 = _adjusted(tp, n_pos, z, adjust)
    c_adj, n0 = _adjusted(tn, n_neg, z, adjust)
    prior = np.log(pi / (1 - pi))
    out = {"prevalence": pi}
    if tp + fp == 0:
        out["ppv"] = {
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "undefined": "no record called positive",
            **base,
        }
    else:
        ppv = sens * pi / (sens * pi + (1 - spec) * (1 - pi))
        log_odds = np.log(s_adj / (1 - c_adj)) + prior
        var = (1 - s_adj) / (s_adj * n1) + c_adj / ((1 - c_adj) * n0)
        low, high = _logit_interval(log_odds, var, z)
        out["ppv"] = {"value": float(ppv), "ci_low": low, "ci_high": high, **base}
    if tn + fn == 0:
        out["npv"] = {
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "undefined": "no record called negative",
            **base,
        }
    else:
        npv = spec * (1 - pi) / (spec * (1 - pi) + (1 - sens) * pi)
        log_odds = np.log(c_adj / (1 - s_adj)) - prior
        var = (1 - c_adj) / (c_adj * n0) + s_adj / ((1 - s_adj) * n1)
        low, high = _logit_interval(log_odds, var, z)
        out["npv"] = {"value": json_float(npv), "ci_low": low, "ci_high": high, **base}
    return out
