"""Tests of train_run and evaluate_run on SYNTHETIC toy caches (tiny models, few epochs)."""

import csv
import json

import keras
import numpy as np
import pytest
import yaml

from fixtures import TOY_PREPROCESS, tiny_overrides, toy_cache
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.training import TrainConfig, evaluate_run, train_run


def read_history(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    # Partial label masks: the training batches carry (x, y, mask) sample weights.
    return toy_cache(tmp_path_factory.mktemp("trainer") / "cache", partial_mask=True)


@pytest.fixture(scope="module")
def config(toy):
    return TrainConfig().with_overrides(tiny_overrides() + [f"data.cache={toy.path}"])


@pytest.fixture(scope="module")
def run(tmp_path_factory, config):
    return train_run(config, tmp_path_factory.mktemp("runs") / "run", progress=False)


@pytest.mark.slow
def test_run_directory_holds_everything(run, config, toy):
    folder = run.run_dir
    for name in (
        "config.yaml",
        "best.keras",
        "last.keras",
        "contract.json",
        "history.csv",
        "validation_metrics.json",
        "validation_summary.txt",
        "training_curves.png",
        "run.json",
    ):
        assert (folder / name).is_file(), name
    assert TrainConfig.from_dict(yaml.safe_load((folder / "config.yaml").read_text())) == config
    history = read_history(folder / "history.csv")
    assert len(history) == run.epochs_run == 2 and 1 <= run.best_epoch <= 2
    assert {"loss", "macro_auroc", "val_loss", "val_macro_auroc", "learning_rate"} <= set(
        history[0]
    )
    contract = json.loads((folder / "contract.json").read_text())
    assert contract["window"] == 250 and contract["eval_stride"] == 125
    assert contract["aggregate"] == "max" and contract["label_names"] == ["A", "B"]
    assert contract["thresholds"]["chosen_on"] == "validation" and contract["temperature"] > 0
    assert contract["preprocess"] == TOY_PREPROCESS and contract["data"]["synthetic"] is True
    metrics = json.loads((folder / "validation_metrics.json").read_text())
    assert metrics["split"] == "validation" and metrics["synthetic"] is True
    assert "optimistic" in metrics["caveat"]
    assert "SYNTHETIC" in (folder / "validation_summary.txt").read_text()
    details = json.loads((folder / "run.json").read_text())
    assert details["n_train"] == 48 and details["steps_per_epoch"] == 3
    rows = toy.indices("train")
    labels, mask = toy.labels[rows], toy.label_mask[rows]  # class B partly unannotated
    expected = ((1 - labels) * mask).sum(axis=0) / (labels * mask).sum(axis=0)
    assert mask[:, 1].sum() < len(rows) and details["pos_weight_auto"] == pytest.approx(expected)
    assert run.synthetic and run.val_metrics["auroc"] == pytest.approx(metrics["macro"]["auroc"])


@pytest.mark.slow
def test_same_seed_gives_the_same_run(run, config, tmp_path):
    again = train_run(config, tmp_path / "again", progress=False)
    first, second = read_history(run.history), read_history(again.history)
    for a, b in zip(first, second):
        assert {k: v for k, v in a.items() if k.startswith("val_")} == {
            k: v for k, v in b.items() if k.startswith("val_")
        }
    assert again.val_metrics == run.val_metrics
    for a, b in zip(
        keras.saving.load_model(run.best_model).get_weights(),
        keras.saving.load_model(again.best_model).get_weights(),
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_evaluate_applies_the_contract_once(run, toy, tmp_path):
    metrics = evaluate_run(run.run_dir, toy.path, n_boot=50)
    out = run.run_dir / "eval-test"
    for name in (
        "metrics.json",
        "summary.txt",
        "predictions.csv",
        "roc.png",
        "pr.png",
        "calibration.png",
    ):
        assert (out / name).is_file(), name
    assert metrics["n_records"] == 24 and metrics["split"] == "test"
    assert metrics["bootstrap"]["resampled_by"] == "group"  # by patient
    low, high = metrics["macro_ci"]["auroc"]["ci_low"], metrics["macro_ci"]["auroc"]["ci_high"]
    assert low <= metrics["macro"]["auroc"] <= high
    assert metrics["synthetic"] is True and "SYNTHETIC" in (out / "summary.txt").read_text()
    assert {"ece_before", "ece_after", "temperature"} <= set(metrics["calibration"])
    contract = json.loads(run.contract.read_text())
    assert metrics["operating_point"]["thresholds"]["A"] == contract["thresholds"]["thresholds"][0]
    rows = (out / "predictions.csv").read_text().splitlines()
    assert len(rows) == 25 and rows[0].startswith("record_id,patient_id,A_label")
    with pytest.raises(ConfigError, match="not empty"):
        evaluate_run(run.run_dir, toy.path, n_boot=0)
    evaluate_run(run.run_dir, toy.path, n_boot=0, overwrite=True, plots=False)
    other = toy_cache(
        tmp_path / "pe",
        n_classes=1,
        label_names=["PE"],
        splits={"train": 4, "validation": 4, "test": 4},
    )
    with pytest.raises(ConfigError, match="labels"):
        evaluate_run(run.run_dir, other.path, out_dir=tmp_path / "e")


def test_a_failed_start_leaves_nothing_behind_and_validation_is_required(config, tmp_path):
    no_val = toy_cache(tmp_path / "noval", splits={"train": 20, "test": 4})
    bad = config.with_values({"data.cache": str(no_val.path)})
    with pytest.raises(ConfigError, match="no `validation` records"):
        train_run(bad, tmp_path / "run", progress=False)
    # A start that fails before its first epoch leaves no config.yaml that would make the
    # corrected re-run refuse the folder: the same call fails for the same reason again.
    assert not any((tmp_path / "run").iterdir())
    with pytest.raises(ConfigError, match="no `validation` records"):
        train_run(bad, tmp_path / "run", progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a previous run"):
        train_run(bad, tmp_path / "other", progress=False, overwrite=True)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match="no training data"):
        train_run(TrainConfig(), tmp_path / "nodata", progress=False)


@pytest.mark.slow
def test_learnable_task_is_learned_and_random_labels_are_not(tmp_path):
    # Honest check: the feature is visible, so test AUROC must be high; with labels that
    # carry no signal, the same recipe must stay near chance.
    results = {}
    for learnable in (True, False):
        cache = toy_cache(
            tmp_path / f"c{learnable}",
            learnable=learnable,
            seed=1,
            splits={"train": 160, "validation": 40, "test": 40},
        )
        config = TrainConfig().with_overrides(
            tiny_overrides()
            + [
                f"data.cache={cache.path}",
                "training.epochs=10",
                "loss.name=bce",
                "optimizer.learning_rate=0.003",
                "data.augment=false",
            ]
        )
        run = train_run(config, tmp_path / f"r{learnable}", progress=False)
        results[learnable] = evaluate_run(run.run_dir, cache.path, n_boot=0, plots=False)["macro"][
            "auroc"
        ]
    assert results[True] > 0.9, results
    assert results[False] < 0.8, results


@pytest.mark.slow
def test_gradual_transfer_through_train_run(run, tmp_path):
    target = toy_cache(tmp_path / "pe", n_classes=1, label_names=["PE"], seed=3)
    config = TrainConfig().with_overrides(
        tiny_overrides()
        + [
            f"data.cache={target.path}",
            f"transfer.init_from={run.run_dir}",
            "training.epochs=3",
            "transfer.finetune=gradual",
            "transfer.gradual_epochs_per_stage=1",
            "loss.name=bce",
        ]
    )
    result = train_run(config, tmp_path / "fine", progress=False)
    details = json.loads((result.run_dir / "run.json").read_text())
    assert details["transferred_from"] == str(run.run_dir) and details["epochs_run"] == 3
    assert details["pos_weight_auto"] == [1.0]
    contract = json.loads(result.contract.read_text())
    assert contract["label_names"] == ["PE"] and contract["model_name"] == "resnet1d18"
    assert len(read_history(result.history)) == 3
    with pytest.raises(ConfigError, match="window"):
        train_run(config.with_values({"data.window_s": 2.0}), tmp_path / "w", progress=False)
    with pytest.raises(ConfigError, match="standardi"):
        train_run(config.with_values({"data.standardize": True}), tmp_path / "s", progress=False)


@pytest.mark.slow
def test_precision_policy_is_reset_and_steps_per_epoch_is_honoured(config, tmp_path):
    short = config.with_overrides(
        [
            "training.precision=mixed_bfloat16",
            "training.epochs=1",
            "training.steps_per_epoch=2",
            "data.standardize=true",
            "schedule.name=onecycle",
        ]
    )
    result = train_run(short, tmp_path / "bf16", progress=False)
    assert keras.config.dtype_policy().name == "float32"
    details = json.loads((result.run_dir / "run.json").read_text())
    assert details["steps_per_epoch"] == 2 and result.epochs_run == 1
    contract = json.loads(result.contract.read_text())
    assert len(contract["standardizer"]["mean"]) == 12


@pytest.mark.slow
def test_default_demo_runs_end_to_end_on_a_small_synthetic_set(
    tmp_path, capsys, progress_on_stderr
):
    from keras_ecgpe.training.demo_run import default_demo_run

    small = {"model.overrides": {"width": 8}, "training.epochs": 1, "training.batch_size": 16}
    result = default_demo_run(
        tmp_path / "demo",
        n_ptbxl=80,
        n_pe=80,
        pretrain=small,
        finetune={**small, "evaluation.bootstrap": 20},
    )
    printed = capsys.readouterr().err  # progress goes to stderr (keras_ecgpe.messages)
    assert result["synthetic"] is True and "SYNTHETIC" in printed
    for stage in ("[1/4] Writing SYNTHETIC", "[2/4]", "[3/4]", "[4/4]", "SYNTHETIC demo done"):
        assert stage in printed
    assert (tmp_path / "demo" / "finetune-pe" / "eval-test" / "roc.png").is_file()
    contract = json.loads((tmp_path / "demo" / "finetune-pe" / "contract.json").read_text())
    assert contract["label_names"] == ["PE"] and contract["data"]["synthetic"] is True
    assert (
        "SYNTHETIC" in (tmp_path / "demo" / "finetune-pe" / "eval-test" / "summary.txt").read_text()
    )
    with pytest.raises(ConfigError, match="not empty and not a previous SYNTHETIC demo"):
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "thesis.tex").write_text("x")
        default_demo_run(tmp_path / "mine")


def test_a_previous_demo_with_a_killed_writers_lock_files_is_accepted(tmp_path):
    from keras_ecgpe.data import locks
    from keras_ecgpe.training.demo_run import DEMO_DATA, PRETRAIN_RUN, _check_out_dir

    out = tmp_path / "demo"
    (out / DEMO_DATA).mkdir(parents=True)
    (out / DEMO_DATA / "SYNTHETIC_DATA.txt").write_text("SYNTHETIC")
    locks.lock_path(out / PRETRAIN_RUN).write_text("{}")  # what a SIGKILLed demo leaves
    _check_out_dir(out)
    (out / ".thesis.lock").write_text("{}")  # a lock-like name of no demo folder: foreign
    with pytest.raises(ConfigError, match="not a previous SYNTHETIC demo"):
        _check_out_dir(out)
