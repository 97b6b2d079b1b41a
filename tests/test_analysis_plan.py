"""The prespecified analysis plan: strict loading, clear errors, a stable hash."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "examples" / "analysis_plan.yaml"


def _write(tmp_path, text, name="plan.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_documented_example_loads():
    plan = AnalysisPlan.load(EXAMPLE)
    assert plan.label == "PE" and plan.primary_metric == "auroc"
    assert (plan.rule_out_sensitivity, plan.rule_in_specificity) == (0.95, 0.90)
    assert plan.age_band_labels() == ["18-<50", "50-<65", "65-<80", ">=80"]
    assert [plan.age_band(a) for a in (17, 18, 64.9, 65, 93, None)] == [
        None,
        "18-<50",
        "50-<65",
        "65-<80",
        ">=80",
        None,
    ]
    assert plan.target_prevalence == 0.10 and plan.proportion_interval == "clopper-pearson"
    assert (plan.bootstrap_resamples, plan.seed, plan.small_sample_min) == (2000, 0, 10)
    assert plan.source == str(EXAMPLE)
    # The documented example spells out what it sets; defaults fill the rest alike.
    assert AnalysisPlan.from_dict(plan.to_dict()) == plan
    assert json.loads(json.dumps(plan.to_dict())) == plan.to_dict()


def test_missing_keys_take_the_defaults_and_null_drops_a_point(tmp_path):
    plan = AnalysisPlan.load(
        _write(tmp_path, "primary_metric: brier\noperating_points: {rule_in: null}\n")
    )
    assert plan.primary_metric == "brier" and plan.rule_in_specificity is None
    assert plan.rule_out_sensitivity == AnalysisPlan.default().rule_out_sensitivity
    assert plan.to_dict()["operating_points"]["rule_in"] is None


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("primary_metric: auroc\nprimary_metrc: auroc\n", "$", "'primary_metrc' was unexpected"),
        (
            "operating_points:\n  rule_out: {sensitivity: 0.9, specifity: 0.5}\n",
            "$.operating_points.rule_out",
            "'specifity' was unexpected",
        ),
        (
            "operating_points:\n  rule_out: {sensitivity: 1.5}\n",
            "$.operating_points.rule_out.sensitivity",
            "1.5 is greater than the maximum of 1",
        ),
        (
            "operating_points:\n  rule_in: {specificity: 0}\n",
            "$.operating_points.rule_in.specificity",
            "less than or equal to the minimum of 0",
        ),
        ("bootstrap: {resamples: many}\n", "$.bootstrap.resamples", "'many' is not of type"),
        (
            "subgroups: {sex: yes, age_bands: [18, 65, 50]}\n",
            "$.subgroups.age_bands",
            "must increase strictly",
        ),
        ("subgroups: {age_bands: [18, 18]}\n", "$.subgroups.age_bands", "must increase strictly"),
        ("target_prevalence: 1\n", "$.target_prevalence", "greater than or equal to the maximum"),
        ("intervals: {proportion: wald}\n", "$.intervals.proportion", "'wald' is not one of"),
        ("primary_metric: 2024-01-01\n", "$.primary_metric", "is not one of"),
        ("target_prevalence: .nan\n", "$.target_prevalence", "not a finite number"),
    ],
)
def test_bad_plans_name_the_file_and_the_key(tmp_path, text, key, problem):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        AnalysisPlan.load(path)
    message = str(error.value)
    assert message.startswith(f"{path}: at {key}: ") and problem in message


@pytest.mark.parametrize(
    "text, problem",
    [
        ("primary_metric: auroc\nprimary_metric: brier\n", "appears twice"),
        ("base: &b {seed: 1}\nbootstrap: *b\n", "aliases"),
        ("primary_metric: [auroc\n", "not a valid YAML"),
        ("", "empty"),
        ("- auroc\n", "is not of type 'object'"),
    ],
)
def test_malformed_yaml_is_refused(tmp_path, text, problem):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=problem) as error:
        AnalysisPlan.load(path)
    assert str(error.value).startswith(str(path))


def test_size_suffix_and_json(tmp_path):
    with pytest.raises(ConfigError, match="too large"):
        AnalysisPlan.load(_write(tmp_path, "# x\n" * 20000))
    with pytest.raises(ConfigError, match=".yaml, .yml or .json"):
        AnalysisPlan.load(_write(tmp_path, "primary_metric: auroc\n", "plan.txt"))
    with pytest.raises(ConfigError, match="cannot read"):
        AnalysisPlan.load(tmp_path / "missing.yaml")
    from_json = AnalysisPlan.load(
        _write(tmp_path, json.dumps(AnalysisPlan.load(EXAMPLE).to_dict()), "plan.json")
    )
    assert from_json.sha256 == AnalysisPlan.load(EXAMPLE).sha256
    with pytest.raises(ConfigError, match="appears twice"):
        AnalysisPlan.load(_write(tmp_path, '{"seed": 1, "seed": 2}', "dup.json"))


def test_hash_ignores_formatting_and_follows_values(tmp_path):
    reference = AnalysisPlan.load(EXAMPLE).sha256
    data = yaml.safe_load(EXAMPLE.read_text())
    # Other layout, key order, no comments, numbers written another way.
    reordered = dict(reversed(list(data.items())))
    reordered["subgroups"] = {"age_bands": [18.0, 50, 65.0, 80], "sex": True}
    reordered["operating_points"]["rule_in"]["specificity"] = 0.900
    flow = _write(tmp_path, yaml.safe_dump(reordered, default_flow_style=True), "flow.yaml")
    assert AnalysisPlan.load(flow).sha256 == reference
    assert (
        AnalysisPlan.load(_write(tmp_path, EXAMPLE.read_text() + "\n# note\n\n")).sha256
        == reference
    )
    for section, key, value in (
        ("operating_points", "rule_out", {"sensitivity": 0.96}),
        ("subgroups", "age_bands", [18, 50, 65]),
        ("bootstrap", "seed", 1),
        (None, "target_prevalence", 0.2),
        (None, "label", "pe"),
    ):
        changed = json.loads(json.dumps(data))
        (changed[section] if section else changed)[key] = value
        assert AnalysisPlan.from_dict(changed).sha256 != reference, key
    # Writing a default out does not change the plan.
    assert (
        AnalysisPlan.from_dict({"primary_metric": "auroc"}).sha256 == AnalysisPlan.default().sha256
    )
