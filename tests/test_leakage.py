"""Leakage checks: shared patients and recordings (SYNTHETIC caches, then real records)."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest

from fixtures import toy_cache
from keras_ecgpe.data.cache import CacheWriter, PreparedCache
from keras_ecgpe.data.cache_format import (
    CONTENT_HASH_FIELD,
    INDEX,
    INDEX_FIELDS,
    MANIFEST,
    seal_manifest,
)
from keras_ecgpe.data.content_hash import content_sha256, raw_hashes, record_hashes
from keras_ecgpe.data.leakage import find_leaks
from keras_ecgpe.data.prepare import SplitSettings, prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.sources.registry import make_source
from keras_ecgpe.errors import ConfigError, RecordError


def _noise(seed, n=200):
    """SYNTHETIC Gaussian noise standing in for a recording, `(n, 12)` mV."""
    return np.random.default_rng(seed).normal(0, 0.3, (n, 12)).astype(np.float32)


def _cache(path, rows, *, raw=True):
    """rows: (record_id, patient_id, split, signal seed); raw hashes stored unless `raw=False`."""
    writer = CacheWriter(
        path, key="k", source={"synthetic": True}, settings={}, fs=100.0, label_names=["PE"]
    )
    for record, patient, split, seed in rows:
        signal = _noise(seed)
        writer.add(
            signal,
            record_id=record,
            patient_id=patient,
            labels=[seed % 2],
            split=split,
            content_sha256=content_sha256(signal) if raw else None,
        )
    return writer.close()


CLEAN = [
    ("a", "p1", "train", 1),
    ("b", "p1", "train", 2),
    ("c", "p2", "validation", 3),
    ("d", "p3", "test", 4),
    ("e", "p4", "test", 5),
]


def test_clean_cache_reports_nothing(tmp_path):
    report = find_leaks(_cache(tmp_path / "c", CLEAN))
    assert report.clean and report.summary() == "no leakage found"
    assert report.raise_unless(False) is report
    assert report.methods == {str(tmp_path / "c"): "raw"}
    json.dumps(report.to_dict())


def test_shared_patient_and_duplicate_recording_are_named(tmp_path):
    rows = CLEAN + [
        ("f", "p2", "test", 6),  # p2 is also in validation
        ("g", "p5", "test", 1),
    ]  # the signal of record "a" (train) again
    report = find_leaks(_cache(tmp_path / "c", rows))
    assert not report.clean
    [patient] = report.shared_patients
    assert (patient.patient_id, patient.splits, patient.record_ids) == (
        "p2",
        ("test", "validation"),
        ("c", "f"),
    )
    [copy] = report.shared_recordings
    assert copy.kind == "across_splits" and copy.method == "raw"
    assert [(split, record) for _, split, record in copy.records] == [("train", "a"), ("test", "g")]
    with pytest.raises(ConfigError) as error:
        report.raise_unless(False)
    message = str(error.value)
    assert "1 patient(s) in two splits, 1 recording(s) in two splits" in message
    for record in ("'p2'", " c", " f", "a (train)", "g (test)"):
        assert record in message
    accepted = report.raise_unless(True)
    assert accepted.accepted and accepted.to_dict()["accepted"] is True
    assert json.loads(json.dumps(accepted.to_dict()))["shared_patients"][0]["record_ids"] == [
        "c",
        "f",
    ]


def test_duplicates_inside_one_split_are_not_leaks(tmp_path):
    rows = CLEAN + [("f", "p9", "test", 4)]  # a copy of "d", also in test
    assert find_leaks(_cache(tmp_path / "c", rows)).clean


def test_pretraining_copy_of_a_test_record(tmp_path):
    fine = _cache(tmp_path / "fine", CLEAN)
    pre = _cache(
        tmp_path / "pre",
        [("x1", "q1", "train", 5), ("x2", "q2", "test", 4), ("x3", "q3", "validation", 77)],
    )
    report = find_leaks(fine, [tmp_path / "pre"])
    [copy] = report.shared_recordings  # x2 is a copy of d, but pretraining never learnt it
    assert copy.kind == "pretraining"
    assert [record for _, _, record in copy.records] == ["e", "x1"]
    every = find_leaks(fine, [pre], pretrain_splits=None)
    assert sorted(r.records[0][2] for r in every.shared_recordings) == ["d", "e"]
    with pytest.raises(ConfigError, match="1 recording.s. shared with pretraining"):
        report.raise_unless(False)


def test_many_leaks_are_counted_and_only_ten_shown(tmp_path):
    rows = [(f"t{k}", f"p{k}", "train", k) for k in range(12)] + [
        (f"v{k}", f"p{k}", "test", 100 + k) for k in range(12)
    ]
    with pytest.raises(ConfigError) as error:
        find_leaks(_cache(tmp_path / "c", rows)).raise_unless(False)
    assert "12 patient(s) in two splits" in str(error.value)
    assert "and 2 more" in str(error.value) and "'p9'" in str(error.value)
    assert "'p10'" not in str(error.value)


def test_without_raw_hashes_stored_signals_are_compared_and_noted(tmp_path):
    fine = _cache(tmp_path / "fine", CLEAN + [("g", "p5", "test", 1)], raw=False)
    pre = _cache(tmp_path / "pre", [("x1", "q1", "train", 5)])
    assert raw_hashes(fine) is None
    report = find_leaks(fine, [pre])
    assert report.methods == {str(tmp_path / "fine"): "stored", str(tmp_path / "pre"): "stored"}
    assert any("same settings" in note for note in report.notes)
    kinds = sorted((r.kind, r.records[0][2]) for r in report.shared_recordings)
    assert kinds == [("across_splits", "a"), ("pretraining", "e")]


def test_cache_written_before_the_hash_column_still_opens_and_is_checked(tmp_path):
    """An index without the column (the old format) reads as before; hashes are computed."""
    _cache(tmp_path / "c", CLEAN + [("g", "p5", "test", 1)])
    with np.load(tmp_path / "c" / INDEX, allow_pickle=False) as index:
        assert CONTENT_HASH_FIELD in index.files
        arrays = {field: index[field] for field in INDEX_FIELDS}
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    (tmp_path / "c" / INDEX).write_bytes(buffer.getvalue())
    manifest = json.loads((tmp_path / "c" / MANIFEST).read_text())
    import hashlib

    manifest["index_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (tmp_path / "c" / MANIFEST).write_text(json.dumps(seal_manifest(manifest)))
    old = PreparedCache.open(tmp_path / "c", verify=True)
    assert raw_hashes(old) is None and record_hashes(old)[1] == "stored"
    with pytest.raises(ConfigError, match="no raw content hash"):
        record_hashes(old, method="raw")
    [copy] = find_leaks(old).shared_recordings
    assert [record for _, _, record in copy.records] == ["a", "g"]


def test_toy_training_cache_has_no_leak(tmp_path):
    report = find_leaks(
        toy_cache(tmp_path / "toy", splits={"train": 8, "validation": 4, "test": 4})
    )
    assert report.clean and report.methods[str(tmp_path / "toy")] == "stored"


def test_content_hash_ignores_float_noise_but_not_a_microvolt():
    x = _noise(0)
    assert content_sha256(x) == content_sha256(x.astype(np.float64) * (1 + 1e-12))
    y = x.copy()
    y[7, 3] += 0.002
    assert content_sha256(x) != content_sha256(y)
    assert content_sha256(x) != content_sha256(x[:-1])
    with pytest.raises(ConfigError):
        content_sha256(np.full((5, 12), np.nan))
    with pytest.raises(ConfigError):
        content_sha256(np.zeros((5, 11)))


def test_writer_refuses_a_malformed_content_hash(tmp_path):
    writer = CacheWriter(
        tmp_path / "c", key="k", source={}, settings={}, fs=100.0, label_names=["PE"]
    )
    with pytest.raises(RecordError, match="content_sha256"):
        writer.add(_noise(0), record_id="a", labels=[0], content_sha256="ABC")
    writer.abort()


@pytest.mark.slow
@pytest.mark.slow  # prepare reads records in worker processes
def test_real_ptbxl_records_republished_in_cinc_are_found(real_ecg, tmp_path):
    """PTB-XL 6000-6002 reappear in CinC 2020/2021 as HR06000-HR06002: prepared at 500 Hz
    with a band-pass for pretraining, and at 250 Hz unfiltered as the fine-tuning test split,
    their raw hashes still match while their stored signals differ."""
    cinc = tmp_path / "cinc"
    cinc.mkdir()
    for name in ("HR06000", "HR06001", "HR06002", "E07500", "JS20000"):
        for suffix in (".hea", ".mat"):
            shutil.copy(real_ecg / "cinc" / f"{name}{suffix}", cinc / f"{name}{suffix}")
    pre, _ = prepare_dataset(
        make_source("ptbxl", real_ecg / "ptbxl", sampling_rate=500),
        tmp_path / "pre",
        PreprocessConfig(target_fs=None, filter="bandpass", normalize="none"),
        workers=1,
        split=SplitSettings(folds=0),
    )
    fine, _ = prepare_dataset(
        make_source("cinc", cinc),
        tmp_path / "fine",
        PreprocessConfig(target_fs=250, filter="none", normalize="none"),
        workers=1,
        split=SplitSettings(fractions=(0.0, 0.0, 1.0), folds=0),
    )
    assert set(fine.splits) == {"test"} and len(fine) == 5
    report = find_leaks(fine, [pre], pretrain_splits=None)
    assert set(report.methods.values()) == {"raw"}
    pairs = sorted((r.records[0][2], r.records[1][2]) for r in report.shared_recordings)
    assert pairs == [("HR06000", "6000"), ("HR06001", "6001"), ("HR06002", "6002")]
    assert {r.kind for r in report.shared_recordings} == {"pretraining"}
    # The stored signals differ (other rate and filter): only the raw hash finds them.
    fine_stored, _ = record_hashes(fine, method="stored")
    pre_stored, _ = record_hashes(pre, method="stored")
    assert not set(fine_stored.tolist()) & set(pre_stored.tolist())
