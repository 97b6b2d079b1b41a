"""The study reports of `train --cv` and `compare` as report documents (three files each).

`cv_report` and `comparison_report` turn `cv_summary.json` and `comparison.json` into a
`keras_ecgpe.reporting.Report`, which `write_report` writes as `report.txt`, `report.html`
and `report.json`. Both put the primary result first - per-fold values with the
Nadeau-Bengio corrected resampled t interval (see `fold_statistics.py`) - and the pooled
AUROC after it, labelled secondary. Each states where the folds came from, the analysis
plan and its hash, small folds (fewer positives than the plan's limit) and a SYNTHETIC
banner when the data was synthetic.
"""

from __future__ import annotations

from pathlib import Path

from keras_ecgpe.reporting import (
    Cell,
    Column,
    Figure,
    Interval,
    KeyValueList,
    Notice,
    Paragraph,
    Preformatted,
    Report,
    Section,
    Table,
)

SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: these numbers only show that the machinery works; they say nothing "
    "about real ECGs or real PE."
)
POOLED_NOTE = (
    "Secondary figure. The pooled AUROC scores every held-out record with the fold model "
    "that never saw it (each fold's logits centred at its own validation threshold); its "
    "interval resamples patients with the trained models fixed, so it shows the sampling "
    "noise of the held-out patients, not the variation of retraining."
)
PRIMARY_NOTE = (
    "Primary result. Folds share training records, so per-fold values are correlated; the "
    "corrected resampled t-test (Nadeau & Bengio 2003) widens the plain t interval by "
    "(1/n + n_test/n_train) for that overlap, n = folds x repeats, df = n - 1."
)


def _value(value, reason: str):
    return Cell(None, reason=reason) if value is None else value


def _interval(low, high, reason: str) -> Interval:
    if low is None or high is None:
        return Interval(None, None, reason=reason)
    return Interval(low, high)


def _level(statistics: dict) -> str:
    return f"{1.0 - statistics['alpha']:.0%}"


def _banners(synthetic: bool) -> list:
    return [Notice(SYNTHETIC_BANNER, level="critical")] if synthetic else []


def _folds_items(summary: dict) -> list:
    return [
        ("Folds", summary["folds_from"]["description"]),
        ("Repeats", summary["repeats"]),
        (
            "Training part per fold",
            f"capped at {summary['max_train_records']} records"
            if summary.get("max_train_records")
            else "all outer-fold records",
        ),
        (
            "Records without a patient id",
            f"{summary.get('records_without_patient_id', 0)} (each its own patient "
            "in the bootstrap)",
        ),
    ]


def _small_folds(per_fold: list, minimum: int) -> list:
    notices = []
    for fold in per_fold:
        if fold["n_positive"] < minimum or fold["n_negative"] < minimum:
            notices.append(
                Notice(
                    f"Fold {fold['fold']}: {fold['n_positive']} positive and "
                    f"{fold['n_negative']} negative held-out records (fewer than "
                    f"{minimum}): its AUROC is imprecise and weighs as much as any other "
                    "fold in the per-fold mean.",
                    level="warning",
                )
            )
    return notices


def _plan_section(statistics: dict) -> Section:
    section = Section("Analysis plan", "analysis-plan")
    if statistics.get("analysis_plan_sha256") is None:
        return section.add(
            Paragraph(
                "No analysis plan was given (--plan): defaults were used "
                f"({_level(statistics)} intervals, {statistics['n_boot']} bootstrap "
                f"resamples, seed {statistics['seed']}, small-sample limit "
                f"{statistics['small_sample_min']})."
            )
        )
    import yaml

    return section.add(
        KeyValueList(
            [
                ("Plan file", statistics.get("analysis_plan_source") or "n/a"),
                ("Plan SHA-256", statistics["analysis_plan_sha256"]),
            ]
        ),
        Preformatted(
            yaml.safe_dump(statistics["analysis_plan"], sort_keys=False), caption="The plan"
        ),
    )


