"""Hand-written statistics against scipy / statsmodels / scikit-learn, on random and tied data."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import brier_score_loss, roc_auc_score
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import (
    accuracy_at_cut,
    bootstrap_interval_warnings,
    brier_score,
    calibration_intercept_slope,
    corrected_resampled_ttest,
    decision_curve,
    delong_auroc,
    delong_test,
    ece_with_noise_floor,
    expected_calibration_error,
    holm_adjust,
    plot_decision_curve,
    predictive_values_at_prevalence,
    proportion_ci,
    sigmoid,
    sign_test,
    small_sample_warnings,
    two_by_two,
)
from keras_ecgpe.evaluation.calibration_stats import ece_from_weights
from keras_ecgpe.evaluation.delong import delong_components


def _data(n, seed, tied):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2], y[2:4] = 1, 0
    z = rng.normal(size=(2, n)) + y
    return y, (np.round(z) if tied else z)


def _brute_force_delong(y, scores):
    """DeLong's formula written out over all m x n pairs."""
    y = y.astype(bool)
    comps = []
    for s in scores:
        x, w = s[y][:, None], s[~y][None, :]
        psi = (x > w) + 0.5 * (x == w)
        comps.append((psi.mean(axis=1), psi.mean(axis=0)))
    auc = np.array([v10.mean() for v10, _ in comps])
    m, n = y.sum(), (~y).sum()
    v10 = np.array([c[0] for c in comps])
    v01 = np.array([c[1] for c in comps])
    return auc, np.cov(v10) / m + np.cov(v01) / n


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_the_pairwise_formula_and_sklearn(seed, tied):
    y, z = _data(57, seed, tied)
    fast_auc, fast_cov = delong_components(y, z)
    slow_auc, slow_cov = _brute_force_delong(y, z)
    np.testing.assert_allclose(fast_auc, slow_auc, rtol=0, atol=1e-14)
    np.testing.assert_allclose(fast_cov, slow_cov, rtol=1e-10, atol=1e-16)
    assert fast_auc[0] == pytest.approx(roc_auc_score(y, z[0]), abs=1e-14)
    single = delong_auroc(y, z[0])
    assert single["se"] == pytest.approx(np.sqrt(slow_cov[0, 0]), rel=1e-10)
    assert single["ci_low"] < single["auroc"] < single["ci_high"]
    test = delong_test(y, z[0], z[1])
    var = slow_cov[0, 0] + slow_cov[1, 1] - 2 * slow_cov[0, 1]
    assert test["z"] == pytest.approx((slow_auc[0] - slow_auc[1]) / np.sqrt(var), rel=1e-10)
    assert test["p_value"] == pytest.approx(2 * stats.norm.sf(abs(test["z"])), rel=1e-12)
    assert test["ci_low"] < test["difference"] < test["ci_high"]


def test_delong_edge_cases():
    perfect = delong_auroc([0, 0, 1, 1], [0.0, 1.0, 2.0, 3.0])
    assert perfect["auroc"] == 1.0 and perfect["ci_low"] == 1.0 and perfect["warning"]
    with pytest.raises(ConfigError, match="2 positives"):
        delong_auroc([0, 0, 1], [0.0, 1.0, 2.0])
    same = delong_test([0, 0, 1, 1, 0], [0, 1, 2, 3, 1.5], [0, 1, 2, 3, 1.5])
    assert same["p_value"] is None and same["difference"] == 0.0


@pytest.mark.parametrize("method,code", [("wilson", "wilson"), ("clopper-pearson", "beta")])
def test_proportion_intervals_match_statsmodels_and_scipy(method, code):
    for x, n in [(0, 5), (1, 5), (4, 5), (5, 5), (8, 10), (27, 30), (0, 1)]:
        r = proportion_ci(x, n, method=method)
        low, high = proportion_confint(x, n, method=code)
        low, high = (0.0 if x == 0 else low), (1.0 if x == n else high)
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((low, high), abs=1e-12)
        scipy_ci = stats.binomtest(x, n).proportion_ci(
            method="exact" if code == "beta" else "wilson"
        )
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((scipy_ci.low, scipy_ci.high), abs=1e-9)
        assert r["method"].lower().startswith(method.split("-")[0])
    empty = proportion_ci(0, 0)
    assert empty["value"] is None and empty["undefined"] == "empty denominator"


