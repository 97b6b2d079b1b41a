"""The data-quality summary of a prepared cache: what `prepare` read, skipped and flagged.

`QualityLog` collects, while records are prepared, what a data scientist should read
before training: every record listed, read, skipped (with reasons) or flagged (with the
problems `data/quality.py` found); the label codes a source left out; recordings present
twice (equal raw content hash); sampling rates and lengths; per-lead amplitude and QRS
agreement. `QualityLog.summary` turns it into a JSON-ready dict that `prepare_dataset`
stores as `data_quality.json` in the cache, and `paragraph` into the one paragraph
`data prepare` prints. The text and PNG renderings (`data_quality.txt`, `.png`) are made
from that JSON by `keras_ecgpe.data_quality_report`, which uses `keras_ecgpe.reporting`
(the data package cannot: reporting imports it).
"""

from __future__ import annotations

import array
import collections
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keras_ecgpe.data.cache_format import QUALITY_SUMMARY_FILES
from keras_ecgpe.data.labels import snomed_names
from keras_ecgpe.data.quality import CATEGORIES, QualitySettings, RecordQuality
from keras_ecgpe.leads import CANONICAL_LEADS

JSON_FILE, TEXT_FILE, PNG_FILE = QUALITY_SUMMARY_FILES
SPLIT_COLUMNS = ("train", "validation", "test", "")


def reason_kind(reason: str) -> str:
    """A skip reason without its record-specific details, to count reasons by kind.

    Example:
    >>> reason_kind("/d/A0001.mat: 3 missing or non-finite samples (NaN/inf), first in lead I")
    'N missing or non-finite samples'
    >>> reason_kind("file missing: A0002.mat")
    'file missing'
    """
    text = re.sub(r"^\S*[/\\]\S*:\s*", "", reason.strip())  # a leading "path: "
    text = re.split(r"[:(;,]", text, maxsplit=1)[0].strip()
    return re.sub(r"\d+(\.\d+)?", "N", text) or "unknown"


