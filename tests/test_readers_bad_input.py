"""Every way a record file can be broken gives a RecordError naming the file.

Broken files are made in tmp_path from copies of real records (PTB-XL 06000_hr, CinC
E07500); the damage done to each is synthetic and stated in the test. Fuzzing lives in
test_readers_fuzz.py.
"""

import os
import pathlib
import shutil
import time

import numpy as np
import pytest
import scipy.io

from keras_ecgpe.data.readers import read_record
from keras_ecgpe.errors import ConfigError, RecordError

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"
PTBXL = REAL / "ptbxl" / "records500" / "06000" / "06000_hr"


@pytest.fixture
def ptbxl(tmp_path):
    for ext in (".hea", ".dat"):
        shutil.copyfile(f"{PTBXL}{ext}", tmp_path / f"06000_hr{ext}")
        (tmp_path / f"06000_hr{ext}").chmod(0o644)
    return tmp_path / "06000_hr"


def edit_header(base, old, new):
    hea = pathlib.Path(f"{base}.hea")
    text = hea.read_text()
    assert old in text  # the edit must really happen
    hea.write_text(text.replace(old, new))


def samples(base):
    return np.fromfile(f"{base}.dat", dtype="<i2").reshape(-1, 12)


def raises(path, *fragments, **kwargs):
    with pytest.raises(RecordError) as error:
        read_record(path, **kwargs)
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)
    return str(error.value)


def test_missing_and_truncated_signal_files(ptbxl, tmp_path):
    data = pathlib.Path(f"{ptbxl}.dat").read_bytes()
    pathlib.Path(f"{ptbxl}.dat").write_bytes(data[:-24])  # one frame of 12 int16 short
    raises(ptbxl, "06000_hr.dat", "truncated: expected 5000 samples, found 4999")
    pathlib.Path(f"{ptbxl}.dat").unlink()
    raises(ptbxl, "06000_hr.dat", "signal file missing")
    for ext in (".hea", ".mat"):
        shutil.copyfile(REAL / "cinc" / f"E07500{ext}", tmp_path / f"E07500{ext}")
    mat = tmp_path / "E07500.mat"
    mat.chmod(0o644)
    mat.write_bytes(mat.read_bytes()[: 24 + 2 * 12 * 100])  # MAT header + 100 frames
    raises(tmp_path / "E07500", "E07500.mat", "truncated: expected 5000 samples, found 100")


def test_missing_record_and_orphan_signal_file(tmp_path, ptbxl):
    raises(tmp_path / "nothing", "nothing.hea", "no such record")
    pathlib.Path(f"{ptbxl}.hea").unlink()
    raises(f"{ptbxl}.dat", "06000_hr.dat", "without its header 06000_hr.hea")


@pytest.mark.parametrize(
    "old,new,problem",
    [
        ("06000_hr 12 500 5000", "06000_hr 12 0 5000", "sampling frequency must be a positive"),
        ("06000_hr 12 500 5000", "06000_hr 12 -500 5000", "positive number; none found"),
        ("06000_hr 12 500 5000", "06000_hr 12 abc 5000", "cannot parse WFDB record line"),
        ("06000_hr 12 500 5000", "06000_hr 12", "positive number; none found"),
        (
            "06000_hr 12 500 5000",
            "06000_hr 13 500 5000",
            "declares 13 signals but the header has 12",
        ),
        ("06000_hr 12 500 5000", "06000_hr/2 12 500 5000", "multi-segment"),
        ("16 1000.0(0)/mV 16 0 10", "16 0(0)/mV 16 0 10", "no usable ADC gain"),
        ("16 1000.0(0)/mV 16 0 10", "16 1000.0(0)/mmHg 16 0 10", "not a voltage unit"),
        ("16 1000.0(0)/mV 16 0 10", "16x2 1000.0(0)/mV 16 0 10", "samples per frame"),
        (
            "06000_hr.dat 16 1000.0(0)/mV 16 0 10",
            "06000_hr.dat 999 1000.0(0)/mV 16 0 10",
            "WFDB format 999",
        ),
    ],
)
def test_corrupt_header_fields(ptbxl, old, new, problem):
    edit_header(ptbxl, old, new)
    raises(ptbxl, "06000_hr.hea", problem)


def test_unparseable_and_empty_headers(ptbxl):
    pathlib.Path(f"{ptbxl}.hea").write_bytes(b"\x00\xff garbage \x01\n\x02")
    raises(ptbxl, "06000_hr.hea", "cannot parse WFDB record line")
    pathlib.Path(f"{ptbxl}.hea").write_text("# only a comment\n")
    raises(ptbxl, "06000_hr.hea", "no record line")


