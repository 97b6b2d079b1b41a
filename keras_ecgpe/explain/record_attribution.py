"""Window attributions mapped back onto one record's time axis, and their summary.

A record is scored as sliding windows of its preprocessed signal whose logits are
aggregated (`evaluation.aggregation`). The record logit's attribution follows the
aggregation: with "mean" every window's integrated gradients are added at its position
with weight 1/n (overlaps add up), so the map sums to the record logit minus the
baseline's, exactly as each window's does; with "max" the window that attains the
maximum is explained (the gradient of a max is its argument's). Positions are then put on
the record's own time axis in seconds, undoing the crop or padding of the preprocessing
(`preprocessed_offset`); samples that were padding, not record, are kept apart.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.preprocessing import pad_or_truncate, resample
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.leads import CANONICAL_LEADS

if TYPE_CHECKING:
    from keras_ecgpe.data.preprocessing import PreprocessConfig
    from keras_ecgpe.explain.integrated_gradients import WindowAttributions

SEGMENT_S = 0.5
TOP_SEGMENTS = 3


def preprocessed_offset(
    n_samples: int, fs: float, config: PreprocessConfig
) -> tuple[int, float, int]:
    """Where the preprocessed signal starts on the resampled record: `(offset, fs', n')`.

    Preprocessed sample k lies at time `(k + offset) / fs'` s of the original record; a
    negative offset means that many samples of padding come first. Computed by passing an
    index signal through the real `resample` length and `pad_or_truncate`, so it follows
    the preprocessing's own crop rules. `n'` is the record's length at `fs'`.

    Example:
    >>> from keras_ecgpe.data.preprocessing import PreprocessConfig
    >>> preprocessed_offset(12000, 1000.0, PreprocessConfig(target_fs=100.0, duration_s=10.0))
    (100, 100.0, 1200)
    """
    length, rate = n_samples, float(fs)
    if config.target_fs is not None:
        resampled, rate = resample(np.zeros((n_samples, 1), np.float32), fs, config.target_fs)
        length = resampled.shape[0]
    if config.duration_s is None:
        return 0, rate, length
    index = np.arange(1, length + 1, dtype=np.float64)[:, None]
    pad = "none" if config.pad == "none" else "zero"
    kept, _ = pad_or_truncate(index, rate, config.duration_s, mode=config.crop, pad=pad)
    first = int(np.argmax(kept[:, 0] > 0))
    return int(kept[first, 0]) - 1 - first, rate, length


@dataclasses.dataclass(frozen=True)
class RecordAttribution:
    """The attribution of one record's logit, on the record's time axis.

    Attributes:
        times_s: `(L,)` time of each preprocessed sample on the original record, seconds.
        values: `(L, 12)` attributions (logit units), canonical lead order.
        inside: `(L,)` True where the sample is record, False where it was padding.
        logit: the explained record logit; baseline_logit: the same at the baseline.
        windows: how many windows were explained; aggregate: "mean" or "max".
        steps: integration steps.
    """

    times_s: np.ndarray
    values: np.ndarray
    inside: np.ndarray
    logit: float
    baseline_logit: float
    windows: int
    aggregate: str
    steps: int

    @property
    def completeness_gap(self) -> float:
        """Sum of attributions minus (logit - baseline_logit)."""
        return float(self.values.sum() - (self.logit - self.baseline_logit))

    def lead_shares(self) -> dict[str, float]:
        """Each lead's share of the total |attribution| inside the record (sums to 1)."""
        magnitude = np.abs(self.values[self.inside]).sum(axis=0)
        total = magnitude.sum()
        shares = magnitude / total if total > 0 else np.zeros_like(magnitude)
        return dict(zip(CANONICAL_LEADS, map(float, shares)))

    def top_segments(self, segment_s: float = SEGMENT_S, top: int = TOP_SEGMENTS) -> list:
        """The `top` segments of `segment_s` seconds (a grid from 0 s) with the largest
        share of |attribution|, each with its share, signed sum and three leading leads."""
        times, values = self.times_s[self.inside], self.values[self.inside]
        total = float(np.abs(values).sum())
        if total == 0.0 or times.size == 0:
            return []
        bins = np.floor(times / segment_s).astype(np.int64)
        out = []
        for b in np.unique(bins):
            chunk = values[bins == b]
            by_lead = np.abs(chunk).sum(axis=0)
            leads = [CANONICAL_LEADS[k] for k in np.argsort(-by_lead, kind="stable")[:3]]
            out.append(
                {
                    "start_s": round(float(b * segment_s), 6),
                    "end_s": round(float((b + 1) * segment_s), 6),
                    "share": float(by_lead.sum() / total),
                    "signed_sum": float(chunk.sum()),
                    "leads": leads,
                }
            )
        out.sort(key=lambda item: -item["share"])
        return out[:top]

    def summary(self) -> dict:
        """JSON-safe figures: completeness, per-lead shares and signed sums, top segments."""
        magnitude = float(np.abs(self.values).sum())
        outside = float(np.abs(self.values[~self.inside]).sum())
        return {
            "logit": self.logit,
            "baseline_logit": self.baseline_logit,
            "attribution_sum": float(self.values.sum()),
            "completeness_gap": self.completeness_gap,
            "windows": self.windows,
            "aggregate": self.aggregate,
            "lead_shares": self.lead_shares(),
            "lead_sums": dict(
                zip(CANONICAL_LEADS, map(float, self.values[self.inside].sum(axis=0)))
            ),
            "top_segments": self.top_segments(),
            "segment_s": SEGMENT_S,
            "padding_share": outside / magnitude if magnitude > 0 else 0.0,
        }


