"""The error gallery's section: which records to look at, and where their plots are.

The plots themselves (`gallery/*.png`, drawn by `keras_ecgpe.explain.gallery`) are listed,
not embedded, so the report stays small; each row names its file relative to the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.reporting import Column, Paragraph, Section, Table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def _leads(shares: dict) -> str:
    top = sorted(shares.items(), key=lambda item: -item[1])[:3]
    return ", ".join(f"{lead} {100 * share:.0f} %" for lead, share in top)


def _segment(segments: list) -> str:
    if not segments:
        return "none (no attribution)"
    first = segments[0]
    return f"{first['start_s']:g}-{first['end_s']:g} s ({100 * first['share']:.0f} %)"


def gallery_section(metrics: Mapping[str, Any]) -> Section:
    """The error gallery: kind, record, logit, where the attribution lies, and the PNG.

    Only for an evaluation that drew one (`metrics["gallery"]`)."""
    section = Section("Error gallery", "error-gallery")
    gallery = metrics["gallery"]
    cap = gallery["per_kind"]
    section.add(
        Paragraph(
            f"For {gallery['label']}, at most {cap} false positives with the highest logits "
            f"(the most confident errors among negatives), {cap} false negatives with the "
            f"lowest logits and {max(1, cap // 2)} true positive(s) with the highest logits, "
            f"each drawn as the model saw it with its {gallery['method']} attribution "
            f"({gallery['steps']} steps; baseline: {gallery['baseline']}). Look at them "
            "before trusting the numbers above: an attribution outside the leads and "
            "segments of right-heart strain deserves a second look."
        )
    )
    items = gallery["items"]
    if not items:
        return section.add(Paragraph("No false positive, false negative or true positive."))
    rows = [
        [
            item["kind"],
            item["record_id"],
            item["logit"],
            _leads(item["lead_shares"]),
            _segment(item["top_segments"]),
            str(Path(gallery["folder"]).name + "/" + Path(item["plot"]).name),
        ]
        for item in items
    ]
    columns = [
        Column("Kind", "text"),
        Column("Record", "text"),
        Column("Logit", "signed"),
        Column("Largest lead shares", "text"),
        Column("Top 0.5 s segment", "text"),
        Column("Plot", "text"),
    ]
    return section.add(Table(f"Error gallery, {gallery['label']}", columns, rows))
