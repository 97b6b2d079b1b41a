"""Multi-label metrics of logits against labels, per class and macro-averaged.

Inputs are `y_true` `(n, C)` in {0, 1}, `logits` `(n, C)` and an optional label `mask`
`(n, C)` (0 where a record's label for a class is unknown: that entry is ignored for that
class). Ranking metrics (AUROC, average precision, sensitivity at a fixed specificity and the
reverse) use the logits; thresholded metrics use per-class logit cuts, applied as
`logit >= cut` (`thresholds.decide`). Macro averages cover only the classes with both positive
and negative examples; the others are reported as null with the reason, never averaged in.
A rate whose denominator is empty (PPV when no record is called positive, NPV when none is
called negative, precision and F1 likewise) is undefined: null with its reason, never 0, and
left out of the macro average, which says so.
PE is a rule-out problem, so sensitivity, specificity and NPV are first-class results, NPV
and PPV following Bayes from sensitivity and specificity at a chosen prevalence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import ranking
from keras_ecgpe.evaluation.inputs import (
    check_inputs,
    cut_array,
    json_float,
    prevalence_array,
    sigmoid,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

    from numpy.typing import ArrayLike

    from keras_ecgpe.evaluation.thresholds import ThresholdChoice

METRIC_NAMES = (
    "auroc",
    "average_precision",
    "precision",
    "sensitivity",
    "specificity",
    "f1",
    "g_mean",
    "ppv",
    "npv",
    "sensitivity_at_specificity",
    "specificity_at_sensitivity",
)
COUNT_NAMES = ("tp", "fp", "tn", "fn")


NO_CALLED_POSITIVE = "no record called positive"
NO_CALLED_NEGATIVE = "no record called negative"
NO_POSITIVE = "no positive record"
NO_NEGATIVE = "no negative record"


def _ratio(num, den):
    """`num / den`, NaN (undefined) where `den` is 0 or NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def rates_from_counts(
    tp: ArrayLike, fp: ArrayLike, tn: ArrayLike, fn: ArrayLike, prevalence: ArrayLike | None = None
) -> dict[str, np.ndarray]:
    """Precision, sensitivity (recall), specificity, F1, G-mean, PPV and NPV from counts.

    PPV and NPV follow Bayes' rule from sensitivity and specificity at `prevalence`
    (default: the counts' own, where they equal `tp/(tp+fp)` and `tn/(tn+fn)`). A rate
    whose denominator is empty is NaN, never 0: `undefined_reasons` says why.

    Example:
    >>> r = rates_from_counts(0, 0, 8, 2)  # nothing called positive
    >>> bool(np.isnan(r["ppv"])), float(r["npv"])
    (True, 0.8)
    """
    tp, fp, tn, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, tn, fn))
    p = _ratio(tp + fn, tp + fn + tn + fp) if prevalence is None else prevalence
    sens, spec = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    ppv_num, npv_num = sens * p, spec * (1 - p)
    ppv_den, npv_den = ppv_num + (1 - spec) * (1 - p), npv_num + (1 - sens) * p
    called_pos, called_neg = tp + fp > 0, tn + fn > 0
    precision = _ratio(tp, tp + fp)
    return {
        "precision": precision,
        "sensitivity": sens,
        "specificity": spec,
        "f1": np.where(called_pos & (tp + fn > 0), _ratio(2 * tp, 2 * tp + fp + fn), np.nan),
        "g_mean": np.sqrt(sens * spec),
        "ppv": np.where(called_pos, _ratio(ppv_num, ppv_den), np.nan),
        "npv": np.where(called_neg, _ratio(npv_num, npv_den), np.nan),
    }


def undefined_reasons(tp: int, fp: int, tn: int, fn: int) -> dict:
    """Why each rate of one class's scalar counts is undefined: `{metric: reason}`.

    Example:
    >>> undefined_reasons(0, 0, 8, 2)
    {'precision': 'no record called positive', 'f1': 'no record called positive', \
'ppv': 'no record called positive'}
    """
    tp, fp, tn, fn = (float(v) for v in (tp, fp, tn, fn))
    out = {}
    if tp + fn == 0:
        out.update(sensitivity=NO_POSITIVE, g_mean=NO_POSITIVE)
    if tn + fp == 0:
        out.update(specificity=NO_NEGATIVE, g_mean=NO_NEGATIVE)
    if tp + fp == 0:
        out.update(precision=NO_CALLED_POSITIVE, f1=NO_CALLED_POSITIVE, ppv=NO_CALLED_POSITIVE)
    elif tp + fn == 0:
        out.update(f1=NO_POSITIVE)
    if tn + fn == 0:
        out["npv"] = NO_CALLED_NEGATIVE
    return out