def map_to_record(
    result: WindowAttributions,
    starts: np.ndarray,
    length: int,
    aggregate: str,
    *,
    offset: int,
    fs: float,
    n_record: int,
) -> RecordAttribution:
    """Places window attributions at their starts in a preprocessed signal of `length`.

    Args:
        result: integrated gradients of every window of the record.
        starts: `(n,)` window starts in the preprocessed signal.
        length: the preprocessed signal's length in samples.
        aggregate: the contract's window aggregation, "mean" or "max".
        offset, fs, n_record: from `preprocessed_offset` (samples outside
            `[0, n_record)` are padding).

    Raises:
        ConfigError: an unknown aggregation or windows that do not fit `length`.

    Example:
    >>> from keras_ecgpe.explain.integrated_gradients import WindowAttributions
    >>> ig = WindowAttributions(np.ones((2, 4, 12)), np.array([2.0, 4.0]), np.zeros(2), 8)
    >>> mapped = map_to_record(ig, np.array([0, 2]), 6, "mean", offset=0, fs=2.0, n_record=6)
    >>> mapped.values[:, 0].tolist(), mapped.logit
    ([0.5, 0.5, 1.0, 1.0, 0.5, 0.5], 3.0)
    """
    n, window = result.values.shape[:2]
    starts = np.asarray(starts, dtype=np.int64)
    if starts.shape != (n,) or starts.min(initial=0) < 0 or starts.max(initial=0) + window > length:
        raise ConfigError(
            f"window starts {starts.tolist()[:8]} do not fit {n} windows of {window} "
            f"samples in {length}"
        )
    if aggregate == "mean":
        weights = np.full(n, 1.0 / n)
    elif aggregate == "max":
        weights = np.zeros(n)
        weights[int(np.argmax(result.logits))] = 1.0
    else:
        raise ConfigError(f"unknown window aggregation {aggregate!r} (mean or max)")
    values = np.zeros((length, result.values.shape[2]))
    for weight, start, window_values in zip(weights, starts, result.values):
        if weight:
            values[start : start + window] += weight * window_values
    positions = np.arange(length) + offset
    return RecordAttribution(
        times_s=positions / fs,
        values=values,
        inside=(positions >= 0) & (positions < n_record),
        logit=float(weights @ result.logits),
        baseline_logit=float(weights @ result.baseline_logits),
        windows=int(n),
        aggregate=aggregate,
        steps=result.steps,
    )
