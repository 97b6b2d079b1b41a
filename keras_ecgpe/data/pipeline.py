"""tf.data pipelines over a prepared cache: seeded training crops, ordered evaluation windows.

Training works on record indices, never on signals, until the last moment: each epoch
shuffles the indices and draws one crop start per record with stateless RNG ops seeded by
that epoch's seed, batches the `(record, start)` pairs, and reads the whole batch from the
memory-mapped shards in one `tf.numpy_function` call. Augmentation then runs as batched
TensorFlow ops, so no step is per-sample Python. The same seed gives the same sequence of
batches; every new pass over a non-repeating dataset (each Keras epoch) reshuffles.

Evaluation never crops at random: one centred window per record, or sliding windows whose
last window ends at the record's last sample, each tagged with its record index so the
caller can aggregate window outputs per record (mean or max).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from keras_ecgpe.data.cache import SPLITS, PreparedCache
from keras_ecgpe.data.normalization import DatasetStandardizer, _safe_scale
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from keras_ecgpe.data.augment import AugmentConfig

_AUTOTUNE = tf.data.AUTOTUNE
_LEADS = 12


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _rows(cache: PreparedCache, indices) -> np.ndarray:
    rows = np.asarray(indices).reshape(-1)
    if rows.size == 0:
        raise ConfigError(f"`indices` selects no records of {cache.path}")
    if not np.issubdtype(rows.dtype, np.integer) or rows.min() < 0 or rows.max() >= len(cache):
        raise ConfigError(
            f"`indices` must be record indices in [0, {len(cache)}) of "
            f"{cache.path}. Received: {rows[:10].tolist()}..."
        )
    return rows.astype(np.int64)


def _refuse_short(cache: PreparedCache, rows: np.ndarray, window: int) -> None:
    short = rows[cache.lengths[rows] < window]
    if short.size:
        ids = [str(cache.record_ids[i]) for i in short[:20]]
        more = f" and {short.size - 20} more" if short.size > 20 else ""
        raise ConfigError(
            f"{cache.path}: {short.size} record(s) shorter than window={window} samples: "
            f"{', '.join(ids)}{more}; pad or skip them when preparing the cache"
        )


def _standardize_fn(standardizer: DatasetStandardizer | None):
    """Returns `x -> (x - mean) / std` per lead as TF ops (identity for None)."""
    if standardizer is None:
        return lambda x: x
    if not isinstance(standardizer, DatasetStandardizer) or standardizer.mean is None:
        raise ConfigError(
            f"`standardizer` must be a fitted DatasetStandardizer. "
            f"Received: standardizer={standardizer!r}"
        )
    if standardizer.mean.shape != (_LEADS,):
        raise ConfigError(f"`standardizer` has {standardizer.mean.shape[0]} leads, the cache 12")
    mean = tf.constant(standardizer.mean, tf.float32)
    # The same flat-lead rule as DatasetStandardizer.transform, so both give equal values.
    scale = tf.constant(_safe_scale(standardizer.std), tf.float32)
    return lambda x: (x - mean) / scale


def _reader(cache: PreparedCache, window: int):
    """Returns `(rows, starts) -> float32 (batch, window, 12)` read from the shards."""

    def read(rows, starts):
        x = tf.numpy_function(
            lambda r, s: cache.gather(r, s, window), [rows, starts], tf.float32, stateful=False
        )
        x.set_shape([None, window, _LEADS])
        return x

    return read


def _epoch_order(rows, n_blocks: int, block: int, seed):
    """A stateless permutation of `rows`: global, or of blocks then within blocks."""
    n = tf.shape(rows)[0]
    noise = tf.random.stateless_uniform([n], tf.stack([seed, 0]), dtype=tf.float64)
    if n_blocks > 1:
        # Blocks of consecutive records go in a random order, records within a block too:
        # reads stay local when the cache is larger than the page cache.
        block_order = tf.argsort(tf.random.stateless_uniform([n_blocks], tf.stack([seed, 3])))
        rank = tf.cast(tf.math.invert_permutation(block_order), tf.float64)
        noise += tf.gather(rank, tf.range(n) // block)
    return tf.argsort(noise, stable=True)


def training_dataset(
    cache: PreparedCache,
    indices: np.ndarray,
    *,
    window: int,
    batch_size: int,
    seed: int,
    augment: AugmentConfig | None = None,
    fs: float | None = None,
    standardizer: DatasetStandardizer | None = None,
    shuffle_buffer: int | None = None,
    drop_remainder: bool = True,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Shuffled, randomly cropped, optionally augmented training batches.

    Per epoch: the records in `indices` are shuffled, one window start per record is drawn
    uniformly from `[0, length - window]`, batches of `(record, start)` pairs are read in
    one call each, augmented in mV (if `augment`), standardized (if `standardizer`) and
    prefetched. The epoch seeds come from `tf.data.Dataset.random(seed)`, so two datasets
    built with the same seed (and the same global TF seed) yield identical batches, and
    each new iteration of one dataset gets a new, equally reproducible, epoch.

    Elements are `(x, y)`: x float32 `(batch, window, 12)`, y float32 `(batch, C)`. When
    some record of the cache lacks annotations for some class (`cache.has_partial_masks`),
    elements are `(x, y, mask)` with mask float32 `(batch, C)` = `label_mask`: Keras passes
    it as `sample_weight`, so the loss must weight per class (elementwise, reduced after
    weighting); Keras' built-in losses average over classes first and would misuse it.

    Args:
        cache: an opened `PreparedCache`.
        indices: the cache record indices to train on (e.g. `cache.indices("train")`).
        window: samples per window; every selected record must be at least this long.
        batch_size: windows per batch.
        seed: integer seed of the shuffle, crop and augmentation streams.
        augment: an `augment.AugmentConfig`, or None for no augmentation.
        fs: sampling rate for the augmentations; default and only accepted value `cache.fs`.
        standardizer: a fitted `DatasetStandardizer` (fit it on training records only,
            see `fit_standardizer`), or None.
        shuffle_buffer: None shuffles all records; an integer shuffles blocks of this many
            consecutive records and records within blocks (for caches larger than RAM).
        drop_remainder: drop the last incomplete batch of each epoch.
        repeat: repeat epochs forever (each reshuffled); else one epoch per iteration.

    Returns:
        A `tf.data.Dataset`.

    Raises:
        ConfigError: bad arguments, or records shorter than `window` (listed by id).

    Example:

    ```python
    ds = training_dataset(cache, cache.indices("train"), window=2048, batch_size=64,
                          seed=0, augment=AugmentConfig())
    ```
    """
    rows = _rows(cache, indices)
    window, batch_size = _positive_int("window", window), _positive_int("batch_size", batch_size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"`seed` must be an integer. Received: seed={seed!r}")
    _refuse_short(cache, rows, window)
    if drop_remainder and rows.size < batch_size:
        raise ConfigError(
            f"only {rows.size} records for batch_size={batch_size} with "
            "drop_remainder=True: every batch would be dropped"
        )
    if fs is not None and fs != cache.fs:
        raise ConfigError(
            f"`fs` must equal the cache's sampling rate {cache.fs:g} Hz. Received: fs={fs!r}"
        )
    augment_fn = _augmenter(augment, cache.fs)
    standardize = _standardize_fn(standardizer)
    block = rows.size if shuffle_buffer is None else _positive_int("shuffle_buffer", shuffle_buffer)
    n_blocks = -(-rows.size // block)
    rows_t = tf.constant(rows)
    max_start = tf.constant(cache.lengths[rows] - window, tf.int64)
    labels, masks = tf.constant(cache.labels), tf.constant(cache.label_mask)
    with_mask = cache.has_partial_masks
    read = _reader(cache, window)

    def epoch(epoch_seed):
        order = _epoch_order(rows_t, n_blocks, block, epoch_seed)
        limit = tf.gather(max_start, order)
        u = tf.random.stateless_uniform(
            tf.shape(order), tf.stack([epoch_seed, 1]), dtype=tf.float64
        )
        starts = tf.minimum(tf.cast(u * tf.cast(limit + 1, tf.float64), tf.int64), limit)
        pairs = tf.data.Dataset.from_tensor_slices((tf.gather(rows_t, order), starts))
        return (
            pairs.batch(batch_size, drop_remainder=drop_remainder)
            .enumerate()
            .map(lambda number, pair: (pair[0], pair[1], tf.stack([epoch_seed, 2 + number])))
        )

    def load(batch_rows, starts, batch_seed):
        x = standardize(augment_fn(read(batch_rows, starts), batch_seed))
        y = tf.gather(labels, batch_rows)
        return (x, y, tf.gather(masks, batch_rows)) if with_mask else (x, y)

    seeds = tf.data.Dataset.random(seed=int(seed), rerandomize_each_iteration=True)
    seeds = seeds if repeat else seeds.take(1)
    return (
        seeds.flat_map(epoch)
        .map(load, num_parallel_calls=_AUTOTUNE, deterministic=True)
        .prefetch(_AUTOTUNE)
    )


def _augmenter(augment, fs: float):
    if augment is None:
        return lambda x, batch_seed: x
    from keras_ecgpe.data.augment import AugmentConfig, augment_batch  # TF-heavy; lazy

    if not isinstance(augment, AugmentConfig):
        raise ConfigError(f"`augment` must be an AugmentConfig or None. Received: {augment!r}")
    return lambda x, batch_seed: augment_batch(x, batch_seed, augment, fs)


def evaluation_windows(
    cache: PreparedCache,
    indices: np.ndarray,
    *,
    window: int,
    mode: str = "centre",
    stride: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The deterministic `(record_index, start)` plan behind `evaluation_dataset`.

    Returns:
        `(records, starts)`: int64 arrays, records in `indices` order, starts ascending
        within a record; in "sliding" mode the last start of a record is `length - window`.
    """
    rows = _rows(cache, indices)
    window = _positive_int("window", window)
    _refuse_short(cache, rows, window)
    last = cache.lengths[rows] - window
    if mode == "centre":
        return rows, last // 2
    if mode != "sliding":
        raise ConfigError(f"`mode` must be 'centre' or 'sliding'. Received: mode={mode!r}")
    stride = _positive_int("stride", stride)
    counts = last // stride + 1 + (last % stride != 0)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    step = np.arange(counts.sum(), dtype=np.int64) - first
    return np.repeat(rows, counts), np.minimum(step * stride, np.repeat(last, counts))


def evaluation_dataset(
    cache: PreparedCache,
    indices: np.ndarray,
    *,
    window: int,
    mode: str = "centre",
    stride: int | None = None,
    batch_size: int,
    standardizer: DatasetStandardizer | None = None,
) -> tf.data.Dataset:
    """Unaugmented windows in a fixed order, for validation, testing and prediction.

    `mode="centre"` gives each record's middle window (start `(length - window) // 2`, as
    `preprocessing.centre_window`); `mode="sliding"` cuts every record into windows every
    `stride` samples plus, if that leaves a tail, one more window ending at its last sample
    (as `preprocessing.sliding_windows`), so every sample is covered.

    Elements are `(x, y, record_index)`: x float32 `(batch, window, 12)`, y float32
    `(batch, C)` and record_index int64 `(batch,)`, the cache index of each window's record,
    for aggregating window outputs per record (`cache.label_mask[record_index]` gives the
    masks). The last batch may be smaller. Keras would read a third element as
    `sample_weight`: give `model.evaluate` `ds.map(lambda x, y, i: (x, y))`, never `ds`.

    Args:
        cache: an opened `PreparedCache`.
        indices: cache record indices, evaluated in this order.
        window: samples per window.
        mode: "centre" or "sliding".
        stride: samples between sliding window starts (required for "sliding").
        batch_size: windows per batch.
        standardizer: the fitted training `DatasetStandardizer`, or None.

    Returns:
        A `tf.data.Dataset`.

    Raises:
        ConfigError: bad arguments, or records shorter than `window` (listed by id).

    Example:

    ```python
    ds = evaluation_dataset(cache, cache.indices("test"), window=250, mode="sliding",
                            stride=125, batch_size=256)
    ```
    """
    batch_size = _positive_int("batch_size", batch_size)
    records, starts = evaluation_windows(cache, indices, window=window, mode=mode, stride=stride)
    standardize = _standardize_fn(standardizer)
    labels = tf.constant(cache.labels)
    read = _reader(cache, int(window))

    def load(batch_rows, batch_starts):
        return (
            standardize(read(batch_rows, batch_starts)),
            tf.gather(labels, batch_rows),
            batch_rows,
        )

    return (
        tf.data.Dataset.from_tensor_slices((records, starts))
        .batch(batch_size)
        .map(load, num_parallel_calls=_AUTOTUNE, deterministic=True)
        .prefetch(_AUTOTUNE)
    )


def fit_standardizer(cache: PreparedCache, train_indices: np.ndarray) -> DatasetStandardizer:
    """Fits per-lead mean/std on the given training records, streaming them from disk.

    Raises:
        ConfigError: an index belongs to the validation or test split (that would leak
            evaluation data into the normalisation constants).
    """
    rows = _rows(cache, train_indices)
    leaking = rows[np.isin(cache.splits[rows], [s for s in SPLITS if s not in ("train", "")])]
    if leaking.size:
        ids = ", ".join(str(cache.record_ids[i]) for i in leaking[:10])
        raise ConfigError(
            f"`train_indices` include {leaking.size} validation/test record(s) "
            f"of {cache.path}: {ids}; fit the standardizer on training data only"
        )
    return DatasetStandardizer().fit(cache.signal(int(i)) for i in rows)
