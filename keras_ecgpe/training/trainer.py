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

import dataclasses
import importlib.util
import sys
import time
from pathlib import Path
from typing import Optional

from keras_ecgpe import run_directory
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ECGPEError


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
        return {k: str(v) if isinstance(v, Path) else v
                for k, v in dataclasses.asdict(self).items()}


def _say(progress: bool):
    return (lambda text: print(text, flush=True)) if progress else (lambda text: None)


def train_run(config, out_dir, *, progress: bool = True, overwrite: bool = False,
              resume: bool = False, rows=None, callbacks=None) -> RunResult:
    """Trains one model as `config` says and writes everything into `out_dir`.

    Args:
        config: a `TrainConfig`; its `data` must name a cache or a source + root.
        out_dir: the run directory: created, continued (`resume`) or replaced (`overwrite`).
        progress: print one line per stage and Keras' per-epoch progress.
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
    from keras_ecgpe.training import distribute, resume as resume_lib

    # First: a multi-worker strategy must configure TensorFlow before anything runs.
    strategy = distribute.make_strategy(config.training.strategy)
    if distribute.is_chief(strategy):
        continuing, replace = resume_lib.open_run(out_dir, config, overwrite=overwrite,
                                                  resume=resume)
    else:  # decided from files only the chief's earlier attempt wrote: no race with it
        continuing, replace = resume and not overwrite and \
            run_directory.run_status(out_dir) == "unfinished" and \
            (Path(out_dir) / run_directory.STATE).is_file(), True
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
            result = _train(config, run_dir, _say(progress), progress, strategy=strategy,
                            rows=rows, state_dir=state_dir, extra=list(callbacks or []))
    finally:
        distribute.discard_worker_dir(run_dir, strategy)
    return result


def _train(config, run_dir: Path, say, progress: bool, *, strategy, rows, state_dir,
           extra) -> RunResult:
    import keras

    from keras_ecgpe.data.augment import AugmentConfig
    from keras_ecgpe.data.normalization import DatasetStandardizer
    from keras_ecgpe.data.pipeline import training_dataset
    from keras_ecgpe.training import distribute, model_setup, resume, run_data
    from keras_ecgpe.training.callbacks import (BestCheckpoint, HistoryCSV, ValidationMetrics,
                                                atomic_save_model)
    from keras_ecgpe.training.contract import is_synthetic
    from keras_ecgpe.training.finish import finish_run

    started = time.perf_counter()
    data, training = config.data, config.training
    cache = run_data.resolve_cache(data, run_dir)
    synthetic = is_synthetic(cache)
    tag = " (SYNTHETIC data)" if synthetic else ""
    train_rows, val_rows = run_data.split_indices(cache, rows)
    window = int(round(data.window_s * cache.fs))
    stride = max(1, int(round(data.eval_stride_s * cache.fs)))  # unused in "centre" mode
    replicas = strategy.num_replicas_in_sync
    global_batch = training.batch_size * replicas
    say(f"Data{tag}: {cache.path}, {len(train_rows)} train / {len(val_rows)} validation "
        f"records, labels {', '.join(cache.label_names)}, windows of {window} samples")

    with strategy.scope():  # variables of model, optimizer and metrics are mirrored
        run_model = model_setup.build_run_model(config, cache, window)
    model = run_model.model
    standardizer: Optional[DatasetStandardizer] = None
    if run_model.pretrained is not None and run_model.pretrained.get("standardizer"):
        standardizer = DatasetStandardizer.from_dict(run_model.pretrained["standardizer"])
    elif data.standardize:
        standardizer = run_data.fit_standardizer_rows(cache, train_rows)
    plan = run_data.WindowPlan(window, data.eval_mode, stride, data.aggregate, standardizer)
    augment = AugmentConfig.from_dict(data.augment_config) if data.augment else None
    # One Keras epoch = one pass over the training records (drop_remainder), unless set.
    steps = training.steps_per_epoch or len(train_rows) // global_batch

    def dataset_for(first_epoch: int):
        # A fresh stream skipped to `first_epoch`: the same batches as an unbroken run.
        dataset = training_dataset(cache, train_rows, window=window, batch_size=global_batch,
                                   seed=training.seed, augment=augment,
                                   standardizer=standardizer, repeat=True)
        return dataset.skip(first_epoch * steps) if first_epoch else dataset

    pos_weight = run_data.positive_weights(cache, train_rows)
    with strategy.scope():
        loss = model_setup.make_loss_for(config, pos_weight)
        optimizer = model_setup.make_optimizer(config, model, steps_per_epoch=steps)
        model_setup.build_optimizer(config, model, optimizer)
    origin = f"transferred from {config.transfer.init_from} ({config.transfer.finetune} " \
             f"fine-tuning)" if run_model.pretrained else "fresh"
    say(f"Model {run_model.model_name}: {model.count_params():,} parameters, {origin}; "
        f"{training.epochs} epochs of {steps} steps, {config.loss.name} loss"
        + (f"; {replicas} replicas ({training.strategy}), global batch {global_batch}"
           if replicas > 1 or training.strategy != "auto" else ""))

    checkpoint = BestCheckpoint(run_dir, training.monitor, training.patience,
                                resumable=True, steps_per_epoch=steps)
    initial_epoch = 0
    if state_dir is not None:
        with strategy.scope():
            state = resume.restore_state(state_dir, model, optimizer, steps)
        checkpoint.restore(state)
        initial_epoch = state.epochs_done
        if state.best_epoch is not None and state.best_epoch == state.epochs_done - 1:
            # The kill may have come between the state and best.keras: write it again.
            atomic_save_model(model, run_dir / run_directory.BEST_MODEL)
        say(f"Resuming after epoch {initial_epoch} of {training.epochs} (best so far: "
            f"epoch {None if state.best_epoch is None else state.best_epoch + 1})")
    callbacks = [
        distribute.SyncReplicaState(strategy),
        ValidationMetrics(cache, val_rows, plan, loss, cache.label_names,
                          monitor=training.monitor,
                          fixed_specificity=config.evaluation.fixed_specificity,
                          fixed_sensitivity=config.evaluation.fixed_sensitivity),
        HistoryCSV(run_dir / run_directory.HISTORY),
        checkpoint,
    ] + extra
    # TensorBoard is an optional package (TensorFlow does not require it).
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    if tensorboard:
        callbacks.insert(3, keras.callbacks.TensorBoard(
            log_dir=str(run_dir / run_directory.LOGS), write_graph=False, profile_batch=0))
    verbose = (1 if sys.stdout.isatty() else 2) if progress else 0
    example = distribute.example_batch(cache, window, training.batch_size)
    if checkpoint.stopped or initial_epoch >= training.epochs:
        epochs_run = initial_epoch  # killed after its last epoch, before the reports
    else:
        with strategy.scope():
            epochs_run = model_setup.fit_phases(
                model, optimizer, loss, dataset_for, config=config, callbacks=callbacks,
                checkpoint=checkpoint, steps_per_epoch=steps, verbose=verbose, say=say,
                initial_epoch=initial_epoch,
                prepare=lambda m: distribute.prepare_model(strategy, m, example))
    if checkpoint.best_epoch is None:
        raise ECGPEError(f"{run_dir}: `{training.monitor}` was never finite; no best model "
                         "was saved (diverged training?)")
    say(f"Best epoch {checkpoint.best_epoch + 1} of {epochs_run}: {training.monitor} = "
        f"{checkpoint.best_value:.4f}; fitting calibration and thresholds on validation")
    details = {"n_train": int(len(train_rows)), "n_validation": int(len(val_rows)),
               "window": window, "stride": stride, "steps_per_epoch": steps,
               "pos_weight_auto": pos_weight, "epochs_run": epochs_run,
               "best_epoch": checkpoint.best_epoch + 1, "best_value": checkpoint.best_value,
               "stopped_early": checkpoint.stopped, "monitor": training.monitor,
               "model_name": run_model.model_name, "synthetic": synthetic,
               "transferred_from": config.transfer.init_from,
               "records": "cache splits train/validation" if rows is None else
               "given by the caller (cross-validation fold)",
               "strategy": training.strategy, "replicas": replicas,
               "global_batch": global_batch, "resumed_after_epoch": initial_epoch or None,
               "tensorboard_logs": str(run_dir / run_directory.LOGS) if tensorboard else
               "not written: the tensorboard package is not installed",
               "keras_version": keras.__version__}
    val_metrics, paths = finish_run(run_dir, config, cache, val_rows, plan,
                                    run_model.model_name, details, say)
    details["seconds"] = round(time.perf_counter() - started, 1)
    resume.mark_finished(run_dir)
    atomic_write_json(run_dir / run_directory.FINISHED, details)  # last: marks it finished
    return RunResult(run_dir=run_dir, best_model=run_dir / run_directory.BEST_MODEL,
                     last_model=run_dir / run_directory.LAST_MODEL, contract=paths["contract"],
                     history=run_dir / run_directory.HISTORY,
                     validation_metrics=paths["validation_metrics"],
                     training_curves=paths["training_curves"],
                     best_epoch=checkpoint.best_epoch + 1, epochs_run=epochs_run,
                     val_metrics=val_metrics, synthetic=synthetic, seconds=details["seconds"])

