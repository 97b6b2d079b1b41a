"""Hyperparameter search inside a cell: Optuna, per fold, on the fold's inner validation.

Each fold of a cell has its own Optuna study (`<study name>/<cell>/<fold>`): TPE sampling
over the study file's `search.space`, and a median pruner fed the inner validation macro
AUROC after every epoch (`pruning_callback`). A trial is an ordinary run directory,
`<out>/searches/<cell>/<fold>/trial-<number>`, trained on the fold's inner training part and
selected on its inner validation part; the held-out fold is never seen by the search.
When `search.trials` trials have finished (completed or pruned), the best completed
trial's run becomes the fold's run and is scored on the held-out fold as usual.

Storage is a database: by default the SQLite file `<out>/optuna.sqlite3`, so a search
continues after a kill (finished trials are kept; a trial whose process died is marked
failed once its heartbeat is `2 x search.heartbeat_s` old and does not count). Any
SQLAlchemy URL (`postgresql://...`, `mysql://...`) lets processes on several machines
share one search: each takes the next trial until the count is reached.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import socket
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import messages
from keras_ecgpe.data.atomic import atomic_write_json, replace_directory, staging_directory
from keras_ecgpe.errors import ECGPEError

if TYPE_CHECKING:
    from collections.abc import Callable

    import keras
    import optuna

    from keras_ecgpe.studies.cv_plan import Fold
    from keras_ecgpe.studies.grid_spec import SearchSpec
    from keras_ecgpe.training.config import TrainConfig

SEARCH_DIR = "searches"
SEARCH_FILE = "search.json"
DEFAULT_STORAGE = "optuna.sqlite3"
MONITOR = "val_macro_auroc"
_POLL_S = 1.0
_CREATE_ATTEMPTS = 5


def storage_url(search: SearchSpec, out: Path) -> str:
    """The search's database URL: `search.storage`, else the SQLite file in `out`."""
    return search.storage or f"sqlite:///{(out / DEFAULT_STORAGE).resolve()}"


def open_storage(url: str, heartbeat_s: int) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage with heartbeats (a dead worker's trial is failed, not waited
    for); SQLite waits up to 60 s for a lock another process holds."""
    import optuna
    import sqlalchemy.exc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 4
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=heartbeat_s,
                    grace_period=2 * heartbeat_s,
                )
        except (sqlalchemy.exc.SQLAlchemyError, ImportError) as exc:
            # Two processes creating a new database's tables at once: one loses the
            # race on the version row; the tables exist when it tries again.
            if attempt == _CREATE_ATTEMPTS - 1 or isinstance(exc, ImportError):
                where = url.split("@")[-1]
                raise ECGPEError(
                    f"search storage {where}: cannot open the database ({exc})"
                ) from None
            time.sleep(_POLL_S)
    raise AssertionError("unreachable")


def suggest(trial: optuna.Trial, space: dict) -> dict:
    """`{dotted key: value}` sampled from the study file's `search.space`."""
    values = {}
    for key, dist in space.items():
        if dist["type"] == "categorical":
            values[key] = trial.suggest_categorical(key, dist["choices"])
        elif dist["type"] == "int":
            values[key] = trial.suggest_int(
                key, dist["low"], dist["high"], step=dist.get("step", 1), log=dist.get("log", False)
            )
        else:
            values[key] = trial.suggest_float(
                key, float(dist["low"]), float(dist["high"]), log=dist.get("log", False)
            )
    return values


