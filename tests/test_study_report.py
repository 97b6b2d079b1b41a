"""`evaluate`'s study report: sections, sealed test split, leakage, options, n/a reasons.

The models here are tiny and untrained (a random ResNet at width 8): the report's
machinery is under test, not accuracy. Each cache is a fresh copy of one SYNTHETIC toy
cache (same key, so every model's contract accepts it), so each test has its own ledger.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fixtures import TOY_PREPROCESS, tiny_model
from keras_ecgpe import schemas
from keras_ecgpe.cli.main import cli
from keras_ecgpe.data.cache import CacheWriter
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import AnalysisPlan, ThresholdChoice, choose_thresholds
from keras_ecgpe.evaluation.study import OperatingPoint, class_study
from keras_ecgpe.run_directory import BEST_MODEL, save_contract
from keras_ecgpe.training.contract import make_contract
from keras_ecgpe.training.evaluate import evaluate_run
from keras_ecgpe.training.run_data import WindowPlan, predict_records

SPLITS = {"train": 12, "validation": 24, "test": 24}
WINDOW = 256
SECTIONS = [
    "design",
    "participant-flow",
    "baseline",
    "test-looks",
    "leakage",
    "discrimination",
    "operating-points",
    "calibration",
    "decision-curve",
    "subgroups",
    "secondary",
    "warnings",
    "methods",
]


def study_cache(path, *, missing_patient_id=False, seed=0, demographics=False):
    """A one-class ("PE") toy cache, 5 s at 100 Hz; positives carry a 5 Hz sine in lead 0.

    With `missing_patient_id`, the first test record has no patient id. With
    `demographics`, records get ages 20-<92 (every seventh unknown) and alternating sexes
    (every fifth unknown); otherwise every age and sex is unknown.
    """
    rng = np.random.default_rng(seed)
    writer = CacheWriter(
        path,
        key="study-toy",
        source={"name": "study-toy", "synthetic": True},
        settings={"preprocess": TOY_PREPROCESS},
        fs=100.0,
        label_names=["PE"],
    )
    t = np.arange(500) / 100.0
    record = 0
    for split, count in SPLITS.items():
        for k in range(count):
            positive = k % 2 == 1
            x = rng.normal(0.0, 0.5, (500, 12)).astype(np.float32)
            if positive:
                x[:, 0] += np.sin(2 * np.pi * 5.0 * t).astype(np.float32)
            patient = "" if missing_patient_id and split == "test" and k == 0 else f"p{record}"
            writer.add(
                x,
                record_id=f"r{record:03d}",
                patient_id=patient,
                labels=[float(positive)],
                split=split,
                age=20.0 + (record * 7) % 72 if demographics and record % 7 else None,
                sex="FM"[record % 2] if demographics and record % 5 else None,
            )
            record += 1
    return writer.close()


def untrained_run(run_dir, cache, *, seed, cut=None):
    """A run directory with a random tiny model; its cut is chosen on validation (F1) unless
    `cut` is given: a logit, or "median" (the median validation logit: about half called
    positive, so PPV and NPV are both defined)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    model = tiny_model("resnet1d18", num_classes=1, input_len=WINDOW, seed=seed)
    contract = make_contract(
        cache=cache,
        model_name="resnet1d18",
        window=WINDOW,
        stride=128,
        eval_mode="sliding",
        aggregate="mean",
        label_names=["PE"],
        threshold_choice=ThresholdChoice(np.array([0.0]), "f1").to_dict(),
        temperature=1.0,
        standardizer=None,
    )
    y, z, mask, _ = predict_records(
        model, cache, cache.indices("validation"), WindowPlan.from_contract(contract)
    )
    if cut is None:
        choice = choose_thresholds(y, z, method="f1", mask=mask)
    else:
        cut = float(np.median(z)) if cut == "median" else cut
        choice = ThresholdChoice(np.array([cut]), "f1")
    contract["thresholds"] = {**contract["thresholds"], **choice.to_dict()}
    model.save(run_dir / BEST_MODEL)
    save_contract(contract, run_dir)
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("study-runs")
    cache = study_cache(root / "cache")
    return {
        "a": untrained_run(root / "a", cache, seed=1),
        "b": untrained_run(root / "b", cache, seed=2),
        "none-positive": untrained_run(root / "n", cache, seed=1, cut=1e6),
        "median": untrained_run(root / "m", cache, seed=1, cut="median"),
    }


def evaluate(run, cache, out, **options):
    options.setdefault("n_boot", 100)
    return evaluate_run(run, cache.path, out_dir=out, **options)


