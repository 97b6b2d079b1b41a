"""Bounded memory: every reader and option checks what it will allocate before allocating.

Large inputs are made without writing gigabytes: sparse files (`truncate`) and small
compressed .mat files that would inflate to hundreds of megabytes. The memory a refusal
costs is measured with tracemalloc (numpy's buffers are traced too). The signals are
SYNTHETIC (sines and zeros).
"""

from __future__ import annotations

import os
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
import scipy.io

from keras_ecgpe.config_documents import MAX_CONFIG_BYTES, MAX_NESTING
from keras_ecgpe.data.preprocessing import PreprocessConfig, pad_or_truncate, resample
from keras_ecgpe.data.readers import read_record
from keras_ecgpe.data.readers.csv_table import MAX_DATA_LINE_CHARS
from keras_ecgpe.errors import ConfigError, RecordError
from keras_ecgpe.limits import MAX_PREPARED_SAMPLES
from keras_ecgpe.training.config import TrainConfig

LEADS = "I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6"


def _peak_bytes(call) -> tuple[BaseException | None, int]:
    """Runs `call()`; returns (what it raised, peak traced bytes)."""
    tracemalloc.start()
    try:
        call()
    except Exception as exc:  # noqa: BLE001  (returned to the test, which checks its type)
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return None, peak


def _sparse(path, head: bytes, size: int):
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)
    if os.stat(path).st_blocks * 512 > 2**20:
        pytest.skip("file system does not support sparse files")
    return path


def test_one_190_mb_csv_line_costs_less_than_a_megabyte(tmp_path):
    """A header, then a 190 MB line (sparse NUL bytes): refused after 64 k of it."""
    path = _sparse(tmp_path / "wide.csv", f"# fs=500\n{LEADS}\n1,".encode(), 190 * 2**20)
    error, peak = _peak_bytes(lambda: read_record(path))
    assert isinstance(error, RecordError), error
    assert "wide.csv" in str(error) and f"longer than {MAX_DATA_LINE_CHARS}" in str(error)
    assert peak < 2**20, peak


def test_medalcare_lead_rows_may_be_long_but_not_longer_than_the_sample_cap(tmp_path):
    folder = tmp_path / "WP2_largeDataset_Noise" / "sinus"
    folder.mkdir(parents=True)
    t = np.arange(2000) / 500.0
    rows = np.stack([np.sin(2 * np.pi * (k + 1) * t) for k in range(12)])  # SYNTHETIC
    np.savetxt(folder / "x_raw.csv", rows, delimiter=",")
    assert read_record(folder / "x_raw.csv").signal.shape == (2000, 12)
    error, peak = _peak_bytes(lambda: read_record(folder / "x_raw.csv", max_samples=100))
    assert isinstance(error, RecordError) and "x_raw.csv" in str(error), error


def _ecg_struct(data):
    return {"ECG": {"sex": "Male", "age": 50, "data": data}}


def _mat_bomb(path, inflated_bytes: int):
    """A v5 MAT file of one miCOMPRESSED element inflating to `inflated_bytes` zeros."""
    packer, zeros = zlib.compressobj(1), bytes(2**20)
    stream = b"".join(packer.compress(zeros) for _ in range(inflated_bytes // len(zeros)))
    stream += packer.flush()
    header = b"MATLAB 5.0 MAT-file, SYNTHETIC".ljust(116) + bytes(8) + b"\x00\x01IM"
    path.write_bytes(header + struct.pack("<II", 15, len(stream)) + stream)
    return path


def test_compressed_mat_element_is_sized_before_it_is_inflated(tmp_path):
    """Under 1 MB on disk, 200 MB inflated: refused with under 2 MB of memory."""
    bomb = _mat_bomb(tmp_path / "A0001.mat", 200 * 2**20)
    assert bomb.stat().st_size < 2**20  # the file itself passes the size check
    error, peak = _peak_bytes(lambda: read_record(bomb))
    assert isinstance(error, RecordError), error
    assert "A0001.mat" in str(error) and "refusing to inflate" in str(error)
    assert peak < 2 * 2**20, peak
    small = tmp_path / "A0002.mat"
    scipy.io.savemat(small, _ecg_struct(np.zeros((12, 1000))), do_compression=True)
    with pytest.raises(RecordError, match="refusing to inflate"):
        read_record(small, max_samples=100)  # the cap follows max_samples


def test_compressed_mat_within_the_cap_still_reads(tmp_path):
    signal = np.sin(np.arange(12 * 5000.0) / 50).reshape(12, 5000)  # SYNTHETIC
    scipy.io.savemat(tmp_path / "A0003.mat", _ecg_struct(signal), do_compression=True)
    record = read_record(tmp_path / "A0003.mat")
    np.testing.assert_allclose(record.signal, signal.T, rtol=1e-6)


def test_corrupt_compressed_element_is_a_record_error(tmp_path):
    path = tmp_path / "A0004.mat"
    scipy.io.savemat(path, _ecg_struct(np.ones((12, 500))), do_compression=True)
    data = bytearray(path.read_bytes())
    data[140:160] = b"\xff" * 20  # inside the zlib stream after the first tag
    path.write_bytes(bytes(data))
    with pytest.raises(RecordError, match="A0004.mat"):
        read_record(path)


def test_resampled_and_padded_length_capped_before_allocating():
    x = np.zeros((5000, 12), np.float32)
    error, peak = _peak_bytes(lambda: resample(x, 500.0, 500.0 * 1000))
    assert isinstance(error, RecordError) and "limit of" in str(error), error
    assert peak < 2**20, peak
    with pytest.raises(RecordError, match=str(MAX_PREPARED_SAMPLES)):
        pad_or_truncate(x, 1000.0, 3600.0 * 2, pad="zero")
    for bad in ({"target_fs": 1e9}, {"target_fs": float("inf")}, {"duration_s": 1e7}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            PreprocessConfig(**bad)


def test_config_file_size_and_nesting_capped(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="deep.json: run configuration nested more than"):
        TrainConfig.from_file(deep)
    shallow_but_over = tmp_path / "nested.yaml"
    shallow_but_over.write_text("a: " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))
    with pytest.raises(ConfigError, match=f"more than {MAX_NESTING} levels"):
        TrainConfig.from_file(shallow_but_over)
    big = _sparse(tmp_path / "big.yaml", b"training:\n", MAX_CONFIG_BYTES + 1)
    with pytest.raises(ConfigError, match="big.yaml: more than"):
        TrainConfig.from_file(big)
    with pytest.raises(ConfigError, match="override 'model.overrides'"):
        TrainConfig().with_overrides(["model.overrides=" + "[" * 5000 + "]" * 5000])
