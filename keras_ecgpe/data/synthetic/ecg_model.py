"""A fast sum-of-Gaussians 12-lead ECG generator for SYNTHETIC data.

Every beat is a sum of Gaussian waves (P, septal Q, R, terminal S, R', ST, T). Each wave
has a cardiac dipole (3-vector: x to the patient's left, y inferior, z anterior) projected
on the lead vectors of I, II and V1-V6, plus an optional per-precordial-lead offset (the
precordial leads sit close to the heart and are not purely dipolar). III, aVR, aVL and
aVF are derived from I and II, so Einthoven and Goldberger hold exactly before
quantisation. Noise is generated per electrode (RA, LA, LL, V1-V6) and mapped to leads
through the same wiring, so it keeps those relations too.

The output is NOT real patient data; it exists to exercise the package end to end.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

WAVES = ("P", "Q", "R", "S", "RP", "ST", "T")
W = {name: index for index, name in enumerate(WAVES)}
_QRS_WAVES = np.array([W["Q"], W["R"], W["S"], W["RP"]])
_REPOL = np.array([0.0, 0, 0, 0, 0, 1, 1])  # waves whose timing follows QT (ST, T)


def unit(azimuth_deg: float, elevation_deg: float = 0.0) -> np.ndarray:
    """Unit dipole with frontal angle `azimuth_deg` (0 = lead I, +90 = aVF) tilted
    anteriorly by `elevation_deg`."""
    a, e = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    return np.array([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)])


def _lead_matrix() -> np.ndarray:
    """`(3, 8)` projection of a dipole on I, II, V1..V6 (V-lead gains in mV per unit)."""
    limb = [np.array([1.0, 0.0, 0.0]), np.array([0.5, np.sqrt(3) / 2, 0.0])]
    # horizontal angle from the left towards anterior, inferior tilt, gain
    precordial = [
        (115, 0.0, 1.5),
        (95, 0.0, 2.0),
        (78, 0.1, 2.0),
        (60, 0.25, 1.9),
        (35, 0.3, 1.6),
        (10, 0.3, 1.3),
    ]
    vectors = []
    for angle, tilt, gain in precordial:
        v = np.array([np.cos(np.deg2rad(angle)), tilt, np.sin(np.deg2rad(angle))])
        vectors.append(gain * v / np.linalg.norm(v))
    return np.stack(limb + vectors, axis=1)


LEAD_MATRIX = _lead_matrix()
# Electrodes RA, LA, LL, V1..V6 -> leads I, II, V1..V6 (Wilson terminal for the V leads).
_WIRING = np.zeros((9, 8))
_WIRING[[0, 1], 0] = [-1, 1]
_WIRING[[0, 2], 1] = [-1, 1]
_WIRING[:3, 2:] = -1.0 / 3.0
_WIRING[3:, 2:] = np.eye(6)


@dataclasses.dataclass
class BeatModel:
    """All parameters of one SYNTHETIC record (mutable: conditions edit it in place).

    Attributes:
        dipoles: `(7, 3)` dipole of each wave in `WAVES` (mV per unit lead vector).
        local: `(7, 6)` extra amplitude (mV) per wave for V1..V6.
        centers, sigma_left, sigma_right: `(7,)` wave timing in s relative to the R peak
            (at QRS width 1 and QT 0.4 s); ST and T scale with each beat's QT.
        hr, rr_jitter, resp_depth, resp_hz: mean heart rate (bpm), random RR variation
            (fraction), respiratory sinus arrhythmia depth (fraction) and rate.
        pr, qrs_width, qt: PR interval (s), QRS width factor (1 = about 90 ms), QT at 60 bpm.
        af: atrial fibrillation strength (0 = sinus rhythm).
        gain: per-record amplitude factor; wander, muscle, mains: noise levels in mV;
            mains_hz: 50 or 60.
    """

    dipoles: np.ndarray
    local: np.ndarray
    centers: np.ndarray
    sigma_left: np.ndarray
    sigma_right: np.ndarray
    hr: float = 70.0
    rr_jitter: float = 0.02
    resp_depth: float = 0.03
    resp_hz: float = 0.25
    pr: float = 0.16
    qrs_width: float = 1.0
    qt: float = 0.40
    af: float = 0.0
    gain: float = 1.0
    wander: float = 0.1
    muscle: float = 0.01
    mains: float = 0.005
    mains_hz: float = 50.0

    def copy(self) -> BeatModel:
        """A deep copy (arrays included)."""
        return dataclasses.replace(
            self,
            **{
                f.name: np.array(getattr(self, f.name))
                for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)
            },
        )

    @property
    def axis_deg(self) -> float:
        """Frontal QRS axis in degrees (from the net QRS area in I and aVF)."""
        area = (self.dipoles[_QRS_WAVES] * self.sigma_left[_QRS_WAVES, None]).sum(axis=0)
        return float(np.rad2deg(np.arctan2(area[1], area[0])))


def normal_beat_model(rng: np.random.Generator) -> BeatModel:
    """Draws the parameters of a random normal adult SYNTHETIC ECG."""
    axis = float(np.clip(rng.normal(50, 22), -25, 95))
    dipoles = np.zeros((7, 3))
    dipoles[W["P"]] = rng.uniform(0.10, 0.20) * unit(rng.normal(55, 12), 10)
    dipoles[W["Q"]] = rng.uniform(0.12, 0.28) * unit(rng.normal(170, 20), 50)
    dipoles[W["R"]] = rng.uniform(0.8, 1.5) * unit(axis, rng.normal(-22, 8))
    dipoles[W["S"]] = rng.uniform(0.25, 0.55) * unit(rng.normal(-130, 20), -50)
    t_axis = float(np.clip(axis + rng.normal(0, 15), -10, 85))
    dipoles[W["T"]] = rng.uniform(0.22, 0.42) * unit(t_axis, rng.normal(22, 8))
    local = np.zeros((7, 6))
    local[W["ST"]] = rng.uniform(0.0, 0.06) * np.array([0.3, 1, 1, 0.5, 0, 0])
    return BeatModel(
        dipoles=dipoles,
        local=local,
        centers=np.array([0.0, -0.028, 0.0, 0.028, 0.066, 0.16, 0.27]),
        sigma_left=np.array([0.022, 0.009, 0.011, 0.011, 0.02, 0.05, 0.05]),
        sigma_right=np.array([0.022, 0.009, 0.011, 0.011, 0.02, 0.05, 0.033]),
        hr=float(np.clip(rng.normal(70, 11), 45, 98)),
        rr_jitter=rng.uniform(0.01, 0.04),
        resp_depth=rng.uniform(0.0, 0.06),
        resp_hz=rng.uniform(0.15, 0.35),
        pr=float(np.clip(rng.normal(0.155, 0.018), 0.12, 0.20)),
        qrs_width=float(np.clip(rng.normal(1.0, 0.07), 0.85, 1.15)),
        qt=float(np.clip(rng.normal(0.40, 0.02), 0.35, 0.44)),
        gain=float(np.exp(rng.normal(0, 0.15))),
        wander=rng.uniform(0.02, 0.3),
        muscle=rng.uniform(0.004, 0.03),
        mains=rng.uniform(0.0, 0.02),
        mains_hz=float(rng.choice([50.0, 60.0])),
    )


class Synthesis(NamedTuple):
    """A generated SYNTHETIC record: float32 `(time, 12)` mV in canonical lead order,
    and the R-peak times (s) of the beats inside the record."""

    signal: np.ndarray
    r_times: np.ndarray


def _r_times(m: BeatModel, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    rr = 60.0 / m.hr
    n = int(np.ceil((duration_s + 2.0) / rr * 1.3)) + 4
    k = np.arange(n) * rr
    jitter = m.rr_jitter + 0.18 * m.af
    factors = (
        1
        + m.resp_depth * np.sin(2 * np.pi * m.resp_hz * k + rng.uniform(0, 6.3))
        + jitter * rng.standard_normal(n)
    )
    times = np.cumsum(rr * np.clip(factors, 0.55, 1.6)) - rng.uniform(1.0, 1.0 + rr)
    return times[times < duration_s + 1.0]


def _noise(m: BeatModel, t: np.ndarray, fs: float, rng: np.random.Generator) -> np.ndarray:
    """`(time, 9)` electrode noise: baseline wander, muscle noise, mains hum."""
    freqs = rng.uniform(0.05, 0.5, size=(3, 9))
    amps = m.wander * rng.uniform(0.2, 1.0, size=(3, 9)) / 1.7
    phases = rng.uniform(0, 2 * np.pi, size=(3, 9))
    noise = np.zeros((t.size, 9))
    for j in range(3):
        noise += amps[j] * np.sin(2 * np.pi * freqs[j] * t[:, None] + phases[j])
    noise += m.muscle * rng.standard_normal((t.size, 9))
    if m.mains > 0 and m.mains_hz < fs / 2:  # otherwise removed by the anti-alias filter
        noise += np.outer(
            np.sin(2 * np.pi * m.mains_hz * t + rng.uniform(0, 6.3)),
            m.mains * rng.uniform(0.2, 1.0, 9),
        )
    return noise


def synthesize(m: BeatModel, fs: float, duration_s: float, rng: np.random.Generator) -> Synthesis:
    """Renders a SYNTHETIC 12-lead record from `m`.

    Vectorised over beats and time: a 10-s 500 Hz record takes a few milliseconds.

    Args:
        m: the record's parameters.
        fs: sampling rate in Hz.
        duration_s: length in seconds.
        rng: random generator (noise, RR variability, per-beat amplitude jitter).

    Returns:
        `Synthesis(signal, r_times)`: float32 `(round(fs*duration_s), 12)` in mV, leads in
        `CANONICAL_LEADS` order (I, II, III, aVR, aVL, aVF, V1..V6).
    """
    n = int(round(fs * duration_s))
    r_times = _r_times(m, duration_s, rng)
    rr = np.diff(np.concatenate([[r_times[0] - 60.0 / m.hr], r_times]))
    qt_scale = (m.qt * np.sqrt(np.clip(rr, 0.3, 2.0))) / 0.4  # Bazett, per beat
    width = np.where(np.arange(7)[None, :] == W["P"], 1.0, np.where(_REPOL > 0, 0, m.qrs_width))
    scale = width + _REPOL[None, :] * qt_scale[:, None]  # (beats, waves)
    centers = m.centers * scale
    centers[:, W["P"]] = -m.pr + 0.01 * m.qrs_width
    sig_l, sig_r = m.sigma_left * scale, m.sigma_right * scale

    amps = m.dipoles @ LEAD_MATRIX
    amps[:, 2:] += m.local
    beat_amp = 1 + 0.02 * rng.standard_normal((r_times.size, 7))
    beat_amp[:, W["P"]] *= 0.0 if m.af > 0 else 1.0
    offset = int(np.floor(-0.45 * fs))
    rel = (np.arange(int(1.25 * fs)) + offset) / fs
    starts = np.round(r_times * fs).astype(int) + offset
    dt = (
        rel[None, :, None]
        - (r_times * fs - np.round(r_times * fs))[:, None, None] / fs
        - centers[:, None, :]
    )
    sigma = np.where(dt < 0, sig_l[:, None, :], sig_r[:, None, :])
    shapes = np.exp(-0.5 * (dt / sigma) ** 2) * beat_amp[:, None, :]  # (beats, time, waves)
    beats = shapes @ amps  # (beats, time, 8)

    pad = rel.size
    out = np.zeros((n + 2 * pad, 8))
    for start, beat in zip(starts + pad, beats):
        if 0 <= start <= n + pad:
            out[start : start + rel.size] += beat
    t = np.arange(n) / fs
    independent = out[pad : pad + n] + _noise(m, t, fs, rng) @ _WIRING
    if m.af > 0:  # fibrillatory waves: a wandering 4-8 Hz atrial dipole
        f_wave = np.sin(2 * np.pi * np.cumsum(rng.uniform(4, 8) + rng.normal(0, 2, n)) / fs)
        independent += np.outer(f_wave, 0.05 * m.af * (unit(80, 30) @ LEAD_MATRIX))
    return Synthesis(
        _twelve_leads(independent * m.gain), r_times[(r_times >= 0) & (r_times < duration_s)]
    )


def _twelve_leads(independent: np.ndarray) -> np.ndarray:
    """`(time, 8)` I, II, V1..V6 -> float32 `(time, 12)` in canonical order."""
    lead_i, lead_ii = independent[:, 0], independent[:, 1]
    limb = np.stack(
        [
            lead_i,
            lead_ii,
            lead_ii - lead_i,
            -(lead_i + lead_ii) / 2,
            lead_i - lead_ii / 2,
            lead_ii - lead_i / 2,
        ],
        axis=1,
    )
    return np.concatenate([limb, independent[:, 2:]], axis=1).astype(np.float32)
