"""The MIMIC-IV-ECG source on generated files in the published layout (SYNTHETIC signals).

`files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN.hea|.dat`, `record_list.csv` (subject_id,
study_id, file_name, ecg_time, path) and `machine_measurements.csv` (subject_id, study_id,
cart_id, ecg_time, report_0 ... report_17, intervals and axes).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from keras_ecgpe.data.prepare import SplitSettings, _assign_splits
from keras_ecgpe.data.sources.mimic_iv_ecg import LABEL_NAMES, MIMICIVECGSource
from keras_ecgpe.data.sources.registry import make_source
from keras_ecgpe.data.synthetic.wfdb_writer import write_record
from keras_ecgpe.errors import RecordError

MIMIC_LEADS = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
MEASUREMENT_COLUMNS = (
    ["subject_id", "study_id", "cart_id", "ecg_time"]
    + [f"report_{i}" for i in range(18)]
    + ["bandwidth", "filtering", "rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end"]
    + ["t_end", "p_axis", "qrs_axis", "t_axis"]
)
NSR, AF, IRBBB, CRBBB = "426783006", "164889003", "713426002", "59118001"


def _study_path(subject: int, study: int) -> str:
    return f"files/p{str(subject)[:4]}/p{subject}/s{study}/{study}"


def _write_tree(root, studies, reports, *, write=None, limb=(0.0, 0.0)):
    """SYNTHETIC records for `studies` [(subject, study)], with `reports` {study: [text]}."""
    rng = np.random.default_rng(0)
    rows = []
    for subject, study in studies:
        relative = _study_path(subject, study)
        folder = root / relative.rsplit("/", 1)[0]
        folder.mkdir(parents=True, exist_ok=True)
        if write is None or study in write:
            signal = rng.normal(0, 0.01, (5000, 12))
            signal[:, :2] += limb  # leads I, II; the writer derives III, aVR, aVL, aVF
            write_record(folder, str(study), signal, 500, lead_names=MIMIC_LEADS)
        rows.append([subject, study, str(study), "2180-07-23 08:44:00", relative])
    with open(root / "record_list.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject_id", "study_id", "file_name", "ecg_time", "path"])
        writer.writerows(rows)
    with open(root / "machine_measurements.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, MEASUREMENT_COLUMNS)
        writer.writeheader()
        for subject, study in studies:
            if study in reports:
                row = {"subject_id": subject, "study_id": study, "rr_interval": 857}
                row.update({f"report_{i}": text for i, text in enumerate(reports[study])})
                writer.writerow(row)


STUDIES = [(10000032, 40689238), (10000032, 44458630), (10000117, 45090959), (10000560, 41209749)]
REPORTS = {
    40689238: ["Sinus rhythm", "Incomplete right bundle branch block", "Borderline ECG"],
    44458630: ["Atrial fibrillation with rapid ventricular response", "Abnormal ECG"],
    45090959: ["Sinus rhythm", "Right bundle branch block", "Abnormal ECG"],
}


def test_index_labels_patients_and_unannotated_studies(tmp_path):
    _write_tree(tmp_path, STUDIES, REPORTS)
    source = make_source("mimic", tmp_path)
    items, skipped = source.index()
    assert skipped == []
    by_id = {item.record_id: item for item in items}
    assert [item.record_id for item in items] == [str(study) for _, study in STUDIES]
    assert by_id["40689238"].labels == (NSR, IRBBB)  # "incomplete" is not CRBBB
    assert by_id["44458630"].labels == (AF,)
    assert by_id["45090959"].labels == (NSR, CRBBB)
    assert by_id["41209749"].labels == () and by_id["41209749"].annotated == ()
    assert by_id["40689238"].annotated is None
    assert by_id["44458630"].patient_id == by_id["40689238"].patient_id == "10000032"
    assert by_id["40689238"].record_path == str(tmp_path / _study_path(*STUDIES[0]))
    assert set(LABEL_NAMES) >= {NSR, AF, IRBBB, CRBBB}


def test_read_gives_canonical_leads_from_mimics_lead_order(tmp_path):
    _write_tree(tmp_path, STUDIES[:1], REPORTS, limb=(1.0, 3.0))
    source = MIMICIVECGSource(tmp_path)
    (item,), _ = source.index()
    record = source.read(item)
    assert record.signal.shape == (5000, 12) and record.fs == 500
    assert record.patient_id == "10000032" and record.labels == (NSR, IRBBB)
    # The file's 5th and 6th signals (-0.5 and 2.5 mV) are named aVF and aVL, MIMIC's
    # order: read by name they swap places; a reader going by position would not.
    means = record.signal.mean(axis=0)
    assert np.allclose(means[:6], [1.0, 3.0, 2.0, -2.0, 2.5, -0.5], atol=0.01)


def test_splits_and_folds_are_by_subject(tmp_path):
    studies = [(10000000 + s, 40000000 + 10 * s + k) for s in range(30) for k in range(3)]
    reports = {
        study: ["Sinus rhythm"] if study % 2 else ["Atrial fibrillation"] for _, study in studies
    }
    _write_tree(tmp_path, studies, reports, write=set())  # no files: index only
    for _, study in studies:  # empty files are enough for the index
        folder = tmp_path / _study_path(10000000 + (study - 40000000) // 10, study)
        folder.with_suffix(".hea").touch()
        folder.with_suffix(".dat").touch()
    source = MIMICIVECGSource(tmp_path)
    items, skipped = source.index()
    assert len(items) == 90 and skipped == []
    splits, folds, origin = _assign_splits(items, source.label_names, SplitSettings(folds=3))
    assert origin == "generated"
    by_subject: dict[str, set] = {}
    for item, split, fold in zip(items, splits, folds, strict=True):
        by_subject.setdefault(item.patient_id, set()).add((split, fold))
    assert len(by_subject) == 30 and all(len(parts) == 1 for parts in by_subject.values())
    assert {split for split, _ in set().union(*by_subject.values())} == {
        "train",
        "validation",
        "test",
    }


def test_missing_files_are_skipped_with_the_reason(tmp_path):
    _write_tree(tmp_path, STUDIES, REPORTS, write={40689238, 45090959})
    (tmp_path / (_study_path(*STUDIES[2]) + ".dat")).unlink()
    items, skipped = MIMICIVECGSource(tmp_path).index()
    assert [item.record_id for item in items] == ["40689238"]
    reasons = {skip.record_id: skip.reason for skip in skipped}
    assert reasons["45090959"] == "file missing: 45090959.dat"
    assert reasons["44458630"] == "file missing: 44458630.hea, 44458630.dat"


def test_without_machine_measurements_every_record_is_unannotated(tmp_path):
    _write_tree(tmp_path, STUDIES, REPORTS)
    (tmp_path / "machine_measurements.csv").unlink()
    items, _ = MIMICIVECGSource(tmp_path).index()
    assert len(items) == 4 and all(item.annotated == () for item in items)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1,2,x,t,../outside/2", r"line 3: path '\.\./outside/2' points outside"),
        ("10000032,40689238,x,t,files/p1000/p10000032/s40689238/40689238", "already listed"),
        ("abc,2,x,t,files/a", "must be integers"),
    ],
)
def test_a_bad_record_list_line_names_the_file_and_line(tmp_path, row, message):
    _write_tree(tmp_path, STUDIES[:1], REPORTS)
    with open(tmp_path / "record_list.csv", "a") as handle:
        handle.write(row + "\n")
    with pytest.raises(RecordError, match=message) as error:
        MIMICIVECGSource(tmp_path).index()
    assert "record_list.csv" in str(error.value)


def test_no_record_list_is_a_one_line_error(tmp_path):
    with pytest.raises(RecordError, match="record_list.csv: MIMIC-IV-ECG record list not found"):
        MIMICIVECGSource(tmp_path).index()
