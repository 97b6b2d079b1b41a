"""Sections 6 and 7: discrimination (AUROC) and the operating points (2x2 and accuracy
tables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.evaluation.study_report.cells import (
    NOT_BOOTSTRAPPED,
    estimate_cell,
    interval_cell,
    level_label,
)
from keras_ecgpe.formatting import format_number
from keras_ecgpe.reporting import Cell, Column, Interval, Paragraph, Section, Table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def discrimination_section(metrics: Mapping[str, Any]) -> Section:
    level = level_label(metrics)
    rows = []
    for name, entry in metrics["study"].items():
        d = entry["discrimination"]
        rows.append(
            [
                name,
                entry["n"],
                entry["n_positive"],
                entry["n_negative"],
                estimate_cell(d["auroc"]),
                interval_cell(d["auroc"]),
                interval_cell(d["auroc_bootstrap"]),
                estimate_cell(d["average_precision"]),
            ]
        )
    return Section("Discrimination", "discrimination").add(
        Table(
            "Discrimination on the evaluated split",
            [
                Column("Class", "text"),
                "Records",
                "Positives",
                "Negatives",
                "AUROC",
                f"{level} CI (DeLong)",
                f"{level} CI (patient bootstrap)",
                "Average precision",
            ],
            rows,
            notes=[
                "DeLong interval on the logit scale of the AUC, back-transformed; percentile "
                "patient bootstrap beside it (methods below).",
            ],
        )
    )


def _point_title(point) -> str:
    if point["kind"] == "primary":
        target = "" if point.get("target") is None else f" {point['target']:g}"
        return f"primary ({point['method']}{target}, data-driven on validation)"
    return f"{point['name']} ({point['method']} >= {point['target']:g} on validation, prespecified)"


def two_by_two_table(point: dict, label: str) -> Table:
    """The cross tabulation of test result by reference standard at one operating point."""
    t = point["table"]
    prevalence = "n/a" if t["prevalence"] is None else f"{100 * t['prevalence']:.1f} %"
    return Table(
        f"2x2 table, {label}, {_point_title(point)}: logit cut {format_number(point['cut'])}",
        [Column("", "text"), "Reference positive", "Reference negative", "Total"],
        [
            ["Test positive", t["tp"], t["fp"], t["tp"] + t["fp"]],
            ["Test negative", t["fn"], t["tn"], t["fn"] + t["tn"]],
            ["Total", t["n_positive"], t["n_negative"], t["n"]],
        ],
        notes=[f"Prevalence in the evaluated records: {prevalence}."],
    )


def accuracy_table(point: dict, label: str, *, interval_name: str, level: str) -> Table:
    """Sensitivity, specificity, PPV, NPV with the exact (or Wilson) interval, the patient
    bootstrap beside it, the value reached on validation, and PPV/NPV at a stated
    prevalence."""
    boot = point.get("bootstrap") or {}
    validation = point.get("validation") or {}
    missing_boot = NOT_BOOTSTRAPPED if not boot else "not bootstrapped"

    def reached(key):
        value = validation.get(key)
        return Cell(None, reason="not available") if value is None else value

    not_for = Cell(None, reason="cuts target sensitivity or specificity only")
    t = point["table"]
    cohort = "n/a" if t["prevalence"] is None else f"{100 * t['prevalence']:.1f} %"
    rows = [
        [
            "Sensitivity",
            estimate_cell(point["sensitivity"]),
            interval_cell(point["sensitivity"]),
            interval_cell(boot.get("sensitivity"), missing_boot),
            reached("sensitivity"),
        ],
        [
            "Specificity",
            estimate_cell(point["specificity"]),
            interval_cell(point["specificity"]),
            interval_cell(boot.get("specificity"), missing_boot),
            reached("specificity"),
        ],
        [
            f"PPV (cohort, {cohort})",
            estimate_cell(point["ppv"]),
            interval_cell(point["ppv"]),
            Interval(None, None, reason="not bootstrapped"),
            not_for,
        ],
        [
            f"NPV (cohort, {cohort})",
            estimate_cell(point["npv"]),
            interval_cell(point["npv"]),
            Interval(None, None, reason="not bootstrapped"),
            not_for,
        ],
    ]
    notes = [
        f"{interval_name} for sensitivity, specificity and the cohort's PPV/NPV "
        "(records as independent); percentile patient bootstrap beside them."
    ]
    stated = point.get("at_prevalence")
    if stated:
        for key in ("ppv", "npv"):
            rows.append(
                [
                    f"{key.upper()} (stated, {100 * stated['prevalence']:g} %)",
                    estimate_cell(stated[key]),
                    interval_cell(stated[key]),
                    Interval(None, None, reason="not bootstrapped"),
                    not_for,
                ]
            )
        notes.append(
            "PPV/NPV at the stated prevalence: Bayes from sensitivity and specificity; "
            f"estimate and interval: {stated['ppv']['method']}."
        )
        notes += [
            f"{key.upper()} at the stated prevalence without the adjustment: "
            f"{format_number(stated[key]['unadjusted_value'])}."
            for key in ("ppv", "npv")
            if stated[key].get("unadjusted_value") is not None
        ]
    notes += [f"Small sample: {w}." for w in point.get("warnings", [])]
    notes += [f"Unreliable: {w}." for w in point.get("bootstrap_warnings", [])] if boot else []
    return Table(
        f"Accuracy, {label}, {_point_title(point)}",
        [
            Column("Measure", "text"),
            "Estimate",
            f"{level} CI ({interval_name.split(' ')[0]})",
            f"{level} CI (patient bootstrap)",
            "Reached on validation",
        ],
        rows,
        notes=notes,
    )


def points_section(metrics: Mapping[str, Any]) -> Section:
    settings = metrics["settings"]
    section = Section("Operating points", "operating-points")
    section.add(
        Paragraph(
            "Each cut was locked on validation data before the evaluated split was scored; "
            "the values below are what it achieved on the evaluated split."
        )
    )
    summary = []
    for name, entry in metrics["study"].items():
        for point in entry["operating_points"]:
            if point.get("cut") is None:
                summary.append(
                    [name, point["name"], Cell(None, reason=point["reason"])]
                    + [Cell(None, reason=point["reason"])] * 4
                )
                continue
            summary.append(
                [
                    name,
                    point["name"],
                    point["cut"],
                    estimate_cell(point["sensitivity"]),
                    interval_cell(point["sensitivity"]),
                    estimate_cell(point["specificity"]),
                    interval_cell(point["specificity"]),
                ]
            )
    section.add(
        Table(
            "Operating points at a glance",
            [
                Column("Class", "text"),
                Column("Point", "text"),
                "Logit cut",
                "Sensitivity",
                f"{level_label(metrics)} CI",
                "Specificity",
                f"{level_label(metrics)} CI",
            ],
            summary,
            notes=[f"Intervals: {settings['interval_name']}."],
        )
    )
    for name, entry in metrics["study"].items():
        for point in entry["operating_points"]:
            if point.get("cut") is None:
                section.add(Paragraph(f"{name}, {point['name']}: {point['reason']}."))
                continue
            section.add(
                two_by_two_table(point, name),
                accuracy_table(
                    point,
                    name,
                    interval_name=settings["interval_name"],
                    level=level_label(metrics),
                ),
            )
    return section
