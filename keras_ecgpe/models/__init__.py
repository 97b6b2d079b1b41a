"""The model zoo: Keras 3 backbones, the classifier head, the registry and export builds.

Every model maps `(batch, time, leads)` float32 mV windows to `(batch, num_classes)`
logits; `model.backbone` gives the feature extractor alone. Importing this package imports
Keras (and TensorFlow); the package root does not.

Example:
>>> from keras_ecgpe.models import build_model, list_models
>>> model = build_model("resnet1d18", input_len=2048, num_classes=1)
"""

from keras_ecgpe.models.backbone import ECGBackbone
from keras_ecgpe.models.classifier import ECGClassifier
from keras_ecgpe.models.complexity import ModelComplexity, model_complexity
from keras_ecgpe.models.export_view import export_view
from keras_ecgpe.models.registry import build_model, list_families, list_models, model_family

__all__ = [
    "ECGBackbone",
    "ECGClassifier",
    "ModelComplexity",
    "build_model",
    "export_view",
    "list_families",
    "list_models",
    "model_complexity",
    "model_family",
]
