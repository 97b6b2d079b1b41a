"""Resumable runs (issue 6) on SYNTHETIC toy caches: SIGKILL mid-epoch, --resume, same end.

The killed run is a real `ecgpe-keras`-equivalent process (a small script calling
`train_run` with one extra callback that, in epoch 3, writes a marker file and then sleeps:
the test waits for the marker and sends SIGKILL, so the kill lands inside an epoch every
time). The continuation runs the real CLI with --resume. The uninterrupted reference runs
in this process; on CPU with op determinism both must end identical.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from fixtures import tiny_overrides, toy_cache
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.run_directory import run_status
from keras_ecgpe.training import TrainConfig, train_run
from keras_ecgpe.training.resume import TrainingState

# Slow tier: trains, and kills training processes mid-run.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
KILLED_RUN = """
import sys, time
from pathlib import Path
import keras
from keras_ecgpe.training import TrainConfig, train_run

class PauseInEpoch(keras.callbacks.Callback):
    # Test only: in epoch 3 (0-based 2), after two steps, show a marker and stall.
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 2 and batch == 1:
            Path(sys.argv[3]).write_text("epoch 3 under way")
            time.sleep(600)
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

config = TrainConfig.from_file(sys.argv[1])
train_run(config, sys.argv[2], progress=False, callbacks=[PauseInEpoch()])
"""


def _history(path):
    return [line for line in Path(path).read_text().splitlines()]


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    cache = toy_cache(
        tmp_path_factory.mktemp("resume") / "cache",
        partial_mask=True,
        splits={"train": 64, "validation": 24, "test": 8},
    )
    # 4 steps per epoch, 5 epochs, a cosine schedule (the step count must be restored).
    return TrainConfig().with_overrides(
        tiny_overrides()
        + [
            f"data.cache={cache.path}",
            "training.epochs=5",
            "schedule.name=cosine",
            "optimizer.learning_rate=0.003",
            "training.patience=2",
        ]
    )


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(config, tmp_path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text(config.to_yaml())
    (tmp_path / "killed.py").write_text(KILLED_RUN)
    run, marker = tmp_path / "run", tmp_path / "marker"
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "killed.py"), str(config_file), str(run), str(marker)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the run never reached epoch 3"
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    state = TrainingState.read(run)
    assert run_status(run) == "unfinished" and state.status == "running"
    assert state.epochs_done == 2 and (run / "resume" / "state.npz").is_file()
    assert not (run / "run.json").exists()

    with pytest.raises(ConfigError, match="not empty: it holds an unfinished run .*`resume=True`"):
        train_run(config, run, progress=False)
    with pytest.raises(ConfigError, match="training.epochs differ"):
        train_run(config.with_values({"training.epochs": 6}), run, progress=False, resume=True)

    done = subprocess.run(
        [
            str(BIN / "ecgpe-keras"),
            "train",
            "--config",
            str(config_file),
            "--out",
            str(run),
            "--resume",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Resuming after epoch 2" in done.stderr  # progress goes to stderr

    reference = train_run(config, tmp_path / "reference", progress=False)
    resumed = json.loads((run / "validation_metrics.json").read_text())
    uninterrupted = json.loads(reference.validation_metrics.read_text())
    assert resumed["macro"] == uninterrupted["macro"]  # identical, not merely close
    assert _history(run / "history.csv") == _history(reference.history)
    for a, b in zip(
        keras.saving.load_model(run / "best.keras").get_weights(),
        keras.saving.load_model(reference.best_model).get_weights(),
    ):
        np.testing.assert_array_equal(a, b)
    details = json.loads((run / "run.json").read_text())
    assert details["resumed_after_epoch"] == 2 and details["epochs_run"] == 5
    assert TrainingState.read(run).status == "finished" and not (run / "resume").exists()

    again = subprocess.run(
        [
            str(BIN / "ecgpe-keras"),
            "train",
            "--config",
            str(config_file),
            "--out",
            str(run),
            "--resume",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode != 0 and "finished run" in again.stderr


def test_resume_starts_a_new_or_never_checkpointed_run(config, tmp_path):
    # --resume on a new directory simply trains; a run killed before its first epoch
    # ended (config.yaml only) has nothing to keep and starts again.
    short = config.with_values({"training.epochs": 1})
    (tmp_path / "early").mkdir()
    (tmp_path / "early" / "config.yaml").write_text(short.to_yaml())
    result = train_run(short, tmp_path / "early", progress=False, resume=True)
    assert result.epochs_run == 1 and run_status(result.run_dir) == "finished"
    assert yaml.safe_load((result.run_dir / "config.yaml").read_text()) == short.to_dict()
    with pytest.raises(ConfigError, match="finished run"):
        train_run(short, tmp_path / "early", progress=False, resume=True)
    train_run(short, tmp_path / "early", progress=False, overwrite=True)
