"""Pathology patterns and ECG signs of acute PE, as edits of a SYNTHETIC `BeatModel`.

Each effect is `effect(model, rng, strength)` with `strength` in (0, 1]: it edits the model
in place (dipoles, per-lead offsets, timing, rhythm). `PTBXL_EFFECTS` maps the real SCP
codes used by the PTB-XL-style set to their effect; `PE_SIGNS` maps the reported ECG signs
of acute pulmonary embolism to theirs. Strengths let the PE set carry weak and strong
versions of every sign. The patterns are caricatures for SYNTHETIC data, not diagnostic
criteria.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from keras_ecgpe.data.synthetic.ecg_model import BeatModel, W, unit

Effect = Callable[[BeatModel, np.random.Generator, float], None]

TERRITORIES = {  # unit vectors pointing at the injured region (x left, y inferior, z anterior)
    "inferior": unit(90, 0),
    "inferolateral": unit(45, -10),
    "lateral": unit(0, 10),
    "anterior": unit(20, 75),
    "anteroseptal": unit(160, 70),
    "anterolateral": unit(10, 45),
}


def _rotate_frontal(vector: np.ndarray, target_deg: float, fraction: float) -> np.ndarray:
    """Turns the frontal angle of `vector` towards `target_deg` by `fraction` (0..1)."""
    norm = np.hypot(vector[0], vector[1])
    angle = np.arctan2(vector[1], vector[0])
    delta = (np.deg2rad(target_deg) - angle + np.pi) % (2 * np.pi) - np.pi
    angle += fraction * delta
    return np.array([norm * np.cos(angle), norm * np.sin(angle), vector[2]])


def _unit_r(m: BeatModel) -> np.ndarray:
    return m.dipoles[W["R"]] / np.linalg.norm(m.dipoles[W["R"]])


# --- rhythm and conduction -------------------------------------------------------------
def tachycardia(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Sinus tachycardia: heart rate raised by 15-50 bpm times the strength."""
    m.hr = max(m.hr, 80.0) + s * rng.uniform(15, 50)


