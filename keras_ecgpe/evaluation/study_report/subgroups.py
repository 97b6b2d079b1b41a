"""Section 10: the plan's subgroups at the primary operating point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.evaluation.study_report.cells import estimate_cell, interval_cell, level_label
from keras_ecgpe.reporting import Column, Paragraph, Section, Table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def subgroups_section(metrics: Mapping[str, Any]) -> Section:
    level = level_label(metrics)
    minimum = metrics["settings"]["plan"]["small_sample_min"]
    section = Section("Subgroups", "subgroups")
    for name, entry in metrics["study"].items():
        for note in entry["subgroup_notes"]:
            section.add(Paragraph(f"{name}, {note}."))
        if not entry["subgroups"]:
            continue
        rows = []
        for g in entry["subgroups"]:
            rows.append(
                [
                    f"{g['kind']}: {g['group']}",
                    g["n"],
                    g["n_positive"],
                    g["n_negative"],
                    estimate_cell(g["auroc"]),
                    interval_cell(g["auroc"]),
                    estimate_cell(g["sensitivity"]),
                    interval_cell(g["sensitivity"]),
                    estimate_cell(g["specificity"]),
                    interval_cell(g["specificity"]),
                    "small" if g["small"] else "",
                ]
            )
        section.add(
            Table(
                f"Subgroups, {name} (primary operating point)",
                [
                    Column("Subgroup", "text"),
                    "Records",
                    "Positives",
                    "Negatives",
                    "AUROC",
                    f"{level} CI (DeLong)",
                    "Sensitivity",
                    f"{level} CI",
                    "Specificity",
                    f"{level} CI",
                    Column("Flag", "text"),
                ],
                rows,
                notes=[
                    f"Sensitivity and specificity: {metrics['settings']['interval_name']}. "
                    "Small subgroups are shown and flagged, not hidden: "
                    f"fewer than {minimum} positives or negatives "
                    "(each is named under Warnings)."
                ],
            )
        )
    if not section.blocks:
        section.add(Paragraph("The analysis plan asks for no subgroups."))
    return section