def test_wilson_formula_by_hand():
    x, n, z = 7, 9, stats.norm.ppf(0.975)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    r = proportion_ci(x, n, method="wilson")
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((centre - half, centre + half))


def test_predictive_values_at_prevalence_follow_bayes_and_cover_their_value():
    r = predictive_values_at_prevalence(40, 20, 80, 10, 0.05)
    sens, spec = 0.8, 0.8
    assert r["ppv"]["value"] == pytest.approx(sens * 0.05 / (sens * 0.05 + 0.2 * 0.95))
    assert r["npv"]["value"] == pytest.approx(spec * 0.95 / (spec * 0.95 + 0.2 * 0.05))
    for k in ("ppv", "npv"):
        assert r[k]["ci_low"] < r[k]["value"] < r[k]["ci_high"]
    # Logit interval by hand for the PPV.
    var = (1 - sens) / (sens * 50) + spec / ((1 - spec) * 100)
    centre = np.log(sens * 0.05 / (0.2 * 0.95))
    q = stats.norm.ppf(0.975)
    assert r["ppv"]["ci_low"] == pytest.approx(sigmoid(centre - q * np.sqrt(var)))
    perfect = predictive_values_at_prevalence(10, 0, 30, 0, 0.1)  # adjusted logit: finite
    assert perfect["ppv"]["unadjusted_value"] == 1.0
    assert 0 < perfect["ppv"]["ci_low"] < perfect["ppv"]["value"] < perfect["ppv"]["ci_high"] < 1
    nothing = predictive_values_at_prevalence(0, 0, 30, 10, 0.1)
    assert nothing["ppv"]["value"] is None and nothing["npv"]["value"] is not None


def test_two_by_two_and_accuracy_at_cut():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    z = np.array([3.0, 1.0, -1.0, 2.0, -2.0, -3.0, 0.0, 0.0])
    table = two_by_two(y, z, 0.0)
    assert (table.tp, table.fp, table.fn, table.tn) == (3, 2, 1, 2)
    assert table.to_dict()["prevalence"] == 0.5 and table.n == 8
    r = accuracy_at_cut(y, z, 0.0, method="clopper-pearson", prevalence=0.1)
    assert r["sensitivity"]["value"] == 0.75 and r["ppv"]["value"] == 0.6
    assert r["sensitivity"]["method"] == "Clopper-Pearson exact interval"
    assert r["at_prevalence"]["prevalence"] == 0.1
    assert len(r["warnings"]) == 2 and "only 4 positives" in r["warnings"][0]
    nothing = accuracy_at_cut(y, z, 10.0)
    assert nothing["ppv"]["value"] is None
    assert nothing["ppv"]["undefined"] == "no record called positive"


def test_small_sample_warnings():
    assert small_sample_warnings(10, 10) == []
    assert len(small_sample_warnings(9, 3, label="PE")) == 2
    assert bootstrap_interval_warnings(30, 300) == []
    assert ["sensitivity" in w for w in bootstrap_interval_warnings(29, 300)] == [True]


@pytest.mark.parametrize("tied", [False, True])
def test_brier_and_ece_match_the_references(tied):
    rng = np.random.default_rng(3)
    z = rng.normal(size=300)
    z = np.round(z) if tied else z
    y = (rng.random(300) < sigmoid(z)).astype(int)
    assert brier_score(y, z) == pytest.approx(brier_score_loss(y, sigmoid(z)), abs=1e-15)
    vectorised = ece_from_weights(y.astype(float), sigmoid(z), np.ones(300), 15)[0]
    assert vectorised == pytest.approx(
        expected_calibration_error(y, sigmoid(z), 15)["macro"], abs=1e-14
    )