def atrial_fibrillation(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """No P waves, irregular RR, fibrillatory baseline waves."""
    m.af = 0.5 + 0.5 * s
    m.hr += s * rng.uniform(0, 25)


def first_degree_av_block(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """PR interval over 200 ms."""
    m.pr = 0.21 + s * rng.uniform(0.02, 0.12)


def right_bundle_branch_block(
    m: BeatModel, rng: np.random.Generator, s: float, complete: bool = True
) -> None:
    """Terminal rightward-anterior R' (rsR' in V1, wide S in I and V6); wide QRS if
    complete, with secondary T inversion in V1-V3."""
    size = rng.uniform(0.45, 0.85) if complete else rng.uniform(0.18, 0.38)
    m.dipoles[W["RP"]] += s * size * unit(180, 55)
    m.qrs_width = max(m.qrs_width, (1.35 if complete else 1.08) + 0.15 * s)
    if complete:
        m.local[W["T"]] -= s * rng.uniform(0.15, 0.35) * np.array([1, 0.8, 0.4, 0, 0, 0])


def incomplete_rbbb(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Incomplete RBBB: a small R' with QRS under 120 ms."""
    right_bundle_branch_block(m, rng, s, complete=False)


def left_bundle_branch_block(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """No septal q, broad leftward-posterior R, QS in V1, discordant ST-T."""
    direction = unit(rng.uniform(-20, 40), -45)
    m.dipoles[W["Q"]] = 0.0
    m.dipoles[W["R"]] = np.linalg.norm(m.dipoles[W["R"]]) * (1.2 + 0.3 * s) * direction
    m.dipoles[W["S"]] *= 0.3
    m.qrs_width = max(m.qrs_width, 1.5 + 0.2 * s)
    m.dipoles[W["ST"]] -= s * 0.12 * direction
    m.dipoles[W["T"]] = -s * rng.uniform(0.25, 0.4) * direction


def left_anterior_fascicular_block(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Left axis deviation (-45 to -75 degrees), qR in aVL, rS in II, III, aVF."""
    m.dipoles[W["R"]] = _rotate_frontal(m.dipoles[W["R"]], rng.uniform(-75, -45), s)
    m.dipoles[W["Q"]] = _rotate_frontal(m.dipoles[W["Q"]], 120, s)


def ivcd(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Non-specific intraventricular conduction delay: wide, slurred QRS."""
    m.qrs_width = max(m.qrs_width, 1.2 + 0.2 * s)
    m.sigma_right[W["S"]] *= 1.5


# --- axis, voltage, atria ----------------------------------------------------------------
def right_axis_deviation(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Frontal QRS axis turned towards +100..+140 degrees."""
    m.dipoles[W["R"]] = _rotate_frontal(m.dipoles[W["R"]], rng.uniform(100, 140), s)


def low_voltage(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """QRS amplitudes shrunk (limb-lead QRS under about 0.5 mV when strong)."""
    factor = 1 - 0.6 * s
    for wave in ("Q", "R", "S", "RP"):
        m.dipoles[W[wave]] *= factor
        m.local[W[wave]] *= factor
    m.dipoles[W["T"]] *= 1 - 0.3 * s


def p_pulmonale(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Tall, peaked, vertical P (over 0.25 mV in II when strong)."""
    size = np.linalg.norm(m.dipoles[W["P"]]) * (1 + s * rng.uniform(0.8, 1.5))
    m.dipoles[W["P"]] = size * unit(80, 15)
    m.sigma_left[W["P"]] *= 1 - 0.15 * s
    m.sigma_right[W["P"]] *= 1 - 0.15 * s


def left_atrial_enlargement(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Broad P wave."""
    m.sigma_left[W["P"]] *= 1 + 0.4 * s
    m.sigma_right[W["P"]] *= 1 + 0.5 * s


def left_ventricular_hypertrophy(
    m: BeatModel, rng: np.random.Generator, s: float, strain: bool = False
) -> None:
    """High R in V5-V6 and deep S in V1-V2 (leftward-posterior forces); with strain, ST
    depression and T inversion where R is tall."""
    norm = np.linalg.norm(m.dipoles[W["R"]]) * (1.4 + 0.7 * s)
    m.dipoles[W["R"]] = norm * unit(rng.uniform(-10, 45), -35)
    m.qrs_width = max(m.qrs_width, 1.05 + 0.1 * s)
    if strain:
        m.dipoles[W["ST"]] -= s * 0.1 * _unit_r(m)
        m.dipoles[W["T"]] = -s * rng.uniform(0.2, 0.35) * _unit_r(m)


def right_ventricular_hypertrophy(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Right axis and anterior forces: tall R in V1, T inversion V1-V3."""
    m.dipoles[W["R"]] = np.linalg.norm(m.dipoles[W["R"]]) * unit(rng.uniform(100, 130), 25 * s)
    m.local[W["T"]] -= s * 0.25 * np.array([1, 0.8, 0.4, 0, 0, 0])


# --- infarction and ST-T -----------------------------------------------------------------
def infarction(
    m: BeatModel, rng: np.random.Generator, s: float, territory: str, acute: bool = False
) -> None:
    """Pathological Q waves facing `territory`; ST elevation there if acute, else T
    inversion there."""
    toward = TERRITORIES[territory]
    m.dipoles[W["Q"]] -= s * rng.uniform(0.3, 0.6) * toward
    m.sigma_left[W["Q"]] *= 1 + 0.6 * s
    m.sigma_right[W["Q"]] *= 1 + 0.6 * s
    along = max(float(m.dipoles[W["R"]] @ toward), 0.0)
    m.dipoles[W["R"]] -= s * 0.6 * along * toward
    if acute:
        m.dipoles[W["ST"]] += s * rng.uniform(0.1, 0.25) * toward
    else:
        m.dipoles[W["T"]] -= s * rng.uniform(0.3, 0.55) * toward


def t_flattening(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Low-amplitude T waves everywhere."""
    m.dipoles[W["T"]] *= 1 - 0.8 * s
    m.local[W["T"]] *= 1 - 0.8 * s


def st_depression(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Horizontal ST depression where R is tall, with flattened T."""
    m.dipoles[W["ST"]] -= s * rng.uniform(0.06, 0.15) * _unit_r(m)
    m.dipoles[W["T"]] *= 1 - 0.5 * s


def ischemic_t_inversion(
    m: BeatModel, rng: np.random.Generator, s: float, territory: str = "lateral"
) -> None:
    """Symmetric T inversion in `territory`."""
    m.dipoles[W["T"]] -= s * rng.uniform(0.35, 0.6) * TERRITORIES[territory]


def long_qt(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """QT prolonged by 15-35 %."""
    m.qt *= 1.15 + 0.2 * s


def t_inversion_v1_v4(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """T inversion in V1-V4 (right-ventricular strain pattern)."""
    m.local[W["T"]] -= s * rng.uniform(0.3, 0.6) * np.array([0.9, 1.1, 0.9, 0.6, 0.15, 0])


def s1q3t3(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """Deep S in I, Q wave and inverted T in III."""
    m.dipoles[W["S"]] += s * rng.uniform(0.3, 0.55) * unit(-175, 0)
    m.dipoles[W["Q"]] += s * rng.uniform(0.15, 0.3) * unit(-60, 0)
    m.dipoles[W["T"]] = _rotate_frontal(m.dipoles[W["T"]], -20, s)


def st_elevation_avr(m: BeatModel, rng: np.random.Generator, s: float) -> None:
    """ST elevation in aVR with diffuse reciprocal ST depression."""
    m.dipoles[W["ST"]] += s * rng.uniform(0.06, 0.14) * unit(-150, 0)


PTBXL_EFFECTS: dict[str, Effect] = {
    "IMI": lambda m, r, s: infarction(m, r, s, "inferior", acute=r.random() < 0.15),
    "ILMI": lambda m, r, s: infarction(m, r, s, "inferolateral"),
    "ASMI": lambda m, r, s: infarction(m, r, s, "anteroseptal", acute=r.random() < 0.15),
    "AMI": lambda m, r, s: infarction(m, r, s, "anterior", acute=r.random() < 0.3),
    "ALMI": lambda m, r, s: infarction(m, r, s, "anterolateral"),
    "LMI": lambda m, r, s: infarction(m, r, s, "lateral"),
    "NDT": t_flattening,
    "NST_": st_depression,
    "ISC_": lambda m, r, s: ischemic_t_inversion(m, r, s, "lateral"),
    "ISCAL": lambda m, r, s: ischemic_t_inversion(m, r, s, "anterolateral"),
    "ISCIN": lambda m, r, s: ischemic_t_inversion(m, r, s, "inferior"),
    "ISCAS": lambda m, r, s: ischemic_t_inversion(m, r, s, "anteroseptal"),
    "LNGQT": long_qt,
    "CRBBB": right_bundle_branch_block,
    "IRBBB": incomplete_rbbb,
    "CLBBB": left_bundle_branch_block,
    "LAFB": left_anterior_fascicular_block,
    "1AVB": first_degree_av_block,
    "IVCD": ivcd,
    "LVH": lambda m, r, s: left_ventricular_hypertrophy(m, r, s, strain=r.random() < 0.35),
    "RVH": right_ventricular_hypertrophy,
    "LAO/LAE": left_atrial_enlargement,
    "RAO/RAE": p_pulmonale,
}

PE_SIGNS: dict[str, Effect] = {
    "sinus_tachycardia": tachycardia,
    "s1q3t3": s1q3t3,
    "t_inversion_v1_v4": t_inversion_v1_v4,
    "incomplete_rbbb": incomplete_rbbb,
    "complete_rbbb": right_bundle_branch_block,
    "right_axis_deviation": right_axis_deviation,
    "p_pulmonale": p_pulmonale,
    "low_voltage": low_voltage,
    "st_elevation_avr": st_elevation_avr,
    "atrial_fibrillation": atrial_fibrillation,
}
