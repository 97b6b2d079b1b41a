"""Writes an evaluation to a run directory: `metrics.json` and a readable `summary.txt`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.metrics import METRIC_NAMES

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping
    from typing import Any

_TITLES = {
    "auroc": "AUROC",
    "average_precision": "Average precision",
    "precision": "Precision",
    "sensitivity": "Sensitivity (recall)",
    "specificity": "Specificity",
    "f1": "F1",
    "g_mean": "G-mean",
    "ppv": "PPV",
    "npv": "NPV",
}
_COLUMNS = (
    "auroc",
    "average_precision",
    "sensitivity",
    "specificity",
    "npv",
    "ppv",
    "f1",
    "sensitivity_at_specificity",
)
_SHORT = {
    "auroc": "AUROC",
    "average_precision": "AP",
    "sensitivity": "sens",
    "specificity": "spec",
    "npv": "NPV",
    "ppv": "PPV",
    "f1": "F1",
    "sensitivity_at_specificity": "sens@spec",
}


def _num(value, reason=None):
    """A metric to 3 decimals; None is "n/a", with its reason when one is known."""
    if value is None:
        return "n/a" if reason is None else f"n/a ({reason})"
    return f"{value:.3f}"


def _metric_title(name, point):
    if name == "sensitivity_at_specificity":
        return f"Sensitivity at specificity >= {point['fixed_specificity']:.2f}"
    if name == "specificity_at_sensitivity":
        return f"Specificity at sensitivity >= {point['fixed_sensitivity']:.2f}"
    return _TITLES[name]


def _header(metrics, title):
    point, macro = metrics["operating_point"], metrics["macro"]
    choice = point.get("threshold_choice")
    if choice:
        target = "" if choice.get("target") is None else f", target {choice['target']:g}"
        origin = (
            f"thresholds chosen on {choice.get('chosen_on', 'validation')} data "
            f"(method {choice['method']!r}{target})"
        )
    else:
        origin = (
            "thresholds given by the caller; they must come from validation data, "
            "never from the data evaluated here"
        )
    prevalence = point["prevalence"]
    lines = [
        title,
        "=" * len(title),
        "",
        f"Records: {metrics['n_records']}    classes scored: {macro['n_classes']} of "
        f"{len(metrics['label_names'])}    exact-match accuracy: "
        f"{_num(metrics.get('exact_match_accuracy'))}",
        f"Operating point: {point['rule']}; {origin}.",
        "Sensitivity/specificity at a fixed specificity/sensitivity are read off this "
        "data's ROC curve (no threshold carried over).",
        "PPV and NPV at "
        + (
            "each class's own prevalence in this data."
            if prevalence == "cohort"
            else f"prevalence {prevalence}."
        ),
    ]
    boot = metrics.get("bootstrap")
    if boot:
        lines.append(
            f"Bootstrap: {boot['n_boot']} resamples by {boot['resampled_by']} "
            f"({boot['method']}, {100 * (1 - boot['alpha']):g} % CI), "
            f"{boot['n_skipped']} skipped (a scored class without positives or "
            "negatives)."
        )
    for name, reason in macro.get("excluded", {}).items():
        lines.append(f"Excluded from macro averages: {name} ({reason}).")
    for metric, classes in macro.get("undefined", {}).items():
        lines.append(
            f"{_TITLES.get(metric, metric)} undefined, left out of its macro average: "
            + ", ".join(f"{c} ({r})" for c, r in classes.items())
            + "."
        )
    return lines


def summary_text(metrics: Mapping[str, Any], *, title: str) -> str:
    """Renders a `compute_metrics` / `metrics_with_ci` dict as plain text."""
    point, macro, ci = metrics["operating_point"], metrics["macro"], metrics.get("macro_ci", {})
    level = f"{100 * (1 - metrics['bootstrap']['alpha']):g} % CI" if ci else ""
    lines = _header(metrics, title) + ["", f"{'Macro metric':<40}{'value':>8}   {level}"]
    for name in METRIC_NAMES:
        reason = (
            "undefined in every scored class"
            if macro[name] is None and name in macro.get("undefined", {})
            else None
        )
        row = f"{_metric_title(name, point):<40}{_num(macro[name], reason):>8}"
        if name in ci and ci[name]["ci_low"] is not None:
            row += f"   [{_num(ci[name]['ci_low'])}, {_num(ci[name]['ci_high'])}]"
        lines.append(row)
    width = max([10] + [len(n) + 2 for n in metrics["per_label"]])
    lines += [
        "",
        "Per label",
        f"{'label':<{width}}{'n_pos':>7}{'n_neg':>7}{'thresh':>8}"
        + "".join(f"{_SHORT[k]:>10}" for k in _COLUMNS),
    ]
    for name, entry in metrics["per_label"].items():
        row = (
            f"{name:<{width}}{entry['n_positive']:>7}{entry['n_negative']:>7}"
            f"{entry['threshold']:>8.3f}"
        )
        if entry.get("reason"):
            lines.append(f"{row}   excluded: {entry['reason']}")
        else:
            lines.append(row + "".join(f"{_num(entry[k]):>10}" for k in _COLUMNS))
            lines += [
                f"{'':<{width}}{_SHORT.get(k, k)} {_num(None, why)}"
                for k, why in entry.get("undefined", {}).items()
            ]
    return "\n".join(lines) + "\n"


def write_report(
    metrics: Mapping[str, Any], out_dir: os.PathLike | str, *, title: str
) -> dict[str, Path]:
    """Writes `metrics.json` and `summary.txt` into `out_dir` (created if missing).

    Both files are written atomically, so an interrupted run never leaves a half report.

    Args:
        metrics: the dict of `compute_metrics` or `metrics_with_ci`.
        out_dir: the directory to write into.
        title: the first line of `summary.txt`.

    Returns:
        A dict `{"json": Path, "summary": Path}`.
    """
    for key in ("operating_point", "macro", "per_label", "label_names", "n_records"):
        if key not in metrics:
            raise ConfigError(
                f"`metrics` must come from compute_metrics; it lacks {key!r}. "
                f"Received keys: {sorted(metrics)}"
            )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = summary_text(metrics, title=title)  # before writing: a bad dict writes nothing
    try:
        atomic_write_json(out_dir / "metrics.json", metrics)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"`metrics` is not JSON-safe: {error}") from None
    atomic_write_bytes(out_dir / "summary.txt", text.encode("utf-8"))
    return {"json": out_dir / "metrics.json", "summary": out_dir / "summary.txt"}
