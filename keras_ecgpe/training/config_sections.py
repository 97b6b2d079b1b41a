"""The sections of a training run's configuration, each a frozen, checked dataclass.

Defaults follow the seed study where it is sound (focal loss alpha 0.7 / gamma 2, AdamW
1e-4, weight decay 1e-2, batch 64, 50 epochs, the paper's augmentations) and the PTB-XL
benchmark protocol for windows (2.5 s crops, sliding 2.5 s windows with stride 1.25 s,
aggregated by max). See `TrainConfig` for how sections are read and overridden.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Union

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.metrics import METRIC_NAMES
from keras_ecgpe.training.config_fields import Section

MONITORS = ("val_loss",) + tuple(f"val_macro_{name}" for name in METRIC_NAMES)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "mirrored", "multiworker")
_field = dataclasses.field


@dataclasses.dataclass(frozen=True)
class DataSection(Section):
    """Where the data come from and how windows are cut (see `train_run`)."""

    NAME = "data"
    SPEC = {"cache": dict(kind="str", optional=True), "source": dict(kind="str", optional=True),
            "root": dict(kind="str", optional=True), "source_options": dict(kind="dict"),
            "preprocess": dict(kind="dict"), "window_s": dict(kind="float", low=0, low_open=True),
            "eval_mode": dict(kind="str", choices=("sliding", "centre")),
            "eval_stride_s": dict(kind="float", low=0, low_open=True),
            "aggregate": dict(kind="str", choices=("mean", "max")),
            "standardize": dict(kind="bool"), "augment": dict(kind="bool"),
            "augment_config": dict(kind="dict")}
    cache: Optional[str] = None
    source: Optional[str] = None
    root: Optional[str] = None
    source_options: dict = _field(default_factory=dict)
    preprocess: dict = _field(default_factory=dict)
    window_s: float = 2.5
    eval_mode: str = "sliding"
    eval_stride_s: float = 1.25
    aggregate: str = "max"
    standardize: bool = False
    augment: bool = True
    augment_config: dict = _field(default_factory=dict)

    def validate(self):
        if self.cache is not None and (self.source is not None or self.root is not None):
            raise ConfigError("give either `data.cache` or `data.source` + `data.root`, not "
                              f"both. Received: data.cache={self.cache!r}, data.source="
                              f"{self.source!r}, data.root={self.root!r}")
        if (self.source is None) != (self.root is None):
            raise ConfigError("`data.source` and `data.root` go together. Received: "
                              f"data.source={self.source!r}, data.root={self.root!r}")
        from keras_ecgpe.data.augment import AugmentConfig  # lazy: imports TensorFlow
        from keras_ecgpe.data.preprocessing import PreprocessConfig

        PreprocessConfig.from_dict(self.preprocess)
        AugmentConfig.from_dict(self.augment_config)

    @property
    def has_data(self) -> bool:
        return self.cache is not None or self.source is not None


@dataclasses.dataclass(frozen=True)
class ModelSection(Section):
    NAME = "model"
    SPEC = {"name": dict(kind="str"), "overrides": dict(kind="dict"),
            "dropout": dict(kind="float", low=0.0, high=0.99)}
    name: str = "resnet1d18"
    overrides: dict = _field(default_factory=dict)
    dropout: float = 0.0

    def validate(self):
        from keras_ecgpe.models.registry import MODELS  # lazy: imports Keras

        if self.name not in MODELS:
            raise ConfigError(f"`model.name` must be a registered model: {', '.join(MODELS)}. "
                              f"Received: model.name={self.name!r}")


@dataclasses.dataclass(frozen=True)
class LossSection(Section):
    """Focal loss (alpha, gamma) or BCE with `pos_weight` ("auto": n_neg / n_pos of each
    class in the training split; a list: one weight per class; null: 1). `pos_weight`
    applies to "bce" only; the focal loss weights positives by `alpha`."""

    NAME = "loss"
    SPEC = {"name": dict(kind="str", choices=("focal", "bce")),
            "alpha": dict(kind="float", low=0.0, high=1.0),
            "gamma": dict(kind="float", low=0.0), "pos_weight": dict(kind="any")}
    name: str = "focal"
    alpha: float = 0.7
    gamma: float = 2.0
    pos_weight: Union[str, list, None] = "auto"

    def validate(self):
        weights = self.pos_weight
        if weights is None or weights == "auto":
            return
        if not isinstance(weights, (list, tuple)) or not weights or not all(
                not isinstance(w, bool) and isinstance(w, (int, float)) and w > 0
                for w in weights):
            raise ConfigError("`loss.pos_weight` must be \"auto\", null or a list of positive "
                              f"numbers (one per class). Received: loss.pos_weight={weights!r}")
        object.__setattr__(self, "pos_weight", [float(w) for w in weights])


@dataclasses.dataclass(frozen=True)
class OptimizerSection(Section):
    """AdamW; `weight_decay` is decoupled and scaled by the learning rate (Keras AdamW)."""

    NAME = "optimizer"
    SPEC = {"learning_rate": dict(kind="float", low=0, low_open=True),
            "weight_decay": dict(kind="float", low=0.0),
            "clipnorm": dict(kind="float", low=0, low_open=True, optional=True)}
    learning_rate: float = 1e-4
    weight_decay: float = 1e-2
    clipnorm: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class ScheduleSection(Section):
    NAME = "schedule"
    SPEC = {"name": dict(kind="str", choices=("constant", "step", "cosine", "onecycle")),
            "step_epochs": dict(kind="int", low=1),
            "step_gamma": dict(kind="float", low=0, low_open=True, high=1.0),
            "warmup_epochs": dict(kind="int", low=0),
            "onecycle_max_lr": dict(kind="float", low=0, low_open=True)}
    name: str = "constant"
    step_epochs: int = 10
    step_gamma: float = 0.1
    warmup_epochs: int = 0
    onecycle_max_lr: float = 1e-3


@dataclasses.dataclass(frozen=True)
class TrainingSection(Section):
    """`deterministic` enables TensorFlow op determinism (same seed, same run on CPU); it
    excludes `jit_compile`. `strategy` spreads training over devices (see `distribute.py`):
    "auto" (one device), "mirrored" (all local GPUs, else the logical CPU devices) or
    "multiworker" (the cluster in TF_CONFIG). `batch_size` is PER REPLICA: one step
    trains on `batch_size x replicas` windows (the global batch)."""

    NAME = "training"
    SPEC = {"epochs": dict(kind="int", low=1), "batch_size": dict(kind="int", low=1),
            "seed": dict(kind="int", low=0), "patience": dict(kind="int", low=1),
            "monitor": dict(kind="str", choices=MONITORS),
            "precision": dict(kind="str", choices=PRECISIONS),
            "jit_compile": dict(kind="bool"),
            "steps_per_epoch": dict(kind="int", low=1, optional=True),
            "deterministic": dict(kind="bool"),
            "strategy": dict(kind="str", choices=STRATEGIES)}
    epochs: int = 50
    batch_size: int = 64
    seed: int = 0
    patience: int = 10
    monitor: str = "val_macro_auroc"
    precision: str = "float32"
    jit_compile: bool = False
    steps_per_epoch: Optional[int] = None
    deterministic: bool = True
    strategy: str = "auto"

    def validate(self):
        if self.jit_compile and self.deterministic:
            # Keras silently drops XLA when TensorFlow op determinism is on.
            raise ConfigError("`training.jit_compile=true` needs `training.deterministic="
                              "false` (Keras disables XLA under op determinism). Received: "
                              "training.jit_compile=True, training.deterministic=True")


@dataclasses.dataclass(frozen=True)
class TransferSection(Section):
    """Start from a pretrained model: a run directory or a `.keras` file with its
    `contract.json` beside it (see `transfer.py`)."""

    NAME = "transfer"
    SPEC = {"init_from": dict(kind="str", optional=True),
            "finetune": dict(kind="str", choices=("linear", "full", "gradual")),
            "gradual_epochs_per_stage": dict(kind="int", low=1),
            "lr_decay": dict(kind="float", low=0, low_open=True, high=1.0)}
    init_from: Optional[str] = None
    finetune: str = "full"
    gradual_epochs_per_stage: int = 2
    lr_decay: float = 0.5


@dataclasses.dataclass(frozen=True)
class ThresholdsSection(Section):
    NAME = "thresholds"
    SPEC = {"method": dict(kind="str", choices=("f1", "youden", "sensitivity")),
            "target": dict(kind="float", low=0, low_open=True, high=1.0)}
    method: str = "f1"
    target: float = 0.9


@dataclasses.dataclass(frozen=True)
class EvaluationSection(Section):
    """`bootstrap` resamples (0: no intervals); rule-out operating points; `calibrate`
    fits a temperature on validation data."""

    NAME = "evaluation"
    SPEC = {"bootstrap": dict(kind="int", low=0),
            "fixed_specificity": dict(kind="float", low=0, low_open=True, high=1.0),
            "fixed_sensitivity": dict(kind="float", low=0, low_open=True, high=1.0),
            "calibrate": dict(kind="bool")}
    bootstrap: int = 1000
    fixed_specificity: float = 0.9
    fixed_sensitivity: float = 0.9
    calibrate: bool = True


SECTIONS = (DataSection, ModelSection, LossSection, OptimizerSection, ScheduleSection,
            TrainingSection, TransferSection, ThresholdsSection, EvaluationSection)
