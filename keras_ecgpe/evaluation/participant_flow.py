"""Participant flow and baseline characteristics of a prepared cache (STARD items 19-20).

`participant_flow` counts records and patients per split, positives and negatives per
class, records without a patient id (each counted as its own patient, as the patient
bootstrap treats them), and the records excluded when the cache was prepared, with their
reasons, read from the cache's `report.json`. `baseline_characteristics` summarises age
(median, IQR, missing) and sex per split where the cache stores them.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import schemas
from keras_ecgpe.data.cache_format import REPORT
from keras_ecgpe.errors import ECGPEError
from keras_ecgpe.evaluation.bootstrap import patient_groups

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from keras_ecgpe.data.prepared_cache import PreparedCache

SPLIT_ORDER = ("train", "validation", "test", "")
_REPORT_MAX_BYTES = 256 * 2**20  # one line per skipped record: millions of records fit


def split_name(split: str) -> str:
    """How a report names a split ("" is the records of no split)."""
    return split or "no split"


def _exclusions(cache) -> dict:
    """Records excluded at prepare time, by reason, from the cache's `report.json`."""
    path = cache.path / REPORT
    try:
        report = schemas.read_json(path, max_bytes=_REPORT_MAX_BYTES, what="prepare report")
    except FileNotFoundError:
        return {"available": False, "reason": f"{path} is missing", "n_excluded": None}
    except (OSError, ECGPEError) as error:
        return {"available": False, "reason": f"{path} unreadable ({error})", "n_excluded": None}
    skipped = report.get("records_skipped") if isinstance(report, dict) else None
    if not isinstance(skipped, list):
        return {
            "available": False,
            "reason": f"{path} lists no skipped records",
            "n_excluded": None,
        }
    reasons = collections.Counter(
        str(item.get("reason", "no reason given")) if isinstance(item, dict) else "malformed entry"
        for item in skipped
    )
    return {
        "available": True,
        "source": str(path),
        "n_read": report.get("records_read"),
        "n_excluded": len(skipped),
        "reasons": [{"reason": r, "n": n} for r, n in reasons.most_common()],
        "examples": [item.get("record_id") for item in skipped[:10] if isinstance(item, dict)],
    }


def participant_flow(cache: PreparedCache, evaluated_split: str) -> dict:
    """Records, patients and classes per split of `cache`, and exclusions with reasons.

    Args:
        cache: a `PreparedCache`.
        evaluated_split: the split the report scores.

    Returns:
        `{"label_names", "evaluated_split", "splits": [{"split", "records", "patients",
        "records_without_patient_id", "classes": {name: {"positive", "negative",
        "unlabelled"}}}], "exclusions": {...}, "eligible": records in the cache + excluded}`.

    Example:

    ```python
    flow = participant_flow(PreparedCache.open("prepared/pe"), "test")
    flow["splits"][2]["patients"]
    ```
    """
    names = list(cache.label_names)
    splits = []
    present = set(cache.splits.tolist())
    for split in [s for s in SPLIT_ORDER if s in present]:
        rows = np.flatnonzero(cache.splits == split)
        keys, missing = patient_groups(cache.patient_ids[rows], cache.record_ids[rows])
        labels, mask = cache.labels[rows] > 0.5, cache.label_mask[rows] > 0.5
        splits.append(
            {
                "split": split,
                "name": split_name(split),
                "records": int(rows.size),
                "patients": len(set(keys)),
                "records_without_patient_id": int(missing),
                "classes": {
                    name: {
                        "positive": int((labels[:, c] & mask[:, c]).sum()),
                        "negative": int((~labels[:, c] & mask[:, c]).sum()),
                        "unlabelled": int((~mask[:, c]).sum()),
                    }
                    for c, name in enumerate(names)
                },
            }
        )
    exclusions = _exclusions(cache)
    return {
        "label_names": names,
        "evaluated_split": evaluated_split,
        "records_in_cache": int(len(cache)),
        "splits": splits,
        "exclusions": exclusions,
        "eligible": None
        if exclusions["n_excluded"] is None
        else int(len(cache)) + exclusions["n_excluded"],
        "missing_patient_id_rule": "a record without a patient id counts as its own patient",
    }


