"""Text and PNG renderings of a prepared cache's data-quality summary.

`data prepare` stores the summary as `data_quality.json` in the cache
(`keras_ecgpe.data.quality_summary`); `write_quality_report` renders it as
`data_quality.txt` (through `keras_ecgpe.reporting`, like every study report) and
`data_quality.png` (per-lead amplitude and QRS agreement, record QRS index). It lives
outside `keras_ecgpe.data` because `keras_ecgpe.reporting` imports the data package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.atomic import atomic_open, atomic_write_bytes
from keras_ecgpe.data.quality_summary import JSON_FILE, PNG_FILE, TEXT_FILE, paragraph
from keras_ecgpe.errors import ECGPEError
from keras_ecgpe.leads import CANONICAL_LEADS
from keras_ecgpe.reporting import (
    KeyValueList,
    Paragraph,
    Report,
    Section,
    Table,
    synthetic_banners,
    to_text,
)

if TYPE_CHECKING:
    import os

    from matplotlib.figure import Figure

_SHOWN = 20  # rows of long lists in the text file; the JSON has every one


def read_summary(cache_dir: os.PathLike | str) -> dict | None:
    """The cache's `data_quality.json`, or None for a cache prepared before it existed.

    Raises:
        ECGPEError: the file exists but is not JSON.
    """
    path = Path(cache_dir) / JSON_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ECGPEError(f"{path}: unreadable data-quality summary ({exc})") from None


def write_quality_report(cache_dir: os.PathLike | str) -> list[Path]:
    """Writes `data_quality.txt` and `data_quality.png` from the cache's summary JSON.

    Returns:
        The paths written; empty for a cache without `data_quality.json`.

    Raises:
        ECGPEError: the summary is unreadable.
    """
    summary = read_summary(cache_dir)
    if summary is None:
        return []
    text, png = Path(cache_dir) / TEXT_FILE, Path(cache_dir) / PNG_FILE
    atomic_write_bytes(text, to_text(to_report(summary)).encode("utf-8"))
    figure = quality_figure(summary)
    with atomic_open(png) as handle:
        figure.savefig(handle, format="png", dpi=100)
    return [text, png]


def to_report(summary: dict) -> Report:
    """The summary as a `keras_ecgpe.reporting.Report` (rendered to `data_quality.txt`)."""
    records = summary["records"]
    report = Report(
        "Data-quality summary",
        subtitle=f"{summary['source'].get('name', '?')} at {summary['source'].get('root', '?')}",
        banners=synthetic_banners(bool(summary.get("synthetic"))),
    )
    overview = Section("Overview", "overview").add(
        Paragraph(paragraph(summary)),
        KeyValueList(
            [
                ("Records listed by the source", records["listed"]),
                ("Records read", records["read"]),
                ("Records cached", records["cached"]),
                ("Records skipped", records["skipped"]),
                ("Records with signal-quality problems", records["with_problems"]),
                ("Quality policy", summary["policy"]),
                ("Splits from", summary["splits_from"]),
            ]
        ),
    )
    report.add(overview)
    skipped = Section("Skipped records", "skipped")
    skipped.add(
        Table(
            "Skipped records by reason",
            ["Reason", "Records", "Examples"],
            [
                [r["reason"], r["count"], ", ".join(r["examples"])]
                for r in summary["skipped_by_reason"]
            ]
            or [["none", 0, ""]],
        )
    )
    report.add(skipped)
    problems = Section("Signal quality", "signal-quality")
    problems.add(
        Table(
            "Records with problems by check",
            ["Check", "Records"],
            [[c, n] for c, n in summary["problems_by_category"].items()],
            notes=[f"Policy {summary['policy']!r}; thresholds {summary['settings']}"],
        )
    )
    listed = summary["problems"]
    if listed:
        problems.add(
            Table(
                "Records with problems"
                + (f" (first {_SHOWN} of {len(listed)})" if len(listed) > _SHOWN else ""),
                ["Record", "Problems", "In cache"],
                [
                    [p["record_id"], p["problems"], "yes" if p["in_cache"] else "no"]
                    for p in listed[:_SHOWN]
                ],
            )
        )
    report.add(problems)
    labels = Section("Labels", "labels")
    labels.add(
        Table(
            "Positive records per class and split",
            ["Class", "Train", "Validation", "Test", "No split"],
            [
                [
                    row["class"]
                    if row["class"] == row["code"]
                    else f"{row['class']} ({row['code']})",
                    row["train"],
                    row["validation"],
                    row["test"],
                    row["none"],
                ]
                for row in summary["label_counts"]
            ],
        )
    )
    labels.add(
        Table(
            "Label codes outside the classes (ignored)",
            ["Code", "Name", "Records"],
            [[c["code"], c["name"], c["count"]] for c in summary["ignored_codes"]]
            or [["none", "", 0]],
        )
    )
    report.add(labels)
    duplicates = Section("Duplicate recordings", "duplicates")
    duplicates.add(
        Table(
            "Records with the same raw signal (content hash)",
            ["Records", "Splits", "SHA-256 (first 12)"],
            [
                [", ".join(g["record_ids"]), ", ".join(g["splits"]), g["content_sha256"][:12]]
                for g in summary["duplicates"]
            ]
            or [["none", "", ""]],
        )
    )
    report.add(duplicates)
    signals = Section("Sampling rates, lengths, amplitudes", "signals")
    signals.add(
        Table(
            "Sampling rates",
            ["fs (Hz)", "Records"],
            [[f"{f['value']:g}", f["count"]] for f in summary["fs_hz"]],
        ),
        Table(
            "Record durations",
            ["From (s)", "To (s)", "Records"],
            [[f"{d['from']:g}", f"{d['to']:g}", d["count"]] for d in summary["duration_s"]],
        ),
        Table(
            "Per-lead peak-to-peak amplitude (mV) and QRS agreement",
            ["Lead", "Amplitude p5", "median", "p95", "QRS agreement median"],
            [
                [
                    lead,
                    _number(summary["lead_amplitude_mv"][lead]["p5"]),
                    _number(summary["lead_amplitude_mv"][lead]["median"]),
                    _number(summary["lead_amplitude_mv"][lead]["p95"]),
                    _number(summary["lead_qrs_agreement"][lead]["median"]),
                ]
                for lead in CANONICAL_LEADS
            ],
            notes=[
                "QRS agreement: F1 of the lead's QRS detections against the beats seen in at "
                "least two thirds of the leads (1 = every beat found, nothing extra); see "
                "keras_ecgpe/data/quality.py."
            ],
        ),
    )
    report.add(signals)
    return report


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _boxes(per_lead: dict, floor: float | None = None) -> list[dict]:
    """`Axes.bxp` statistics from the summary's per-lead percentiles (whiskers 5-95 %)."""
    boxes = []
    for lead in CANONICAL_LEADS:
        q = per_lead[lead]
        if not q["n"]:
            values = dict.fromkeys(("whislo", "q1", "med", "q3", "whishi"), np.nan)
        else:
            values = {
                "whislo": q["p5"],
                "q1": q["q1"],
                "med": q["median"],
                "q3": q["q3"],
                "whishi": q["p95"],
            }
            if floor is not None:
                values = {k: max(v, floor) for k, v in values.items()}
        boxes.append({"label": lead, "fliers": [], **values})
    return boxes


