"""Tests of the prepared cache (writer, reader, checksums) and the atomic write helpers."""

import json
import os

import numpy as np
import pytest

from fixtures import index_signal
from keras_ecgpe.data.atomic import atomic_save_npy, atomic_write_json
from keras_ecgpe.data.cache import CacheWriter, PreparedCache, cache_key
from keras_ecgpe.errors import ConfigError, ECGPEError, RecordError

LABELS = ["NORM", "MI", "PE"]


def writer(tmp_path, name="cache", **kwargs):
    options = dict(
        key="k1",
        source={"name": "synthetic"},
        settings={"window": 10},
        fs=100.0,
        label_names=LABELS,
    )
    options.update(kwargs)
    return CacheWriter(tmp_path / name, **options)


def test_round_trip_variable_lengths(tmp_path):
    lengths = [50, 300, 120, 77]
    w = writer(tmp_path)
    for r, length in enumerate(lengths):
        w.add(
            index_signal(r, length),
            record_id=f"rec{r}",
            patient_id=None if r == 3 else f"p{r // 2}",
            labels=np.eye(3)[r % 3],
            label_mask=[1, 1, 0] if r == 1 else None,
            split=["train", "test", "train", None][r],
            fold=None if r == 0 else r,
        )
    w.skip("bad", "/data/bad.hea", "unreadable header")
    cache = w.close()
    assert not (tmp_path / f"cache.partial-{os.getpid()}").exists()

    cache = PreparedCache.open(tmp_path / "cache", verify=True)
    assert cache.n_records == 4 and cache.key == "k1" and cache.fs == 100.0
    assert cache.label_names == tuple(LABELS)
    assert cache.record_ids.tolist() == ["rec0", "rec1", "rec2", "rec3"]
    assert cache.patient_ids.tolist() == ["p0", "p0", "p1", ""]
    assert cache.splits.tolist() == ["train", "test", "train", ""]
    assert cache.folds.tolist() == [-1, 1, 2, 3]
    assert cache.lengths.tolist() == lengths
    np.testing.assert_array_equal(cache.labels, np.eye(3, dtype=np.float32)[[0, 1, 2, 0]])
    np.testing.assert_array_equal(cache.label_mask[1], [1, 1, 0])
    assert cache.label_mask[[0, 2, 3]].min() == 1 and cache.has_partial_masks
    for r, length in enumerate(lengths):
        signal = cache.signal(r)
        assert signal.dtype == np.float32
        np.testing.assert_array_equal(signal, index_signal(r, length))
    assert cache.indices("train").tolist() == [0, 2]
    assert cache.indices(["train", "test"], folds=[1, 2]).tolist() == [1, 2]
    assert cache.indices(folds=3).tolist() == [3]
    with pytest.raises(ConfigError, match="split"):
        cache.indices("valid")

    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert manifest["n_leads"] == 12 and manifest["lead_order"][3] == "aVR"
    assert manifest["settings"] == {"window": 10} and manifest["dtype"] == "float32"
    report = json.loads((tmp_path / "cache" / "report.json").read_text())
    assert report["records_read"] == 4
    assert report["records_skipped"] == [
        {"record_id": "bad", "path": "/data/bad.hea", "reason": "unreadable header"}
    ]
    with np.load(tmp_path / "cache" / "index.npz", allow_pickle=False) as index:
        assert index["record_ids"].dtype.kind == "U"


def test_float16_storage(tmp_path):
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 1.5, (200, 12)).astype(np.float32)  # synthetic noise in "mV"
    w = writer(tmp_path, dtype="float16")
    w.add(signal, record_id="a", labels=[0, 1, 0])
    cache = w.close()
    assert np.load(tmp_path / "cache" / "signals-00000.npy", mmap_mode="r").dtype == np.float16
    assert cache.signal(0).dtype == np.float32
    np.testing.assert_allclose(cache.signal(0), signal, rtol=1e-3, atol=1e-3)
    w16 = writer(tmp_path, "overflow", dtype="float16")
    with pytest.raises(RecordError, match="float16"):
        w16.add(np.full((10, 12), 1e5), record_id="big", labels=[0, 0, 0])


def test_corrupted_shard_is_named(tmp_path):
    w = writer(tmp_path, shard_bytes=2000)
    for r in range(3):
        w.add(index_signal(r, 40), record_id=f"r{r}", labels=[0, 0, 1])
    w.close()
    shard = tmp_path / "cache" / "signals-00001.npy"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0x01  # one flipped bit in the samples: same size, same header
    shard.write_bytes(bytes(data))
    with pytest.raises(ECGPEError, match="signals-00001.npy"):
        PreparedCache.open(tmp_path / "cache")
    PreparedCache.open(tmp_path / "cache", verify=False)  # the structure is still fine
    shard.write_bytes(bytes(data[:-48]))  # truncated: caught even without checksums
    with pytest.raises(ECGPEError, match="signals-00001.npy"):
        PreparedCache.open(tmp_path / "cache", verify=False)


