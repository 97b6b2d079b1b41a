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

Everything depends only on the cache, the seed and the options, never on the model, so
every arm of a comparison trains and is scored on exactly the same records.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_ecgpe.data.splits import patient_stratified_kfold, patient_stratified_split
from keras_ecgpe.errors import ConfigError

NON_TEST = ("train", "validation", "")


@dataclasses.dataclass
class Fold:
    """Record indices of one fold: inner `train`, inner `validation`, `heldout`."""

    repeat: int
    fold: int
    train: np.ndarray
    validation: np.ndarray
    heldout: np.ndarray

    @property
    def name(self) -> str:
        return f"r{self.repeat + 1}-f{self.fold + 1}"

    def to_dict(self, cache) -> dict:
        ids = cache.record_ids
        return {
            "name": self.name,
            "repeat": self.repeat + 1,
            "fold": self.fold + 1,
            **{
                part: [str(ids[i]) for i in getattr(self, part)]
                for part in ("train", "validation", "heldout")
            },
        }


def strata(cache, rows):
    """Labels for stratification: `(n,)` 0/1 for one class, else `(n, C)` multi-hot
    (unannotated entries count as negative)."""
    labels = ((cache.labels[rows] > 0.5) & (cache.label_mask[rows] > 0)).astype(np.int64)
    return labels[:, 0] if labels.shape[1] == 1 else labels


def patients(cache, rows) -> list:
    """Patient ids of `rows`; a record without one is its own patient (None)."""
    return [str(p) if str(p) else None for p in cache.patient_ids[rows]]


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
    cache,
    *,
    k: int,
    repeats: int = 1,
    seed: int = 0,
    inner_validation: float = 0.2,
    max_train_records: int | None = None,
) -> list[Fold]:
    """The folds of a repeated patient-level stratified k-fold over non-test records.

    Args:
        cache: an opened `PreparedCache` with patient ids (records without one count as
            their own patient).
        k: folds per repeat (>= 2).
        repeats: independent fold assignments.
        seed: the run's `training.seed`.
        inner_validation: share of each outer training part used for selection.
        max_train_records: keep about this many records of each outer training part
            (inner training + inner validation); None keeps all.

    Returns:
        `repeats * k` `Fold`s, repeat-major.

    Raises:
        ConfigError: bad options, too few records or patients of some label for k.

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
            folds.append(Fold(r, f, train, validation, heldout))
    return folds
