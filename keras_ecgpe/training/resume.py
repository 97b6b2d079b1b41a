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
import hashlib
import io
import logging
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import run_directory, schemas
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.data.cache_format import file_sha256
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

    import keras

    from keras_ecgpe.training.config import TrainConfig

log = logging.getLogger(__name__)
_EPOCHS_KEY = "epochs_done"  # in state.npz: the epoch its arrays are from


@dataclasses.dataclass
class TrainingState:
    """What a continued run needs besides the arrays (`epochs_done` counts from 1).

    `arrays_sha256` is the SHA-256 of `resume/state.npz` written with it (None once the run
    finished and the arrays were dropped), so a state file and arrays of two different
    epochs are never combined.
    """

    status: str = "running"
    epochs_done: int = 0
    steps_per_epoch: int = 1
    best_epoch: int | None = None  # 0-based, as BestCheckpoint
    best_value: float | None = None
    wait: int = 0
    stopped: bool = False
    arrays_sha256: str | None = None

    @classmethod
    def read(cls, run_dir: os.PathLike | str, epochs: int | None = None) -> TrainingState | None:
        """Reads and checks `train_state.json`; None when there is none.

        Args:
            run_dir: the run directory.
            epochs: the run's configured epochs, if known (a state past them is refused).

        Raises:
            ConfigError: unreadable, not the schema `train_state`, or values that contradict
                each other; one line naming the file and the way out.
        """
        path = Path(run_dir) / run_directory.STATE
        if not path.is_file():
            return None
        try:
            data = schemas.read_json(
                path,
                max_bytes=schemas.MAX_BYTES["train_state"],
                what="training state",
                error_type=ConfigError,
            )
            schemas.validate(data, "train_state", path, error_type=ConfigError)
        except OSError as exc:
            raise ConfigError(
                f"{path}: unreadable training state ({exc.strerror}){_WAY_OUT}"
            ) from None
        except ConfigError as exc:
            raise ConfigError(f"{exc}{_WAY_OUT}") from None
        state = cls(**data)
        problem = state._contradiction(epochs)
        if problem:
            raise ConfigError(f"{path}: {problem}{_WAY_OUT}")
        return state

    def _contradiction(self, epochs: int | None) -> str | None:
        if epochs is not None and self.epochs_done > epochs:
            return f"{self.epochs_done} epochs done, but the run has only {epochs}"
        if self.best_epoch is not None and self.best_epoch >= self.epochs_done:
            return f"best epoch {self.best_epoch + 1} after the {self.epochs_done} epochs done"
        if (self.best_epoch is None) != (self.best_value is None):
            return "best_epoch and best_value must be given together"
        if self.wait > self.epochs_done:
            return f"waited {self.wait} epochs of {self.epochs_done} done"
        if self.status == "running" and self.epochs_done and self.arrays_sha256 is None:
            return "no checksum of the saved arrays"
        return None

    def write(self, run_dir: os.PathLike | str) -> None:
        atomic_write_json(Path(run_dir) / run_directory.STATE, dataclasses.asdict(self))


# How out of a state that cannot be used: appended to every message about one.
_WAY_OUT = (
    "; the run cannot be continued from it: start it again with overwrite, or restore the file"
)


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
            "run; choose another directory or replace it (`overwrite=True`)"
        )
    if status != "unfinished" or overwrite:
        return False, overwrite
    state = TrainingState.read(out_dir, epochs=config.training.epochs)
    if state is None and _only_early_files(out_dir):
        # Stopped before its first epoch ended: nothing to keep, nothing to compare with.
        log.info("%s: replacing a run that stopped before its first epoch ended", out_dir)
        return False, True
    if not resume:
        done = state.epochs_done if state else 0
        raise ConfigError(
            f"{out_dir}: the run directory is not empty: it holds an "
            f"unfinished run (stopped after epoch {done}); continue it with "
            "`resume=True` or replace it (`overwrite=True`)"
        )
    from keras_ecgpe.training.config import TrainConfig

    saved = TrainConfig.from_file(Path(out_dir) / run_directory.CONFIG)
    if saved != config:
        old, new = saved.to_dict(), config.to_dict()
        keys = [f"{s}.{k}" for s in new for k in new[s] if old[s].get(k) != new[s][k]]
        raise ConfigError(
            f"{out_dir}: the unfinished run was started with another "
            f"configuration ({', '.join(keys)} differ); resume it with the same "
            "settings, or `overwrite=True`"
        )
    if state is None:
        return False, True
    return True, False


