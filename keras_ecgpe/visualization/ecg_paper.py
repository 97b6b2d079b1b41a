"""The 12-lead ECG drawn as the paper printout clinicians read.

Layout (docs/explain.md): 3 rows x 4 columns of 2.5 s each - (I, aVR, V1, V4),
(II, aVL, V2, V5), (III, aVF, V3, V6), each column the consecutive 2.5 s of the same 10 s -
and a 10 s lead II rhythm strip below; 25 mm/s and 10 mm/mV on a millimetre grid (1 mm
minor, 5 mm major), a 1 mV x 0.2 s calibration pulse at the start of every row, lead labels,
and a caption stating speed, gain, fs, units and what was done to the signal. The figure
is drawn in millimetres, so the page is to scale at the PNG's nominal size.

An optional attribution overlay (`Overlay`) shades each lead's strip: red where the
signal pushed the explained logit up, blue where it pushed it down, in 1 mm (40 ms) bins.
Figures are bare `matplotlib.figure.Figure` objects on the Agg canvas (no pyplot, no
display), written atomically like the package's other plots.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from keras_ecgpe.data.atomic import atomic_open
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.leads import CANONICAL_LEADS

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

    from keras_ecgpe.data.record import ECGRecord

SPEED_MM_S = 25.0
GAIN_MM_MV = 10.0
COLUMN_S = 2.5
PAGE_S = 4 * COLUMN_S
LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
_ROW_MM = 30.0  # baseline to baseline
_LEAD_IN_MM = 10.0  # room for the calibration pulse before the traces
_MARGIN_MM = 4.0
_MINOR, _MAJOR = "#f6c9c9", "#e58f8f"
_RAISES, _LOWERS = to_rgb("#c0392b"), to_rgb("#2166ac")  # red raises the logit, blue lowers
DPI = 150
_CAPTION_CHARS = 175  # at 7 pt, what fits across the 264 mm page
_EXTENSIONS = (".hea", ".dat", ".mat", ".csv")


@dataclasses.dataclass(frozen=True)
class Overlay:
    """An attribution map to shade behind the traces.

    Attributes:
        times_s: `(n,)` sample times on the drawn record's time axis, in seconds.
        values: `(n, 12)` attributions in canonical lead order (any scale; signed).
        label: what the shading means, for the colour bar.
    """

    times_s: np.ndarray
    values: np.ndarray
    label: str = "attribution"


def unit_gain(signal: np.ndarray) -> float:
    """Gain in mm per unit for a signal not in mV (a normalised one): the largest of 1, 2,
    2.5, 5 and 10 mm that keeps the 99.5th percentile of |signal| within 12 mm.

    Example:
    >>> unit_gain(np.full((10, 12), 4.0)), unit_gain(np.full((10, 12), 0.5))
    (2.5, 10.0)
    """
    peak = float(np.percentile(np.abs(signal), 99.5)) if np.size(signal) else 0.0
    fitting = [g for g in (10.0, 5.0, 2.5, 2.0, 1.0) if g * peak <= 12.0]
    return fitting[0] if fitting else 1.0


def _grid(ax, width_mm: float, height_mm: float) -> None:
    for step, colour, lw in ((1.0, _MINOR, 0.3), (5.0, _MAJOR, 0.6)):
        xs = np.arange(0.0, width_mm + 1e-9, step)
        ys = np.arange(0.0, height_mm + 1e-9, step)
        ax.vlines(xs, 0, height_mm, colors=colour, linewidth=lw, zorder=0)
        ax.hlines(ys, 0, width_mm, colors=colour, linewidth=lw, zorder=0)


def _calibration_pulse(ax, baseline_mm: float, gain_mm: float) -> None:
    x = np.array([1.0, 3.0, 3.0, 3.0 + 0.2 * SPEED_MM_S, 3.0 + 0.2 * SPEED_MM_S, 9.0])
    y = baseline_mm + np.array([0.0, 0.0, gain_mm, gain_mm, 0.0, 0.0])
    ax.plot(x, y, color="black", linewidth=0.8, zorder=3)


def _bins(overlay: Overlay, lead: int, t0: float, t1: float) -> np.ndarray:
    """Signed attribution summed in 1 mm (40 ms) bins over `[t0, t1)`."""
    edges = np.arange(t0, t1 + 1e-9, 1.0 / SPEED_MM_S)
    sums, _ = np.histogram(overlay.times_s, bins=edges, weights=overlay.values[:, lead])
    return sums


def _overlay_scale(overlay: Overlay, t0: float) -> float:
    """The largest |binned attribution| on the page, so shading is comparable across leads."""
    peak = max(
        (np.abs(_bins(overlay, k, t0, t0 + PAGE_S)).max(initial=0.0) for k in range(12)),
        default=0.0,
    )
    return float(peak) if peak > 0 else 1.0


def _shade(ax, overlay, lead, t0, t1, x0_mm, baseline_mm, scale) -> None:
    sums = _bins(overlay, lead, t0, t1)
    if sums.size == 0:
        return
    x1_mm = x0_mm + sums.size * 1.0
    half = _ROW_MM / 2 - 1.0
    level = np.clip(sums / scale, -1.0, 1.0)
    rgba = np.zeros((1, level.size, 4))
    rgba[0, :, :3] = np.where(level[:, None] >= 0, _RAISES, _LOWERS)
    rgba[0, :, 3] = 0.85 * np.abs(level)  # transparent at zero: the grid stays readable
    ax.imshow(
        rgba,
        extent=(x0_mm, x1_mm, baseline_mm - half, baseline_mm + half),
        aspect="auto",
        interpolation="nearest",
        zorder=1,
    )


def _trace(ax, signal, fs, lead, t0, t1, x0_mm, baseline_mm, gain_mm) -> None:
    first, last = int(np.ceil(t0 * fs - 1e-9)), int(np.ceil(t1 * fs - 1e-9))
    last = min(last, signal.shape[0])
    if last <= first:
        return
    t = np.arange(first, last) / fs
    ax.plot(
        x0_mm + (t - t0) * SPEED_MM_S,
        baseline_mm + signal[first:last, lead] * gain_mm,
        color="black",
        linewidth=0.6,
        zorder=3,
    )


def _label(ax, name: str, x_mm: float, baseline_mm: float) -> None:
    ax.text(x_mm + 1.0, baseline_mm + 8.5, name, fontsize=8, fontweight="bold", zorder=4)


def ecg_paper_figure(
    signal: np.ndarray,
    fs: float,
    *,
    title: str,
    caption: Sequence[str] = (),
    units: str = "mV",
    start_s: float = 0.0,
    overlay: Overlay | None = None,
) -> Figure:
    """Draws 10 s of a 12-lead record in the standard paper layout.

    Args:
        signal: `(time, 12)` in canonical lead order (`keras_ecgpe.leads.CANONICAL_LEADS`).
        fs: its sampling rate in Hz (drawn as is: nothing is resampled).
        title: the line above the page (record, source).
        caption: extra caption lines (filters, lead policy, what the shading shows); speed,
            gain, fs, units and the time shown are always stated.
        units: the signal's units; "mV" draws at 10 mm/mV, anything else (a normalised
            signal) at `unit_gain`, and the caption says so.
        start_s: the first second drawn (records longer than 10 s show 10 s from here).
        overlay: an attribution map to shade behind the traces.

    Returns:
        The `Figure` (Agg canvas); write it with `write_png`.

    Raises:
        ConfigError: a signal that is not `(time, 12)`, a non-positive fs, or a start
            outside the record.

    Example:
    >>> figure = ecg_paper_figure(np.zeros((1000, 12)), 100.0, title="flat line")
    >>> [round(float(inches) * 25.4, 1) for inches in figure.get_size_inches()]  # mm
    [264.0, 138.6]
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(CANONICAL_LEADS) or x.shape[0] < 2:
        raise ConfigError(f"`signal` must be (time, 12). Received shape {x.shape}")
    if not fs > 0:
        raise ConfigError(f"`fs` must be positive. Received: fs={fs!r}")
    if not 0.0 <= start_s < x.shape[0] / fs:
        raise ConfigError(
            f"`start_s` must lie in [0, {x.shape[0] / fs:g}) s. Received: {start_s!r}"
        )
    index = {name: k for k, name in enumerate(CANONICAL_LEADS)}
    width = _LEAD_IN_MM + PAGE_S * SPEED_MM_S + _MARGIN_MM
    height = 4 * _ROW_MM + _MARGIN_MM
    duration = x.shape[0] / fs
    shown_end = min(start_s + PAGE_S, duration)
    gain_mm = GAIN_MM_MV if units == "mV" else unit_gain(x)
    gain = f"{gain_mm:g} mm/mV" if units == "mV" else f"{gain_mm:g} mm per unit"
    lines = [
        f"{SPEED_MM_S:g} mm/s, {gain}, fs {fs:g} Hz, units {units}; "
        f"{start_s:.1f}-{shown_end:.1f} s of {duration:.1f} s; grid 1 mm (0.04 s) / 5 mm "
        f"(0.2 s); calibration pulse 1 {'mV' if units == 'mV' else 'unit'} x 0.2 s",
        *caption,
    ]
    if overlay is not None:
        lines.append(
            f"Shading: {overlay.label}; red raises the explained logit, blue lowers it; "
            "summed in 1 mm (40 ms) bins, scaled to the largest bin on the page"
        )
    lines = [part for line in lines for part in textwrap.wrap(line, _CAPTION_CHARS)]
    top, bottom = 8.0, 3.0 + 3.6 * len(lines)  # mm for the title and the caption
    total = height + top + bottom
    fig = Figure(figsize=(width / 25.4, total / 25.4))
    ax = fig.add_axes((0.0, bottom / total, 1.0, height / total))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    fig.text(0.01, 1.0 - 2.0 / total, title, fontsize=9, fontweight="bold", va="top")
    fig.text(0.01, (bottom - 1.5) / total, "\n".join(lines), fontsize=7, va="top")
    _grid(ax, width, height)
    scale = None if overlay is None else _overlay_scale(overlay, start_s)
    rows = [(row, height - _MARGIN_MM / 2 - (r + 0.5) * _ROW_MM) for r, row in enumerate(LAYOUT)]
    for leads, baseline in rows:
        _calibration_pulse(ax, baseline, gain_mm)
        for c, name in enumerate(leads):
            t0 = start_s + c * COLUMN_S
            x0 = _LEAD_IN_MM + c * COLUMN_S * SPEED_MM_S
            if overlay is not None:
                _shade(ax, overlay, index[name], t0, t0 + COLUMN_S, x0, baseline, scale)
            _trace(ax, x, fs, index[name], t0, t0 + COLUMN_S, x0, baseline, gain_mm)
            _label(ax, name, x0, baseline)
            if c:  # lead change marker, as printouts draw it
                ax.vlines(x0, baseline - 3, baseline + 3, colors="black", linewidth=0.8, zorder=3)
    rhythm = _MARGIN_MM / 2 + 0.5 * _ROW_MM
    _calibration_pulse(ax, rhythm, gain_mm)
    lead, end = index[RHYTHM_LEAD], start_s + PAGE_S
    if overlay is not None:
        _shade(ax, overlay, lead, start_s, end, _LEAD_IN_MM, rhythm, scale)
    _trace(ax, x, fs, lead, start_s, end, _LEAD_IN_MM, rhythm, gain_mm)
    _label(ax, f"{RHYTHM_LEAD} (rhythm)", _LEAD_IN_MM, rhythm)
    return fig