def test_absurd_sample_count_refused_before_reading(ptbxl):
    edit_header(ptbxl, "06000_hr 12 500 5000", "06000_hr 12 500 1000000000000")
    start = time.perf_counter()
    raises(ptbxl, "06000_hr.hea", "header claims 1000000000000 samples", "limit of 1800000")
    assert time.perf_counter() - start < 1.0
    edit_header(ptbxl, "1000000000000", "1000000")  # below the cap, beyond the file
    raises(ptbxl, "06000_hr.dat", "truncated: expected 1000000 samples, found 5000")
    raises(ptbxl, "06000_hr.hea", "limit of 100", max_samples=100)


def test_bad_max_samples_and_format_are_config_errors(ptbxl):
    with pytest.raises(ConfigError, match="max_samples=0"):
        read_record(ptbxl, max_samples=0)
    with pytest.raises(ConfigError, match="format='edf'"):
        read_record(ptbxl, format="edf")
    with pytest.raises(ConfigError, match="fs=500"):
        read_record(ptbxl, fs=500)


def test_invalid_samples_flat_record_and_flat_lead(ptbxl):
    data = samples(ptbxl).copy()
    bad = data.copy()
    bad[100, 3] = -32768  # WFDB's invalid-sample code for format 16
    bad.tofile(f"{ptbxl}.dat")
    raises(ptbxl, "06000_hr.hea", "1 missing or non-finite samples", "lead AVR at sample 100")
    np.full_like(data, 7).tofile(f"{ptbxl}.dat")
    raises(ptbxl, "06000_hr.hea", "all leads are flat")
    data[:, 8] = 0
    data.tofile(f"{ptbxl}.dat")
    assert read_record(ptbxl).lead_policy == "as recorded; flat leads: V3"


def write_text(path, text):
    path.write_text(text)
    return path


def test_bad_csv_files(tmp_path):
    header = ",".join(["I", "II", "III", "aVR", "aVL", "aVF"] + [f"V{i}" for i in range(1, 7)])
    row = ",".join(["0.1"] * 12)
    raises(
        write_text(tmp_path / "nofs.csv", f"{header}\n{row}\n"), "nofs.csv", "no sampling frequency"
    )
    raises(
        write_text(tmp_path / "badfs.csv", f"# fs=abc\n{header}\n{row}\n"),
        "badfs.csv",
        "sampling frequency must be a positive number; got 'abc'",
    )
    raises(
        write_text(tmp_path / "nan.csv", f"{header}\n{row}\n{row.replace('0.1', 'nan', 1)}\n"),
        "nan.csv",
        "non-finite samples",
        "lead I at sample 1",
        fs=500,
    )
    raises(
        write_text(tmp_path / "inf.csv", f"{header}\n{row}\n{row[:-3]}inf\n"),
        "inf.csv",
        "lead V6 at sample 1",
        fs=500,
    )
    raises(
        write_text(tmp_path / "ragged.csv", f"{header}\n{row}\n0.1,0.2\n"),
        "ragged.csv",
        "cannot parse CSV numbers",
        fs=500,
    )
    raises(
        write_text(tmp_path / "text.csv", f"{header}\n{row}\nfoo,{row[4:]}\n"),
        "text.csv",
        "cannot parse CSV numbers",
        fs=500,
    )
    raises(write_text(tmp_path / "empty.csv", ""), "empty.csv", "no header row", fs=500)
    raises(
        write_text(tmp_path / "long.csv", f"{header}\n" + f"{row}\n" * 25),
        "long.csv",
        "holds at least 25 samples, more than the limit of 20",
        fs=500,
        max_samples=20,
    )
    (tmp_path / "bytes.csv").write_bytes(b"I,II\xff\xfe\n1,2\n")
    raises(tmp_path / "bytes.csv", "bytes.csv", "cannot read CSV header", fs=500)


def test_huge_csv_refused_by_size_without_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.write(b"I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6\n")
        handle.truncate(10 * 2**30)  # a header, then a sparse 10 GB run of NUL bytes
    if os.stat(path).st_blocks * 512 > 2**20:
        pytest.skip("file system does not support sparse files")
    start = time.perf_counter()
    raises(path, "huge.csv", "refusing to read it", fs=500)
    raises(path, "huge.csv", "refusing to read it", format="medalcare")
    assert time.perf_counter() - start < 1.0


def test_bad_cpsc2018_mat_files(tmp_path):
    scipy.io.savemat(tmp_path / "val.mat", {"val": np.zeros((12, 10))})
    raises(tmp_path / "val.mat", "val.mat", "no CPSC2018 struct `ECG`", "found: val")
    scipy.io.savemat(
        tmp_path / "A9.mat", {"ECG": {"sex": "Male", "age": 50, "data": np.ones((11, 100))}}
    )
    raises(tmp_path / "A9", "A9.mat", "12 x N numeric matrix; found shape (11, 100)")
    (tmp_path / "junk.mat").write_bytes(b"MATLAB 5.0" + bytes(range(256)) * 4)
    raises(tmp_path / "junk.mat", "junk.mat", "cannot read MATLAB file")
