"""`ecgpe-keras train` and `evaluate` through click's CliRunner on a SYNTHETIC toy cache."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fixtures import set_options, tiny_overrides, toy_cache
from keras_ecgpe.cli.main import cli

TINY = set_options(tiny_overrides(evaluation__bootstrap=20)) + ["--epochs", "1"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def assert_clean_error(result, *words, code=1):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for word in words:
        assert word in result.output


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_cache(tmp_path_factory.mktemp("cli") / "cache")


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-runs") / "run"
    result = invoke("train", "--data", toy.path, "--out", out, "--seed", 3, *TINY)
    assert result.exit_code == 0, result.output
    return out, result


@pytest.mark.slow
def test_train_writes_a_run(trained):
    out, result = trained
    assert "SYNTHETIC" in result.output and "validation macro AUROC" in result.output
    for name in ("config.yaml", "best.keras", "contract.json", "history.csv"):
        assert (out / name).is_file()
    config = (out / "config.yaml").read_text()
    assert "seed: 3" in config and "epochs: 1" in config and "width: 8" in config


@pytest.mark.slow
def test_evaluate_prints_a_report_and_json(trained, toy, tmp_path):
    run_dir, _ = trained
    result = invoke("evaluate", run_dir, "--data", toy.path, "--out", tmp_path / "text")
    assert result.exit_code == 0, result.output
    assert "AUROC" in result.output and "SYNTHETIC DATA" in result.output
    result = invoke(
        "evaluate",
        run_dir,
        "--data",
        toy.path,
        "--out",
        tmp_path / "json",
        "--json",
        "--split",
        "validation",
        "--bootstrap",
        "0",
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["split"] == "validation" and metrics["synthetic"] is True
    assert (tmp_path / "json" / "roc.png").is_file()
    again = invoke("evaluate", run_dir, "--data", toy.path, "--out", tmp_path / "json")
    assert_clean_error(again, "Error:", "not empty")


@pytest.mark.slow
def test_bad_options_give_one_line_errors(trained, toy, tmp_path):
    run_dir, _ = trained
    assert_clean_error(
        invoke("train", "--data", toy.path, "--finetune", "bogus"), "Invalid value", "bogus", code=2
    )
    assert_clean_error(
        invoke("train", "--data", toy.path, "--out", run_dir, *TINY), "Error:", "not empty"
    )
    assert_clean_error(
        invoke("train", "--data", toy.path, "--set", "training.epoch=3", "--out", tmp_path / "x"),
        "Error:",
        "training.epoch",
    )
    assert_clean_error(
        invoke("train", "--data", toy.path, "--model", "resnet9", "--out", tmp_path / "y"),
        "Error:",
        "resnet9",
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainig:\n  epochs: 2\n")
    assert_clean_error(invoke("train", "--config", bad), "Error:", "bad.yaml", "trainig")
    other = toy_cache(
        tmp_path / "other",
        n_classes=1,
        label_names=["PE"],
        splits={"train": 4, "validation": 4, "test": 4},
    )
    assert_clean_error(
        invoke("evaluate", run_dir, "--data", other.path, "--out", tmp_path / "z"),
        "Error:",
        "incompatible",
        "labels",
    )
    assert_clean_error(invoke("evaluate", run_dir), "--data", code=2)
    # Options without data are a forgotten --data, not a request for the demo.
    assert_clean_error(
        invoke("train", "--epochs", 3, "--out", tmp_path / "d"), "Error:", "no training data"
    )
    assert not (tmp_path / "d").exists()


def test_commands_are_listed_and_help_is_plain():
    result = invoke("--help")
    assert "train" in result.output and "evaluate" in result.output
    result = invoke("train", "--help")
    assert result.exit_code == 0 and "SYNTHETIC demo" in result.output