def class_values(
    y: np.ndarray,
    logits: np.ndarray,
    mask: np.ndarray,
    cuts: np.ndarray,
    weight: ArrayLike,
    prevalence: np.ndarray | None = None,
    fixed_specificity: float = 0.9,
    fixed_sensitivity: float = 0.9,
) -> dict[str, np.ndarray]:
    """Every metric of every class under record weights `(B, n)`: name -> `(B, C)` array.

    `y`, `logits`, `mask` come from `check_inputs`; `cuts` are `(C,)` logit cuts.
    The bootstrap calls this with one row of draw counts per resample.
    """
    weight = np.atleast_2d(np.asarray(weight, dtype=np.float64))
    out = {k: np.full((weight.shape[0], y.shape[1]), np.nan) for k in METRIC_NAMES + COUNT_NAMES}
    for c in range(y.shape[1]):
        keep = mask[:, c]
        if not keep.any():
            continue
        w, yc, zc = weight[:, keep], y[keep, c], logits[keep, c]
        pred = zc >= cuts[c]
        counts = [w @ (yc & pred), w @ (~yc & pred), w @ (~yc & ~pred), w @ (yc & ~pred)]
        for name, value in zip(COUNT_NAMES, counts, strict=True):
            out[name][:, c] = value
        prev = None if prevalence is None else prevalence[c]
        for name, value in rates_from_counts(*counts, prevalence=prev).items():
            out[name][:, c] = value
        out["auroc"][:, c] = ranking.auroc(yc, zc, w)
        out["average_precision"][:, c] = ranking.average_precision(yc, zc, w)
        out["sensitivity_at_specificity"][:, c] = ranking.sensitivity_at_specificity(
            yc, zc, fixed_specificity, w
        )
        out["specificity_at_sensitivity"][:, c] = ranking.specificity_at_sensitivity(
            yc, zc, fixed_sensitivity, w
        )
    return out


def exclusion_reasons(y: np.ndarray, mask: np.ndarray) -> list[str]:
    """Returns `(C,)` reasons a class cannot be scored ("" where it can)."""
    pos, neg = (y & mask).sum(axis=0), (~y & mask).sum(axis=0)
    return [
        "no labelled examples"
        if p + q == 0
        else "no positive examples"
        if p == 0
        else "no negative examples"
        if q == 0
        else ""
        for p, q in zip(pos, neg, strict=True)
    ]


def confusion_counts(
    y_true: ArrayLike,
    logits: ArrayLike,
    thresholds: ThresholdChoice | ArrayLike,
    *,
    mask: ArrayLike | None = None,
) -> dict[str, np.ndarray]:
    """Per-class `{"tp", "fp", "tn", "fn"}` `(C,)` integer counts at a `ThresholdChoice`
    (its logit cuts) or at probability thresholds."""
    y, z, m = check_inputs(y_true, logits, mask)
    pred = z >= cut_array(thresholds, y.shape[1])  # on logits: a saturated sigmoid cannot flip
    return {
        k: ((a & b) & m).sum(axis=0)
        for k, a, b in (("tp", y, pred), ("fp", ~y, pred), ("tn", ~y, ~pred), ("fn", y, ~pred))
    }


def exact_match_accuracy(
    y_true: ArrayLike,
    logits: ArrayLike,
    thresholds: ThresholdChoice | ArrayLike,
    *,
    mask: ArrayLike | None = None,
) -> float | None:
    """Share of records whose every unmasked label is predicted right (None if none has any)."""
    y, z, m = check_inputs(y_true, logits, mask)
    pred = z >= cut_array(thresholds, y.shape[1])
    right, labelled = ((pred == y) | ~m).all(axis=1), m.any(axis=1)
    return json_float(right[labelled].mean()) if labelled.any() else None


def macro_means(values: Mapping[str, np.ndarray], eligible: np.ndarray) -> dict[str, np.ndarray]:
    """Macro average of each metric over the `eligible` classes where it is defined (not
    NaN): name -> `(B,)` array, NaN where no eligible class defines it."""
    out = {}
    for k in METRIC_NAMES:
        block = values[k][:, eligible]
        defined = ~np.isnan(block)
        total = np.where(defined, block, 0.0).sum(axis=1)
        out[k] = _ratio(total, defined.sum(axis=1).astype(np.float64))
    return out


def label_name_list(label_names: Iterable[object], num_classes: int) -> list[str]:
    names = [str(n) for n in label_names]
    if len(names) != num_classes or len(set(names)) != num_classes:
        raise ConfigError(
            f"`label_names` must be {num_classes} distinct names. Received: label_names={names}"
        )
    return names


