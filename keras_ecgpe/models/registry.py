"""Friendly names for every architecture of the zoo, each a full-size configuration.

`build_model("resnet1d18", input_len=2048, num_classes=1)` returns an `ECGClassifier`;
keyword overrides (`width=8`, `num_heads=4`, ...) change the backbone's arguments, and
`dropout` the dropout before the head. Names are lowercase; an unknown name lists the
valid ones. Each family declares its own names (`VARIANTS` on its backbone class); this
module only lists the families (`FAMILIES`).
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models.backbone import ECGBackbone
from keras_ecgpe.models.classifier import ECGClassifier

if TYPE_CHECKING:
    from typing import Any

# Every family, as "module:Class" under keras_ecgpe.models, in `models list` order. The
# class declares its registry names and their arguments in `VARIANTS` (models/backbone.py).
FAMILIES = (
    "alexnet1d:AlexNet1D",
    "vgg1d:VGG1D",
    "resnet1d:ResNet1D",
    "attention_resnet1d:AttentionResNet1D",
    "rnn1d:RNN1D",
    "crnn1d:CRNN1D",
    "transformer1d:Transformer1D",
    "resnet_transformer1d:ResNetTransformer1D",
    "xresnet1d:XResNet1D",
    "inception1d:Inception1D",
    "dscnn1d:DSCNN1D",
)


def _family_classes() -> tuple[type[ECGBackbone], ...]:
    classes = []
    for entry in FAMILIES:
        module, _, name = entry.partition(":")
        classes.append(getattr(importlib.import_module(f"keras_ecgpe.models.{module}"), name))
    return tuple(classes)


def _entries(families) -> dict[str, tuple[type, dict]]:
    entries: dict[str, tuple[type, dict]] = {}
    for family in families:
        if not family.VARIANTS:
            raise ConfigError(f"{family.__name__} declares no registry names in VARIANTS")
        for name, arguments in family.VARIANTS.items():
            if name in entries:
                raise ConfigError(
                    f"Model name {name!r} is declared by both {entries[name][0].__name__} "
                    f"and {family.__name__}"
                )
            entries[name] = (family, arguments)
    return entries


_FAMILY_CLASSES = _family_classes()
MODELS: dict[str, tuple[type, dict]] = _entries(_FAMILY_CLASSES)


def list_families() -> list[type[ECGBackbone]]:
    """Returns the backbone classes of the zoo, in registry order.

    Example:
    >>> [family.__name__ for family in list_families()][:3]
    ['AlexNet1D', 'VGG1D', 'ResNet1D']
    """
    return list(_FAMILY_CLASSES)


def list_models() -> list[str]:
    """Returns the registered model names, in registry order (families grouped)."""
    return list(MODELS)


def model_family(name: str) -> type:
    """Returns the backbone class a registered name builds."""
    return _lookup(name)[0]


def build_model(
    name: str,
    *,
    input_len: int,
    num_leads: int = 12,
    num_classes: int,
    dropout: float = 0.0,
    **overrides: Any,
) -> ECGClassifier:
    """Builds a registered architecture as an `ECGClassifier` producing logits.

    Args:
        name: a name from `list_models()` (e.g. "resnet1d18", "attresnet18", "crnn_gru",
            "vgg16_bn", "inception1d").
        input_len: window length in samples.
        num_leads: number of leads (12 by default; fewer allowed).
        num_classes: number of logits.
        dropout: dropout before the head.
        **overrides: backbone arguments replacing the registry's (e.g. `width=8`).

    Returns:
        An `ECGClassifier` whose `backbone` is the named family's backbone.

    Raises:
        ConfigError: unknown name, unknown override or invalid value.

    Example:
    >>> build_model("resnet1d18", input_len=256, num_classes=1, width=8).output_shape
    (None, 1)
    """
    family, defaults = _lookup(name)
    accepted = set(inspect.signature(family.__init__).parameters) - {
        "self",
        "kwargs",
        "input_len",
        "num_leads",
    }
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise ConfigError(
            f"Unknown override(s) {', '.join(unknown)} for model {name!r}; "
            f"{family.__name__} accepts: {', '.join(sorted(accepted))}. "
            f"Received: overrides={overrides!r}"
        )
    backbone = family(input_len=input_len, num_leads=num_leads, **{**defaults, **overrides})
    return ECGClassifier(backbone, num_classes, dropout, name=name)


def _lookup(name: str):
    if name not in MODELS:
        raise ConfigError(f"Unknown model name {name!r:.80}. Valid names: {', '.join(MODELS)}")
    return MODELS[name]
