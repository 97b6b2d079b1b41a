"""Evaluation metrics, thresholds, bootstrap intervals, aggregation, plots and reports."""

import json

import numpy as np
import pytest

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import (
    ThresholdChoice,
    aggregate_windows,
    auroc,
    average_precision,
    bootstrap_ci,
    choose_thresholds,
    compute_metrics,
    confusion_counts,
    exact_match_accuracy,
    metrics_with_ci,
    operating_point,
    rates_from_counts,
    sensitivity_at_specificity,
    sigmoid,
    specificity_at_sensitivity,
    write_report,
)
from keras_ecgpe.evaluation.plots import (
    plot_precision_recall,
    plot_reliability,
    plot_roc,
    plot_training_curves,
)


def synthetic(n=300, classes=3, seed=0, separation=1.5):
    """SYNTHETIC: multi-label targets, logits = separation * y + noise, scores rounded to
    create ties."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, classes)) < 0.3).astype(int)
    return y, np.round(rng.normal(size=(n, classes)) + separation * y, 1)


def brute_force_auroc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_auroc_equals_pair_count_with_ties_and_weights():
    y, z = synthetic()
    assert np.unique(z[:, 0]).size < len(z) / 2  # plenty of ties
    for c in range(3):
        assert auroc(y[:, c], z[:, c]) == pytest.approx(brute_force_auroc(y[:, c], z[:, c]))
    # Integer weights are repeated records.
    w = np.random.default_rng(1).integers(0, 3, len(y))
    rows = np.repeat(np.arange(len(y)), w)
    assert auroc(y[:, 0], z[:, 0], w) == pytest.approx(brute_force_auroc(y[rows, 0], z[rows, 0]))


def test_auroc_is_invariant_to_monotone_transforms_and_nan_without_both_classes():
    y, z = synthetic(seed=2)
    base = auroc(y[:, 1], z[:, 1])
    assert auroc(y[:, 1], sigmoid(z[:, 1])) == pytest.approx(base)
    assert auroc(y[:, 1], np.exp(z[:, 1] / 3) + 7) == pytest.approx(base)
    assert auroc(y[:, 1], -z[:, 1]) == pytest.approx(1 - base)
    assert np.isnan(auroc([0, 0, 0], [1.0, 2.0, 3.0]))


def test_average_precision_by_hand():
    # Ranked: P N P N P -> precision at each positive 1, 2/3, 3/5, recall steps of 1/3.
    assert average_precision([1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.6, 0.2]) == pytest.approx(
        (1 + 2 / 3 + 3 / 5) / 3
    )
    # A tie between a positive and a negative is one threshold: precision 1/2 at recall 1.
    assert average_precision([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert average_precision([1, 1, 0], [0.1, 0.2, 0.3]) == pytest.approx((1 / 2 + 2 / 3) / 2)


def hand_confusion():
    """One class: 5 positives, 5 negatives; at threshold 0.5 -> tp 3, fn 2, fp 1, tn 4."""
    y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    z = np.array([2.0, 1.0, 0.5, -0.5, -1.0, 0.2, -0.2, -1.0, -2.0, -3.0])
    return y, z


def test_thresholded_metrics_on_hand_made_confusion():
    y, z = hand_confusion()
    assert {k: int(v[0]) for k, v in confusion_counts(y, z, 0.5).items()} == {
        "tp": 3,
        "fp": 1,
        "tn": 4,
        "fn": 2,
    }
    m = compute_metrics(y, z, [0.5], label_names=["PE"])["per_label"]["PE"]
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (3, 1, 4, 2)
    expected = {
        "precision": 0.75,
        "sensitivity": 0.6,
        "specificity": 0.8,
        "f1": 6 / 9,
        "g_mean": np.sqrt(0.48),
        "ppv": 0.75,
        "npv": 4 / 6,
    }
    assert {k: m[k] for k in expected} == pytest.approx(expected)
    # Threshold sigmoid(0.3): the negative at logit 0.2 becomes a true negative.
    assert compute_metrics(y, z, sigmoid(0.3), label_names=["PE"])["per_label"]["PE"]["fp"] == 0


def test_exact_match_accuracy_needs_every_unmasked_label_right():
    y = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    z = np.array([[1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [5.0, 5.0]])
    assert exact_match_accuracy(y, z, 0.5) == 0.25  # only the first record is all right
    mask = np.array([[1, 1], [1, 0], [1, 1], [0, 1]])
    assert exact_match_accuracy(y, z, 0.5, mask=mask) == 0.75  # records 1 and 4 now right


def test_sensitivity_at_specificity_on_hand_made_roc():
    # Negatives at 1..10, positives at 3.5, 8.5, 9.5, 11. Thresholds and (sens, spec):
    # >11 (0, 1); >=11 (.25, 1); >=10 (.25, .9); >=9.5 (.5, .9); >=9 (.5, .8); >=8.5 (.75, .8)
    y = np.r_[np.zeros(10), np.ones(4)].astype(int)
    s = np.r_[np.arange(1, 11), [3.5, 8.5, 9.5, 11.0]]
    assert sensitivity_at_specificity(y, s, 0.9) == pytest.approx(0.5)
    assert sensitivity_at_specificity(y, s, 0.8) == pytest.approx(0.75)
    assert sensitivity_at_specificity(y, s, 1.0) == pytest.approx(0.25)
    assert specificity_at_sensitivity(y, s, 1.0) == pytest.approx(0.3)  # threshold 3.5
    assert specificity_at_sensitivity(y, s, 0.75) == pytest.approx(0.8)
    point = operating_point(y, s, min_specificity=0.9)
    assert point == pytest.approx((0.5, 0.9, 9.5))


def test_ppv_npv_follow_bayes_at_any_prevalence():
    tp, fp, tn, fn = 30.0, 12.0, 88.0, 10.0
    own = rates_from_counts(tp, fp, tn, fn)
    assert own["ppv"] == pytest.approx(tp / (tp + fp))
    assert own["npv"] == pytest.approx(tn / (tn + fn))
    for p in (0.02, 0.1, 0.5):
        r = rates_from_counts(tp, fp, tn, fn, prevalence=p)
        # Reweight the cohort to prevalence p: positives scaled by p/P, negatives by (1-p)/N.
        wp, wn = p / (tp + fn), (1 - p) / (tn + fp)
        assert r["ppv"] == pytest.approx(tp * wp / (tp * wp + fp * wn))
        assert r["npv"] == pytest.approx(tn * wn / (tn * wn + fn * wp))
    # The rule-out effect: NPV rises as prevalence falls.
    assert rates_from_counts(tp, fp, tn, fn, prevalence=0.02)["npv"] > own["npv"]


def test_masked_entries_are_ignored():
    y, z = synthetic(seed=3)
    mask = np.random.default_rng(4).random(y.shape) > 0.3
    names = ["a", "b", "c"]
    before = compute_metrics(y, z, [0.5, 0.4, 0.6], mask=mask, label_names=names)
    y2, z2 = y.copy(), z.copy()
    y2[~mask] = 1 - y2[~mask]
    z2[~mask] = 100.0
    after = compute_metrics(y2, z2, [0.5, 0.4, 0.6], mask=mask, label_names=names)
    assert json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True)
    assert before["per_label"]["a"]["n_positive"] == int((y[:, 0] * mask[:, 0]).sum())


def test_class_without_positives_is_null_with_reason_and_left_out_of_macro():
    y, z = synthetic(seed=5)
    y[:, 2] = 0
    m = compute_metrics(y, z, 0.5, label_names=["MI", "CD", "PE"])
    assert m["per_label"]["PE"]["reason"] == "no positive examples"
    assert m["per_label"]["PE"]["auroc"] is None and m["per_label"]["PE"]["npv"] is None
    assert m["macro"]["classes"] == ["MI", "CD"]
    assert m["macro"]["excluded"] == {"PE": "no positive examples"}
    assert m["macro"]["auroc"] == pytest.approx(
        np.mean([auroc(y[:, c], z[:, c]) for c in range(2)])
    )
    json.dumps(m, allow_nan=False)  # JSON-safe: NaN never leaks


def test_input_errors_name_the_argument():
    y, z = hand_confusion()
    with pytest.raises(ConfigError, match="thresholds"):
        compute_metrics(y, z, [1.5], label_names=["PE"])
    with pytest.raises(ConfigError, match="label_names"):
        compute_metrics(y, z, 0.5, label_names=["PE", "MI"])
    with pytest.raises(ConfigError, match="y_true"):
        compute_metrics(y + 1, z, 0.5, label_names=["PE"])
    with pytest.raises(ConfigError, match="prevalence"):
        compute_metrics(y, z, 0.5, label_names=["PE"], prevalence=0.0)


def test_choose_thresholds_methods():
    y, z = hand_confusion()
    # Sensitivity >= 0.8: the most specific cut keeps the positive at -0.5 (4 of 5).
    choice = choose_thresholds(y, z, method="sensitivity", target=0.8)
    cut = float(np.log(choice.thresholds[0] / (1 - choice.thresholds[0])))
    assert -1.0 < cut < -0.5
    counts = confusion_counts(y, z, choice)
    assert (counts["tp"][0], counts["fp"][0]) == (4, 2)
    # Youden: sens + spec is best (0.6 + 1.0) cutting between 0.5 and 0.2.
    youden = choose_thresholds(y, z, method="youden").thresholds[0]
    assert sigmoid(0.2) < youden < sigmoid(0.5)
    # F1 on a case where predicting every record positive is best: 2*4 / (2*4 + 1) = 0.89.
    f1 = choose_thresholds([1, 1, 0, 1, 1], [5.0, 4.0, 3.0, 2.0, 1.0], method="f1")
    assert f1.thresholds[0] < sigmoid(1.0)


def test_threshold_choice_falls_back_and_round_trips_json():
    y, z = synthetic(seed=6)
    y[:, 1] = 1
    choice = choose_thresholds(y, z, method="sensitivity", target=0.9)
    assert choice.fallback == (1,) and choice.thresholds[1] == 0.5
    data = json.loads(json.dumps(choice.to_dict()))
    assert data["chosen_on"] == "validation" and data["target"] == 0.9
    again = ThresholdChoice.from_dict(data)
    np.testing.assert_array_equal(again.thresholds, choice.thresholds)
    for c in (0, 2):  # the target holds on the data it was chosen on
        pred = z[:, c] >= np.log(choice.thresholds[c] / (1 - choice.thresholds[c]))
        assert pred[y[:, c] == 1].mean() >= 0.9
    with pytest.raises(ConfigError, match="method"):
        choose_thresholds(y, z, method="accuracy")


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    y, z = synthetic(n=600, seed=7, separation=1.0)
    args = dict(label_names=["a", "b", "c"], n_boot=200)
    first = metrics_with_ci(y, z, 0.4, seed=1, **args)
    assert first == metrics_with_ci(y, z, 0.4, seed=1, **args)
    assert first["macro_ci"] != metrics_with_ci(y, z, 0.4, seed=2, **args)["macro_ci"]
    for name, ci in first["macro_ci"].items():
        assert ci["ci_low"] <= ci["value"] <= ci["ci_high"], name
        assert ci["ci_high"] - ci["ci_low"] < 0.2, name
    assert first["bootstrap"]["n_skipped"] == 0
    json.dumps(first, allow_nan=False)


def test_vectorised_bootstrap_matches_the_generic_one():
    y, z = synthetic(n=150, classes=1, seed=8)
    generic = bootstrap_ci(y, z, lambda a, b: auroc(a[:, 0], b[:, 0]), n_boot=100, seed=3)
    fast = metrics_with_ci(y, z, 0.5, label_names=["PE"], n_boot=100, seed=3)
    keys = ("value", "ci_low", "ci_high")
    assert {k: fast["macro_ci"]["auroc"][k] for k in keys} == pytest.approx(
        {k: generic[k] for k in keys}
    )


def test_bootstrap_skips_resamples_without_both_classes():
    y = np.array([1] + [0] * 9)
    z = np.linspace(1, -1, 10)
    result = bootstrap_ci(y, z, auroc, n_boot=300, seed=0)
    assert 0 < result["n_skipped"] < 300  # about (9/10)^10 = 35 % lack the one positive
    fast = metrics_with_ci(y, z, 0.5, label_names=["PE"], n_boot=300, seed=0)
    assert fast["bootstrap"]["n_skipped"] == result["n_skipped"]
    assert fast["bootstrap"]["n_used"] + fast["bootstrap"]["n_skipped"] == 300


def test_group_bootstrap_keeps_patients_whole():
    # SYNTHETIC: 40 patients with 1-4 ECGs each; logits column 1 carries the patient id.
    rng = np.random.default_rng(9)
    sizes = rng.integers(1, 5, 40)
    patient = np.repeat(np.arange(40), sizes)
    y = np.c_[np.arange(len(patient)) % 2, np.zeros(len(patient))]
    z = np.c_[rng.normal(size=len(patient)), patient.astype(float)]
    mask = np.c_[np.ones(len(patient)), np.zeros(len(patient))]

    def whole_patients(y_s, z_s, mask):
        ids, counts = np.unique(z_s[:, 1].astype(int), return_counts=True)
        return float(np.all(counts % sizes[ids] == 0)) * len(ids)

    grouped = bootstrap_ci(
        y, z, whole_patients, groups=[f"p{p}" for p in patient], mask=mask, n_boot=100
    )
    assert grouped["resampled_by"] == "group" and grouped["ci_low"] > 0
    assert grouped["ci_high"] < 40  # a resample repeats some patients and misses others
    by_record = bootstrap_ci(y, z, whole_patients, mask=mask, n_boot=100)
    assert by_record["ci_low"] == 0  # records drawn apart split patients


def test_aggregate_windows_mean_and_max_in_order_of_first_appearance():
    z = np.array([[1.0, -2.0], [3.0, 0.0], [-1.0, 4.0], [5.0, 2.0], [0.0, 0.0]])
    records = [7, 7, 2, 2, 9]
    ids, mean = aggregate_windows(z, records, how="mean")
    assert ids.tolist() == [7, 2, 9]
    np.testing.assert_allclose(mean, [[2.0, -1.0], [2.0, 3.0], [0.0, 0.0]])
    _, top = aggregate_windows(z, records, how="max")
    np.testing.assert_allclose(top, [[3.0, 0.0], [5.0, 4.0], [0.0, 0.0]])
    ids, flat = aggregate_windows([1.0, 2.0, 6.0], ["b", "a", "b"])
    assert ids.tolist() == ["b", "a"] and flat.tolist() == [3.5, 2.0]
    with pytest.raises(ConfigError, match="how"):
        aggregate_windows(z, records, how="median")


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert [p.name for p in path.parent.iterdir() if ".tmp-" in p.name] == []


def test_plots_write_png_files(tmp_path):
    y, z = synthetic(n=200, seed=10)
    y[:, 2] = 0  # an excluded class is named in the legend, not drawn
    names, thr = ["NORM", "MI", "PE"], [0.5, 0.3, 0.5]
    assert_png(plot_roc(y, z, tmp_path / "roc.png", label_names=names, thresholds=thr))
    assert_png(plot_precision_recall(y, z, tmp_path / "pr.png", label_names=names, thresholds=thr))
    assert_png(plot_reliability(y, 3 * z, tmp_path / "rel.png", temperature=3.0))
    history = tmp_path / "history.csv"
    history.write_text(
        "epoch,auc,loss,val_auc,val_loss\n0,0.6,0.9,0.55,1.0\n"
        "1,0.7,0.7,0.62,0.8\n2,0.8,0.5,0.66,0.75\n"
    )
    assert_png(plot_training_curves(history, tmp_path / "train.png"))
    with pytest.raises(ConfigError, match="metric"):
        plot_training_curves(history, tmp_path / "x.png", metric="accuracy")


def test_write_report_states_operating_point_and_intervals(tmp_path):
    y, z = synthetic(n=300, seed=11)
    y[:, 2] = 0
    choice = choose_thresholds(y, z, method="sensitivity", target=0.9)
    metrics = metrics_with_ci(y, z, choice, label_names=["NORM", "MI", "PE"], n_boot=50)
    paths = write_report(metrics, tmp_path / "run", title="Test set")
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(metrics))
    text = paths["summary"].read_text()
    assert "chosen on validation data (method 'sensitivity', target 0.9)" in text
    assert "Sensitivity at specificity >= 0.90" in text
    auroc_line = next(line for line in text.splitlines() if line.startswith("AUROC"))
    ci = metrics["macro_ci"]["auroc"]
    assert f"[{ci['ci_low']:.3f}, {ci['ci_high']:.3f}]" in auroc_line
    assert "PE" in text and "excluded: no positive examples" in text
    with pytest.raises(ConfigError, match="operating_point"):
        write_report({"per_label": {}}, tmp_path / "bad", title="x")
