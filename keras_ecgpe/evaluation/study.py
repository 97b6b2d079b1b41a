"""The figures of a diagnostic-accuracy study of one class on one evaluated split.

`class_study` takes the evaluated records' labels and raw logits of one class, the
operating points (logit cuts locked on VALIDATION data), the calibrated logits, patient
cluster keys, optional age and sex, and the analysis plan; it returns a JSON-safe dict:

- discrimination: AUROC with its DeLong interval and the patient bootstrap interval beside
  it, average precision;
- operating points: the 2x2 table, sensitivity/specificity with the plan's exact (or
  Wilson) interval and the patient bootstrap interval (flagged below 30 per class), PPV/NPV
  at the cohort's prevalence and at a stated prevalence (Mercaldo logit interval);
- a secondary figure, sensitivity at 90 % specificity read off this split's ROC curve;
- calibration of the calibrated probabilities (intercept, slope, Brier, ECE with its noise
  floor), the decision curve, subgroups by sex and age band, and small-sample warnings.

Nothing here chooses anything on the data it scores. Methods: docs/statistics.md.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import ranking
from keras_ecgpe.evaluation.bootstrap import resample_weights
from keras_ecgpe.evaluation.calibration_stats import (
    brier_score,
    calibration_intercept_slope,
    ece_with_noise_floor,
)
from keras_ecgpe.evaluation.decision_curve import DCA_THRESHOLDS, decision_curve
from keras_ecgpe.evaluation.delong import delong_auroc
from keras_ecgpe.evaluation.inputs import json_float
from keras_ecgpe.evaluation.proportions import proportion_ci
from keras_ecgpe.evaluation.small_samples import (
    BOOTSTRAP_MIN_CLASS_COUNT,
    skipped_resample_warning,
    small_sample_warnings,
)
from keras_ecgpe.evaluation.two_by_two import accuracy_at_cut

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import ArrayLike

    from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan

BOOTSTRAP_METHOD = "percentile patient bootstrap (patients drawn whole)"
SECONDARY_SPECIFICITY = 0.9
# The noise floor of the ECE needs no more simulations than this to be stable to 0.001.
ECE_SIMULATIONS = 1000


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """A logit cut locked before the evaluated split is read.

    Attributes:
        name: how the report names it ("primary", "rule-out", "rule-in").
        kind: "primary" (the contract's cut), "rule_out" or "rule_in" (the plan's targets).
        method: how the cut was chosen ("f1", "youden", "sensitivity", "specificity").
        target: the validation target of "sensitivity"/"specificity", else None.
        cut: the logit cut (positive when `logit >= cut`), or None when it could not be
            chosen (then `reason` says why).
        chosen_on: where it was chosen, e.g. "validation split of <cache>".
        validation: `{"sensitivity", "specificity", "n_positive", "n_negative"}` reached on
            the data it was chosen on, or None.
        reason: why `cut` is None.
    """

    name: str
    kind: str
    method: str
    target: float | None
    cut: float | None
    chosen_on: str
    validation: dict | None = None
    reason: str | None = None

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def _undefined(reason: str, **extra) -> dict:
    return {"value": None, "ci_low": None, "ci_high": None, "undefined": reason, **extra}


def _interval(samples, alpha) -> tuple[float | None, float | None]:
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[~np.isnan(samples)]
    if not samples.size:
        return None, None
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def patient_bootstrap(
    y: ArrayLike,
    logits: ArrayLike,
    cuts: Mapping[str, float | None],
    groups: ArrayLike | None,
    *,
    n_boot: int,
    seed: int,
    alpha: float,
) -> dict:
    """Patient bootstrap intervals of AUROC and of sensitivity/specificity at each cut.

    All figures come from the same resamples (drawn whole by `groups`, a record without a
    patient id being its own patient); a resample without a positive or a negative is
    skipped and counted.

    Args:
        y: `(n,)` labels in {0, 1}.
        logits: `(n,)` raw logits.
        cuts: `{name: logit cut}` (cuts that are None are left out).
        groups: `(n,)` patient cluster keys (`patient_groups`), or None for records.
        n_boot: resamples (0: none, every interval None with its reason).
        seed: random seed.
        alpha: 1 - confidence level.

    Returns:
        `{"auroc": {...}, "cuts": {name: {"sensitivity": {...}, "specificity": {...}}},
        "n_boot", "n_used", "n_skipped", "seed", "alpha", "resampled_by", "method"}`.

    Example:
    >>> r = patient_bootstrap([0, 1, 0, 1, 1, 0], [-1.0, 2.0, 0.5, 1.0, -0.2, 0.1],
    ...                       {"primary": 0.0}, None, n_boot=200, seed=0, alpha=0.05)
    >>> r["n_used"] + r["n_skipped"], r["auroc"]["ci_low"] <= r["auroc"]["value"]
    (200, True)
    """
    y = np.asarray(y).astype(bool)
    z = np.asarray(logits, dtype=np.float64)
    cuts = {name: cut for name, cut in cuts.items() if cut is not None}
    out = {
        "n_boot": int(n_boot),
        "seed": int(seed),
        "alpha": float(alpha),
        "resampled_by": "record" if groups is None else "patient",
        "method": BOOTSTRAP_METHOD if groups is not None else "percentile record bootstrap",
    }
    auc_value = json_float(ranking.auroc(y, z)) if y.any() and (~y).any() else None
    if n_boot < 1:
        reason = "no bootstrap (0 resamples)"
        return {
            **out,
            "n_used": 0,
            "n_skipped": 0,
            "auroc": _undefined(reason),
            "cuts": {
                name: {"sensitivity": _undefined(reason), "specificity": _undefined(reason)}
                for name in cuts
            },
        }
    auc, rates, skipped = [], {name: ([], []) for name in cuts}, 0
    pos, neg = y.astype(np.float64), (~y).astype(np.float64)
    for w in resample_weights(len(y), n_boot=n_boot, seed=seed, groups=groups):
        n_pos, n_neg = w @ pos, w @ neg
        usable = (n_pos > 0) & (n_neg > 0)
        skipped += int((~usable).sum())
        w = w[usable]
        if not len(w):
            continue
        auc.append(np.atleast_1d(ranking.auroc(y, z, w)))
        for name, cut in cuts.items():
            called = (z >= cut).astype(np.float64)
            rates[name][0].append(w @ (pos * called) / n_pos[usable])
            rates[name][1].append(w @ (neg * (1 - called)) / n_neg[usable])
    n_used = int(n_boot) - skipped

    def interval(samples, value, reason):
        if value is None:
            return _undefined(reason)
        low, high = _interval(np.concatenate(samples) if samples else [], alpha)
        if low is None:
            return _undefined("every resample was skipped (no positive or no negative drawn)")
        return {"value": value, "ci_low": low, "ci_high": high}

    out.update(n_used=n_used, n_skipped=skipped)
    out["auroc"] = interval(auc, auc_value, "no positive or no negative record")
    out["cuts"] = {}
    for name, cut in cuts.items():
        called = z >= cut
        sens = json_float((y & called).sum() / y.sum()) if y.any() else None
        spec = json_float((~y & ~called).sum() / (~y).sum()) if (~y).any() else None
        out["cuts"][name] = {
            "sensitivity": interval(rates[name][0], sens, "no positive record"),
            "specificity": interval(rates[name][1], spec, "no negative record"),
        }
    return out


def discrimination(y: ArrayLike, logits: ArrayLike, *, alpha: float) -> dict:
    """AUROC with its DeLong interval, and average precision; undefined ones with a reason.

    Example:
    >>> r = discrimination([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9], alpha=0.05)
    >>> round(r["auroc"]["value"], 4), r["auroc"]["method"].startswith("DeLong")
    (0.8889, True)
    """
    y = np.asarray(y).astype(bool)
    z = np.asarray(logits, dtype=np.float64)
    out = {}
    try:
        d = delong_auroc(y, z, alpha=alpha)
        out["auroc"] = {
            "value": d["auroc"],
            "ci_low": d["ci_low"],
            "ci_high": d["ci_high"],
            "se": d["se"],
            "method": d["method"] + ", logit-scale interval",
            "warning": d["warning"],
        }
    except ConfigError as error:
        value = json_float(ranking.auroc(y, z)) if y.any() and (~y).any() else None
        out["auroc"] = {
            **_undefined(f"no DeLong interval: {error}"),
            "value": value,
            "method": "DeLong (1988)",
        }
        if value is None:
            out["auroc"]["undefined"] = "no positive or no negative record"
    ap = ranking.average_precision(y, z) if y.any() else None
    out["average_precision"] = (
        {"value": json_float(ap), "method": "step-wise average precision"}
        if ap is not None
        else {"value": None, "undefined": "no positive record"}
    )
    return out


def operating_point_results(
    y: ArrayLike,
    logits: ArrayLike,
    point: OperatingPoint,
    *,
    interval: str,
    alpha: float,
    prevalence: float | None,
    bootstrap: dict,
) -> dict:
    """The 2x2 table and accuracy at one locked cut, with the bootstrap beside the exact
    interval; a point without a cut is returned with its reason only."""
    out = point.describe()
    if point.cut is None:
        return out
    out.update(
        accuracy_at_cut(y, logits, point.cut, method=interval, alpha=alpha, prevalence=prevalence)
    )
    out["cut"] = float(point.cut)
    out["bootstrap"] = bootstrap["cuts"].get(point.name)
    return out


def secondary_sensitivity(
    y: ArrayLike, logits: ArrayLike, specificity: float = SECONDARY_SPECIFICITY
) -> dict:
    """Sensitivity at a fixed specificity read off THIS split's ROC curve (data-driven)."""
    y = np.asarray(y).astype(bool)
    if not y.any() or not (~y).any():
        return {"value": None, "undefined": "no positive or no negative record"}
    return {
        "value": json_float(ranking.sensitivity_at_specificity(y, logits, specificity)),
        "specificity": float(specificity),
        "note": "read off the evaluated split's ROC curve (threshold chosen on these data): "
        "optimistic, a secondary figure only",
    }


