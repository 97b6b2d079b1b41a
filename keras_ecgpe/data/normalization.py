"""Per-lead normalisations of one record and a dataset-level standardizer.

`normalize` scales each lead of one record by statistics of that record (the seed paper's
six choices). `DatasetStandardizer` instead fits one mean/std per lead on the training
signals only, streaming, so validation and test data never leak into the constants.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError, RecordError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

NORMALIZATIONS = ("none", "minmax", "zscore", "robust", "log1p", "l2")

# A lead whose spread is below 1 nV is flat: real ADCs resolve about 1 uV, so anything
# smaller is rounding noise that division would blow up to O(1).
_FLAT_MV = 1e-6


def _safe_scale(scale: np.ndarray) -> np.ndarray:
    # Flat leads are divided by 1 so they stay at zero after centring, never NaN/inf.
    return np.where(scale > _FLAT_MV, scale, 1.0)


def _as_signal(signal) -> np.ndarray:
    array = np.asarray(signal)
    if array.ndim != 2:
        raise RecordError(None, f"signal must be (time, leads); got shape {array.shape}")
    return array.astype(np.float64, copy=False)


def normalize(signal: np.ndarray, method: str = "zscore") -> np.ndarray:
    """Normalises each lead of one record independently, over time.

    Methods: `"none"`; `"minmax"` to [0, 1]; `"zscore"` (mean 0, std 1); `"robust"`
    (median 0, inter-quartile range 1); `"log1p"` = sign(x) * log1p(|x|), the paper's
    log1p made defined for negative millivolts; `"l2"` (unit Euclidean norm, not centred).
    A flat lead (range/std/IQR/norm below 1 nV) is centred and not scaled, so it comes out
    all zeros (for l2: unchanged zeros) instead of NaN or inf. A lead with zero IQR but
    some spikes keeps its centred values in mV.

    Args:
        signal: `(time, leads)` array, mV.
        method: one of `NORMALIZATIONS`.

    Returns:
        float32 `(time, leads)` array of the same shape.

    Raises:
        ConfigError: unknown `method`.
        RecordError: `signal` is not 2-D.

    Example:
    >>> float(normalize(np.ones((500, 12), np.float32), "zscore").max())
    0.0
    """
    if method not in NORMALIZATIONS:
        raise ConfigError(
            f"`normalize` must be one of {', '.join(NORMALIZATIONS)}. "
            f"Received: normalize={method!r}"
        )
    x = _as_signal(signal)
    if method == "none":
        out = x
    elif method == "minmax":
        low = x.min(axis=0)
        out = (x - low) / _safe_scale(x.max(axis=0) - low)
    elif method == "zscore":
        out = (x - x.mean(axis=0)) / _safe_scale(x.std(axis=0))
    elif method == "robust":
        q25, q50, q75 = np.percentile(x, [25, 50, 75], axis=0)
        out = (x - q50) / _safe_scale(q75 - q25)
    elif method == "log1p":
        out = np.sign(x) * np.log1p(np.abs(x))
    else:  # l2
        out = x / _safe_scale(np.sqrt(np.sum(x * x, axis=0)))
    return out.astype(np.float32)


class DatasetStandardizer:
    """Per-lead mean/std over a whole training set, fitted in one streaming pass.

    `fit` merges per-record (count, mean, M2) with Chan et al.'s parallel update, in
    float64, so PTB-XL-sized sets never have to be concatenated in memory. The result
    equals numpy's mean/std (ddof=0) over the concatenation of all records.

    Example:
    >>> s = DatasetStandardizer().fit([np.ones((10, 12)), np.zeros((10, 12))])
    >>> float(s.mean[0]), float(s.std[0])
    (0.5, 0.5)
    """

    def __init__(self, mean: ArrayLike | None = None, std: ArrayLike | None = None, count: int = 0):
        self.mean: np.ndarray | None = None if mean is None else np.asarray(mean, np.float64)
        self.std: np.ndarray | None = None if std is None else np.asarray(std, np.float64)
        self.count = int(count)

    def fit(self, signals: Iterable[np.ndarray]) -> DatasetStandardizer:
        """Fits on an iterable of `(time, leads)` training signals; returns self."""
        count, mean, m2 = 0, None, None
        for signal in signals:
            x = _as_signal(signal)
            n_b = x.shape[0]
            if n_b == 0:
                continue
            mean_b = x.mean(axis=0)
            m2_b = np.sum((x - mean_b) ** 2, axis=0)
            if mean is None:
                count, mean, m2 = n_b, mean_b, m2_b
                continue
            if mean_b.shape != mean.shape:
                raise RecordError(
                    None, f"signal has {mean_b.shape[0]} leads, earlier ones {mean.shape[0]}"
                )
            total = count + n_b
            delta = mean_b - mean
            mean = mean + delta * (n_b / total)
            m2 = m2 + m2_b + delta**2 * (count * n_b / total)
            count = total
        if mean is None:
            raise ConfigError("DatasetStandardizer.fit received no samples to fit on.")
        self.count, self.mean, self.std = count, mean, np.sqrt(m2 / count)
        return self

    def transform(self, signal: np.ndarray) -> np.ndarray:
        """Returns float32 `(signal - mean) / std` per lead; flat leads are only centred."""
        if self.mean is None:
            raise ConfigError("DatasetStandardizer is not fitted: call fit() or from_dict().")
        x = _as_signal(signal)
        if x.shape[1] != self.mean.shape[0]:
            raise RecordError(
                None, f"signal has {x.shape[1]} leads, standardizer {self.mean.shape[0]}"
            )
        return ((x - self.mean) / _safe_scale(self.std)).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-safe dict: `{"mean": [...], "std": [...], "count": n}`."""
        if self.mean is None:
            raise ConfigError("DatasetStandardizer is not fitted: nothing to save.")
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "count": self.count}

    @classmethod
    def from_dict(cls, data: dict) -> DatasetStandardizer:
        """Rebuilds a standardizer from `to_dict()` output; unknown keys are errors."""
        valid = {"mean", "std", "count"}
        if not isinstance(data, dict) or set(data) != valid:
            keys = sorted(data) if isinstance(data, dict) else data
            raise ConfigError(
                f"DatasetStandardizer dict needs exactly the keys {sorted(valid)}. Received: {keys}"
            )
        mean, std = np.asarray(data["mean"], np.float64), np.asarray(data["std"], np.float64)
        if mean.ndim != 1 or mean.shape != std.shape or np.any(std < 0):
            raise ConfigError(
                f"`mean` and `std` must be equal-length lists, std >= 0. Received: {data}"
            )
        return cls(mean, std, data["count"])
