"""Zero-phase filters designed at the record's own sampling rate.

Each is a pure `(signal, fs, ...) -> (signal, fs)` on float32 `(time, leads)` mV arrays,
run forward and backward along time (no phase shift). The seed paper's code designed its
band-pass at 100 Hz and ran it on 500 Hz data, cutting 1-3 Hz by 10-28 dB and passing
mains hum; here every design takes the real `fs`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import pywt
from scipy import signal as sps

from keras_ecgpe.errors import ConfigError, RecordError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

Signal = tuple[np.ndarray, float]

FILTERS = ("bandpass", "paper_default", "none")


def check_signal(signal: ArrayLike) -> np.ndarray:
    """Returns `signal` as a float32 `(time, leads)` array or raises RecordError."""
    array = np.asarray(signal)
    if array.ndim != 2:
        raise RecordError(None, f"signal must be (time, leads); got shape {array.shape}")
    return array.astype(np.float32, copy=False)


def check_positive(name: str, value: float) -> float:
    """Returns `value` as float or raises ConfigError naming `name` (inf is refused too)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not 0 < value < float("inf")
    ):
        raise ConfigError(f"`{name}` must be a positive finite number. Received: {name}={value!r}")
    return float(value)


@functools.lru_cache(maxsize=64)
def _butter_sos(fs: float, low_hz, high_hz, order: int) -> np.ndarray:
    if low_hz is None:
        sos = sps.butter(order, high_hz, btype="lowpass", fs=fs, output="sos")
    else:
        sos = sps.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")
    sos.setflags(write=False)  # shared through the cache: nobody may modify it
    return sos


def _filtfilt(x: np.ndarray, sos: np.ndarray, what: str) -> np.ndarray:
    # sosfiltfilt's default edge padding (its own formula) needs more samples than this.
    zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    padlen = 3 * (2 * len(sos) + 1 - zeros)
    if x.shape[0] <= padlen:
        raise RecordError(
            None, f"record of {x.shape[0]} samples too short for the {what} ({padlen + 1} needed)"
        )
    # scipy wants a writable sos: hand it a copy of the read-only cached design.
    return sps.sosfiltfilt(sos.copy(), x, axis=0).astype(np.float32)


def bandpass(
    signal: np.ndarray, fs: float, low_hz: float = 1.0, high_hz: float = 45.0, order: int = 4
) -> Signal:
    """Zero-phase Butterworth band-pass, designed at the record's own `fs`.

    The `order`-th order design (second-order sections, cached per `(fs, low_hz, high_hz,
    order)`) runs forward and backward along time for all leads at once, so the gain is
    squared (-6 dB at each cut-off) and the phase is zero: waves are not shifted.

    Args:
        signal: `(time, leads)` array, mV.
        fs: sampling rate in Hz.
        low_hz, high_hz: cut-offs in Hz, `0 < low_hz < high_hz < fs / 2`.
        order: Butterworth order per edge.

    Returns:
        `(signal, fs)`, signal float32 of the same shape.

    Raises:
        ConfigError: bad cut-offs or order.
        RecordError: record shorter than the filter's edge padding.

    Example:
    >>> bandpass(np.zeros((5000, 12), np.float32), 500.0)[0].shape
    (5000, 12)
    """
    x = check_signal(signal)
    fs, low = check_positive("fs", fs), check_positive("low_hz", low_hz)
    high = check_positive("high_hz", high_hz)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 1 <= order <= 10:
        raise ConfigError(f"`order` must be an integer in 1..10. Received: order={order!r}")
    if not low < high < fs / 2:
        raise ConfigError(
            f"`low_hz` < `high_hz` < fs/2 is required. Received: low_hz={low_hz}, "
            f"high_hz={high_hz}, fs={fs} (fs/2 = {fs / 2})"
        )
    return _filtfilt(x, _butter_sos(fs, low, high, int(order)), f"{low}-{high} Hz band-pass"), fs


def wavelet_level(fs: float, baseline_hz: float = 1.0) -> int:
    """Smallest DWT level whose approximation band `[0, fs / 2**(level + 1)]` is below
    `baseline_hz` (500 Hz -> 8, i.e. 0-0.98 Hz; 100 Hz -> 6, 0-0.78 Hz; 1000 Hz -> 9)."""
    return max(1, int(np.ceil(np.log2(check_positive("fs", fs) / baseline_hz))) - 1)


def paper_default(signal: np.ndarray, fs: float) -> Signal:
    """The seed paper's "default" filter: 50 Hz low-pass, then db4 wavelet baseline removal.

    The low-pass is a zero-phase 4th-order Butterworth at 50 Hz; at `fs <= 100` there is
    nothing above 50 Hz to remove, so it is skipped. The baseline is the db4
    reconstruction from the approximation coefficients alone at `wavelet_level(fs)` (all
    details zeroed), i.e. the content below about 1 Hz, and is subtracted.

    Args:
        signal: `(time, leads)` array, mV.
        fs: sampling rate in Hz.

    Returns:
        `(signal, fs)`, signal float32 of the same shape.

    Raises:
        RecordError: record shorter than `7 * 2**level` samples (about 3.6 s at 500 Hz),
            too short for the wavelet decomposition to reach the baseline band.

    Example:
    >>> paper_default(np.zeros((5000, 12), np.float32), 500.0)[0].shape
    (5000, 12)
    """
    x = check_signal(signal)
    fs = check_positive("fs", fs)
    if fs > 100.0:
        x = _filtfilt(x, _butter_sos(fs, None, 50.0, 4), "50 Hz low-pass")
    level = wavelet_level(fs)
    wavelet = pywt.Wavelet("db4")
    if pywt.dwt_max_level(x.shape[0], wavelet.dec_len) < level:
        raise RecordError(
            None,
            f"record of {x.shape[0]} samples too short for a level-{level} db4 "
            f"baseline at fs={fs} ({(wavelet.dec_len - 1) * 2**level} needed)",
        )
    coeffs = pywt.wavedec(x.astype(np.float64), wavelet, level=level, axis=0)
    coeffs = [coeffs[0]] + [np.zeros_like(c) for c in coeffs[1:]]
    baseline = pywt.waverec(coeffs, wavelet, axis=0)[: x.shape[0]]
    return (x - baseline).astype(np.float32), fs


def no_filter(signal: np.ndarray, fs: float) -> Signal:
    """Returns the signal unfiltered (as float32), for the paper's "none" option."""
    return check_signal(signal), check_positive("fs", fs)
