"""Callbacks of a training run: record-level validation metrics and atomic checkpoints.

`ValidationMetrics` scores the validation split as the final model will be scored -
unaugmented sliding (or centre) windows aggregated per record - and puts `val_loss`
(window level, the training loss), `val_macro_auroc`, `val_macro_average_precision`,
`val_macro_sensitivity_at_specificity` and the monitored `val_macro_<metric>` (any of
`keras_ecgpe.evaluation.METRIC_NAMES`; thresholded ones at probability 0.5) into the
epoch logs, plus the current `learning_rate`. Place it first so the CSV logger,
checkpoint and progress bar see those entries. (The training `macro_auroc` next to it is
Keras' AUC over augmented random training crops: a related, not identical, quantity.)

`BestCheckpoint` writes `last.keras` every epoch, then (if `resumable`) the resume state
of `resume.py`, then `best.keras` whenever the monitored value improves, each atomically
(saved under a temporary name in the same directory, then `os.replace`d), and stops
training after `patience` epochs without improvement. Its state survives several `fit`
calls (gradual unfreezing fits once per phase) and a killed process (`restore`).
"""

from __future__ import annotations

import csv
import io
import math
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from keras_ecgpe import run_directory
from keras_ecgpe.data.atomic import atomic_write_bytes
from keras_ecgpe.evaluation import compute_metrics
from keras_ecgpe.training.run_data import aggregate, predict_windows

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.training.resume import TrainingState
    from keras_ecgpe.training.run_data import WindowPlan


