"""The study report of `train --cv`: `cv_summary.json` as a report document.

The primary result first - the mean per-fold AUROC with the Nadeau-Bengio corrected
resampled t interval (see `fold_statistics.py`) - then the per-fold table, the pooled
AUROC labelled secondary, and the analysis plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keras_ecgpe.reporting import (
    Column,
    KeyValueList,
    Report,
    Section,
    Table,
    interval_or_na,
    synthetic_banners,
    value_or_na,
)
from keras_ecgpe.studies.study_report_parts import (
    POOLED_NOTE,
    PRIMARY_NOTE,
    folds_items,
    level_label,
    plan_section,
    small_fold_notices,
)

if TYPE_CHECKING:
    import os


def _secondary_pooled(summary: dict, level: str) -> Table:
    rows = []
    for repeat in summary["pooled_per_repeat"]:
        ci = (repeat.get("macro_ci") or {}).get("auroc") or {}
        rows.append(
            [
                f"repeat {repeat['repeat']}",
                repeat["n_records"],
                value_or_na(repeat["macro"].get("auroc"), "a class without both labels"),
                interval_or_na(ci.get("ci_low"), ci.get("ci_high"), "no bootstrap (resamples 0)"),
            ]
        )
    over = summary["pooled_auroc_mean_over_repeats"]
    rows.append(
        [
            "mean over repeats",
            summary["pooled_per_repeat"][0]["n_records"],
            value_or_na(over.get("value"), "a class without both labels"),
            interval_or_na(over.get("ci_low"), over.get("ci_high"), "no bootstrap (resamples 0)"),
        ]
    )
    return Table(
        "SECONDARY: pooled held-out macro AUROC (patient bootstrap, models fixed)",
        ["Pool", Column("Records", "integer"), Column("AUROC", "number"), f"{level} CI"],
        rows,
        notes=[POOLED_NOTE],
    )


def cv_report(summary: dict, out_dir: os.PathLike | str) -> Report:
    """The report of one cross-validation (`cv_summary.json` as a document)."""
    statistics, primary = summary["statistics"], summary["primary"]
    level = level_label(statistics)
    report = Report(
        f"Cross-validation: {summary['repeats']} x {summary['k']} folds, patient-level",
        subtitle=f"Cache {summary['cache']}; labels {', '.join(summary['label_names'])}",
        meta=[f"Test split: {summary['test_split']}"],
        banners=synthetic_banners(bool(summary.get("synthetic"))),
    )
    report.add(Section("Design", "design").add(KeyValueList(folds_items(summary))))
    undefined = primary.get("undefined", "")
    report.add(
        Section("Primary result: mean per-fold AUROC", "primary").add(
            Table(
                f"PRIMARY: mean per-fold held-out macro AUROC with the {level} corrected "
                "resampled t interval",
                [
                    "Estimate",
                    Column("Mean", "number"),
                    Column("SD", "number"),
                    Column("Folds", "integer"),
                    f"{level} CI",
                    Column("t (vs 0.5)", "number"),
                    Column("df", "integer"),
                    Column("p (vs 0.5)", "number"),
                ],
                [
                    [
                        "mean per-fold AUROC",
                        value_or_na(primary["mean"], "no fold had both labels"),
                        value_or_na(primary["sd"], "fewer than 2 folds"),
                        primary["n_folds"],
                        interval_or_na(primary["ci_low"], primary["ci_high"], undefined or "n/a"),
                        value_or_na(primary["t"], undefined or "n/a"),
                        value_or_na(primary["df"], undefined or "n/a"),
                        value_or_na(primary["p_value"], undefined or "n/a"),
                    ]
                ],
                notes=[PRIMARY_NOTE],
            )
        )
    )
    rows = [
        [
            f["fold"],
            f["n_train"],
            f["n_validation"],
            f["n_heldout"],
            f["n_positive"],
            value_or_na(f["macro"].get("auroc"), "the fold's held-out part has one class only"),
            value_or_na(f["macro"].get("average_precision"), "no positive record"),
        ]
        for f in summary["per_fold"]
    ]
    report.add(
        Section("Per-fold results", "per-fold").add(
            Table(
                "Held-out macro AUROC per fold",
                [
                    "Fold",
                    Column("Train", "integer"),
                    Column("Validation", "integer"),
                    Column("Held out", "integer"),
                    Column("Positives", "integer"),
                    Column("AUROC", "number"),
                    Column("AP", "number"),
                ],
                rows,
            ),
            *small_fold_notices(summary["per_fold"], statistics["small_sample_min"]),
        )
    )
    report.add(
        Section("Secondary: pooled predictions", "secondary").add(_secondary_pooled(summary, level))
    )
    report.add(plan_section(statistics))
    return report
