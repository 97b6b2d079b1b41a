"""Tests of the SYNTHETIC demo data: formats readable as the real ones, determinism,
physiology (Einthoven), labels, PE-cohort shape and difficulty, refusal to overwrite."""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

import numpy as np
import pytest
import wfdb

from keras_ecgpe.data.synthetic import write_demo
from keras_ecgpe.data.synthetic.ecg_model import normal_beat_model, synthesize
from keras_ecgpe.data.synthetic.pe_cohort import generate_pe_cohort, plan_pe_cohort
from keras_ecgpe.data.synthetic.ptbxl_style import PTBXL_COLUMNS, plan_ptbxl_style
from keras_ecgpe.data.synthetic.wfdb_writer import write_record
from keras_ecgpe.errors import ConfigError

REAL_PTBXL = Path("/work/shared/data/real-ecg/ptbxl")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "d"
    summary = write_demo(out, n_ptbxl=40, n_pe=40, seed=0)
    return out, summary


def _files(root: Path):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _read_csv(path: Path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _auroc(score, label):
    """AUROC by the rank (Mann-Whitney) formula, ties averaged."""
    score, label = np.asarray(score, float), np.asarray(label, bool)
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(score.size)
    ranks[order] = np.arange(1, score.size + 1)
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inverse, ranks) / counts)[inverse]
    n_pos, n_neg = label.sum(), (~label).sum()
    return (ranks[label].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def test_same_seed_same_bytes_other_seed_differs(demo, tmp_path):
    out, summary = demo
    again = write_demo(tmp_path / "again", n_ptbxl=40, n_pe=40, seed=0)
    assert _files(out) == _files(tmp_path / "again")
    assert again["pe"]["positives"] == summary["pe"]["positives"]
    write_demo(tmp_path / "other", n_ptbxl=40, n_pe=40, seed=1)
    other = _files(tmp_path / "other")
    first = _files(out)
    assert other.keys() == first.keys()
    assert other["pe_synthetic/records/pe00001.dat"] != first["pe_synthetic/records/pe00001.dat"]
    table = "ptbxl_synthetic/ptbxl_database.csv"
    assert other[table] != first[table]


def test_fast_writer_is_byte_identical_to_wfdb_wrsamp(tmp_path):
    rng = np.random.default_rng(7)
    for fs in (100, 500):
        signal = synthesize(normal_beat_model(rng), fs, 10.0, rng).signal
        (tmp_path / "fast").mkdir(exist_ok=True)
        (tmp_path / "wfdb").mkdir(exist_ok=True)
        write_record(tmp_path / "fast", f"r{fs}", signal, fs)
        write_record(tmp_path / "wfdb", f"r{fs}", signal, fs, use_wfdb=True)
    assert _files(tmp_path / "fast") == _files(tmp_path / "wfdb")


def test_written_records_obey_einthoven_and_say_synthetic(demo):
    out, _ = demo
    headers = sorted(out.rglob("*.hea"))
    assert len(headers) == 80
    for header in headers[::8]:
        signal, fields = wfdb.rdsamp(str(header.with_suffix("")))
        assert fields["sig_name"] == [
            "I",
            "II",
            "III",
            "AVR",
            "AVL",
            "AVF",
            "V1",
            "V2",
            "V3",
            "V4",
            "V5",
            "V6",
        ]
        assert fields["units"] == ["mV"] * 12
        lead_i, lead_ii = signal[:, 0], signal[:, 1]
        np.testing.assert_allclose(signal[:, 2], lead_ii - lead_i, atol=1e-9)
        np.testing.assert_allclose(signal[:, 3], -(lead_i + lead_ii) / 2, atol=6e-4)
        np.testing.assert_allclose(signal[:, 4], lead_i - lead_ii / 2, atol=6e-4)
        np.testing.assert_allclose(signal[:, 5], lead_ii - lead_i / 2, atol=6e-4)
        assert 0.3 < np.abs(signal).max() < 6.0  # mV scale, not raw ADC units
    for header in headers:
        assert any("SYNTHETIC" in c for c in wfdb.rdheader(str(header.with_suffix(""))).comments)
    for text in ("SYNTHETIC_DATA.txt", "ptbxl_synthetic/README.txt", "pe_synthetic/README.txt"):
        assert (out / text).read_text().startswith("SYNTHETIC DATA - NOT REAL PATIENTS")


def test_ptbxl_database_matches_the_real_format(demo):
    out, summary = demo
    root = out / "ptbxl_synthetic"
    with open(root / "ptbxl_database.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == PTBXL_COLUMNS
    if (REAL_PTBXL / "ptbxl_database.csv").exists():
        with open(REAL_PTBXL / "ptbxl_database.csv", newline="") as handle:
            assert header == next(csv.reader(handle))
        real = (REAL_PTBXL / "scp_statements.csv").read_bytes()
        assert (root / "scp_statements.csv").read_bytes() == real
    statements = {row[""]: row for row in _read_csv(root / "scp_statements.csv")}
    rows = _read_csv(root / "ptbxl_database.csv")
    assert len(rows) == summary["ptbxl"]["records"] == 40
    folds_by_patient = {}
    for row in rows:
        codes = ast.literal_eval(row["scp_codes"])
        assert codes and set(codes) <= set(statements), codes
        classes = {statements[c]["diagnostic_class"] for c in codes} - {""}
        assert classes, codes
        assert "NORM" not in classes or classes == {"NORM"}
        assert 1 <= int(row["strat_fold"]) <= 10
        folds_by_patient.setdefault(row["patient_id"], set()).add(row["strat_fold"])
        assert (root / (row["filename_lr"] + ".hea")).exists()
        assert not (root / (row["filename_hr"] + ".hea")).exists()  # 100 Hz only by default
        assert "SYNTHETIC" in row["report"]
    assert all(len(folds) == 1 for folds in folds_by_patient.values())
    fields = wfdb.rdheader(str(root / rows[0]["filename_lr"]))
    assert (fields.fs, fields.sig_len, fields.fmt[0], fields.adc_gain[0]) == (100, 1000, "16", 1000)


def test_ptbxl_plan_has_ptbxl_like_multilabel_mix():
    specs = plan_ptbxl_style(1000, seed=3)
    share = {
        c: np.mean([c in s.superclasses for s in specs])
        for c in ("NORM", "MI", "STTC", "CD", "HYP")
    }
    assert 0.35 < share["NORM"] < 0.55
    assert all(0.06 < share[c] < 0.4 for c in ("MI", "STTC", "CD", "HYP")), share
    assert np.mean([len(s.superclasses) > 1 for s in specs]) > 0.1
    assert len({s.patient_id for s in specs}) < len(specs)


def test_pe_manifest_and_records(demo):
    out, summary = demo
    root = out / "pe_synthetic"
    with open(root / "manifest.csv", newline="") as handle:
        assert next(csv.reader(handle)) == ["record", "label", "patient_id", "age", "sex"]
    rows = _read_csv(root / "manifest.csv")
    assert len(rows) == summary["pe"]["records"] == 40
    assert {r["label"] for r in rows} <= {"0", "1"}
    assert {r["sex"] for r in rows} == {"F", "M"}
    assert all(18 <= float(r["age"]) <= 95 for r in rows)
    patients = {}
    for row in rows:  # a patient's records share label, age and sex
        key = (row["label"], row["age"], row["sex"])
        assert patients.setdefault(row["patient_id"], key) == key
    fields = wfdb.rdheader(str(root / rows[0]["record"]))
    assert (fields.fs, fields.sig_len) == (500, 5000)


def _median_beat_t(signal, r_times, fs):
    index = np.round(r_times * fs).astype(int)
    index = index[(index > 0.3 * fs) & (index < signal.shape[0] - 0.5 * fs)]
    window = np.arange(int(-0.3 * fs), int(0.5 * fs))
    beat = np.median(signal[index[:, None] + window], axis=0)
    t = window / fs
    baseline = beat[(t > -0.09) & (t < -0.05)].mean(axis=0)
    return (beat[(t > 0.18) & (t < 0.4)] - baseline).mean(axis=0)


def test_pe_cohort_shape_and_difficulty():
    specs = plan_pe_cohort(400, seed=5)
    labels = np.array([s.label for s in specs])
    assert 0.18 < labels.mean() < 0.32
    assert len({s.patient_id for s in specs}) < 0.9 * len(specs)
    positives = [s for s in specs if s.label]
    assert 0.05 < np.mean([not s.signs for s in positives]) < 0.5  # some show no sign
    assert np.mean([bool(s.signs) for s in specs if not s.label]) > 0.1  # confounders

    hr, t_v1_v3, y = [], [], []
    for spec, syn in generate_pe_cohort(400, seed=5, fs=100):
        hr.append(60.0 / np.median(np.diff(syn.r_times)))
        t_v1_v3.append(_median_beat_t(syn.signal, syn.r_times, 100)[6:9].mean())
        y.append(spec.label)
    hr, t_v1_v3, y = np.array(hr), np.array(t_v1_v3), np.array(y)
    assert hr[y == 1].mean() > hr[y == 0].mean() + 3
    assert t_v1_v3[y == 1].mean() < t_v1_v3[y == 0].mean()
    for feature in (hr, -t_v1_v3):
        assert 0.55 < _auroc(feature, y) < 0.9
    combined = (hr - hr.mean()) / hr.std() - (t_v1_v3 - t_v1_v3.mean()) / t_v1_v3.std()
    assert 0.6 < _auroc(combined, y) < 0.95


def test_refuses_non_empty_directory_and_replaces_previous_demo(tmp_path, demo):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match=re.escape(str(foreign))):
        write_demo(foreign, n_ptbxl=2, n_pe=2)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]

    previous = tmp_path / "previous"
    write_demo(previous, n_ptbxl=5, n_pe=5, seed=0)
    (previous / "cache").mkdir()
    summary = write_demo(previous, n_ptbxl=40, n_pe=40, seed=0)
    assert summary["replaced_previous_demo"] is True
    assert (previous / "cache").is_dir()
    files = _files(previous)
    assert files == _files(demo[0])  # nothing of the smaller demo left behind
    with pytest.raises(ConfigError, match="n_pe"):
        write_demo(tmp_path / "x", n_pe=0)


def test_ptbxl_style_can_also_write_500_hz(tmp_path):
    from keras_ecgpe.data.synthetic.ptbxl_style import write_ptbxl_style

    summary = write_ptbxl_style(tmp_path / "p", n_records=3, seed=2, write_hr=True)
    row = _read_csv(tmp_path / "p" / "ptbxl_database.csv")[0]
    high, high_fields = wfdb.rdsamp(str(tmp_path / "p" / row["filename_hr"]))
    low, low_fields = wfdb.rdsamp(str(tmp_path / "p" / row["filename_lr"]))
    assert (summary["fs"], high_fields["fs"], low_fields["fs"]) == (500, 500, 100)
    assert high.shape == (5000, 12) and low.shape == (1000, 12)
    # the 100 Hz record is the decimated 500 Hz one: strongly correlated in lead II
    assert np.corrcoef(high[::5, 1], low[:, 1])[0, 1] > 0.9
