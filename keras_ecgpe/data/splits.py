"""Patient-level stratified splits and k-folds: no patient's records on both sides.

Records are grouped by patient; each patient gets one stratum and whole patients are dealt,
in a seeded random order, to the part whose share of that stratum's records is furthest
below its target. The stratum of a patient is:

- binary labels `(n,)` of 0/1: any-positive (a patient with one PE record is positive);
- other `(n,)` labels (class ids or names): the patient's most frequent label;
- multi-hot labels `(n, C)`: the patient's rarest positive class (rarest = fewest patients),
  or "none"; rare classes so get spread first, like the rarest-label-first rule of iterative
  stratification (Sechidis et al. 2011), at the cost of looser balance of common classes.

A `None` patient id means "unknown patient": that record is its own patient.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

SPLIT_NAMES = ("train", "validation", "test")


def _patients(labels, patient_ids):
    """Returns `(records_by_patient, strata, class_patients)` in first-seen patient order."""
    labels = np.asarray(labels)
    if labels.ndim not in (1, 2) or labels.shape[0] != len(patient_ids):
        raise ConfigError(
            f"`labels` must be (n,) or (n, C) with n = len(patient_ids) = "
            f"{len(patient_ids)}. Received shape {labels.shape}"
        )
    if labels.shape[0] == 0:
        raise ConfigError("`labels` is empty")
    records: dict[object, list[int]] = {}
    for i, patient in enumerate(patient_ids):
        records.setdefault(("record", i) if patient is None else str(patient), []).append(i)
    groups = list(records.values())
    if labels.ndim == 2:
        if not np.isin(labels, (0, 1)).all():
            raise ConfigError("multi-hot `labels` (n, C) must hold only 0 and 1")
        # Vectorised over patients (one numpy call each, not one per patient or class).
        starts = np.cumsum([0] + [len(g) for g in groups[:-1]])
        positive = np.maximum.reduceat(labels[np.concatenate(groups)], starts, axis=0) > 0
        counts = positive.sum(axis=0)
        order = np.lexsort((np.arange(len(counts)), counts))  # rarest first
        ranked = positive[:, order]
        first = order[ranked.argmax(axis=1)].tolist()
        strata = [c if hit else "none" for c, hit in zip(first, ranked.any(axis=1).tolist())]
        class_patients = {f"class {c}": int(n) for c, n in enumerate(counts) if n}
        return groups, strata, class_patients
    values = labels.tolist()
    if set(values) <= {0, 1}:  # binary (bools included)
        strata = [int(max(values[i] for i in g)) for g in groups]
    else:
        strata = []
        for g in groups:
            tally = collections.Counter(values[i] for i in g)
            top = max(tally.values())
            strata.append(sorted((v for v, n in tally.items() if n == top), key=str)[0])
    class_patients = {f"label {v}": n for v, n in collections.Counter(strata).items()}
    return groups, strata, class_patients


def _deal(groups, strata, weights, rng) -> np.ndarray:
    """Deals whole patients to parts; returns the part index of every record."""
    # Plain floats, not numpy arrays: the loop runs once per patient, and numpy's per-call
    # overhead on 3-5 numbers made it the slowest step of indexing 800,000 records. The
    # arithmetic is the same float64, so a seed deals the same parts as before.
    weights = [float(w) for w in weights]
    n_records = sum(len(g) for g in groups)
    total = [0.0] * len(weights)
    part = np.empty(n_records, dtype=int)
    by_stratum = collections.defaultdict(list)
    for index, stratum in enumerate(strata):
        by_stratum[stratum].append(index)
    for stratum in sorted(by_stratum, key=str):
        members = by_stratum[stratum]
        size = sum(len(groups[m]) for m in members)
        target = [w * size for w in weights]
        current = [0.0] * len(weights)
        for m in rng.permutation(members).tolist():
            deficit = [t - c for t, c in zip(target, current, strict=True)]
            top = max(deficit)
            j, best = -1, 0.0
            for part_index, (w, d) in enumerate(zip(weights, deficit, strict=True)):
                # np.isclose(d, top): |d - top| <= 1e-8 + 1e-5 |top|; first largest wins.
                if w > 0 and abs(d - top) <= 1e-8 + 1e-5 * abs(top):
                    behind = w * n_records - total[part_index]
                    if j < 0 or behind > best:
                        j, best = part_index, behind
            part[groups[m]] = j
            current[j] += len(groups[m])
            total[j] += len(groups[m])
    return part


def patient_stratified_split(
    labels: ArrayLike,
    patient_ids: Sequence,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> np.ndarray:
    """Splits records into train/validation/test by patient, stratified by label.

    Args:
        labels: `(n,)` binary or class labels, or `(n, C)` multi-hot.
        patient_ids: `n` patient ids (None: the record is its own patient).
        fractions: target shares of records for train, validation, test (sum 1).
        seed: random seed; the same inputs and seed give the same split.

    Returns:
        String array `(n,)` of "train", "validation" or "test".

    Raises:
        ConfigError: bad shapes or fractions, or a part with a positive fraction left empty.

    Example:

    ```python
    parts = patient_stratified_split([0, 1] * 20, [f"p{i}" for i in range(40)], seed=1)
    ```
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ConfigError(
            "`fractions` must be 3 non-negative numbers summing to 1. "
            f"Received: fractions={fractions}"
        )
    groups, strata, _ = _patients(labels, patient_ids)
    part = _deal(groups, strata, fractions, np.random.default_rng(seed))
    empty = [SPLIT_NAMES[j] for j in range(3) if fractions[j] > 0 and not (part == j).any()]
    if empty:
        raise ConfigError(
            f"{len(groups)} patients are too few for fractions {fractions}: "
            f"{', '.join(empty)} would be empty"
        )
    return np.array(SPLIT_NAMES)[part]