def calibration_results(
    y: ArrayLike,
    calibrated_logits: ArrayLike,
    groups: ArrayLike | None,
    *,
    n_boot: int,
    seed: int,
    alpha: float,
) -> dict:
    """Calibration of the calibrated probabilities: intercept, slope, Brier, ECE + floor."""
    y = np.asarray(y).astype(int)
    cz = np.asarray(calibrated_logits, dtype=np.float64)
    out = {
        "on": "calibrated probabilities sigmoid(logit / T + b), T and b fitted on validation",
        "intercept_slope": calibration_intercept_slope(y, cz, alpha=alpha),
        "brier": {"value": brier_score(y, cz), "method": "mean (p - y)^2"},
    }
    out["ece"] = ece_with_noise_floor(
        y,
        cz,
        n_boot=max(int(n_boot), 1),
        n_sim=ECE_SIMULATIONS,
        seed=seed,
        alpha=alpha,
        groups=groups,
    )
    return out


def subgroup_results(
    y: ArrayLike,
    logits: ArrayLike,
    cut: float,
    masks: dict,
    *,
    interval: str,
    alpha: float,
    minimum: int,
) -> list:
    """Per subgroup: n, positives, AUROC (DeLong), sensitivity/specificity at `cut`.

    Args:
        masks: `{(kind, label): (n,) bool}` in report order, e.g. `("sex", "F")`.

    Returns:
        A list of dicts; small subgroups carry "small": True and their warnings (they are
        shown, never hidden); undefined figures are None with their reason.
    """
    y = np.asarray(y).astype(bool)
    z = np.asarray(logits, dtype=np.float64)
    rows = []
    for (kind, label), member in masks.items():
        yy, zz = y[member], z[member]
        n_pos, n_neg = int(yy.sum()), int((~yy).sum())
        row = {
            "kind": kind,
            "group": label,
            "n": int(member.sum()),
            "n_positive": n_pos,
            "n_negative": n_neg,
            "auroc": discrimination(yy, zz, alpha=alpha)["auroc"]
            if member.any()
            else _undefined("no record in this subgroup"),
        }
        if cut is None:
            row["sensitivity"] = row["specificity"] = _undefined("no primary cut")
        else:
            called = zz >= cut
            row["sensitivity"] = proportion_ci(
                int((yy & called).sum()),
                n_pos,
                method=interval,
                alpha=alpha,
                undefined_reason="no positive record in this subgroup",
            )
            row["specificity"] = proportion_ci(
                int((~yy & ~called).sum()),
                n_neg,
                method=interval,
                alpha=alpha,
                undefined_reason="no negative record in this subgroup",
            )
        row["warnings"] = small_sample_warnings(n_pos, n_neg, minimum=minimum)
        row["small"] = bool(row["warnings"])
        rows.append(row)
    return rows


