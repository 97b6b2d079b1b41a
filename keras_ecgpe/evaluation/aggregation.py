"""Record-level predictions from sliding-window predictions.

A long or cropped record is scored as several windows; its record-level logit is the mean
or the max of its windows' logits. The PTB-XL benchmark (Strodthoff et al. 2021) scores
2.5 s windows with stride 1.25 s and aggregates them with max; the mean is the smoother
choice when a finding should be present throughout the record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

AGGREGATIONS = ("mean", "max")


def aggregate_windows(
    window_logits: ArrayLike, record_index: ArrayLike, how: str = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    """Aggregates window logits per record.

    Args:
        window_logits: `(m, C)` (or `(m,)`) logits of m windows.
        record_index: `(m,)` id of the record each window belongs to (any hashable values).
        how: "mean" (mean of logits) or "max" (max of logits, as in the PTB-XL benchmark).

    Returns:
        `(record_ids, record_logits)`: the ids in order of first appearance, `(n,)`, and
        their logits `(n, C)` (`(n,)` for 1-D input).

    Example:
    >>> ids, z = aggregate_windows([[1.0], [3.0], [-2.0]], ["a", "a", "b"], how="max")
    >>> ids.tolist(), z.ravel().tolist()
    (['a', 'b'], [3.0, -2.0])
    """
    if how not in AGGREGATIONS:
        raise ConfigError(f"`how` must be one of {AGGREGATIONS}. Received: how={how!r}")
    z = np.asarray(window_logits, dtype=np.float64)
    flat = z.ndim == 1
    z = z[:, None] if flat else z
    ids = np.asarray(record_index)
    if z.ndim != 2 or ids.shape != (len(z),) or len(z) == 0:
        raise ConfigError(
            "`window_logits` (m, C) and `record_index` (m,) must be non-empty "
            f"with equal m. Received shapes {np.shape(window_logits)} and "
            f"{np.shape(record_index)}"
        )
    if not np.isfinite(z).all():
        raise ConfigError("`window_logits` must be finite. Received NaN or infinite values")
    unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first)  # np.unique sorts the ids; restore order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    slot = rank[inverse.ravel()]
    if how == "mean":
        out = np.zeros((len(unique), z.shape[1]))
        np.add.at(out, slot, z)
        out /= np.bincount(slot)[:, None]
    else:
        out = np.full((len(unique), z.shape[1]), -np.inf)
        np.maximum.at(out, slot, z)
    return unique[order], (out[:, 0] if flat else out)
