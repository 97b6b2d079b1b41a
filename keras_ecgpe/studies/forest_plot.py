"""A forest-style plot of the per-arm mean per-fold AUROC differences with their intervals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from keras_ecgpe.data.atomic import atomic_open

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence


def plot_differences(
    rows: Sequence[tuple[str, float | None, float | None, float | None]],
    path: os.PathLike | str,
    *,
    reference: str,
    level: float = 0.95,
) -> Path:
    """Draws one line per arm: the mean per-fold difference and its corrected-t interval.

    Args:
        rows: `(arm, mean, ci_low, ci_high)`; an arm whose interval is undefined has None
            bounds and is drawn as its point only.
        path: the PNG to write.
        reference: the reference arm's name (the axis label says "minus <reference>").
        level: the intervals' confidence level, for the caption.

    Returns:
        `path`.
    """
    # A bare Figure (no pyplot): no global backend switch, nothing left open to close.
    fig = Figure(figsize=(6.0, 0.6 * len(rows) + 1.4))
    ax = fig.subplots()
    for y, (_arm, mean, low, high) in enumerate(rows):
        if low is not None and high is not None:
            ax.plot([low, high], [y, y], color="black", linewidth=1.5)
            ax.plot([low, low], [y - 0.12, y + 0.12], color="black", linewidth=1.0)
            ax.plot([high, high], [y - 0.12, y + 0.12], color="black", linewidth=1.0)
        if mean is not None:
            ax.plot([mean], [y], marker="s", color="black", markersize=7)
    ax.axvline(0.0, color="grey", linestyle="--", linewidth=1.0)
    ax.set_yticks(range(len(rows)), [row[0] for row in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"Per-fold AUROC difference, arm minus {reference}\n"
        f"(mean, {level:.0%} corrected resampled t interval)"
    )
    ax.grid(axis="x", color="0.9")
    path = Path(path)
    with atomic_open(path) as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    return path