PREDATES_DEMOGRAPHICS = (
    "the cache was prepared before keras_ecgpe stored age and sex; prepare it again "
    "(`overwrite=True`) to report them"
)
NO_KNOWN = "no record in the cache has a known"


def cache_demographics(cache: PreparedCache) -> tuple:
    """`(ages, sexes, reason)`: per record where the cache holds any known value, else None.

    Ages are float years (NaN unknown); sexes are "M", "F" or "" (unknown). A column is None
    when the cache predates the age and sex columns (`PreparedCache.has_demographics`) or
    no record has a known value; `reason` then says which (None while both are present).

    Example:

    ```python
    ages, sexes, reason = cache_demographics(PreparedCache.open("prepared/pe"))
    ```
    """
    if not getattr(cache, "has_demographics", False):
        return None, None, PREDATES_DEMOGRAPHICS
    ages = np.asarray(cache.ages, dtype=np.float64)
    sexes = np.asarray(cache.sexes).astype(str)
    ages = ages if np.isfinite(ages).any() else None
    sexes = sexes if (sexes != "").any() else None
    missing = [name for name, column in (("age", ages), ("sex", sexes)) if column is None]
    return ages, sexes, (f"{NO_KNOWN} {' or '.join(missing)}" if missing else None)


def baseline_characteristics(
    splits: ArrayLike,
    ages: ArrayLike | None = None,
    sexes: ArrayLike | None = None,
    *,
    reason: str | None = None,
) -> dict:
    """Age (median, IQR, missing) and sex counts per split.

    Args:
        splits: `(n,)` split of each record.
        ages: `(n,)` ages in years (NaN unknown), or None when the data has none.
        sexes: `(n,)` "M"/"F"/"" per record, or None.
        reason: why ages or sexes are None (`cache_demographics`); default "the cache
            stores no age or sex".

    Returns:
        `{"age_available", "sex_available", "reason" (when either is missing), "splits": [{"split",
        "records", "age": {"n", "median", "q1", "q3", "missing"} or None, "sex":
        {"F", "M", "missing"} or None}]}`.

    Example:
    >>> r = baseline_characteristics(np.array(["test"] * 4), np.array([40, 50, 60, np.nan]),
    ...                              np.array(["F", "M", "F", ""]))
    >>> r["splits"][0]["age"]["median"], r["splits"][0]["sex"]
    (50.0, {'F': 2, 'M': 1, 'missing': 1})
    """
    splits = np.asarray(splits).astype(str)
    out = {"age_available": ages is not None, "sex_available": sexes is not None, "splits": []}
    if ages is None or sexes is None:
        out["reason"] = reason or "the cache stores no age or sex"
    for split in [s for s in SPLIT_ORDER if s in set(splits.tolist())]:
        member = splits == split
        entry = {"split": split, "name": split_name(split), "records": int(member.sum())}
        if ages is not None:
            a = np.asarray(ages, dtype=np.float64)[member]
            known = a[np.isfinite(a)]
            entry["age"] = {
                "n": int(known.size),
                "missing": int(a.size - known.size),
                **(
                    dict(
                        zip(
                            ("q1", "median", "q3"),
                            (float(v) for v in np.quantile(known, [0.25, 0.5, 0.75])),
                            strict=True,
                        )
                    )
                    if known.size
                    else {"q1": None, "median": None, "q3": None}
                ),
            }
        if sexes is not None:
            s = np.asarray(sexes).astype(str)[member]
            entry["sex"] = {
                "F": int((s == "F").sum()),
                "M": int((s == "M").sum()),
                "missing": int(((s != "F") & (s != "M")).sum()),
            }
        out["splits"].append(entry)
    return out
