"""What the study reports of `train --cv` and `compare` share: the notes on the primary
and secondary results, the folds' description, small-fold warnings and the plan section.
"""

from __future__ import annotations

from keras_ecgpe.reporting import KeyValueList, Notice, Paragraph, Preformatted, Section

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


def level_label(statistics: dict) -> str:
    """The confidence level as a label: "95%"."""
    return f"{1.0 - statistics['alpha']:.0%}"


def folds_items(summary: dict) -> list:
    """Where the folds came from, repeats, the training cap and missing patient ids."""
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


def small_fold_notices(per_fold: list, minimum: int) -> list:
    """A warning for each fold with fewer than `minimum` positive or negative records."""
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


def plan_section(statistics: dict) -> Section:
    """The analysis plan with its file and hash, or the defaults used when none was given."""
    section = Section("Analysis plan", "analysis-plan")
    if statistics.get("analysis_plan_sha256") is None:
        return section.add(
            Paragraph(
                "No analysis plan was given (--plan): defaults were used "
                f"({level_label(statistics)} intervals, {statistics['n_boot']} bootstrap "
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
