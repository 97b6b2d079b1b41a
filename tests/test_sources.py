"""Dataset sources on real PhysioNet records (and small fixtures written here from them)."""

import csv
import pathlib
import shutil

import numpy as np
import pytest
import wfdb

from keras_ecgpe.data.sources.cinc import CinCSource
from keras_ecgpe.data.sources.cpsc2018 import CPSC2018Source
from keras_ecgpe.data.sources.medalcare_xl import MedalCareXLSource
from keras_ecgpe.data.sources.pe_cohort import PECohortSource
from keras_ecgpe.data.sources.ptbxl import PTBXLSource, fold_to_split
from keras_ecgpe.data.sources.registry import make_source
from keras_ecgpe.errors import ConfigError, RecordError

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"
PTBXL = REAL / "ptbxl"


def by_id(items):
    return {item.record_id: item for item in items}


# --- PTB-XL -------------------------------------------------------------------------------


def test_ptbxl_superdiagnostic_labels_folds_and_missing_files():
    items, skipped = PTBXLSource(PTBXL, task="superdiagnostic", sampling_rate=500).index()
    items = by_id(items)
    assert items["6001"].labels == ("STTC",)
    assert items["6002"].labels == ("NORM", "CD")
    assert (items["6000"].fold, items["6000"].split) == (10, "test")
    assert (items["6009"].fold, items["6009"].split) == (2, "train")
    assert (items["6000"].patient_id, items["6000"].age, items["6000"].sex) == ("5028", 59.0, "F")
    assert items["6002"].sex == "M"  # PTB-XL sex 0; its CinC copy HR06002 says Male
    assert items["6001"].record_path == str(PTBXL / "records500/06000/06001_hr")
    assert [(s.record_id, s.reason.split(":")[0]) for s in skipped] == [("1", "file missing")]
    low, skipped_low = PTBXLSource(PTBXL, task="superdiagnostic", sampling_rate=100).index()
    assert [(i.record_id, i.labels, i.split) for i in low] == [("1", ("NORM",), "train")]
    assert len(skipped_low) == 10 and all("06000/060" in s.reason for s in skipped_low)


def test_ptbxl_splits_follow_the_benchmark():
    assert [fold_to_split(f) for f in range(1, 11)] == ["train"] * 8 + ["validation", "test"]