def quality_figure(summary: dict) -> Figure:
    """Per-lead amplitude and QRS agreement boxes, and the record QRS index histogram."""
    from matplotlib.figure import Figure  # noqa: F811 (imported when used: a slow import)
    from matplotlib.ticker import FormatStrFormatter

    figure = Figure(figsize=(11, 8), layout="constrained")
    top, middle, bottom = figure.subplots(3, 1)
    top.bxp(_boxes(summary["lead_amplitude_mv"], floor=1e-3), showfliers=False)
    top.set_yscale("log")
    top.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    top.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    top.set_ylabel("peak-to-peak (mV)")
    top.set_title("Per-lead amplitude of the raw records (box: quartiles, whiskers: 5-95 %)")
    middle.bxp(_boxes(summary["lead_qrs_agreement"]), showfliers=False)
    middle.set_ylim(-0.05, 1.05)
    middle.set_ylabel("QRS agreement (F1)")
    middle.set_title("Per-lead QRS detection agreement with the cross-lead consensus")
    bins = summary["qrs_index_histogram"]
    bottom.bar(
        [b["from"] for b in bins],
        [b["count"] for b in bins],
        width=[b["to"] - b["from"] for b in bins],
        align="edge",
        color="0.4",
    )
    bottom.axvline(summary["settings"]["min_qrs_index"], color="C3", linestyle="--")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel(
        f"record QRS quality index (dashed: flagged below {summary['settings']['min_qrs_index']:g})"
    )
    bottom.set_ylabel("records")
    records = summary["records"]
    figure.suptitle(
        f"{'SYNTHETIC data. ' if summary.get('synthetic') else ''}Data quality of "
        f"{summary['source'].get('name', '?')}: {records['read']} records "
        f"read, {records['with_problems']} with problems"
    )
    return figure
