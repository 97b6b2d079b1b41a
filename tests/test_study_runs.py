"""Studies that train (slow): the comparison's identical inputs and its report, and the
paired DeLong comparison of two models with its test-split ledger looks."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from fixtures import tiny_overrides, toy_cache  # noqa: E402

PLAN = Path(__file__).resolve().parents[1] / "docs" / "examples" / "analysis_plan.yaml"


def _train(cache, out, *extra):
    from keras_ecgpe.training import TrainConfig, train_run

    overrides = tiny_overrides() + [f"data.cache={cache.path}", "training.epochs=1", *extra]
    return train_run(TrainConfig().with_overrides(overrides), out, progress=False)


@pytest.mark.slow
def test_compare_arms_share_the_standardiser_and_report_the_corrected_test(tmp_path):
    from keras_ecgpe import schemas
    from keras_ecgpe.cli.train_commands import compare
    from keras_ecgpe.evaluation import AnalysisPlan

    source = toy_cache(tmp_path / "pre", seed=9, splits={"train": 32, "validation": 16, "test": 4})
    pretrained = _train(source, tmp_path / "pre-run", "data.standardize=true")
    pe = toy_cache(
        tmp_path / "pe",
        n_classes=1,
        label_names=["PE"],
        seed=4,
        splits={"train": 32, "validation": 16, "test": 12},
    )
    out = tmp_path / "cmp"
    result = CliRunner().invoke(
        compare,
        [
            "--data",
            str(pe.path),
            "--init-from",
            str(pretrained.run_dir),
            "--cv",
            "2",
            "--arms",
            "scratch,linear,full",
            "--max-train-records",
            "16",
            "--out",
            str(out),
            "--plan",
            str(PLAN),
            "--set",
            "training.batch_size=8",
            "--set",
            "training.epochs=1",
            "--set",
            "evaluation.bootstrap=20",
        ],
    )
    assert result.exit_code == 0, result.output
    # Defect 3: the scratch arm's contracts hold the pretrained standardiser, as the
    # transfer arms' do (before, scratch fitted its own on each fold).
    expected = json.loads((pretrained.run_dir / "contract.json").read_text())["standardizer"]
    assert expected is not None
    for arm in ("scratch", "linear", "full"):
        for fold in ("r1-f1", "r1-f2"):
            contract = json.loads((out / arm / "cv" / fold / "contract.json").read_text())
            assert contract["standardizer"] == expected, (arm, fold)
    table = json.loads((out / "comparison.json").read_text())
    assert "standardiser" in table["shared_inputs"]["standardizer"]
    assert table["shared_inputs"]["differs"].startswith("initialisation only")
    assert table["statistics"]["analysis_plan_sha256"] == AnalysisPlan.load(PLAN).sha256
    assert table["leakage"]["pretraining_check"] == "run" and table["leakage"]["clean"]
    tested = [a["per_fold_difference"] for a in table["arms"][1:]]
    for diff in tested:
        test = diff["corrected_t"]
        assert test["method"].startswith("corrected resampled t-test") and test["df"] == 1
        assert "p_holm" in test and diff["sign_test"]["method"].startswith("exact sign test")
        if test["p_value"] is not None:
            assert test["p_holm"] >= test["p_value"]
    for ext in ("txt", "html", "json"):
        assert (out / f"report.{ext}").is_file()
    document = json.loads((out / "report.json").read_text())
    schemas.validate(document, "report", "report.json")
    text = (out / "report.txt").read_text()
    assert text.index("PRIMARY") < text.index("SECONDARY")
    assert "Dataset standardiser" in text and AnalysisPlan.load(PLAN).sha256 in text
    assert "SYNTHETIC DATA" in text and (out / "forest.png").is_file()
    markdown = (out / "comparison.md").read_text()
    assert "PRIMARY" in markdown and "Holm p" in markdown


@pytest.mark.slow
def test_compare_models_paired_delong_counts_both_looks(tmp_path):
    from keras_ecgpe.cli.study_commands import compare_models
    from keras_ecgpe.evaluation import Ledger

    cache = toy_cache(
        tmp_path / "pe",
        n_classes=1,
        label_names=["PE"],
        seed=5,
        splits={"train": 32, "validation": 16, "test": 16},
    )
    a = _train(cache, tmp_path / "a", "training.seed=1")
    b = _train(cache, tmp_path / "b", "training.seed=2", "model.overrides.width=4")
    args = [
        str(a.run_dir),
        str(b.run_dir),
        "--data",
        str(cache.path),
        "--out",
        str(tmp_path / "ab"),
    ]
    refused = CliRunner().invoke(compare_models, args)
    assert refused.exit_code != 0 and "--declare-new-model" in refused.output
    assert Ledger.open(cache.path).looks("test").n_looks == 0  # refused before any look
    done = CliRunner().invoke(compare_models, args + ["--declare-new-model", "paired study"])
    assert done.exit_code == 0, done.output
    result = json.loads((tmp_path / "ab" / "paired_delong.json").read_text())
    entry = result["classes"][0]
    assert entry["n_records"] == 16 and entry["method"].startswith("DeLong (1988)")
    assert entry["difference"] == pytest.approx(entry["auroc_a"] - entry["auroc_b"])
    assert entry["ci_low"] <= entry["difference"] <= entry["ci_high"]
    assert entry["p_value"] is None or 0 <= entry["p_value"] <= 1
    looks = Ledger.open(cache.path).looks("test")
    assert (looks.n_looks, looks.n_models) == (2, 2) and result["ledger"]["n_looks"] == 2
    notes = [e.metrics["paired_comparison"] for e in Ledger.open(cache.path).entries()]
    assert notes == [
        "model A of a paired DeLong comparison",
        "model B of a paired DeLong comparison",
    ]
    for ext in ("txt", "html", "json"):
        assert (tmp_path / "ab" / f"report.{ext}").is_file()
    assert "Looks so far" in (tmp_path / "ab" / "report.txt").read_text()