class QualityLog:
    """What `prepare_dataset` saw, record by record, for the data-quality summary.

    Args:
        settings: the quality settings used (their policy is reported).
        listed: records the source listed (usable and skipped at indexing).
    """

    def __init__(self, settings: QualitySettings, listed: int):
        self.settings, self.listed = settings, int(listed)
        self.skipped: list[dict] = []
        self.problems: dict[str, str] = {}  # record id -> problems (every policy)
        self.categories: dict[str, tuple[str, ...]] = {}
        # Compact float arrays, not lists of objects: 112 bytes a record, so the log of an
        # 800,000-record set stays under 100 MB.
        self._fs = array.array("d")
        self._durations = array.array("d")
        self._ptp = array.array("f")
        self._lead_qrs = array.array("f")
        self._qrs_index = array.array("f")

    def skip(self, record_id: str, path: str | None, reason: str) -> None:
        self.skipped.append({"record_id": record_id, "path": path, "reason": reason})

    def read(self, record_id: str, fs: float, n_samples: int, quality: RecordQuality) -> None:
        """A record read successfully (whatever the policy then did with it)."""
        self._fs.append(float(fs))
        self._durations.append(n_samples / float(fs))
        self._ptp.frombytes(np.asarray(quality.lead_ptp_mv, dtype=np.float32).tobytes())
        self._lead_qrs.frombytes(np.asarray(quality.lead_qrs, dtype=np.float32).tobytes())
        self._qrs_index.append(float(quality.qrs_index))
        if quality.problems:
            self.problems[record_id] = quality.describe()
            self.categories[record_id] = tuple(dict.fromkeys(c for c, _ in quality.problems))

    def summary(
        self,
        *,
        source: dict,
        record_ids: Sequence[str],
        splits: Sequence[str],
        labels: np.ndarray,
        label_names: Sequence[str],
        display_names: Sequence[str] | None = None,
        content_hashes: Sequence[str] = (),
        ignored_codes: Sequence[tuple[str, int, str]] = (),
        splits_from: str = "generated",
        synthetic: bool = False,
    ) -> dict:
        """The whole summary as a JSON-ready dict (see docs/data-quality.md for the keys)."""
        cached = set(record_ids)
        policy = self.settings.policy
        flagged = {r: p for r, p in self.problems.items() if r in cached}
        reasons = collections.Counter(reason_kind(s["reason"]) for s in self.skipped)
        examples: dict[str, list[str]] = collections.defaultdict(list)
        for skip in self.skipped:
            examples[reason_kind(skip["reason"])].append(skip["record_id"])
        category_counts = collections.Counter(
            c for r, cs in self.categories.items() for c in cs if r in cached
        )
        split_array = np.asarray(splits, dtype=str)
        positives = np.asarray(labels) > 0.5
        names = list(display_names or label_names)
        label_counts = [
            {
                "class": name,
                "code": code,
                **{
                    (split or "none"): int(positives[split_array == split, c].sum())
                    for split in SPLIT_COLUMNS
                },
            }
            for c, (code, name) in enumerate(zip(label_names, names))
        ]
        ptp = np.frombuffer(self._ptp, np.float32).reshape(-1, len(CANONICAL_LEADS))
        lead_qrs = np.frombuffer(self._lead_qrs, np.float32).reshape(-1, len(CANONICAL_LEADS))
        return {
            "source": source,
            "synthetic": bool(synthetic),
            "policy": policy,
            "settings": self.settings.to_dict(),
            "records": {
                "listed": self.listed,
                "read": len(self._fs),
                "cached": len(record_ids),
                "skipped": len(self.skipped),
                "with_problems": len(self.problems),
                "flagged": len(flagged) if policy == "flag" else 0,
            },
            "skipped_by_reason": [
                {"reason": kind, "count": n, "examples": examples[kind][:3]}
                for kind, n in reasons.most_common()
            ],
            "skipped": self.skipped,
            "problems_by_category": {c: category_counts.get(c, 0) for c in CATEGORIES},
            "problems": [
                {"record_id": r, "problems": p, "in_cache": r in cached}
                for r, p in self.problems.items()
            ],
            "splits": {
                (split or "none"): int((split_array == split).sum()) for split in SPLIT_COLUMNS
            },
            "splits_from": splits_from,
            "label_counts": label_counts,
            "ignored_codes": [
                {"code": code, "count": int(n), "name": name} for code, n, name in ignored_codes
            ],
            "duplicates": _duplicates(record_ids, split_array, content_hashes),
            "fs_hz": _counts(self._fs),
            "duration_s": _histogram(self._durations),
            "lead_amplitude_mv": _lead_quantiles(ptp),
            "lead_qrs_agreement": _lead_quantiles(lead_qrs),
            "qrs_index": _quantiles(np.frombuffer(self._qrs_index, np.float32)),
            "qrs_index_histogram": _index_histogram(np.frombuffer(self._qrs_index, np.float32)),
        }


def class_names(label_names: Sequence[str], vocabulary: str) -> list[str]:
    """Readable class names: abbreviations for SNOMED CT codes, else the names as they are.

    Example:
    >>> class_names(["164889003", "NORM"], "snomed")
    ['AF', 'NORM']
    """
    if vocabulary != "snomed":
        return [str(name) for name in label_names]
    names = snomed_names()
    return [names.get(str(code), str(code)) for code in label_names]


def marked_synthetic(root: str | os.PathLike) -> bool:
    """True when `root`, or a folder up to two levels above it, holds the SYNTHETIC demo's
    marker file (the rule `training.contract.is_synthetic` applies to caches)."""
    from keras_ecgpe.data.synthetic import MARKER  # lazy: imports the generators

    path = Path(root)
    return any((folder / MARKER).is_file() for folder in [path, *list(path.parents)[:2]])


def _counts(values: Sequence[float]) -> list[dict]:
    tally = collections.Counter(float(v) for v in values)
    return [{"value": v, "count": n} for v, n in sorted(tally.items())]


def _histogram(values: Sequence[float]) -> list[dict]:
    """Counts per distinct value when there are few (rounded to 0.01), else 10 equal bins."""
    rounded = np.round(np.asarray(values, dtype=np.float64), 2)
    if np.unique(rounded).size <= 12:
        return [
            {"from": v["value"], "to": v["value"], "count": v["count"]} for v in _counts(rounded)
        ]
    counts, edges = np.histogram(rounded, bins=10)
    return [
        {"from": round(float(a), 2), "to": round(float(b), 2), "count": int(n)}
        for a, b, n in zip(edges[:-1], edges[1:], counts)
    ]


