"""Strict construction of the package's frozen config dataclasses from plain dicts."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from keras_ecgpe.errors import ConfigError

_Config = TypeVar("_Config")


def from_strict_dict(cls: type[_Config], data: object, what: str) -> _Config:
    """Builds dataclass `cls` from `data`; unknown keys are errors, missing ones default.

    Args:
        cls: a dataclass type.
        data: a mapping of field name -> value (e.g. read from JSON or YAML).
        what: how the config is called in messages ("preprocessing", "augmentation").

    Raises:
        ConfigError: `data` is not a mapping or holds keys that are not fields of `cls`.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{what} config must be a mapping. Received: {data!r}")
    valid = [field.name for field in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"unknown {what} option(s) {unknown}; valid keys: {valid}")
    return cls(**data)
