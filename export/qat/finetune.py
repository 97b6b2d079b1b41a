"""The brief fine-tune of QAT and pruning: the run's training windows, the run's loss.

Each epoch visits every sliding training window of the run's prepared cache once
(`eval_stride` apart, standardised with the run's constants, as calibration cuts them),
in a seeded shuffled order, read batch by batch from the memory-mapped cache. The loss is
the run's own Keras 3 loss object on logits (focal or weighted BCE, per-class label mask
as sample weight); it runs on TensorFlow tensors, so it trains a tf_keras model as it
is. BatchNorm layers are frozen (inference mode, statistics and affine kept): a few
epochs on quantised or sparsified weights should adapt the weights to the rounding or
the zeros, not re-estimate normalisation on a handful of batches. No augmentation.
Import only in the QAT/pruning child process: it imports tf_keras.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
import tf_keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.export.representative import read_windows, split_plan

if TYPE_CHECKING:
    import keras


@dataclasses.dataclass
class TrainingWindows:
    """The run's training windows, read lazily: `batches(epoch)` yields `(x, y, mask)`.

    Args:
        cache: the run's `PreparedCache`.
        contract: the run's contract (window, stride, standardiser).
        batch_size: windows per step.
        seed: seed of the per-epoch shuffles.
    """

    cache: object
    contract: dict
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self):
        self.rows, self.starts = split_plan(self.cache, self.contract, "train", mode="sliding")

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self) // self.batch_size)

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self))
        for k in range(0, order.size, self.batch_size):
            # The cache is read in row order (memory-mapped), then put back in draw order.
            pick = order[k : k + self.batch_size]
            sort = np.argsort(self.rows[pick], kind="stable")
            rows, starts = self.rows[pick][sort], self.starts[pick][sort]
            x = read_windows(self.cache, self.contract, rows, starts)
            y = self.cache.labels[rows].astype(np.float32)
            mask = self.cache.label_mask[rows].astype(np.float32)
            yield x, y, mask


def freeze_batch_norm(model: tf_keras.Model) -> int:
    """Puts every BatchNormalization of a tf_keras model (wrapped or not) in inference mode.

    Returns:
        How many were frozen.
    """
    frozen = 0
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)  # tfmot wrappers keep the layer as `.layer`
        if isinstance(inner, tf_keras.layers.BatchNormalization):
            layer.trainable = inner.trainable = False
            frozen += 1
    return frozen


def fine_tune(
    model: tf_keras.Model,
    data: TrainingWindows,
    loss: keras.losses.Loss,
    *,
    epochs: int,
    learning_rate: float,
    callbacks: list | None = None,
) -> list[float]:
    """Trains a tf_keras model for `epochs` passes over the training windows (Adam).

    Args:
        model: the tf_keras model (QAT or pruning wrappers inside) producing logits.
        data: the `TrainingWindows`.
        loss: a Keras 3 loss on logits, called as `loss(y, logits, sample_weight=mask)`.
        epochs: passes over the windows (0 trains nothing).
        learning_rate: Adam's step size.
        callbacks: tf_keras callbacks driven per batch and epoch (tfmot's
            `UpdatePruningStep` needs them).

    Returns:
        The mean training loss of each epoch.

    Raises:
        ConfigError: a non-finite loss (the fine-tune diverged).
    """
    optimizer = tf_keras.optimizers.Adam(learning_rate)
    callbacks = tf_keras.callbacks.CallbackList(callbacks or [], model=model)

    @tf.function(reduce_retracing=True)
    def step(x, y, mask):
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True), sample_weight=mask)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables))
        return value

    history = []
    callbacks.on_train_begin()
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        values = []
        for index, (x, y, mask) in enumerate(data.batches(epoch)):
            callbacks.on_train_batch_begin(index)
            values.append(float(step(x, y, mask)))
            callbacks.on_train_batch_end(index)
        history.append(float(np.mean(values)))
        if not np.isfinite(history[-1]):
            raise ConfigError(
                f"the fine-tune diverged (loss {history[-1]} in epoch "
                f"{epoch + 1}); lower the fine-tune learning rate"
            )
        callbacks.on_epoch_end(epoch)
    callbacks.on_train_end()
    return history