def subgroup_masks(
    plan: AnalysisPlan,
    sexes: ArrayLike | None = None,
    ages: ArrayLike | None = None,
    *,
    missing_reason: str | None = None,
) -> tuple[dict, list]:
    """The subgroups the plan asks for that the data can form, and notes on the others.

    Args:
        plan: the `AnalysisPlan` (sex_subgroups, age_bands).
        sexes: `(n,)` "M"/"F"/"" per evaluated record, or None when the data has no sex.
        ages: `(n,)` ages in years (NaN unknown), or None when the data has no age.
        missing_reason: why sexes or ages is None (`cache_demographics`); default "the
            cache stores no sex" / "... no age".

    Returns:
        `(masks, notes)`: `{(kind, label): bool mask}` and strings saying why a subgroup
        analysis the plan asks for was not done, or how many records it could not place.
    """
    masks, notes = {}, []
    if plan.sex_subgroups:
        if sexes is None:
            notes.append(f"by sex: not done, {missing_reason or 'the cache stores no sex'}")
        else:
            sexes = np.asarray(sexes).astype(str)
            for value in sorted(set(sexes.tolist()) - {""}):
                masks[("sex", value)] = sexes == value
            if (sexes == "").any():
                notes.append(f"by sex: {int((sexes == '').sum())} record(s) without sex left out")
    if plan.age_bands:
        if ages is None:
            notes.append(f"by age band: not done, {missing_reason or 'the cache stores no age'}")
        else:
            ages = np.asarray(ages, dtype=np.float64)
            bands = np.array([plan.age_band(float(a)) or "" for a in ages])
            for label in plan.age_band_labels():
                masks[("age", label)] = bands == label
            unplaced = int((bands == "").sum())
            if unplaced:
                notes.append(
                    f"by age band: {unplaced} record(s) without age or below "
                    f"{plan.age_bands[0]:g} years left out"
                )
    return masks, notes


