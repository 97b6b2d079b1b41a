"""The sections of a training run's configuration, each a frozen, checked dataclass.

Defaults follow the seed study where it is sound (focal loss alpha 0.7 / gamma 2, AdamW
1e-4, weight decay 1e-2, batch 64, 50 epochs, the paper's augmentations) and the PTB-XL
benchmark protocol for windows (2.5 s crops, sliding 2.5 s windows with stride 1.25 s,
aggregated by max). See `TrainConfig` for how sections are read and overridden.
"""

from __future__ import annotations

import dataclasses

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.metrics import METRIC_NAMES
from keras_ecgpe.limits import MAX_BATCH_SIZE, MAX_BOOTSTRAP, MAX_EPOCHS, MAX_SEED
from keras_ecgpe.training.config_fields import Section, option

MONITORS = ("val_loss",) + tuple(f"val_macro_{name}" for name in METRIC_NAMES)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "mirrored", "multiworker")


@dataclasses.dataclass(frozen=True)
class DataSection(Section):
    """Where the data come from and how windows are cut (see `train_run`)."""

    NAME = "data"
    cache: str | None = option(None, kind="str", optional=True)
    source: str | None = option(None, kind="str", optional=True)
    root: str | None = option(None, kind="str", optional=True)
    source_options: dict = option(factory=dict, kind="dict")
    preprocess: dict = option(factory=dict, kind="dict")
    window_s: float = option(2.5, kind="float", low=0, low_open=True, high=600.0)
    eval_mode: str = option("sliding", kind="str", choices=("sliding", "centre"))
    eval_stride_s: float = option(1.25, kind="float", low=0, low_open=True, high=600.0)
    aggregate: str = option("max", kind="str", choices=("mean", "max"))
    standardize: bool = option(False, kind="bool")
    # A run directory (or its contract.json) whose dataset standardiser is applied instead
    # of one fitted on the training records: a comparison's scratch arm takes the
    # pretrained run's, so every arm sees the same inputs. Needs `standardize: true`.
    standardizer_from: str | None = option(None, kind="str", optional=True)
    augment: bool = option(True, kind="bool")
    augment_config: dict = option(factory=dict, kind="dict")
    # When `data.source` is prepared by the run: the patient-level split (`fractions`,
    # `folds`, `seed`, `all_train`; data/prepare.py SplitSettings) and the signal-quality
    # policy and thresholds (`policy`: keep, flag or skip; data/quality.py QualitySettings).
    split: dict = option(factory=dict, kind="dict")
    quality: dict = option(factory=dict, kind="dict")
    # Leave out records the cache flags for signal quality (`data prepare`'s default
    # "flag" policy) from training, validation and evaluation.
    exclude_flagged: bool = option(False, kind="bool")

    def validate(self) -> None:
        if self.cache is not None and (self.source is not None or self.root is not None):
            raise ConfigError(
                "give either `data.cache` or `data.source` + `data.root`, not "
                f"both. Received: data.cache={self.cache!r}, data.source="
                f"{self.source!r}, data.root={self.root!r}"
            )
        if self.standardizer_from is not None and not self.standardize:
            raise ConfigError(
                "`data.standardizer_from` gives a dataset standardiser; it needs "
                "`data.standardize: true`. Received: data.standardize=false, "
                f"data.standardizer_from={self.standardizer_from!r}"
            )
        if (self.source is None) != (self.root is None):
            raise ConfigError(
                "`data.source` and `data.root` go together. Received: "
                f"data.source={self.source!r}, data.root={self.root!r}"
            )
        from keras_ecgpe.data.augment import AugmentConfig  # lazy: imports TensorFlow
        from keras_ecgpe.data.prepare import SplitSettings
        from keras_ecgpe.data.preprocessing import PreprocessConfig
        from keras_ecgpe.data.quality import QualitySettings

        PreprocessConfig.from_dict(self.preprocess)
        AugmentConfig.from_dict(self.augment_config)
        SplitSettings.from_dict(self.split)
        QualitySettings.from_dict(self.quality)

    @property
    def has_data(self) -> bool:
        return self.cache is not None or self.source is not None


@dataclasses.dataclass(frozen=True)
class ModelSection(Section):
    NAME = "model"
    name: str = option("resnet1d18", kind="str")
    overrides: dict = option(factory=dict, kind="dict")
    dropout: float = option(0.0, kind="float", low=0.0, high=0.99)

    def validate(self) -> None:
        from keras_ecgpe.models.registry import MODELS  # lazy: imports Keras

        if self.name not in MODELS:
            raise ConfigError(
                f"`model.name` {self.name!r:.80} is not a registered model; registered: "
                f"{', '.join(MODELS)}"
            )


