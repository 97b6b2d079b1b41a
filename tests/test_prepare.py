"""`prepare_dataset` on real records and on a small SYNTHETIC cohort."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from keras_ecgpe.data.cache import PreparedCache
from keras_ecgpe.data.prepare import SplitSettings, prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.readers import read_record
from keras_ecgpe.data.sources.registry import make_source
from keras_ecgpe.errors import ConfigError

# Slow tier: prepare_dataset reads every record in worker processes.
pytestmark = pytest.mark.slow

CONFIG = PreprocessConfig(target_fs=None, filter="bandpass", normalize="none")


def _skips(cache_dir):
    import json

    report = json.loads((cache_dir / "report.json").read_text())
    return {skip["record_id"]: skip["reason"] for skip in report["records_skipped"]}


def test_real_ptbxl_500hz_with_official_folds_and_skip_report(real_ecg, tmp_path):
    source = make_source("ptbxl", real_ecg / "ptbxl", sampling_rate=500)
    cache, reused = prepare_dataset(
        source, tmp_path / "c", CONFIG, workers=1, split=SplitSettings(folds=0)
    )
    assert not reused and cache.n_records == 10 and cache.fs == 500.0
    assert "file missing" in _skips(tmp_path / "c")["1"]  # only its 100 Hz file exists
    row = list(cache.record_ids).index("6001")
    assert cache.labels[row].tolist() == [0, 0, 1, 0, 0]  # NORM MI STTC CD HYP -> STTC
    assert set(cache.splits) <= {"train", "validation", "test"}
    # The stored signal is the record band-passed at its own fs (checked with scipy here).
    raw = read_record(real_ecg / "ptbxl" / "records500" / "06000" / "06001_hr").signal
    sos = signal.butter(4, [1.0, 45.0], btype="bandpass", fs=500.0, output="sos")
    expected = signal.sosfiltfilt(sos, raw.astype(np.float64), axis=0)
    np.testing.assert_allclose(cache.signal(row), expected, atol=1e-4)


def test_identical_settings_reuse_and_changed_settings_refuse(real_ecg, tmp_path):
    source = make_source("ptbxl", real_ecg / "ptbxl", sampling_rate=500)
    first, _ = prepare_dataset(
        source, tmp_path / "c", CONFIG, workers=1, split=SplitSettings(folds=0)
    )
    again, reused = prepare_dataset(
        source, tmp_path / "c", CONFIG, workers=1, split=SplitSettings(folds=0)
    )
    assert reused and again.key == first.key
    changed = PreprocessConfig(target_fs=None, filter="bandpass", low_hz=0.5, normalize="none")
    with pytest.raises(ConfigError, match="other settings"):
        prepare_dataset(source, tmp_path / "c", changed, workers=1, split=SplitSettings(folds=0))
    replaced, reused = prepare_dataset(
        source, tmp_path / "c", changed, workers=1, split=SplitSettings(folds=0), overwrite=True
    )
    assert not reused and replaced.key != first.key


def _manifest(tmp_path, rows):
    path = tmp_path / "manifest.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record", "label", "patient_id"])
        writer.writerows(rows)
    return path


def test_mixed_sampling_rates_skipped_with_reason_unless_resampled(real_ecg, tmp_path):
    manifest = _manifest(
        tmp_path,
        [
            [str(real_ecg / "cinc" / "HR06000"), 1, "p1"],
            [str(real_ecg / "cinc" / "JS00001"), 0, "p2"],
            [str(real_ecg / "ptb" / "s0010_re"), 0, "p3"],  # 1000 Hz
        ],
    )
    source = make_source("pe", manifest, allow_absolute_paths=True)
    settings = SplitSettings(fractions=(1.0, 0.0, 0.0), folds=0)
    cache, _ = prepare_dataset(source, tmp_path / "a", CONFIG, workers=1, split=settings)
    assert cache.n_records == 2
    ptb_id = str(real_ecg / "ptb" / "s0010_re")  # the manifest's record value is the id
    assert "sampling rate 1000 Hz differs" in _skips(tmp_path / "a")[ptb_id]
    resampled = PreprocessConfig(target_fs=500, filter="bandpass", normalize="none")
    cache, _ = prepare_dataset(source, tmp_path / "b", resampled, workers=1, split=settings)
    assert cache.n_records == 3 and cache.fs == 500.0
    row = list(cache.record_ids).index(ptb_id)
    assert cache.lengths[row] == 38400 // 2


def test_corrupt_record_is_skipped_and_reported(real_ecg, tmp_path):
    for name in ("E07500.hea", "E07500.mat"):
        shutil.copy(real_ecg / "cinc" / name, tmp_path / name)
    data = (tmp_path / "E07500.mat").read_bytes()
    (tmp_path / "E07500.mat").write_bytes(data[: len(data) // 2])  # truncated signal file
    manifest = _manifest(
        tmp_path, [["E07500", 1, "p1"], [str(real_ecg / "cinc" / "E07501"), 0, "p2"]]
    )
    cache, _ = prepare_dataset(
        make_source("pe", manifest, allow_absolute_paths=True),
        tmp_path / "c",
        CONFIG,
        workers=1,
        split=SplitSettings(fractions=(1.0, 0.0, 0.0), folds=0),
    )
    assert list(cache.record_ids) == [str(real_ecg / "cinc" / "E07501")]
    assert "truncated" in _skips(tmp_path / "c")["E07500"]


@pytest.fixture(scope="module")
def synthetic_pe(tmp_path_factory):
    from keras_ecgpe.data.synthetic import write_demo

    out = tmp_path_factory.mktemp("demo")
    write_demo(out / "demo", n_ptbxl=20, n_pe=60, seed=3)  # SYNTHETIC records
    return out / "demo" / "pe_synthetic" / "manifest.csv"


def test_patient_level_splits_and_folds_generated(synthetic_pe, tmp_path):
    config = PreprocessConfig(target_fs=100, filter="bandpass", normalize="zscore")
    cache, _ = prepare_dataset(
        make_source("pe", synthetic_pe),
        tmp_path / "c",
        config,
        workers=1,
        split=SplitSettings(folds=3, seed=1),
    )
    assert cache.n_records == 60
    for values in (cache.splits, cache.folds):
        owner = {}
        for patient, value in zip(cache.patient_ids, values):
            assert owner.setdefault(patient, value) == value, f"patient {patient} split"
    assert set(cache.splits) == {"train", "validation", "test"}
    assert set(cache.folds) == {0, 1, 2}


def test_parallel_workers_match_serial(synthetic_pe, tmp_path):
    config = PreprocessConfig(target_fs=100, filter="bandpass", normalize="zscore")
    source = make_source("pe", synthetic_pe)
    serial, _ = prepare_dataset(source, tmp_path / "s", config, workers=1)
    parallel, _ = prepare_dataset(source, tmp_path / "p", config, workers=2)
    assert list(serial.record_ids) == list(parallel.record_ids)
    for row in (0, 17, 59):
        np.testing.assert_array_equal(serial.signal(row), parallel.signal(row))
    reopened = PreparedCache.open(tmp_path / "p", verify=True)
    assert reopened.key == parallel.key


def _cpsc_folder_with_two_real_records(real_ecg, tmp_path):
    root = tmp_path / "cpsc"
    root.mkdir()
    for name in ("A1980", "A1981"):
        shutil.copy(real_ecg / "cpsc2018" / f"{name}.mat", root / f"{name}.mat")
    (root / "REFERENCE.csv").write_text(
        "Recording,First_label,Second_label,Third_label\nA0001,1,,\nA1980,2,,\nA1981,1,,\n"
    )
    return root


def test_a_corrupt_mat_that_breaks_scipy_is_skipped_with_its_reason(real_ecg, tmp_path):
    # tests/data/scipy_segfault.mat: a SYNTHETIC CPSC-style .mat (ramps) with 40 bytes
    # overwritten, found by fuzzing. scipy 1.17's loadmat reads freed memory on it: here it
    # segfaults, on other machines it raises ZeroDivisionError. Either way the record is
    # skipped with a reason and the others are prepared.
    root = _cpsc_folder_with_two_real_records(real_ecg, tmp_path)
    shutil.copy(Path(__file__).parent / "data" / "scipy_segfault.mat", root / "A0001.mat")
    cache, _ = prepare_dataset(
        make_source("cpsc2018", root),
        tmp_path / "c",
        CONFIG,
        workers=2,
        split=SplitSettings(fractions=(1.0, 0.0, 0.0), folds=0),
    )
    assert sorted(cache.record_ids) == ["A1980", "A1981"]
    reason = _skips(tmp_path / "c")["A0001"]
    assert "crashed the worker process" in reason or "cannot read MATLAB file" in reason


@pytest.mark.parametrize("workers", [1, 2])
def test_a_record_whose_reader_crashes_natively_is_skipped(real_ecg, tmp_path, workers):
    from crashing_source import CrashingCPSC2018Source

    root = _cpsc_folder_with_two_real_records(real_ecg, tmp_path)
    shutil.copy(root / "A1980.mat", root / "A0001.mat")
    source = CrashingCPSC2018Source(root, crash_on={"A0001"})
    cache, _ = prepare_dataset(
        source,
        tmp_path / "c",
        CONFIG,
        workers=workers,
        split=SplitSettings(fractions=(1.0, 0.0, 0.0), folds=0),
    )
    assert sorted(cache.record_ids) == ["A1980", "A1981"]
    assert "crashed the worker process" in _skips(tmp_path / "c")["A0001"]


def test_multi_source_cache_on_the_harmonised_vocabulary_with_masks(real_ecg, tmp_path):
    from keras_ecgpe.data.labels import canonical_code
    from keras_ecgpe.data.sources.combined import CombinedSource

    cpsc = tmp_path / "cpsc"
    cpsc.mkdir()
    rows = ["Recording,First_label,Second_label,Third_label", "A1980,2,,", "A1981,5,1,"]
    for name in ("A1980", "A1981"):
        shutil.copy(real_ecg / "cpsc2018" / f"{name}.mat", cpsc / f"{name}.mat")
    for copy in range(4):  # copies of the real files so a patient-level split has parts
        shutil.copy(real_ecg / "cpsc2018" / "A1980.mat", cpsc / f"A199{copy}.mat")
        rows.append(f"A199{copy},{copy % 2 + 1},,")
    (cpsc / "REFERENCE.csv").write_text("\n".join(rows) + "\n")  # A1980 AF, A1981 RBBB+SNR
    ptbxl = make_source("ptbxl", real_ecg / "ptbxl", task="all", sampling_rate=500)
    source = CombinedSource([ptbxl, make_source("cpsc2018", cpsc)])
    config = PreprocessConfig(target_fs=500, filter="bandpass", normalize="none", duration_s=10.0)
    cache, _ = prepare_dataset(
        source, tmp_path / "c", config, workers=1, split=SplitSettings(folds=0)
    )
    ids = list(cache.record_ids)
    assert "cpsc2018:A1980" in ids and "ptbxl:6001" in ids and len(ids) == 16
    af = list(cache.label_names).index("164889003")  # atrial fibrillation
    rbbb = list(cache.label_names).index(canonical_code("59118001"))  # RBBB (CinC class)
    a1980, a1981 = ids.index("cpsc2018:A1980"), ids.index("cpsc2018:A1981")
    assert cache.labels[a1980, af] == 1 and cache.label_mask[a1980, af] == 1
    assert cache.labels[a1981, rbbb] == 1
    # Classes only PTB-XL annotates are masked out for CPSC records, and vice versa.
    only_ptbxl = (cache.label_mask[ids.index("ptbxl:6001")] == 1) & (cache.label_mask[a1980] == 0)
    assert only_ptbxl.any()
    assert set(cache.splits[[a1980, a1981]]) <= {"train", "validation", "test"}
