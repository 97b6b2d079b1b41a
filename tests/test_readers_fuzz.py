"""Fuzz tests: malformed headers and damaged bytes give a record or a RecordError.

Nothing else may escape (no wfdb, scipy or numpy exception). Inputs are synthetic: header
lines combined from valid and broken pieces, random bytes, and small synthetic .mat/CSV
files with bytes overwritten or cut.
"""

import pathlib
import tempfile

import numpy as np
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_ecgpe.data.readers import read_record
from keras_ecgpe.errors import RecordError

# Header pieces, valid and broken, that the fuzz test combines into headers.
_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
_RECORD_LINE = st.builds(
    "rec {} {} {}".format,
    st.sampled_from(["12"] * 4 + ["2", "0", "99999999", "x"]),
    st.sampled_from(["500"] * 4 + ["0", "-1", "1e400", "250/1000(0)", ""]),
    st.sampled_from(["10"] * 3 + ["20", "", "0", "1000000000000"]),
)
_SIGNAL_LINE = st.builds(
    "rec.dat {} {} 16 0 0 0 0 {}".format,
    st.sampled_from(["16", "16+24", "212", "80", "8", "61", "24", "32", "310", "999", "16x2"]),
    st.sampled_from(["1000(0)/mV", "200/uV", "0/mV", "1/V", "5e-1(3)/mv", "7/mmHg", "nan"]),
    st.sampled_from(_LEADS + ["vx", "I", ""]),
)
_OTHER_LINE = st.one_of(
    st.sampled_from(
        [
            "rec.mat 12 500 10 05-May-2020 14:50:55",
            "~ 16 100 0 0 0 0 0 V3",
            "# Age: x",
            "#Dx: 1,2",
            "rec/2 2 500 10",
            "",
        ]
    ),
    st.text(max_size=40),
)


@st.composite
def headers(draw):
    """Mostly well-formed 12-lead headers with some fields broken, or random lines."""
    lines = [draw(_RECORD_LINE)] + [draw(_SIGNAL_LINE) for _ in range(12)]
    if draw(st.booleans()):  # well-formed signal lines for the 12 leads, in order
        fmt = draw(st.sampled_from(["16", "16+24", "212", "80"]))
        lines[1:] = [f"rec.dat {fmt} 1000(0)/mV 16 0 0 0 0 {lead}" for lead in _LEADS]
    extra = draw(st.lists(_OTHER_LINE, max_size=2))
    position = draw(st.integers(0, len(lines)))
    return lines[:position] + extra + lines[position:]


@settings(
    max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    lines=headers(), data=st.one_of(st.binary(max_size=64), st.binary(min_size=480, max_size=800))
)
def test_fuzzed_headers_and_bytes_give_a_record_or_record_error(lines, data):
    with tempfile.TemporaryDirectory() as tmp:
        base = pathlib.Path(tmp) / "rec"
        pathlib.Path(f"{base}.hea").write_text("\n".join(lines), errors="replace")
        pathlib.Path(f"{base}.dat").write_bytes(data)
        for path in (base, pathlib.Path(f"{base}.dat")):
            try:
                record = read_record(path, max_samples=10_000)
            except RecordError as error:
                assert "rec." in str(error)  # names rec.hea or rec.dat
            else:
                assert record.signal.shape[1] == 12


def _valid_files():
    """A small CPSC2018-style .mat and CSV (synthetic ramps) for the byte-level fuzz test."""
    with tempfile.TemporaryDirectory() as tmp:
        scipy.io.savemat(
            pathlib.Path(tmp) / "x.mat",
            {"ECG": {"sex": "Male", "age": 50, "data": np.arange(12 * 50.0).reshape(12, 50)}},
        )
        mat = (pathlib.Path(tmp) / "x.mat").read_bytes()
    rows = "\n".join(",".join(str(i * j) for j in range(12)) for i in range(30))
    return {
        ".mat": mat,
        ".csv": ("# fs=500\nI,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6\n" + rows + "\n").encode(),
    }


_VALID = _valid_files()


@settings(
    max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    ext=st.sampled_from([".mat", ".csv"]),
    cut=st.integers(0, 2000),
    noise=st.binary(max_size=40),
    medalcare=st.booleans(),
)
def test_fuzzed_mat_and_csv_bytes_give_a_record_or_record_error(ext, cut, noise, medalcare):
    data = _VALID[ext][:cut] + noise + _VALID[ext][cut + len(noise) :]
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / f"x{ext}"
        path.write_bytes(data)
        try:
            record = read_record(path, format="medalcare" if medalcare and ext == ".csv" else None)
        except RecordError as error:
            assert f"x{ext}" in str(error)
        else:
            assert record.signal.shape[1] == 12
