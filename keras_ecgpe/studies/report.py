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
    "Pooled intervals resample patients (each fold's held-out logits centred at its "
    "own validation threshold, then pooled) with the trained models fixed: they "
    "show the sampling noise of the evaluated patients, not the variation of "
    "retraining. Folds share training records, so per-fold values are not "
    "independent: their plain SD understates the uncertainty of the mean, which the "
    "corrected resampled t interval accounts for; the sign test treats folds as "
    "independent, so read it beside the corrected test, not alone."
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


def _ci(entry: dict) -> str:
    if entry.get("ci_low") is None:
        return "n/a: " + entry.get("undefined", "undefined")
    return f"{format_number(entry['ci_low'])} to {format_number(entry['ci_high'])}"


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
    primary = summary["primary"]
    level = f"{1.0 - summary['statistics']['alpha']:.0%}"
    table = [
        f"PRIMARY: mean per-fold held-out macro AUROC {format_number(primary['mean'])} "
        f"({level} CI {_ci(primary)}, corrected resampled t, {primary['n_folds']} folds; "
        f"t = {format_number(primary['t'])}, df = {primary['df'] or 'n/a'}, "
        f"p vs 0.5 = {format_number(primary['p_value'])})",
        f"Folds: {summary['folds_from']['description']}.",
        "",
        *table,
    ]
    pooled = [
        f"SECONDARY: pooled held-out predictions per repeat ({level} CI, bootstrap by "
        f"{summary['resampled_by']}; {summary.get('records_without_patient_id', 0)} records "
        "without a patient id, each its own patient):"
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
    """PRIMARY per-fold paired differences against the reference arm (corrected t-test,
    Holm-adjusted, sign test), then the SECONDARY pooled AUROC table, then caveats."""
    tag = "SYNTHETIC data: " if result["synthetic"] else ""
    ref = result["reference"] or "-"
    level = f"{1.0 - result['statistics']['alpha']:.0%}"
    primary = [
        f"## PRIMARY: per-fold AUROC difference vs {ref} (corrected resampled t-test)",
        "",
        f"| arm | mean diff. +- SD | {level} CI | t | df | p | Holm p | better/worse/tied "
        "| sign test p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    secondary = [
        "## SECONDARY: pooled held-out AUROC (patient bootstrap, models fixed)",
        "",
        f"| arm | pooled AUROC ({level} CI) | fold AUROC mean +- SD | pooled diff. vs {ref} "
        f"(paired {level} CI) |",
        "|---|---|---|---|",
    ]
    for entry in result["arms"]:
        diff = entry.get("per_fold_difference")
        if diff is not None:
            test = diff.get("corrected_t") or {}
            sign = diff.get("sign_test") or {}
            primary.append(
                "| "
                + " | ".join(
                    [
                        entry["arm"],
                        _mean_sd(diff, signed=True),
                        _ci(test) if test else "n/a: " + diff.get("undefined", ""),
                        format_number(test.get("t")),
                        str(test.get("df") or "n/a"),
                        format_number(test.get("p_value")),
                        format_number(test.get("p_holm")),
                        f"{diff['better']}/{diff['worse']}/{diff['ties']}",
                        format_number(sign.get("p_value")),
                    ]
                )
                + " |"
            )
        secondary.append(
            "| "
            + " | ".join(
                [
                    entry["arm"],
                    format_interval(entry["pooled_auroc"]),
                    _mean_sd(entry["fold_auroc"]),
                    format_interval(entry["pooled_difference"], signed=True)
                    if "pooled_difference" in entry
                    else "(reference)",
                ]
            )
            + " |"
        )
    inputs = result["shared_inputs"]
    return _report(
        f"# Pretraining comparison ({tag}{result['repeats']} x {result['k']}-fold "
        "patient-level CV)",
        [
            "",
            f"Cache `{result['cache']}`, pretrained run `{result['init_from']}`; training "
            f"part per fold: {result['max_train_records'] or 'all'} records requested, "
            f"{', '.join(map(str, result['development_records_per_fold']))} used (inner "
            f"train + inner validation). Folds: {result['folds_from']['description']}.",
            "",
            f"Every arm shares: {'; '.join(inputs['same'])}; window "
            f"{inputs['window_samples']} samples at {inputs['fs']:g} Hz; standardiser: "
            f"{inputs['standardizer']}. Differs: {inputs['differs']}.",
            f"Leakage: {result['leakage']['summary']} (pretraining check "
            f"{result['leakage']['pretraining_check']})"
            + ("; ACCEPTED with --accept-leakage." if result["leakage"]["accepted"] else "."),
        ],
        primary,
        secondary,
        [
            "How to read it. The per-fold differences are primary: the corrected t-test "
            "counts retraining variance and the overlap of training sets between folds; "
            "p-values are Holm-adjusted over the arms compared with the reference. "
            + POOLING_NOTE
            + " A difference whose interval includes 0 is not evidence either way."
        ],
        result["synthetic"],
        "SYNTHETIC DATA: these numbers only show that the machinery works; they say nothing "
        "about real ECGs or real PE.",
    )
