"""The 2x2 table at one operating point and the accuracy figures STARD asks of it.

`accuracy_at_cut` is the per-operating-point block of a report: the cross tabulation
(TP, FP, FN, TN, n, prevalence), sensitivity, specificity, PPV and NPV with a named
proportion interval, PPV/NPV at a stated prevalence, and small-sample warnings.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.metrics import (
    NO_CALLED_NEGATIVE,
    NO_CALLED_POSITIVE,
    NO_NEGATIVE,
    NO_POSITIVE,
)
from keras_ecgpe.evaluation.proportions import (
    DEFAULT_INTERVAL,
    predictive_values_at_prevalence,
    proportion_ci,
)
from keras_ecgpe.evaluation.small_samples import bootstrap_interval_warnings, small_sample_warnings

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


@dataclasses.dataclass(frozen=True)
class TwoByTwo:
    """Index test result (called positive when `logit >= cut`) by reference standard."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def n_positive(self) -> int:
        return self.tp + self.fn

    @property
    def n_negative(self) -> int:
        return self.tn + self.fp

    @property
    def prevalence(self) -> float | None:
        return self.n_positive / self.n if self.n else None

    def to_dict(self) -> dict:
        """`{"tp", "fp", "fn", "tn", "n", "n_positive", "n_negative", "prevalence"}`."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "n": self.n,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
            "prevalence": self.prevalence,
        }


def two_by_two(y_true: ArrayLike, logits: ArrayLike, cut: float) -> TwoByTwo:
    """Counts of one class at a logit cut (positive when `logit >= cut`).

    Args:
        y_true: `(n,)` labels in {0, 1}.
        logits: `(n,)` logits.
        cut: the logit cut, e.g. `ThresholdChoice.cuts[c]` chosen on validation data.

    Returns:
        A `TwoByTwo`.

    Example:
    >>> two_by_two([1, 1, 0, 0], [2.0, -1.0, 0.5, -3.0], 0.0).to_dict()["tp"]
    1
    """
    y = np.asarray(y_true)
    z = np.asarray(logits, dtype=np.float64)
    if y.ndim != 1 or y.shape != z.shape or not np.isin(y, (0, 1)).all():
        raise ConfigError(
            "`y_true` must be (n,) labels in {0, 1} and `logits` (n,). "
            f"Received shapes {y.shape} and {z.shape}"
        )
    if np.isnan(z).any() or np.isnan(cut):
        raise ConfigError("`logits` and `cut` must not be NaN")
    y, called = y.astype(bool), z >= cut
    return TwoByTwo(
        int((y & called).sum()),
        int((~y & called).sum()),
        int((y & ~called).sum()),
        int((~y & ~called).sum()),
    )


def accuracy_at_cut(
    y_true: ArrayLike,
    logits: ArrayLike,
    cut: float,
    *,
    method: str = DEFAULT_INTERVAL,
    alpha: float = 0.05,
    prevalence: float | None = None,
) -> dict:
    """The 2x2 table and its accuracy estimates with intervals at one logit cut.

    Args:
        y_true: `(n,)` labels in {0, 1} of the data evaluated (e.g. the test split).
        logits: `(n,)` logits.
        cut: logit cut chosen on validation data.
        method: proportion interval, "clopper-pearson" (default) or "wilson".
        alpha: 1 - confidence level.
        prevalence: optional target-population prevalence for PPV/NPV beside the cohort's.

    Returns:
        `{"cut", "table": TwoByTwo.to_dict(), "sensitivity", "specificity", "ppv", "npv"`
        (each a `proportion_ci` dict; PPV/NPV here at the cohort's prevalence),
        `"at_prevalence"` (None, or `predictive_values_at_prevalence`), `"warnings"` (small
        classes), `"bootstrap_warnings"` (when a percentile bootstrap interval of sensitivity
        or specificity shown beside these would under-cover)}.

    Example:
    >>> r = accuracy_at_cut([1] * 10 + [0] * 30, list(range(40, 0, -1)), 30.5)
    >>> r["sensitivity"]["value"], r["specificity"]["value"], r["sensitivity"]["method"]
    (1.0, 1.0, 'Clopper-Pearson exact interval')
    """
    table = two_by_two(y_true, logits, cut)
    t = table
    out = {
        "cut": float(cut),
        "table": table.to_dict(),
        "sensitivity": proportion_ci(
            t.tp, t.tp + t.fn, method=method, alpha=alpha, undefined_reason=NO_POSITIVE
        ),
        "specificity": proportion_ci(
            t.tn, t.tn + t.fp, method=method, alpha=alpha, undefined_reason=NO_NEGATIVE
        ),
        "ppv": proportion_ci(
            t.tp, t.tp + t.fp, method=method, alpha=alpha, undefined_reason=NO_CALLED_POSITIVE
        ),
        "npv": proportion_ci(
            t.tn, t.tn + t.fn, method=method, alpha=alpha, undefined_reason=NO_CALLED_NEGATIVE
        ),
        "at_prevalence": None
        if prevalence is None
        else predictive_values_at_prevalence(t.tp, t.fp, t.tn, t.fn, prevalence, alpha=alpha),
        "warnings": small_sample_warnings(t.n_positive, t.n_negative),
        "bootstrap_warnings": bootstrap_interval_warnings(t.n_positive, t.n_negative),
    }
    return out
