"""The resume state is checked before it is used (issue 10, class 7).

`train_state.json` is validated against the schema `train_state` and for values that
contradict each other or the run's configuration; `resume/state.npz` must have the SHA-256
the JSON recorded and say the same epoch. Every refusal is one line naming the file and
the way out. A start that fails before its first epoch leaves nothing that blocks the
corrected re-run.
"""

from __future__ import annotations

import json

import pytest

from fixtures import tiny_overrides, toy_cache
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.run_directory import run_status
from keras_ecgpe.training import TrainConfig, train_run
from keras_ecgpe.training.resume import TrainingState, open_run

GOOD = {
    "status": "running",
    "epochs_done": 2,
    "steps_per_epoch": 4,
    "best_epoch": 1,
    "best_value": 0.7,
    "wait": 0,
    "stopped": False,
    "arrays_sha256": "0" * 64,
}


def _state_dir(tmp_path, text: str):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "config.yaml").write_text(TrainConfig().to_yaml())
    (run / "train_state.json").write_text(text)
    return run


def test_a_valid_state_reads_back(tmp_path):
    state = TrainingState.read(_state_dir(tmp_path, json.dumps(GOOD)), epochs=10)
    assert state == TrainingState(**GOOD)


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"epochs_done": -7}, r"at \$.epochs_done: -7 is less than the minimum of 0"),
        ({"epochs_done": "2"}, r"at \$.epochs_done: '2' is not of type 'integer'"),
        ({"epochs_done": 99}, "99 epochs done, but the run has only 10"),
        ({"best_epoch": 5}, "best epoch 6 after the 2 epochs done"),
        ({"best_value": None}, "best_epoch and best_value must be given together"),
        ({"wait": 3}, "waited 3 epochs of 2 done"),
        ({"status": "paused"}, r"at \$.status: 'paused' is not one of"),
        ({"steps_per_epoch": 0}, r"at \$.steps_per_epoch: 0 is less than the minimum of 1"),
        ({"arrays_sha256": None}, "no checksum of the saved arrays"),
        ({"epochs": 3}, "Additional properties are not allowed"),
        ({"stopped": None}, r"at \$.stopped: None is not of type 'boolean'"),
    ],
)
def test_a_state_that_contradicts_itself_or_the_run_is_refused_in_one_line(
    tmp_path, change, problem
):
    run = _state_dir(tmp_path, json.dumps({**GOOD, **change}))
    with pytest.raises(ConfigError, match=problem) as caught:
        TrainingState.read(run, epochs=10)
    message = str(caught.value)
    assert message.startswith(str(run / "train_state.json"))
    assert "\n" not in message and "start it again with overwrite" in message


@pytest.mark.parametrize(
    "text, problem",
    [
        ("{not json", "unreadable training state"),
        ("[1, 2]", r"at \$: \[1, 2\] is not of type 'object'"),
        ('{"epochs_done": 1}', "is a required property"),
        ("", "unreadable training state"),
        ("\xff\xfe", "not UTF-8"),
    ],
)
def test_an_unreadable_state_is_refused_in_one_line(tmp_path, text, problem):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_state.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match=problem) as caught:
        TrainingState.read(run)
    assert "\n" not in str(caught.value) and "start it again" in str(caught.value)


def test_a_run_stopped_before_its_first_epoch_is_replaced_but_a_study_folder_is_kept(tmp_path):
    config = TrainConfig()
    early = tmp_path / "early"
    early.mkdir()
    (early / "config.yaml").write_text(config.with_values({"training.epochs": 7}).to_yaml())
    (early / "history.csv").write_text("epoch\n")
    # Nothing to keep: a new start (even with other settings, without --resume) replaces it.
    assert open_run(early, config, overwrite=False, resume=False) == (False, True)
    (early / "fold-1").mkdir()  # e.g. a cross-validation folder: not a bare early run
    with pytest.raises(ConfigError, match="unfinished run"):
        open_run(early, config, overwrite=False, resume=False)


@pytest.mark.slow
def test_a_start_that_fails_on_its_configuration_leaves_nothing_behind(tmp_path):
    no_validation = toy_cache(tmp_path / "cache", splits={"train": 16, "test": 4})
    config = TrainConfig().with_overrides(tiny_overrides() + [f"data.cache={no_validation.path}"])
    with pytest.raises(ConfigError, match="validation"):
        train_run(config, tmp_path / "run", progress=False)
    assert run_status(tmp_path / "run") == "new"
    # The corrected start is not refused (no --overwrite, no --resume needed).
    assert open_run(
        tmp_path / "run", config.with_values({"training.epochs": 1}), overwrite=False, resume=False
    ) == (False, False)
