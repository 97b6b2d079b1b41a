"""Friendly names for every architecture of the zoo, each a full-size configuration.

`build_model("resnet1d18", input_len=2048, num_classes=1)` returns an `ECGClassifier`;
keyword overrides (`width=8`, `num_heads=4`, ...) change the backbone's arguments, and
`dropout` the dropout before the head. Names are lowercase; an unknown name lists the
valid ones.
"""

from __future__ import annotations

import inspect

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.models.alexnet1d import AlexNet1D
from keras_ecgpe.models.attention_resnet1d import AttentionResNet1D
from keras_ecgpe.models.classifier import ECGClassifier
from keras_ecgpe.models.crnn1d import CRNN1D
from keras_ecgpe.models.inception1d import Inception1D
from keras_ecgpe.models.resnet1d import ResNet1D
from keras_ecgpe.models.resnet_transformer1d import ResNetTransformer1D
from keras_ecgpe.models.rnn1d import RNN1D
from keras_ecgpe.models.transformer1d import Transformer1D
from keras_ecgpe.models.vgg1d import VGG1D
from keras_ecgpe.models.xresnet1d import XResNet1D


def _entries() -> dict[str, tuple[type, dict]]:
    entries: dict[str, tuple[type, dict]] = {"alexnet1d": (AlexNet1D, {})}
    for depth in (11, 13, 16, 19):
        entries[f"vgg{depth}"] = (VGG1D, {"depth": depth, "batch_norm": False})
        entries[f"vgg{depth}_bn"] = (VGG1D, {"depth": depth, "batch_norm": True})
    for depth in (18, 34, 50, 101, 152):
        entries[f"resnet1d{depth}"] = (ResNet1D, {"depth": depth})
    for depth in (18, 34, 50):
        entries[f"attresnet{depth}"] = (AttentionResNet1D, {"depth": depth})
    entries["attresnet18_flatten"] = (AttentionResNet1D, {"depth": 18, "reduction": "flatten"})
    for prefix, family in (("", RNN1D), ("crnn_", CRNN1D)):
        for rnn_type in ("lstm", "gru"):
            entries[f"{prefix}{rnn_type}"] = (family, {"rnn_type": rnn_type})
            entries[f"{prefix}bi{rnn_type}"] = (
                family,
                {"rnn_type": rnn_type, "bidirectional": True},
            )
    entries["transformer"] = (Transformer1D, {"embedding": "conv"})
    entries["transformer_patch"] = (Transformer1D, {"embedding": "patch"})
    entries["resnet_transformer"] = (ResNetTransformer1D, {})
    for depth in (18, 34, 50, 101):
        entries[f"xresnet1d{depth}"] = (XResNet1D, {"depth": depth})
    entries["inception1d"] = (Inception1D, {})
    return entries


MODELS: dict[str, tuple[type, dict]] = _entries()


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
    **overrides,
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
        raise ConfigError(
            f"Unknown model name. Valid names: {', '.join(MODELS)}. Received: name={name!r}"
        )
    return MODELS[name]