_QUANTILES = {"p5": 5, "q1": 25, "median": 50, "q3": 75, "p95": 95}


def _quantiles(values: np.ndarray) -> dict:
    """n, 5th/25th/50th/75th/95th percentiles, min and max of the finite values (None if none)."""
    values = values[np.isfinite(values)]
    if not values.size:
        return {"n": 0, **{name: None for name in _QUANTILES}, "min": None, "max": None}
    found = np.percentile(values, list(_QUANTILES.values()))
    return {
        "n": int(values.size),
        **{name: float(v) for name, v in zip(_QUANTILES, found)},
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _index_histogram(values: np.ndarray) -> list[dict]:
    counts, edges = np.histogram(values[np.isfinite(values)], bins=20, range=(0.0, 1.0))
    return [
        {"from": round(float(a), 2), "to": round(float(b), 2), "count": int(n)}
        for a, b, n in zip(edges[:-1], edges[1:], counts)
    ]


def _lead_quantiles(per_lead: np.ndarray) -> dict:
    return {lead: _quantiles(per_lead[:, c]) for c, lead in enumerate(CANONICAL_LEADS)}


def _duplicates(record_ids, splits, hashes) -> list[dict]:
    """Groups of cached records with one raw content hash, with their splits."""
    groups: dict[str, list[int]] = collections.defaultdict(list)
    for i, digest in enumerate(hashes):
        if digest:
            groups[digest].append(i)
    return [
        {
            "content_sha256": digest,
            "record_ids": [str(record_ids[i]) for i in rows],
            "splits": sorted({str(splits[i]) or "none" for i in rows}),
        }
        for digest, rows in groups.items()
        if len(rows) > 1
    ]


def paragraph(summary: dict) -> str:
    """The one paragraph `data prepare` prints at the end."""
    records = summary["records"]
    parts = [
        f"{'SYNTHETIC data. ' if summary.get('synthetic') else ''}"
        f"Data quality: {records['read']} of {records['listed']} listed records read, "
        f"{records['cached']} cached, {records['skipped']} skipped"
    ]
    if summary["skipped_by_reason"]:
        shown = summary["skipped_by_reason"][:3]
        parts[-1] += " (" + "; ".join(f"{r['count']} {r['reason']}" for r in shown)
        parts[-1] += "; ..." if len(summary["skipped_by_reason"]) > 3 else ""
        parts[-1] += ")"
    found = {c: n for c, n in summary["problems_by_category"].items() if n}
    verb = {"flag": "flagged", "keep": "kept unflagged", "skip": "skipped"}[summary["policy"]]
    if records["with_problems"]:
        parts.append(
            f"{records['with_problems']} with signal-quality problems, {verb} under "
            f"policy {summary['policy']!r} ("
            + ", ".join(f"{n} {c}" for c, n in found.items())
            + ")"
        )
    else:
        parts.append(f"no signal-quality problem found (policy {summary['policy']!r})")
    ignored = summary["ignored_codes"]
    if ignored:
        total = sum(code["count"] for code in ignored)
        top = ", ".join(f"{code['name'] or code['code']} {code['count']}" for code in ignored[:3])
        parts.append(
            f"{len(ignored)} label codes outside the classes ignored ({total} times: {top})"
        )
    duplicates = summary["duplicates"]
    if duplicates:
        crossing = sum(len(group["splits"]) > 1 for group in duplicates)
        parts.append(
            f"{len(duplicates)} recording{'s' if len(duplicates) > 1 else ''} present "
            "more than once"
            + (f", {crossing} of them across splits" if crossing else ", each within one split")
        )
    splits = ", ".join(f"{name} {n}" for name, n in summary["splits"].items() if n)
    parts.append(f"splits: {splits}")
    return "; ".join(parts) + "."


def summary_json(summary: dict) -> bytes:
    """`data_quality.json`'s bytes (strict JSON: no NaN)."""
    return (json.dumps(summary, indent=2, allow_nan=False) + "\n").encode()
