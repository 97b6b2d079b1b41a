"""Quantisation-aware training and pruning at export time (the parent process's side).

`ecgpe-keras export RUN --tflite --qat` fine-tunes the run's model with simulated int8
rounding and converts it to full int8; `--prune SPARSITY` zeroes the smallest weights of
every prunable kernel while fine-tuning, then converts in the requested `--quantize`
mode. Both use tensorflow-model-optimization (tfmot), which only handles tf_keras models
and switches its whole process to legacy Keras on import (docs/background.md), so the work runs
in a child process, `python -m keras_ecgpe.export.qat.worker`, on a tf_keras twin of the
model (`twin.py`). This module says what is supported and `handoff.py` starts the child;
neither imports tfmot or tf_keras.

A family is supported, for QAT and pruning alike, when its backbone class sets
`QAT_SUPPORTED` (the convolutional families; `supported_families()` lists them from the
registry). The recurrent, attention and transformer families are not: tfmot has no 8-bit
QAT for LSTM/GRU, attention or LayerNorm; its pruning wrappers left tf_keras 2.21 LSTM
cells dense (measured), and the twin does not translate attention, LayerNorm or the
sinusoidal position layer (`layer_keys.py` lists the layers it does translate).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import keras

DEFAULT_QAT_EPOCHS = 2
DEFAULT_PRUNE_EPOCHS = 4
INSTALL_HINT = 'pip install -e ".[qat]"'


def family_of(model: keras.Model) -> str:
    """The zoo family of a classifier (its backbone's class name)."""
    return type(getattr(model, "backbone", model)).__name__


def supported_families() -> tuple[str, ...]:
    """Class names of the zoo families QAT and pruning handle, in registry order.

    Read from each backbone class's `QAT_SUPPORTED`, so a new family declares its support
    where it is defined.
    """
    from keras_ecgpe.models.registry import list_families  # lazy: imports Keras

    return tuple(family.__name__ for family in list_families() if family.QAT_SUPPORTED)


def check_supported(model: keras.Model, *, qat: bool = False, prune: float | None = None) -> None:
    """Refuses a family x mode combination QAT or pruning cannot handle.

    Raises:
        ConfigError: naming the family and listing the supported ones.
    """
    backbone = getattr(model, "backbone", model)
    requested = qat or prune is not None
    if not requested or getattr(type(backbone), "QAT_SUPPORTED", False):
        return
    family = family_of(model)
    supported = ", ".join(supported_families())
    if qat:
        raise ConfigError(
            f"--qat does not support the {family} family (model "
            f"{model.name!r}): quantisation-aware training works on "
            f"{supported}; export it with --quantize int8 (post-training) instead"
        )
    raise ConfigError(
        f"--prune does not support the {family} family (model "
        f"{model.name!r}): pruning works on {supported}"
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
