"""Table cells and columns of a report, and how a cell reads as text.

A cell is a number, a string, None (undefined: read "n/a"), a `Cell` (a value with the
reason it is undefined) or an `Interval` (a confidence interval's two bounds). Every
renderer reads a cell through `cell_text`, so the text, HTML and JSON reports spell a
number the same way (`keras_ecgpe.formatting`: three decimals, signed differences).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.formatting import format_number

if TYPE_CHECKING:
    from collections.abc import Iterable

# How a column spells its numbers; "auto" reads ints as integers and floats to 3 decimals.
FORMATS = ("auto", "text", "integer", "number", "signed", "percent", "one_decimal")


@dataclass(frozen=True)
class Cell:
    """A cell value with the reason it is undefined.

    Use it where a value is None for a known reason ("no record called positive"); the
    renderers show "n/a" with the reason as a footnote, never 0.

    Args:
        value: the number or text, or None.
        reason: why `value` is None; required when it is, refused otherwise.

    Example:
    >>> Cell(None, reason="no record called positive")
    Cell(value=None, reason='no record called positive')
    """

    value: int | float | str | None
    reason: str | None = None

    def __post_init__(self):
        _check_scalar(self.value, "Cell.value")
        if self.value is None and not self.reason:
            raise ConfigError(
                "`Cell.reason` must say why the value is undefined. "
                "Received: reason=None for value None"
            )
        if self.value is not None and self.reason is not None:
            raise ConfigError(
                f"`Cell.reason` is only for an undefined value. Received: "
                f"value={self.value!r}, reason={self.reason!r}"
            )


@dataclass(frozen=True)
class Interval:
    """The two bounds of an interval, read "low to high" (the estimate sits in its own column).

    Args:
        low: lower bound, or None where the interval is undefined.
        high: upper bound, or None.
        reason: why the interval is undefined (shown as a footnote); needs both bounds None.

    Example:
    >>> Interval(0.641, 0.894)
    Interval(low=0.641, high=0.894, reason=None)
    """

    low: int | float | None
    high: int | float | None
    reason: str | None = None

    def __post_init__(self):
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, str) or isinstance(value, bool):
                raise ConfigError(
                    f"`Interval.{name}` must be a number or None. Received: {value!r}"
                )
            _check_scalar(value, f"Interval.{name}")
        if (self.low is None) != (self.high is None):
            raise ConfigError(
                f"`Interval` needs both bounds or neither. Received: "
                f"low={self.low!r}, high={self.high!r}"
            )
        if self.low is not None and self.low > self.high:
            raise ConfigError(
                f"`Interval.low` must not exceed `high`. Received: "
                f"low={self.low!r}, high={self.high!r}"
            )
        if self.reason is not None and self.low is not None:
            raise ConfigError(
                f"`Interval.reason` is only for an undefined interval. Received: {self!r}"
            )

    @property
    def undefined_reason(self) -> str | None:
        return self.reason if self.low is None else None


def value_or_na(value: float | str | None, reason: str) -> float | str | Cell:
    """`value`, or an n/a `Cell` saying `reason` when it is None.

    Example:
    >>> value_or_na(0.81, "no positives"), value_or_na(None, "no positives")
    (0.81, Cell(value=None, reason='no positives'))
    """
    return Cell(None, reason=reason) if value is None else value


def interval_or_na(low: float | None, high: float | None, reason: str) -> Interval:
    """`Interval(low, high)`, or an n/a interval saying `reason` when a bound is None.

    Example:
    >>> interval_or_na(0.6, 0.9, "no bootstrap")
    Interval(low=0.6, high=0.9, reason=None)
    >>> interval_or_na(None, 0.9, "no bootstrap").reason
    'no bootstrap'
    """
    if low is None or high is None:
        return Interval(None, None, reason=reason)
    return Interval(low, high)


@dataclass(frozen=True)
class Column:
    """A table column: its label and how its numbers read.

    Args:
        label: the header text.
        format: one of `FORMATS`: "auto" (int as integer, float to 3 decimals), "text",
            "integer", "number" (3 decimals), "signed" (3 decimals with sign, for
            differences), "percent" (a fraction shown as a percentage to one decimal) or
            "one_decimal" (quantities such as ages in years).

    Example:
    >>> Column("Difference", format="signed")
    Column(label='Difference', format='signed')
    """

    label: str
    format: str = "auto"

    def __post_init__(self):
        if not isinstance(self.label, str):
            raise ConfigError(f"`Column.label` must be a string. Received: {self.label!r}")
        if self.format not in FORMATS:
            raise ConfigError(
                f"`Column.format` must be one of {FORMATS}. Received: {self.format!r}"
            )


def _check_scalar(value, where: str) -> None:
    if value is not None and not isinstance(value, (int, float, str)):
        raise ConfigError(
            f"`{where}` must be a number, a string or None. "
            f"Received: {type(value).__name__} {value!r}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        # An undefined number is None with a reason; NaN would print as "nan".
        raise ConfigError(
            f"`{where}` must be finite; write None with a reason for an "
            f"undefined value. Received: {value!r}"
        )


def check_cell(value: object, where: str) -> None:
    """Raises `ConfigError` naming `where` unless `value` is a valid cell."""
    if isinstance(value, (Cell, Interval)):
        return
    _check_scalar(value, where)


def cell_reason(value: object) -> str | None:
    """Why a cell is undefined, or None where it is defined or no reason is known."""
    if isinstance(value, Cell):
        return value.reason
    if isinstance(value, Interval):
        return value.undefined_reason
    return None


def is_numeric(value: object) -> bool:
    """Whether a cell holds a number or an interval (False for text and n/a)."""
    if isinstance(value, Cell):
        value = value.value
    if isinstance(value, Interval):
        return value.low is not None
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_column(column: Column, cells: Iterable[object]) -> bool:
    """Whether a column reads as numbers (right-aligned, never wrapped).

    An "auto" column is numeric when every cell that is not n/a holds a number or an
    interval; "text" never is; the other formats always are.
    """
    if column.format != "auto":
        return column.format != "text"
    defined = [value for value in cells if cell_text(value) != "n/a"]
    return bool(defined) and all(is_numeric(value) for value in defined)


def cell_text(value: object, column_format: str = "auto") -> str:
    """A cell as text: numbers in the column's format, None as "n/a" (reason not included).

    Args:
        value: the cell (see the module docstring).
        column_format: one of `FORMATS`.

    Returns:
        The text.

    Example:
    >>> cell_text(0.81234), cell_text(-0.02, "signed"), cell_text(None), cell_text(12)
    ('0.812', '-0.020', 'n/a', '12')
    >>> cell_text(Interval(0.641, 0.894))
    '0.641 to 0.894'
    """
    if isinstance(value, Cell):
        value = value.value
    if isinstance(value, Interval):
        if value.low is None:
            return "n/a"
        if column_format == "one_decimal":
            return f"{value.low:.1f} to {value.high:.1f}"
        signed = column_format == "signed"
        return (
            f"{format_number(value.low, signed=signed)} to "
            f"{format_number(value.high, signed=signed)}"
        )
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if column_format == "integer" or (column_format in ("auto", "text") and isinstance(value, int)):
        return str(int(value)) if float(value).is_integer() else format_number(value)
    if column_format == "percent":
        return f"{100 * value:.1f} %"
    if column_format == "one_decimal":
        return f"{value:.1f}"
    return format_number(value, signed=column_format == "signed")


def reason_marks(cells: Iterable[object]) -> dict[str, str]:
    """Footnote marks "a", "b", ... for the distinct n/a reasons among `cells`, in order.

    Example:
    >>> reason_marks([Cell(None, "no positives"), 1, Cell(None, "no negatives"),
    ...               Cell(None, "no positives")])
    {'no positives': 'a', 'no negatives': 'b'}
    """
    marks: dict[str, str] = {}
    for value in cells:
        reason = cell_reason(value)
        if reason is not None and reason not in marks:
            marks[reason] = _mark(len(marks))
    return marks


def _mark(index: int) -> str:
    """0 -> "a", 25 -> "z", 26 -> "aa": footnote letters that never run out."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters
