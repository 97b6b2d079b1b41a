"""The user's whole path through the CLI: demo data -> prepare -> train -> evaluate ->
export -> predict on real records, with the .keras and .tflite answers compared.

The run is trained with the package's own optimizer and schedule, and export/predict run
in fresh processes, so this catches a model that cannot be loaded back outside training
(custom objects registered only by importing the training code). Data: the SYNTHETIC demo
(tiny), then real PhysioNet records.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from fixtures import set_options, tiny_overrides
from keras_ecgpe.cli.main import cli

# Slow tier: trains, exports and predicts in fresh processes.
pytestmark = pytest.mark.slow


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def command(*args):
    """Runs the CLI in a fresh process, as a user would: nothing pre-imported."""
    code = "from keras_ecgpe.cli.main import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    demo = invoke("data", "demo", root / "demo", "--n-ptbxl", "20", "--n-pe", "60")
    assert demo.exit_code == 0, demo.output
    out = root / "run"
    result = invoke(
        "train",
        "--data",
        root / "demo" / "cache" / "pe",
        "--out",
        out,
        *set_options(tiny_overrides(evaluation__bootstrap=20, schedule__name="cosine")),
        "--epochs",
        "1",
        "--seed",
        "1",
    )
    assert result.exit_code == 0, result.output
    return out, root / "demo" / "cache" / "pe"


def test_evaluate_then_export_then_predict_agree(run_dir, real_ecg, tmp_path):
    run, cache = run_dir
    evaluated = invoke("evaluate", run, "--data", cache, "--json", "--bootstrap", "0")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["split"] == "test"

    command("export", run, "--tflite", "--out", tmp_path / "float")
    tflite = tmp_path / "float" / "model.tflite"
    assert tflite.is_file() and (tmp_path / "float" / "model.json").is_file()

    records = [
        real_ecg / "ptbxl" / "records500" / "06000" / "06001_hr",
        real_ecg / "cinc" / "E00666",
        real_ecg / "cpsc2018" / "A1981.mat",
        real_ecg / "ptb" / "s0010_re",
    ]
    answers = {}
    for model in (run, run / "best.keras", tflite):
        answers[str(model)] = json.loads(command("predict", model, *records, "--json"))
    keras_answers, keras_file, tflite_answers = answers.values()
    assert [a["decisions"] for a in keras_answers] == [a["decisions"] for a in tflite_answers]
    assert keras_answers == keras_file
    for ours, theirs in zip(keras_answers, tflite_answers):
        assert abs(ours["probabilities"]["PE"] - theirs["probabilities"]["PE"]) < 1e-3
