"""Rates with an empty denominator are undefined (null with a reason), never 0."""

import numpy as np

from keras_ecgpe.evaluation import (
    ThresholdChoice,
    compute_metrics,
    metrics_with_ci,
    rates_from_counts,
    undefined_reasons,
)
from keras_ecgpe.evaluation.report import summary_text


def test_rates_from_counts_leave_empty_denominators_undefined():
    nothing_positive = rates_from_counts(0, 0, 8, 2)
    assert np.isnan(nothing_positive["ppv"]) and np.isnan(nothing_positive["precision"])
    assert np.isnan(nothing_positive["f1"]) and nothing_positive["npv"] == 0.8
    nothing_negative = rates_from_counts(2, 8, 0, 0, prevalence=0.1)
    assert np.isnan(nothing_negative["npv"]) and nothing_negative["sensitivity"] == 1.0
    assert undefined_reasons(2, 8, 0, 0) == {"npv": "no record called negative"}
    assert undefined_reasons(0, 3, 3, 0)["sensitivity"] == "no positive record"


def test_compute_metrics_reports_null_with_reason_and_skips_it_in_the_macro():
    y = np.array([[1, 1], [0, 0], [1, 1], [0, 0]])
    z = np.array([[-1.0, 2.0], [-2.0, -1.0], [-1.5, 1.0], [-3.0, 0.5]])
    choice = ThresholdChoice(np.array([0.0, 0.0]), "f1")  # A: nothing called positive
    metrics = compute_metrics(y, z, choice, label_names=["A", "B"])
    a, b = metrics["per_label"]["A"], metrics["per_label"]["B"]
    assert a["ppv"] is None and a["precision"] is None and a["f1"] is None
    assert a["undefined"] == {
        "precision": "no record called positive",
        "f1": "no record called positive",
        "ppv": "no record called positive",
    }
    assert metrics["macro"]["ppv"] == b["ppv"]  # the undefined class is left out
    assert metrics["macro"]["undefined"]["ppv"] == {"A": "no record called positive"}
    text = summary_text(metrics, title="t")
    assert "n/a (no record called positive)" in text
    assert "left out of its macro average: A (no record called positive)" in text


def test_bootstrap_intervals_leave_undefined_resamples_out():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    z = rng.normal(size=60) - 5.0
    result = metrics_with_ci(
        y, z, ThresholdChoice(np.array([0.0]), "f1"), label_names=["PE"], n_boot=50, seed=1
    )
    assert result["macro"]["ppv"] is None
    assert result["macro_ci"]["ppv"]["ci_low"] is None
    assert result["macro_ci"]["ppv"]["n_undefined"] == 50
    assert result["macro_ci"]["npv"]["n_undefined"] == 0
