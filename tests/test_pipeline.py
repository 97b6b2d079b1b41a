"""Tests of the tf.data training and evaluation pipelines over a prepared cache."""

import numpy as np
import pytest

from fixtures import index_cache
from keras_ecgpe.data.augment import AugmentConfig
from keras_ecgpe.data.normalization import DatasetStandardizer
from keras_ecgpe.data.pipeline import (
    evaluation_dataset,
    evaluation_windows,
    fit_standardizer,
    training_dataset,
)
from keras_ecgpe.data.preprocessing import sliding_windows
from keras_ecgpe.errors import ConfigError

WINDOW = 16


def batches(dataset):
    return [tuple(t.numpy() for t in element) for element in dataset]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    lengths = [16, 40, 25, 60, 17, 33, 90, 20, 48, 31, 16, 70]  # several shards (2000 B)
    return index_cache(tmp_path_factory.mktemp("pipe") / "cache", lengths)


def test_training_shapes_and_crops_inside_records(cache):
    ds = training_dataset(cache, np.arange(12), window=WINDOW, batch_size=5, seed=3)
    out = batches(ds)
    assert len(out) == 2  # 12 records, drop_remainder
    seen = []
    for x, y in out:
        assert x.shape == (5, WINDOW, 12) and x.dtype == np.float32
        assert y.shape == (5, 2) and y.dtype == np.float32
        records = x[:, 0, 0].astype(int)
        assert (x[:, :, 0] == records[:, None]).all()  # one record per window
        np.testing.assert_array_equal(y[:, 0], records)  # labels of that record
        start = x[:, 0, 1]
        assert (x[:, :, 1] == start[:, None] + np.arange(WINDOW)).all()  # contiguous samples
        assert (start >= 0).all() and (start + WINDOW <= cache.lengths[records]).all()
        seen += records.tolist()
    assert len(set(seen)) == 10  # each record at most once per epoch


def test_seeded_determinism_and_reshuffle(cache):
    def make(seed):
        return training_dataset(
            cache, np.arange(12), window=WINDOW, batch_size=4, seed=seed, augment=AugmentConfig()
        )

    a, b = make(7), make(7)
    first_a, first_b = batches(a), batches(b)
    for (xa, ya), (xb, yb) in zip(first_a, first_b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    other = batches(make(8))
    assert any(not np.array_equal(p[0], q[0]) for p, q in zip(first_a, other))
    second_a, second_b = batches(a), batches(b)  # the next epoch: new order, still seeded
    assert any(not np.array_equal(p[1], q[1]) for p, q in zip(first_a, second_a))
    for (xa, _), (xb, _) in zip(second_a, second_b):
        np.testing.assert_array_equal(xa, xb)


def test_augmentation_is_applied(cache):
    ds = training_dataset(
        cache,
        np.arange(12),
        window=WINDOW,
        batch_size=4,
        seed=0,
        augment=AugmentConfig.only("flip"),
    )
    x, y = batches(ds)[0]
    assert (x[:, :, 0] == -y[:, :1]).all() and (x[:, :, 2:] == -np.arange(2, 12)).all()


def test_repeat_and_shuffle_buffer(cache):
    ds = training_dataset(
        cache, np.arange(12), window=WINDOW, batch_size=4, seed=1, shuffle_buffer=4, repeat=True
    )
    epochs = [[], []]
    for number, (x, _) in enumerate(ds.take(6)):
        records = sorted(x[:, 0, 0].numpy().astype(int).tolist())
        # A batch of 4 with blocks of 4 consecutive records: exactly one block.
        assert records[0] % 4 == 0 and records == list(range(records[0], records[0] + 4))
        epochs[number // 3] += records
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(12))


def test_short_records_refused_by_id(cache):
    with pytest.raises(ConfigError, match="2 record.*rec0, rec2;"):
        training_dataset(cache, [0, 1, 2, 3], window=30, batch_size=2, seed=0)
    with pytest.raises(ConfigError, match="rec0"):
        evaluation_dataset(cache, [0, 3], window=17, batch_size=2)
    with pytest.raises(ConfigError, match="batch_size"):
        training_dataset(cache, [0, 1], window=WINDOW, batch_size=4, seed=0)


def test_evaluation_sliding_covers_records(cache):
    rows = [6, 0, 9, 4]
    ds = evaluation_dataset(cache, rows, window=WINDOW, mode="sliding", stride=7, batch_size=5)
    x = np.concatenate([b[0] for b in batches(ds)])
    y = np.concatenate([b[1] for b in batches(ds)])
    index = np.concatenate([b[2] for b in batches(ds)])
    assert index.dtype == np.int64
    np.testing.assert_array_equal(x[:, 0, 0], index)  # windows belong to their record
    np.testing.assert_array_equal(y[:, 0], index)
    assert list(dict.fromkeys(index.tolist())) == rows  # records in the given order
    for r in rows:
        starts = x[index == r, 0, 1].astype(int)
        np.testing.assert_array_equal(starts, sliding_windows(cache.signal(r), WINDOW, 7)[1])
        assert starts[-1] == cache.lengths[r] - WINDOW  # last window ends at the record end
    centre = batches(evaluation_dataset(cache, rows, window=WINDOW, batch_size=8))[0]
    np.testing.assert_array_equal(centre[0][:, 0, 1], (cache.lengths[rows] - WINDOW) // 2)
    assert evaluation_windows(cache, [3], window=20, mode="sliding", stride=20)[1].tolist() == [
        0,
        20,
        40,
    ]
    with pytest.raises(ConfigError, match="stride"):
        evaluation_windows(cache, rows, window=WINDOW, mode="sliding")


def test_standardizer_fitted_on_train_only(tmp_path):
    splits = ["train", "train", "train", "test", "validation"]
    offsets = [1.0, 3.0, 2.0, 500.0, -800.0]  # evaluation records would shift the mean a lot
    cache = index_cache(tmp_path / "cache", [20, 30, 25, 20, 20], splits=splits, offsets=offsets)
    train = cache.indices("train")
    standardizer = fit_standardizer(cache, train)
    expected = np.concatenate([cache.signal(i) for i in train]).astype(np.float64)
    np.testing.assert_allclose(standardizer.mean, expected.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(standardizer.std, expected.std(axis=0), rtol=1e-9)
    assert standardizer.mean[5] == pytest.approx(5 + (20 * 1 + 30 * 3 + 25 * 2) / 75)
    with pytest.raises(ConfigError, match="rec3"):
        fit_standardizer(cache, [0, 3])
    ds = evaluation_dataset(cache, [3, 0], window=WINDOW, batch_size=2, standardizer=standardizer)
    x, _, index = batches(ds)[0]
    for k, r in enumerate(index):
        start = (cache.lengths[r] - WINDOW) // 2
        window = cache.signal(int(r))[start : start + WINDOW]
        np.testing.assert_allclose(x[k], standardizer.transform(window), rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="standardizer"):
        evaluation_dataset(
            cache, [0], window=WINDOW, batch_size=1, standardizer=DatasetStandardizer()
        )


def test_partial_masks_passed_through(tmp_path):
    masks = [[1, 1], [1, 0], [1, 1], [0, 1]]
    cache = index_cache(tmp_path / "cache", [20, 20, 20, 20], masks=masks)
    elements = batches(training_dataset(cache, np.arange(4), window=WINDOW, batch_size=2, seed=0))
    for x, _, mask in elements:
        np.testing.assert_array_equal(mask, np.asarray(masks, np.float32)[x[:, 0, 0].astype(int)])
