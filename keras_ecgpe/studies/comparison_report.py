"""The comparison table as Markdown (`comparison.md`)."""

from __future__ import annotations


def _num(value, signed=False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _ci(entry, signed=False) -> str:
    if entry.get("ci_low") is None:
        return _num(entry.get("value"), signed)
    return (f"{_num(entry['value'], signed)} ({_num(entry['ci_low'], signed)} to "
            f"{_num(entry['ci_high'], signed)})")


def markdown_table(result: dict) -> str:
    """Per arm: pooled AUROC with 95 % CI, fold mean +- SD, paired differences vs the
    reference arm; then what the numbers can and cannot show."""
    tag = "SYNTHETIC data: " if result["synthetic"] else ""
    ref = result["reference"]
    lines = [f"# Pretraining comparison ({tag}{result['repeats']} x {result['k']}-fold "
             "patient-level CV)", "",
             f"Cache `{result['cache']}`, pretrained run `{result['init_from']}`; training part "
             f"per fold: {result['max_train_records'] or 'all'} records requested, "
             f"{', '.join(map(str, result['development_records_per_fold']))} used (inner "
             "train + inner validation). Same folds, seed and settings in every arm.", "",
             "| arm | pooled AUROC (95 % CI) | fold AUROC mean +- SD | "
             f"pooled diff. vs {ref or '-'} (paired 95 % CI) | per-fold diff. mean +- SD | "
             "folds better/worse | sign test p |",
             "|---|---|---|---|---|---|---|"]
    for entry in result["arms"]:
        fold = entry["fold_auroc"]
        sd = "" if fold["sd"] is None else f" +- {fold['sd']:.3f}"
        cells = [entry["arm"], _ci(entry["pooled_auroc"]), f"{_num(fold['mean'])}{sd}"]
        if "pooled_difference" in entry:
            diff = entry["per_fold_difference"]
            dsd = "" if diff["sd"] is None else f" +- {diff['sd']:.3f}"
            cells += [_ci(entry["pooled_difference"], True), f"{_num(diff['mean'], True)}{dsd}",
                      f"{diff['better']}/{diff['worse']}", _num(diff["sign_test_p"])]
        else:
            cells += ["(reference)" if entry["arm"] == ref else "-", "-", "-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "How to read it: intervals resample patients (held-out predictions of all "
              "folds pooled, each fold's logits centred at its own validation threshold) "
              "with the trained models fixed, so they show sampling noise of the evaluated "
              "patients, not the variation of retraining. Per-fold differences come from "
              "folds that share training records; the sign count is descriptive, not an "
              "independent test. A difference whose interval includes 0 is not evidence "
              "either way."]
    if result["synthetic"]:
        lines.append("SYNTHETIC DATA: these numbers only show that the machinery works; they "
                     "say nothing about real ECGs or real PE.")
    return "\n".join(lines) + "\n"
