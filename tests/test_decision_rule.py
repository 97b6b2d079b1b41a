"""One decision rule, on the logit: cuts chosen, stored and applied without a probability."""

import json

import numpy as np
import pytest

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import (
    ThresholdChoice,
    choose_thresholds,
    compute_metrics,
    confusion_counts,
    decide,
    legacy_probability_to_cut,
)


def test_saturating_validation_logits_give_a_separating_cut():
    # The example: above a logit of ~37 every probability is exactly 1.0.
    z, y = np.array([30.0, 35.0, 40.0, 45.0]), np.array([0, 0, 1, 1])
    choice = choose_thresholds(y, z, method="f1")
    assert 35.0 < choice.cuts[0] < 40.0
    positive = decide(z, choice)
    assert positive.tolist() == [False, False, True, True]
    metrics = compute_metrics(y, z, choice, label_names=["PE"])["per_label"]["PE"]
    assert metrics["specificity"] == 1.0 and metrics["sensitivity"] == 1.0
    assert confusion_counts(y, z, choice)["tp"].tolist() == [2]


def test_saturating_cuts_round_trip_exactly_through_json():
    choice = ThresholdChoice(np.array([41.25, -43.5, 38.000000000000007]), "f1")
    again = ThresholdChoice.from_dict(json.loads(json.dumps(choice.to_dict())))
    np.testing.assert_array_equal(again.cuts, choice.cuts)
    z = np.array([[41.25, -43.5, 38.0], [41.2, -43.6, 38.00000000000001]])
    np.testing.assert_array_equal(decide(z, again), decide(z, choice))
    assert decide(z, again).tolist() == [[True, True, False], [False, False, True]]
    # The stored probabilities are labelled display-only and both saturate to 1.0.
    data = choice.to_dict()
    assert data["thresholds"][0] == data["thresholds"][2] == 1.0
    assert "display only" in data["thresholds_note"] and data["rule"].startswith("positive")


def test_decide_accepts_a_contract_dict_and_checks_the_class_count():
    choice = ThresholdChoice(np.array([0.0, 2.0]), "youden")
    assert decide([[0.0, 1.0]], choice.to_dict()).tolist() == [[True, False]]
    with pytest.raises(ConfigError, match="logits"):
        decide([[0.0, 1.0, 2.0]], choice)


def test_old_probability_contracts_convert_once_by_the_documented_rule():
    old = {"thresholds": [0.5, 1.0, 0.0, 0.25], "method": "f1", "target": None}
    choice = ThresholdChoice.from_dict(old)
    assert choice.cuts[0] == 0.0 and choice.cuts[3] == pytest.approx(np.log(1 / 3))
    # p = 1 meant "nothing positive", p = 0 "everything positive": kept, and JSON-safe.
    z = np.array([[0.0, 1e300, 1e300, -1.0], [-1e-9, -1e300, -1e300, -1.2]])
    assert decide(z, choice).tolist() == [[True, False, True, True], [False, False, True, False]]
    json.dumps(choice.to_dict(), allow_nan=False)
    np.testing.assert_array_equal(legacy_probability_to_cut([0.5]), [0.0])
    with pytest.raises(ConfigError, match="probabilities"):
        legacy_probability_to_cut([1.5])


def test_rule_in_cut_is_the_lowest_reaching_the_specificity_target():
    z = np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    choice = choose_thresholds(y, z, method="specificity", target=0.75)
    assert choice.cuts[0] == pytest.approx(-0.5) and choice.target == 0.75
    strict = choose_thresholds(y, z, method="specificity", target=1.0)
    assert strict.cuts[0] == pytest.approx(1.5)  # above the only high-scoring negative
    none = choose_thresholds([1, 0], [0.0, 1.0], method="specificity", target=1.0)
    assert not decide([0.0, 1.0], none).any()  # top score negative: call nothing positive


def test_rule_out_cut_is_the_highest_reaching_the_sensitivity_target():
    z = np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([0, 1, 0, 1, 0, 1, 1, 1])
    choice = choose_thresholds(y, z, method="sensitivity", target=0.8)
    assert choice.cuts[0] == pytest.approx(-0.5)
    pred = decide(z, choice)
    assert (pred & (y == 1)).sum() / y.sum() >= 0.8
