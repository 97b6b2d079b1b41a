"""The report of a study grid (`study_results.json` as a document) and its forest plot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.reporting import (
    Column,
    Figure,
    KeyValueList,
    Paragraph,
    Report,
    Section,
    Table,
    interval_or_na,
    synthetic_banners,
    value_or_na,
)
from keras_ecgpe.studies.study_report_parts import POOLED_NOTE, PRIMARY_NOTE

if TYPE_CHECKING:
    import os


def _row(row: dict) -> list:
    fold, pooled = row["fold_auroc"], row["pooled_auroc"]
    diff = row.get("difference")
    test = (diff or {}).get("corrected_t") or {}
    why = "the reference cell" if diff is None else (diff.get("undefined") or "n/a")
    return [
        row["label"] + (" (reference)" if row["reference"] else ""),
        value_or_na(fold.get("mean"), fold.get("undefined") or "no fold AUROC"),
        value_or_na(fold.get("sd"), "fewer than 2 folds"),
        interval_or_na(fold.get("ci_low"), fold.get("ci_high"), fold.get("undefined") or "n/a"),
        value_or_na(pooled.get("value"), "a class without both labels"),
        interval_or_na(pooled.get("ci_low"), pooled.get("ci_high"), "no bootstrap"),
        value_or_na(None if diff is None else diff.get("mean"), why),
        interval_or_na(test.get("ci_low"), test.get("ci_high"), why),
        value_or_na(test.get("p_value"), why),
        value_or_na(test.get("p_holm"), test.get("holm_undefined") or why),
    ]


def study_report(result: dict, out_dir: os.PathLike | str) -> Report:
    """The study's report; draws `forest.png` into `out_dir`."""
    from keras_ecgpe.studies.forest_plot import plot_differences

    level = result["level"]
    rows = result["rows"]
    reference = next(r for r in rows if r["reference"])
    report = Report(
        f"Study {result['name']}: the grid on the same folds",
        subtitle=f"Study file {result['study_file']}",
        meta=[
            f"{len(rows)} cells; {result['folds']['repeats']} x {result['folds']['k']} "
            f"patient-level folds; reference: {reference['label']}",
        ],
        banners=synthetic_banners(bool(result.get("synthetic"))),
    )
    report.add(
        Section("Verdict", "verdict").add(Paragraph(result["verdict"])),
        Section("The grid", "grid").add(
            Table(
                f"Per cell: held-out macro AUROC over folds (mean +- SD, {level} corrected "
                f"resampled t interval); pooled AUROC ({level} patient bootstrap); per-fold "
                "paired difference from the reference (corrected t-test, Holm over cells)",
                [
                    "Cell",
                    Column("Fold mean", "number"),
                    Column("SD", "number"),
                    f"{level} CI",
                    Column("Pooled", "number"),
                    f"Pooled {level} CI",
                    Column("Diff. vs ref.", "signed"),
                    f"Diff. {level} CI",
                    Column("p", "number"),
                    Column("Holm p", "number"),
                ],
                [_row(r) for r in rows],
                notes=[PRIMARY_NOTE, POOLED_NOTE],
            )
        ),
    )
    compared = [r for r in rows if "difference" in r]
    if compared:
        points = [
            (
                r["label"],
                r["difference"]["mean"],
                (r["difference"].get("corrected_t") or {}).get("ci_low"),
                (r["difference"].get("corrected_t") or {}).get("ci_high"),
            )
            for r in compared
        ]
        path = plot_differences(
            points,
            Path(out_dir) / "forest.png",
            reference="reference",
            level=1.0 - result["alpha"],
        )
        report.add(
            Section("Differences from the reference", "forest").add(
                Figure(
                    path,
                    caption=f"Mean per-fold AUROC difference from the reference cell "
                    f"({reference['label']}) with {level} corrected resampled t intervals "
                    "(not Holm-adjusted); the dashed line is no difference.",
                    alt="Forest plot: one horizontal interval per cell around its mean "
                    "per-fold AUROC difference from the reference, dashed line at zero.",
                )
            )
        )
    report.add(
        Section("What every cell shares", "shared").add(
            KeyValueList(
                [
                    ("Folds", "the same records in every part of every fold (cv_plan.json)"),
                    ("Seed", "the base training.seed, which also deals the folds"),
                    ("Test split", result["test_split"]),
                    ("Statistics", result["primary"]),
                    ("Secondary", result["secondary"]),
                ]
            )
        )
    )
    return report