def atomic_save_model(model: keras.Model, path: os.PathLike | str) -> Path:
    """Saves `model` to the `.keras` file `path` so that `path` is never half written."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{secrets.token_hex(3)}.keras")
    try:
        model.save(tmp)
        with open(tmp, "rb") as handle:  # on disk before the rename, so power loss is safe too
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate the optimizer uses at its current step (schedules evaluated)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    return float(keras.ops.convert_to_numpy(inner.learning_rate))


class ValidationMetrics(keras.callbacks.Callback):
    """Adds record-level validation metrics to the logs at each epoch end.

    Args:
        cache: the `PreparedCache`.
        rows: validation record indices.
        plan: the `WindowPlan` (window, mode, stride, aggregation, standardiser).
        loss: the compiled loss object, for the window-level `val_loss`.
        label_names: the class names.
        monitor: the run's monitored key (logged too when it is another macro metric).
        fixed_specificity, fixed_sensitivity: operating points of the rule-out metrics.
    """

    def __init__(
        self,
        cache: PreparedCache,
        rows: np.ndarray,
        plan: WindowPlan,
        loss: keras.losses.Loss,
        label_names: Sequence[str],
        *,
        monitor: str = "val_macro_auroc",
        fixed_specificity: float = 0.9,
        fixed_sensitivity: float = 0.9,
    ):
        super().__init__()
        self.cache, self.rows, self.plan, self.loss = cache, rows, plan, loss
        self.label_names = list(label_names)
        self.fixed = (fixed_specificity, fixed_sensitivity)
        logged = ["auroc", "average_precision", "sensitivity_at_specificity"]
        wanted = monitor[len("val_macro_") :] if monitor.startswith("val_macro_") else None
        self.logged = logged + ([wanted] if wanted and wanted not in logged else [])

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            return
        window_logits, window_records = predict_windows(
            self.model, self.cache, self.rows, self.plan
        )
        weights = self.cache.label_mask[window_records]
        # Keras divides a loss by the replicas in sync under a strategy (each replica's
        # share of the gradient); this is the whole validation set's loss: undo it.
        replicas = self.model.distribute_strategy.num_replicas_in_sync
        logs["val_loss"] = replicas * float(
            self.loss(
                self.cache.labels[window_records],
                window_logits.astype(np.float32),
                sample_weight=weights,
            )
        )
        ids, logits = aggregate(window_logits, window_records, self.plan.aggregate)
        metrics = compute_metrics(
            self.cache.labels[ids],
            logits,
            0.5,
            mask=self.cache.label_mask[ids],
            label_names=self.label_names,
            fixed_specificity=self.fixed[0],
            fixed_sensitivity=self.fixed[1],
        )
        for name in self.logged:
            value = metrics["macro"][name]
            logs[f"val_macro_{name}"] = math.nan if value is None else float(value)
        logs["learning_rate"] = current_learning_rate(self.model.optimizer)


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps `best.keras` (by `monitor`) and `last.keras`; stops after `patience` epochs.

    Args:
        directory: the run directory.
        monitor: a log key, e.g. "val_macro_auroc" (higher is better) or "val_loss"
            (lower is better).
        patience: epochs without improvement before training stops.
        resumable: also write the resume state (`resume.save_state`) every epoch, between
            `last.keras` and `best.keras`, so `best.keras` never runs ahead of the state.
        steps_per_epoch: recorded in the state (a continued run must match it).

    Attributes:
        best_epoch: 0-based epoch of the best value (None before one was finite).
        best_value: the best monitored value.
        stopped: True once patience ran out.
    """

    def __init__(
        self,
        directory: os.PathLike | str,
        monitor: str = "val_macro_auroc",
        patience: int = 10,
        *,
        resumable: bool = False,
        steps_per_epoch: int = 0,
    ):
        super().__init__()
        self.directory = Path(directory)
        self.monitor, self.patience = monitor, int(patience)
        self.resumable, self.steps_per_epoch = resumable, int(steps_per_epoch)
        self.higher_is_better = monitor != "val_loss"
        self.best_epoch, self.best_value, self.wait, self.stopped = None, None, 0, False

    def restore(self, state: TrainingState) -> None:
        """Takes the early-stopping and best-metric state of a `resume.TrainingState`."""
        self.best_epoch, self.best_value = state.best_epoch, state.best_value
        self.wait, self.stopped = int(state.wait), bool(state.stopped)

    def _improved(self, value) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if self.higher_is_better else value < self.best_value

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"BestCheckpoint: `{self.monitor}` is not in the epoch logs "
                f"({sorted(logs)}); put ValidationMetrics before it"
            )
        atomic_save_model(self.model, self.directory / run_directory.LAST_MODEL)
        value = float(logs[self.monitor])
        improved = self._improved(value)
        if improved:
            self.best_epoch, self.best_value, self.wait = int(epoch), value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped = True
                self.model.stop_training = True
        if self.resumable:
            from keras_ecgpe.training.resume import TrainingState, save_state

            save_state(
                self.directory,
                self.model,
                TrainingState(
                    epochs_done=int(epoch) + 1,
                    steps_per_epoch=self.steps_per_epoch,
                    best_epoch=self.best_epoch,
                    best_value=self.best_value,
                    wait=self.wait,
                    stopped=self.stopped,
                ),
            )
        if improved:
            atomic_save_model(self.model, self.directory / run_directory.BEST_MODEL)


class HistoryCSV(keras.callbacks.Callback):
    """Keeps `history.csv` (epoch + sorted log keys) rewritten atomically after each epoch.

    Keras's CSVLogger appends in place, so a kill mid-write can leave a torn last line that
    plots and resume would read; here the whole file is written to a temporary name and
    renamed. Rows already in the file (a resumed run, trimmed by resume) are kept.
    """

    def __init__(self, path: os.PathLike | str):
        super().__init__()
        self.path = Path(path)
        self.header, self.rows = None, []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.path.exists():
            with open(self.path, newline="") as handle:
                rows = list(csv.reader(handle))
            if rows:
                self.header, self.rows = rows[0], rows[1:]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        if self.header is None:
            self.header = ["epoch"] + sorted(logs)
        values = {"epoch": epoch, **logs}
        self.rows.append([_csv_value(values.get(key, "NA")) for key in self.header])
        text = io.StringIO()
        csv.writer(text).writerows([self.header] + self.rows)
        atomic_write_bytes(self.path, text.getvalue().encode("utf-8"))


def _csv_value(value):
    """Plain numbers for tensors and numpy scalars, as CSVLogger writes them."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.generic):
        value = value.item()
    return value