def compute_metrics(
    y_true: ArrayLike,
    logits: ArrayLike,
    thresholds: ThresholdChoice | ArrayLike,
    *,
    mask: ArrayLike | None = None,
    label_names: Sequence[str],
    prevalence: ArrayLike | None = None,
    fixed_specificity: float = 0.9,
    fixed_sensitivity: float = 0.9,
) -> dict[str, Any]:
    """All metrics of a multi-label classifier, per label and macro-averaged, JSON-safe.

    Ranking metrics are computed on `logits`; thresholded ones at the per-class logit cuts of
    `thresholds`, which must have been chosen on validation data (`choose_thresholds`), never
    on the data evaluated here. An undefined rate is null, with its reason under the class's
    "undefined" key; the macro average skips it and lists it under macro "undefined".

    Args:
        y_true: `(n, C)` labels in {0, 1} (`(n,)` for one class).
        logits: `(n, C)` model outputs before the sigmoid.
        thresholds: a `ThresholdChoice` (logit cuts), or `(C,)` / scalar probabilities.
        mask: optional `(n, C)` 0/1; 0 marks an unknown label, ignored for that class.
        label_names: the `C` class names.
        prevalence: None (each class's cohort prevalence) or a scalar/`(C,)` prevalence at
            which PPV and NPV are stated, e.g. that of the population the test serves.
        fixed_specificity: the specificity at which sensitivity is reported.
        fixed_sensitivity: the sensitivity at which specificity is reported.

    Returns:
        A dict with "n_records", "label_names", "exact_match_accuracy", "operating_point",
        "macro" (each metric in `METRIC_NAMES`, "n_classes", "classes", "excluded") and
        "per_label" (metrics, counts, "logit_cut", display "threshold"; null metrics plus
        "reason" when the class is excluded, "undefined" {metric: reason} for empty
        denominators).

    Example:
    >>> m = compute_metrics([[1], [0], [1], [0]], [[2.0], [-1.0], [0.5], [1.0]], [0.5],
    ...                     label_names=["PE"])
    >>> m["macro"]["auroc"], m["per_label"]["PE"]["specificity"]
    (0.75, 0.5)
    """
    y, z, m = check_inputs(y_true, logits, mask)
    num_classes = y.shape[1]
    names = label_name_list(label_names, num_classes)
    cuts = cut_array(thresholds, num_classes)
    thr = sigmoid(cuts)  # display only
    prev = prevalence_array(prevalence, num_classes)
    values = class_values(
        y, z, m, cuts, np.ones((1, len(y))), prev, fixed_specificity, fixed_sensitivity
    )
    reasons = exclusion_reasons(y, m)
    eligible = np.array([not r for r in reasons])
    per_label = {}
    for c, name in enumerate(names):
        entry = {
            "logit_cut": float(cuts[c]),
            "threshold": float(thr[c]),
            "n_positive": int((y[:, c] & m[:, c]).sum()),
            "n_negative": int((~y[:, c] & m[:, c]).sum()),
        }
        entry.update({k: int(values[k][0, c]) if m[:, c].any() else 0 for k in COUNT_NAMES})
        entry.update(
            {k: json_float(values[k][0, c]) if eligible[c] else None for k in METRIC_NAMES}
        )
        if reasons[c]:
            entry["reason"] = reasons[c]
        elif undefined := undefined_reasons(*(values[k][0, c] for k in COUNT_NAMES)):
            entry["undefined"] = {k: v for k, v in undefined.items() if k in METRIC_NAMES}
        per_label[name] = entry
    macro = {k: json_float(v[0]) for k, v in macro_means(values, eligible).items()}
    skipped = {}
    for name in names:
        for k, reason in per_label[name].get("undefined", {}).items():
            skipped.setdefault(k, {})[name] = reason
    macro.update(
        n_classes=int(eligible.sum()),
        undefined=skipped,
        classes=[n for n, e in zip(names, eligible, strict=True) if e],
        excluded={n: r for n, r in zip(names, reasons, strict=True) if r},
    )
    choice = thresholds.to_dict() if hasattr(thresholds, "to_dict") else None
    return {
        "n_records": int(len(y)),
        "label_names": names,
        "exact_match_accuracy": exact_match_accuracy(y, z, thresholds, mask=m),
        "operating_point": {
            "rule": "positive when logit >= logit_cut",
            "logit_cuts": dict(zip(names, cuts.tolist(), strict=True)),
            "thresholds": dict(zip(names, thr.tolist(), strict=True)),
            "thresholds_note": "sigmoid(logit_cuts), display only",
            "threshold_choice": choice,
            "fixed_specificity": float(fixed_specificity),
            "fixed_sensitivity": float(fixed_sensitivity),
            "prevalence": (
                "cohort" if prev is None else dict(zip(names, prev.tolist(), strict=True))
            ),
        },
        "macro": macro,
        "per_label": per_label,
    }
