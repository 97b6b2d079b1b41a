"""Sections 8 and 9: calibration of the calibrated probabilities and the decision curve."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.evaluation.study_report.cells import (
    estimate_cell,
    figure_block,
    interval_cell,
    level_label,
)
from keras_ecgpe.formatting import format_number
from keras_ecgpe.reporting import Cell, Column, Interval, Paragraph, Section, Table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def calibration_section(metrics: Mapping[str, Any]) -> Section:
    level = level_label(metrics)
    section = Section("Calibration", "calibration")
    c = metrics["calibration"]
    section.add(
        Paragraph(
            "On the calibrated probabilities sigmoid(logit / T + b), with temperature "
            f"T = {c['temperature']:.3f} and bias b = "
            f"{', '.join(f'{b:+.3f}' for b in c['bias'])} fitted on the validation split."
        )
    )
    for name, entry in metrics["study"].items():
        cal = entry["calibration"]
        if "undefined" in cal:
            section.add(Paragraph(f"{name}: calibration not assessed ({cal['undefined']})."))
            continue
        fit, ece, floor = cal["intercept_slope"], cal["ece"], cal["ece"]["noise_floor"]
        section.add(
            Table(
                f"Calibration, {name}",
                [Column("Measure", "text"), "Estimate", f"{level} CI", Column("Ideal", "text")],
                [
                    [
                        "Calibration-in-the-large",
                        estimate_cell(fit["intercept"]),
                        interval_cell(fit["intercept"]),
                        "0",
                    ],
                    [
                        "Calibration slope",
                        estimate_cell(fit["slope"]),
                        interval_cell(fit["slope"]),
                        "1",
                    ],
                    [
                        "Brier score",
                        cal["brier"]["value"],
                        Interval(None, None, reason="no interval computed"),
                        "0",
                    ],
                    [
                        f"ECE ({ece['n_bins']} bins)",
                        ece["ece"],
                        Interval(ece["ci_low"], ece["ci_high"]),
                        "0",
                    ],
                    [
                        f"ECE noise floor at n = {entry['n']}: mean (95th percentile)",
                        floor["mean"],
                        Cell(f"95th percentile {format_number(floor['p95'])}"),
                        "-",
                    ],
                ],
                notes=[
                    "Intercept and slope: " + fit["method"] + ".",
                    "ECE interval: " + ece["method"] + f", {ece['n_boot']} resamples by "
                    f"{ece['resampled_by']}. Noise floor: {floor['method']} "
                    f"({floor['n_sim']} simulations); an ECE below its 95th percentile is no "
                    "evidence of miscalibration.",
                ],
            )
        )
    figure = figure_block(
        metrics,
        "calibration",
        "Reliability diagram of the calibrated probabilities",
        "Observed positive rate against mean predicted probability per bin",
    )
    if figure:
        section.add(figure)
    return section


def decision_curve_section(metrics: Mapping[str, Any]) -> Section:
    section = Section("Decision curve", "decision-curve")
    section.add(
        Paragraph(
            "Net benefit of referring a patient when the calibrated probability is at least "
            "the threshold probability, against referring everyone (treat all) and no one "
            "(treat none), over the thresholds relevant to PE work-up."
        )
    )
    single = len(metrics["study"]) == 1
    for name, entry in metrics["study"].items():
        curve = entry["decision_curve"]
        if "rows" not in curve:
            section.add(Paragraph(f"{name}: not computed ({curve['undefined']})."))
            continue
        section.add(
            Table(
                f"Net benefit, {name}",
                [
                    Column("Threshold probability", "percent"),
                    Column("Model", "signed"),
                    Column("Treat all", "signed"),
                    Column("Treat none", "signed"),
                    "Referred true positives",
                    "Referred false positives",
                ],
                [
                    [
                        r["threshold"],
                        r["net_benefit_model"],
                        r["net_benefit_treat_all"],
                        r["net_benefit_treat_none"],
                        r["tp"],
                        r["fp"],
                    ]
                    for r in curve["rows"]
                ],
                notes=[curve["method"] + "."],
            )
        )
        key = "decision_curve" if single else f"decision_curve_{name}"
        figure = figure_block(
            metrics,
            key,
            f"Decision curve, {name}",
            "Net benefit of the model, treat all and treat none by threshold probability",
        )
        if figure:
            section.add(figure)
    return section
