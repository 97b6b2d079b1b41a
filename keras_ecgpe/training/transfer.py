"""Transfer learning: load a pretrained model with its contract, give it a new head, freeze.

The seed code "fine-tuned" models that never loaded the pretrained weights and left
BatchNorm training while "frozen" (docs/background.md, "The reference paper"). Here the
backbone's weights are copied
from the pretrained model (checked by tests), the head is fresh for the target labels,
and freezing uses Keras 3's `trainable = False`, which also runs BatchNormalization in
inference mode (moving statistics are used and never updated).

Fine-tuning modes:
- "linear": the backbone is frozen; only the head learns (a linear probe).
- "full": everything learns from the first step.
- "gradual": the backbone is cut into stages (`backbone_stages`); training starts with the
  head alone and unfreezes one more stage from the top every
  `transfer.gradual_epochs_per_stage` epochs, with discriminative learning rates: the head
  gets the base rate and a backbone stage `d` stages below the top gets `lr_decay ** d`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import run_directory
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

    import keras

    from keras_ecgpe.models.classifier import ECGClassifier

FINETUNE_MODES = ("linear", "full", "gradual")
# A stage is named by the first of these tokens in a layer name (see backbone_stages).
_STAGE_TOKEN = re.compile(
    r"(stem|stage\d+|module\d+|layer\d+|conv\d+|fc\d+|lstm\d+|gru\d+"
    r"|embedding)"
)


def load_pretrained(init_from: os.PathLike | str) -> tuple[object, dict]:
    """Loads a pretrained model and its input contract.

    Args:
        init_from: a run directory (its `best.keras` and `contract.json` are used) or a
            `.keras` file with the `contract.json` of its run beside it. A bare `.keras`
            file is refused: without its contract, the sampling rate, window and
            preprocessing it expects cannot be checked against the new data.

    Returns:
        `(model, contract)`; the model is loaded with `safe_mode=True` and not compiled.

    Raises:
        ConfigError: a missing model or contract, naming the path.
    """
    path = Path(init_from)
    if path.is_dir() and not (path / run_directory.BEST_MODEL).is_file():
        raise ConfigError(
            f"{path}: not a finished training run (no "
            f"{run_directory.BEST_MODEL}); Received: "
            f"transfer.init_from={str(init_from)!r}"
        )
    if not path.is_dir() and (not path.is_file() or path.suffix != ".keras"):
        raise ConfigError(
            f"`transfer.init_from` must be a run directory or a .keras file. "
            f"Received: transfer.init_from={str(init_from)!r}"
        )
    model, contract, files = run_directory.load_run(path)
    if not hasattr(model, "with_new_head"):
        raise ConfigError(
            f"{files.model}: not a keras_ecgpe ECGClassifier "
            f"({type(model).__name__}); cannot give it a new head"
        )
    return model, contract


def backbone_stages(backbone: keras.Model) -> list[tuple[str, list]]:
    """Groups a backbone's weighted layers into stages, from the input to the top.

    A layer's stage is the first token of its name among `stem`, `stageN`, `moduleN`,
    `layerN`, `convN`, `fcN`, `lstmN`, `gruN` and `embedding` (e.g.
    "resnet_stage2_block1_1_conv" -> "stage2", "stem3" -> "stem", "encoder_layer4_mha" ->
    "layer4"); a layer without such a token joins the stage of the layer before it in the
    backbone's layer order (attention after a ResNet trunk joins its last stage), or opens
    a stage named after itself if it comes first. Stages are ordered by first appearance.

    Returns:
        A list of `(stage name, [layers])`.
    """
    stages: dict[str, list] = {}
    current = None
    for layer in backbone.layers:
        if not layer.weights:
            continue
        match = _STAGE_TOKEN.search(layer.name)
        if match:
            current = re.sub(r"^stem\d*$", "stem", match.group(1))
        elif current is None:
            current = layer.name
        stages.setdefault(current, []).append(layer)
    return list(stages.items())


def discriminative_multipliers(model: keras.Model, lr_decay: float) -> dict[str, float]:
    """Learning-rate factor per backbone variable path: `lr_decay ** d` for a stage `d`
    stages below the top (the top stage: `lr_decay`); the head keeps 1."""
    stages = backbone_stages(model.backbone)
    factors = {}
    for depth, (_, layers) in enumerate(reversed(stages), start=1):
        for layer in layers:
            for variable in layer.weights:
                factors[variable.path] = float(lr_decay) ** depth
    return factors


def set_unfrozen_stages(model: keras.Model, n_unfrozen: int) -> None:
    """Makes the top `n_unfrozen` backbone stages trainable and freezes the rest.

    Recompile the model afterwards: Keras traces the train step with the trainable set.
    """
    stages = backbone_stages(model.backbone)
    frozen = {
        id(layer)
        for _, layers in stages[: max(0, len(stages) - int(n_unfrozen))]
        for layer in layers
    }
    if not model.backbone.trainable:
        model.backbone.trainable = True
    # Each layer is set explicitly: on TensorFlow, `parent.trainable = True` is skipped when
    # the parent already is trainable (attribute short-circuit), leaving sub-layers frozen.
    for layer in model.backbone.layers:
        layer.trainable = id(layer) not in frozen


def transfer_model(
    pretrained: keras.Model,
    num_classes: int,
    finetune: str = "full",
    *,
    dropout: float | None = None,
) -> ECGClassifier:
    """A classifier with the pretrained backbone's weights and a fresh head.

    Args:
        pretrained: an `ECGClassifier` (e.g. from `load_pretrained`).
        num_classes: logits of the new head (the target labels).
        finetune: "linear" (backbone frozen), "full" (all trainable) or "gradual"
            (backbone frozen at first; the trainer unfreezes stages with
            `set_unfrozen_stages`).
        dropout: dropout before the new head (None: keep the pretrained model's).

    Returns:
        A new `ECGClassifier`; the pretrained model is left unchanged.

    Raises:
        ConfigError: an unknown `finetune` mode.

    Example:

    ```python
    model = transfer_model(pretrained, num_classes=1, finetune="linear")
    ```
    """
    if finetune not in FINETUNE_MODES:
        raise ConfigError(
            f"`transfer.finetune` must be one of {', '.join(FINETUNE_MODES)}. "
            f"Received: transfer.finetune={finetune!r}"
        )
    model = pretrained.with_new_head(int(num_classes), dropout)
    model.backbone.trainable = finetune == "full"
    return model


def gradual_plan(n_stages: int, epochs: int, epochs_per_stage: int) -> list[tuple[int, int, int]]:
    """Epoch ranges of gradual unfreezing: `[(first_epoch, end_epoch, n_unfrozen), ...]`.

    The head trains alone for `epochs_per_stage` epochs, then one more backbone stage is
    unfrozen every `epochs_per_stage` epochs; the last phase (everything unfrozen) runs to
    `epochs`. Phases that would start at or after `epochs` are dropped.

    Example:
    >>> gradual_plan(2, 10, 2)
    [(0, 2, 0), (2, 4, 1), (4, 10, 2)]
    """
    plan, start = [], 0
    for unfrozen in range(n_stages + 1):
        end = epochs if unfrozen == n_stages else min(epochs, start + epochs_per_stage)
        if start >= epochs:
            break
        plan.append((start, end, unfrozen))
        start = end
    return plan
