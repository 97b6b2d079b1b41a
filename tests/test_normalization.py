"""Per-lead normalisations and the streaming DatasetStandardizer on real records."""

import json
import pathlib

import numpy as np
import pytest
import wfdb

from keras_ecgpe.data.normalization import NORMALIZATIONS, DatasetStandardizer, normalize
from keras_ecgpe.errors import ConfigError, RecordError

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"


def _record(ecg_id):
    signal, _ = wfdb.rdsamp(str(REAL / f"ptbxl/records500/06000/0600{ecg_id}_hr"))
    return signal.astype(np.float32)


@pytest.fixture(scope="module")
def with_flat_leads():
    signal = _record(0)
    signal[:, 2] = 0.5  # flat, non-zero
    signal[:, 7] = 0.0  # all zeros
    return signal


@pytest.mark.parametrize("method", NORMALIZATIONS)
def test_every_method_keeps_shape_and_stays_finite(with_flat_leads, method):
    out = normalize(with_flat_leads, method)
    assert out.shape == with_flat_leads.shape and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    if method in ("minmax", "zscore", "robust", "l2", "log1p"):
        assert np.all(out[:, 7] == 0)
    if method in ("minmax", "zscore", "robust"):
        assert np.all(out[:, 2] == 0)


def test_what_each_method_promises(with_flat_leads):
    x = with_flat_leads.astype(np.float64)
    live = [lead for lead in range(12) if lead not in (2, 7)]
    z = normalize(x, "zscore")[:, live]
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-5)
    m = normalize(x, "minmax")[:, live]
    np.testing.assert_allclose([m.min(), m.max()], [0.0, 1.0], atol=1e-6)
    r = normalize(x, "robust")[:, live]
    q25, q50, q75 = np.percentile(r, [25, 50, 75], axis=0)
    np.testing.assert_allclose(q50, 0.0, atol=1e-5)
    np.testing.assert_allclose(q75 - q25, 1.0, rtol=1e-4)
    l2 = normalize(x, "l2")[:, live]
    np.testing.assert_allclose(np.linalg.norm(l2, axis=0), 1.0, rtol=1e-5)
    log = normalize(x, "log1p")
    np.testing.assert_allclose(log, np.sign(x) * np.log1p(np.abs(x)), rtol=1e-6)
    np.testing.assert_allclose(normalize(-x, "log1p"), -log, rtol=1e-6)  # defined below 0 mV
    assert np.array_equal(normalize(x, "none"), x.astype(np.float32))


def test_bad_inputs():
    with pytest.raises(ConfigError, match="normalize='std'"):
        normalize(np.zeros((10, 12)), "std")
    with pytest.raises(RecordError, match="shape"):
        normalize(np.zeros(10), "zscore")


def test_standardizer_streaming_fit_equals_numpy_on_concatenation():
    records = [_record(i) for i in range(4)]
    # Uneven pieces and an offset exercise the merge, not just equal halves.
    pieces = [records[0][:37], records[0][37:], records[1] + 100.0, records[2][:4001], records[3]]
    fitted = DatasetStandardizer().fit(iter(pieces))
    stacked = np.concatenate(pieces).astype(np.float64)
    np.testing.assert_allclose(fitted.mean, stacked.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(fitted.std, stacked.std(axis=0), rtol=1e-10)
    assert fitted.count == stacked.shape[0]
    restored = DatasetStandardizer.from_dict(json.loads(json.dumps(fitted.to_dict())))
    out = restored.transform(records[1])
    np.testing.assert_allclose(
        out, (records[1] - stacked.mean(0)) / stacked.std(0), rtol=1e-4, atol=1e-5
    )
    flat = DatasetStandardizer().fit([np.full((50, 12), 3.0)])
    assert np.all(flat.transform(np.full((5, 12), 3.0)) == 0)


def test_standardizer_errors():
    with pytest.raises(ConfigError, match="not fitted"):
        DatasetStandardizer().transform(np.zeros((5, 12)))
    with pytest.raises(ConfigError, match="no samples"):
        DatasetStandardizer().fit([])
    with pytest.raises(RecordError, match="11 leads"):
        DatasetStandardizer().fit([np.zeros((5, 12)), np.zeros((5, 11))])
    with pytest.raises(ConfigError, match="exactly the keys"):
        DatasetStandardizer.from_dict({"mean": [0.0], "std": [1.0], "count": 1, "var": [1.0]})
