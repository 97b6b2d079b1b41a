"""What the tools wrote is checked where it is used (issue 10, classes 4 and 5), fast tier.

A prepared cache's manifest carries the SHA-256 of its own fields and refuses unknown keys;
folder locks (data/locks.py) let one writer at a time in and take over a dead one's lock.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from keras_ecgpe.data.cache import CacheWriter, PreparedCache
from keras_ecgpe.data.cache_format import MANIFEST, manifest_digest, seal_manifest
from keras_ecgpe.data.locks import LockedError, acquire, lock_path, writing
from keras_ecgpe.errors import ECGPEError


def _cache(path):
    writer = CacheWriter(
        path, key="k", source={"name": "SYNTHETIC"}, settings={}, fs=100.0, label_names=["PE"]
    )
    writer.add(np.zeros((50, 12), np.float32), record_id="r1", labels=[1.0])
    return writer.close()


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(fs=50.0),
        lambda m: m.update(label_names=["NOT_PE"]),
        lambda m: m["settings"].update(preprocess={"normalize": "none"}),
        lambda m: m["shards"][0].update(n_samples=49),
        lambda m: m.update(key="0123456789abcdef"),
        lambda m: m["source"].update(name="ptbxl"),
    ],
)
def test_an_edited_manifest_field_is_refused_on_open(tmp_path, edit):
    cache = _cache(tmp_path / "c")
    manifest = json.loads((cache.path / MANIFEST).read_text())
    edit(manifest)
    (cache.path / MANIFEST).write_text(json.dumps(manifest))
    for verify in (True, False):
        with pytest.raises(ECGPEError, match="manifest.json: its fields do not match their SHA"):
            PreparedCache.open(cache.path, verify=verify)


def test_unknown_or_missing_manifest_keys_are_refused(tmp_path):
    cache = _cache(tmp_path / "c")
    manifest = json.loads((cache.path / MANIFEST).read_text())
    assert manifest["manifest_sha256"] == manifest_digest(manifest)
    (cache.path / MANIFEST).write_text(json.dumps(seal_manifest({**manifest, "normalise": 1})))
    with pytest.raises(ECGPEError, match=r"Additional properties .*'normalise'"):
        PreparedCache.open(cache.path)
    del manifest["manifest_sha256"]
    (cache.path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ECGPEError, match="'manifest_sha256' is a required property"):
        PreparedCache.open(cache.path)


def test_a_second_writer_of_a_cache_is_refused_naming_the_holder(tmp_path):
    first = CacheWriter(
        tmp_path / "c", key="k", source={}, settings={}, fs=100.0, label_names=["PE"]
    )
    with pytest.raises(LockedError) as caught:
        CacheWriter(tmp_path / "c", key="k", source={}, settings={}, fs=100.0, label_names=["PE"])
    message = str(caught.value)
    assert f"pid {os.getpid()} on " in message and "started 20" in message
    assert message.startswith(f"{tmp_path / 'c'}: another process is writing this prepared")
    assert "\n" not in message
    first.abort()  # frees the folder: the next writer gets it
    CacheWriter(
        tmp_path / "c", key="k", source={}, settings={}, fs=100.0, label_names=["PE"]
    ).abort()
    assert not lock_path(tmp_path / "c").exists()


def test_a_lock_left_by_a_dead_writer_is_taken_over_and_reported(tmp_path, caplog):
    target = tmp_path / "run"
    # What a SIGKILLed holder leaves: the file with its details, no flock (the kernel freed it).
    lock_path(target).write_text(
        json.dumps({"pid": 999_999_999, "host": "elsewhere", "started": "2026-01-01T00:00:00"})
    )
    (tmp_path / ".run.staging-12-abcd0123").mkdir()  # a dead export's staging folder
    target.mkdir()
    (target / ".config.yaml.tmp-12-abcd0123").write_text("half")
    with caplog.at_level(logging.WARNING, logger="keras_ecgpe.data.locks"):
        with writing(target, "run directory") as lock:
            assert lock.previous["pid"] == 999_999_999
            holder = json.loads(lock_path(target).read_text())
            assert holder["pid"] == os.getpid()
    said = " | ".join(r.getMessage() for r in caplog.records)
    assert "took over the lock" in said and "pid 999999999 on elsewhere" in said
    assert ".run.staging-12-abcd0123" in said and ".config.yaml.tmp-12-abcd0123" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert list(target.iterdir()) == []


def test_an_old_copy_whose_replacement_never_arrived_is_restored(tmp_path):
    old = tmp_path / ".cache.old-7-0badcafe"
    old.mkdir()
    (old / "manifest.json").write_text("{}")
    with writing(tmp_path / "cache", "prepared cache"):
        assert (tmp_path / "cache" / "manifest.json").is_file() and not old.exists()


def test_a_lock_below_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ECGPEError, match="cannot create the lock of this run directory") as err:
        acquire(tmp_path / "file" / "run", "run directory")
    assert f"({tmp_path / 'file'} is a file, not a folder)" in str(err.value)
    with pytest.raises(ECGPEError, match=r"file is a file, not a folder\)$"):
        acquire(tmp_path / "file" / "deeper" / "run", "run directory")
