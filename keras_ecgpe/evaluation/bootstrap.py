"""Percentile bootstrap confidence intervals, by record or by patient.

A resample draws `n` records with replacement (or, with `groups`, as many patients as there
are, each bringing all its records: several ECGs of one patient are not independent, and
resampling them apart makes intervals too narrow). A record without a patient id counts as
its own patient: one missing id never switches the whole bootstrap to record level. A
resample is stored as a row of draw counts per record, so `metrics_with_ci` scores all
resamples at once as record weights.
Resamples in which a scored class has no positive or no negative example are skipped and
counted, never scored as zero. The same seed gives the same resamples and intervals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.inputs import check_inputs, cut_array, json_float, prevalence_array
from keras_ecgpe.evaluation.metrics import (
    METRIC_NAMES,
    class_values,
    compute_metrics,
    exclusion_reasons,
    macro_means,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

    from numpy.typing import ArrayLike

    from keras_ecgpe.evaluation.thresholds import ThresholdChoice

_CHUNK = 256  # resamples scored together: bounds memory at _CHUNK x n weights


def _check(n_boot, alpha):
    if int(n_boot) != n_boot or n_boot < 1:
        raise ConfigError(f"`n_boot` must be a positive integer. Received: n_boot={n_boot}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"`alpha` must be in (0, 1). Received: alpha={alpha}")


def _missing(patient_id) -> bool:
    if patient_id is None:
        return True
    if isinstance(patient_id, float) and np.isnan(patient_id):
        return True
    return str(patient_id).strip() == ""


def patient_groups(
    patient_ids: Sequence[object] | np.ndarray,
    record_ids: Sequence[object] | np.ndarray | None = None,
) -> tuple[list[str], int]:
    """Per-record cluster keys for the patient bootstrap, and how many records lack an id.

    A record whose patient id is missing (None, NaN, empty or blank) becomes its own
    cluster, keyed by its record id (or its position), so it can never merge with another
    record or with a real patient.

    Args:
        patient_ids: `(n,)` patient ids.
        record_ids: optional `(n,)` record ids, used to key records without a patient id.

    Returns:
        `(keys, n_missing)`: `n` string keys and the count of records without a patient id.

    Example:
    >>> patient_groups(["p1", "", "p1", None], ["a", "b", "c", "d"])
    (['patient:p1', 'record:b', 'patient:p1', 'record:d'], 2)
    """
    patient_ids = list(patient_ids)
    records = list(range(len(patient_ids))) if record_ids is None else list(record_ids)
    if len(records) != len(patient_ids):
        raise ConfigError(
            f"`record_ids` must have one id per record ({len(patient_ids)}). "
            f"Received {len(records)} ids"
        )
    keys, missing = [], 0
    for position, (patient, record) in enumerate(zip(patient_ids, records, strict=True)):
        if _missing(patient):
            missing += 1
            keys.append(f"record:{record}" if record_ids is not None else f"record#{position}")
        else:
            keys.append(f"patient:{patient}")
    alone = [k for k in keys if not k.startswith("patient:")]
    if len(set(alone)) < len(alone):
        raise ConfigError(
            "`record_ids` must be unique among records without a patient id. "
            f"Received duplicates among {sorted(alone)[:5]}"
        )
    return keys, missing


def resample_weights(
    n: int, *, n_boot: int, seed: int, groups: ArrayLike | None = None
) -> Iterator[np.ndarray]:
    """Yields `(b, n)` arrays of draw counts, `n_boot` rows in all, in chunks.

    Args:
        n: number of records.
        n_boot: number of resamples.
        seed: seed of the random generator.
        groups: optional `(n,)` patient ids; patients are drawn whole, and a record
            without an id (None, NaN, blank) is drawn as its own patient.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        inverse, units = np.arange(n), n
    else:
        groups = list(groups)
        if len(groups) != n:
            raise ConfigError(
                f"`groups` must have one id per record ({n}). Received {len(groups)} ids"
            )
        codes = {}
        inverse = np.array([codes.setdefault(key, len(codes)) for key in patient_groups(groups)[0]])
        units = len(codes)
    for start in range(0, n_boot, _CHUNK):
        b = min(_CHUNK, n_boot - start)
        draws = rng.integers(0, units, size=(b, units)) + units * np.arange(b)[:, None]
        counts = np.bincount(draws.ravel(), minlength=b * units).reshape(b, units)
        yield counts[:, inverse].astype(np.float64)


def _interval(samples, alpha):
    if len(samples) == 0:
        return None, None
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return json_float(low), json_float(high)


