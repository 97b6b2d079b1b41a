"""PNG figures of an evaluation: ROC, precision-recall, reliability, training curves.

Figures are built as `matplotlib.figure.Figure` objects rendered by the Agg canvas, never
through `pyplot`: no global backend is switched (a notebook importing this keeps its own),
no figure is registered anywhere, so nothing leaks and nothing needs closing, and plotting
works without a display. Each `plot_*` writes its PNG atomically (temporary file in the same
directory, then `os.replace`) and returns the path.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from keras_ecgpe.data.atomic import atomic_open
from keras_ecgpe.errors import ConfigError, RecordError
from keras_ecgpe.evaluation import ranking
from keras_ecgpe.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    reliability_curve,
)
from keras_ecgpe.evaluation.inputs import check_inputs, cut_array, sigmoid
from keras_ecgpe.evaluation.metrics import exclusion_reasons, label_name_list

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence
    from typing import Any

    from numpy.typing import ArrayLike

    from keras_ecgpe.evaluation.thresholds import ThresholdChoice


def _save(fig, path):
    path = Path(path)
    with atomic_open(path) as handle:
        fig.savefig(handle, format="png", dpi=120)
    return path


def _classes(y_true, logits, mask, label_names, thresholds):
    """Yields `(name, y, z, cut or None, reason)` per class over its unmasked entries."""
    y, z, m = check_inputs(y_true, logits, mask)
    names = label_name_list(label_names, y.shape[1])
    cuts = None if thresholds is None else cut_array(thresholds, y.shape[1])
    for c, reason in enumerate(exclusion_reasons(y, m)):
        keep = m[:, c]
        yield names[c], y[keep, c], z[keep, c], None if cuts is None else cuts[c], reason


def plot_roc(
    y_true: ArrayLike,
    logits: ArrayLike,
    path: os.PathLike | str,
    *,
    label_names: Sequence[str],
    thresholds: ThresholdChoice | ArrayLike | None = None,
    mask: ArrayLike | None = None,
    title: str = "ROC",
) -> Path:
    """One ROC curve per class, AUROC in the legend, the threshold's operating point marked.

    Args:
        y_true: `(n, C)` labels; logits: `(n, C)` logits; path: the PNG to write.
        label_names: the C class names.
        thresholds: optional `ThresholdChoice` (or `(C,)` probabilities) from validation.
        mask: optional `(n, C)` label mask.
        title: figure title.
    """
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="chance")
    for name, y, z, cut, reason in _classes(y_true, logits, mask, label_names, thresholds):
        if reason:
            ax.plot([], [], " ", label=f"{name}: not plotted ({reason})")
            continue
        fpr, tpr, _ = ranking.roc_curve(y, z)
        (line,) = ax.plot(fpr, tpr, lw=1.5, label=f"{name} (AUROC {ranking.auroc(y, z):.3f})")
        if cut is not None:
            pred = z >= cut
            sens, fp_rate = pred[y].mean(), pred[~y].mean()
            ax.plot(
                fp_rate,
                sens,
                "o",
                color=line.get_color(),
                ms=7,
                mec="black",
                label=f"{name} at threshold {sigmoid(cut):.3g}: "
                f"sens {sens:.2f}, spec {1 - fp_rate:.2f}",
            )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="1 - specificity (false positive rate)",
        ylabel="sensitivity (true positive rate)",
        title=title,
        aspect="equal",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_precision_recall(
    y_true: ArrayLike,
    logits: ArrayLike,
    path: os.PathLike | str,
    *,
    label_names: Sequence[str],
    thresholds: ThresholdChoice | ArrayLike | None = None,
    mask: ArrayLike | None = None,
    title: str = "Precision-recall",
) -> Path:
    """One precision-recall curve per class, average precision and prevalence in the legend."""
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    for name, y, z, cut, reason in _classes(y_true, logits, mask, label_names, thresholds):
        if reason:
            ax.plot([], [], " ", label=f"{name}: not plotted ({reason})")
            continue
        precision, recall, _ = ranking.precision_recall_curve(y, z)
        (line,) = ax.step(
            np.r_[0.0, recall],
            np.r_[precision[0], precision],
            where="pre",
            lw=1.5,
            label=f"{name} (AP {ranking.average_precision(y, z):.3f}, prevalence {y.mean():.2f})",
        )
        if cut is not None and (z >= cut).any():
            pred = z >= cut
            ax.plot(
                pred[y].mean(),
                y[pred].mean(),
                "o",
                color=line.get_color(),
                ms=7,
                mec="black",
                label=f"{name} at threshold {sigmoid(cut):.3g}",
            )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="recall (sensitivity)",
        ylabel="precision (PPV)",
        title=title,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def plot_reliability(
    y_true: ArrayLike,
    logits: ArrayLike,
    path: os.PathLike | str,
    *,
    temperature: float | None = None,
    bias: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    n_bins: int = 15,
    title: str = "Reliability",
) -> Path:
    """Reliability diagram of all unmasked entries, before and (given `temperature`, and
    optionally a per-class `bias`) after calibration, with the expected calibration error in
    the legend."""
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="perfect calibration")
    versions = [("uncalibrated", np.asarray(logits, dtype=np.float64))]
    if temperature is not None:
        name = f"T = {temperature:.2f}" + ("" if bias is None else ", per-class bias")
        versions.append((name, apply_temperature(logits, temperature, bias)))
    for label, z in versions:
        probs = sigmoid(z)
        curve = reliability_curve(y_true, probs, n_bins=n_bins, mask=mask)
        y, _, m = check_inputs(y_true, z, mask)
        ece = expected_calibration_error(y[m], probs.reshape(y.shape)[m], n_bins)["macro"]
        filled = curve.counts > 0
        ax.plot(
            curve.predicted[filled],
            curve.observed[filled],
            "o-",
            ms=4,
            label=f"{label} (ECE {ece:.3f})",
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean predicted probability",
        ylabel="observed frequency",
        title=title,
        aspect="equal",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_decision_curve(
    curve: Mapping[str, Any], path: os.PathLike | str, *, title: str = "Decision curve"
) -> Path:
    """Net benefit of the model, treat-all and treat-none against the threshold probability.

    Args:
        curve: the dict of `decision_curve` (its "rows").
        path: the PNG to write.
        title: figure title.
    """
    rows = curve.get("rows") if isinstance(curve, dict) else None
    if not rows:
        raise ConfigError(
            f"`curve` must be a `decision_curve` result with rows. Received: {type(curve).__name__}"
        )
    pt = 100 * np.array([r["threshold"] for r in rows])
    model = np.array([r["net_benefit_model"] for r in rows])
    treat_all = np.array([r["net_benefit_treat_all"] for r in rows])
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    ax.plot(pt, model, "o-", ms=4, color="tab:blue", label="model")
    ax.plot(pt, treat_all, "s--", ms=3, color="tab:red", label="treat all")
    ax.axhline(0.0, color="0.3", lw=1, label="treat none")
    top = max(float(model.max()), float(treat_all.max()), 0.0)
    ax.set(
        xlabel="threshold probability (%)",
        ylabel="net benefit",
        title=title,
        ylim=(min(-0.05 * max(top, 0.01), float(model.min())), 1.1 * max(top, 0.01)),
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def _read_history(history_csv):
    try:
        with open(history_csv, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise RecordError(history_csv, f"cannot read the training history: {error}") from None
    if not rows:
        raise RecordError(history_csv, "the training history has no epochs")
    try:
        return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    except (TypeError, ValueError):
        raise RecordError(history_csv, "the training history holds non-numeric values") from None


def plot_training_curves(
    history_csv: os.PathLike | str,
    path: os.PathLike | str,
    *,
    metric: str | None = None,
    title: str = "Training",
) -> Path:
    """Loss and one metric per epoch, training vs validation, from a Keras `CSVLogger` file.

    Args:
        history_csv: CSV with an `epoch` column, `loss`, and optional `val_*` columns.
        path: the PNG to write.
        metric: the metric column to plot; default the first one with a `val_` twin.
        title: figure title.
    """
    history = _read_history(history_csv)
    epochs = history.get("epoch", np.arange(len(next(iter(history.values())))))
    candidates = [
        k
        for k in history
        if k not in ("epoch", "loss", "lr", "learning_rate") and not k.startswith("val_")
    ]
    if metric is None:
        paired = [k for k in candidates if f"val_{k}" in history]
        metric = (paired or candidates or [None])[0]
    elif metric not in history:
        raise ConfigError(
            f"`metric` must be a column of {history_csv}: {sorted(history)}. "
            f"Received: metric={metric!r}"
        )
    panels = [k for k in ("loss", metric) if k is not None and k in history]
    if not panels:
        raise RecordError(history_csv, "the training history has no loss or metric column")
    fig = Figure(figsize=(5 * len(panels), 4))
    for ax, key in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels, strict=True):
        ax.plot(epochs, history[key], "o-", ms=3, label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s-", ms=3, label="validation")
        ax.set(xlabel="epoch", ylabel=key, title=key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)