def patient_stratified_kfold(
    labels: ArrayLike, patient_ids: Sequence, k: int = 5, seed: int = 0, repeats: int = 1
) -> list[np.ndarray]:
    """Assigns records to k folds by patient, stratified by label, optionally repeated.

    Args:
        labels: `(n,)` binary or class labels, or `(n, C)` multi-hot.
        patient_ids: `n` patient ids (None: the record is its own patient).
        k: number of folds (>= 2).
        seed: random seed; repeat r uses the seed sequence `(seed, r)`.
        repeats: number of independent fold assignments.

    Returns:
        A list of `repeats` int arrays `(n,)` holding each record's fold, 0 to k-1.

    Raises:
        ConfigError: k < 2, repeats < 1, or k larger than the number of patients of some
            label/class (some fold would have none of it, e.g. no PE-positive patient).

    Example:

    ```python
    folds = patient_stratified_kfold([0, 1] * 5, list("abcdefghij"), k=2)
    ```
    """
    if int(k) != k or k < 2:
        raise ConfigError(f"`k` must be an integer >= 2. Received: k={k!r}")
    if int(repeats) != repeats or repeats < 1:
        raise ConfigError(f"`repeats` must be an integer >= 1. Received: repeats={repeats!r}")
    groups, strata, class_patients = _patients(labels, patient_ids)
    if k > len(groups):
        raise ConfigError(f"k={k} exceeds the number of patients ({len(groups)})")
    short = {name: n for name, n in class_patients.items() if n < k}
    if short:
        detail = ", ".join(f"{n} patients with {name}" for name, n in sorted(short.items()))
        raise ConfigError(f"k={k} exceeds the {detail}: some fold would have none")
    weights = np.full(int(k), 1.0 / k)
    return [
        _deal(groups, strata, weights, np.random.default_rng([seed, r]))
        for r in range(int(repeats))
    ]


def duplicate_groups(patient_ids: Sequence, content_hashes: Sequence) -> list[int]:
    """One group id per record: records of one patient, or with one signal, share a group.

    Splitting by these groups instead of by patient keeps a recording that appears twice
    (under two record ids, e.g. two byte-identical Georgia records) on one side of every
    split. Groups join transitively: patient A's record duplicating patient B's puts A and B
    in one group.

    Args:
        patient_ids: `n` patient ids (None: the record is its own patient).
        content_hashes: `n` raw content hashes ("" or None: unknown, matches nothing).

    Returns:
        `n` group numbers: the index of the group's first record.

    Example:
    >>> duplicate_groups(["a", "b", "c", None], ["h1", "h2", "h1", "h2"])
    [0, 1, 0, 1]
    """
    if len(patient_ids) != len(content_hashes):
        raise ConfigError(
            f"`patient_ids` ({len(patient_ids)}) and `content_hashes` "
            f"({len(content_hashes)}) must have one entry per record"
        )
    parent = list(range(len(patient_ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, (patient, digest) in enumerate(zip(patient_ids, content_hashes)):
        keys = [] if patient is None else [("patient", str(patient))]
        keys += [("signal", str(digest))] if digest else []
        for key in keys:
            if key in first:
                a, b = root(first[key]), root(i)
                parent[max(a, b)] = min(a, b)
            else:
                first[key] = i
    return [root(i) for i in range(len(patient_ids))]
