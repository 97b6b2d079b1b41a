"""A run's models and an export bundle are checked before use; one writer per folder
(issue 10, classes 4 and 5), on one tiny run trained for one epoch on a SYNTHETIC toy cache.

- a finished run records the SHA-256 of its model files (`checksums.json`); evaluate, export
  and predict refuse a modified model in one line naming it;
- `predict` refuses a `.tflite` whose bytes differ from its `model.json`, and
  `ecgpe-keras export verify` checks the file, its embedded description and the golden
  vectors;
- a run directory (train), an evaluation folder and an export bundle being written by
  another process refuse a second writer, naming the holder;
- a damaged or edited resume state stops `train --resume` with one line and the way out
  (class 7; the fast cases are in test_resume_state.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from fixtures import tiny_overrides, toy_cache
from keras_ecgpe.cli.main import cli
from keras_ecgpe.data import locks
from keras_ecgpe.export.bundle import export_run
from keras_ecgpe.run_directory import run_status
from keras_ecgpe.training import TrainConfig, train_run
from keras_ecgpe.training.evaluate import evaluate_run

pytestmark = pytest.mark.slow  # trains a model and converts it to TFLite

HOLD_LOCK = """
import sys, time
from keras_ecgpe.data.locks import acquire
lock = acquire(sys.argv[1], "run directory")
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run, stopped after epoch 1 of 2 (a copy is kept), then resumed to its end,
    and its float32 export."""
    import keras

    base = tmp_path_factory.mktemp("integrity")
    cache = toy_cache(base / "cache", splits={"train": 32, "validation": 16, "test": 8})
    config = TrainConfig().with_overrides(
        tiny_overrides(training__epochs=2) + [f"data.cache={cache.path}"]
    )

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt  # as a kill once the epoch's state is written

    with pytest.raises(KeyboardInterrupt):
        train_run(config, base / "run", progress=False, callbacks=[StopAfterFirstEpoch()])
    shutil.copytree(base / "run", base / "unfinished")
    run = train_run(config, base / "run", progress=False, resume=True).run_dir
    bundle = export_run(run, out_dir=base / "bundle", force=True).out_dir
    return {
        "run": run,
        "cache": cache.path,
        "bundle": bundle,
        "config": config,
        "unfinished": base / "unfinished",
    }


@pytest.fixture(scope="module")
def finished(trained):
    return trained["run"], trained["cache"], trained["bundle"]


def _one_line_error(result, *needles):
    assert result.exit_code != 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def _flip(path, count=400):
    data = bytearray(path.read_bytes())
    for k in range(count):
        data[len(data) // 3 + k] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_modified_run_model_is_refused_by_evaluate_export_and_predict(
    finished, tmp_path, real_ecg
):
    run, cache, _ = finished
    listed = json.loads((run / "checksums.json").read_text())
    assert sorted(listed["files"]) == ["best.keras", "last.keras"]
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    _flip(copy / "best.keras", count=8)
    runner = CliRunner()
    record = str(real_ecg / "cpsc2018" / "A1980.mat")
    for args in (
        ["evaluate", str(copy), "--data", str(cache), "--split", "validation"],
        ["export", str(copy), "--tflite", "--out", str(tmp_path / "out")],
        ["predict", str(copy), record],
    ):
        _one_line_error(runner.invoke(cli, ["-q", *args]), "best.keras", "SHA-256")
    (copy / "checksums.json").unlink()
    _one_line_error(runner.invoke(cli, ["-q", "predict", str(copy), record]), "checksums.json")


def test_predict_and_export_verify_refuse_a_modified_bundle(finished, tmp_path, real_ecg):
    _, _, bundle = finished
    runner = CliRunner()
    ok = runner.invoke(cli, ["export", "verify", str(bundle)])
    assert ok.exit_code == 0 and "golden vectors reproduced" in ok.output, ok.output
    record = str(real_ecg / "cpsc2018" / "A1980.mat")
    assert runner.invoke(cli, ["-q", "predict", str(bundle), record]).exit_code == 0

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    _flip(copy / "model.tflite")  # 400 bytes: still loads, and once predicted p=1.000
    for args in (["predict", str(copy / "model.tflite"), record], ["export", "verify", str(copy)]):
        _one_line_error(runner.invoke(cli, ["-q", *args]), "model.tflite", "SHA-256")
    (copy / "model.json").unlink()
    _one_line_error(
        runner.invoke(cli, ["-q", "predict", str(copy / "model.tflite"), record]), "model.json"
    )
    shutil.rmtree(copy)
    shutil.copytree(bundle, copy)
    golden = copy / "golden.npz"
    golden.write_bytes(golden.read_bytes()[:100])
    _one_line_error(runner.invoke(cli, ["-q", "export", "verify", str(copy)]), "golden.npz")


def test_a_second_writer_of_a_run_evaluation_or_bundle_is_refused(finished, tmp_path):
    run, cache, bundle = finished
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "busy")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
        config = json.dumps({"data": {"cache": str(cache)}, "training": {"epochs": 1}})
        (tmp_path / "config.json").write_text(config)
        result = CliRunner().invoke(
            cli,
            [
                "-q",
                "train",
                "--config",
                str(tmp_path / "config.json"),
                "--out",
                str(tmp_path / "busy"),
            ],
        )
        _one_line_error(
            result, "another process is writing this run directory", f"pid {holder.pid} on "
        )
    finally:
        holder.kill()
        holder.wait()
    # In this process: a lock held through another open file refuses just the same.
    with locks.writing(tmp_path / "eval", "evaluation folder"):
        with pytest.raises(locks.LockedError, match="writing this evaluation folder"):
            evaluate_run(run, cache, split="validation", out_dir=tmp_path / "eval", n_boot=0)
    with locks.writing(tmp_path / "bundle", "export bundle"):
        with pytest.raises(locks.LockedError, match="writing this export bundle"):
            export_run(run, out_dir=tmp_path / "bundle", force=True)
    assert not (tmp_path / "bundle").exists() and not (tmp_path / "eval").exists()


# --- resume state (class 7) on the copy stopped after epoch 1 ---------------------


def _resume(config, run):
    (run.parent / "config.yaml").write_text(config.to_yaml())
    return CliRunner().invoke(
        cli,
        ["-q", "train", "--config", str(run.parent / "config.yaml"), "--out", str(run)]
        + ["--resume"],
    )


def test_a_damaged_saved_state_gives_one_line_and_the_way_out(trained, tmp_path):
    config, original = trained["config"], trained["unfinished"]
    assert run_status(original) == "unfinished"
    cases = {
        "garbage json": lambda run: (run / "train_state.json").write_text("{"),
        "epochs_done -7": lambda run: _edit(run, epochs_done=-7),
        "epochs_done 99": lambda run: _edit(run, epochs_done=99),
        "epochs_done 0 (arrays say 1)": lambda run: _edit(
            run, epochs_done=0, best_epoch=None, best_value=None
        ),
        "flipped arrays": lambda run: _flip(run / "resume" / "state.npz"),
        "arrays not a zip": lambda run: _replace_arrays(run, b"PK\x03\x04 not a zip"),
    }
    for name, damage in cases.items():
        run = tmp_path / name.replace(" ", "_")
        shutil.copytree(original, run)
        damage(run)
        result = _resume(config, run)
        assert result.exit_code != 0, name
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output, (name, result.output)
        assert "cannot be continued" in lines[0] and "overwrite" in lines[0], (name, lines)


def _edit(run, **values):
    state = json.loads((run / "train_state.json").read_text())
    state.update(values)
    (run / "train_state.json").write_text(json.dumps(state))


def _replace_arrays(run, blob: bytes):
    (run / "resume" / "state.npz").write_bytes(blob)
    _edit(run, arrays_sha256=hashlib.sha256(blob).hexdigest())
