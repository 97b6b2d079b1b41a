"""A table of the registered models: family, parameters and MACs per window."""

from __future__ import annotations

from collections.abc import Iterable

from keras_ecgpe.models.complexity import model_complexity
from keras_ecgpe.models.registry import build_model, list_models, model_family


def describe_models(
    input_len: int = 2048,
    num_leads: int = 12,
    num_classes: int = 1,
    names: Iterable[str] | None = None,
) -> list[dict]:
    """Builds each registered model (full size) and reports its size and cost.

    Args:
        input_len: window length in samples.
        num_leads: number of leads.
        num_classes: logits of the head (1: binary PE).
        names: models to describe; all registered ones by default.

    Returns:
        One dict per model: `name`, `family`, `parameters`, `macs` (per window), `features`
        (backbone output width), `input_len`, `num_leads`, `num_classes`.

    Raises:
        ConfigError: an unknown name, or a window too short for a model.

    Example:
    >>> describe_models(256, names=["resnet1d18"])[0]["parameters"]
    3858945
    """
    rows = []
    for name in list_models() if names is None else list(names):
        model = build_model(name, input_len=input_len, num_leads=num_leads, num_classes=num_classes)
        cost = model_complexity(model)
        rows.append(
            {
                "name": name,
                "family": model_family(name).__name__,
                "parameters": cost.parameters,
                "macs": cost.macs,
                "features": model.backbone.output_shape[-1],
                "input_len": input_len,
                "num_leads": num_leads,
                "num_classes": num_classes,
            }
        )
    return rows
