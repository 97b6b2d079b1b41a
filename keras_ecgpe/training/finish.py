"""The end of a run: reload the best model, calibrate and choose thresholds on VALIDATION.

Cuts are chosen on the RAW validation logits and stored as logits; the decision rule is
`evaluation.decide` (`raw logit >= logit cut`). The temperature and per-class bias (also
fitted on validation) only calibrate the probability reported, `sigmoid(logit / T + b)`, so
they never move a decision (the contract also lists the cuts on that calibrated scale, for
display). The metrics written here use cuts tuned on that very split, so their thresholded
values are optimistic - the summary says so; only the test evaluation (`evaluate_run`) is
an unbiased estimate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import run_directory
from keras_ecgpe.data.atomic import atomic_write_bytes, atomic_write_json
from keras_ecgpe.evaluation import (
    apply_temperature,
    choose_thresholds,
    compute_metrics,
    expected_calibration_error,
    fit_calibration,
    plot_training_curves,
    sigmoid,
)
from keras_ecgpe.evaluation.report import summary_text
from keras_ecgpe.formatting import format_number
from keras_ecgpe.training.contract import make_contract
from keras_ecgpe.training.run_data import predict_records

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    import numpy as np
    from numpy.typing import ArrayLike

    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.training.config import TrainConfig
    from keras_ecgpe.training.run_data import WindowPlan


def calibration_summary(
    y: np.ndarray,
    logits: np.ndarray,
    mask: np.ndarray,
    temperature: float,
    bias: ArrayLike | None,
    label_names: Sequence[str],
) -> dict:
    """Macro ECE of `sigmoid(logits)` and of `sigmoid(logits / T + b)` (15 bins)."""
    before = expected_calibration_error(y, sigmoid(logits), mask=mask, label_names=label_names)
    after = expected_calibration_error(
        y, sigmoid(apply_temperature(logits, temperature, bias)), mask=mask, label_names=label_names
    )
    return {
        "temperature": float(temperature),
        "bias": [float(b) for b in bias],
        "fitted_on": "validation",
        "ece_before": before["macro"],
        "ece_after": after["macro"],
        "ece_per_class_after": after["per_class"],
        "n_bins": after["n_bins"],
    }


def finish_run(
    run_dir: Path,
    config: TrainConfig,
    cache: PreparedCache,
    val_rows: np.ndarray,
    plan: WindowPlan,
    model_name: str,
    details: dict,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Writes contract.json, validation_metrics.json/summary and training_curves.png.

    Returns:
        `(macro validation metrics dict, {"contract", "validation_metrics",
        "training_curves"} paths)`.
    """
    best = run_directory.load_model(run_dir / run_directory.BEST_MODEL)
    names = list(cache.label_names)
    y, logits, mask, _ = predict_records(best, cache, val_rows, plan)
    temperature, bias = (
        fit_calibration(y, logits, mask=mask)
        if config.evaluation.calibrate
        else (1.0, [0.0] * len(names))
    )
    choice = choose_thresholds(
        y, logits, method=config.thresholds.method, target=config.thresholds.target, mask=mask
    )
    contract = make_contract(
        cache=cache,
        model_name=model_name,
        window=plan.window,
        stride=plan.stride,
        eval_mode=plan.mode,
        aggregate=plan.aggregate,
        label_names=names,
        threshold_choice=choice.to_dict(),
        temperature=temperature,
        calibration_bias=bias,
        standardizer=None if plan.standardizer is None else plan.standardizer.to_dict(),
    )
    contract["training"] = {
        k: details[k]
        for k in (
            "n_train",
            "n_validation",
            "best_epoch",
            "monitor",
            "best_value",
            "transferred_from",
        )
    }
    contract_path = run_directory.save_contract(contract, run_dir)

    metrics = compute_metrics(
        y,
        logits,
        choice,
        mask=mask,
        label_names=names,
        fixed_specificity=config.evaluation.fixed_specificity,
        fixed_sensitivity=config.evaluation.fixed_sensitivity,
    )
    metrics["calibration"] = calibration_summary(y, logits, mask, temperature, bias, names)
    metrics["split"] = "validation"
    metrics["synthetic"] = details["synthetic"]
    metrics["caveat"] = (
        "calibration and thresholds were fitted on this validation split: "
        "thresholded metrics here are optimistic; report the test evaluation"
    )
    tag = "SYNTHETIC data - " if details["synthetic"] else ""
    title = f"Validation metrics ({tag}{model_name}, best epoch {details['best_epoch']})"
    text = summary_text(metrics, title=title)
    text += (
        f"\nCalibration: temperature {temperature:.3f}, bias "
        f"{', '.join(f'{b:+.3f}' for b in bias)} (ECE "
        f"{format_number(metrics['calibration']['ece_before'])} -> "
        f"{format_number(metrics['calibration']['ece_after'])}).\nCaveat: "
        f"{metrics['caveat']}.\n"
    )
    if details["synthetic"]:
        text += "SYNTHETIC DATA: these numbers say nothing about real ECGs.\n"
    atomic_write_json(run_dir / run_directory.VALIDATION_METRICS, metrics)
    atomic_write_bytes(run_dir / run_directory.VALIDATION_SUMMARY, text.encode("utf-8"))
    curves = plot_training_curves(
        run_dir / run_directory.HISTORY,
        run_dir / run_directory.TRAINING_CURVES,
        metric="macro_auroc",
        title=f"Training {model_name}{' (SYNTHETIC data)' if details['synthetic'] else ''}",
    )
    macro = metrics["macro"]
    say(
        f"Validation{' (SYNTHETIC)' if details['synthetic'] else ''}: macro AUROC "
        f"{format_number(macro['auroc'])}, AP {format_number(macro['average_precision'])}, "
        f"ECE {format_number(metrics['calibration']['ece_after'])} after calibration; run "
        f"directory {run_dir}"
    )
    return macro, {
        "contract": contract_path,
        "validation_metrics": run_dir / run_directory.VALIDATION_METRICS,
        "training_curves": curves,
    }
