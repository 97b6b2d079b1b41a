"""The data side of a run: which cache, which records, which windows, record-level logits.

Training reads the cache's `train` split and selects on its `validation` split; the
`test` split is never opened here (it is used once, by `evaluate_run`). Evaluation-style
predictions (validation each epoch, final validation, test) all go through
`predict_records`: unaugmented windows in a fixed order (sliding or centre), logits
aggregated per record by max or mean, exactly as the model's contract states.
"""

from __future__ import annotations

import dataclasses
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.cache import PreparedCache
from keras_ecgpe.data.normalization import DatasetStandardizer
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    import keras

    from keras_ecgpe.training.config_sections import DataSection

PREDICT_BATCH = 256  # windows per predict batch: no gradients, so larger than training
_LOCAL_STEPS = weakref.WeakKeyDictionary()  # model -> its traced inference step


@dataclasses.dataclass
class WindowPlan:
    """How records are cut for evaluation and how window logits become record logits."""

    window: int
    mode: str
    stride: int | None
    aggregate: str
    standardizer: DatasetStandardizer | None = None

    @classmethod
    def from_contract(cls, contract: dict) -> WindowPlan:
        std = contract.get("standardizer")
        return cls(
            int(contract["window"]),
            contract["eval_mode"],
            int(contract["eval_stride"]),
            contract["aggregate"],
            None if std is None else DatasetStandardizer.from_dict(std),
        )


def resolve_cache(
    data: DataSection, out_dir: os.PathLike | str, *, progress: Callable[[int], None] | None = None
) -> PreparedCache:
    """Opens `data.cache`, or prepares `data.source` + `data.root` into `<out_dir>/cache`.

    Raises:
        ConfigError: no data configured, or an unusable cache/source.
    """
    if data.cache is not None:
        if not Path(data.cache).is_dir():
            raise ConfigError(
                f"`data.cache` must be a prepared cache directory. "
                f"Received: data.cache={data.cache!r}"
            )
        return PreparedCache.open(data.cache)
    if data.source is None:
        raise ConfigError(
            "no training data: set `data.cache` (a prepared cache) or `data.source` and `data.root`"
        )
    from keras_ecgpe.data.prepare import SplitSettings, prepare_dataset
    from keras_ecgpe.data.preprocessing import PreprocessConfig
    from keras_ecgpe.data.quality import QualitySettings
    from keras_ecgpe.data.sources.registry import make_source
    from keras_ecgpe.data_quality_report import write_quality_report

    source = make_source(data.source, data.root, **data.source_options)
    cache, reused = prepare_dataset(
        source,
        Path(out_dir) / "cache",
        PreprocessConfig.from_dict(data.preprocess),
        split=SplitSettings.from_dict(data.split),
        quality=QualitySettings.from_dict(data.quality),
        progress=progress,
    )
    if not reused:  # a reused cache has its summary files already
        write_quality_report(cache.path)
    return cache