def write_png(figure: Figure, path: os.PathLike | str) -> Path:
    """Writes `figure` as a PNG atomically (the file appears whole or not at all)."""
    path = Path(path)
    with atomic_open(path) as handle:
        figure.savefig(handle, format="png", dpi=DPI)
    return path


def record_figure(
    record: ECGRecord,
    *,
    caption: Sequence[str] = (),
    start_s: float = 0.0,
    overlay: Overlay | None = None,
) -> Figure:
    """`ecg_paper_figure` of an `ECGRecord` as read: its own fs, in mV, unfiltered.

    The title names the record, its file and format; the caption adds the units the file
    declared and the lead-mapping policy (e.g. limb leads derived from I and II).
    """
    labels = ", ".join(record.labels) or "none given"
    return ecg_paper_figure(
        record.signal,
        record.fs,
        title=f"{record.record_id}  ({record.source_format}: {record.path})",
        caption=[
            f"As recorded: no filter, no resampling (file units {record.units}, shown in mV); "
            f"leads: {record.lead_policy}; labels: {labels}",
            *caption,
        ],
        start_s=start_s,
        overlay=overlay,
    )


def png_paths(records: Sequence[str], out_dir: os.PathLike | str, suffix: str = "") -> list[Path]:
    """One new PNG path per record in `out_dir`: `<file stem><suffix>.png`, `-2`, `-3`...
    added where two records share a stem. The folder is created.

    Raises:
        ConfigError: `out_dir` is a file, or one of the PNGs exists already (nothing is
            overwritten; the message names the file).

    Example:
    >>> [p.name for p in png_paths(["a/x.hea", "b/x", "y"], "/tmp/ecg-png-example")]
    ['x.png', 'x-2.png', 'y.png']
    """
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: the plot folder is an existing file")
    seen: dict[str, int] = {}
    paths = []
    for record in records:
        stem = Path(record).name
        stem = stem.rsplit(".", 1)[0] if Path(record).suffix.lower() in _EXTENSIONS else stem
        seen[stem] = seen.get(stem, 0) + 1
        name = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"
        path = folder / f"{name}{suffix}.png"
        if path.exists():
            raise ConfigError(f"{path}: exists; nothing is overwritten (choose another folder)")
        paths.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    return paths
