"""The record readers on every real PhysioNet record in shared/data/real-ecg.

Amplitudes are checked against an independent reading: the header parsed by hand here
and the signal file read raw with numpy (int16, interleaved), or the CPSC2018 struct read
raw with scipy; never through the readers' own code path (wfdb.rdrecord).
"""

import json
import pathlib

import numpy as np
import pytest
import scipy.io
import wfdb

from keras_ecgpe.data.readers import inspect_record, read_record
from keras_ecgpe.leads import CANONICAL_LEADS

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "v": 1e3}


def hand_read(hea: pathlib.Path):
    """Returns `(fs, {canonical lead: mV samples})` from the header text and raw int16."""
    lines = [
        line.split()
        for line in hea.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    n_sig, fs, sig_len = int(lines[0][1]), float(lines[0][2]), int(lines[0][3])
    leads, raw = {}, {}
    for fields in lines[1 : 1 + n_sig]:
        file_name, fmt, gain_field, adc_zero = fields[0], fields[1], fields[2], fields[4]
        offset = int(fmt.split("+")[1]) if "+" in fmt else 0
        gain_text, _, units = gain_field.partition("/")
        gain = float(gain_text.split("(")[0])
        baseline = int(gain_text.split("(")[1][:-1]) if "(" in gain_text else int(adc_zero)
        leads.setdefault(file_name, []).append((fields[-1], gain, baseline, units or "mV"))
        raw[file_name] = offset
    out = {}
    for file_name, channels in leads.items():
        samples = np.fromfile(hea.parent / file_name, dtype="<i2", offset=raw[file_name])
        samples = samples[: sig_len * len(channels)].reshape(sig_len, len(channels))
        for column, (name, gain, baseline, units) in enumerate(channels):
            lead = {n.lower(): n for n in CANONICAL_LEADS}.get(name.lower())
            if lead is not None:
                out[lead] = (samples[:, column] - baseline) / gain * _UNIT_TO_MV[units.lower()]
    return fs, out


WFDB_RECORDS = [
    # path, fs, samples, source_format, units, lead policy
    ("ptbxl/records100/00000/00001_lr", 100, 1000, "wfdb", "mV", "as recorded"),
    ("ptbxl/records500/06000/06000_hr", 500, 5000, "wfdb", "mV", "as recorded"),
    ("cinc/HR06000", 500, 5000, "cinc-mat", "mv", "as recorded"),
    ("cinc/E07500", 500, 5000, "cinc-mat", "mV", "as recorded"),
    ("cinc/JS00001", 500, 5000, "cinc-mat", "mV", "as recorded"),
    ("cinc/JS20000", 500, 5000, "cinc-mat", "mV", "as recorded"),
    ("cinc/E00666", 500, 5000, "cinc-mat", "mV", "header fix"),
    ("ptb/s0010_re", 1000, 38400, "wfdb", "mV", "dropped vx,vy,vz"),
    ("ludb/1", 500, 5000, "wfdb", "mV", "as recorded"),
]


@pytest.mark.parametrize("name,fs,n,source_format,units,policy", WFDB_RECORDS)
def test_wfdb_records_match_an_independent_reading(name, fs, n, source_format, units, policy):
    record = read_record(REAL / name)
    assert record.signal.dtype == np.float32 and record.signal.shape == (n, 12)
    assert record.fs == fs and record.n_samples == n
    assert record.source_format == source_format and record.units == units
    assert policy in record.lead_policy
    assert record.record_id == pathlib.Path(name).name
    hand_fs, hand = hand_read(REAL / f"{name}.hea")
    assert hand_fs == fs and sorted(hand) == sorted(CANONICAL_LEADS)
    for position, lead in enumerate(CANONICAL_LEADS):
        np.testing.assert_allclose(
            record.signal[:, position],
            hand[lead],
            rtol=1e-6,
            atol=1e-6,
            err_msg=f"{name} lead {lead}",
        )


def test_path_spellings_read_the_same_record():
    base = read_record(REAL / "cinc" / "E07500").signal
    for spelling in ("E07500.hea", "E07500.mat"):
        np.testing.assert_array_equal(read_record(REAL / "cinc" / spelling).signal, base)
    np.testing.assert_array_equal(read_record(str(REAL / "cinc" / "E07500")).signal, base)


def test_cinc_header_metadata():
    record = read_record(REAL / "cinc" / "HR06000")
    assert record.labels == ("164934002", "426783006")
    assert (record.age, record.sex) == (59.0, "F")
    js = read_record(REAL / "cinc" / "JS00001.hea")  # "#Age:" without a space
    assert (js.age, js.sex, js.labels) == (85.0, "M", ("164889003", "59118001", "164934002"))


def test_georgia_record_line_quirk_is_read_and_reported():
    # The quirk is real: plain wfdb refuses this header.
    with pytest.raises(wfdb.io.header.HeaderSyntaxError):
        wfdb.rdheader(str(REAL / "cinc" / "E00666"))
    record = read_record(REAL / "cinc" / "E00666.hea")
    assert "'E00666.mat', read as 'E00666'" in record.lead_policy
    assert record.record_id == "E00666" and (record.age, record.sex) == (77.0, "M")
    assert record.labels[0] == "428750005" and len(record.labels) == 5
    # First sample of lead I: raw int16 after the 24-byte MAT header, gain 1000, baseline 0.
    first = np.fromfile(REAL / "cinc" / "E00666.mat", dtype="<i2", offset=24, count=12)
    np.testing.assert_allclose(record.signal[0], first / 1000.0, atol=1e-7)
    assert first[0] == -39  # the header's initial value of lead I


def test_cinc_copy_equals_ptbxl_original():
    cinc = read_record(REAL / "cinc" / "HR06000")
    ptbxl = read_record(REAL / "ptbxl" / "records500" / "06000" / "06000_hr")
    np.testing.assert_array_equal(cinc.signal, ptbxl.signal)
    assert ptbxl.lead_policy == "as recorded"  # upper-case AVR etc. map without reordering


@pytest.mark.parametrize(
    "name,seconds,age,sex", [("A1980", 10.0, 52.0, "M"), ("A1981", 15.9, 48.0, "F")]
)
def test_cpsc2018_struct_matches_raw_scipy(name, seconds, age, sex):
    record = read_record(REAL / "cpsc2018" / name)  # without extension
    raw = scipy.io.loadmat(REAL / "cpsc2018" / f"{name}.mat")["ECG"]["data"][0, 0]
    assert record.source_format == "cpsc2018-mat" and record.fs == 500
    assert record.duration_s == pytest.approx(seconds)
    np.testing.assert_allclose(record.signal, raw.T, rtol=1e-6, atol=1e-7)
    assert (record.age, record.sex, record.labels) == (age, sex, ())


def test_ptb_frank_leads_dropped_and_patient_fields():
    record = read_record(REAL / "ptb" / "s0010_re")
    assert record.lead_policy == "dropped vx,vy,vz"
    assert (record.age, record.sex) == (81.0, "F")


def test_inspect_record_is_json_ready():
    summary = inspect_record(REAL / "ptb" / "s0010_re")
    assert json.loads(json.dumps(summary)) == summary
    assert summary["format"] == "wfdb" and summary["fs"] == 1000.0
    assert summary["n_samples"] == 38400 and summary["duration_s"] == 38.4
    assert summary["leads"] == list(CANONICAL_LEADS) and summary["units"] == "mV"
    assert summary["lead_policy"] == "dropped vx,vy,vz"
    assert summary["record"] == str(REAL / "ptb" / "s0010_re")
    cinc = inspect_record(REAL / "cinc" / "HR06001")
    assert cinc["labels"] == ["426783006", "55930002"] and cinc["sex"] == "F"


def test_readers_never_import_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys; from keras_ecgpe.data.readers import read_record; "
        f"read_record({str(REAL / 'ludb' / '1')!r}); print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
