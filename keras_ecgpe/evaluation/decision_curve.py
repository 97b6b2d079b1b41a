"""Decision-curve analysis (Vickers & Elkin 2006): net benefit against treat-all and
treat-none over a range of threshold probabilities.

At threshold probability pt a patient is referred (e.g. for CT pulmonary angiography) when
the model's calibrated probability is at least pt, i.e. when the calibrated logit is at
least logit(pt):

    net benefit      = TP/N - FP/N * pt / (1 - pt)
    treat all        = prevalence - (1 - prevalence) * pt / (1 - pt)
    treat none       = 0

For PE work-up the relevant thresholds are low (imaging is commonly advised above about 2 %
pre-test probability), so the default grid runs from 1 % to 30 %.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.inputs import check_binary

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

DCA_THRESHOLDS = (0.01, 0.02, 0.03, 0.05, 0.075, 0.10, 0.15, 0.20, 0.25, 0.30)


def decision_curve(
    y_true: ArrayLike, logits: ArrayLike, *, thresholds: ArrayLike = DCA_THRESHOLDS
) -> dict:
    """Net benefit of the model, treat-all and treat-none at each threshold probability.

    Args:
        y_true: `(n,)` labels in {0, 1}.
        logits: `(n,)` CALIBRATED logits (net benefit needs probabilities that mean what
            they say).
        thresholds: threshold probabilities in (0, 1), increasing.

    Returns:
        `{"n", "prevalence", "method", "rows": [{"threshold", "tp", "fp",
        "net_benefit_model", "net_benefit_treat_all", "net_benefit_treat_none"}, ...]}`.

    Example:
    >>> r = decision_curve([1, 0, 0, 0], [2.0, -1.0, -3.0, -5.0], thresholds=[0.1])
    >>> row = r["rows"][0]  # refers the records at logits 2 and -1 (>= logit(0.1) = -2.2)
    >>> round(row["net_benefit_model"], 4), round(row["net_benefit_treat_all"], 4)
    (0.2222, 0.1667)
    """
    y, z = check_binary(y_true, logits)
    pt = np.asarray(thresholds, dtype=np.float64)
    if pt.ndim != 1 or pt.size == 0 or not ((pt > 0) & (pt < 1)).all():
        raise ConfigError(
            "`thresholds` must be probabilities in (0, 1). Received: "
            f"{np.asarray(thresholds).tolist()}"
        )
    y = y.astype(bool)
    n, prevalence = y.size, float(y.mean())
    rows = []
    for t in pt:
        refer = z >= np.log(t) - np.log1p(-t)
        tp, fp = int((refer & y).sum()), int((refer & ~y).sum())
        odds = t / (1 - t)
        rows.append(
            {
                "threshold": float(t),
                "tp": tp,
                "fp": fp,
                "net_benefit_model": float(tp / n - fp / n * odds),
                "net_benefit_treat_all": float(prevalence - (1 - prevalence) * odds),
                "net_benefit_treat_none": 0.0,
            }
        )
    return {
        "n": int(n),
        "prevalence": prevalence,
        "rows": rows,
        "method": "net benefit (Vickers & Elkin 2006); referred when calibrated "
        "probability >= threshold",
    }
