"""The task model: a backbone producing features and a dense head producing logits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models import checks

if TYPE_CHECKING:
    from typing import Any


@keras.saving.register_keras_serializable(package="keras_ecgpe")
class ECGClassifier(keras.Model):
    """Backbone + optional dropout + a Dense head named "head" producing logits.

    No sigmoid inside the model: losses, evaluation and prediction apply it, and int8
    export keeps logits because quantised sigmoid outputs saturate (docs/background.md). The
    backbone is a nested model, reachable as `model.backbone`, so fine-tuning can save or
    load its weights alone (`model.backbone.save_weights(...)`) and `with_new_head` can
    swap the head for a new label set.

    Args:
        backbone: an `ECGBackbone` (any model `(batch, time, leads) -> (batch, features)`).
        num_classes: number of logits (one per label; 1 for a binary task).
        dropout: dropout rate before the head, in [0, 1).
        **kwargs: `keras.Model` arguments (`name`, `trainable`).

    Returns:
        A model `(batch, input_len, num_leads)` float32 mV -> `(batch, num_classes)` logits.

    Example:
    >>> from keras_ecgpe.models.resnet1d import ResNet1D
    >>> model = ECGClassifier(ResNet1D(input_len=256, width=8), num_classes=5)
    >>> model.output_shape
    (None, 5)
    """

    def __init__(
        self, backbone: keras.Model, num_classes: int, dropout: float = 0.0, **kwargs: Any
    ):
        if not isinstance(backbone, keras.Model) or len(backbone.output_shape) != 2:
            raise ConfigError(
                "`backbone` must be a keras.Model producing (batch, features). "
                f"Received: backbone={backbone!r}"
            )
        checks.positive_int("num_classes", num_classes)
        checks.fraction("dropout", dropout)
        inputs = keras.Input(shape=backbone.input_shape[1:], name="ecg")
        features = backbone(inputs)
        if dropout:
            features = keras.layers.Dropout(dropout, name="head_dropout")(features)
        # float32 logits even under a mixed-precision policy.
        logits = keras.layers.Dense(num_classes, dtype="float32", name="head")(features)
        kwargs.setdefault("name", "ecg_classifier")
        trainable = kwargs.pop("trainable", True)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        if not trainable:  # the setter freezes every layer; True keeps a frozen backbone
            self.trainable = False
        self.backbone = backbone
        self.num_classes = num_classes
        self.dropout = dropout

    def with_new_head(self, num_classes: int, dropout: float | None = None) -> ECGClassifier:
        """Returns a classifier with a copy of this backbone (same weights) and a fresh head.

        The copy is independent: training the new model leaves this one unchanged.
        """
        backbone = self.backbone.__class__.from_config(self.backbone.get_config())
        backbone.set_weights(self.backbone.get_weights())
        return ECGClassifier(backbone, num_classes, self.dropout if dropout is None else dropout)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ECGClassifier:
        config = dict(config)
        if isinstance(config.get("backbone"), dict):
            config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
