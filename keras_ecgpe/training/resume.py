"""Resumable runs: an epoch-end training state, and continuing a killed run from it.

After every epoch the run directory gets `resume/state.npz` (every model variable, BatchNorm
statistics and seed-generator states included, and every optimizer variable: moments,
step count, loss scale) and then `train_state.json` (epochs done, steps per epoch, the
early-stopping and best-metric state). Both are written atomically (temporary name, then
`os.replace`), the arrays first, so the JSON never points at a half-written file.
`train_state.json` says "running" until the run's last file is written, then "finished".

Continuing (`train_run(..., resume=True)`, `ecgpe-keras train --resume`) rebuilds the
model and optimizer exactly as the first attempt did, loads the state, truncates
`history.csv` to the epochs done and fits from the next epoch; the training data stream
is skipped to the same position (`epochs done x steps per epoch` batches of the same
seeded stream), so on CPU with `training.deterministic` the continued run ends with the
same weights and metrics as an uninterrupted one. A kill loses at most the epoch it hit.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import run_directory
from keras_ecgpe.data.atomic import atomic_open, atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

    import keras

    from keras_ecgpe.training.config import TrainConfig


@dataclasses.dataclass
class TrainingState:
    """What a continued run needs besides the arrays (`epochs_done` counts from 1)."""

    status: str = "running"
    epochs_done: int = 0
    steps_per_epoch: int = 0
    best_epoch: int | None = None  # 0-based, as BestCheckpoint
    best_value: float | None = None
    wait: int = 0
    stopped: bool = False

    @classmethod
    def read(cls, run_dir: os.PathLike | str) -> TrainingState | None:
        path = Path(run_dir) / run_directory.STATE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: unreadable training state ({exc})") from None

    def write(self, run_dir: os.PathLike | str) -> None:
        atomic_write_json(Path(run_dir) / run_directory.STATE, dataclasses.asdict(self))


def open_run(
    out_dir: os.PathLike | str, config: TrainConfig, *, overwrite: bool, resume: bool
) -> tuple[bool, bool]:
    """Decides whether `out_dir` starts a new run or continues an unfinished one.

    Returns:
        `(continue, replace)`: continue the unfinished run (its config equals `config`),
        or start anew, replacing what `out_dir` holds when `replace` is set (an
        `overwrite`, or a `resume` of a run killed before its first epoch ended: there is
        nothing to keep).

    Raises:
        ConfigError: a finished run without `overwrite`; an unfinished run without
            `resume` or `overwrite`; a continued run whose config differs (keys named).
    """
    status = run_directory.run_status(out_dir)
    if status == "finished" and not overwrite:
        raise ConfigError(
            f"{out_dir}: the run directory is not empty: it holds a finished "
            "run; choose another directory or replace it (--overwrite)"
        )
    if status != "unfinished" or overwrite:
        return False, overwrite
    state = TrainingState.read(out_dir)
    if not resume:
        done = state.epochs_done if state else 0
        raise ConfigError(
            f"{out_dir}: the run directory is not empty: it holds an "
            f"unfinished run (stopped after epoch {done}); continue it with "
            "--resume or replace it with --overwrite"
        )
    from keras_ecgpe.training.config import TrainConfig

    saved = TrainConfig.from_file(Path(out_dir) / run_directory.CONFIG)
    if saved != config:
        old, new = saved.to_dict(), config.to_dict()
        keys = [f"{s}.{k}" for s in new for k in new[s] if old[s].get(k) != new[s][k]]
        raise ConfigError(
            f"{out_dir}: the unfinished run was started with another "
            f"configuration ({', '.join(keys)} differ); resume it with the same "
            "settings, or --overwrite"
        )
    if state is None:
        return False, True
    return True, False


def save_state(run_dir: os.PathLike | str, model: keras.Model, state: TrainingState) -> None:
    """Writes the arrays, then `train_state.json` (both atomic)."""
    # `.value` is the backend variable: its numpy() reads the first replica's copy.
    arrays = {f"model_{i:05d}": v.value.numpy() for i, v in enumerate(model.variables)}
    arrays.update(
        {f"optimizer_{i:05d}": v.value.numpy() for i, v in enumerate(model.optimizer.variables)}
    )
    path = Path(run_dir) / run_directory.STATE_ARRAYS
    path.parent.mkdir(exist_ok=True)
    with atomic_open(path) as handle:
        np.savez(handle, **arrays)
    state.write(run_dir)


def restore_state(
    run_dir: os.PathLike | str,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    steps_per_epoch: int,
) -> TrainingState:
    """Loads the saved variables into `model` and a BUILT `optimizer`; trims history.csv.

    Raises:
        ConfigError: no state, or variables that do not match the rebuilt model.
    """
    state = TrainingState.read(run_dir)
    path = Path(run_dir) / run_directory.STATE_ARRAYS
    if state is None or not path.is_file():
        raise ConfigError(
            f"{run_dir}: no training state to resume from (the run stopped "
            "before its first epoch ended); start it again with --overwrite"
        )
    if state.steps_per_epoch != steps_per_epoch:
        raise ConfigError(
            f"{run_dir}: the run trained {state.steps_per_epoch} steps per "
            f"epoch, this data gives {steps_per_epoch}; the data changed"
        )
    with np.load(path, allow_pickle=False) as data:
        for prefix, variables in (("model", model.variables), ("optimizer", optimizer.variables)):
            names = sorted(k for k in data.files if k.startswith(prefix + "_"))
            if len(names) != len(variables) or any(
                tuple(data[n].shape) != tuple(v.shape) for n, v in zip(names, variables)
            ):
                raise ConfigError(
                    f"{path}: the saved {prefix} variables do not match the "
                    "rebuilt model; was the configuration changed?"
                )
            for name, variable in zip(names, variables):
                variable.assign(data[name])
    _trim_history(Path(run_dir) / run_directory.HISTORY, state.epochs_done)
    return state


def _trim_history(path: Path, epochs: int) -> None:
    """Keeps the header and the first `epochs` rows (a kill can leave one row more)."""
    if not path.is_file():
        return
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
    out = io.StringIO()
    csv.writer(out).writerows(rows[: 1 + epochs])  # the excel dialect, as CSVLogger
    atomic_write_bytes(path, out.getvalue().encode("utf-8"))


def mark_finished(run_dir: os.PathLike | str) -> None:
    """Flags the state "finished" and drops the resume arrays (the run needs them no more)."""
    state = TrainingState.read(run_dir)
    if state is not None:
        state.status = "finished"
        state.write(run_dir)
    shutil.rmtree((Path(run_dir) / run_directory.STATE_ARRAYS).parent, ignore_errors=True)