def report_text(metrics) -> str:
    with open(metrics["files"]["report_text"], encoding="utf-8") as handle:
        return handle.read()


def test_report_in_three_formats_with_every_section(runs, tmp_path):
    cache = study_cache(tmp_path / "cache", demographics=True)
    metrics = evaluate(runs["a"], cache, tmp_path / "eval")
    files = metrics["files"]
    for key in ("report_text", "report_html", "report_json", "metrics", "decision_curve"):
        assert (tmp_path / "eval" / files[key].split("/")[-1]).is_file(), key
    document = json.loads((tmp_path / "eval" / "report.json").read_text())
    schemas.validate(document, "report", "report.json")
    schemas.validate(
        json.loads((tmp_path / "eval" / "metrics.json").read_text()),
        "evaluation_metrics",
        "metrics.json",
    )
    assert [s["anchor"] for s in document["sections"]] == SECTIONS
    page = (tmp_path / "eval" / "report.html").read_text()
    assert all(f'id="{anchor}"' in page for anchor in SECTIONS)
    text = report_text(metrics)
    assert "SYNTHETIC DATA" in text and "no plan given: defaults used" in text
    assert AnalysisPlan.default().sha256 in text
    study = metrics["study"]["PE"]
    assert [p["name"] for p in study["operating_points"]] == ["primary", "rule-out", "rule-in"]
    rule_out = study["operating_points"][1]
    assert rule_out["validation"]["sensitivity"] >= 0.95  # locked on validation
    assert study["discrimination"]["auroc"]["method"].startswith("DeLong")
    assert study["bootstrap"]["resampled_by"] == "patient"
    assert metrics["flow"]["splits"][2] == {
        "split": "test",
        "name": "test",
        "records": 24,
        "patients": 24,
        "records_without_patient_id": 0,
        "classes": {"PE": {"positive": 12, "negative": 12, "unlabelled": 0}},
    }
    assert metrics["leakage"]["checked"] and metrics["leakage"]["clean"]
    assert "Clopper-Pearson" in text and "Mercaldo" in text and "Vickers" in text
    assert "fewer than 30 positives" in text  # 12 positives: bootstrap flagged
    # Baseline characteristics and subgroups fill in from the cache's age and sex.
    base = metrics["baseline"]
    assert base["age_available"] and base["sex_available"] and "reason" not in base
    test = next(entry for entry in base["splits"] if entry["split"] == "test")
    assert test["sex"]["F"] + test["sex"]["M"] + test["sex"]["missing"] == 24
    assert test["sex"]["missing"] == 4 and test["age"]["missing"] == 3  # records 36-59
    assert "Baseline characteristics per split" in text and "Not reported" not in text
    groups = {(g["kind"], g["group"]) for g in study["subgroups"]}
    assert {("sex", "F"), ("sex", "M"), ("age", "18-<50"), ("age", ">=80")} <= groups
    assert sum(g["n"] for g in study["subgroups"] if g["kind"] == "sex") == 20
    assert "Subgroups, PE (primary operating point)" in text
    # Every small subgroup is named under Warnings, not only flagged in its row.
    small = [g for g in study["subgroups"] if g["small"]]
    assert small
    warnings = text.split("Warnings\n")[-1].split("Methods\n")[0]
    for g in small:
        assert f"subgroup {g['kind']} {g['group']}:" in warnings


def test_second_model_needs_a_declaration_and_looks_are_counted(runs, tmp_path):
    cache = study_cache(tmp_path / "cache")
    evaluate(runs["a"], cache, tmp_path / "a")
    with pytest.raises(ConfigError, match="`declare_new_model=REASON`"):
        evaluate(runs["b"], cache, tmp_path / "b")
    assert not (tmp_path / "b" / "metrics.json").exists()
    metrics = evaluate(
        runs["b"], cache, tmp_path / "b2", declare_new_model="architecture search, look 2"
    )
    looks = metrics["looks"]
    assert (looks["n_looks"], looks["n_models"]) == (2, 2)
    assert looks["declarations"] == ["architecture search, look 2"]
    text = report_text(metrics)
    assert "Looks at this split (including this one):  2" in text
    assert "Distinct models that scored it:     2" in text
    assert looks["head_sha256"] in text and "architecture search, look 2" in text