def _only_early_files(run_dir: os.PathLike | str) -> bool:
    """Whether `run_dir` holds only what a run writes before its first epoch ends."""
    early = {run_directory.CONFIG, run_directory.HISTORY, run_directory.LOGS, "resume"}
    return all(entry.name in early for entry in Path(run_dir).iterdir())


def save_state(run_dir: os.PathLike | str, model: keras.Model, state: TrainingState) -> None:
    """Writes the arrays, then `train_state.json` (both atomic)."""
    # `.value` is the backend variable: its numpy() reads the first replica's copy.
    arrays = {f"model_{i:05d}": v.value.numpy() for i, v in enumerate(model.variables)}
    arrays.update(
        {f"optimizer_{i:05d}": v.value.numpy() for i, v in enumerate(model.optimizer.variables)}
    )
    arrays[_EPOCHS_KEY] = np.int64(state.epochs_done)  # cross-checked with the JSON on resume
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    path = Path(run_dir) / run_directory.STATE_ARRAYS
    path.parent.mkdir(exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    state.arrays_sha256 = hashlib.sha256(buffer.getvalue()).hexdigest()
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
            "before its first epoch ended); start it again with `overwrite=True`"
        )
    if state.steps_per_epoch != steps_per_epoch:
        raise ConfigError(
            f"{run_dir}: the run trained {state.steps_per_epoch} steps per "
            f"epoch, this data gives {steps_per_epoch}; the data changed"
        )
    if file_sha256(path) != state.arrays_sha256:
        raise ConfigError(
            f"{path}: its SHA-256 differs from the one {run_directory.STATE} recorded "
            f"(damaged, or from another epoch){_WAY_OUT}"
        )
    for variables, saved in _load_arrays(path, model, optimizer, state.epochs_done):
        for variable, array in zip(variables, saved):
            variable.assign(array.astype(np.dtype(variable.dtype)))
    _trim_history(Path(run_dir) / run_directory.HISTORY, state.epochs_done)
    return state


def _load_arrays(path: Path, model, optimizer, epochs_done: int) -> list:
    """`[(variables, arrays)]` read from `state.npz`, every shape and kind checked
    before anything is assigned."""
    groups = []
    try:
        with np.load(path, allow_pickle=False) as data:
            saved_epochs = data[_EPOCHS_KEY] if _EPOCHS_KEY in data.files else None
            if saved_epochs is None or saved_epochs.shape != () or saved_epochs != epochs_done:
                raise ConfigError(
                    f"{path}: saved after epoch {saved_epochs}, but "
                    f"{run_directory.STATE} says {epochs_done}{_WAY_OUT}"
                )
            for prefix, variables in (
                ("model", model.variables),
                ("optimizer", optimizer.variables),
            ):
                names = sorted(k for k in data.files if k.startswith(prefix + "_"))
                arrays = [data[n] for n in names]
                if len(arrays) != len(variables) or any(
                    tuple(a.shape) != tuple(v.shape) or a.dtype.kind not in "biuf"
                    for a, v in zip(arrays, variables)
                ):
                    raise ConfigError(
                        f"{path}: the saved {prefix} variables do not match the "
                        "rebuilt model; was the configuration changed?"
                    )
                groups.append((variables, arrays))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"{path}: unreadable saved arrays ({type(exc).__name__}: {exc}){_WAY_OUT}"
        ) from None
    return groups


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
