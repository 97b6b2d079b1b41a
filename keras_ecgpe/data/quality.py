"""Per-record signal-quality checks, run by `data prepare` on every raw recording.

Each check looks at the RAW signal as a reader returns it (mV, canonical leads, native
sampling rate), before any filter could hide a problem:

- flat: a lead whose peak-to-peak amplitude is below `flat_mv` (a detached electrode; a
  real Ningbo record has V2, V4 and V6 all zero);
- clipped: a lead that stays at its own maximum or minimum value for `clip_run_s` or longer
  (saturation at the ADC range: an ECG's peaks are never flat for tens of milliseconds);
- amplitude: a lead whose peak-to-peak amplitude exceeds `max_ptp_mv` (a unit error, e.g.
  microvolts read as millivolts, or a large artefact), or a record whose largest lead stays
  below `min_record_ptp_mv` (e.g. volts read as millivolts);
- nan: runs of missing (NaN/inf) samples; readers refuse such records, so at prepare time
  they arrive as skipped records whose reason names the longest run;
- copy: two non-flat leads with identical samples, or one the exact negative of the other
  (a wiring or export error);
- qrs: a QRS-based quality index. QRS complexes are detected in every lead (band-pass
  5-20 Hz, smoothed energy, `scipy.signal.find_peaks`); beats seen in at least two thirds of the
  leads form the consensus. Each lead's index is the F1 agreement of its detections with the
  consensus, the record's index the median over non-flat leads. Detectors agreeing across
  leads is the idea of the bSQI of Li, Mark and Clifford (Physiol Meas 2008), here across
  leads instead of across detectors. A record below `min_qrs_index`, or whose consensus
  heart rate lies outside 20-250 bpm, is flagged.

`QualitySettings.policy` says what `prepare` does with a record that has a problem: "keep"
(cached; the problems are counted in the data-quality summary only), "flag" (the default:
cached, and its problems stored in the cache index's `quality_flags` column so training
and evaluation can leave it out) or "skip" (not cached; listed with the skipped records).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.leads import CANONICAL_LEADS

POLICIES = ("keep", "flag", "skip")
DEFAULT_POLICY = "flag"
CATEGORIES = ("flat", "clipped", "amplitude", "nan", "copy", "qrs")
_BEAT_TOLERANCE_S = 0.075  # two detections this close are the same beat
_HEART_RATE_BPM = (20.0, 250.0)


@dataclasses.dataclass(frozen=True)
class QualitySettings:
    """What counts as a problem, and what `prepare` does with a record that has one.

    Attributes:
        policy: "keep", "flag" (default) or "skip"; see the module docstring.
        flat_mv: a lead with a smaller peak-to-peak amplitude is flat.
        clip_run_s: a lead held at its own maximum or minimum this long is clipped.
        max_ptp_mv: a lead with a larger peak-to-peak amplitude is implausible.
        min_record_ptp_mv: a record whose largest lead amplitude is smaller is implausible.
        min_qrs_index: a record whose QRS quality index is lower is flagged.

    Example:
    >>> QualitySettings(policy="skip").to_dict()["policy"]
    'skip'
    """

    policy: str = DEFAULT_POLICY
    flat_mv: float = 0.01
    clip_run_s: float = 0.04
    max_ptp_mv: float = 20.0
    min_record_ptp_mv: float = 0.1
    min_qrs_index: float = 0.5

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ConfigError(
                f"`quality policy` must be one of {', '.join(POLICIES)}. Received: {self.policy!r}"
            )
        for name in ("flat_mv", "clip_run_s", "max_ptp_mv", "min_record_ptp_mv"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"`{name}` must be a positive number. Received: {value!r}")
        if not 0 <= self.min_qrs_index <= 1:
            raise ConfigError(
                f"`min_qrs_index` must be in [0, 1]. Received: {self.min_qrs_index!r}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> QualitySettings:
        """Settings from a config mapping; unknown keys are refused, naming them."""
        values = dict(values or {})
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown quality setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class RecordQuality:
    """What the checks found in one record.

    Attributes:
        problems: `(category, detail)` pairs, category one of `CATEGORIES`; empty when clean.
        lead_ptp_mv: `(12,)` peak-to-peak amplitude of each lead (NaN-free part).
        lead_qrs: `(12,)` each lead's QRS agreement with the consensus (NaN for flat leads).
        qrs_index: the record's QRS quality index, 0-1 (NaN when no lead could be scored).
        heart_rate_bpm: beats per minute of the consensus (NaN when none).
    """

    problems: tuple[tuple[str, str], ...]
    lead_ptp_mv: np.ndarray
    lead_qrs: np.ndarray
    qrs_index: float
    heart_rate_bpm: float

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """The problems as one line ("" when clean), e.g. "flat leads V2,V4,V6"."""
        return "; ".join(detail for _, detail in self.problems)


def _leads(mask: np.ndarray) -> str:
    return ",".join(lead for lead, hit in zip(CANONICAL_LEADS, mask) if hit)


def longest_run(mask: np.ndarray, *, inner: bool = False) -> int:
    """Length of the longest run of True in a 1-D boolean array.

    Args:
        mask: the array.
        inner: count only runs that touch neither the first nor the last element.

    Example:
    >>> longest_run(np.array([True, False, True, True, True, False]))
    3
    >>> longest_run(np.array([True, True, False, True, False]), inner=True)
    1
    """
    mask = np.asarray(mask, dtype=bool)
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if inner:
        keep = (starts > 0) & (ends < mask.size)
        starts, ends = starts[keep], ends[keep]
    return int((ends - starts).max()) if starts.size else 0


def nan_runs(signal: np.ndarray) -> dict[int, int]:
    """`{lead column: longest run of NaN/inf samples}` for the leads that have any."""
    bad = ~np.isfinite(np.asarray(signal, dtype=np.float64))
    return {int(c): longest_run(bad[:, c]) for c in np.flatnonzero(bad.any(axis=0))}


@functools.lru_cache(maxsize=32)
def _qrs_band(fs: float) -> np.ndarray | None:
    """Second-order 5-20 Hz band-pass (sos) at `fs`; None when fs is too low for it."""
    from scipy import signal as sps

    high = min(20.0, 0.45 * fs)
    if high <= 5.0:
        return None
    return sps.butter(2, [5.0, high], btype="bandpass", fs=fs, output="sos")


def _beats(leads: np.ndarray, fs: float) -> list[np.ndarray]:
    """Sample positions of QRS complexes in each column of `leads` (empty where none stand
    out, or where the rate or length is too small to filter)."""
    from scipy import ndimage
    from scipy import signal as sps

    sos = _qrs_band(float(fs))
    if sos is None or leads.shape[0] < max(int(fs), 16):
        return [np.zeros(0, dtype=np.int64) for _ in range(leads.shape[1])]
    energy = sps.sosfiltfilt(sos, leads, axis=0) ** 2
    energy = ndimage.uniform_filter1d(energy, max(1, int(round(0.1 * fs))), axis=0)
    distance = max(1, int(round(60.0 / _HEART_RATE_BPM[1] * fs)))
    beats = []
    for lead in energy.T:
        if not lead.max() > 0:
            beats.append(np.zeros(0, dtype=np.int64))
            continue
        peaks, found = sps.find_peaks(lead, height=0.02 * lead.max(), distance=distance)
        # The reference height is the median of the strongest candidates, one per two
        # seconds (30 bpm): a few large ectopic beats or artefacts do not raise it, T waves
        # stay below it.
        strongest = np.sort(found["peak_heights"])[-max(3, int(lead.size / fs / 2)) :]
        beats.append(peaks[found["peak_heights"] >= 0.3 * np.median(strongest)])
    return beats


def _agreement(found: np.ndarray, reference: np.ndarray, tolerance: int) -> float:
    """F1 of `found` beats against `reference` beats (matched within `tolerance` samples)."""
    if not found.size and not reference.size:
        return 1.0
    if not found.size or not reference.size:
        return 0.0
    position = np.clip(np.searchsorted(reference, found), 1, reference.size - 1)
    nearest = np.minimum(
        np.abs(found - reference[position - 1]), np.abs(found - reference[position])
    )
    if reference.size == 1:
        nearest = np.abs(found - reference[0])
    hits = int((nearest <= tolerance).sum())
    return 2.0 * hits / (found.size + reference.size)


def _consensus(beats: list[np.ndarray], tolerance: int, distance: int) -> np.ndarray:
    """Beats detected in at least two thirds of the scored leads.

    Every detection is a candidate; its votes are the leads with a detection within
    `tolerance` samples of it. Candidates with enough votes are taken, most votes first,
    unless a taken beat lies within `distance` samples (the refractory period).
    """
    pooled = np.unique(np.concatenate(beats)) if beats else np.zeros(0, dtype=np.int64)
    if not pooled.size:
        return pooled.astype(np.int64)
    votes = np.zeros(pooled.size, dtype=np.int64)
    for found in beats:
        if found.size:
            first = np.searchsorted(found, pooled - tolerance)
            inside = first < found.size
            votes[inside] += found[first[inside]] <= pooled[inside] + tolerance
    need = max(1, int(np.ceil(2 * len(beats) / 3)))
    taken: list[int] = []
    for i in np.lexsort((pooled, -votes)):
        if votes[i] < need:
            break
        if all(abs(int(pooled[i]) - t) > distance for t in taken):
            taken.append(int(pooled[i]))
    return np.array(sorted(taken), dtype=np.int64)


def check_record(
    signal: np.ndarray, fs: float, settings: QualitySettings = QualitySettings()
) -> RecordQuality:
    """Runs every check on one raw recording.

    Args:
        signal: `(time, 12)` in mV, canonical lead order (NaN marks missing samples).
        fs: sampling rate, Hz.
        settings: thresholds (the policy is not used here).

    Returns:
        A `RecordQuality`.

    Raises:
        ConfigError: `signal` is not `(time >= 1, 12)` or `fs` is not positive.

    Example:
    >>> x = np.zeros((1000, 12)); x[:, :6] = np.sin(np.arange(1000) / 20.0)[:, None]
    >>> check_record(x, 500.0).describe().split(";")[0]
    'flat leads V1,V2,V3,V4,V5,V6'
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(CANONICAL_LEADS) or x.shape[0] < 1:
        raise ConfigError(f"`signal` must be (time >= 1, 12). Received shape {x.shape}")
    if not (isinstance(fs, (int, float, np.number)) and fs > 0):
        raise ConfigError(f"`fs` must be a positive number. Received: {fs!r}")
    problems: list[tuple[str, str]] = []
    gaps = nan_runs(x)
    if gaps:
        detail = ", ".join(
            f"{CANONICAL_LEADS[c]} {run} samples ({run / fs:.3g} s)" for c, run in gaps.items()
        )
        problems.append(("nan", f"missing (NaN) samples, longest runs: {detail}"))
    finite = np.isfinite(x)
    with np.errstate(invalid="ignore"):
        top = np.where(finite, x, -np.inf).max(axis=0)
        bottom = np.where(finite, x, np.inf).min(axis=0)
    ptp = np.where(finite.any(axis=0), top - bottom, 0.0)
    # A whole record below `min_record_ptp_mv` is a scale (unit) problem, reported as
    # amplitude; only its truly constant leads then count as flat.
    tiny = 0 < ptp.max() < settings.min_record_ptp_mv
    flat = ptp == 0 if tiny else ptp < settings.flat_mv
    if flat.any():
        problems.append(("flat", f"flat leads {_leads(flat)}"))
    run_needed = max(3, int(round(settings.clip_run_s * fs)))
    clipped = np.zeros(len(CANONICAL_LEADS), dtype=bool)
    for c in np.flatnonzero(~flat):
        # Runs touching the record's first or last sample are left out: several PTB-XL
        # records end on a constant stretch that happens to be the lead's minimum.
        held = (x[:, c] == top[c]) | (x[:, c] == bottom[c])
        clipped[c] = longest_run(held, inner=True) >= run_needed
    if clipped.any():
        problems.append(
            (
                "clipped",
                f"clipped leads {_leads(clipped)} (held at their extreme value "
                f">= {run_needed / fs:.3g} s)",
            )
        )
    large = ptp > settings.max_ptp_mv
    if large.any():
        problems.append(
            (
                "amplitude",
                f"implausible amplitude in {_leads(large)} (peak-to-peak up to "
                f"{ptp.max():.3g} mV > {settings.max_ptp_mv:g})",
            )
        )
    elif tiny:
        problems.append(
            (
                "amplitude",
                f"implausibly small amplitude (largest lead {ptp.max():.3g} mV "
                f"< {settings.min_record_ptp_mv:g} mV)",
            )
        )
    copies = _copies(x, flat | ~finite.all(axis=0))
    if copies:
        problems.append(("copy", "copied leads " + ", ".join(copies)))
    lead_qrs, qrs_index, rate = _qrs_quality(x, fs, flat | ~finite.all(axis=0))
    low, high = _HEART_RATE_BPM
    if np.isfinite(qrs_index) and qrs_index < settings.min_qrs_index:
        problems.append(
            ("qrs", f"low QRS quality index {qrs_index:.2f} < {settings.min_qrs_index:g}")
        )
    elif np.isfinite(qrs_index) and not low <= rate <= high:
        problems.append(("qrs", f"implausible heart rate {rate:.0f} bpm (QRS detection)"))
    return RecordQuality(tuple(problems), ptp, lead_qrs, qrs_index, rate)


