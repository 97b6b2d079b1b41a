"""The files of one evaluation: metrics.json, summary.txt, predictions.csv, plots, report.

`write_evaluation` writes everything `evaluate_run` computed into the evaluation folder.
`metrics.json` is checked against `schemas/evaluation_metrics.schema.json` before any file
is written, and the study report (`report.txt`, `report.html`, `report.json`) is built
from the same dict by `evaluation.study_report.build_study_report`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import run_directory, schemas
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.evaluation import (
    decide,
    plot_decision_curve,
    plot_precision_recall,
    plot_reliability,
    plot_roc,
    sigmoid,
)
from keras_ecgpe.evaluation.report import summary_text
from keras_ecgpe.evaluation.study_report import build_study_report, study_summary_lines
from keras_ecgpe.formatting import format_number
from keras_ecgpe.reporting import write_report

if TYPE_CHECKING:
    import numpy as np

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.evaluation.thresholds import ThresholdChoice

DECISION_CURVE_PLOT = "decision_curve{suffix}.png"


def _predictions_csv(path: Path, metrics, y, logits, calibrated, mask, ids, cache, choice) -> None:
    names = metrics["label_names"]
    probs = sigmoid(calibrated)
    positive = decide(logits, choice)  # THE decision rule: raw logit >= the stored cut
    header = ["record_id", "patient_id"] + [
        f"{n}_{k}" for n in names for k in ("label", "logit", "probability", "positive")
    ]
    lines = [",".join(header)]
    for row, record in enumerate(ids):
        cells = [str(cache.record_ids[record]), str(cache.patient_ids[record])]
        for c in range(len(names)):
            label = f"{y[row, c]:g}" if mask[row, c] else ""
            cells += [
                label,
                f"{logits[row, c]:.6g}",
                f"{probs[row, c]:.6g}",
                str(int(positive[row, c])),
            ]
        lines.append(",".join(cells))
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _plots(out: Path, metrics, y, logits, mask, choice) -> dict:
    names, split = metrics["label_names"], metrics["split"]
    suffix = " (SYNTHETIC data)" if metrics["synthetic"] else ""
    calibration = metrics["calibration"]
    files = {
        key: plot(
            y,
            logits,
            out / file,
            label_names=names,
            thresholds=choice,
            mask=mask,
            title=f"{what}, {split}{suffix}",
        )
        for key, plot, file, what in (
            ("roc", plot_roc, run_directory.ROC_PLOT, "ROC"),
            ("pr", plot_precision_recall, run_directory.PR_PLOT, "Precision-recall"),
        )
    }
    files["calibration"] = plot_reliability(
        y,
        logits,
        out / run_directory.CALIBRATION_PLOT,
        temperature=calibration["temperature"],
        bias=calibration["bias"],
        mask=mask,
        title=f"Reliability after calibration, {split}{suffix}",
    )
    for name in names:
        curve = metrics["study"][name]["decision_curve"]
        if "rows" not in curve:
            continue
        key = "decision_curve" if len(names) == 1 else f"decision_curve_{name}"
        file = DECISION_CURVE_PLOT.format(suffix="" if len(names) == 1 else f"_{name}")
        files[key] = plot_decision_curve(
            curve, out / file, title=f"Decision curve, {name}, {split}{suffix}"
        )
    return {key: str(path) for key, path in files.items()}


def _summary(metrics) -> str:
    tag = "SYNTHETIC data - " if metrics["synthetic"] else ""
    title = f"{metrics['model_name']} on the {metrics['split']} split ({tag}{metrics['cache']})"
    calibration = metrics["calibration"]
    text = summary_text(metrics, title=title) + (
        f"\nCalibration (fitted on validation): temperature "
        f"{calibration['temperature']:.3f}, bias "
        f"{', '.join(f'{b:+.3f}' for b in calibration['bias'])}: ECE "
        f"{format_number(calibration['ece_after'])} after "
        f"({format_number(calibration['ece_before'])} before).\n"
    )
    text += "\n" + "\n".join(study_summary_lines(metrics)) + "\n"
    if metrics["synthetic"]:
        text += "SYNTHETIC DATA: these numbers say nothing about real ECGs.\n"
    return text


def write_evaluation(
    out: Path,
    metrics: dict,
    y: np.ndarray,
    logits: np.ndarray,
    calibrated: np.ndarray,
    mask: np.ndarray,
    ids: np.ndarray,
    cache: PreparedCache,
    choice: ThresholdChoice,
    *,
    plots: bool = True,
) -> dict:
    """Writes an evaluation's files into `out`; returns `{kind: path}` (also in metrics.json).

    Raises:
        ECGPEError: `metrics` does not match the metrics schema (nothing is written).
    """
    files = {
        "metrics": str(out / run_directory.METRICS),
        "summary": str(out / run_directory.SUMMARY),
        "predictions": str(out / run_directory.PREDICTIONS),
        "report_text": str(out / "report.txt"),
        "report_html": str(out / "report.html"),
        "report_json": str(out / "report.json"),
    }
    document = {**{k: v for k, v in metrics.items() if k != "files"}, "files": files}
    # Validated as it will be read back (tuples become lists); before anything is written.
    schemas.validate(
        json.loads(json.dumps(document, allow_nan=False)),
        "evaluation_metrics",
        out / run_directory.METRICS,
    )
    _predictions_csv(
        out / run_directory.PREDICTIONS, metrics, y, logits, calibrated, mask, ids, cache, choice
    )
    if plots:
        files.update(_plots(out, metrics, y, logits, mask, choice))
    document["files"] = files
    write_report(build_study_report(document), out, stem="report")
    atomic_write_bytes(out / run_directory.SUMMARY, _summary(document).encode("utf-8"))
    atomic_write_json(out / run_directory.METRICS, document)
    return files