def test_ptbxl_label_names_per_task():
    with open(PTBXL / "scp_statements.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = lambda task: PTBXLSource(PTBXL, task=task).label_names  # noqa: E731
    assert names("superdiagnostic") == ("NORM", "MI", "STTC", "CD", "HYP")
    assert names("all") == tuple(row[""] for row in rows)
    assert names("rhythm") == tuple(row[""] for row in rows if row["rhythm"])
    assert names("form")[:3] == ("NDT", "NST_", "DIG")
    assert len(names("diagnostic")) == 44 and len(names("subdiagnostic")) == 23


def test_ptbxl_keeps_codes_of_any_likelihood_and_skips_records_without_task_label():
    items, skipped = PTBXLSource(PTBXL, task="form", sampling_rate=500).index()
    assert by_id(items)["6000"].labels == ("NT_",)  # listed with likelihood 0.0
    assert ("6002", "no label in task form") in [(s.record_id, s.reason) for s in skipped]


def _ptbxl_copy(tmp_path, scp_codes):
    shutil.copy(PTBXL / "scp_statements.csv", tmp_path / "scp_statements.csv")
    with open(PTBXL / "ptbxl_database.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[2]["scp_codes"] = scp_codes
    with open(tmp_path / "ptbxl_database.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return PTBXLSource(tmp_path)


@pytest.mark.parametrize("bad", ["{'NORM': __import__('os')}", "['NORM']", "{'NOPE': 1.0}"])
def test_ptbxl_refuses_bad_scp_codes(tmp_path, bad):
    with pytest.raises(RecordError, match=r"ptbxl_database.csv: line 4: scp_codes"):
        _ptbxl_copy(tmp_path, bad).index()


def test_ptbxl_bad_options(tmp_path):
    with pytest.raises(RecordError, match="scp_statements.csv: PTB-XL statement table not found"):
        PTBXLSource(tmp_path)
    with pytest.raises(ConfigError, match="task"):
        PTBXLSource(PTBXL, task="superclass")
    with pytest.raises(ConfigError, match="sampling_rate"):
        PTBXLSource(PTBXL, sampling_rate=250)


# --- CPSC2018 -----------------------------------------------------------------------------


def _cpsc_folder(tmp_path, reference, extra=()):
    for name in ("A1980", "A1981") + tuple(extra):
        target = "A1980" if name not in ("A1980", "A1981") else name
        # Copied, not linked: a link leading outside the dataset folder is not read.
        shutil.copyfile(REAL / "cpsc2018" / f"{target}.mat", tmp_path / f"{name}.mat")
    (tmp_path / "REFERENCE.csv").write_text(reference)
    return CPSC2018Source(tmp_path)


def test_cpsc2018_labels_and_skips(tmp_path):
    source = _cpsc_folder(
        tmp_path,
        "Recording,First_label,Second_label,Third_label\nA1980,1,,\nA1981,5,2,\nA0001,9,,\n",
        extra=("A1999",),
    )
    items, skipped = source.index()
    assert [(i.record_id, i.labels, i.split, i.patient_id) for i in items] == [
        ("A1980", ("SNR",), None, None),
        ("A1981", ("AF", "RBBB"), None, None),
    ]
    assert [(s.record_id, s.reason) for s in skipped] == [
        ("A0001", "file missing: A0001.mat"),
        ("A1999", "no label in REFERENCE.csv"),
    ]


@pytest.mark.parametrize(
    "reference, message",
    [
        ("Recording,First_label\nA1980,1\n", "missing column.*Second_label"),
        (
            "Recording,First_label,Second_label,Third_label\nA1980,10,,\n",
            "line 2: First_label '10'",
        ),
        (
            "Recording,First_label,Second_label,Third_label\nA1980,1,,\nA1980,2,,\n",
            "line 3: A1980 already listed on line 2",
        ),
    ],
)
def test_cpsc2018_bad_reference(tmp_path, reference, message):
    with pytest.raises(RecordError, match="REFERENCE.csv: " + message):
        _cpsc_folder(tmp_path, reference).index()


# --- CinC ---------------------------------------------------------------------------------


def test_cinc_scored_classes_labels_and_counts():
    source = CinCSource(REAL / "cinc")
    with open(REAL / "cinc_meta" / "weights.csv", newline="") as handle:
        header = next(csv.reader(handle))[1:]
    assert source.label_names == tuple(cell.split("|")[0] for cell in header)
    items, skipped = source.index()
    items = by_id(items)
    assert len(items) == 15 and skipped == []
    # Quirky Georgia header; 428750005 and 426434006 are unscored.
    assert items["E00666"].labels == ("164917005", "164934002", "59931005")
    assert items["JS00001"].labels == ("164889003", "713427006", "164934002")  # 59118001 merged
    assert "427172004" in items["JS20004"].labels
    assert source.ignored_codes["55930002"] == 2 and source.ignored_codes["428750005"] == 1


def test_cinc_skips_unscored_only_and_missing_signal(tmp_path):
    header = (REAL / "cinc" / "E07500.hea").read_text()
    (tmp_path / "E07500.hea").write_text(header.replace("67741000119109,426177001", "55930002"))
    (tmp_path / "E07500.mat").symlink_to(REAL / "cinc" / "E07500.mat")
    shutil.copy(REAL / "cinc" / "E07501.hea", tmp_path / "E07501.hea")
    items, skipped = CinCSource(tmp_path).index()
    assert items == []
    assert [(s.record_id, s.reason) for s in skipped] == [
        ("E07500", "no scored label (Dx: 55930002)"),
        ("E07501", "file missing: E07501.mat"),
    ]


# --- MedalCare-XL (synthetic fixture tree, signal values of a real PTB-XL record) ------------


@pytest.fixture()
def medalcare_root(tmp_path):
    """SYNTHETIC fixture: the MedalCare-XL folder layout filled with real 06000_hr samples."""
    signal = wfdb.rdsamp(str(PTBXL / "records500/06000/06000_hr"))[0][:600]  # I..V6, mV
    signals = tmp_path / "MedalCare-XL" / "MedalCare-XL" / "WP2_largeDataset_Noise"
    files = [
        "sinus/train/run_1/000001_{}.csv",
        "sinus/test/run_2/000007_{}.csv",
        "mi/LAD_0.3/validation/run_1/000003_{}.csv",
        "avblock/train/run_3/000010_{}.csv",
    ]
    for pattern in files:
        for variant in ("raw", "noise", "filtered"):
            if pattern.startswith("sinus/test") and variant == "filtered":
                continue
            path = signals / pattern.format(variant)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savetxt(path, signal.T, delimiter=",", fmt="%.4f")  # leads as rows
    (signals / "mi" / "examples").mkdir()
    (signals / "mi" / "examples" / "figure.png").write_bytes(b"not data")
    return tmp_path, signal


def test_medalcare_index_from_paths(medalcare_root):
    root, _ = medalcare_root
    source = MedalCareXLSource(root, variant="filtered")
    items, skipped = source.index()
    assert [(i.record_id, i.labels, i.split, i.patient_id) for i in items] == [
        ("avblock/train/run_3/000010", ("avblock",), "train", "3"),
        ("mi/LAD_0.3/validation/run_1/000003", ("mi_LAD_0.3",), "validation", "1"),
        ("sinus/train/run_1/000001", ("sinus",), "train", "1"),
    ]
    assert items[0].record_path.endswith("000010_filtered.csv")
    assert [(s.record_id, s.reason) for s in skipped] == [
        ("mi/examples", "figure illustrations, not data"),
        ("sinus/test/run_2/000007", "no filtered rendering (found noise, raw)"),
    ]
    assert len(source.label_names) == 15
    inner = MedalCareXLSource(root / "MedalCare-XL" / "MedalCare-XL", variant="noise").index()
    outer = MedalCareXLSource(root / "MedalCare-XL", variant="raw").index()
    assert len(outer[0]) == 4
    assert len(inner[0]) == 4 and len(inner[1]) == 1


def test_medalcare_errors(tmp_path):
    with pytest.raises(ConfigError, match="variant"):
        MedalCareXLSource(tmp_path, variant="clean")
    with pytest.raises(RecordError, match="no WP2_largeDataset_Noise"):
        MedalCareXLSource(tmp_path).index()


# --- PE cohort manifest -------------------------------------------------------------------


def _manifest(tmp_path, text, **options):
    records = tmp_path / "records"
    records.mkdir(exist_ok=True)
    for name in ("HR06000", "HR06001"):
        for ext in (".hea", ".mat"):
            if not (records / (name + ext)).exists():  # copies: links outside are refused
                shutil.copyfile(REAL / "cinc" / (name + ext), records / (name + ext))
    path = tmp_path / "manifest.csv"
    path.write_text(text)
    return PECohortSource(path, **options)


def test_pe_manifest_items_and_missing_record(tmp_path):
    absolute = REAL / "cinc" / "E07500"
    source = _manifest(
        tmp_path,
        "record,label,patient_id,split\n"
        "records/HR06000,1,p1,train\nrecords/HR06001.hea,0,p2,test\n"
        f"{absolute},0,p3,validation\nrecords/gone,1,p4,test\n",
        allow_absolute_paths=True,
    )
    items, skipped = source.index()
    assert [(i.labels, i.patient_id, i.split) for i in items] == [
        (("PE",), "p1", "train"),
        ((), "p2", "test"),
        ((), "p3", "validation"),
    ]
    assert items[0].record_path == str(tmp_path / "records" / "HR06000")
    assert items[1].record_id == "records/HR06001"
    assert [(s.record_id, s.reason.split(":")[0]) for s in skipped] == [
        ("records/gone", "file missing")
    ]
    assert source.label_names == ("PE",)


@pytest.mark.parametrize(
    "rows, message",
    [
        ("record,label\nrecords/HR06000,1\n", "missing column.*patient_id"),
        ("record,label,patient_id\nrecords/HR06000,2,p1\n", "line 2: label must be 0 or 1"),
        (
            "record,label,patient_id\nrecords/HR06000,1,p1\nrecords/HR06000.hea,1,p1\n",
            "line 3: record .* already listed on line 2",
        ),
        ("record,label,patient_id\nrecords/HR06000,1,\n", "line 2: empty patient_id"),
        ("record,label,patient_id\n../HR06000,1,p1\n", "line 2: record .* outside the manifest"),
        (
            "record,label,patient_id,split\nrecords/HR06000,1,p1,train\nrecords/HR06001,1,p1,test\n",
            "line 3: patient 'p1' is in split/fold",
        ),
        ("record,label,patient_id,fold\nrecords/HR06000,1,p1,one\n", "line 2: fold must be"),
        ("record,label,patient_id,site\nrecords/HR06000,1,p1,x\n", "unknown column"),
    ],
)
def test_pe_manifest_errors_name_manifest_and_line(tmp_path, rows, message):
    with pytest.raises(RecordError, match="manifest.csv: " + message):
        _manifest(tmp_path, rows).index()


def test_pe_manifest_records_stay_inside_its_folder(tmp_path):
    """Absolute paths and links leading outside need allow_absolute_paths=True."""
    absolute = f"record,label,patient_id\n{REAL / 'cinc' / 'E07500'},1,p1\n"
    with pytest.raises(RecordError, match="line 2: record .* is an absolute path"):
        _manifest(tmp_path, absolute).index()
    (tmp_path / "records" / "E07500.hea").symlink_to(REAL / "cinc" / "E07500.hea")
    linked = "record,label,patient_id\nrecords/HR06000,1,p1\nrecords/E07500,0,p2\n"
    with pytest.raises(RecordError, match="line 3: record .* outside the manifest's folder"):
        _manifest(tmp_path, linked).index()
    outside = make_source("pe", tmp_path / "manifest.csv", allow_absolute_paths=True)
    assert [item.record_id for item in outside.index()[0]] == ["records/HR06000", "records/E07500"]
    assert "allow_absolute_paths" not in outside.describe()["options"]  # not in the cache key


# --- registry -----------------------------------------------------------------------------


def test_registry_builds_and_refuses():
    source = make_source("ptbxl", PTBXL, task="rhythm", sampling_rate=500)
    assert isinstance(source, PTBXLSource) and source.task == "rhythm"
    assert isinstance(make_source("cinc", REAL / "cinc"), CinCSource)
    with pytest.raises(ConfigError, match="valid: ptbxl, cpsc2018, cinc, medalcare, pe"):
        make_source("ptb-xl", PTBXL)
    with pytest.raises(ConfigError, match="no option.*variant"):
        make_source("cinc", REAL / "cinc", variant="raw")
    with pytest.raises(RecordError, match="not found"):
        make_source("cpsc2018", REAL / "nowhere")


# --- reading through the sources ----------------------------------------------------------


def test_read_attaches_source_metadata(tmp_path, medalcare_root):
    source = PTBXLSource(PTBXL, task="superdiagnostic", sampling_rate=500)
    record = source.read(by_id(source.index()[0])["6001"])
    assert (record.record_id, record.labels, record.patient_id) == ("6001", ("STTC",), "12976")
    assert (record.age, record.sex, record.signal.shape, record.fs) == (78.0, "F", (5000, 12), 500)

    cinc = CinCSource(REAL / "cinc")
    quirky = cinc.read(by_id(cinc.index()[0])["E00666"])
    assert quirky.labels == ("164917005", "164934002", "59931005") and quirky.sex == "M"

    cpsc = _cpsc_folder(
        tmp_path, "Recording,First_label,Second_label,Third_label\nA1980,1,,\nA1981,5,2,\n"
    )
    long_record = cpsc.read(by_id(cpsc.index()[0])["A1981"])
    assert long_record.labels == ("AF", "RBBB") and long_record.n_samples > 5000

    root, signal = medalcare_root
    medalcare = MedalCareXLSource(root, variant="raw")
    simulated = medalcare.read(medalcare.index()[0][0])
    assert simulated.labels == ("avblock",) and simulated.patient_id == "3"
    np.testing.assert_allclose(simulated.signal, signal, atol=1e-4)
