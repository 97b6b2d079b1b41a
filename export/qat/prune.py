"""Magnitude pruning of a zoo model to a target sparsity, with a brief fine-tune.

Steps, all in the child process: the Keras 3 model's literal tf_keras twin (Conv1D stays
Conv1D, same names and weights) is wrapped by `prune_low_magnitude`; over the first 70 %
of the fine-tune's steps a polynomial schedule raises every prunable kernel's share of
zeros from 0 to the target (tfmot prunes each layer to the target, smallest magnitudes
first), and the remaining steps train the surviving weights with the mask fixed; the
wrappers are stripped and the sparse weights copied back into the Keras 3 model, which
then converts in the requested mode like any other export (the zeros survive float32,
float16 and the int8 modes; TFLite stores them densely, so the gain is in a compressed
download and in sparse kernels where a runtime has them, not in the raw file size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow_model_optimization as tfmot

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.export.qat.finetune import (
    TrainingWindows,
    fine_tune,
    freeze_batch_norm,
)
from keras_ecgpe.export.qat.twin import (
    build_twin,
    copy_weights_by_name,
    keras_layers_by_name,
)
from keras_ecgpe.export.tflite import ExportError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import keras

_sparsity = tfmot.sparsity.keras
RAMP_SHARE = 0.7  # share of the steps over which sparsity rises to the target
SPARSITY_TOLERANCE = 0.01  # tfmot rounds each layer's count of zeros


def pruning_schedule(
    target: float, total_steps: int
) -> tuple[tfmot.sparsity.keras.PruningSchedule, int]:
    """PolynomialDecay from 0 to `target`, reaching it on a pruning step at ~70 % of the
    steps; ConstantSparsity (prune at once, on step 0) when there are too few steps."""
    if total_steps < 4:
        return _sparsity.ConstantSparsity(target, begin_step=0, frequency=1), 0
    frequency = max(1, int(total_steps * RAMP_SHARE) // 10)
    # The mask is recomputed on steps begin + k * frequency; end on one of them.
    end = max(frequency, (int(total_steps * RAMP_SHARE) // frequency) * frequency)
    return _sparsity.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=target, begin_step=0, end_step=end, frequency=frequency
    ), end


def measured_sparsity(model: keras.Model, names: Iterable[str]) -> dict:
    """Share of exact zeros in the kernels of the named layers, and in all the weights."""
    layers = keras_layers_by_name(model)
    zeros = total = 0
    for name in names:
        for variable in layers[name].weights:
            if variable.path.rsplit("/", 1)[-1] == "kernel":
                value = np.asarray(variable.numpy())
                zeros, total = zeros + int(np.sum(value == 0)), total + int(value.size)
    every = np.concatenate([np.ravel(w) for w in model.get_weights()])
    return {
        "measured_sparsity": zeros / total if total else 0.0,
        "pruned_weights": int(total),
        "measured_sparsity_all_weights": float(np.mean(every == 0)),
    }


def prune_in_place(
    model: keras.Model,
    data: TrainingWindows,
    loss: keras.losses.Loss,
    *,
    sparsity: float,
    epochs: int,
    learning_rate: float,
) -> dict:
    """Prunes a Keras 3 zoo model's kernels to `sparsity`, fine-tuning as it goes.

    Args:
        model: the Keras 3 `ECGClassifier`; its weights are replaced by the pruned ones.
        data: the run's `TrainingWindows`.
        loss: the run's Keras 3 loss on logits.
        sparsity: target share of zeros in every prunable kernel, in (0, 1).
        epochs: fine-tune epochs, at least 1 (the masks are applied during training).
        learning_rate: Adam step size.

    Returns:
        The JSON-safe facts for `model.json` (`sparsity`, `measured_sparsity`, ...).

    Raises:
        ConfigError: bad sparsity or epochs; `TwinError` for layers with no twin;
            tfmot's refusal of a layer as ConfigError.
        ExportError: the kernels did not reach the requested sparsity.
    """
    if not 0.0 < float(sparsity) < 1.0:
        raise ConfigError(f"--prune must be a sparsity in (0, 1). Received: {sparsity!r}")
    if int(epochs) < 1:
        raise ConfigError(f"--prune-epochs must be at least 1. Received: {epochs!r}")
    twin = build_twin(model, layout="1d")
    freeze_batch_norm(twin)
    total = int(epochs) * data.steps_per_epoch
    schedule, end_step = pruning_schedule(float(sparsity), total)
    try:
        wrapped = _sparsity.prune_low_magnitude(twin, pruning_schedule=schedule)
    except ValueError as exc:
        raise ConfigError(
            f"tensorflow-model-optimization cannot prune this model: {str(exc)[:300]}"
        ) from None
    freeze_batch_norm(wrapped)
    # The wrapper class is not public API: recognise it by name.
    pruned_layers = [
        layer.layer.name
        for layer in wrapped.layers
        if type(layer).__name__ == "PruneLowMagnitude" and layer.prunable_weights
    ]
    history = fine_tune(
        wrapped,
        data,
        loss,
        epochs=int(epochs),
        learning_rate=learning_rate,
        callbacks=[_sparsity.UpdatePruningStep()],
    )
    copy_weights_by_name(_sparsity.strip_pruning(wrapped), model)
    measured = measured_sparsity(model, pruned_layers)
    if measured["measured_sparsity"] < float(sparsity) - SPARSITY_TOLERANCE:
        raise ExportError(
            f"pruning reached {measured['measured_sparsity']:.3f} sparsity, not "
            f"the requested {sparsity}; nothing was written"
        )
    return {
        "sparsity": float(sparsity),
        **measured,
        "pruned_layers": len(pruned_layers),
        "schedule": {"kind": type(schedule).__name__, "end_step": int(end_step)},
        "epochs": int(epochs),
        "steps": total,
        "windows_per_epoch": len(data),
        "batch_size": int(data.batch_size),
        "learning_rate": float(learning_rate),
        "optimizer": "adam",
        "loss_per_epoch": history,
    }
