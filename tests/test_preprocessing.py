"""Filters, resampling, fixed length, windows and PreprocessConfig on sines and real ECGs."""

import json
import pathlib

import numpy as np
import pytest
import wfdb
from scipy import signal as sps

from keras_ecgpe.data import filters
from keras_ecgpe.data.preprocessing import (
    PreprocessConfig,
    apply_preprocessing,
    bandpass,
    centre_window,
    no_filter,
    pad_or_truncate,
    paper_default,
    resample,
    sliding_windows,
    wavelet_level,
)
from keras_ecgpe.errors import ConfigError, RecordError

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"


def _real(relative):
    signal, fields = wfdb.rdsamp(str(REAL / relative))
    return signal[:, :12].astype(np.float32), float(fields["fs"])


def _sine(freq, fs, duration_s=60.0, leads=2):
    t = np.arange(int(duration_s * fs)) / fs
    return np.repeat(np.sin(2 * np.pi * freq * t)[:, None], leads, axis=1).astype(np.float32)


def _gain_db(step, freq, fs):
    # RMS gain over the middle half, away from the filter's edge transients.
    x = _sine(freq, fs)
    y, out_fs = step(x, fs)
    assert out_fs == fs and y.shape == x.shape and y.dtype == np.float32
    middle = slice(len(x) // 4, 3 * len(x) // 4)
    return 20 * np.log10(np.std(y[middle, 0]) / np.std(x[middle, 0]))


@pytest.mark.parametrize("fs", [500.0, 100.0])
def test_bandpass_response_is_designed_at_the_records_fs(fs):
    gains = {f: _gain_db(bandpass, f, fs) for f in (0.3, 0.5, 1.0, 2.0, 3.0, 10.0, 40.0, 45.0)}
    assert gains[0.3] < -40 and gains[0.5] < -30  # baseline wander removed
    assert abs(gains[1.0] + 6.02) < 0.1 and abs(gains[45.0] + 6.02) < 0.1  # -3 dB per pass
    # The seed's 100-Hz design on 500-Hz data cut 2-3 Hz by 36-64 dB: here they pass.
    for freq in (2.0, 3.0, 10.0):
        assert abs(gains[freq]) < 0.1, (freq, gains[freq])
    assert gains[40.0] > -3.0


def test_bandpass_rejects_mains_at_500_hz():
    assert _gain_db(bandpass, 50.0, 500.0) < -10.0
    assert _gain_db(bandpass, 60.0, 500.0) < -20.0


def test_seed_design_bug_would_fail_these_thresholds():
    # Guards the test itself: the seed's wrong design must not pass the 2 Hz check.
    sos = sps.butter(4, [1.0, 45.0], btype="band", fs=100.0, output="sos")
    wrong = lambda x, fs: (sps.sosfiltfilt(sos, x, axis=0).astype(np.float32), fs)  # noqa: E731
    assert _gain_db(wrong, 2.0, 500.0) < -20.0
    assert _gain_db(wrong, 50.0, 500.0) > -1.0


def test_bandpass_is_zero_phase():
    fs = 500.0
    t = (np.arange(5000) - 2500) / fs
    qrs = np.exp(-0.5 * (t / 0.01) ** 2).astype(np.float32)[:, None]
    filtered, _ = bandpass(np.repeat(qrs, 12, axis=1), fs)
    assert np.all(np.argmax(filtered, axis=0) == 2500)
    causal = sps.sosfilt(sps.butter(4, [1.0, 45.0], btype="band", fs=fs, output="sos"), qrs[:, 0])
    assert np.argmax(causal) - 2500 >= 3  # one-way filtering shifts it 8 ms: the check can fail


def test_bandpass_checks_cutoffs_length_and_caches_design():
    x = np.zeros((5000, 12), np.float32)
    with pytest.raises(ConfigError, match=r"high_hz=45.0.*fs=80.0"):
        bandpass(x, 80.0)
    with pytest.raises(ConfigError, match="low_hz"):
        bandpass(x, 500.0, low_hz=0.0)
    with pytest.raises(RecordError, match="record of 20 samples too short"):
        bandpass(x[:20], 500.0)
    before = filters._butter_sos.cache_info().hits
    bandpass(x, 500.0, 0.7, 40.0)
    bandpass(x, 500.0, 0.7, 40.0)
    assert filters._butter_sos.cache_info().hits == before + 1


def test_resample_real_ptb_record_1000_to_500_hz():
    signal, fs = _real("ptb/s0010_re")
    assert fs == 1000.0
    out, out_fs = resample(signal, fs, 500.0)
    assert out_fs == 500.0 and out.dtype == np.float32
    assert out.shape == (signal.shape[0] // 2, 12)
    reference = sps.decimate(signal.astype(np.float64), 2, ftype="fir", axis=0, zero_phase=True)
    for lead in range(12):
        assert np.corrcoef(out[:, lead], reference[:, lead])[0, 1] > 0.99
    same, same_fs = resample(out, 500.0, 500)
    assert same_fs == 500.0 and np.array_equal(same, out)
    with pytest.raises(ConfigError, match="target_fs"):
        resample(out, 500.0, 0)


def test_paper_default_removes_baseline_wander_on_a_real_record():
    for record in ("ptbxl/records500/06000/06000_hr", "ptbxl/records100/00000/00001_lr"):
        signal, fs = _real(record)
        t = np.arange(signal.shape[0]) / fs
        wander = (1.0 * np.sin(2 * np.pi * 0.3 * t + 0.7)).astype(np.float32)[:, None]
        clean, _ = paper_default(signal, fs)
        dirty, out_fs = paper_default(signal + wander, fs)
        assert out_fs == fs and dirty.shape == signal.shape
        residual = np.std(dirty - clean) / np.std(wander)
        assert residual < (0.05 if fs == 500.0 else 0.1), (record, residual)
        # Heart content survives: 3-40 Hz of input and output agree.
        band = [bandpass(s, fs, 3.0, 40.0)[0] for s in (signal, clean)]
        assert np.corrcoef(band[0].ravel(), band[1].ravel())[0, 1] > 0.999


def test_paper_default_level_and_short_records():
    assert [wavelet_level(fs) for fs in (100, 500, 1000)] == [6, 8, 9]
    with pytest.raises(RecordError, match="too short for a level-8 db4"):
        paper_default(np.zeros((1000, 12), np.float32), 500.0)
    x = np.ones((300, 12))
    assert no_filter(x, 100)[0].dtype == np.float32


def test_pad_or_truncate():
    x = np.arange(1000, dtype=np.float32)[:, None].repeat(12, axis=1)
    centre, _ = pad_or_truncate(x, 100.0, 8.0)
    assert centre.shape == (800, 12) and centre[0, 0] == 100
    assert pad_or_truncate(x, 100.0, 8.0, mode="start")[0][0, 0] == 0
    with pytest.raises(RecordError, match="record shorter than 12.0 s"):
        pad_or_truncate(x, 100.0, 12.0)
    edge, _ = pad_or_truncate(x, 100.0, 12.0, pad="edge")
    assert edge.shape == (1200, 12) and edge[0, 0] == 0 and edge[-1, 0] == 999
    zero, _ = pad_or_truncate(x, 100.0, 12.0, mode="start", pad="zero")
    assert zero[999, 0] == 999 and np.all(zero[1000:] == 0)
    with pytest.raises(ConfigError, match="pad"):
        pad_or_truncate(x, 100.0, 12.0, pad="reflect")


def test_windows_cover_the_end():
    x = np.random.default_rng(0).normal(size=(1000, 12)).astype(np.float32)
    windows, starts = sliding_windows(x, 256, 200)
    assert starts.tolist() == [0, 200, 400, 600, 744]
    assert windows.shape == (5, 256, 12)
    for window, start in zip(windows, starts):
        assert np.array_equal(window, x[start : start + 256])
    assert np.array_equal(windows[-1][-1], x[-1])
    assert sliding_windows(x, 250, 250)[1].tolist() == [0, 250, 500, 750]
    assert np.array_equal(centre_window(x, 500), x[250:750])
    with pytest.raises(RecordError, match="1000 samples is shorter than window=2048"):
        sliding_windows(x, 2048, 1024)
    with pytest.raises(ConfigError, match="stride"):
        sliding_windows(x, 100, 0)


def test_config_is_strict_and_fingerprinted():
    config = PreprocessConfig()
    assert PreprocessConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    unknown = r"unknown preprocessing option\(s\) \['lowpass'\].*target_fs"
    with pytest.raises(ConfigError, match=unknown):
        PreprocessConfig.from_dict({"lowpass": 40})
    with pytest.raises(ConfigError, match="normalize.*'z'"):
        PreprocessConfig(normalize="z")
    with pytest.raises(ConfigError, match="high_hz"):
        PreprocessConfig(target_fs=80.0)
    with pytest.raises(ConfigError, match="duration_s"):
        PreprocessConfig(duration_s=-1)
    assert PreprocessConfig(target_fs=500).fingerprint() == config.fingerprint()
    changed = {
        PreprocessConfig(high_hz=40.0).fingerprint(),
        PreprocessConfig(normalize="robust").fingerprint(),
        PreprocessConfig(filter="paper_default").fingerprint(),
        PreprocessConfig(duration_s=10.0).fingerprint(),
    }
    assert len(changed) == 4 and config.fingerprint() not in changed


def test_apply_preprocessing_on_real_ptb_record():
    signal, fs = _real("ptb/s0010_re")
    config = PreprocessConfig(target_fs=500.0, duration_s=10.0, normalize="zscore")
    out, out_fs = apply_preprocessing(signal, fs, config)
    assert out_fs == 500.0 and out.shape == (5000, 12) and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4)
    broken = signal.copy()
    broken[100, 3] = np.nan
    with pytest.raises(RecordError, match="1 NaN/inf samples"):
        apply_preprocessing(broken, fs, config)
