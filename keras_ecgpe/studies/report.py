"""Readable text of a cross-validation summary (`cv_summary.txt`)."""

from __future__ import annotations

SHOWN = ("auroc", "average_precision", "sensitivity_at_specificity", "sensitivity",
         "specificity", "f1")
SHORT = {"auroc": "AUROC", "average_precision": "AP", "sensitivity_at_specificity": "sens@spec",
         "sensitivity": "sens", "specificity": "spec", "f1": "F1"}


def _num(value) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def _ci(entry) -> str:
    if not entry or entry.get("ci_low") is None:
        return ""
    return f" ({_num(entry['ci_low'])}-{_num(entry['ci_high'])})"


def summary_text(summary: dict) -> str:
    """The per-fold table, mean +- SD per metric, pooled metrics with 95 % CIs, caveats."""
    tag = "SYNTHETIC data - " if summary.get("synthetic") else ""
    lines = [f"Cross-validation ({tag}{summary['repeats']} x {summary['k']} folds, "
             f"patient-level, stratified) on {summary['cache']}",
             f"Labels: {', '.join(summary['label_names'])}. Training part per fold capped "
             f"at {summary['max_train_records'] or 'no'} records. Test split: "
             f"{summary['test_split']}.", "",
             "fold     n_train  n_val  n_heldout  " + "  ".join(f"{SHORT[m]:>10}" for m in SHOWN)]
    for fold in summary["per_fold"]:
        lines.append(f"{fold['fold']:<8} {fold['n_train']:>7}  {fold['n_validation']:>5}  "
                     f"{fold['n_heldout']:>9}  " +
                     "  ".join(f"{_num(fold['macro'].get(m)):>10}" for m in SHOWN))
    lines += ["", "Mean +- SD over folds (held-out macro metrics):"]
    for name in SHOWN:
        entry = summary["fold_mean_sd"][name]
        sd = "" if entry["sd"] is None else f" +- {entry['sd']:.3f}"
        lines.append(f"  {name:<28} {_num(entry['mean'])}{sd}  ({entry['n_folds']} folds)")
    lines += ["", f"Pooled held-out predictions per repeat (95 % CI, bootstrap by "
                  f"{summary['resampled_by']}):"]
    for pooled in summary["pooled_per_repeat"]:
        ci = pooled.get("macro_ci") or {}
        cells = ", ".join(f"{m} {_num(pooled['macro'].get(m)).strip()}{_ci(ci.get(m))}"
                          for m in SHOWN[:3])
        lines.append(f"  repeat {pooled['repeat']} ({pooled['n_records']} records): {cells}")
    over = summary["pooled_auroc_mean_over_repeats"]
    lines += [f"  pooled macro AUROC averaged over repeats: {_num(over['value']).strip()}"
              f"{_ci(over)}", "",
              "Notes: thresholds were chosen on each fold's inner validation part; pooled "
              "logits are centred at each fold's threshold before pooling. Intervals "
              "resample patients with the trained models fixed: they leave out the "
              "variation of retraining. Per-fold values share training records, so their "
              "SD understates the uncertainty of the mean."]
    if summary.get("synthetic"):
        lines.append("SYNTHETIC DATA: these numbers say nothing about real ECGs.")
    return "\n".join(lines) + "\n"