def _copies(x: np.ndarray, excluded: np.ndarray) -> list[str]:
    """ "A=B" / "A=-B" for pairs of usable leads with identical (or negated) samples."""
    found = []
    usable = np.flatnonzero(~excluded)
    for i, a in enumerate(usable):
        for b in usable[i + 1 :]:
            if np.array_equal(x[:, a], x[:, b]):
                found.append(f"{CANONICAL_LEADS[a]}={CANONICAL_LEADS[b]}")
            elif np.array_equal(x[:, a], -x[:, b]):
                found.append(f"{CANONICAL_LEADS[a]}=-{CANONICAL_LEADS[b]}")
    return found


def _qrs_quality(x: np.ndarray, fs: float, excluded: np.ndarray):
    """`(per-lead agreement (12,), record index, heart rate)`; NaN where not scored."""
    lead_qrs = np.full(len(CANONICAL_LEADS), np.nan)
    scored = [int(c) for c in np.flatnonzero(~excluded)]
    beats = _beats(x[:, scored], fs) if scored else []
    tolerance = max(1, int(round(_BEAT_TOLERANCE_S * fs)))
    distance = max(1, int(round(60.0 / _HEART_RATE_BPM[1] * fs)))
    consensus = _consensus(beats, tolerance, distance)
    if not scored or not consensus.size:
        return lead_qrs, (0.0 if scored else float("nan")), float("nan")
    for c, found in zip(scored, beats):
        lead_qrs[c] = _agreement(found, consensus, tolerance)
    rate = 60.0 * (consensus.size - 1) / ((consensus[-1] - consensus[0]) / fs)
    if consensus.size < 2:
        rate = 60.0 * consensus.size / (x.shape[0] / fs)
    return lead_qrs, float(np.median(lead_qrs[scored])), float(rate)
