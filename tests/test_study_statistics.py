"""Study statistics and study inputs: the cache's own folds, the corrected per-fold tests
with Holm's adjustment, patient clusters with missing ids, the study report's three files,
and the leakage check before transfer (no training here; see test_study_runs.py)."""

import json

import numpy as np
import pytest
from scipy import stats

from fixtures import TOY_FS, TOY_PREPROCESS, toy_cache
from keras_ecgpe.data.cache import CacheWriter
from keras_ecgpe.data.prepare import SplitSettings, _assign_splits
from keras_ecgpe.data.sources.base import SourceItem
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.studies.cv_plan import folds_origin, plan_folds
from keras_ecgpe.studies.fold_statistics import (
    fold_mean_test,
    holm_over_arms,
    paired_fold_difference,
)


def folded_cache(path, folds_from="source", n_folds=3, missing_id=None):
    """24 non-test + 4 test records, two per patient, each patient in fold patient % n_folds,
    half of every fold positive; `missing_id`: a record index stored without a patient id."""
    rng = np.random.default_rng(0)
    writer = CacheWriter(
        path,
        key="folded",
        source={"name": "toy", "synthetic": True},
        settings={
            "preprocess": TOY_PREPROCESS,
            **({} if folds_from is None else {"folds_from": folds_from}),
        },
        fs=TOY_FS,
        label_names=["PE"],
    )
    for r in range(28):
        patient = r // 2
        writer.add(
            rng.normal(size=(300, 12)).astype(np.float32),
            record_id=f"r{r:02d}",
            patient_id=None if r == missing_id else f"p{patient:02d}",
            labels=[float(patient % 2)],
            split="test" if r >= 24 else "train",
            fold=patient % n_folds,
        )
    return writer.close()


def test_prepare_records_where_folds_came_from():
    items = [
        SourceItem(f"r{k}", f"r{k}", f"p{k}", ("PE",) if k % 2 else (), None, k % 3)
        for k in range(12)
    ]
    assert _assign_splits(items, ["PE"], SplitSettings())[2] == "source"
    plain = [
        SourceItem(f"r{k}", f"r{k}", f"p{k}", ("PE",) if k % 2 else (), None, None)
        for k in range(12)
    ]
    assert _assign_splits(plain, ["PE"], SplitSettings(folds=3))[2] == "generated"
    assert _assign_splits(plain, ["PE"], SplitSettings(folds=0))[2] == "none"


def test_cv_uses_the_folds_the_user_supplied(tmp_path):
    cache = folded_cache(tmp_path / "own")
    assert folds_origin(cache) == "source"
    folds = plan_folds(cache, k=3, seed=1)
    assert [f.source_fold for f in folds] == [0, 1, 2]
    for fold in folds:  # held out: exactly the records the manifest put in that fold
        expected = np.flatnonzero((cache.folds == fold.source_fold) & (cache.splits != "test"))
        assert sorted(fold.heldout.tolist()) == expected.tolist()
        assert fold.to_dict(cache)["source_fold"] == fold.source_fold
    assert len(plan_folds(cache, k=None)) == 3  # k taken from the cache
    with pytest.raises(ConfigError, match=r"own folds .* are 3 .*`k=5`.*`regenerate_folds=True`"):
        plan_folds(cache, k=5)
    with pytest.raises(ConfigError, match="cannot be repeated"):
        plan_folds(cache, k=3, repeats=2)
    regenerated = plan_folds(cache, k=2, repeats=2, seed=1, regenerate_folds=True)
    assert len(regenerated) == 4 and all(f.source_fold is None for f in regenerated)


def test_generated_or_unknown_folds_are_dealt_again(tmp_path):
    for origin in ("generated", None):
        cache = folded_cache(tmp_path / f"c-{origin}", folds_from=origin)
        assert folds_origin(cache) == (origin or "unknown")
        folds = plan_folds(cache, k=2, seed=1)
        assert len(folds) == 2 and folds[0].source_fold is None


