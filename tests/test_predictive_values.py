"""PPV and NPV at a stated prevalence: the Mercaldo, Lau & Zhou (2007) logit intervals.

Property tests over random 2x2 tables (zeros included): the interval contains its estimate
and stays in [0, 1]; with a zero count the estimate and interval are the adjusted-logit ones,
checked by hand; with large counts the interval agrees with a parametric bootstrap of
sensitivity and specificity.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from keras_ecgpe.evaluation import predictive_values_at_prevalence

Z = stats.norm.ppf(0.975)
PREVALENCES = st.floats(0.001, 0.999)


def _bayes(sens, spec, pi):
    return sens * pi / (sens * pi + (1 - spec) * (1 - pi)), spec * (1 - pi) / (
        spec * (1 - pi) + (1 - sens) * pi
    )


def _defined(r):
    return [(k, r[k]) for k in ("ppv", "npv") if r[k]["value"] is not None]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=4, max_size=4), PREVALENCES)
def test_interval_contains_estimate_and_stays_in_unit_range(counts, pi):
    tp, fp, tn, fn = counts
    if tp + fn == 0 or tn + fp == 0:
        r = predictive_values_at_prevalence(tp, fp, tn, fn, pi)
        assert r["ppv"]["value"] is None and r["npv"]["value"] is None
        return
    r = predictive_values_at_prevalence(tp, fp, tn, fn, pi)
    assert (r["ppv"]["value"] is None) == (tp + fp == 0)
    assert (r["npv"]["value"] is None) == (tn + fn == 0)
    for _, e in _defined(r):
        assert 0.0 <= e["ci_low"] <= e["value"] <= e["ci_high"] <= 1.0
        assert e.get("adjusted", False) == (min(counts) == 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=4, max_size=4), PREVALENCES)
def test_zero_count_uses_adjusted_logit_estimate_and_interval(counts, pi):
    tp, fp, tn, fn = counts
    if min(counts) != 0 or tp + fn == 0 or tn + fp == 0:
        return
    r = predictive_values_at_prevalence(tp, fp, tn, fn, pi)
    n1, n0 = tp + fn + Z * Z, tn + fp + Z * Z
    se, sp = (tp + Z * Z / 2) / n1, (tn + Z * Z / 2) / n0
    ppv, npv = _bayes(se, sp, pi)
    with np.errstate(invalid="ignore"):  # 0/0 where nothing is called positive/negative
        raw_ppv, raw_npv = _bayes(np.float64(tp / (tp + fn)), np.float64(tn / (tn + fp)), pi)
    var = {
        "ppv": (1 - se) / (se * n1) + sp / ((1 - sp) * n0),
        "npv": (1 - sp) / (sp * n0) + se / ((1 - se) * n1),
    }
    for key, value, raw in (("ppv", ppv, raw_ppv), ("npv", npv, raw_npv)):
        e = r[key]
        if e["value"] is None:
            continue
        assert e["value"] == pytest.approx(value, rel=1e-9, abs=1e-12)
        assert e["unadjusted_value"] == pytest.approx(raw, rel=1e-9, abs=1e-12)
        centre, half = np.log(value / (1 - value)), Z * np.sqrt(var[key])
        low, high = 1 / (1 + np.exp(-(centre - half))), 1 / (1 + np.exp(-(centre + half)))
        assert (e["ci_low"], e["ci_high"]) == pytest.approx((low, high), rel=1e-9, abs=1e-12)


def test_no_false_positive_no_longer_claims_ppv_of_one():
    # The defect: FP = 0 gave PPV 1.000 with an interval of about 0.01-0.21 beside it.
    r = predictive_values_at_prevalence(5, 0, 20, 5, 0.01)
    ppv = r["ppv"]
    assert ppv["unadjusted_value"] == 1.0 and ppv["value"] < 1.0
    assert ppv["ci_low"] <= ppv["value"] <= ppv["ci_high"] < 1.0
    assert "adjusted" in ppv["method"]
    # NPV with FN = 0 alike.
    npv = predictive_values_at_prevalence(10, 3, 30, 0, 0.5)["npv"]
    assert npv["unadjusted_value"] == 1.0
    assert npv["ci_low"] <= npv["value"] <= npv["ci_high"] < 1.0


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(100, 2000), min_size=4, max_size=4), PREVALENCES)
def test_large_counts_agree_with_parametric_bootstrap(counts, pi):
    tp, fp, tn, fn = counts
    r = predictive_values_at_prevalence(tp, fp, tn, fn, pi)
    assert "adjusted" not in r["ppv"] and "unadjusted_value" not in r["ppv"]
    assert (r["ppv"]["value"], r["npv"]["value"]) == pytest.approx(
        _bayes(tp / (tp + fn), tn / (tn + fp), pi)
    )
    rng = np.random.default_rng(0)
    sens = rng.binomial(tp + fn, tp / (tp + fn), 20000) / (tp + fn)
    spec = rng.binomial(tn + fp, tn / (tn + fp), 20000) / (tn + fp)
    for (key, e), draws in zip(_defined(r), _bayes(sens, spec, pi)):
        low, high = np.quantile(draws, [0.025, 0.975])
        width = e["ci_high"] - e["ci_low"]
        # Measured worst case over 300 random tables: 3.7 % of the width.
        assert abs(low - e["ci_low"]) < 0.08 * width, key
        assert abs(high - e["ci_high"]) < 0.08 * width, key
