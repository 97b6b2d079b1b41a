"""Cross-validation and the pretraining comparison on SYNTHETIC toy caches (tiny models)."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from fixtures import set_options, tiny_overrides, toy_cache  # noqa: E402
from keras_ecgpe.cli.train_commands import compare, train  # noqa: E402
from keras_ecgpe.errors import ConfigError  # noqa: E402
from keras_ecgpe.evaluation.ranking import auroc  # noqa: E402
from keras_ecgpe.studies.cv_plan import plan_folds  # noqa: E402
from keras_ecgpe.studies.cv_summary import paired_auroc_ci, repeat_mean_auroc  # noqa: E402

TINY = set_options(tiny_overrides())


@pytest.fixture(scope="module")
def pe(tmp_path_factory):
    # Two records per patient (p0000 = r0000 + r0001, ...); 48 non-test records.
    return toy_cache(
        tmp_path_factory.mktemp("cv") / "pe",
        n_classes=1,
        label_names=["PE"],
        seed=4,
        splits={"train": 32, "validation": 16, "test": 12},
    )


def test_folds_are_patient_level_stratified_capped_and_never_touch_test(pe):
    folds = plan_folds(pe, k=3, repeats=2, seed=7)
    assert [f.name for f in folds] == ["r1-f1", "r1-f2", "r1-f3", "r2-f1", "r2-f2", "r2-f3"]
    non_test = set(pe.indices(["train", "validation"]).tolist())
    for r in (0, 1):
        held = np.concatenate([f.heldout for f in folds if f.repeat == r])
        assert sorted(held.tolist()) == sorted(non_test)  # each record held out once
    for fold in folds:
        parts = [set(pe.patient_ids[p]) for p in (fold.train, fold.validation, fold.heldout)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        rows = np.concatenate([fold.train, fold.validation, fold.heldout])
        assert not np.isin(pe.splits[rows], ["test"]).any() and len(rows) == 48
        for part in (fold.train, fold.validation, fold.heldout):  # stratified: both labels
            assert 0 < pe.labels[part, 0].sum() < len(part)
    assert [f.heldout.tolist() for f in folds[:3]] != [f.heldout.tolist() for f in folds[3:]]
    again = plan_folds(pe, k=3, repeats=2, seed=7)
    assert all(np.array_equal(a.train, b.train) for a, b in zip(folds, again))
    capped = plan_folds(pe, k=3, seed=7, max_train_records=16)
    for fold in capped:
        assert 14 <= len(fold.train) + len(fold.validation) <= 18  # whole patients of 2
        assert len(fold.heldout) == len(folds[fold.fold].heldout)  # scoring part unchanged
    with pytest.raises(ConfigError, match="k=30 exceeds"):
        plan_folds(pe, k=30)


def test_pooled_auroc_and_paired_bootstrap():
    rng = np.random.default_rng(0)
    y = (rng.random((60, 1)) < 0.4).astype(float)
    z = rng.normal(size=(60, 2, 1)) + 1.5 * y[:, None, :]
    mask = np.ones_like(y)
    expected = np.mean([auroc(y[:, 0] > 0.5, z[:, r, 0]) for r in range(2)])
    assert repeat_mean_auroc(y, mask, z) == pytest.approx(expected)
    groups = [f"p{i // 2}" for i in range(60)]
    same = paired_auroc_ci(y, mask, z, z, groups=groups, n_boot=50, seed=0)
    assert same["value"] == 0.0 and same["ci_low"] == same["ci_high"] == 0.0
    better = paired_auroc_ci(y, mask, z + 3.0 * y[:, None, :], z, groups=groups, n_boot=200, seed=0)
    assert better["value"] > 0 and better["ci_low"] > 0 and better["resampled_by"] == "group"


@pytest.mark.slow
def test_cv_command_writes_folds_and_summary_and_resume_skips_finished_folds(
    pe, tmp_path, progress_on_stderr
):
    out = tmp_path / "cv"
    args = [
        "--data",
        str(pe.path),
        "--cv",
        "3",
        "--out",
        str(out),
        *TINY,
        "--set",
        "training.batch_size=8",
        "--set",
        "training.epochs=1",
        "--set",
        "evaluation.bootstrap=100",
    ]
    first = CliRunner().invoke(train, args)
    assert first.exit_code == 0, first.output
    assert "the test split is not used" in first.output
    for name in ("r1-f1", "r1-f2", "r1-f3"):
        for item in ("best.keras", "contract.json", "run.json", "heldout.json"):
            assert (out / "cv" / name / item).is_file(), (name, item)
    summary = json.loads((out / "cv_summary.json").read_text())
    assert summary["synthetic"] is True and len(summary["per_fold"]) == 3
    assert summary["resampled_by"] == "patient" and "not used" in summary["test_split"]
    pooled = summary["pooled_per_repeat"][0]
    assert pooled["n_records"] == 48
    low, high = pooled["macro_ci"]["auroc"]["ci_low"], pooled["macro_ci"]["auroc"]["ci_high"]
    assert low <= pooled["macro"]["auroc"] <= high
    folds = [f["macro"]["auroc"] for f in summary["per_fold"]]
    assert summary["fold_mean_sd"]["auroc"]["mean"] == pytest.approx(np.mean(folds))
    assert summary["fold_mean_sd"]["auroc"]["sd"] == pytest.approx(np.std(folds, ddof=1))
    text = (out / "cv_summary.txt").read_text()
    assert "SYNTHETIC" in text and "r1-f3" in text and "bootstrap by patient" in text

    refused = CliRunner().invoke(train, args)
    assert refused.exit_code != 0 and "finished cross-validation" in refused.output
    # Lose the last fold and the summary, as a kill during fold 3 would; resume.
    stamps = {n: (out / "cv" / n / "best.keras").stat().st_mtime_ns for n in ("r1-f1", "r1-f2")}
    shutil.rmtree(out / "cv" / "r1-f3")
    (out / "cv_summary.json").unlink()
    again = CliRunner().invoke(train, args + ["--resume"])
    assert again.exit_code == 0, again.output
    assert again.output.count("finished earlier: skipped") == 2
    assert "[r1-f3] training" in again.output
    assert stamps == {n: (out / "cv" / n / "best.keras").stat().st_mtime_ns for n in stamps}
    resumed = json.loads((out / "cv_summary.json").read_text())
    assert resumed["per_fold"] == summary["per_fold"]  # deterministic: the same fold 3


@pytest.mark.slow
def test_compare_runs_every_arm_on_the_same_folds(pe, tmp_path):
    from keras_ecgpe.training import TrainConfig, train_run

    source = toy_cache(tmp_path / "pre", seed=9, splits={"train": 48, "validation": 16, "test": 4})
    pretrained = train_run(
        TrainConfig().with_overrides(
            tiny_overrides() + [f"data.cache={source.path}", "training.epochs=1"]
        ),
        tmp_path / "pre-run",
        progress=False,
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
            "--max-train-records",
            "16",
            "--out",
            str(out),
            "--set",
            "training.batch_size=8",
            "--set",
            "training.epochs=1",
            "--set",
            "evaluation.bootstrap=50",
        ],
    )
    assert result.exit_code == 0, result.output
    table = json.loads((out / "comparison.json").read_text())
    assert [a["arm"] for a in table["arms"]] == ["scratch", "linear", "full"]
    assert table["synthetic"] is True and table["reference"] == "scratch"
    plans = [
        json.loads((out / arm / "cv_plan.json").read_text())["folds"]
        for arm in ("scratch", "linear", "full")
    ]
    assert plans[0] == plans[1] == plans[2]  # the same records in every arm
    assert all(14 <= len(f["train"]) + len(f["validation"]) <= 18 for f in plans[0])
    for entry in table["arms"][1:]:
        diff = entry["per_fold_difference"]
        assert diff["n_folds"] == 2 and diff["better"] + diff["worse"] + diff["ties"] == 2
        mine, ref = entry["per_fold_auroc"], table["arms"][0]["per_fold_auroc"]
        assert diff["mean"] == pytest.approx(np.mean([mine[f] - ref[f] for f in mine]))
    markdown = (out / "comparison.md").read_text()
    assert "| linear |" in markdown and "SYNTHETIC DATA" in markdown
    configs = {arm: (out / arm / "config.yaml").read_text() for arm in ("scratch", "full")}
    assert "init_from: null" in configs["scratch"] and "width: 8" in configs["scratch"]
    assert f"init_from: {pretrained.run_dir}" in configs["full"]
