"""Attribution overlays on the 12-lead paper layout (`visualization.ecg_paper`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.visualization.ecg_paper import (
    PAGE_S,
    Overlay,
    ecg_paper_figure,
    record_figure,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from keras_ecgpe.data.record import ECGRecord
    from keras_ecgpe.explain.record_attribution import RecordAttribution


def page_start(attribution: RecordAttribution, duration_s: float) -> float:
    """Start of the 10 s page to draw: the record's start, or for a longer record the page
    centred on the segment with the largest share of |attribution| (0.1 s grid)."""
    if duration_s <= PAGE_S:
        return 0.0
    segments = attribution.top_segments(top=1)
    centre = segments[0]["start_s"] + 0.25 if segments else 0.0
    start = min(max(centre - PAGE_S / 2, 0.0), duration_s - PAGE_S)
    return float(np.floor(start * 10.0) / 10.0)


def _description_lines(attribution: RecordAttribution, how: dict) -> list[str]:
    shares = sorted(attribution.lead_shares().items(), key=lambda item: -item[1])[:4]
    baseline = attribution.baseline_logit
    return [
        f"{how['label']} logit {attribution.logit:+.3f} (baseline {baseline:+.3f};"
        f" attributions sum to {attribution.values.sum():+.3f}); {how['method']}, "
        f"{how['steps']} {how['rule']} steps, baseline: flat ECG (zeros in the model's input); "
        f"{attribution.windows} window(s), {attribution.aggregate} aggregation",
        "Largest lead shares of |attribution|: "
        + ", ".join(f"{lead} {100 * share:.0f} %" for lead, share in shares)
        + f"; model {how['explained_model']}",
    ]


def _overlay(attribution: RecordAttribution, how: dict) -> Overlay:
    return Overlay(
        attribution.times_s[attribution.inside],
        attribution.values[attribution.inside],
        label=f"integrated gradients of the {how['label']} logit",
    )


def attribution_figure(
    record: ECGRecord,
    attribution: RecordAttribution,
    how: dict,
    *,
    caption: Sequence[str] = (),
) -> Figure:
    """The record as recorded (mV, own fs) with its attribution shaded behind each lead.

    Args:
        record: the record read from its file.
        attribution: `Explainer.explain_record(record)`.
        how: `Explainer.describe()`.
        caption: extra lines (the prediction, say).
    """
    return record_figure(
        record,
        caption=[*caption, *_description_lines(attribution, how)],
        start_s=page_start(attribution, record.duration_s),
        overlay=_overlay(attribution, how),
    )


def model_input_figure(
    signal: np.ndarray,
    fs: float,
    attribution: RecordAttribution,
    how: dict,
    *,
    title: str,
    units: str,
    caption: Sequence[str] = (),
) -> Figure:
    """A record as the model saw it (preprocessed, at the contract's fs) with its
    attribution; used where the raw file is not at hand (the evaluation's error gallery).

    The drawn signal starts at the preprocessed signal's first sample, which lies at
    `attribution.times_s[0]` s of the record; the overlay is shifted to match.
    """
    shift = float(attribution.times_s[0])
    overlay = _overlay(attribution, how)
    overlay = Overlay(overlay.times_s - shift, overlay.values, overlay.label)
    duration = signal.shape[0] / fs
    start = 0.0
    if duration > PAGE_S:
        start = page_start(attribution, duration + shift) - shift
        start = min(max(start, 0.0), duration - PAGE_S)
    return ecg_paper_figure(
        signal,
        fs,
        title=title,
        caption=[*caption, *_description_lines(attribution, how)],
        units=units,
        start_s=start,
        overlay=overlay,
    )
