"""Typed, strict checks of one configuration value, shared by the run-config sections.

Every check names the option as `section.key` and echoes the value it refused. YAML reads
`1e-4` (no dot) as a string (YAML 1.1), so a float option also accepts a string that
Python's `float()` parses; nothing else is coerced.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

_FLOAT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _fail(where: str, what: str, value) -> ConfigError:
    return ConfigError(f"`{where}` must be {what}. Received: {where}={value!r}")


def check_value(
    where: str,
    value: object,
    kind: str,
    *,
    choices: Sequence | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    optional: bool = False,
) -> Any:
    """Checks (and lightly coerces) one option value.

    Args:
        where: the option's name, `section.key`, for the message.
        value: the value read from a file, an override or a caller.
        kind: "str", "int", "float", "bool", "dict" or "any" (checked by the section).
        choices: the allowed values, if restricted.
        low, high: inclusive bounds of numbers (`low_open` makes `low` exclusive).
        optional: None is allowed.

    Returns:
        The value, ints widened to float for "float" options and dicts copied.

    Raises:
        ConfigError: naming `where` and echoing `value`.
    """
    if value is None:
        if optional:
            return None
        raise _fail(where, f"a {kind}, not null", value)
    if kind == "any":
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _fail(where, "true or false", value)
        return value
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise _fail(where, "a non-empty string", value)
    elif kind == "dict":
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise _fail(where, "a mapping with string keys", value)
        return dict(value)
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, "an integer", value)
    elif kind == "float":
        if isinstance(value, str) and _FLOAT_TEXT.match(value.strip()):
            value = float(value)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise _fail(where, "a finite number", value)
        value = float(value)
    else:  # a programming error in a section's specification
        raise ValueError(f"unknown option kind {kind!r} for {where}")
    if choices is not None and value not in choices:
        raise _fail(where, f"one of {', '.join(map(str, choices))}", value)
    if low is not None and (value < low or (low_open and value == low)):
        raise _fail(where, f"{'>' if low_open else '>='} {low}", value)
    if high is not None and value > high:
        raise _fail(where, f"<= {high}", value)
    return value


def option(
    default: object = None, *, factory: Callable[[], object] | None = None, **spec: object
) -> Any:
    """A section field with its check beside it: `window_s: float = option(2.5, kind=...)`.

    Args:
        default: the default value (immutable); or
        factory: a callable making the default (`dict` for mapping options).
        **spec: the keyword arguments of `check_value` (`kind`, `choices`, `low`, ...).

    Returns:
        A `dataclasses.field` carrying `spec` in its metadata.

    Raises:
        ValueError: a numeric option without both bounds (a programming error): every
            number a user can set is bounded, so `1e20` is refused before it is used.
    """
    if spec.get("kind") in ("int", "float") and (
        spec.get("low") is None or spec.get("high") is None
    ):
        raise ValueError(f"a numeric option needs `low` and `high` bounds. Received: {spec}")
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"spec": spec})
    return dataclasses.field(default=default, metadata={"spec": spec})


class Section:
    """Mixin of the frozen section dataclasses: checks every field against its spec.

    Subclasses set `NAME` (the section's key in the file) and declare each field with
    `option(default, **check_value keywords)`; `__post_init__` replaces each field by its
    checked value, then calls `validate()` for checks across fields.
    """

    NAME = ""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            spec = field.metadata["spec"]
            checked = check_value(f"{self.NAME}.{field.name}", getattr(self, field.name), **spec)
            object.__setattr__(self, field.name, checked)
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; override where needed."""

    @classmethod
    def keys(cls) -> list:
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: object) -> Section:
        """Builds the section; unknown keys are a ConfigError listing the valid ones."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"section `{cls.NAME}` must be a mapping. Received: {cls.NAME}={data!r}"
            )
        unknown = sorted(set(map(str, data)) - set(cls.keys()))
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join(f'{cls.NAME}.{k}' for k in unknown)}"
                f"; valid keys of `{cls.NAME}`: {', '.join(cls.keys())}"
            )
        return cls(**data)

    def to_dict(self) -> dict:
        return {
            name: (
                dict(value)
                if isinstance(value, dict)
                else list(value)
                if isinstance(value, tuple)
                else value
            )
            for name, value in ((f, getattr(self, f)) for f in self.keys())
        }
