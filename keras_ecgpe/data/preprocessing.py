"""Preprocessing of one record: resample -> filter -> fixed length -> normalise.

Every step is a pure `(signal, fs, ...) -> (signal, fs)` on float32 `(time, leads)` mV
arrays. The filters live in `filters.py` and the normalisations in `normalization.py`;
both are re-exported here. `PreprocessConfig` holds one run's choices and
`apply_preprocessing` chains the steps. The window helpers cut prepared records for
training crops and sliding-window evaluation.
"""

from __future__ import annotations

import dataclasses
import fractions
import hashlib
import json

import numpy as np
from scipy import signal as sps

from keras_ecgpe.data.filters import (  # noqa: F401  (re-exported)
    FILTERS,
    bandpass,
    check_positive,
    check_signal,
    no_filter,
    paper_default,
    wavelet_level,
)
from keras_ecgpe.data.normalization import (  # noqa: F401  (re-exported)
    NORMALIZATIONS,
    DatasetStandardizer,
    normalize,
)
from keras_ecgpe.errors import ConfigError, RecordError
from keras_ecgpe.limits import MAX_DURATION_S, MAX_FS, MAX_PREPARED_SAMPLES
from keras_ecgpe.strict_config import from_strict_dict

__all__ = [
    "CROPS",
    "FILTERS",
    "NORMALIZATIONS",
    "PADS",
    "DatasetStandardizer",
    "PreprocessConfig",
    "apply_preprocessing",
    "bandpass",
    "centre_window",
    "no_filter",
    "normalize",
    "pad_or_truncate",
    "paper_default",
    "resample",
    "sliding_windows",
    "wavelet_level",
]

Signal = tuple[np.ndarray, float]
PADS = ("none", "edge", "zero")
CROPS = ("centre", "start")
# Bump when a step's numerics change, so fingerprints (and caches keyed by them) change too.
_PREPROCESSING_VERSION = 1


def resample(signal: np.ndarray, fs: float, target_fs: float) -> Signal:
    """Resamples all leads by polyphase filtering (`scipy.signal.resample_poly`).

    The ratio `target_fs / fs` is approximated by a fraction `up / down` with
    `down <= 1000`, so the returned rate is `fs * up / down` (exactly `target_fs` for
    every rate in use: 100, 250, 257, 360, 500, 1000 Hz). Equal rates are a no-op.

    Args:
        signal: `(time, leads)` array, mV.
        fs: sampling rate of `signal` in Hz.
        target_fs: wanted sampling rate in Hz.

    Returns:
        `(signal, fs)`: float32 `(ceil(time * up / down), leads)` and the new rate.

    Example:
    >>> resample(np.zeros((1000, 12), np.float32), 1000, 500)[0].shape
    (500, 12)
    """
    x = check_signal(signal)
    fs, target_fs = check_positive("fs", fs), check_positive("target_fs", target_fs)
    if fs == target_fs:
        return x, fs
    ratio = fractions.Fraction(target_fs / fs).limit_denominator(1000)
    if ratio.numerator == 0:
        raise ConfigError(f"`target_fs` is too far below fs={fs}. Received: target_fs={target_fs}")
    n_out = -(-x.shape[0] * ratio.numerator // ratio.denominator)
    if n_out > MAX_PREPARED_SAMPLES:  # refused before resample_poly allocates it
        raise RecordError(
            None,
            f"resampling {x.shape[0]} samples from {fs:g} to {target_fs:g} Hz would give "
            f"{n_out} samples per lead, more than the limit of {MAX_PREPARED_SAMPLES}",
        )
    out = sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=0)
    return out.astype(np.float32), fs * ratio.numerator / ratio.denominator


def pad_or_truncate(
    signal: np.ndarray, fs: float, duration_s: float, mode: str = "centre", pad: str = "none"
) -> Signal:
    """Brings a record to exactly `round(duration_s * fs)` samples.

    Longer records are cut: `mode="centre"` keeps the middle, `"start"` the beginning.
    Shorter records are an error unless padding is chosen explicitly: `pad="edge"` repeats
    the first/last sample, `pad="zero"` adds zeros (both sides for `"centre"`, the end
    for `"start"`). Padding never happens silently.

    Raises:
        ConfigError: bad `duration_s`, `mode` or `pad`.
        RecordError: record shorter than `duration_s` and `pad="none"`.

    Example:
    >>> pad_or_truncate(np.zeros((6000, 12), np.float32), 500.0, 10.0)[0].shape
    (5000, 12)
    """
    x = check_signal(signal)
    fs, duration_s = check_positive("fs", fs), check_positive("duration_s", duration_s)
    if mode not in CROPS:
        raise ConfigError(f"`mode` must be 'centre' or 'start'. Received: mode={mode!r}")
    if pad not in PADS:
        raise ConfigError(f"`pad` must be one of {', '.join(PADS)}. Received: pad={pad!r}")
    n, target = x.shape[0], int(round(duration_s * fs))
    if n >= target:
        start = (n - target) // 2 if mode == "centre" else 0
        return x[start : start + target], fs
    if target > MAX_PREPARED_SAMPLES:
        raise RecordError(
            None,
            f"padding to {duration_s:g} s at {fs:g} Hz would give {target} samples per lead, "
            f"more than the limit of {MAX_PREPARED_SAMPLES}",
        )
    if pad == "none":
        raise RecordError(
            None,
            f"record shorter than {duration_s} s ({n} < {target} samples at {fs} Hz); "
            "choose pad='edge' or pad='zero' to pad it",
        )
    before = (target - n) // 2 if mode == "centre" else 0
    widths = ((before, target - n - before), (0, 0))
    return np.pad(x, widths, mode="edge" if pad == "edge" else "constant"), fs