def _secondary_pooled(summary: dict, level: str) -> Table:
    rows = []
    for repeat in summary["pooled_per_repeat"]:
        ci = (repeat.get("macro_ci") or {}).get("auroc") or {}
        rows.append(
            [
                f"repeat {repeat['repeat']}",
                repeat["n_records"],
                _value(repeat["macro"].get("auroc"), "a class without both labels"),
                _interval(ci.get("ci_low"), ci.get("ci_high"), "no bootstrap (resamples 0)"),
            ]
        )
    over = summary["pooled_auroc_mean_over_repeats"]
    rows.append(
        [
            "mean over repeats",
            summary["pooled_per_repeat"][0]["n_records"],
            _value(over.get("value"), "a class without both labels"),
            _interval(over.get("ci_low"), over.get("ci_high"), "no bootstrap (resamples 0)"),
        ]
    )
    return Table(
        "SECONDARY: pooled held-out macro AUROC (patient bootstrap, models fixed)",
        ["Pool", Column("Records", "integer"), Column("AUROC", "number"), f"{level} CI"],
        rows,
        notes=[POOLED_NOTE],
    )


def cv_report(summary: dict, out_dir) -> Report:
    """The report of one cross-validation (`cv_summary.json` as a document)."""
    statistics, primary = summary["statistics"], summary["primary"]
    level = _level(statistics)
    report = Report(
        f"Cross-validation: {summary['repeats']} x {summary['k']} folds, patient-level",
        subtitle=f"Cache {summary['cache']}; labels {', '.join(summary['label_names'])}",
        meta=[f"Test split: {summary['test_split']}"],
        banners=_banners(bool(summary.get("synthetic"))),
    )
    report.add(Section("Design", "design").add(KeyValueList(_folds_items(summary))))
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
                        _value(primary["mean"], "no fold had both labels"),
                        _value(primary["sd"], "fewer than 2 folds"),
                        primary["n_folds"],
                        _interval(primary["ci_low"], primary["ci_high"], undefined or "n/a"),
                        _value(primary["t"], undefined or "n/a"),
                        _value(primary["df"], undefined or "n/a"),
                        _value(primary["p_value"], undefined or "n/a"),
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
            _value(f["macro"].get("auroc"), "the fold's held-out part has one class only"),
            _value(f["macro"].get("average_precision"), "no positive record"),
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
            *_small_folds(summary["per_fold"], statistics["small_sample_min"]),
        )
    )
    report.add(
        Section("Secondary: pooled predictions", "secondary").add(_secondary_pooled(summary, level))
    )
    report.add(_plan_section(statistics))
    return report


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
        _value(diff["mean"], why),
        _value(diff["sd"], "fewer than 2 folds"),
        diff["n_folds"],
        _interval(test.get("ci_low"), test.get("ci_high"), why),
        _value(test.get("t"), why),
        _value(test.get("df"), why),
        _value(test.get("p_value"), why),
        _value(test.get("p_holm"), test.get("holm_undefined") or why),
        f"{diff['better']}/{diff['worse']}/{diff['ties']}",
        _value(sign.get("p_value"), sign.get("undefined") or "no folds"),
    ]


def comparison_report(result: dict, out_dir) -> Report:
    """The report of a pretraining comparison (`comparison.json` as a document); draws
    `forest.png` into `out_dir`."""
    from keras_ecgpe.studies.forest_plot import plot_differences

    statistics, ref = result["statistics"], result["reference"]
    level = _level(statistics)
    inputs = result["shared_inputs"]
    report = Report(
        "Does pretraining help? Arms compared on the same folds",
        subtitle=f"Cache {result['cache']}; pretrained run {result['init_from']}",
        meta=[
            f"{result['repeats']} x {result['k']} folds; reference arm: {ref or 'none'}",
        ],
        banners=_banners(bool(result.get("synthetic"))),
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
            KeyValueList(_folds_items(result), caption="Folds"),
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
                _value(e["per_fold_auroc"].get(f["fold"]), "the held-out part has one class")
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
            *_small_folds(result["per_fold"], statistics["small_sample_min"]),
        )
    )
    secondary = []
    for e in result["arms"]:
        pooled, diff = e["pooled_auroc"], e.get("pooled_difference")
        secondary.append(
            [
                e["arm"],
                _value(pooled.get("value"), "a class without both labels"),
                _interval(pooled.get("ci_low"), pooled.get("ci_high"), "no bootstrap"),
                _value(None if diff is None else diff.get("value"), "the reference arm")
                if diff is not None or e["arm"] == ref
                else Cell(None, reason="no reference arm"),
                _interval(
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
    report.add(_plan_section(statistics))
    return report
