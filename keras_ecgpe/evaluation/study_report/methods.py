"""Sections 11 to 13: secondary figures, every warning in one place, and the methods."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.evaluation.study import SECONDARY_SPECIFICITY
from keras_ecgpe.evaluation.study_report.cells import estimate_cell, figure_block, level_label
from keras_ecgpe.reporting import Column, KeyValueList, Notice, Paragraph, Section, Table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def secondary_section(metrics: Mapping[str, Any]) -> Section:
    section = Section("Secondary figures", "secondary")
    rows = []
    for name, entry in metrics["study"].items():
        rows.append([name, estimate_cell(entry["secondary"]["sensitivity_at_specificity"])])
    section.add(
        Table(
            f"Secondary: sensitivity at {100 * SECONDARY_SPECIFICITY:g} % specificity",
            [Column("Class", "text"), "Sensitivity"],
            rows,
            notes=[
                "Read off the evaluated split's own ROC curve (the threshold is chosen on "
                "these data): optimistic, not an operating point."
            ],
        )
    )
    for key, caption, alt in (
        ("roc", "ROC curve (primary operating point marked)", "ROC curve per class"),
        ("pr", "Precision-recall curve", "Precision against recall per class"),
    ):
        figure = figure_block(metrics, key, caption, alt)
        if figure:
            section.add(figure)
    return section


def report_warnings(metrics: Mapping[str, Any]) -> list[str]:
    """Every warning of the evaluation, in one list (small samples, bootstrap, leakage)."""
    out = []
    if metrics["split"] == "validation":
        out.append(
            "the validation split chose the thresholds and the calibration: these figures "
            "are optimistic"
        )
    if metrics["leakage"].get("accepted"):
        out.append("leakage was accepted with --accept-leakage: " + metrics["leakage"]["summary"])
    for name, entry in metrics["study"].items():
        out += [f"{name}: {w}" for w in entry["warnings"]]
        for point in entry["operating_points"]:
            if point.get("cut") is None:
                out.append(f"{name}, {point['name']}: {point['reason']}")
        out += [
            f"{name}, subgroup {g['kind']} {g['group']}: {w}"
            for g in entry["subgroups"]
            if g["small"]
            for w in g["warnings"]
        ]
        d = entry["discrimination"]["auroc"]
        if d.get("warning"):
            out.append(f"{name}: {d['warning']}")
    return out


def warnings_section(metrics: Mapping[str, Any]) -> Section:
    section = Section("Warnings", "warnings")
    warnings = report_warnings(metrics)
    if not warnings:
        return section.add(Paragraph("None."))
    return section.add(*[Notice(w, level="warning") for w in warnings])


def methods_section(metrics: Mapping[str, Any]) -> Section:
    settings = metrics["settings"]
    first = next(iter(metrics["study"].values()))
    boot = first["bootstrap"]
    level = level_label(metrics)
    items = [
        ("Decision rule", "positive when the raw logit >= the logit cut (cuts stored as logits)"),
        (
            "Sensitivity, specificity, PPV, NPV",
            f"{settings['interval_name']}, {level}; records treated as independent "
            "(statsmodels proportion_confint)",
        ),
        (
            "Beside them",
            f"{boot['method']}, {boot['n_boot']} resamples, seed {boot['seed']}; "
            f"{boot['n_used']} used, {boot['n_skipped']} skipped (no positive or no negative "
            "drawn); a record without a patient id is its own patient; flagged unreliable "
            "below 30 positives or negatives",
        ),
        (
            "PPV and NPV at a stated prevalence",
            "Bayes from sensitivity and specificity; logit interval of Mercaldo, Lau & Zhou "
            "(2007), adjusted when a count is 0",
        ),
        (
            "AUROC",
            "Mann-Whitney; DeLong (1988) variance by the midrank algorithm of Sun & Xu "
            "(2014), interval on the logit scale",
        ),
        (
            "Calibration",
            "intercept (calibration-in-the-large, logit(p) as offset) and slope by logistic "
            "regression (statsmodels GLM), Wald intervals; Brier score; ECE with equal-width "
            "bins, percentile bootstrap interval and a simulated noise floor",
        ),
        ("Decision curve", "net benefit (Vickers & Elkin 2006) on calibrated probabilities"),
        ("Subgroups", "as above, at the primary operating point"),
        ("Statistics reference", "docs/statistics.md and docs/study.md of keras_ecgpe"),
    ]
    return Section("Methods", "methods").add(KeyValueList(items, caption="Every method named"))