@pytest.mark.slow  # three evaluations
def test_same_model_scoring_again_is_counted(runs, tmp_path):
    cache = study_cache(tmp_path / "cache")
    first = evaluate(runs["a"], cache, tmp_path / "one")
    again = evaluate(runs["a"], cache, tmp_path / "two")
    assert (first["looks"]["n_looks"], again["looks"]["n_looks"]) == (1, 2)
    assert again["looks"]["n_models"] == 1
    assert "scored 2 times by 1 model(s)" in report_text(again)
    # A validation look is not a look at the sealed split.
    validation = evaluate(runs["a"], cache, tmp_path / "val", split="validation")
    assert validation["looks"]["recorded"] is False
    assert "optimistic" in report_text(validation)


def test_leakage_is_refused_with_the_records_named_unless_accepted(runs, tmp_path):
    cache = study_cache(tmp_path / "cache")
    pretrain = CacheWriter(
        tmp_path / "pretrain",
        key="pretrain",
        source={"name": "pretrain", "synthetic": True},
        settings={"preprocess": TOY_PREPROCESS},
        fs=100.0,
        label_names=["PE"],
    )
    test_rows = cache.indices("test")
    for k, row in enumerate(test_rows[:2]):
        pretrain.add(
            cache.signal(int(row)),
            record_id=f"pre{k}",
            patient_id=f"q{k}",
            labels=[0.0],
            split="train",
        )
    pretrain.add(
        np.zeros((500, 12), np.float32),
        record_id="other",
        patient_id="q9",
        labels=[0.0],
        split="train",
    )
    pretrain.close()
    leaked = str(cache.record_ids[test_rows[0]])
    with pytest.raises(ConfigError, match="`accept_leakage=True`") as error:
        evaluate(runs["a"], cache, tmp_path / "x", pretrain_caches=[tmp_path / "pretrain"])
    assert leaked in str(error.value) and "pre0" in str(error.value)
    assert not (cache.path / "test_ledger.jsonl").exists()  # refused before any look
    metrics = evaluate(
        runs["a"],
        cache,
        tmp_path / "y",
        pretrain_caches=[tmp_path / "pretrain"],
        accept_leakage=True,
    )
    assert metrics["leakage"]["accepted"] is True
    document = json.loads((tmp_path / "y" / "report.json").read_text())
    critical = [b["text"] for b in document["banners"] if b["level"] == "critical"]
    assert any("LEAKAGE ACCEPTED" in text and leaked in text for text in critical)
    assert "2 recording(s) shared with pretraining" in report_text(metrics)


def test_prevalence_moves_only_the_stated_predictive_values(runs, tmp_path):
    cache = study_cache(tmp_path / "cache")
    low = evaluate(runs["median"], cache, tmp_path / "low", prevalence=0.05)
    high = evaluate(runs["median"], cache, tmp_path / "high", prevalence=0.3)
    a, b = (m["study"]["PE"]["operating_points"][0] for m in (low, high))
    assert a["ppv"] == b["ppv"] and a["npv"] == b["npv"]  # the cohort's own
    assert a["at_prevalence"]["prevalence"] == 0.05 and b["at_prevalence"]["prevalence"] == 0.3
    assert a["at_prevalence"]["ppv"]["value"] < b["at_prevalence"]["ppv"]["value"]
    assert a["at_prevalence"]["npv"]["value"] > b["at_prevalence"]["npv"]["value"]
    assert "PPV (stated, 5 %)" in (tmp_path / "low" / "report.json").read_text()
    with pytest.raises(ConfigError, match="`prevalence`"):
        evaluate(runs["median"], cache, tmp_path / "bad", prevalence=1.5)


@pytest.mark.slow  # three evaluations
def test_seed_changes_the_bootstrap_reproducibly(runs, tmp_path):
    cache = study_cache(tmp_path / "cache")
    one = evaluate(runs["a"], cache, tmp_path / "s1", seed=1)
    same = evaluate(runs["a"], cache, tmp_path / "s1b", seed=1)
    other = evaluate(runs["a"], cache, tmp_path / "s2", seed=2)

    def interval(m):
        point = m["study"]["PE"]["operating_points"][0]["bootstrap"]["sensitivity"]
        auroc = m["study"]["PE"]["discrimination"]["auroc_bootstrap"]
        return point["ci_low"], point["ci_high"], auroc["ci_low"], auroc["ci_high"]

    assert interval(one) == interval(same)
    assert interval(one) != interval(other)
    assert one["settings"]["seed"] == 1 and one["settings"]["origins"]["seed"] == "option --seed"
    # Exact intervals do not depend on the seed.
    assert (
        one["study"]["PE"]["operating_points"][0]["sensitivity"]
        == other["study"]["PE"]["operating_points"][0]["sensitivity"]
    )