def split_indices(
    cache: PreparedCache, rows: np.ndarray | None = None, *, exclude_flagged: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """`(train, validation)` record indices: the cache's split column, or `rows`.

    Args:
        cache: the prepared cache.
        rows: None, or `(train, validation)` index arrays chosen by the caller (a
            cross-validation fold); they may not overlap nor include a `test` record.
        exclude_flagged: leave out records with signal-quality flags (`data.exclude_flagged`).

    Raises:
        ConfigError: an empty training or validation part, overlapping parts, test
            records, or a validation part in which no class has both positive and
            negative labelled records (nothing could be selected on it).
    """
    if rows is None:
        train, val = cache.indices("train"), cache.indices("validation")
    else:
        train, val = (np.unique(np.asarray(r, dtype=np.int64)) for r in rows)
        if np.intersect1d(train, val).size:
            raise ConfigError(f"{cache.path}: the given training and validation records overlap")
        test = np.isin(cache.splits[np.concatenate([train, val])], ["test"])
        if test.any():
            raise ConfigError(
                f"{cache.path}: the given training/validation records include "
                f"{int(test.sum())} test record(s); the test split is never "
                "used for training or selection"
            )
    if exclude_flagged:
        cache.require_quality_flags()
        clean = cache.quality_flags == ""
        train, val = train[clean[train]], val[clean[val]]
    for name, rows in (("train", train), ("validation", val)):
        if rows.size == 0:
            raise ConfigError(
                f"{cache.path}: the cache has no `{name}` records; prepare it "
                "with a train/validation/test split (the test split is never "
                "used for training or selection)"
            )
    labels, mask = cache.labels[val] > 0.5, cache.label_mask[val] > 0
    scorable = (labels & mask).any(axis=0) & (~labels & mask).any(axis=0)
    if not scorable.any():
        raise ConfigError(
            f"{cache.path}: no class has both positive and negative records in "
            "the validation split; checkpoints could not be selected on it"
        )
    return train, val


def fit_standardizer_rows(cache: PreparedCache, rows: np.ndarray) -> DatasetStandardizer:
    """Per-lead mean/std of the given training records (any split but `test`).

    `pipeline.fit_standardizer` admits only the cache's `train` split; a cross-validation
    fold also trains on records of the cache's `validation` split, so it comes here.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if np.isin(cache.splits[rows], ["test"]).any():
        raise ConfigError(f"{cache.path}: the standardiser may not see test records")
    return DatasetStandardizer().fit(cache.signal(int(i)) for i in rows)


def standardizer_from_run(path: os.PathLike | str, cache: PreparedCache) -> DatasetStandardizer:
    """The dataset standardiser recorded in the contract of the run at `path`
    (`data.standardizer_from`), after checking that contract against the cache.

    Raises:
        ConfigError: no contract, a contract that does not fit the cache (fs, leads,
            preprocessing), or one without a standardiser.
    """
    from keras_ecgpe import run_directory
    from keras_ecgpe.training.contract import check_compatible

    contract = run_directory.load_contract(path)
    check_compatible(contract, cache, check_labels=False)
    if contract.get("standardizer") is None:
        raise ConfigError(
            f"{path}: its contract holds no dataset standardiser; "
            f"Received: data.standardizer_from={str(path)!r}"
        )
    return DatasetStandardizer.from_dict(contract["standardizer"])


def positive_weights(cache: PreparedCache, rows: np.ndarray) -> list:
    """`n_neg / n_pos` of each class over labelled training records (1 where n_pos = 0)."""
    labels, mask = cache.labels[rows] > 0.5, cache.label_mask[rows] > 0
    n_pos = (labels & mask).sum(axis=0)
    n_neg = (~labels & mask).sum(axis=0)
    return [float(neg / pos) if pos else 1.0 for pos, neg in zip(n_pos, n_neg)]


def predict_windows(
    model: keras.Model, cache: PreparedCache, rows: np.ndarray, plan: WindowPlan
) -> tuple[np.ndarray, np.ndarray]:
    """Logits of every evaluation window: `(window_logits (m, C), window_records (m,))`."""
    from keras_ecgpe.data.pipeline import evaluation_dataset, evaluation_windows

    records, _ = evaluation_windows(
        cache, rows, window=plan.window, mode=plan.mode, stride=plan.stride
    )
    dataset = evaluation_dataset(
        cache,
        rows,
        window=plan.window,
        mode=plan.mode,
        stride=plan.stride,
        batch_size=PREDICT_BATCH,
        standardizer=plan.standardizer,
    )
    if _distributed():
        return _predict_locally(model, dataset), records
    logits = model.predict(dataset.map(lambda x, y, index: x), verbose=0)
    return np.asarray(logits, dtype=np.float64), records


def _distributed() -> bool:
    import tensorflow as tf

    return tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context()


def _predict_locally(model, dataset) -> np.ndarray:
    """Logits of every window, in order, on this process alone.

    Under a strategy `model.predict` splits the windows over the replicas and, with
    several workers, each worker sees only its shard (in an order that breaks the
    record aggregation): every worker scores the whole set itself instead.
    """
    import tensorflow as tf

    step = _LOCAL_STEPS.get(model)
    if step is None:  # traced once per model, not once per epoch
        owner = weakref.ref(model)  # a strong reference would keep the key alive forever
        step = tf.function(lambda x: owner()(x, training=False), reduce_retracing=True)
        _LOCAL_STEPS[model] = step
    out = [np.asarray(step(x), dtype=np.float64) for x, _, _ in dataset]
    return np.concatenate(out, axis=0)


def aggregate(
    window_logits: np.ndarray, window_records: np.ndarray, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """Record-level logits `(record indices (n,), logits (n, C))`, in first-seen order."""
    from keras_ecgpe.evaluation import aggregate_windows

    ids, logits = aggregate_windows(window_logits, window_records, how)
    return ids.astype(np.int64), logits


def predict_records(
    model: keras.Model, cache: PreparedCache, rows: np.ndarray, plan: WindowPlan
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Record-level `(labels (n, C), logits (n, C), mask (n, C), record indices (n,))`."""
    window_logits, window_records = predict_windows(model, cache, rows, plan)
    ids, logits = aggregate(window_logits, window_records, plan.aggregate)
    return cache.labels[ids], logits, cache.label_mask[ids], ids
