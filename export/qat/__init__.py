"""Quantisation-aware training and pruning at export time (the parent process's side).

`ecgpe-keras export RUN --tflite --qat` fine-tunes the run's model with simulated int8
rounding and converts it to full int8; `--prune SPARSITY` zeroes the smallest weights of
every prunable kernel while fine-tuning, then converts in the requested `--quantize`
mode. Both use tensorflow-model-optimization (tfmot), which only handles tf_keras models
and switches its whole process to legacy Keras on import (docs/background.md), so the work runs
in a child process, `python -m keras_ecgpe.export.qat.worker`, on a tf_keras twin of the
model (`twin.py`). This module says what is supported and `handoff.py` starts the child;
neither imports tfmot or tf_keras.

| family | QAT (int8) | pruning |
|---|---|---|
| ResNet1D, XResNet1D, VGG1D, AlexNet1D, Inception1D | yes | yes |
| RNN1D, CRNN1D, AttentionResNet1D, Transformer1D, ResNetTransformer1D | no | no |

tfmot has no 8-bit QAT for LSTM/GRU, attention or LayerNorm; its pruning wrappers left
tf_keras 2.21 LSTM cells dense (measured), and the twin does not translate attention,
LayerNorm or the sinusoidal position layer.
"""

from __future__ import annotations

import importlib.util

from keras_ecgpe.errors import ConfigError

QAT_FAMILIES = ("ResNet1D", "XResNet1D", "VGG1D", "AlexNet1D", "Inception1D")
PRUNE_FAMILIES = QAT_FAMILIES
DEFAULT_QAT_EPOCHS = 2
DEFAULT_PRUNE_EPOCHS = 4
INSTALL_HINT = 'pip install -e ".[qat]"'


def family_of(model) -> str:
    """The zoo family of a classifier (its backbone's class name)."""
    return type(getattr(model, "backbone", model)).__name__


def check_supported(model, *, qat: bool = False, prune: float | None = None) -> None:
    """Refuses a family x mode combination QAT or pruning cannot handle.

    Raises:
        ConfigError: naming the family and listing the supported ones.
    """
    family = family_of(model)
    if qat and family not in QAT_FAMILIES:
        raise ConfigError(
            f"--qat does not support the {family} family (model "
            f"{model.name!r}): quantisation-aware training works on "
            f"{', '.join(QAT_FAMILIES)}; export it with --quantize int8 "
            "(post-training) instead"
        )
    if prune is not None and family not in PRUNE_FAMILIES:
        raise ConfigError(
            f"--prune does not support the {family} family (model "
            f"{model.name!r}): pruning works on {', '.join(PRUNE_FAMILIES)}"
        )


def require_tfmot() -> None:
    """Checks, without importing them, that tfmot and tf_keras are installed.

    Raises:
        ConfigError: telling how to install them.
    """
    missing = [
        name
        for name in ("tensorflow_model_optimization", "tf_keras")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise ConfigError(
            f"--qat and --prune need {' and '.join(missing)}, which are not "
            f"installed; install them with: {INSTALL_HINT}"
        )