def bootstrap_ci(
    y_true: ArrayLike,
    logits: ArrayLike,
    metric_fn: Callable[..., float],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    groups: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> dict[str, Any]:
    """Percentile confidence interval of any scalar metric `metric_fn(y_true, logits)`.

    `metric_fn` is called once per resample on the resampled rows (and with `mask=` when a
    mask is given), so keep it cheap; `metrics_with_ci` is the vectorised path for the
    package's own metrics.

    Args:
        y_true: `(n, C)` or `(n,)` labels.
        logits: logits of the same shape.
        metric_fn: callable returning a float; NaN results count as skipped.
        n_boot: number of resamples.
        seed: random seed; equal seeds give equal intervals.
        alpha: 1 - confidence level.
        groups: optional `(n,)` patient ids to resample patients whole.
        mask: optional label mask, passed on to `metric_fn`.

    Returns:
        A dict: "value", "ci_low", "ci_high" (None without usable resamples), "alpha",
        "n_boot", "n_used", "n_skipped" (resamples without a positive or a negative of a
        scored class, or whose metric was NaN), "resampled_by", "method" ("percentile").

    Example:
    >>> from keras_ecgpe.evaluation.ranking import auroc
    >>> r = bootstrap_ci([0, 1, 0, 1, 1, 0], [0.1, 0.9, 0.3, 0.7, 0.2, 0.4],
    ...                  lambda y, z: auroc(y, z), n_boot=50)
    >>> r["ci_low"] <= r["value"] <= r["ci_high"]
    True
    """
    _check(n_boot, alpha)
    y, _, m = check_inputs(y_true, logits, mask)
    raw_y, raw_z = np.asarray(y_true), np.asarray(logits)
    raw_m = None if mask is None else np.asarray(mask)
    scored = np.array([not r for r in exclusion_reasons(y, m)])
    pos, neg = (y & m)[:, scored].astype(float), (~y & m)[:, scored].astype(float)

    def call(rows):
        extra = {} if raw_m is None else {"mask": raw_m[rows]}
        return float(metric_fn(raw_y[rows], raw_z[rows], **extra))

    samples, skipped = [], 0
    for weights in resample_weights(len(y), n_boot=n_boot, seed=seed, groups=groups):
        usable = ((weights @ pos > 0) & (weights @ neg > 0)).all(axis=1)
        for w, ok in zip(weights.astype(np.int64), usable, strict=True):
            value = call(np.repeat(np.arange(len(y)), w)) if ok else np.nan
            skipped += int(np.isnan(value))
            if not np.isnan(value):
                samples.append(value)
    low, high = _interval(np.asarray(samples), alpha)
    return {
        "value": json_float(call(np.arange(len(y)))),
        "ci_low": low,
        "ci_high": high,
        "alpha": float(alpha),
        "n_boot": int(n_boot),
        "n_used": int(n_boot) - skipped,
        "n_skipped": skipped,
        "resampled_by": "record" if groups is None else "group",
        "method": "percentile",
    }


def metrics_with_ci(
    y_true: ArrayLike,
    logits: ArrayLike,
    thresholds: ThresholdChoice | ArrayLike,
    *,
    mask: ArrayLike | None = None,
    label_names: Sequence[str],
    prevalence: ArrayLike | None = None,
    fixed_specificity: float = 0.9,
    fixed_sensitivity: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    groups: ArrayLike | None = None,
) -> dict[str, Any]:
    """`compute_metrics` plus percentile intervals of every macro metric.

    Thresholds stay fixed across resamples (they were chosen on validation data); a fixed
    `prevalence` stays fixed too, otherwise each resample uses its own.

    Returns:
        The `compute_metrics` dict with "macro_ci" (metric -> {"value", "ci_low",
        "ci_high", "n_undefined"}: the usable resamples where the metric was undefined, left
        out of its interval) and "bootstrap" ("n_boot", "n_used", "n_skipped", "alpha", "seed",
        "resampled_by", "method").
    """
    _check(n_boot, alpha)
    result = compute_metrics(
        y_true,
        logits,
        thresholds,
        mask=mask,
        label_names=label_names,
        prevalence=prevalence,
        fixed_specificity=fixed_specificity,
        fixed_sensitivity=fixed_sensitivity,
    )
    y, z, m = check_inputs(y_true, logits, mask)
    cuts = cut_array(thresholds, y.shape[1])
    prev = prevalence_array(prevalence, y.shape[1])
    scored = np.array([not r for r in exclusion_reasons(y, m)])
    samples, skipped = {k: [] for k in METRIC_NAMES}, 0
    for weights in resample_weights(len(y), n_boot=n_boot, seed=seed, groups=groups):
        values = class_values(y, z, m, cuts, weights, prev, fixed_specificity, fixed_sensitivity)
        pos, neg = values["tp"] + values["fn"], values["tn"] + values["fp"]
        usable = ((pos[:, scored] > 0) & (neg[:, scored] > 0)).all(axis=1) & scored.any()
        skipped += int((~usable).sum())
        for name, value in macro_means(values, scored).items():
            samples[name].append(value[usable])
    result["macro_ci"] = {}
    for name in METRIC_NAMES:
        values = np.concatenate(samples[name])
        low, high = _interval(values[~np.isnan(values)], alpha)
        result["macro_ci"][name] = {
            "value": result["macro"][name],
            "ci_low": low,
            "ci_high": high,
            "n_undefined": int(np.isnan(values).sum()),
        }
    result["bootstrap"] = {
        "n_boot": int(n_boot),
        "n_used": int(n_boot) - skipped,
        "n_skipped": skipped,
        "alpha": float(alpha),
        "seed": seed,
        "resampled_by": "record" if groups is None else "group",
        "method": "percentile",
    }
    return result
