"""How numbers and intervals read in every text report and progress line.

One spelling everywhere: three decimals, an undefined value as "n/a" (with its reason when
one is known, never 0), and an interval as "value (low to high)" - "to" rather than a dash,
which would read as a minus sign beside negative differences.
"""

from __future__ import annotations


def format_number(value: float | None, *, signed: bool = False, reason: str | None = None) -> str:
    """A number to three decimals for text reports; None reads "n/a".

    Args:
        value: the number, or None where it is undefined.
        signed: always show the sign (differences: "+0.012").
        reason: why the value is undefined, shown as "n/a (reason)".

    Returns:
        The text.

    Example:
    >>> format_number(0.81234), format_number(0.0123, signed=True), format_number(None)
    ('0.812', '+0.012', 'n/a')
    """
    if value is None:
        return "n/a" if reason is None else f"n/a ({reason})"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def format_interval(entry: dict | None, *, signed: bool = False, label: str = "") -> str:
    """`{"value", "ci_low", "ci_high"}` as "value (low to high)"; the value alone without
    bounds, so a missing interval is never implied.

    Args:
        entry: the estimate and its bounds (None or missing keys: undefined).
        signed: always show signs (differences).
        label: named inside the brackets, e.g. "95 % CI" gives "0.800 (95 % CI 0.700 to
            0.900)".

    Example:
    >>> format_interval({"value": 0.8, "ci_low": 0.7, "ci_high": 0.9})
    '0.800 (0.700 to 0.900)'
    >>> format_interval({"value": 0.8, "ci_low": None, "ci_high": None}, label="95 % CI")
    '0.800'
    """
    entry = entry or {}
    text = format_number(entry.get("value"), signed=signed)
    if entry.get("ci_low") is None or entry.get("ci_high") is None:
        return text
    return (
        f"{text} ({label + ' ' if label else ''}"
        f"{format_number(entry['ci_low'], signed=signed)} to "
        f"{format_number(entry['ci_high'], signed=signed)})"
    )
