"""Base class of every backbone: a functional graph from an ECG window to a feature vector."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models import checks

if TYPE_CHECKING:
    from typing import Any


class ECGBackbone(keras.Model):
    """A functional model `(batch, input_len, num_leads)` -> `(batch, features)`.

    Subclasses validate their arguments, build the graph from `keras.Input` and hand the
    input, the feature tensor and their constructor arguments to this constructor, which
    keeps the arguments so `get_config()` returns exactly them (and `from_config` rebuilds
    the same graph, with the same layer names). The classifier head lives elsewhere
    (`ECGClassifier`), so a backbone can be saved, transferred and frozen on its own.

    Args:
        inputs: the `keras.Input` of shape `(input_len, num_leads)`, in mV, channels last.
        features: the 2-D feature tensor the graph ends with.
        arguments: the subclass's constructor arguments, by name (tuples for sequences).
        **kwargs: `keras.Model` arguments (`name`, `trainable`, `dtype`).

    A family declares itself in two class attributes: `VARIANTS`, its registry names and
    the constructor arguments each one sets (`models/registry.py` collects them), and
    `QAT_SUPPORTED`, true when its graph holds only convolutions, BatchNorm, dense,
    pooling, activation, add, concatenate and dropout layers, the layers quantisation-aware
    training and pruning at export handle (no recurrent, attention or LayerNorm layers).
    """

    VARIANTS: ClassVar[dict[str, dict]] = {}
    QAT_SUPPORTED: ClassVar[bool] = False

    def __init__(
        self, inputs: keras.KerasTensor, features: keras.KerasTensor, arguments: dict, **kwargs: Any
    ):
        if len(features.shape) != 2:
            raise ConfigError(
                f"A backbone must end with (batch, features). Received: "
                f"features.shape={features.shape}"
            )
        kwargs.setdefault("name", "backbone")
        trainable = kwargs.pop("trainable", True)
        super().__init__(inputs=inputs, outputs=features, **kwargs)
        # Set after the graph exists: the setter propagates to every layer (freezing).
        self.trainable = trainable
        # A tuple of pairs: Keras would wrap a dict attribute into a tracked container.
        self._arguments = tuple(arguments.items())

    @property
    def input_len(self) -> int:
        """Window length in samples the graph was built for."""
        return self.input_shape[1]

    @property
    def num_leads(self) -> int:
        """Number of input leads (channels)."""
        return self.input_shape[2]

    @property
    def feature_dim(self) -> int:
        """Length of the feature vector the backbone produces."""
        return self.output_shape[-1]

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "trainable": self.trainable}
        for key, value in self._arguments:
            config[key] = list(value) if isinstance(value, tuple) else value
        return config


def make_input(input_len: int, num_leads: int) -> keras.KerasTensor:
    """Checks the signal shape and returns the named `keras.Input` every backbone starts with."""
    checks.signal_shape(input_len, num_leads)
    return keras.Input(shape=(input_len, num_leads), name="ecg")