@dataclasses.dataclass(frozen=True)
class LossSection(Section):
    """Focal loss (alpha, gamma) or BCE with `pos_weight` ("auto": n_neg / n_pos of each
    class in the training split; a list: one weight per class; null: 1). `pos_weight`
    applies to "bce" only; the focal loss weights positives by `alpha`."""

    NAME = "loss"
    name: str = option("focal", kind="str", choices=("focal", "bce"))
    alpha: float = option(0.7, kind="float", low=0.0, high=1.0)
    gamma: float = option(2.0, kind="float", low=0.0, high=100.0)
    pos_weight: str | list | None = option("auto", kind="any")

    def validate(self) -> None:
        weights = self.pos_weight
        if weights is None or weights == "auto":
            return
        if (
            not isinstance(weights, (list, tuple))
            or not weights
            or not all(
                not isinstance(w, bool) and isinstance(w, (int, float)) and w > 0 for w in weights
            )
        ):
            raise ConfigError(
                '`loss.pos_weight` must be "auto", null or a list of positive '
                f"numbers (one per class). Received: loss.pos_weight={weights!r}"
            )
        object.__setattr__(self, "pos_weight", [float(w) for w in weights])


@dataclasses.dataclass(frozen=True)
class OptimizerSection(Section):
    """AdamW; `weight_decay` is decoupled and scaled by the learning rate (Keras AdamW)."""

    NAME = "optimizer"
    learning_rate: float = option(1e-4, kind="float", low=0, low_open=True, high=100.0)
    weight_decay: float = option(1e-2, kind="float", low=0.0, high=100.0)
    clipnorm: float | None = option(
        None, kind="float", low=0, low_open=True, high=1e6, optional=True
    )


@dataclasses.dataclass(frozen=True)
class ScheduleSection(Section):
    NAME = "schedule"
    name: str = option("constant", kind="str", choices=("constant", "step", "cosine", "onecycle"))
    step_epochs: int = option(10, kind="int", low=1, high=MAX_EPOCHS)
    step_gamma: float = option(0.1, kind="float", low=0, low_open=True, high=1.0)
    warmup_epochs: int = option(0, kind="int", low=0, high=MAX_EPOCHS)
    onecycle_max_lr: float = option(1e-3, kind="float", low=0, low_open=True, high=100.0)


@dataclasses.dataclass(frozen=True)
class TrainingSection(Section):
    """`deterministic` enables TensorFlow op determinism (same seed, same run on CPU); it
    excludes `jit_compile`. `strategy` spreads training over devices (see `distribute.py`):
    "auto" (one device), "mirrored" (all local GPUs, else the logical CPU devices) or
    "multiworker" (the cluster in TF_CONFIG). `batch_size` is PER REPLICA: one step
    trains on `batch_size x replicas` windows (the global batch)."""

    NAME = "training"
    epochs: int = option(50, kind="int", low=1, high=MAX_EPOCHS)
    batch_size: int = option(64, kind="int", low=1, high=MAX_BATCH_SIZE)
    seed: int = option(0, kind="int", low=0, high=MAX_SEED)
    patience: int = option(10, kind="int", low=1, high=MAX_EPOCHS)
    monitor: str = option("val_macro_auroc", kind="str", choices=MONITORS)
    precision: str = option("float32", kind="str", choices=PRECISIONS)
    jit_compile: bool = option(False, kind="bool")
    steps_per_epoch: int | None = option(None, kind="int", low=1, high=10**7, optional=True)
    deterministic: bool = option(True, kind="bool")
    strategy: str = option("auto", kind="str", choices=STRATEGIES)

    def validate(self) -> None:
        if self.jit_compile and self.deterministic:
            # Keras silently drops XLA when TensorFlow op determinism is on.
            raise ConfigError(
                "`training.jit_compile=true` needs `training.deterministic="
                "false` (Keras disables XLA under op determinism). Received: "
                "training.jit_compile=True, training.deterministic=True"
            )


@dataclasses.dataclass(frozen=True)
class TransferSection(Section):
    """Start from a pretrained model: a run directory or a `.keras` file with its
    `contract.json` beside it (see `transfer.py`)."""

    NAME = "transfer"
    init_from: str | None = option(None, kind="str", optional=True)
    finetune: str = option("full", kind="str", choices=("linear", "full", "gradual"))
    gradual_epochs_per_stage: int = option(2, kind="int", low=1, high=MAX_EPOCHS)
    lr_decay: float = option(0.5, kind="float", low=0, low_open=True, high=1.0)


@dataclasses.dataclass(frozen=True)
class ThresholdsSection(Section):
    NAME = "thresholds"
    method: str = option("f1", kind="str", choices=("f1", "youden", "sensitivity"))
    target: float = option(0.9, kind="float", low=0, low_open=True, high=1.0)


@dataclasses.dataclass(frozen=True)
class EvaluationSection(Section):
    """`bootstrap` resamples (0: no intervals); rule-out operating points; `calibrate`
    fits a temperature on validation data."""

    NAME = "evaluation"
    bootstrap: int = option(1000, kind="int", low=0, high=MAX_BOOTSTRAP)
    fixed_specificity: float = option(0.9, kind="float", low=0, low_open=True, high=1.0)
    fixed_sensitivity: float = option(0.9, kind="float", low=0, low_open=True, high=1.0)
    calibrate: bool = option(True, kind="bool")


SECTIONS = (
    DataSection,
    ModelSection,
    LossSection,
    OptimizerSection,
    ScheduleSection,
    TrainingSection,
    TransferSection,
    ThresholdsSection,
    EvaluationSection,
)
