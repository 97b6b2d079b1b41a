"""Cells, intervals and figures shared by the study report's sections.

An estimate in `metrics.json` is a dict `{"value", "ci_low", "ci_high", "undefined"}`;
these turn it into report cells (n/a with its reason, never 0) or a line of text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.formatting import format_interval, format_number
from keras_ecgpe.reporting import Figure, Interval, interval_or_na, value_or_na

if TYPE_CHECKING:
    from keras_ecgpe.reporting.cells import Cell

NOT_BOOTSTRAPPED = "not bootstrapped (0 resamples)"


def estimate_cell(entry: dict | None, missing: str = "not computed") -> float | Cell:
    """An estimate as a cell: the number, or n/a with its reason (`missing` if none given).

    Example:
    >>> estimate_cell({"value": 0.8}), estimate_cell({"value": None, "undefined": "no positives"})
    (0.8, Cell(value=None, reason='no positives'))
    """
    entry = entry or {}
    return value_or_na(entry.get("value"), entry.get("undefined") or missing)


def interval_cell(entry: dict | None, missing: str = "not computed") -> Interval:
    """The `ci_low`/`ci_high` of an estimate as an `Interval` (undefined: with the reason).

    Example:
    >>> interval_cell({"value": 0.8, "ci_low": 0.7, "ci_high": 0.9})
    Interval(low=0.7, high=0.9, reason=None)
    """
    entry = entry or {}
    low, high = entry.get("ci_low"), entry.get("ci_high")
    if low is not None and high is not None:
        low, high = sorted((float(low), float(high)))
    return interval_or_na(low, high, entry.get("undefined") or missing)


def estimate_text(entry: dict | None, label: str = "") -> str:
    """An estimate as "value (low to high)", or "n/a (reason)" when undefined."""
    if not entry or entry.get("value") is None:
        return format_number(None, reason=(entry or {}).get("undefined") or "not computed")
    return format_interval(entry, label=label)


def level_label(metrics: dict) -> str:
    """The confidence level as a column label: "95 %"."""
    return f"{100 * metrics['settings']['level']:g} %"


def figure_block(metrics: dict, key: str, caption: str, alt: str) -> Figure | None:
    """The figure `metrics["files"][key]` as a block, or None where it was not drawn."""
    path = metrics.get("files", {}).get(key)
    if not path or not Path(path).is_file():
        return None
    return Figure(Path(path), caption=caption, alt=alt)