def test_a_patient_in_two_user_folds_is_refused(tmp_path):
    cache = folded_cache(tmp_path / "bad", n_folds=3)
    cache.folds[1] = (cache.folds[0] + 1) % 3  # r01 shares p00 with r00
    with pytest.raises(ConfigError, match="patient 'p00' has records in folds"):
        plan_folds(cache, k=3)


def test_corrected_t_is_primary_with_holm_over_arms():
    folds = [f"r1-f{i}" for i in range(1, 6)]
    sizes = {f: (80, 20) for f in folds}
    reference = dict(zip(folds, [0.70, 0.72, 0.68, 0.75, 0.71]))
    arms = {
        "linear": dict(zip(folds, [0.74, 0.75, 0.70, 0.80, 0.73])),
        "full": dict(zip(folds, [0.71, 0.70, 0.69, 0.78, 0.70])),
    }
    diffs = [paired_fold_difference(arms[a], reference, sizes) for a in arms]
    holm_over_arms(diffs)
    ps = []
    for arm, diff in zip(arms, diffs):
        d = np.array([arms[arm][f] - reference[f] for f in folds])
        se = np.sqrt((1 / 5 + 20 / 80) * d.var(ddof=1))
        t = d.mean() / se
        assert diff["corrected_t"]["t"] == pytest.approx(t)
        assert diff["corrected_t"]["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), 4))
        assert diff["sign_test"]["p_value"] == pytest.approx(
            stats.binomtest(int((d > 0).sum()), int((d != 0).sum())).pvalue
        )
        ps.append(diff["corrected_t"]["p_value"])
    low, high = sorted(ps)
    holm = {low: min(1, 2 * low), high: max(min(1, 2 * low), high)}
    assert [d["corrected_t"]["p_holm"] for d in diffs] == [pytest.approx(holm[p]) for p in ps]
    one = paired_fold_difference({"a": 0.8, "b": None}, {"a": 0.7, "b": 0.6}, sizes)
    assert one["corrected_t"] is None and one["folds_left_out"] == ["b"] and one["undefined"]
    chance = fold_mean_test(reference, sizes)
    assert chance["ci_low"] < chance["mean"] < chance["ci_high"] and chance["p_value"] < 0.05


def fake_results(cache, k=3, seed=0):
    """Held-out results as `score_heldout` writes them, with logits that track the label."""
    rng = np.random.default_rng(seed)
    results = []
    for fold in plan_folds(cache, k=k, seed=seed, regenerate_folds=True):
        y = cache.labels[fold.heldout, 0]
        results.append(
            {
                "fold": fold.name,
                "repeat": 1,
                "n_heldout": len(fold.heldout),
                "n_train": len(fold.train),
                "n_validation": len(fold.validation),
                "macro": {"auroc": float(0.6 + 0.1 * rng.random())},
                "records": [str(cache.record_ids[i]) for i in fold.heldout],
                "centred_logits": (rng.normal(size=(len(y), 1)) + 2 * y[:, None]).tolist(),
            }
        )
    return results


def test_one_missing_patient_id_keeps_the_patient_bootstrap(tmp_path):
    from keras_ecgpe.studies.cv_summary import summarize
    from keras_ecgpe.training import TrainConfig

    cache = folded_cache(tmp_path / "missing", missing_id=5)
    summary = summarize(
        fake_results(cache), cache, repeats=1, n_boot=50, seed=0, config=TrainConfig()
    )
    assert summary["resampled_by"] == "patient"
    assert summary["records_without_patient_id"] == 1
    assert summary["pooled_auroc_mean_over_repeats"]["resampled_by"] == "group"
    assert summary["primary"]["n_folds"] == 3 and summary["primary"]["df"] == 2


def test_cv_report_writes_three_files_and_flags_small_folds(tmp_path):
    from keras_ecgpe import schemas
    from keras_ecgpe.reporting import write_report
    from keras_ecgpe.studies.cross_validation import study_statistics
    from keras_ecgpe.studies.cv_report import cv_report
    from keras_ecgpe.studies.cv_summary import summarize
    from keras_ecgpe.training import TrainConfig

    cache = folded_cache(tmp_path / "c")
    summary = summarize(
        fake_results(cache), cache, repeats=1, n_boot=20, seed=0, config=TrainConfig()
    )
    summary.update(
        synthetic=True,
        k=3,
        repeats=1,
        folds_from={"description": "the cache's own 3 folds"},
        max_train_records=None,
        cache=str(cache.path),
        label_names=["PE"],
        test_split="not used",
        statistics=study_statistics(TrainConfig(), None, 20),
    )
    paths = write_report(cv_report(summary, tmp_path), tmp_path / "out")
    document = json.loads(paths["json"].read_text())
    schemas.validate(document, "report", str(paths["json"]))
    text = paths["text"].read_text()
    assert "PRIMARY" in text and "SECONDARY" in text and "SYNTHETIC DATA" in text
    assert "fewer than 10" in text and "the cache's own 3 folds" in text
    assert "No analysis plan was given" in text


def leaky_fine_tune_cache(path, pretrain_signals=()):
    """Patient p09 spans train and test; `pretrain_signals` are written as test records."""
    rng = np.random.default_rng(1)
    writer = CacheWriter(
        path,
        key="fine",
        source={"name": "toy"},
        settings={"preprocess": TOY_PREPROCESS},
        fs=TOY_FS,
        label_names=["PE"],
    )
    for r in range(20):
        writer.add(
            rng.normal(size=(300, 12)).astype(np.float32),
            record_id=f"f{r:02d}",
            patient_id=f"p{r // 2:02d}",
            labels=[float(r % 2)],
            split="train" if r < 19 else "test",
        )
    for r, signal in enumerate(pretrain_signals):
        writer.add(signal, record_id=f"t{r}", patient_id=f"q{r}", labels=[0.0], split="test")
    return writer.close()


def pretrained_run_dir(path, cache_path):
    from keras_ecgpe.training import TrainConfig

    path.mkdir()
    config = TrainConfig().with_values({"data.cache": str(cache_path)})
    (path / "config.yaml").write_text(config.to_yaml())
    return path


def test_leakage_before_transfer_is_refused_unless_accepted(tmp_path):
    from keras_ecgpe.studies.transfer_leakage import check_transfer_leakage

    pre = toy_cache(tmp_path / "pre", n_classes=1, splits={"train": 4, "validation": 2})
    fine = leaky_fine_tune_cache(tmp_path / "fine", [pre.signal(1)])
    run = pretrained_run_dir(tmp_path / "run", pre.path)
    with pytest.raises(ConfigError) as refused:
        check_transfer_leakage(run, fine.path, accept=False)
    message = str(refused.value)
    assert "patient 'p09'" in message and "t0" in message and "`accept_leakage=True`" in message
    accepted = check_transfer_leakage(run, fine.path, accept=True)
    assert accepted["accepted"] and not accepted["clean"]
    assert accepted["pretraining_check"] == "run" and "t0 (test) in" in " ".join(
        accepted["leaked_records"]
    )
    gone = pretrained_run_dir(tmp_path / "moved", tmp_path / "deleted-cache")
    unchecked = check_transfer_leakage(gone, pre.path, accept=False)
    assert unchecked["pretraining_check"].startswith("not run: the pretraining cache")
    assert unchecked["clean"]


def test_train_init_from_refuses_leakage_before_training(tmp_path):
    from click.testing import CliRunner

    from keras_ecgpe.cli.train_commands import train

    pre = toy_cache(tmp_path / "pre", n_classes=1, splits={"train": 4, "validation": 2})
    fine = leaky_fine_tune_cache(tmp_path / "fine")
    run = pretrained_run_dir(tmp_path / "run", pre.path)
    result = CliRunner().invoke(
        train, ["--data", str(fine.path), "--init-from", str(run), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "patient 'p09'" in result.output and "--accept-leakage" in result.output
    assert not (tmp_path / "o").exists()
