"""`train_run`: one training run from a config to a run directory.

Order of work, so that every result can be traced and nothing leaks:
1. `config.yaml` (the resolved config) is written before anything else (a continued
   run keeps its own and must match it; see `resume.py`).
2. Data: the cache's `train` split trains, its `validation` split selects (checkpoint,
   early stopping, temperature, thresholds); the `test` split is not touched.
3. The model is built (or transferred), compiled and fitted with: validation metrics on
   record-level aggregated sliding windows, `history.csv`, TensorBoard logs in `logs/`,
   `best.keras` (by `training.monitor`) and `last.keras`, written atomically, plus the
   epoch-end resume state (`train_state.json`, `resume/state.npz`). Under a
   `training.strategy` other than "auto", build, compile and fit run in its scope.
4. `best.keras` is reloaded; a temperature and per-class thresholds are fitted on the
   validation predictions; `contract.json`, `validation_metrics.json`,
   `validation_summary.txt`, `training_curves.png` and, last, `run.json` are written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import messages, run_directory
from keras_ecgpe.data import locks
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ConfigError, ECGPEError

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    import keras
    import numpy as np

    from keras_ecgpe.training.config import TrainConfig


@dataclasses.dataclass
class RunResult:
    """What a finished run produced (paths inside `run_dir`) and how it went.

    `best_epoch` and `epochs_run` count from 1; `val_metrics` is the macro dict of
    `validation_metrics.json` (thresholds from that same split: optimistic).
    """

    run_dir: Path
    best_model: Path
    last_model: Path
    contract: Path
    history: Path
    validation_metrics: Path
    training_curves: Path
    best_epoch: int
    epochs_run: int
    val_metrics: dict
    synthetic: bool
    seconds: float

    def to_dict(self) -> dict:
        return {
            k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()
        }


def _say(progress: bool):
    return messages.progress_reporter(__name__, progress)


def train_run(
    config: TrainConfig,
    out_dir: os.PathLike | str,
    *,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
    rows: np.ndarray | None = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
) -> RunResult:
    """Trains one model as `config` says and writes everything into `out_dir`.

    Args:
        config: a `TrainConfig`; its `data` must name a cache or a source + root.
        out_dir: the run directory: created, continued (`resume`) or replaced (`overwrite`).
        progress: log one line per stage and show Keras' per-epoch progress (both on
            stderr, through `keras_ecgpe.messages`; silenced by its QUIET level).
        overwrite: replace a previous run (finished or not) in `out_dir`.
        resume: continue the unfinished run in `out_dir` from its last completed epoch
            (see `resume.py`); a new or empty `out_dir` simply starts. The config must
            equal the one the run was started with.
        rows: None (train on the cache's `train` split, select on `validation`) or
            `(train, validation)` record indices (cross-validation folds; no test record).
        callbacks: extra Keras callbacks, run after the package's own each epoch.

    Returns:
        A `RunResult`.

    Raises:
        ConfigError: no data, no validation split, incompatible pretrained model, a
            non-empty `out_dir` (a finished run without `overwrite`, an unfinished one
            without `resume` or `overwrite`), or any invalid setting (named).

    Example:

    ```python
    config = TrainConfig.from_dict({"data": {"cache": "prepared/pe"}})
    result = train_run(config, "runs/pe-resnet", resume=True)
    ```
    """
    from keras_ecgpe.training import distribute
    from keras_ecgpe.training import resume as resume_lib

    # First: a multi-worker strategy must configure TensorFlow before anything runs.
    strategy = distribute.make_strategy(config.training.strategy)
    # One writer per run directory (data/locks.py): a second `train` or `--resume` of the
    # same folder is refused, naming this process; a killed holder's lock is taken over.
    lock = locks.acquire(out_dir, "run directory") if distribute.is_chief(strategy) else None
    try:
        if distribute.is_chief(strategy):
            continuing, replace = resume_lib.open_run(
                out_dir, config, overwrite=overwrite, resume=resume
            )
        else:  # decided from files only the chief's earlier attempt wrote: no race with it
            continuing, replace = (
                resume
                and not overwrite
                and run_directory.run_status(out_dir) == "unfinished"
                and (Path(out_dir) / run_directory.STATE).is_file(),
                True,
            )
        run_dir = distribute.worker_dir(out_dir, strategy)
        if not continuing:
            run_dir = run_directory.prepare_run_dir(run_dir, overwrite=replace)
            atomic_write_bytes(run_dir / run_directory.CONFIG, config.to_yaml().encode("utf-8"))
        from keras_ecgpe.training.runtime import precision_policy, seed_everything

        try:
            with precision_policy(config.training.precision):
                seed_everything(config.training.seed, config.training.deterministic)
                # Workers other than the chief read the chief's state (shared file system).
                state_dir = Path(out_dir) if continuing else None
                result = _train(
                    config,
                    run_dir,
                    _say(progress),
                    progress,
                    strategy=strategy,
                    rows=rows,
                    state_dir=state_dir,
                    extra=list(callbacks or []),
                )
        except BaseException:
            if not continuing and lock is not None:
                _drop_unstarted(run_dir)
            raise
        finally:
            distribute.discard_worker_dir(run_dir, strategy)
        return result
    finally:
        if lock is not None:
            lock.release()


def _drop_unstarted(run_dir: Path) -> None:
    """Empties a new run that failed before its first epoch ended (no resume state).

    A configuration error found only once the data or model is built then leaves no
    `config.yaml` behind that would make the corrected re-run refuse the folder.
    """
    if (run_dir / run_directory.STATE).is_file():
        return  # epochs were saved: the run can be continued, keep it
    for entry in run_dir.iterdir() if run_dir.is_dir() else ():
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()


@dataclasses.dataclass
class _RunData:
    """The records of one run and how they are cut and batched."""

    cache: object
    train_rows: object
    val_rows: object
    window: int
    stride: int
    replicas: int
    global_batch: int
    synthetic: bool


@dataclasses.dataclass
class _Fitting:
    """What `model.fit` needs: the model, its data stream, loss and optimizer."""

    run_model: object
    plan: object  # run_data.WindowPlan: how validation windows become record logits
    steps: int
    dataset_for: object  # first epoch -> the training stream from that epoch on
    pos_weight: object
    loss: object
    optimizer: object


def _train(
    config, run_dir: Path, say, progress: bool, *, strategy, rows, state_dir, extra
) -> RunResult:
    """The body of `train_run` inside its precision policy: the steps below, in order."""
    from keras_ecgpe.training.callbacks import BestCheckpoint

    started = time.perf_counter()
    data = _load_data(config, run_dir, rows, strategy, say)
    fitting = _set_up_fitting(config, data, strategy, say)
    checkpoint = BestCheckpoint(
        run_dir,
        config.training.monitor,
        config.training.patience,
        resumable=True,
        steps_per_epoch=fitting.steps,
    )
    initial_epoch = (
        0
        if state_dir is None
        else _restore(state_dir, run_dir, config, fitting, checkpoint, strategy, say)
    )
    callbacks, tensorboard = _callbacks(config, run_dir, data, fitting, checkpoint, strategy, extra)
    epochs_run = _fit(
        config, data, fitting, callbacks, checkpoint, strategy, initial_epoch, progress, say
    )
    if checkpoint.best_epoch is None:
        raise ECGPEError(
            f"{run_dir}: `{config.training.monitor}` was never finite; no best "
            "model was saved (diverged training?)"
        )
    say(
        f"Best epoch {checkpoint.best_epoch + 1} of {epochs_run}: {config.training.monitor} = "
        f"{checkpoint.best_value:.4f}; fitting calibration and thresholds on validation"
    )
    details = _details(
        config,
        run_dir,
        data,
        fitting,
        checkpoint,
        rows=rows,
        epochs_run=epochs_run,
        initial_epoch=initial_epoch,
        tensorboard=tensorboard,
    )
    return _finish(config, run_dir, data, fitting, details, say, started=started)


def _load_data(config, run_dir: Path, rows, strategy, say) -> _RunData:
    """Opens (or prepares) the cache and picks the train and validation records."""
    from keras_ecgpe.training import run_data
    from keras_ecgpe.training.contract import is_synthetic

    cache = run_data.resolve_cache(config.data, run_dir)
    train_rows, val_rows = run_data.split_indices(
        cache, rows, exclude_flagged=config.data.exclude_flagged
    )
    replicas = strategy.num_replicas_in_sync
    data = _RunData(
        cache=cache,
        train_rows=train_rows,
        val_rows=val_rows,
        window=int(round(config.data.window_s * cache.fs)),
        stride=max(1, int(round(config.data.eval_stride_s * cache.fs))),  # unused: "centre"
        replicas=replicas,
        global_batch=config.training.batch_size * replicas,
        synthetic=is_synthetic(cache),
    )
    say(
        f"Data{' (SYNTHETIC data)' if data.synthetic else ''}: {cache.path}, "
        f"{len(train_rows)} train / {len(val_rows)} validation records, labels "
        f"{', '.join(cache.label_names)}, windows of {data.window} samples"
    )
    return data


def _set_up_fitting(config, data: _RunData, strategy, say) -> _Fitting:
    """Builds (or transfers) the model, the standardiser, the stream, loss and optimizer."""
    from keras_ecgpe.data.augment import AugmentConfig
    from keras_ecgpe.data.normalization import DatasetStandardizer
    from keras_ecgpe.data.pipeline import training_dataset
    from keras_ecgpe.training import model_setup, run_data

    settings, training, cache = config.data, config.training, data.cache
    with strategy.scope():  # variables of model, optimizer and metrics are mirrored
        run_model = model_setup.build_run_model(config, cache, data.window)
    model = run_model.model
    standardizer: DatasetStandardizer | None = None
    if run_model.pretrained is not None and settings.standardizer_from is not None:
        raise ConfigError(
            "`transfer.init_from` brings the pretrained run's standardiser; "
            "`data.standardizer_from` goes with training from scratch. Received: "
            f"data.standardizer_from={settings.standardizer_from!r}"
        )
    if run_model.pretrained is not None and run_model.pretrained.get("standardizer"):
        standardizer = DatasetStandardizer.from_dict(run_model.pretrained["standardizer"])
    elif settings.standardizer_from is not None:
        standardizer = run_data.standardizer_from_run(settings.standardizer_from, cache)
    elif settings.standardize:
        standardizer = run_data.fit_standardizer_rows(cache, data.train_rows)
    plan = run_data.WindowPlan(
        data.window, settings.eval_mode, data.stride, settings.aggregate, standardizer
    )
    augment = AugmentConfig.from_dict(settings.augment_config) if settings.augment else None
    # One Keras epoch = one pass over the training records (drop_remainder), unless set.
    steps = training.steps_per_epoch or len(data.train_rows) // data.global_batch

    def dataset_for(first_epoch: int):
        # A fresh stream skipped to `first_epoch`: the same batches as an unbroken run.
        dataset = training_dataset(
            cache,
            data.train_rows,
            window=data.window,
            batch_size=data.global_batch,
            seed=training.seed,
            augment=augment,
            standardizer=standardizer,
            repeat=True,
        )
        return dataset.skip(first_epoch * steps) if first_epoch else dataset

    pos_weight = run_data.positive_weights(cache, data.train_rows)
    with strategy.scope():
        loss = model_setup.make_loss_for(config, pos_weight)
        optimizer = model_setup.make_optimizer(config, model, steps_per_epoch=steps)
        model_setup.build_optimizer(config, model, optimizer)
    origin = (
        f"transferred from {config.transfer.init_from} ({config.transfer.finetune} fine-tuning)"
        if run_model.pretrained
        else "fresh"
    )
    say(
        f"Model {run_model.model_name}: {model.count_params():,} parameters, {origin}; "
        f"{training.epochs} epochs of {steps} steps, {config.loss.name} loss"
        + (
            f"; {data.replicas} replicas ({training.strategy}), global batch {data.global_batch}"
            if data.replicas > 1 or training.strategy != "auto"
            else ""
        )
    )
    return _Fitting(run_model, plan, steps, dataset_for, pos_weight, loss, optimizer)


def _restore(
    state_dir: Path, run_dir: Path, config, fitting: _Fitting, checkpoint, strategy, say
) -> int:
    """Loads the saved epoch-end state of a continued run; returns the epochs done."""
    from keras_ecgpe.training import resume
    from keras_ecgpe.training.callbacks import atomic_save_model

    model = fitting.run_model.model
    with strategy.scope():
        state = resume.restore_state(state_dir, model, fitting.optimizer, fitting.steps)
    checkpoint.restore(state)
    if state.best_epoch is not None and state.best_epoch == state.epochs_done - 1:
        # The kill may have come between the state and best.keras: write it again.
        atomic_save_model(model, run_dir / run_directory.BEST_MODEL)
    say(
        f"Resuming after epoch {state.epochs_done} of {config.training.epochs} (best so far: "
        f"epoch {None if state.best_epoch is None else state.best_epoch + 1})"
    )
    return state.epochs_done


def _callbacks(
    config, run_dir: Path, data: _RunData, fitting: _Fitting, checkpoint, strategy, extra
) -> tuple:
    """The package's callbacks in their order, then `extra`; `(callbacks, tensorboard)`."""
    import keras

    from keras_ecgpe.training import distribute
    from keras_ecgpe.training.callbacks import HistoryCSV, ValidationMetrics

    callbacks = [
        distribute.SyncReplicaState(strategy),
        ValidationMetrics(
            data.cache,
            data.val_rows,
            fitting.plan,
            fitting.loss,
            data.cache.label_names,
            monitor=config.training.monitor,
            fixed_specificity=config.evaluation.fixed_specificity,
            fixed_sensitivity=config.evaluation.fixed_sensitivity,
        ),
        HistoryCSV(run_dir / run_directory.HISTORY),
        checkpoint,
    ] + list(extra)
    # TensorBoard is an optional package (TensorFlow does not require it).
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    if tensorboard:
        callbacks.insert(
            3,
            keras.callbacks.TensorBoard(
                log_dir=str(run_dir / run_directory.LOGS), write_graph=False, profile_batch=0
            ),
        )
    return callbacks, tensorboard


def _fit(
    config,
    data: _RunData,
    fitting: _Fitting,
    callbacks,
    checkpoint,
    strategy,
    initial_epoch: int,
    progress: bool,
    say,
) -> int:
    """Fits from `initial_epoch` (in phases when gradually unfreezing); returns epochs run."""
    from keras_ecgpe.training import distribute, model_setup

    if checkpoint.stopped or initial_epoch >= config.training.epochs:
        return initial_epoch  # killed after its last epoch, before the reports
    # Keras' per-epoch lines are progress too: they follow --quiet and go to stderr.
    verbose = (1 if sys.stderr.isatty() else 2) if progress and messages.progress_enabled() else 0
    example = distribute.example_batch(data.cache, data.window, config.training.batch_size)
    with strategy.scope(), contextlib.redirect_stdout(sys.stderr):
        return model_setup.fit_phases(
            fitting.run_model.model,
            fitting.optimizer,
            fitting.loss,
            fitting.dataset_for,
            config=config,
            callbacks=callbacks,
            checkpoint=checkpoint,
            steps_per_epoch=fitting.steps,
            verbose=verbose,
            say=say,
            initial_epoch=initial_epoch,
            prepare=lambda m: distribute.prepare_model(strategy, m, example),
        )


def _details(
    config,
    run_dir: Path,
    data: _RunData,
    fitting: _Fitting,
    checkpoint,
    *,
    rows,
    epochs_run: int,
    initial_epoch: int,
    tensorboard: bool,
) -> dict:
    """What `run.json` records about how the run went."""
    import keras

    training = config.training
    return {
        "n_train": int(len(data.train_rows)),
        "n_validation": int(len(data.val_rows)),
        "window": data.window,
        "stride": data.stride,
        "steps_per_epoch": fitting.steps,
        "pos_weight_auto": fitting.pos_weight,
        "epochs_run": epochs_run,
        "best_epoch": checkpoint.best_epoch + 1,
        "best_value": checkpoint.best_value,
        "stopped_early": checkpoint.stopped,
        "monitor": training.monitor,
        "model_name": fitting.run_model.model_name,
        "synthetic": data.synthetic,
        "transferred_from": config.transfer.init_from,
        "records": "cache splits train/validation"
        if rows is None
        else "given by the caller (cross-validation fold)",
        "strategy": training.strategy,
        "replicas": data.replicas,
        "global_batch": data.global_batch,
        "resumed_after_epoch": initial_epoch or None,
        "tensorboard_logs": str(run_dir / run_directory.LOGS)
        if tensorboard
        else "not written: the tensorboard package is not installed",
        "keras_version": keras.__version__,
    }


def _finish(
    config, run_dir: Path, data: _RunData, fitting: _Fitting, details: dict, say, *, started: float
) -> RunResult:
    """Calibrates and writes the reports and the contract, then `run.json` last."""
    from keras_ecgpe.training import resume
    from keras_ecgpe.training.finish import finish_run

    val_metrics, paths = finish_run(
        run_dir,
        config,
        data.cache,
        data.val_rows,
        fitting.plan,
        fitting.run_model.model_name,
        details,
        say,
    )
    details["seconds"] = round(time.perf_counter() - started, 1)
    resume.mark_finished(run_dir)
    run_directory.record_checksums(run_dir)  # the models are final: locate_run checks them
    atomic_write_json(run_dir / run_directory.FINISHED, details)  # last: marks it finished
    return RunResult(
        run_dir=run_dir,
        best_model=run_dir / run_directory.BEST_MODEL,
        last_model=run_dir / run_directory.LAST_MODEL,
        contract=paths["contract"],
        history=run_dir / run_directory.HISTORY,
        validation_metrics=paths["validation_metrics"],
        training_curves=paths["training_curves"],
        best_epoch=details["best_epoch"],
        epochs_run=details["epochs_run"],
        val_metrics=val_metrics,
        synthetic=data.synthetic,
        seconds=details["seconds"],
    )