def test_calibration_intercept_and_slope_match_a_direct_logistic_fit():
    import statsmodels.api as sm

    rng = np.random.default_rng(4)
    z = rng.normal(0, 2, 3000)
    y = (rng.random(3000) < sigmoid(0.5 + 0.7 * z)).astype(int)
    r = calibration_intercept_slope(y, z)
    assert r["slope"]["value"] == pytest.approx(0.7, abs=0.1)
    assert r["slope"]["ci_low"] < 0.7 < r["slope"]["ci_high"]
    logit = sm.Logit(y, sm.add_constant(z)).fit(disp=0)
    assert r["slope"]["value"] == pytest.approx(logit.params[1], rel=1e-6)
    assert r["slope"]["se"] == pytest.approx(logit.bse[1], rel=1e-4)
    offset = sm.GLM(y, np.ones(3000), family=sm.families.Binomial(), offset=z).fit()
    assert r["intercept"]["value"] == pytest.approx(offset.params[0], rel=1e-8)
    separated = calibration_intercept_slope([0, 0, 1, 1], [-2.0, -1.0, 1.0, 2.0])
    assert separated["slope"]["value"] is None and "fit failed" in separated["slope"]["undefined"]
    single = calibration_intercept_slope([1, 1, 1], [0.0, 1.0, 2.0])
    assert single["intercept"]["undefined"] == "only one class in the labels"


def test_ece_noise_floor_sits_near_the_ece_of_calibrated_data():
    rng = np.random.default_rng(5)
    z = rng.normal(0, 1.5, 135)
    y = (rng.random(135) < sigmoid(z)).astype(int)
    r = ece_with_noise_floor(y, z, n_boot=300, n_sim=400, seed=2)
    floor = r["noise_floor"]
    assert 0.03 < floor["mean"] < floor["p95"] < 0.3
    assert r["ci_low"] <= r["ece"] <= r["ci_high"] and r["resampled_by"] == "record"
    assert r == ece_with_noise_floor(y, z, n_boot=300, n_sim=400, seed=2)  # seeded
    shifted = ece_with_noise_floor(y, z + 3.0, n_boot=100, n_sim=100)
    assert shifted["ece"] > shifted["noise_floor"]["p95"]


def test_decision_curve_by_hand_and_its_plot(tmp_path):
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    z = np.array([1.0, -3.0, -1.0, -2.5, -4.0, 0.5, -6.0, -5.0, -3.5, 2.0])
    curve = decision_curve(y, z)
    assert [r["threshold"] for r in curve["rows"]][[0, -1][0]] == 0.01
    for row in curve["rows"]:
        refer = sigmoid(z) >= row["threshold"]
        tp, fp = (refer & (y == 1)).sum(), (refer & (y == 0)).sum()
        odds = row["threshold"] / (1 - row["threshold"])
        assert row["net_benefit_model"] == pytest.approx(tp / 10 - fp / 10 * odds)
        assert row["net_benefit_treat_all"] == pytest.approx(0.3 - 0.7 * odds)
        assert row["net_benefit_treat_none"] == 0.0
    png = plot_decision_curve(curve, tmp_path / "dca.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ConfigError, match="thresholds"):
        decision_curve(y, z, thresholds=[0.0, 0.5])


def test_corrected_ttest_by_hand():
    d = np.array([0.03, -0.01, 0.02, 0.05, 0.01, 0.00, 0.04, 0.02, 0.03, 0.01])
    r = corrected_resampled_ttest(d, n_train=[90] * 10, n_test=[10] * 10)
    t = d.mean() / np.sqrt((1 / 10 + 10 / 90) * d.var(ddof=1))
    assert r["t"] == pytest.approx(t) and r["df"] == 9
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(t, 9))
    half = stats.t.ppf(0.975, 9) * np.sqrt((1 / 10 + 10 / 90) * d.var(ddof=1))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    plain = stats.ttest_1samp(d, 0.0)  # the uncorrected test is more liberal
    assert plain.pvalue < r["p_value"]
    assert corrected_resampled_ttest([0.1, 0.1], n_train=8, n_test=2)["t"] is None


def test_sign_test_and_holm_match_scipy_and_statsmodels():
    r = sign_test([0.1, 0.2, -0.05, 0.3, 0.0, 0.4, 0.2])
    assert (r["n_positive"], r["n_negative"], r["n_ties"]) == (5, 1, 1)
    assert r["p_value"] == pytest.approx(stats.binomtest(5, 6).pvalue)
    rng = np.random.default_rng(6)
    for p in [rng.random(7) * 0.1, np.array([0.01, 0.01, 0.04, 0.2]), rng.random(1)]:
        expected = multipletests(p, method="holm")[1]
        np.testing.assert_allclose(holm_adjust(p), expected, rtol=1e-12)