def pruning_callback(trial: optuna.Trial, monitor: str = MONITOR) -> keras.callbacks.Callback:
    """A Keras callback reporting `monitor` to the trial after every epoch and stopping
    the run (`optuna.TrialPruned`) when the pruner says so."""
    import keras
    import optuna

    class OptunaPruning(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None or not math.isfinite(float(value)):
                return
            trial.report(float(value), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{monitor} {float(value):.4f} after epoch {epoch + 1}")

    return OptunaPruning()


def _seed(search: SearchSpec, name: str, done: int) -> int:
    text = f"{search.seed}/{name}/{done}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little")


def _counted(study) -> list:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study.get_trials(deepcopy=False, states=states)


def search_fold(
    search: SearchSpec,
    storage: optuna.storages.RDBStorage,
    study_name: str,
    config: TrainConfig,
    fold: Fold,
    trial_root: Path,
    *,
    progress: bool = False,
) -> optuna.Study:
    """Runs trials of one fold's search until `search.trials` have finished (with any other
    process on the same storage); returns the Optuna study."""
    import optuna

    from keras_ecgpe.training.trainer import train_run

    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
    )
    done = len(_counted(study))
    if done >= search.trials:
        return study
    study.sampler = optuna.samplers.TPESampler(
        seed=_seed(search, study_name, done), n_startup_trials=max(1, search.startup_trials)
    )
    study.pruner = optuna.pruners.MedianPruner(
        n_startup_trials=search.startup_trials, n_warmup_steps=search.warmup_epochs
    )
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def objective(trial: optuna.Trial) -> float:
        values = suggest(trial, search.space)
        trial.set_user_attr("worker", worker)
        run_dir = trial_root / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        result = train_run(
            config.with_values(values),
            run_dir,
            progress=progress,
            overwrite=True,
            rows=(fold.train, fold.validation),
            callbacks=[pruning_callback(trial)],
        )
        value = result.val_metrics.get("auroc")
        return float("nan") if value is None else float(value)

    study.optimize(
        objective,
        n_trials=search.trials - done,
        callbacks=[
            optuna.study.MaxTrialsCallback(
                search.trials,
                states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED),
            )
        ],
    )
    return study


def wait_for_running(study: optuna.Study) -> None:
    """Waits until no trial of `study` runs (other workers' trials end or, when their
    process died, are failed by the heartbeat check)."""
    import optuna

    while True:
        with warnings.catch_warnings():  # "experimental" in Optuna 4, as heartbeats are
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if not running:
            return
        time.sleep(_POLL_S)


def fold_trainer(
    search: SearchSpec, storage_url_: str, study_prefix: str, trial_dir: Path
) -> Callable:
    """A `cross_validate` fold trainer that searches, then takes the best trial's run."""

    def train_fold(config, run_dir: Path, fold, *, resume: bool, progress: bool) -> None:
        del resume  # trials are resumed by the storage; a copied run is finished
        say = messages.progress_reporter(__name__, progress)
        storage = open_storage(storage_url_, search.heartbeat_s)
        name = f"{study_prefix}/{fold.name}"
        study = search_fold(
            search,
            storage,
            name,
            config,
            fold,
            trial_dir / fold.name,
            progress=progress,
        )
        wait_for_running(study)
        counted = _counted(study)
        complete = [t for t in counted if t.state.name == "COMPLETE" and t.value is not None]
        complete = [t for t in complete if math.isfinite(t.value)]
        if not complete:
            raise ECGPEError(
                f"{name}: none of {len(counted)} trials completed (all pruned or failed); "
                "widen the search or lower search.startup_trials"
            )
        best = max(complete, key=lambda t: (t.value, -t.number))
        source = Path(best.user_attrs["run_dir"])
        staging = staging_directory(run_dir)
        shutil.copytree(source, staging, dirs_exist_ok=True)
        atomic_write_json(
            staging / SEARCH_FILE,
            {
                "study_name": name,
                "storage": storage_url_.split("@")[-1],  # no password in the file
                "best_trial": best.number,
                "best_value": best.value,
                "best_params": best.params,
                "monitor": MONITOR,
                "trials": {
                    state: sum(t.state.name == state for t in study.get_trials(deepcopy=False))
                    for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
                },
                "workers": sorted({t.user_attrs.get("worker", "?") for t in counted}),
                "copied_from": str(source),
            },
        )
        replace_directory(staging, run_dir)  # the fold's run appears whole, or not at all
        say(
            f"[{fold.name}] search: best of {len(counted)} trials is trial {best.number} "
            f"(inner validation AUROC {best.value:.3f}): {json.dumps(best.params)}"
        )

    return train_fold