def test_unfinished_write_is_refused(tmp_path):
    w = writer(tmp_path, shard_bytes=1000)
    for r in range(3):
        w.add(index_signal(r, 30), record_id=f"r{r}", labels=[0, 0, 1])
    # Simulated crash: never closed. Shards exist, but no manifest and no cache directory.
    partial = tmp_path / f"cache.partial-{os.getpid()}"
    assert (partial / "signals-00000.npy").exists()
    assert not (partial / "manifest.json").exists() and not (tmp_path / "cache").exists()
    for path in (tmp_path / "cache", partial):
        with pytest.raises(ECGPEError, match="manifest.json"):
            PreparedCache.open(path)
    assert PreparedCache.find(tmp_path / "cache", "k1") is None
    del w  # an abandoned writer frees the folder's lock once it is collected
    retry = writer(tmp_path)  # a new writer of the same process starts clean
    retry.add(index_signal(9, 30), record_id="r9", labels=[1, 0, 0])
    assert retry.close().record_ids.tolist() == ["r9"]


def test_bad_records_refused_writer_stays_usable(tmp_path):
    w = writer(tmp_path)
    w.add(index_signal(0, 20), record_id="a", labels=[1, 0, 0])
    with pytest.raises(RecordError, match="duplicate record_id 'a'"):
        w.add(index_signal(1, 20), record_id="a", labels=[1, 0, 0])
    nan = index_signal(2, 20)
    nan[5, 7] = np.nan
    with pytest.raises(RecordError, match="/data/b.mat.*NaN"):
        w.add(nan, record_id="b", labels=[1, 0, 0], path="/data/b.mat")
    with pytest.raises(RecordError, match="NaN or inf"):
        w.add(np.full((20, 12), np.inf), record_id="c", labels=[1, 0, 0])
    with pytest.raises(RecordError, match=r"\(20, 11\)"):
        w.add(np.zeros((20, 11)), record_id="d", labels=[1, 0, 0])
    with pytest.raises(RecordError, match="labels"):
        w.add(index_signal(3, 20), record_id="e", labels=[1, 0])
    with pytest.raises(RecordError, match="split"):
        w.add(index_signal(3, 20), record_id="f", labels=[1, 0, 0], split="val")
    assert w.close().record_ids.tolist() == ["a"]


def test_empty_cache_refused_with_reasons(tmp_path):
    w = writer(tmp_path)
    w.skip("x", "/d/x.hea", "too short")
    w.skip("y", "/d/y.hea", "too short")
    with pytest.raises(ECGPEError, match="2 x too short"):
        w.close()
    assert not (tmp_path / "cache").exists()
    assert not (tmp_path / f"cache.partial-{os.getpid()}").exists()


def test_cache_key():
    key = cache_key({"name": "ptbxl", "root": "/d"}, {"fs": 100, "filter": "bandpass"})
    assert len(key) == 16 and int(key, 16) >= 0
    assert key == cache_key({"root": "/d", "name": "ptbxl"}, {"filter": "bandpass", "fs": 100})
    assert key != cache_key({"name": "ptbxl", "root": "/d"}, {"fs": 500, "filter": "bandpass"})
    assert key != cache_key({"name": "cpsc", "root": "/d"}, {"fs": 100, "filter": "bandpass"})
    with pytest.raises(ConfigError, match="JSON"):
        cache_key({"name": object()}, {})


def test_shards_roll_over(tmp_path):
    w = writer(tmp_path, shard_bytes=100 * 12 * 4)  # room for 100 samples per shard
    lengths = [40, 50, 30, 120, 10]  # -> shards [40+50], [30], [120], [10]
    for r, length in enumerate(lengths):
        w.add(index_signal(r, length), record_id=f"r{r}", labels=[0, 1, 0])
    cache = w.close()
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert [s["n_samples"] for s in manifest["shards"]] == [90, 30, 120, 10]
    assert cache.shard.tolist() == [0, 0, 1, 2, 3] and cache.offset.tolist() == [0, 40, 0, 0, 0]
    for r, length in enumerate(lengths):
        np.testing.assert_array_equal(cache.signal(r), index_signal(r, length))
    batch = cache.gather([3, 1, 0, 4], [100, 45, 0, 2], 5)
    assert batch[:, 0, 0].tolist() == [3, 1, 0, 4]
    assert batch[:, :, 1].tolist()[1] == [45, 46, 47, 48, 49]
    with pytest.raises(ConfigError, match="outside"):
        cache.gather([2], [26], 5)


def test_existing_cache_reused_or_refused(tmp_path):
    w = writer(tmp_path)
    w.add(index_signal(0, 20), record_id="a", labels=[1, 0, 0])
    w.close()
    assert PreparedCache.find(tmp_path / "cache", "k1").record_ids.tolist() == ["a"]
    with pytest.raises(ConfigError, match="other settings"):
        PreparedCache.find(tmp_path / "cache", "k2")
    with pytest.raises(ConfigError, match=str(tmp_path / "cache")):
        writer(tmp_path, key="k2")
    replacing = writer(tmp_path, key="k2", overwrite=True)
    replacing.add(index_signal(1, 20), record_id="b", labels=[0, 1, 0])
    assert replacing.close().key == "k2"
    assert PreparedCache.open(tmp_path / "cache").record_ids.tolist() == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_atomic_writes(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_json(target, {"b": 1, "a": [1, 2]})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"a": [1, 2], "b": 1}  # old content kept
    atomic_save_npy(tmp_path / "x.npy", np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.arange(6).reshape(2, 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "x.npy"]  # no temp files
