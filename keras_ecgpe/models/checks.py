"""Argument checks shared by the model builders.

Every check raises `ConfigError` naming the argument and echoing the value, so a typo in a
configuration file is reported before any layer is built.
"""

from __future__ import annotations

from collections.abc import Iterable

from keras_ecgpe.errors import ConfigError


def positive_int(name: str, value: object, allow_zero: bool = False) -> int:
    """Returns `value` if it is a positive int (or zero when allowed), else raises."""
    lowest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ConfigError(f"`{name}` must be {kind} integer. Received: {name}={value!r}")
    return value


def fraction(name: str, value: object) -> float:
    """Returns `value` if it lies in [0, 1), else raises."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
    return float(value)


def choice(name: str, value: object, allowed: Iterable) -> str:
    """Returns `value` if it is one of `allowed`, else raises listing the valid values."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(
            f"`{name}` must be one of {', '.join(map(str, allowed))}. Received: {name}={value!r}"
        )
    return value


def int_sequence(name: str, value: object) -> tuple:
    """Returns `value` as a tuple of positive ints (a non-empty list or tuple), else raises."""
    if (
        not isinstance(value, (list, tuple))
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)
    ):
        raise ConfigError(
            f"`{name}` must be a non-empty list of positive integers. Received: {name}={value!r}"
        )
    return tuple(value)


def signal_shape(input_len: int, num_leads: int) -> None:
    """Checks the window length (samples) and lead count shared by every backbone."""
    positive_int("input_len", input_len)
    positive_int("num_leads", num_leads)
    if num_leads > 12:
        raise ConfigError(f"`num_leads` must be at most 12. Received: num_leads={num_leads!r}")
