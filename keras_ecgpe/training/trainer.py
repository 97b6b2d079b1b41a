"""`train_run`: one training run from a config to a run directory.

Order of work, so that every result can be traced and nothing leaks:
1. `config.yaml` (the resolved config) is written before anything else.
2. Data: the cache's `train` split trains, its `validation` split selects (checkpoint,
   early stopping, temperature, thresholds); the `test` split is not touched.
3. The model is built (or transferred), compiled and fitted with: validation metrics on
   record-level aggregated sliding windows, `history.csv`, TensorBoard logs in `logs/`,
   `best.keras` (by `training.monitor`) and `last.keras`, written atomically.
4. `best.keras` is reloaded; a temperature and per-class thresholds are fitted on the
   validation predictions; `contract.json`, `validation_metrics.json`,
   `validation_summary.txt`, `training_curves.png` and `run.json` are written.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import time
from pathlib import Path
from typing import Optional

from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ECGPEError
from keras_ecgpe.training.runtime import RUN_MARKER, prepare_run_dir


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


def train_run(config, out_dir, *, progress: bool = True, overwrite: bool = False) -> RunResult:
    """Trains one model as `config` says and writes everything into `out_dir`.

    Args:
        config: a `TrainConfig`; its `data` must name a cache or a source + root.
        out_dir: the run directory: created, or (with `overwrite`) a previous run replaced.
        progress: print one line per stage and Keras' per-epoch progress.
        overwrite: replace a previous run in `out_dir`.

    Returns:
        A `RunResult`.

    Raises:
        ConfigError: no data, no validation split, incompatible pretrained model, a
            non-empty `out_dir`, or any invalid setting (named).

    Example:
    >>> config = TrainConfig.from_dict({"data": {"cache": "prepared/pe"}})  # doctest: +SKIP
    >>> result = train_run(config, "runs/pe-resnet")  # doctest: +SKIP
    """
    run_dir = prepare_run_dir(out_dir, overwrite=overwrite)
    atomic_write_bytes(run_dir / RUN_MARKER, config.to_yaml().encode("utf-8"))
    from keras_ecgpe.training.runtime import precision_policy, seed_everything

    with precision_policy(config.training.precision):
        seed_everything(config.training.seed, config.training.deterministic)
        return _train(config, run_dir, _say(progress), progress)


def _train(config, run_dir: Path, say, progress: bool) -> RunResult:
    import keras

    from keras_ecgpe.data.augment import AugmentConfig
    from keras_ecgpe.data.normalization import DatasetStandardizer
    from keras_ecgpe.data.pipeline import fit_standardizer, training_dataset
    from keras_ecgpe.training import model_setup, run_data
    from keras_ecgpe.training.callbacks import BestCheckpoint, ValidationMetrics
    from keras_ecgpe.training.contract import is_synthetic
    from keras_ecgpe.training.finish import finish_run

    started = time.perf_counter()
    data, training = config.data, config.training
    cache = run_data.resolve_cache(data, run_dir)
    synthetic = is_synthetic(cache)
    tag = " (SYNTHETIC data)" if synthetic else ""
    train_rows, val_rows = run_data.split_indices(cache)
    window = int(round(data.window_s * cache.fs))
    stride = max(1, int(round(data.eval_stride_s * cache.fs)))  # unused in "centre" mode
    say(f"Data{tag}: {cache.path}, {len(train_rows)} train / {len(val_rows)} validation "
        f"records, labels {', '.join(cache.label_names)}, windows of {window} samples")

    run_model = model_setup.build_run_model(config, cache, window)
    model = run_model.model
    standardizer: Optional[DatasetStandardizer] = None
    if run_model.pretrained is not None and run_model.pretrained.get("standardizer"):
        standardizer = DatasetStandardizer.from_dict(run_model.pretrained["standardizer"])
    elif data.standardize:
        standardizer = fit_standardizer(cache, train_rows)
    plan = run_data.WindowPlan(window, data.eval_mode, stride, data.aggregate, standardizer)
    augment = AugmentConfig.from_dict(data.augment_config) if data.augment else None
    dataset = training_dataset(cache, train_rows, window=window, batch_size=training.batch_size,
                               seed=training.seed, augment=augment, standardizer=standardizer,
                               repeat=True)
    # One Keras epoch = one pass over the training records (drop_remainder), unless set.
    steps = training.steps_per_epoch or len(train_rows) // training.batch_size
    pos_weight = run_data.positive_weights(cache, train_rows)
    loss = model_setup.make_loss_for(config, pos_weight)
    optimizer = model_setup.make_optimizer(config, model, steps_per_epoch=steps)
    origin = f"transferred from {config.transfer.init_from} ({config.transfer.finetune} " \
             f"fine-tuning)" if run_model.pretrained else "fresh"
    say(f"Model {run_model.model_name}: {model.count_params():,} parameters, {origin}; "
        f"{training.epochs} epochs of {steps} steps, {config.loss.name} loss")

    checkpoint = BestCheckpoint(run_dir, training.monitor, training.patience)
    callbacks = [
        ValidationMetrics(cache, val_rows, plan, loss, cache.label_names,
                          monitor=training.monitor,
                          fixed_specificity=config.evaluation.fixed_specificity,
                          fixed_sensitivity=config.evaluation.fixed_sensitivity),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        checkpoint,
    ]
    # TensorBoard is an optional package (TensorFlow does not require it).
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    if tensorboard:
        callbacks.insert(2, keras.callbacks.TensorBoard(
            log_dir=str(run_dir / "logs"), write_graph=False, profile_batch=0))
    verbose = (1 if sys.stdout.isatty() else 2) if progress else 0
    epochs_run = model_setup.fit_phases(
        model, optimizer, loss, dataset, config=config, callbacks=callbacks,
        checkpoint=checkpoint, steps_per_epoch=steps, verbose=verbose,
        say=say)
    if checkpoint.best_epoch is None:
        raise ECGPEError(f"{run_dir}: `{training.monitor}` was never finite; no best model "
                         "was saved (diverged training?)")
    say(f"Best epoch {checkpoint.best_epoch + 1} of {epochs_run}: {training.monitor} = "
        f"{checkpoint.best_value:.4f}; fitting temperature and thresholds on validation")
    details = {"n_train": int(len(train_rows)), "n_validation": int(len(val_rows)),
               "window": window, "stride": stride, "steps_per_epoch": steps,
               "pos_weight_auto": pos_weight, "epochs_run": epochs_run,
               "best_epoch": checkpoint.best_epoch + 1, "best_value": checkpoint.best_value,
               "stopped_early": checkpoint.stopped, "monitor": training.monitor,
               "model_name": run_model.model_name, "synthetic": synthetic,
               "transferred_from": config.transfer.init_from,
               "tensorboard_logs": str(run_dir / "logs") if tensorboard else
               "not written: the tensorboard package is not installed",
               "keras_version": keras.__version__}
    val_metrics, paths = finish_run(run_dir, config, cache, val_rows, plan,
                                    run_model.model_name, details, say)
    details["seconds"] = round(time.perf_counter() - started, 1)
    atomic_write_json(run_dir / "run.json", details)
    return RunResult(run_dir=run_dir, best_model=run_dir / "best.keras",
                     last_model=run_dir / "last.keras", contract=paths["contract"],
                     history=run_dir / "history.csv",
                     validation_metrics=paths["validation_metrics"],
                     training_curves=paths["training_curves"],
                     best_epoch=checkpoint.best_epoch + 1, epochs_run=epochs_run,
                     val_metrics=val_metrics, synthetic=synthetic, seconds=details["seconds"])