def class_study(
    y: ArrayLike,
    logits: ArrayLike,
    calibrated_logits: ArrayLike,
    points: list[OperatingPoint],
    *,
    plan: AnalysisPlan,
    groups: ArrayLike | None,
    prevalence: float | None,
    n_boot: int,
    seed: int,
    interval: str,
    sexes: ArrayLike | None = None,
    ages: ArrayLike | None = None,
    demographics_reason: str | None = None,
) -> dict:
    """Every figure of the study report for one class on the evaluated records.

    Args:
        y: `(n,)` labels in {0, 1} (records whose label is unknown already left out).
        logits: `(n,)` raw logits (the scale the cuts decide on).
        calibrated_logits: `(n,)` logits after the validation-fitted temperature and bias.
        points: the locked `OperatingPoint`s, the primary one first.
        plan: the `AnalysisPlan` (level, small_sample_min, subgroups, age bands).
        groups: `(n,)` patient cluster keys (`patient_groups`), or None for records.
        prevalence: the stated target-population prevalence, or None.
        n_boot: patient bootstrap resamples (0: none).
        seed: bootstrap seed.
        interval: "clopper-pearson" or "wilson".
        sexes, ages: optional per-record sex and age for subgroups.
        demographics_reason: why sexes or ages is None, stated in the subgroup notes.

    Returns:
        A JSON-safe dict: "n", "n_positive", "n_negative", "discrimination", "bootstrap",
        "operating_points", "secondary", "calibration", "decision_curve", "subgroups",
        "subgroup_notes", "warnings".
    """
    y = np.asarray(y).astype(bool)
    z = np.asarray(logits, dtype=np.float64)
    alpha = 1.0 - plan.interval_level
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    boot = patient_bootstrap(
        y, z, {p.name: p.cut for p in points}, groups, n_boot=n_boot, seed=seed, alpha=alpha
    )
    warnings = small_sample_warnings(n_pos, n_neg, minimum=plan.small_sample_min)
    warnings += skipped_resample_warning(boot["n_skipped"], boot["n_boot"])
    if n_boot > 0 and min(n_pos, n_neg) < BOOTSTRAP_MIN_CLASS_COUNT:
        warnings.append(
            f"fewer than {BOOTSTRAP_MIN_CLASS_COUNT} positives or negatives: the bootstrap "
            "intervals of sensitivity and specificity under-cover (docs/statistics.md); read "
            "the exact intervals"
        )
    out = {
        "n": int(y.size),
        "n_positive": n_pos,
        "n_negative": n_neg,
        "prevalence": json_float(n_pos / y.size) if y.size else None,
        "discrimination": discrimination(y, z, alpha=alpha),
        "bootstrap": {k: v for k, v in boot.items() if k not in ("auroc", "cuts")},
        "operating_points": [
            operating_point_results(
                y, z, p, interval=interval, alpha=alpha, prevalence=prevalence, bootstrap=boot
            )
            for p in points
        ],
        "secondary": {"sensitivity_at_specificity": secondary_sensitivity(y, z)},
    }
    out["discrimination"]["auroc_bootstrap"] = boot["auroc"]
    if y.any() and (~y).any():
        out["calibration"] = calibration_results(
            y, calibrated_logits, groups, n_boot=n_boot, seed=seed, alpha=alpha
        )
        out["decision_curve"] = decision_curve(y, calibrated_logits, thresholds=DCA_THRESHOLDS)
    else:
        reason = "no positive or no negative record"
        out["calibration"] = {"undefined": reason}
        out["decision_curve"] = {"undefined": reason}
    masks, notes = subgroup_masks(plan, sexes=sexes, ages=ages, missing_reason=demographics_reason)
    primary = points[0].cut if points else None
    out["subgroups"] = subgroup_results(
        y, z, primary, masks, interval=interval, alpha=alpha, minimum=plan.small_sample_min
    )
    out["subgroup_notes"] = notes
    out["warnings"] = warnings
    return out
