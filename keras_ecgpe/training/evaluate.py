"""`evaluate_run`: score a trained model once on a split it never saw (by default: test).

The model is applied exactly as its contract states: the cache must be compatible (fs,
leads, preprocessing, labels), records are cut into the contract's unaugmented windows
and aggregated per record, logits are calibrated with the validation temperature and bias,
and compared with the validation thresholds. Nothing is fitted or chosen on the evaluated data.
"""

from __future__ import annotations

from keras_ecgpe import run_directory
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.data.cache import PreparedCache
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import (
    ThresholdChoice,
    apply_temperature,
    compute_metrics,
    metrics_with_ci,
    plot_precision_recall,
    plot_reliability,
    plot_roc,
    sigmoid,
)
from keras_ecgpe.evaluation.inputs import probability_to_logit
from keras_ecgpe.evaluation.report import summary_text
from keras_ecgpe.formatting import format_number
from keras_ecgpe.inference import contract_io
from keras_ecgpe.training.config import TrainConfig
from keras_ecgpe.training.contract import check_compatible, is_synthetic
from keras_ecgpe.training.finish import calibration_summary


def _run_settings(files: run_directory.RunFiles) -> dict:
    """The run's `evaluation` section (bootstrap, fixed operating points), if it has one."""
    if not files.config.is_file():
        return {}
    return TrainConfig.from_file(files.config).evaluation.to_dict()


def evaluate_run(
    model_or_run,
    cache_path,
    *,
    split: str = "test",
    out_dir=None,
    n_boot: int | None = None,
    prevalence=None,
    seed: int = 0,
    overwrite: bool = False,
    plots: bool = True,
) -> dict:
    """Evaluates a trained model on one split of a prepared cache; writes a report.

    Args:
        model_or_run: a run directory or a `.keras` file with `contract.json` beside it.
        cache_path: a prepared cache compatible with the model's contract.
        split: the split to score ("test" by default; "validation", "train" or "" too).
        out_dir: where to write; default `<run>/eval-<split>`. Must be new or empty
            (or `overwrite`): the test set is meant to be scored once.
        n_boot: bootstrap resamples for 95 % intervals (default: the run's
            `evaluation.bootstrap`, else 1000; 0: none). Patients are resampled whole when
            every record has a patient id.
        prevalence: None (PPV/NPV at the cohort's prevalence) or the prevalence of the
            population the test serves (scalar or one per class).
        seed: bootstrap seed.
        overwrite: replace a previous evaluation in `out_dir`.
        plots: write roc.png, pr.png and calibration.png.

    Returns:
        The metrics dict (as `metrics.json`) with "files" added.

    Raises:
        ConfigError: a missing model/contract, an incompatible cache (each mismatch
            named), an empty split.
    """
    model, contract, files = run_directory.load_run(model_or_run)
    cache = PreparedCache.open(cache_path)
    check_compatible(contract, cache)
    rows = cache.indices(split)
    if rows.size == 0:
        raise ConfigError(f"{cache.path}: no records in split {split!r}")
    settings = _run_settings(files)
    n_boot = int(settings.get("bootstrap", 1000) if n_boot is None else n_boot)
    fixed = dict(
        fixed_specificity=float(settings.get("fixed_specificity", 0.9)),
        fixed_sensitivity=float(settings.get("fixed_sensitivity", 0.9)),
    )
    out = run_directory.prepare_run_dir(
        run_directory.eval_dir(files.run_dir, split) if out_dir is None else out_dir,
        overwrite=overwrite,
        marker=run_directory.METRICS,
    )

    from keras_ecgpe.training.run_data import WindowPlan, predict_records

    names = list(contract["label_names"])
    y, logits, mask, ids = predict_records(model, cache, rows, WindowPlan.from_contract(contract))
    temperature = contract_io.temperature(contract)
    bias = contract_io.calibration_bias(contract)
    choice = ThresholdChoice.from_dict(contract["thresholds"])
    patients = cache.patient_ids[ids]
    groups = patients if all(str(p) for p in patients) else None
    common = dict(mask=mask, label_names=names, prevalence=prevalence, **fixed)
    # Decisions on raw logits (the contract's rule); temperature and bias only calibrate.
    metrics = (
        metrics_with_ci(y, logits, choice, n_boot=n_boot, seed=seed, groups=groups, **common)
        if n_boot > 0
        else compute_metrics(y, logits, choice, **common)
    )
    synthetic = is_synthetic(cache)
    metrics.update(
        split=split,
        synthetic=synthetic,
        model=str(files.model),
        cache=str(cache.path),
        model_name=contract["model_name"],
        calibration=calibration_summary(y, logits, mask, temperature, bias, names),
    )
    metrics["files"] = _write(out, metrics, y, logits, mask, ids, cache, choice, plots, synthetic)
    return metrics


def _write(out, metrics, y, logits, mask, ids, cache, choice, plots, synthetic):
    tag = "SYNTHETIC data - " if synthetic else ""
    title = f"{metrics['model_name']} on the {metrics['split']} split ({tag}{cache.path})"
    names = metrics["label_names"]
    calibration = metrics["calibration"]
    text = summary_text(metrics, title=title) + (
        f"\nCalibration (fitted on validation): temperature "
        f"{calibration['temperature']:.3f}, bias "
        f"{', '.join(f'{b:+.3f}' for b in calibration['bias'])}: ECE "
        f"{format_number(calibration['ece_before'])} before, "
        f"{format_number(calibration['ece_after'])} after.\n"
    )
    if synthetic:
        text += "SYNTHETIC DATA: these numbers say nothing about real ECGs.\n"
    files = {
        "metrics": str(out / run_directory.METRICS),
        "summary": str(out / run_directory.SUMMARY),
        "predictions": str(out / run_directory.PREDICTIONS),
    }
    probs = sigmoid(apply_temperature(logits, calibration["temperature"], calibration["bias"]))
    positive = logits >= probability_to_logit(choice.thresholds)
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
    atomic_write_bytes(out / run_directory.PREDICTIONS, ("\n".join(lines) + "\n").encode("utf-8"))
    if plots:
        suffix = " (SYNTHETIC data)" if synthetic else ""
        files["roc"] = str(
            plot_roc(
                y,
                logits,
                out / run_directory.ROC_PLOT,
                label_names=names,
                thresholds=choice,
                mask=mask,
                title=f"ROC, {metrics['split']}{suffix}",
            )
        )
        files["pr"] = str(
            plot_precision_recall(
                y,
                logits,
                out / run_directory.PR_PLOT,
                label_names=names,
                thresholds=choice,
                mask=mask,
                title=f"Precision-recall, {metrics['split']}{suffix}",
            )
        )
        files["calibration"] = str(
            plot_reliability(
                y,
                logits,
                out / run_directory.CALIBRATION_PLOT,
                temperature=calibration["temperature"],
                bias=calibration["bias"],
                mask=mask,
                title=f"Reliability, {metrics['split']}{suffix}",
            )
        )
    metrics_out = {k: v for k, v in metrics.items() if k != "files"}
    metrics_out["files"] = files
    atomic_write_json(out / run_directory.METRICS, metrics_out)
    atomic_write_bytes(out / run_directory.SUMMARY, text.encode("utf-8"))
    return files
