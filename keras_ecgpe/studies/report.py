"""Readable reports of studies: `cv_summary.txt` and `comparison.md`.

Both say the same things in the same order - what was run on which data, one row per fold
or arm, then the pooled estimates with 95 % intervals, then what those intervals can and
cannot show, and a SYNTHETIC warning last when the data was synthetic - so they are built
by one function, `_report`, from their own title, table and notes. Numbers and intervals
read as everywhere else (`keras_ecgpe.formatting`).
"""

from __future__ import annotations

from keras_ecgpe.formatting import format_interval, format_number

SHOWN = (
    "auroc",
    "average_precision",
    "sensitivity_at_specificity",
    "sensitivity",
    "specificity",
    "f1",
)
SHORT = {
    "auroc": "AUROC",
    "average_precision": "AP",
    "sensitivity_at_specificity": "sens@spec",
    "sensitivity": "sens",
    "specificity": "spec",
    "f1": "F1",
}
POOLING_NOTE = (
    "Intervals resample patients (each fold's held-out logits centred at its "
    "own validation threshold, then pooled) with the trained models fixed: they "
    "show the sampling noise of the evaluated patients, not the variation of "
    "retraining. Folds share training records, so per-fold values are not "
    "independent: their SD understates the uncertainty of the mean, and a sign "
    "count over folds is descriptive, not a test."
)


def _report(
    title: str,
    intro: list,
    table: list,
    pooled: list,
    notes: list,
    synthetic: bool,
    synthetic_note: str,
) -> str:
    """The shared layout: title, intro, table, pooled estimates, notes, SYNTHETIC note."""
    lines = [title, *intro, "", *table, "", *([*pooled, ""] if pooled else []), *notes]
    if synthetic:
        lines.append(synthetic_note)
    return "\n".join(lines) + "\n"


def _mean_sd(entry: dict, signed: bool = False) -> str:
    sd = "" if entry["sd"] is None else f" +- {entry['sd']:.3f}"
    return f"{format_number(entry['mean'], signed=signed)}{sd}"


def cv_summary_text(summary: dict) -> str:
    """The per-fold table, mean +- SD per metric, pooled metrics with 95 % CIs, caveats."""
    tag = "SYNTHETIC data - " if summary.get("synthetic") else ""
    table = ["fold     n_train  n_val  n_heldout  " + "  ".join(f"{SHORT[m]:>10}" for m in SHOWN)]
    for fold in summary["per_fold"]:
        table.append(
            f"{fold['fold']:<8} {fold['n_train']:>7}  {fold['n_validation']:>5}  "
            f"{fold['n_heldout']:>9}  "
            + "  ".join(f"{format_number(fold['macro'].get(m)):>10}" for m in SHOWN)
        )
    table += ["", "Mean +- SD over folds (held-out macro metrics):"]
    for name in SHOWN:
        entry = summary["fold_mean_sd"][name]
        table.append(f"  {name:<28} {_mean_sd(entry):<15}  ({entry['n_folds']} folds)")
    pooled = [
        f"Pooled held-out predictions per repeat (95 % CI, bootstrap by {summary['resampled_by']}):"
    ]
    for repeat in summary["pooled_per_repeat"]:
        ci = repeat.get("macro_ci") or {}
        cells = ", ".join(
            f"{m} {format_interval(ci.get(m) or {'value': repeat['macro'].get(m)})}"
            for m in SHOWN[:3]
        )
        pooled.append(f"  repeat {repeat['repeat']} ({repeat['n_records']} records): {cells}")
    pooled.append(
        "  pooled macro AUROC averaged over repeats: "
        + format_interval(summary["pooled_auroc_mean_over_repeats"])
    )
    return _report(
        f"Cross-validation ({tag}{summary['repeats']} x {summary['k']} folds, patient-level, "
        f"stratified) on {summary['cache']}",
        [
            f"Labels: {', '.join(summary['label_names'])}. Training part per fold capped at "
            f"{summary['max_train_records'] or 'no'} records. Test split: "
            f"{summary['test_split']}."
        ],
        table,
        pooled,
        ["Notes: thresholds were chosen on each fold's inner validation part. " + POOLING_NOTE],
        bool(summary.get("synthetic")),
        "SYNTHETIC DATA: these numbers say nothing about real ECGs.",
    )


def comparison_markdown(result: dict) -> str:
    """Per arm: pooled AUROC with 95 % CI, fold mean +- SD, paired differences vs the
    reference arm; then what the numbers can and cannot show."""
    tag = "SYNTHETIC data: " if result["synthetic"] else ""
    ref = result["reference"]
    table = [
        "| arm | pooled AUROC (95 % CI) | fold AUROC mean +- SD | "
        f"pooled diff. vs {ref or '-'} (paired 95 % CI) | per-fold diff. mean +- SD | "
        "folds better/worse | sign test p |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in result["arms"]:
        cells = [
            entry["arm"],
            format_interval(entry["pooled_auroc"]),
            _mean_sd(entry["fold_auroc"]),
        ]
        if "pooled_difference" in entry:
            diff = entry["per_fold_difference"]
            cells += [
                format_interval(entry["pooled_difference"], signed=True),
                _mean_sd(diff, signed=True),
                f"{diff['better']}/{diff['worse']}",
                format_number(diff["sign_test_p"]),
            ]
        else:
            cells += ["(reference)" if entry["arm"] == ref else "-", "-", "-", "-"]
        table.append("| " + " | ".join(cells) + " |")
    return _report(
        f"# Pretraining comparison ({tag}{result['repeats']} x {result['k']}-fold "
        "patient-level CV)",
        [
            "",
            f"Cache `{result['cache']}`, pretrained run `{result['init_from']}`; training "
            f"part per fold: {result['max_train_records'] or 'all'} records requested, "
            f"{', '.join(map(str, result['development_records_per_fold']))} used (inner "
            "train + inner validation). Same folds, seed and settings in every arm.",
        ],
        table,
        [],
        [
            "How to read it. " + POOLING_NOTE + " A difference whose interval includes 0 is "
            "not evidence either way."
        ],
        result["synthetic"],
        "SYNTHETIC DATA: these numbers only show that the machinery works; they say nothing "
        "about real ECGs or real PE.",
    )
