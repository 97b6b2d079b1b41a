"""What a run trains: the model (fresh or transferred), its loss, optimizer and phases.

Kept apart from the loop in `trainer.py` so a cross-validation or distributed trainer can
reuse it: `build_run_model` inside a strategy scope, `make_loss_for`, `make_optimizer`,
`build_optimizer`, then `fit_phases`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.training.contract import check_compatible
from keras_ecgpe.training.losses import make_loss
from keras_ecgpe.training.optimizers import DiscriminativeAdamW
from keras_ecgpe.training.schedules import build_schedule
from keras_ecgpe.training.transfer import (
    backbone_stages,
    discriminative_multipliers,
    gradual_plan,
    load_pretrained,
    set_unfrozen_stages,
    transfer_model,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import tensorflow as tf

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.training.callbacks import BestCheckpoint
    from keras_ecgpe.training.config import TrainConfig


@dataclasses.dataclass
class RunModel:
    """The model of a run and what the contract must say about where it came from."""

    model: keras.Model
    model_name: str
    pretrained: dict | None = None  # the pretrained contract, when transferred


def build_run_model(config: TrainConfig, cache: PreparedCache, window: int) -> RunModel:
    """A fresh registered model, or the pretrained backbone with a new head.

    Raises:
        ConfigError: the pretrained model's contract does not fit the data (fs, leads,
            preprocessing, window) or the configured standardisation.
    """
    num_classes = len(cache.label_names)
    init_from = config.transfer.init_from
    if init_from is None:
        from keras_ecgpe.models import build_model

        model = build_model(
            config.model.name,
            input_len=window,
            num_classes=num_classes,
            dropout=config.model.dropout,
            **config.model.overrides,
        )
        return RunModel(model, config.model.name)
    pretrained, contract = load_pretrained(init_from)
    check_compatible(contract, cache, check_labels=False)
    if int(contract["window"]) != window:
        raise ConfigError(
            f"{init_from}: the pretrained model takes windows of "
            f"{contract['window']} samples; data.window_s gives {window}. "
            f"Set data.window_s={contract['window'] / contract['fs']:g}"
        )
    if config.data.standardize != (contract.get("standardizer") is not None):
        raise ConfigError(
            f"{init_from}: the pretrained model was trained "
            f"{'with' if contract.get('standardizer') else 'without'} a dataset "
            f"standardiser; set data.standardize="
            f"{str(contract.get('standardizer') is not None).lower()}"
        )
    model = transfer_model(
        pretrained, num_classes, config.transfer.finetune, dropout=config.model.dropout
    )
    return RunModel(model, contract["model_name"], contract)


def make_loss_for(config: TrainConfig, pos_weight_auto: list[float]) -> keras.losses.Loss:
    """The configured loss; "auto" BCE positive weights come from the training split."""
    weights = config.loss.pos_weight
    if weights == "auto":
        weights = pos_weight_auto
    if weights is not None and len(weights) != len(pos_weight_auto):
        raise ConfigError(
            f"`loss.pos_weight` must have one weight per class "
            f"({len(pos_weight_auto)}). Received: loss.pos_weight={weights}"
        )
    return make_loss(
        config.loss.name, alpha=config.loss.alpha, gamma=config.loss.gamma, pos_weight=weights
    )


def make_optimizer(
    config: TrainConfig, model: keras.Model, *, steps_per_epoch: int
) -> keras.optimizers.Optimizer:
    """AdamW over the configured schedule; discriminative rates for gradual fine-tuning;
    wrapped in a loss-scale optimizer under mixed_float16."""
    schedule = build_schedule(
        config.schedule,
        config.optimizer.learning_rate,
        steps_per_epoch=steps_per_epoch,
        epochs=config.training.epochs,
    )
    multipliers = None
    if config.transfer.init_from is not None and config.transfer.finetune == "gradual":
        multipliers = discriminative_multipliers(model, config.transfer.lr_decay)
    optimizer = DiscriminativeAdamW(
        learning_rate=schedule,
        lr_multipliers=multipliers,
        weight_decay=config.optimizer.weight_decay,
        clipnorm=config.optimizer.clipnorm,
    )
    if config.training.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def training_phases(config: TrainConfig, model: keras.Model) -> list[tuple[int, int, int | None]]:
    """`[(first_epoch, end_epoch, n_unfrozen_stages or None)]`: one phase, or the
    gradual-unfreezing plan."""
    if config.transfer.init_from is None or config.transfer.finetune != "gradual":
        return [(0, config.training.epochs, None)]
    return gradual_plan(
        len(backbone_stages(model.backbone)),
        config.training.epochs,
        config.transfer.gradual_epochs_per_stage,
    )


def build_optimizer(
    config: TrainConfig, model: keras.Model, optimizer: keras.optimizers.Optimizer
) -> None:
    """Creates the optimizer's variables now (not at the first step), on every variable
    gradual unfreezing will ever train, so a resumed run can load them before `fit`."""
    if training_phases(config, model)[0][2] is not None:
        model.backbone.trainable = True
    optimizer.build(model.trainable_variables)


def fit_phases(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss: keras.losses.Loss,
    dataset_for: Callable[[int], tf.data.Dataset],
    *,
    config: TrainConfig,
    callbacks: list[keras.callbacks.Callback],
    checkpoint: BestCheckpoint,
    steps_per_epoch: int | None,
    verbose: int | str,
    say: Callable[[str], None],
    initial_epoch: int = 0,
    prepare: Callable[[keras.Model], None] | None = None,
) -> int:
    """Compiles and fits each phase with one optimizer (its moments and step count carry
    over); returns the number of epochs run (counting those before `initial_epoch`).

    Gradual unfreezing changes the trainable set, which Keras fixes at compile time, so
    each phase recompiles; build the optimizer first (`build_optimizer`). Each phase gets
    `dataset_for(first_epoch)`: a fresh training stream positioned at that epoch, so the
    data order depends on the epoch alone, not on how many `fit` calls (or processes,
    for a resumed run) came before. `prepare(model)` runs after each compile.
    """
    phases = training_phases(config, model)
    epochs_run = initial_epoch
    for start, end, unfrozen in phases:
        if end <= initial_epoch:
            continue
        start = max(start, initial_epoch)
        if unfrozen is not None:
            set_unfrozen_stages(model, unfrozen)
            say(
                f"Gradual unfreezing: epochs {start + 1}-{end}, top {unfrozen} backbone "
                f"stage(s) trainable"
            )
        metric = keras.metrics.AUC(
            multi_label=True,
            from_logits=True,
            name="macro_auroc",
            num_labels=model.output_shape[-1],
        )
        model.compile(
            optimizer=optimizer,
            loss=loss,
            metrics=[metric],
            jit_compile=config.training.jit_compile,
        )
        if prepare is not None:
            prepare(model)
        history = model.fit(
            dataset_for(start),
            epochs=end,
            initial_epoch=start,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )  # the dataset shuffles itself
        epochs_run = start + len(history.epoch)
        if checkpoint.stopped:
            say(
                f"Early stopping after epoch {epochs_run}: no improvement of "
                f"{checkpoint.monitor} for {checkpoint.patience} epochs"
            )
            break
    return epochs_run
