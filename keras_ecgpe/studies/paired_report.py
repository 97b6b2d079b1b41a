"""The report of `compare-models`: two models, one split, a paired DeLong test per class."""

from __future__ import annotations

from keras_ecgpe.reporting import (
    Cell,
    Column,
    Interval,
    KeyValueList,
    Notice,
    Paragraph,
    Report,
    Section,
    Table,
    synthetic_banners,
)

SMALL = 10  # fewer positives or negatives than this: the DeLong interval is unreliable


def _cell(entry: dict, key: str):
    value = entry.get(key)
    return Cell(None, reason=entry.get("undefined") or "undefined") if value is None else value


def paired_report(result: dict) -> Report:
    """The `paired_delong.json` result as a report document."""
    level = f"{1.0 - result['alpha']:.0%}"
    report = Report(
        f"Two models on the same {result['split']} records: paired DeLong test",
        subtitle=f"Cache {result['cache']}; {result['n_records']} records",
        meta=[
            f"Model A: {result['model_a']['run']} (SHA-256 {result['model_a']['model_sha256']})",
            f"Model B: {result['model_b']['run']} (SHA-256 {result['model_b']['model_sha256']})",
        ],
        banners=synthetic_banners(result["synthetic"]),
    )
    rows = [
        [
            c["label"],
            c["n_positive"],
            c["n_negative"],
            _cell(c, "auroc_a"),
            _cell(c, "auroc_b"),
            _cell(c, "difference"),
            Interval(c["ci_low"], c["ci_high"])
            if c.get("ci_low") is not None
            else Interval(None, None, reason=c.get("undefined") or "undefined"),
            _cell(c, "z"),
            _cell(c, "p_value"),
        ]
        for c in result["classes"]
    ]
    section = Section("AUROC difference, A minus B", "difference").add(
        Table(
            f"AUROC of both models and their paired difference (DeLong, {level} CI)",
            [
                "Label",
                Column("Positives", "integer"),
                Column("Negatives", "integer"),
                Column("AUROC A", "number"),
                Column("AUROC B", "number"),
                Column("A - B", "signed"),
                f"{level} CI",
                Column("z", "number"),
                Column("p", "number"),
            ],
            rows,
            notes=[
                "Paired DeLong test (DeLong, DeLong & Clarke-Pearson 1988): both models "
                "scored the same records, so the covariance of their AUROCs enters the "
                "variance of the difference. The models are fixed: the test says nothing "
                "about the variation of retraining them (cross-validate for that)."
            ],
        )
    )
    for c in result["classes"]:
        if min(c["n_positive"], c["n_negative"]) < SMALL:
            section.add(
                Notice(
                    f"{c['label']}: {c['n_positive']} positive and {c['n_negative']} "
                    f"negative records (fewer than {SMALL}): the normal approximation of "
                    "the DeLong interval is unreliable.",
                    level="warning",
                )
            )
    report.add(section)
    ledger = result.get("ledger")
    looks = Section("Looks at the test split", "ledger")
    if ledger is None:
        looks.add(Paragraph(f"The {result['split']} split has no ledger; nothing recorded."))
    else:
        looks.add(
            KeyValueList(
                [
                    ("Ledger", ledger["path"]),
                    (
                        "Entries of this comparison",
                        ", ".join(str(e["sequence"]) for e in ledger["entries"]),
                    ),
                    ("Looks so far", ledger["n_looks"]),
                    ("Distinct models", ledger["n_models"]),
                    ("Head SHA-256", ledger["head"]),
                ]
            ),
            Paragraph(
                "Each model of the pair counts as one look at the sealed test split; its "
                "ledger entry notes that it was part of a paired comparison."
            ),
        )
    report.add(looks)
    report.add(
        Section("Analysis plan", "analysis-plan").add(
            KeyValueList([("Plan SHA-256", result["analysis_plan_sha256"] or "none given")])
        )
    )
    return report
