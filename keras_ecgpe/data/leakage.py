"""Leakage checks between splits and between caches, with the records named.

Three ways a test result can be inflated by data the model has already seen:

1. the same patient in two splits of one cache (any cache, not only PE manifests);
2. the same recording (by content hash) in two splits of one cache, under two record ids;
3. the same recording in a pretraining cache and in the fine-tuning cache's test split:
   CinC 2020/2021 republishes PTB-XL and CPSC2018 under new record names.

`find_leaks` finds all three; `LeakReport.raise_unless` refuses by default. Content hashes
come from `data/content_hash.py` (raw where the cache index holds them; see
docs/study.md, "Leakage checks").
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.content_hash import RAW, STORED, record_hashes
from keras_ecgpe.data.prepared_cache import PreparedCache
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

ACROSS_SPLITS, PRETRAINING = "across_splits", "pretraining"
# Pretraining reads its train split and picks its checkpoint on validation; "" is a record
# without a split, which a pretraining run on the whole cache would use too.
PRETRAIN_SPLITS = ("train", "validation", "")
_SHOWN = 10


@dataclasses.dataclass(frozen=True)
class SharedPatient:
    """A patient id with records in more than one split of one cache."""

    cache: str
    patient_id: str
    splits: tuple[str, ...]
    record_ids: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"patient {self.patient_id!r} of {self.cache} in splits "
            f"{', '.join(self.splits)}: records {', '.join(self.record_ids)}"
        )


@dataclasses.dataclass(frozen=True)
class SharedRecording:
    """One recording (content hash) found under several names.

    Attributes:
        kind: "across_splits" (two splits of one cache) or "pretraining" (a pretraining
            cache and the fine-tuning split).
        content_sha256: the hash that matched.
        method: "raw" or "stored" (see `content_hash.record_hashes`).
        records: `(cache path, split, record id)` of every copy.
    """

    kind: str
    content_sha256: str
    method: str
    records: tuple[tuple[str, str, str], ...]

    def describe(self) -> str:
        copies = "; ".join(
            f"{record} ({split or 'no split'}) in {cache}" for cache, split, record in self.records
        )
        return f"one recording as {copies}"


@dataclasses.dataclass(frozen=True)
class LeakReport:
    """What `find_leaks` found. Empty tuples mean no leak of that kind was found.

    Attributes:
        fine_tune: path of the fine-tuning cache; split: the split checked against
            pretraining; pretrain: paths of the pretraining caches.
        shared_patients, shared_recordings: the leaks, each naming its records.
        methods: cache path -> content-hash method used for it ("raw" or "stored").
        notes: what the check could not see (records without a patient id, stored hashes).
        accepted: True when the caller chose to go on despite leaks (`raise_unless`).
    """

    fine_tune: str
    split: str
    pretrain: tuple[str, ...]
    shared_patients: tuple[SharedPatient, ...]
    shared_recordings: tuple[SharedRecording, ...]
    methods: dict
    notes: tuple[str, ...]
    accepted: bool = False

    @property
    def clean(self) -> bool:
        return not self.shared_patients and not self.shared_recordings

    def leaked_records(self) -> list[str]:
        """Every record involved in some leak, as "record (split) in cache", in report order."""
        named = []
        for patient in self.shared_patients:
            named += [f"{record} in {patient.cache}" for record in patient.record_ids]
        for recording in self.shared_recordings:
            named += [
                f"{record} ({split or 'no split'}) in {cache}"
                for cache, split, record in recording.records
            ]
        return list(dict.fromkeys(named))

    def summary(self) -> str:
        """One line: the counts, or "no leakage found"."""
        if self.clean:
            return "no leakage found"
        kinds = collections.Counter(recording.kind for recording in self.shared_recordings)
        return (
            f"{len(self.shared_patients)} patient(s) in two splits, "
            f"{kinds[ACROSS_SPLITS]} recording(s) in two splits, "
            f"{kinds[PRETRAINING]} recording(s) shared with pretraining "
            f"({len(self.leaked_records())} records)"
        )

    def raise_unless(self, accept: bool) -> LeakReport:
        """Refuses a leak unless `accept`; returns the report, marked accepted if it leaked.

        Raises:
            ConfigError: leaks were found and `accept` is False; the message gives the
                counts and names up to 10 leaks with their records.
        """
        if self.clean:
            return self
        if accept:
            return dataclasses.replace(self, accepted=True)
        leaks = [p.describe() for p in self.shared_patients] + [
            r.describe() for r in self.shared_recordings
        ]
        shown = "; ".join(leaks[:_SHOWN])
        more = f"; and {len(leaks) - _SHOWN} more" if len(leaks) > _SHOWN else ""
        raise ConfigError(
            f"leakage between splits or caches: {self.summary()}: {shown}{more}."
            " Fix the splits, or accept it explicitly (the report then says so)"
        )

    def to_dict(self) -> dict:
        """JSON-safe form for reports."""
        return {
            "fine_tune": self.fine_tune,
            "split": self.split,
            "pretrain": list(self.pretrain),
            "clean": self.clean,
            "accepted": self.accepted,
            "summary": self.summary(),
            "shared_patients": [
                {
                    "cache": p.cache,
                    "patient_id": p.patient_id,
                    "splits": list(p.splits),
                    "record_ids": list(p.record_ids),
                }
                for p in self.shared_patients
            ],
            "shared_recordings": [
                {
                    "kind": r.kind,
                    "content_sha256": r.content_sha256,
                    "method": r.method,
                    "records": [{"cache": c, "split": s, "record_id": i} for c, s, i in r.records],
                }
                for r in self.shared_recordings
            ],
            "methods": dict(self.methods),
            "notes": list(self.notes),
        }


def find_leaks(
    fine_tune_cache: PreparedCache | os.PathLike | str,
    pretrain_caches: Sequence = (),
    split: str = "test",
    *,
    pretrain_splits: Sequence[str] | None = PRETRAIN_SPLITS,
) -> LeakReport:
    """Finds shared patients and shared recordings in and between prepared caches.

    Checked: patients and recordings in two splits of the fine-tuning cache and of every
    pretraining cache; recordings of `pretrain_splits` of each pretraining cache that
    reappear in `split` of the fine-tuning cache. Patient ids are compared only within a
    cache (datasets number their patients independently). Records without a patient id
    cannot be matched by patient and are counted in the notes.

    Args:
        fine_tune_cache: a `PreparedCache` or its path.
        pretrain_caches: `PreparedCache`s or paths the model was pretrained on.
        split: the fine-tuning split to protect ("test" or "validation").
        pretrain_splits: the pretraining splits the model learnt from; None for all.

    Returns:
        A `LeakReport`.

    Raises:
        ConfigError: a bad `split`; ECGPEError: a cache that cannot be opened.

    Example:

    ```python
    find_leaks("prepared/pe", ["prepared/cinc2021"]).raise_unless(False)
    ```
    """
    if split not in ("train", "validation", "test"):
        raise ConfigError(
            f"`split` must be 'train', 'validation' or 'test'. Received: split={split!r}"
        )
    fine = _open(fine_tune_cache)
    others = [_open(cache) for cache in pretrain_caches]
    names = [str(cache.path) for cache in [fine, *others]]
    if len(set(names)) != len(names):
        raise ConfigError(f"a cache is listed twice among {names}")
    hashes, methods, notes = {}, {}, []
    for cache, name in zip([fine, *others], names, strict=True):
        hashes[name], methods[name] = record_hashes(cache)
    if others and any(method == STORED for method in methods.values()):
        # Raw and stored hashes never match each other: compare every cache by stored ones.
        for cache, name in zip([fine, *others], names, strict=True):
            if methods[name] == RAW:
                hashes[name], methods[name] = record_hashes(cache, method=STORED)
        notes.append(
            "some cache has no raw content hashes (prepared before they existed): "
            "recordings were compared as stored, which finds copies only between "
            "caches prepared with the same settings; prepare them again to compare "
            "raw signals"
        )
    patients, recordings = [], []
    for cache, name in zip([fine, *others], names, strict=True):
        patients += _patients_across_splits(cache, name, notes)
        recordings += _recordings_across_splits(cache, name, hashes[name], methods[name])
    protected = np.flatnonzero(fine.splits == split)
    for cache, name in zip(others, names[1:], strict=True):
        learnt = (
            np.arange(len(cache))
            if pretrain_splits is None
            else np.flatnonzero(np.isin(cache.splits, list(pretrain_splits)))
        )
        recordings += _shared_between(
            fine,
            names[0],
            protected,
            hashes[names[0]],
            cache,
            name,
            learnt,
            hashes[name],
            methods[name],
        )
    if not len(protected):
        notes.append(f"{names[0]} has no {split!r} records to check against pretraining")
    return LeakReport(
        fine_tune=names[0],
        split=split,
        pretrain=tuple(names[1:]),
        shared_patients=tuple(patients),
        shared_recordings=tuple(recordings),
        methods=methods,
        notes=tuple(notes),
    )


def _open(cache) -> PreparedCache:
    return cache if isinstance(cache, PreparedCache) else PreparedCache.open(Path(cache))


def _patients_across_splits(cache, name: str, notes: list) -> list[SharedPatient]:
    rows = collections.defaultdict(list)
    unknown = 0
    pairs = zip(cache.patient_ids.tolist(), cache.splits.tolist(), strict=True)
    for i, (patient, split) in enumerate(pairs):
        if not split:
            continue
        if patient:
            rows[patient].append(i)
        else:
            unknown += 1
    if unknown:
        notes.append(
            f"{unknown} split record(s) of {name} have no patient id and could not be "
            "checked for shared patients"
        )
    found = []
    for patient, members in rows.items():
        splits = sorted({cache.splits[i] for i in members})
        if len(splits) > 1:
            found.append(
                SharedPatient(
                    name, patient, tuple(splits), tuple(str(cache.record_ids[i]) for i in members)
                )
            )
    return found


def _recordings_across_splits(cache, name: str, hashes, method: str) -> list[SharedRecording]:
    groups = collections.defaultdict(list)
    for i, digest in enumerate(hashes.tolist()):
        groups[digest].append(i)
    found = []
    for digest, members in groups.items():
        if len(members) > 1 and len({cache.splits[i] for i in members} - {""}) > 1:
            found.append(
                SharedRecording(
                    ACROSS_SPLITS,
                    digest,
                    method,
                    tuple((name, str(cache.splits[i]), str(cache.record_ids[i])) for i in members),
                )
            )
    return found


def _shared_between(
    fine, fine_name, fine_rows, fine_hashes, other, other_name, other_rows, other_hashes, method
) -> list[SharedRecording]:
    by_hash = collections.defaultdict(list)
    for i in other_rows.tolist():
        by_hash[other_hashes[i]].append(i)
    found = collections.defaultdict(list)
    for i in fine_rows.tolist():
        if fine_hashes[i] in by_hash:
            found[fine_hashes[i]].append(i)
    return [
        SharedRecording(
            PRETRAINING,
            digest,
            method,
            tuple(
                [(fine_name, str(fine.splits[i]), str(fine.record_ids[i])) for i in rows]
                + [
                    (other_name, str(other.splits[j]), str(other.record_ids[j]))
                    for j in by_hash[digest]
                ]
            ),
        )
        for digest, rows in found.items()
    ]
