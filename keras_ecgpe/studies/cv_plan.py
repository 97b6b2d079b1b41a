"""Which records train, select and score in each fold of a repeated patient-level k-fold.

Only the cache's non-test records take part (splits train, validation and unsplit); the
`test` split is never read, so it stays free for one final evaluation of a model trained
the ordinary way. For repeat r, `patient_stratified_kfold` (seeded by `training.seed`)
deals whole patients into k folds stratified by label; fold f is held out and the other
k-1 folds are the outer training part. Optionally (`max_train_records`) the outer part is
first cut down to about that many records (whole patients, stratified, seeded by
(seed, r, f)), to ask what a small cohort could do. The outer part is then split by
patient into an inner training part and an inner validation part (`inner_validation` of
the records) that selects the checkpoint, stops early and fits thresholds.

Folds the user supplied: when the cache's source gave every record a fold (a `fold`
column of a PE manifest: site-based or temporal folds), those folds are used as they are,
one repeat, k = the number of distinct folds among the non-test records; `--cv K` must
agree, and `regenerate_folds=True` (`--regenerate-folds`) deals new patient-level folds
instead. Caches prepared before the manifest recorded where its folds came from read as
"unknown" and get generated folds.

Everything depends only on the cache, the seed and the options, never on the model, so
every arm of a comparison trains and is scored on exactly the same records.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.splits import patient_stratified_kfold, patient_stratified_split
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from keras_ecgpe.data.prepared_cache import PreparedCache

NON_TEST = ("train", "validation", "")
# `settings["folds_from"]` of a cache manifest (written by `data.prepare`).
FOLDS_FROM_SOURCE, FOLDS_GENERATED = "source", "generated"


@dataclasses.dataclass
class Fold:
    """Record indices of one fold: inner `train`, inner `validation`, `heldout`."""

    repeat: int
    fold: int
    train: np.ndarray
    validation: np.ndarray
    heldout: np.ndarray
    source_fold: int | None = None  # the cache's own fold number, when its folds are used

    @property
    def name(self) -> str:
        return f"r{self.repeat + 1}-f{self.fold + 1}"

    def to_dict(self, cache: PreparedCache) -> dict:
        ids = cache.record_ids
        return {
            "name": self.name,
            "repeat": self.repeat + 1,
            "fold": self.fold + 1,
            **({} if self.source_fold is None else {"source_fold": self.source_fold}),
            **{
                part: [str(ids[i]) for i in getattr(self, part)]
                for part in ("train", "validation", "heldout")
            },
        }


def strata(cache: PreparedCache, rows: np.ndarray) -> np.ndarray:
    """Labels for stratification: `(n,)` 0/1 for one class, else `(n, C)` multi-hot
    (unannotated entries count as negative)."""
    labels = ((cache.labels[rows] > 0.5) & (cache.label_mask[rows] > 0)).astype(np.int64)
    return labels[:, 0] if labels.shape[1] == 1 else labels


def patients(cache: PreparedCache, rows: np.ndarray) -> list:
    """Patient ids of `rows`; a record without one is its own patient (None)."""
    return [str(p) if str(p) else None for p in cache.patient_ids[rows]]


def folds_origin(cache: PreparedCache) -> str:
    """Where the cache's `folds` came from: "source" (the dataset's own fold column),
    "generated" (patient-level folds made by `prepare`), "none", or "unknown" (a cache
    prepared before the manifest recorded it)."""
    settings = cache.settings if isinstance(cache.settings, dict) else {}
    return str(settings.get("folds_from", "unknown"))


def _source_assignment(cache, pool, k, repeats) -> tuple[np.ndarray, list[int]]:
    """`(position of each pool record's fold, the fold numbers)` from the cache's own folds."""
    folds = np.asarray(cache.folds[pool], dtype=np.int64)
    if (folds < 0).any():
        raise ConfigError(
            f"{cache.path}: the source supplied folds, but {int((folds < 0).sum())} non-test "
            "record(s) have none; give every record a fold, or pass `regenerate_folds=True`"
        )
    numbers = sorted(int(f) for f in np.unique(folds))
    if len(numbers) < 2:
        raise ConfigError(
            f"{cache.path}: the non-test records hold {len(numbers)} fold of their own "
            f"({numbers}); cross-validation needs at least 2, or `regenerate_folds=True`"
        )
    if k is not None and int(k) != len(numbers):
        raise ConfigError(
            f"{cache.path}: the cache's own folds (from its manifest's fold column) are "
            f"{len(numbers)} ({', '.join(map(str, numbers))}), but `k={k}` was asked; "
            f"use `k={len(numbers)}`, or `regenerate_folds=True` to deal new patient-level folds"
        )
    if int(repeats) != 1:
        raise ConfigError(
            f"{cache.path}: the cache's own folds are fixed, so they cannot be repeated "
            f"(repeats={repeats}); use `repeats=1`, or `regenerate_folds=True`"
        )
    owners: dict = {}
    for patient, fold in zip(patients(cache, pool), folds.tolist(), strict=True):
        if patient is not None and owners.setdefault(patient, fold) != fold:
            raise ConfigError(
                f"{cache.path}: patient {patient!r} has records in folds "
                f"{owners[patient]} and {fold}; a patient belongs to one fold"
            )
    return np.searchsorted(numbers, folds), numbers


