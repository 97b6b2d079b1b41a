"""Checks and conversions shared by the evaluation modules.

Labels `y_true` `(n, C)` in {0, 1}, `logits` `(n, C)`, an optional label mask `(n, C)`,
per-class probability thresholds and prevalences are validated here once, with errors that
name the argument and echo the value.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from keras_ecgpe.evaluation.thresholds import ThresholdChoice


def json_float(value: float) -> float | None:
    """Returns `value` as a float, or None where it is NaN or infinite (JSON has neither)."""
    value = float(value)
    return value if math.isfinite(value) else None


def sigmoid(logits: ArrayLike) -> np.ndarray:
    """The logistic function, without overflow warnings for large negative logits."""
    z = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def probability_to_logit(probabilities: ArrayLike) -> np.ndarray:
    """Inverse of `sigmoid`: 0 maps to -inf and 1 to +inf."""
    p = np.asarray(probabilities, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def check_inputs(
    y_true: ArrayLike, logits: ArrayLike, mask: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validates and returns `(y bool (n, C), logits float64 (n, C), mask bool (n, C))`.

    1-D inputs are one class. Masked entries of `y_true` may hold anything (e.g. -1 or NaN).
    """
    y, z = np.asarray(y_true, dtype=np.float64), np.asarray(logits, dtype=np.float64)
    y, z = (y[:, None] if y.ndim == 1 else y), (z[:, None] if z.ndim == 1 else z)
    if y.ndim != 2 or y.shape != z.shape or y.shape[0] == 0:
        raise ConfigError(
            "`y_true` and `logits` must be non-empty (n, C) arrays of one "
            f"shape. Received: {np.shape(y_true)} and {np.shape(logits)}"
        )
    if not np.isfinite(z).all():
        raise ConfigError("`logits` must be finite. Received NaN or infinite values")
    m = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask)
    m = m[:, None] if m.ndim == 1 else m
    if m.shape != y.shape or not np.isin(m, (0, 1)).all():
        raise ConfigError(f"`mask` must be 0/1 of shape {y.shape}. Received shape {m.shape}")
    m = m.astype(bool)
    if not np.isin(y[m], (0.0, 1.0)).all():
        raise ConfigError(
            "`y_true` must hold only 0 and 1 where the mask is 1. Received: "
            f"{np.unique(y[m][~np.isin(y[m], (0.0, 1.0))])[:5]}"
        )
    return np.where(m, y, 0.0).astype(bool), z, m


def check_binary(y_true: ArrayLike, logits: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """One class's labels and finite logits as float64 `(n,)` arrays, checked.

    Raises:
        ConfigError: shapes differ, labels outside {0, 1}, no records, or NaN/inf logits.
    """
    y = np.asarray(y_true)
    z = np.asarray(logits, dtype=np.float64)
    if y.ndim != 1 or y.shape != z.shape or y.size == 0 or not np.isin(y, (0, 1)).all():
        raise ConfigError(
            "`y_true` must be (n,) labels in {0, 1} and `logits` (n,). "
            f"Received shapes {np.shape(y_true)} and {np.shape(logits)}"
        )
    if not np.isfinite(z).all():
        raise ConfigError("`logits` must be finite. Received NaN or infinite values")
    return y.astype(np.float64), z


def threshold_array(thresholds: ThresholdChoice | ArrayLike, num_classes: int) -> np.ndarray:
    """Broadcasts a scalar, a `(C,)` sequence or a `ThresholdChoice` to `(C,)` floats."""
    t = np.asarray(getattr(thresholds, "thresholds", thresholds), dtype=np.float64)
    t = np.full(num_classes, float(t)) if t.ndim == 0 else t
    if t.shape != (num_classes,) or not ((t >= 0) & (t <= 1)).all():
        raise ConfigError(
            f"`thresholds` must be {num_classes} probabilities in [0, 1]. "
            f"Received: thresholds={np.asarray(thresholds).tolist()}"
        )
    return t


def cut_array(thresholds: ThresholdChoice | ArrayLike, num_classes: int) -> np.ndarray:
    """Logit cuts `(C,)` from a `ThresholdChoice` (its `cuts`, exact) or from probability
    thresholds (a scalar or `(C,)`, converted by `probability_to_logit`)."""
    cuts = getattr(thresholds, "cuts", None)
    if cuts is None:
        return probability_to_logit(threshold_array(thresholds, num_classes))
    cuts = np.asarray(cuts, dtype=np.float64)
    if cuts.shape != (num_classes,):
        raise ConfigError(
            f"The threshold choice must hold {num_classes} logit cuts. "
            f"Received {cuts.shape[0] if cuts.ndim else 1}"
        )
    return cuts


def prevalence_array(prevalence: ArrayLike | None, num_classes: int) -> np.ndarray | None:
    """None (each class's own prevalence) or a scalar/`(C,)` value in (0, 1) as `(C,)`."""
    if prevalence is None:
        return None
    p = np.asarray(prevalence, dtype=np.float64)
    p = np.full(num_classes, float(p)) if p.ndim == 0 else p
    if p.shape != (num_classes,) or not ((p > 0) & (p < 1)).all():
        raise ConfigError(
            f"`prevalence` must be None or {num_classes} values in (0, 1). "
            f"Received: prevalence={np.asarray(prevalence).tolist()}"
        )
    return p
