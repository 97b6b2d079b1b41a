"""CSV and MedalCare-XL readers, on files written in tmp_path from a real PTB-XL record.

The CSV and MedalCare-XL files here are fixtures (synthetic containers holding the real
samples of PTB-XL 06000_hr), not MedalCare-XL simulations.
"""

import pathlib

import numpy as np
import pytest

from keras_ecgpe.data.readers import read_record
from keras_ecgpe.errors import RecordError
from keras_ecgpe.leads import CANONICAL_LEADS

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"


@pytest.fixture(scope="module")
def original():
    return read_record(REAL / "ptbxl" / "records500" / "06000" / "06000_hr")


def write_csv(path, columns, names, first_line=None):
    with open(path, "w") as handle:
        if first_line:
            handle.write(first_line + "\n")
        handle.write(",".join(names) + "\n")
        np.savetxt(handle, np.stack(columns, axis=1), delimiter=",", fmt="%.9g")
    return path


def test_csv_round_trip_reorders_and_drops_extra_columns(tmp_path, original):
    order = [11, 0, 5, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    names = ["time"] + [CANONICAL_LEADS[i].lower() for i in order]
    time = np.arange(original.n_samples) / 500.0
    columns = [time] + [original.signal[:, i] for i in order]
    record = read_record(write_csv(tmp_path / "rec.csv", columns, names), fs=500)
    assert record.source_format == "csv" and record.fs == 500 and record.record_id == "rec"
    assert record.lead_policy == "reordered; dropped time"
    np.testing.assert_allclose(record.signal, original.signal, atol=1e-6)


def test_csv_fs_and_units_from_comment_line(tmp_path, original):
    columns = [original.signal[:, i] * 1000.0 for i in range(12)]
    path = write_csv(tmp_path / "uv.csv", columns, CANONICAL_LEADS, "# fs=500 units=uV")
    record = read_record(path)
    assert record.fs == 500 and record.units == "uV"
    np.testing.assert_allclose(record.signal, original.signal, atol=1e-6)
    assert read_record(path, fs=500.0).fs == 500  # agreeing fs is fine
    with pytest.raises(RecordError, match="uv.csv: fs=250 was given but the file says"):
        read_record(path, fs=250)


def test_missing_limb_leads_are_derived_and_reported(tmp_path, original):
    kept = ["I", "II"] + list(CANONICAL_LEADS[6:])
    columns = [original.signal[:, CANONICAL_LEADS.index(name)] for name in kept]
    record = read_record(write_csv(tmp_path / "limb.csv", columns, kept, "# fs=500"))
    assert record.lead_policy == "derived III,aVR,aVL,aVF from I and II"
    lead_i, lead_ii = record.signal[:, 0], record.signal[:, 1]
    exact = {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2,
        "aVL": lead_i - lead_ii / 2,
        "aVF": lead_ii - lead_i / 2,
    }
    for name, values in exact.items():
        derived = record.signal[:, CANONICAL_LEADS.index(name)]
        np.testing.assert_allclose(derived, values, atol=1e-6)
        # Einthoven/Goldberger hold on the real recording up to ADC rounding (1 uV steps).
        recorded = original.signal[:, CANONICAL_LEADS.index(name)]
        assert np.abs(derived - recorded).max() < 0.002
    np.testing.assert_array_equal(record.signal[:, 6:], original.signal[:, 6:])


def test_csv_without_precordial_leads_is_refused(tmp_path, original):
    names = list(CANONICAL_LEADS[:11])  # no V6
    columns = [original.signal[:, i] for i in range(11)]
    with pytest.raises(RecordError, match=r"no_v6.csv: missing precordial lead\(s\) V6"):
        read_record(write_csv(tmp_path / "no_v6.csv", columns, names), fs=500)


def medalcare_path(root: pathlib.Path, pathology_parts, variant="raw"):
    """A path in the release's layout (docs/background.md, "Data layouts"):
    .../<split>/run_<model>/<n>_<v>.csv"""
    folder = root / "MedalCare-XL" / "WP2_largeDataset_Noise" / pathlib.Path(*pathology_parts)
    folder.mkdir(parents=True)
    return folder / f"000014_{variant}.csv"


@pytest.mark.parametrize("leads_as_rows", [True, False])
def test_medalcare_fixture_both_orientations(tmp_path, original, leads_as_rows):
    path = medalcare_path(tmp_path, ["mi", "LAD_0.3", "train", "run_S65"])
    table = original.signal.T if leads_as_rows else original.signal
    np.savetxt(path, table, delimiter=",", fmt="%.9g")  # no header: the release has none
    record = read_record(path)
    assert record.source_format == "medalcare-csv" and record.fs == 500
    assert record.record_id == "000014_raw" and record.units == "mV"
    np.testing.assert_allclose(record.signal, original.signal, atol=1e-6)


def test_medalcare_by_format_argument_outside_the_release_tree(tmp_path, original):
    path = tmp_path / "sim.csv"
    np.savetxt(path, original.signal.T, delimiter=",", fmt="%.9g")
    with pytest.raises(RecordError, match="sim.csv: first row holds numbers"):
        read_record(path, fs=500)
    record = read_record(tmp_path / "sim", format="medalcare")
    np.testing.assert_allclose(record.signal, original.signal, atol=1e-6)


def test_medalcare_ambiguous_or_wrong_shape_is_refused(tmp_path):
    path = medalcare_path(tmp_path, ["sinus", "test", "run_S1"], "noise")
    rng = np.random.default_rng(0)  # synthetic values: only the shape matters here
    np.savetxt(path, rng.normal(size=(12, 12)), delimiter=",")
    with pytest.raises(
        RecordError,
        match="000014_noise.csv: expected 12 leads as rows or as columns; found a 12 x 12 table",
    ):
        read_record(path)
    np.savetxt(path, rng.normal(size=(100, 11)), delimiter=",")
    with pytest.raises(RecordError, match="found a 100 x 11 table"):
        read_record(path)
