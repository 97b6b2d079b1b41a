"""Per-class decision thresholds, chosen on validation data.

`choose_thresholds` cannot know where its data come from: pass VALIDATION labels and logits.
Thresholds tuned on the test set make every thresholded test metric optimistic (one of the
seed code's defects, see FIELD-NOTES). The result remembers the rule it was chosen by, so
reports and exported models can state their operating point.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import ranking
from keras_ecgpe.evaluation.inputs import check_inputs, sigmoid

METHODS = ("f1", "youden", "sensitivity")
DEFAULT_THRESHOLD = 0.5  # for classes validation data cannot decide (no positives/negatives)


@dataclasses.dataclass(frozen=True)
class ThresholdChoice:
    """Per-class probability thresholds and the operating point they were chosen for.

    Attributes:
        thresholds: `(C,)` probabilities; a record is positive when `sigmoid(logit) >= t`.
        method: "f1" (best F1), "youden" (best sensitivity + specificity - 1) or
            "sensitivity" (highest threshold keeping sensitivity >= `target`).
        target: the sensitivity target of method "sensitivity" (None otherwise).
        fallback: indices of classes left at 0.5 because validation data had no positives
            or no negatives for them.
    """

    thresholds: np.ndarray
    method: str
    target: Optional[float] = None
    fallback: Tuple[int, ...] = ()

    def to_dict(self):
        """A JSON-safe description, stating that the thresholds came from validation data."""
        return {"thresholds": [float(t) for t in self.thresholds], "method": self.method,
                "target": self.target, "chosen_on": "validation",
                "fallback_classes": list(self.fallback)}

    @classmethod
    def from_dict(cls, data):
        """Inverse of `to_dict`."""
        return cls(np.asarray(data["thresholds"], dtype=np.float64), data["method"],
                   data.get("target"), tuple(data.get("fallback_classes", ())))


def _class_cut(y, z, method, target):
    """Returns the chosen logit threshold of one class (NaN when it cannot be chosen)."""
    levels, pos, neg = ranking.tie_groups(y, z)
    tp, fp = np.cumsum(pos[0]), np.cumsum(neg[0])
    n_pos, n_neg = tp[-1], fp[-1]
    if n_pos == 0 or n_neg == 0:
        return np.nan
    sens, spec = tp / n_pos, (n_neg - fp) / n_neg
    if method == "f1":
        k = int(np.argmax(2 * tp / (tp + fp + n_pos)))
    elif method == "youden":
        k = int(np.argmax(sens + spec))
    else:  # the first (highest) level whose sensitivity reaches the target
        k = int(np.argmax(sens >= target - ranking.TOLERANCE))
    # Cut halfway to the next lower score, so that the float round trip through a
    # probability cannot move the cut onto a score and flip that record.
    lower = levels[k + 1] if k + 1 < len(levels) else levels[k] - 1.0
    return 0.5 * (levels[k] + lower)


def choose_thresholds(y_true, logits, *, method="f1", target=0.9, mask=None):
    """Chooses one probability threshold per class on VALIDATION data.

    Candidate cuts lie between consecutive distinct logits of each class; the cut is placed
    midway between the chosen score and the next lower one. Classes whose validation labels
    lack positives or negatives keep 0.5 and are listed in `fallback`.

    Args:
        y_true: `(n, C)` validation labels in {0, 1}.
        logits: `(n, C)` validation logits.
        method: "f1", "youden" or "sensitivity" (rule-out: the most specific threshold whose
            validation sensitivity is at least `target`).
        target: sensitivity target in (0, 1] for method "sensitivity".
        mask: optional `(n, C)` 0/1 label mask; masked entries are ignored.

    Returns:
        A `ThresholdChoice`.

    Example:
    >>> choice = choose_thresholds([0, 0, 1, 1], [-2.0, 0.0, 1.0, 3.0], method="youden")
    >>> round(float(choice.thresholds[0]), 4)  # sigmoid(0.5)
    0.6225
    """
    if method not in METHODS:
        raise ConfigError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    if method == "sensitivity" and not 0.0 < target <= 1.0:
        raise ConfigError(f"`target` must be in (0, 1]. Received: target={target}")
    y, z, m = check_inputs(y_true, logits, mask)
    cuts = np.array([_class_cut(y[m[:, c], c], z[m[:, c], c], method, target)
                     if m[:, c].any() else np.nan for c in range(y.shape[1])])
    fallback = tuple(int(c) for c in np.flatnonzero(np.isnan(cuts)))
    thresholds = np.where(np.isnan(cuts), DEFAULT_THRESHOLD, sigmoid(np.nan_to_num(cuts)))
    return ThresholdChoice(thresholds, method, float(target) if method == "sensitivity"
                           else None, fallback)
