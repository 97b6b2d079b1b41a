"""Confidence intervals of proportions (sensitivity, specificity, PPV, NPV) and of PPV/NPV
at a stated prevalence.

Wilson score and Clopper-Pearson (exact) intervals come from statsmodels
(`proportion_confint`, methods "wilson" and "beta"). Both treat the records as independent;
when one patient contributes several records, state the patient bootstrap beside them.

PPV and NPV at a prevalence `pi` that is not the cohort's are functions of sensitivity and
specificity (Bayes). Their interval is the logit interval of Mercaldo, Lau & Zhou (2007):
`logit(PPV) = log(sens pi / ((1 - spec)(1 - pi)))` with delta-method variance
`(1 - sens) / (sens n_pos) + spec / ((1 - spec) n_neg)` (NPV alike, roles swapped), as the
two proportions come from independent groups. When any of the four counts is 0 that logit or
its variance is infinite, so the paper's "adjusted logit" interval is used instead: sensitivity
and specificity become `(x + z^2/2) / (n + z^2)`, the counts `n + z^2`, and the point
estimate is the adjusted PPV/NPV the interval is centred on (the paper's Table II), so the
interval always contains it. The unadjusted Bayes value (e.g. PPV = 1 with no false
positive) is kept beside it as `unadjusted_value`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from keras_ecgpe.errors import ConfigError

# The report's primary interval for sensitivity, specificity, PPV and NPV: it kept coverage
# >= 0.95 at 5, 10 and 30 positives where Wilson dipped to 0.91 and the percentile bootstrap
# to 0.41 (benchmarks/interval_coverage.py, docs/statistics.md).
DEFAULT_INTERVAL = "clopper-pearson"
INTERVAL_METHODS = {
    "wilson": ("wilson", "Wilson score interval"),
    "clopper-pearson": ("beta", "Clopper-Pearson exact interval"),
}
PREVALENCE_METHOD = "logit interval (Mercaldo, Lau & Zhou 2007)"
ADJUSTED_METHOD = (
    "adjusted logit interval (Mercaldo, Lau & Zhou 2007): a count is 0, so sensitivity and "
    "specificity are (x + z^2/2)/(n + z^2) in the estimate and its interval"
)


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


def _adjusted(x, n, z, adjust):
    """A proportion and its count, plus z^2/2 successes and z^2/2 failures when `adjust`."""
    return ((x + z * z / 2) / (n + z * z), n + z * z) if adjust else (x / n, n)


def _logit_estimate(log_odds, variance, z, base, unadjusted):
    """Estimate expit(log_odds) and its symmetric logit interval, all from one centre."""
    expit = stats.logistic.cdf
    half = z * np.sqrt(variance)
    out = {
        "value": float(expit(log_odds)),
        "ci_low": float(expit(log_odds - half)),
        "ci_high": float(expit(log_odds + half)),
        **base,
    }
    if unadjusted is not None:
        out["unadjusted_value"] = float(unadjusted)
    return out


def predictive_values_at_prevalence(
    tp: int, fp: int, tn: int, fn: int, prevalence: float, *, alpha: float = 0.05
) -> dict:
    """PPV and NPV at a stated prevalence, with logit intervals (Mercaldo et al. 2007).

    With all four counts above 0 the estimate is Bayes from the observed sensitivity and
    specificity and the interval the plain logit interval. With any count 0 (a perfect
    sensitivity or specificity, or none at all) both are the paper's adjusted logit ones:
    sensitivity and specificity `(x + z^2/2) / (n + z^2)`, so the estimate stays inside its
    interval and below 1 (e.g. no false positive among 100 negatives no longer claims a PPV
    of exactly 1 at any prevalence); the unadjusted Bayes value is `unadjusted_value`.

    Args:
        tp, fp, tn, fn: the 2x2 counts at one operating point.
        prevalence: the target population's prevalence, in (0, 1).
        alpha: 1 - confidence level.

    Returns:
        `{"prevalence", "ppv": {...}, "npv": {...}}`, each `{"value", "ci_low", "ci_high",
        "method", "alpha"}` (plus `"adjusted": True` and `"unadjusted_value"` when a count
        is 0; `ci_low <= value <= ci_high`, all in [0, 1]); a value that cannot be formed (no
        positives or no negatives, or nothing called positive/negative) is None with
        "undefined": reason.

    Example:
    >>> r = predictive_values_at_prevalence(18, 10, 90, 2, 0.05)
    >>> round(r["ppv"]["value"], 3), round(r["npv"]["value"], 4)
    (0.321, 0.9942)
    >>> r = predictive_values_at_prevalence(18, 0, 100, 2, 0.05)
    >>> r["ppv"]["unadjusted_value"], round(r["ppv"]["value"], 3)
    (1.0, 0.704)
    """
    _check_alpha(alpha)
    if not 0.0 < prevalence < 1.0:
        raise ConfigError(f"`prevalence` must be in (0, 1). Received: prevalence={prevalence}")
    n_pos, n_neg = tp + fn, tn + fp
    adjust = min(tp, fn, tn, fp) == 0
    base = {"alpha": float(alpha), "method": ADJUSTED_METHOD if adjust else PREVALENCE_METHOD}
    if adjust:
        base["adjusted"] = True
    if n_pos == 0 or n_neg == 0:
        reason = "no positive record" if n_pos == 0 else "no negative record"
        none = {"value": None, "ci_low": None, "ci_high": None, "undefined": reason, **base}
        return {"prevalence": float(prevalence), "ppv": dict(none), "npv": dict(none)}
    z = float(stats.norm.ppf(1 - alpha / 2))
    pi = float(prevalence)
    sens, n1 = _adjusted(tp, n_pos, z, adjust)
    spec, n0 = _adjusted(tn, n_neg, z, adjust)
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
        raw = tp / n_pos * pi / (tp / n_pos * pi + fp / n_neg * (1 - pi)) if adjust else None
        log_odds = np.log(sens / (1 - spec)) + prior
        var = (1 - sens) / (sens * n1) + spec / ((1 - spec) * n0)
        out["ppv"] = _logit_estimate(log_odds, var, z, base, raw)
    if tn + fn == 0:
        out["npv"] = {
            "value": None,
            "ci_low": None,
            "ci_high": None,
            "undefined": "no record called negative",
            **base,
        }
    else:
        raw = tn / n_neg * (1 - pi) / (tn / n_neg * (1 - pi) + fn / n_pos * pi) if adjust else None
        log_odds = np.log(spec / (1 - sens)) - prior
        var = (1 - spec) / (spec * n0) + sens / ((1 - sens) * n1)
        out["npv"] = _logit_estimate(log_odds, var, z, base, raw)
    return out
