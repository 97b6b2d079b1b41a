"""The study report of `compare`: `comparison.json` as a report document.

What the arms share, the leakage checks, the primary per-fold paired differences (corrected
resampled t-test, sign test, Holm over arms, forest plot), the per-fold AUROC per arm, the
pooled AUROC labelled secondary, and the analysis plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.reporting import (
    Cell,
    Column,
    Figure,
    KeyValueList,
    Notice,
    Paragraph,
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


def _leakage_section(leakage: dict) -> Section:
    section = Section("Leakage checks", "leakage")
    section.add(
        KeyValueList(
            [
                ("Pretraining cache", leakage["pretraining_cache"] or "n/a"),
                ("Check against pretraining", leakage["pretraining_check"]),
                ("Fine-tuning splits checked", ", ".join(leakage["splits_checked"])),
                ("Result", leakage["summary"]),
            ]
        )
    )
    if leakage["pretraining_check"].startswith("not run"):
        section.add(
            Notice(
                "The check against the pretraining records could not be run "
                f"({leakage['pretraining_check'][len('not run: ') :]}): records the "
                "pretrained model learnt may be among the held-out records.",
                level="warning",
            )
        )
    if leakage["accepted"]:
        shown = ", ".join(leakage["leaked_records"][:20])
        more = len(leakage["leaked_records"]) - 20
        section.add(
            Notice(
                "Leakage was found and ACCEPTED (--accept-leakage): "
                f"{leakage['summary']}. Records: {shown}"
                + (f" and {more} more" if more > 0 else "")
                + ". Results of the transfer arms may be inflated.",
                level="critical",
            )
        )
    return section


def _arm_difference_row(entry: dict) -> list:
    diff = entry["per_fold_difference"]
    test = diff.get("corrected_t") or {}
    sign = diff.get("sign_test") or {}
    why = diff.get("undefined") or test.get("undefined") or "n/a"
    return [
        entry["arm"],
        value_or_na(diff["mean"], why),
        value_or_na(diff["sd"], "fewer than 2 folds"),
        diff["n_folds"],
        interval_or_na(test.get("ci_low"), test.get("ci_high"), why),
        value_or_na(test.get("t"), why),
        value_or_na(test.get("df"), why),
        value_or_na(test.get("p_value"), why),
        value_or_na(test.get("p_holm"), test.get("holm_undefined") or why),
        f"{diff['better']}/{diff['worse']}/{diff['ties']}",
        value_or_na(sign.get("p_value"), sign.get("undefined") or "no folds"),
    ]


def comparison_report(result: dict, out_dir: os.PathLike | str) -> Report:
    """The report of a pretraining comparison (`comparison.json` as a document); draws
    `forest.png` into `out_dir`."""
    from keras_ecgpe.studies.forest_plot import plot_differences

    statistics, ref = result["statistics"], result["reference"]
    level = level_label(statistics)
    inputs = result["shared_inputs"]
    report = Report(
        "Does pretraining help? Arms compared on the same folds",
        subtitle=f"Cache {result['cache']}; pretrained run {result['init_from']}",
        meta=[
            f"{result['repeats']} x {result['k']} folds; reference arm: {ref or 'none'}",
        ],
        banners=synthetic_banners(bool(result.get("synthetic"))),
    )
    report.add(
        Section("What the arms share and what differs", "inputs").add(
            KeyValueList(
                [
                    ("Window", f"{inputs['window_samples']} samples ({inputs['window_s']:g} s)"),
                    ("Sampling rate", f"{inputs['fs']:g} Hz"),
                    ("Preprocessing", str(inputs["preprocessing"])),
                    ("Dataset standardiser", inputs["standardizer"]),
                    ("Also the same", "; ".join(inputs["same"])),
                    ("Differs", inputs["differs"]),
                ]
            ),
            KeyValueList(folds_items(result), caption="Folds"),
        )
    )
    report.add(_leakage_section(result["leakage"]))
    compared = [e for e in result["arms"] if "per_fold_difference" in e]
    primary = Section("Primary result: per-fold paired differences", "primary")
    if compared:
        primary.add(
            Table(
                f"PRIMARY: per-fold AUROC difference, arm minus {ref} (mean with {level} "
                "corrected resampled t interval; exact sign test)",
                [
                    "Arm",
                    Column("Mean diff.", "signed"),
                    Column("SD", "number"),
                    Column("Folds", "integer"),
                    f"{level} CI",
                    Column("t", "number"),
                    Column("df", "integer"),
                    Column("p", "number"),
                    Column("Holm p", "number"),
                    "Better/worse/tied",
                    Column("Sign test p", "number"),
                ],
                [_arm_difference_row(e) for e in compared],
                notes=[
                    PRIMARY_NOTE,
                    f"Holm's adjustment is over the {len(compared)} arm(s) compared with {ref}.",
                ],
            )
        )
        rows = [
            (
                e["arm"],
                e["per_fold_difference"]["mean"],
                (e["per_fold_difference"].get("corrected_t") or {}).get("ci_low"),
                (e["per_fold_difference"].get("corrected_t") or {}).get("ci_high"),
            )
            for e in compared
        ]
        path = plot_differences(
            rows, Path(out_dir) / "forest.png", reference=ref, level=1 - statistics["alpha"]
        )
        primary.add(
            Figure(
                path,
                caption=f"Mean per-fold AUROC difference against {ref} with {level} "
                "corrected resampled t intervals; the dashed line is no difference.",
                alt="Forest plot: one horizontal interval per arm around its mean per-fold "
                f"AUROC difference from {ref}, with a dashed vertical line at zero.",
            )
        )
    else:
        primary.add(Paragraph("No reference arm (scratch) was run: nothing is compared."))
    report.add(primary)
    arms = [e["arm"] for e in result["arms"]]
    per_fold = [
        [
            f["fold"],
            f["n_train"] + f["n_validation"],
            f["n_heldout"],
            f["n_positive"],
            *[
                value_or_na(e["per_fold_auroc"].get(f["fold"]), "the held-out part has one class")
                for e in result["arms"]
            ],
        ]
        for f in result["per_fold"]
    ]
    report.add(
        Section("Per-fold AUROC", "per-fold").add(
            Table(
                "Held-out macro AUROC per fold and arm",
                [
                    "Fold",
                    Column("Train", "integer"),
                    Column("Held out", "integer"),
                    Column("Positives", "integer"),
                    *[Column(arm, "number") for arm in arms],
                ],
                per_fold,
            ),
            *small_fold_notices(result["per_fold"], statistics["small_sample_min"]),
        )
    )
    secondary = []
    for e in result["arms"]:
        pooled, diff = e["pooled_auroc"], e.get("pooled_difference")
        secondary.append(
            [
                e["arm"],
                value_or_na(pooled.get("value"), "a class without both labels"),
                interval_or_na(pooled.get("ci_low"), pooled.get("ci_high"), "no bootstrap"),
                value_or_na(None if diff is None else diff.get("value"), "the reference arm")
                if diff is not None or e["arm"] == ref
                else Cell(None, reason="no reference arm"),
                interval_or_na(
                    None if diff is None else diff.get("ci_low"),
                    None if diff is None else diff.get("ci_high"),
                    "the reference arm" if diff is None else "no bootstrap",
                ),
            ]
        )
    report.add(
        Section("Secondary: pooled held-out AUROC", "secondary").add(
            Table(
                "SECONDARY: pooled held-out macro AUROC per arm and its paired difference "
                f"from {ref or 'the reference'} (patient bootstrap, models fixed)",
                [
                    "Arm",
                    Column("Pooled AUROC", "number"),
                    f"{level} CI",
                    Column("Pooled diff.", "signed"),
                    f"Paired {level} CI",
                ],
                secondary,
                notes=[POOLED_NOTE],
            )
        )
    )
    report.add(plan_section(statistics))
    return report