def test_nothing_called_positive_shows_ppv_na_with_its_reason(runs, tmp_path):
    cache = study_cache(tmp_path / "cache")
    metrics = evaluate(runs["none-positive"], cache, tmp_path / "e")
    primary = metrics["study"]["PE"]["operating_points"][0]
    assert primary["table"]["tp"] + primary["table"]["fp"] == 0
    assert primary["ppv"]["value"] is None
    reason = primary["ppv"]["undefined"]
    assert reason == "no record called positive"
    text = report_text(metrics)
    assert f"n/a: {reason}" in text and "0.000 " not in text.split("PPV (cohort")[1][:40]
    assert reason in (tmp_path / "e" / "report.html").read_text()
    document = json.loads((tmp_path / "e" / "report.json").read_text())
    cells = [
        cell
        for section in document["sections"]
        for block in section["blocks"]
        if block["type"] == "table"
        for row in block["rows"]
        for cell in row
        if isinstance(cell, dict) and cell.get("reason") == reason
    ]
    # Undefined cells ({value: null, reason}) and intervals ({low: null, high: null, reason}).
    assert cells and all(cell.get("value", cell.get("low")) is None for cell in cells)


def test_a_record_without_patient_id_is_its_own_patient(runs, tmp_path):
    cache = study_cache(tmp_path / "cache", missing_patient_id=True)
    metrics = evaluate(runs["a"], cache, tmp_path / "e")
    test = metrics["flow"]["splits"][2]
    assert test["records_without_patient_id"] == 1 and test["patients"] == 24
    assert metrics["study"]["PE"]["bootstrap"]["resampled_by"] == "patient"
    assert metrics["bootstrap"]["resampled_by"] == "group"  # the macro table too
    assert "1 evaluated record(s) have no patient id" in report_text(metrics)


def test_subgroups_flag_small_groups_and_say_why_a_figure_is_undefined():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(30), np.zeros(60)].astype(int)
    z = rng.normal(size=90) + y
    sexes = np.array(["F"] * 45 + ["M"] * 45)
    ages = np.r_[rng.uniform(20, 90, 85), [np.nan] * 5]
    ages[:30] = 70.0  # every positive is 65-<80
    point = OperatingPoint("primary", "primary", "f1", None, 0.5, "validation")
    plan = AnalysisPlan.default()
    study = class_study(
        y,
        z,
        z,
        [point],
        plan=plan,
        groups=None,
        prevalence=None,
        n_boot=50,
        seed=0,
        interval="clopper-pearson",
        sexes=sexes,
        ages=ages,
    )
    groups = {(g["kind"], g["group"]): g for g in study["subgroups"]}
    assert list(groups)[:2] == [("sex", "F"), ("sex", "M")]
    assert groups[("sex", "M")]["n_positive"] == 0 and groups[("sex", "M")]["small"]
    assert groups[("sex", "M")]["sensitivity"]["undefined"] == "no positive record in this subgroup"
    assert groups[("age", "18-<50")]["auroc"]["value"] is None  # no positives: AUROC undefined
    assert any("5 record(s) without age" in note for note in study["subgroup_notes"])


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def test_cli_options_give_one_line_errors(runs, tmp_path):
    cache = study_cache(tmp_path / "cache")
    bad = tmp_path / "plan.yaml"
    bad.write_text("primary_metric: auroc\noperating_points:\n  rule_out:\n    sensitivity: 1.5\n")
    result = invoke("evaluate", runs["a"], "--data", cache.path, "--plan", bad)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "plan.yaml" in result.output and "sensitivity" in result.output
    assert len(result.output.strip().splitlines()) == 1
    bad.write_text("bad: [\n")  # the YAML parser's own message spans several lines
    result = invoke("evaluate", runs["a"], "--data", cache.path, "--plan", bad)
    assert result.exit_code == 1 and "plan.yaml" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = invoke("evaluate", runs["a"], "--data", cache.path, "--prevalence", "1.5")
    assert result.exit_code == 2 and "--prevalence" in result.output
    good = tmp_path / "good.yaml"
    good.write_text("primary_metric: auroc\ntarget_prevalence: 0.1\nbootstrap:\n  resamples: 50\n")
    result = invoke(
        "evaluate",
        runs["a"],
        "--data",
        cache.path,
        "--plan",
        good,
        "--out",
        tmp_path / "e",
        "--interval",
        "wilson",
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["settings"]["plan_given"] and metrics["settings"]["n_boot"] == 50
    assert metrics["settings"]["interval_name"] == "Wilson score interval"
    assert AnalysisPlan.load(good).sha256 in (tmp_path / "e" / "report.txt").read_text()