def _seed(*parts) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _part(cache, rows, fraction: float, seed: int, what: str):
    """Splits `rows` by patient into `(first ~fraction, rest)`, stratified."""
    parts = patient_stratified_split(
        strata(cache, rows), patients(cache, rows), (fraction, 1.0 - fraction, 0.0), seed=seed
    )
    first, rest = rows[parts == "train"], rows[parts == "validation"]
    if first.size == 0 or rest.size == 0:
        raise ConfigError(f"{cache.path}: {rows.size} records are too few to {what}")
    return first, rest


def plan_folds(
    cache: PreparedCache,
    *,
    k: int,
    repeats: int = 1,
    seed: int = 0,
    inner_validation: float = 0.2,
    max_train_records: int | None = None,
    regenerate_folds: bool = False,
) -> list[Fold]:
    """The folds of a repeated patient-level stratified k-fold over non-test records.

    When the cache's source supplied folds (`folds_origin(cache) == "source"`) and
    `regenerate_folds` is False, those folds are the held-out parts (one repeat).

    Args:
        cache: an opened `PreparedCache` with patient ids (records without one count as
            their own patient).
        k: folds per repeat (>= 2); with the cache's own folds, their number (None: take
            it from the cache).
        repeats: independent fold assignments.
        seed: the run's `training.seed`.
        inner_validation: share of each outer training part used for selection.
        max_train_records: keep about this many records of each outer training part
            (inner training + inner validation); None keeps all.
        regenerate_folds: deal new patient-level folds even when the cache has its own.

    Returns:
        `repeats * k` `Fold`s, repeat-major.

    Raises:
        ConfigError: bad options, too few records or patients of some label for k; with
            the cache's own folds: a `k` or `repeats` that disagrees with them, a record
            without a fold, or a patient in two folds.

    Example:

    ```python
    folds = plan_folds(cache, k=5, repeats=2, seed=0)
    folds[0].name, len(folds)
    # ('r1-f1', 10)
    ```
    """
    if not 0.0 < inner_validation < 1.0:
        raise ConfigError(
            f"`inner_validation` must be in (0, 1). Received: inner_validation={inner_validation!r}"
        )
    if max_train_records is not None and (
        isinstance(max_train_records, bool) or int(max_train_records) < 4
    ):
        raise ConfigError(
            f"`max_train_records` must be an integer >= 4. Received: "
            f"max_train_records={max_train_records!r}"
        )
    pool = cache.indices(list(NON_TEST))
    if pool.size == 0:
        raise ConfigError(f"{cache.path}: no non-test records to cross-validate")
    numbers = None
    if folds_origin(cache) == FOLDS_FROM_SOURCE and not regenerate_folds:
        assigned, numbers = _source_assignment(cache, pool, k, repeats)
        assignments, k = [assigned], len(numbers)
    else:
        if k is None:
            raise ConfigError(f"{cache.path}: has no folds of its own; give the folds (`k=K`)")
        assignments = patient_stratified_kfold(
            strata(cache, pool), patients(cache, pool), k=k, seed=seed, repeats=repeats
        )
    folds = []
    for r, assigned in enumerate(assignments):
        for f in range(int(k)):
            heldout, outer = pool[assigned == f], pool[assigned != f]
            if max_train_records is not None and outer.size > max_train_records:
                outer, _ = _part(
                    cache,
                    outer,
                    max_train_records / outer.size,
                    _seed(seed, r, f, 1),
                    "subsample the training part",
                )
            train, validation = _part(
                cache,
                outer,
                1.0 - inner_validation,
                _seed(seed, r, f, 2),
                "carve an inner validation part",
            )
            source_fold = None if numbers is None else numbers[f]
            folds.append(Fold(r, f, train, validation, heldout, source_fold))
    return folds
