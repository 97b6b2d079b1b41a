"""Per-class decision cuts on the logit, chosen on validation data, and THE decision rule.

`choose_thresholds` cannot know where its data come from: pass VALIDATION labels and logits.
Cuts tuned on the test set make every thresholded test metric optimistic. The result
remembers the rule it was chosen by, so reports and exported models can state their
operating point.

A cut is stored as a logit, never as a probability: `sigmoid` rounds to exactly 1.0 above a
logit of about 37, so a probability threshold cannot tell 38 from 45 and every reader that
converts it back (or clips it) moves the cut. `decide` is the one decision rule,
`logit >= cut`, for evaluation, prediction and export alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation import ranking
from keras_ecgpe.evaluation.inputs import check_inputs, probability_to_logit, sigmoid

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

METHODS = ("f1", "youden", "sensitivity", "specificity")
DEFAULT_CUT = 0.0  # logit of 0.5, for classes validation data cannot decide
RULE = "positive when logit >= logit_cut"
# +-inf cannot be written to JSON; the largest float is a cut no finite logit passes (or
# every finite logit passes), which is exactly what an infinite cut means.
_FINITE = np.finfo(np.float64).max


def legacy_probability_to_cut(thresholds: ArrayLike) -> np.ndarray:
    """Converts probability thresholds of an old contract to logit cuts, once.

    The rule: `cut = log(p) - log(1 - p)`, exact for `0 < p < 1`; `p = 1` becomes the largest
    float (no finite logit is positive, which is what `sigmoid(z) >= 1` meant for every
    logit the old evaluation compared) and `p = 0` its negative (every record positive).
    """
    p = np.asarray(thresholds, dtype=np.float64)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():
        raise ConfigError(
            "Stored `thresholds` must be a list of probabilities in [0, 1]. "
            f"Received: {np.asarray(thresholds).tolist()}"
        )
    return np.clip(probability_to_logit(p), -_FINITE, _FINITE)


@dataclasses.dataclass(frozen=True)
class ThresholdChoice:
    """Per-class logit cuts and the operating point they were chosen for.

    Attributes:
        cuts: `(C,)` logits; a record is positive for class c when `logit >= cuts[c]`.
        method: "f1" (best F1), "youden" (best sensitivity + specificity - 1),
            "sensitivity" (rule-out: highest cut keeping sensitivity >= `target`) or
            "specificity" (rule-in: lowest cut keeping specificity >= `target`).
        target: the sensitivity or specificity target (None for "f1" and "youden").
        fallback: indices of classes left at logit 0 (probability 0.5) because validation
            data had no positives or no negatives for them.
    """

    cuts: np.ndarray
    method: str
    target: float | None = None
    fallback: tuple[int, ...] = ()

    def __post_init__(self):
        cuts = np.asarray(self.cuts, dtype=np.float64)
        if cuts.ndim != 1 or np.isnan(cuts).any():
            raise ConfigError(
                f"`cuts` must be a (C,) array of logits without NaN. Received: "
                f"{np.asarray(self.cuts).tolist()}"
            )
        object.__setattr__(self, "cuts", cuts)

    @property
    def thresholds(self) -> np.ndarray:
        """`sigmoid(cuts)`: probabilities FOR DISPLAY ONLY (they saturate; never decide)."""
        return sigmoid(self.cuts)

    def to_dict(self) -> dict:
        """A JSON-safe description; `logit_cuts` decide, `thresholds` are for display only."""
        return {
            "logit_cuts": [float(c) for c in np.clip(self.cuts, -_FINITE, _FINITE)],
            "rule": RULE,
            "thresholds": [float(t) for t in self.thresholds],
            "thresholds_note": "sigmoid(logit_cuts), display only: never used to decide",
            "method": self.method,
            "target": self.target,
            "chosen_on": "validation",
            "fallback_classes": list(self.fallback),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ThresholdChoice:
        """Inverse of `to_dict`; also reads old dicts holding only probability `thresholds`
        (converted once by `legacy_probability_to_cut`)."""
        if "logit_cuts" in data:
            cuts = np.asarray(data["logit_cuts"], dtype=np.float64)
        elif "thresholds" in data:
            cuts = legacy_probability_to_cut(data["thresholds"])
        else:
            raise ConfigError(
                "A threshold choice needs `logit_cuts` (or the older "
                f"`thresholds`). Received keys: {sorted(data)}"
            )
        return cls(
            cuts, data["method"], data.get("target"), tuple(data.get("fallback_classes", ()))
        )


def decide(logits: ArrayLike, choice: ThresholdChoice | Mapping) -> np.ndarray:
    """THE decision rule: a record is positive for class c when `logits[..., c] >= cut_c`.

    Args:
        logits: `(n, C)` raw logits (`(n,)` for one class), the scale the cuts were chosen on.
        choice: a `ThresholdChoice`, or its `to_dict()` (e.g. a model contract's entry).

    Returns:
        A bool array of the shape of `logits`.

    Example:
    >>> decide([[38.0], [45.0]], ThresholdChoice(np.array([40.0]), "f1")).ravel().tolist()
    [False, True]
    """
    if not isinstance(choice, ThresholdChoice):
        choice = ThresholdChoice.from_dict(choice)
    z = np.asarray(logits, dtype=np.float64)
    num_classes = 1 if z.ndim == 1 else z.shape[-1]
    if z.ndim not in (1, 2) or len(choice.cuts) != num_classes:
        raise ConfigError(
            f"`logits` must be (n, {len(choice.cuts)}) for these cuts. Received shape {z.shape}"
        )
    return z >= (choice.cuts[0] if z.ndim == 1 else choice.cuts)


def _class_cut(y, z, method, target):
    """Returns the chosen logit cut of one class (NaN when it cannot be chosen)."""
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
    elif method == "sensitivity":  # the first (highest) level whose sensitivity reaches it
        k = int(np.argmax(sens >= target - ranking.TOLERANCE))
    else:  # the last (lowest) level whose specificity still reaches the target
        reach = np.flatnonzero(spec >= target - ranking.TOLERANCE)
        if not len(reach):  # even the top score is too many negatives: call nothing positive
            return levels[0] + 1.0
        k = int(reach[-1])
    # Cut halfway to the next lower score: a score exactly on a cut is positive, and no
    # validation record sits on one.
    lower = levels[k + 1] if k + 1 < len(levels) else levels[k] - 1.0
    return 0.5 * (levels[k] + lower)


def choose_thresholds(
    y_true: ArrayLike,
    logits: ArrayLike,
    *,
    method: str = "f1",
    target: float = 0.9,
    mask: ArrayLike | None = None,
) -> ThresholdChoice:
    """Chooses one logit cut per class on VALIDATION data.

    Candidate cuts lie between consecutive distinct logits of each class; the cut is placed
    midway between the chosen score and the next lower one. Classes whose validation labels
    lack positives or negatives keep logit 0 (probability 0.5) and are listed in `fallback`.

    Args:
        y_true: `(n, C)` validation labels in {0, 1}.
        logits: `(n, C)` validation logits.
        method: "f1", "youden", "sensitivity" (rule-out: the highest cut whose validation
            sensitivity is at least `target`) or "specificity" (rule-in: the lowest cut whose
            validation specificity is at least `target`).
        target: the sensitivity or specificity target in (0, 1].
        mask: optional `(n, C)` 0/1 label mask; masked entries are ignored.

    Returns:
        A `ThresholdChoice`.

    Example:
    >>> choice = choose_thresholds([0, 0, 1, 1], [-2.0, 0.0, 1.0, 3.0], method="youden")
    >>> float(choice.cuts[0])
    0.5
    """
    if method not in METHODS:
        raise ConfigError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    targeted = method in ("sensitivity", "specificity")
    if targeted and not 0.0 < target <= 1.0:
        raise ConfigError(f"`target` must be in (0, 1]. Received: target={target}")
    y, z, m = check_inputs(y_true, logits, mask)
    cuts = np.array(
        [
            _class_cut(y[m[:, c], c], z[m[:, c], c], method, target) if m[:, c].any() else np.nan
            for c in range(y.shape[1])
        ]
    )
    fallback = tuple(int(c) for c in np.flatnonzero(np.isnan(cuts)))
    return ThresholdChoice(
        np.where(np.isnan(cuts), DEFAULT_CUT, cuts),
        method,
        float(target) if targeted else None,
        fallback,
    )