def _window_args(signal, window: int, stride: int = 1) -> np.ndarray:
    for name, value in (("window", window), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    x = check_signal(signal)
    if x.shape[0] < window:
        raise RecordError(None, f"record of {x.shape[0]} samples is shorter than window={window}")
    return x


def centre_window(signal: np.ndarray, window: int) -> np.ndarray:
    """Returns the middle `window` samples `(window, leads)` of a record."""
    x = _window_args(signal, window)
    start = (x.shape[0] - window) // 2
    return x[start : start + window]


def sliding_windows(signal: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a record into overlapping windows that cover it to the last sample.

    Windows start every `stride` samples; if that leaves a tail, one more window is
    aligned to the end of the record (so it overlaps its neighbour more).

    Returns:
        `(windows, starts)`: float32 `(n_windows, window, leads)` and int64 start indices.

    Raises:
        RecordError: the record is shorter than `window` (message names both).

    Example:
    >>> sliding_windows(np.zeros((1000, 12), np.float32), 250, 300)[1].tolist()
    [0, 300, 600, 750]
    """
    x = _window_args(signal, window, stride)
    last = x.shape[0] - window
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, np.int64(last))
    views = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (n, leads, window)
    return np.ascontiguousarray(views[starts].transpose(0, 2, 1)), starts


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """One run's preprocessing choices; strict, hashable, JSON round-trippable.

    Attributes:
        target_fs: resample to this rate in Hz; None keeps each record's own rate.
        filter: "bandpass" (`low_hz`-`high_hz`), "paper_default" (50 Hz low-pass + db4
            baseline removal) or "none".
        low_hz, high_hz: band-pass cut-offs in Hz (used only by "bandpass").
        normalize: per-lead normalisation, one of `NORMALIZATIONS`.
        duration_s: cut (or pad) every record to this length; None keeps the length.
        pad: "none" (short records are an error), "edge" or "zero".
        crop: which part a longer record keeps, "centre" or "start".

    Example:
    >>> PreprocessConfig.from_dict({"filter": "none"}).filter
    'none'
    """

    target_fs: float | None = 500.0
    filter: str = "bandpass"
    low_hz: float = 1.0
    high_hz: float = 45.0
    normalize: str = "zscore"
    duration_s: float | None = None
    pad: str = "none"
    crop: str = "centre"

    def __post_init__(self):
        for name in ("target_fs", "duration_s", "low_hz", "high_hz"):
            value = getattr(self, name)
            if value is not None or name in ("low_hz", "high_hz"):
                # Coerced to float so 500 and 500.0 give one fingerprint.
                value = check_positive(name, value)
                high = MAX_DURATION_S if name == "duration_s" else MAX_FS
                if value > high:
                    raise ConfigError(f"`{name}` must be <= {high:g}. Received: {name}={value!r}")
                object.__setattr__(self, name, value)
        for name, valid in (
            ("filter", FILTERS),
            ("normalize", NORMALIZATIONS),
            ("pad", PADS),
            ("crop", CROPS),
        ):
            if getattr(self, name) not in valid:
                raise ConfigError(
                    f"`{name}` must be one of {', '.join(valid)}. "
                    f"Received: {name}={getattr(self, name)!r}"
                )
        if self.filter == "bandpass" and not self.low_hz < self.high_hz:
            raise ConfigError(
                f"`low_hz` must be below `high_hz`. Received: low_hz="
                f"{self.low_hz}, high_hz={self.high_hz}"
            )
        if self.filter == "bandpass" and self.target_fs and self.high_hz >= self.target_fs / 2:
            raise ConfigError(
                f"`high_hz` must be below target_fs/2 = {self.target_fs / 2}. "
                f"Received: high_hz={self.high_hz}"
            )

    def to_dict(self) -> dict:
        """Returns the settings as a JSON-safe dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessConfig:
        """Builds a config from a dict; unknown keys are errors, missing ones take defaults."""
        return from_strict_dict(cls, data, "preprocessing")

    def fingerprint(self) -> str:
        """SHA-256 hex digest of the canonical JSON of the settings (and code version)."""
        payload = {"version": _PREPROCESSING_VERSION, **self.to_dict()}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def apply_preprocessing(signal: np.ndarray, fs: float, config: PreprocessConfig) -> Signal:
    """Runs resample -> filter -> pad/truncate -> normalise on one record.

    Args:
        signal: `(time, leads)` array, mV.
        fs: sampling rate in Hz.
        config: a `PreprocessConfig`.

    Returns:
        `(signal, fs)`: float32 `(time', leads)` and the rate after resampling.

    Raises:
        RecordError: non-finite input or output, or a record too short for a step.
        ConfigError: settings that do not fit this record (e.g. high_hz above fs/2).

    Example:
    >>> x = np.random.default_rng(0).normal(size=(10000, 12)).astype(np.float32)
    >>> apply_preprocessing(x, 1000.0, PreprocessConfig(duration_s=8.0))[0].shape
    (4000, 12)
    """
    x = check_signal(signal)
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise RecordError(None, f"signal holds {bad} NaN/inf samples before preprocessing")
    if config.target_fs is not None:
        x, fs = resample(x, fs, config.target_fs)
    if config.filter == "bandpass":
        x, fs = bandpass(x, fs, config.low_hz, config.high_hz)
    elif config.filter == "paper_default":
        x, fs = paper_default(x, fs)
    if config.duration_s is not None:
        x, fs = pad_or_truncate(x, fs, config.duration_s, mode=config.crop, pad=config.pad)
    x = normalize(x, config.normalize)
    if not np.all(np.isfinite(x)):
        raise RecordError(None, f"preprocessing {config.to_dict()} produced NaN/inf values")
    return x, fs
