"""Real preprocessed windows of a run's prepared cache, for calibration and verification.

Quantised export calibrates on TRAINING windows and verification runs on VALIDATION
windows, both cut from the cache the run was trained on, the way evaluation cuts them
(sliding windows every `eval_stride` samples, the last one ending at the record's end)
and standardised with the run's own constants. There is no fallback to random numbers:
without the cache, or with a split that holds no records, export stops with a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.cache import PreparedCache
from keras_ecgpe.data.pipeline import evaluation_windows
from keras_ecgpe.errors import ECGPEError
from keras_ecgpe.export.tflite import ExportError
from keras_ecgpe.inference import contract_io

if TYPE_CHECKING:
    import os

DEFAULT_CALIBRATION_SAMPLES = 300


def open_run_cache(
    contract: dict,
    override: os.PathLike | str | None = None,
    run_dir: os.PathLike | str | None = None,
) -> PreparedCache:
    """Opens the prepared cache named by the contract (or `override`) and checks it fits.

    A relative path in the contract is resolved from `run_dir` (`contract_io.cache_path`),
    so a run can be exported from any working folder.

    Raises:
        ExportError: no cache named, cache missing or corrupted, or another cache than the
            run's (key, sampling rate or labels differ).
    """
    path = override if override is not None else contract_io.cache_path(contract, run_dir)
    if path is None:
        raise ExportError(
            "the contract names no prepared cache (data.cache): export needs "
            "the run's real data to calibrate and verify; pass --cache DIR"
        )
    try:
        cache = PreparedCache.open(path)
    except ECGPEError as exc:
        raise ExportError(
            f"cannot open the run's prepared cache: {exc}; export needs its "
            "real data to calibrate and verify (pass --cache DIR)"
        ) from None
    key = contract_io.cache_key(contract)
    if key is not None and cache.key != key:
        raise ExportError(
            f"{path}: cache key {cache.key} is not the run's {key}; pass the "
            "cache the model was trained on"
        )
    if cache.fs != contract_io.fs(contract):
        raise ExportError(
            f"{path}: cache fs {cache.fs:g} Hz, contract {contract_io.fs(contract):g} Hz"
        )
    if list(cache.label_names) != contract_io.label_names(contract):
        raise ExportError(
            f"{path}: cache labels {list(cache.label_names)} differ from the "
            f"contract's {contract_io.label_names(contract)}"
        )
    return cache


def split_plan(
    cache: PreparedCache,
    contract: dict,
    split: str,
    limit: int | None = None,
    seed: int = 0,
    mode: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which windows of one split to read: `(rows, starts)` int64 arrays.

    Args:
        cache: the run's `PreparedCache`.
        contract: the run's contract.
        split: "train", "validation" or "test".
        limit: keep at most this many windows, drawn without replacement (seeded) and kept
            in cache order; None keeps all.
        seed: seed of that draw.
        mode: "sliding" or "centre"; default the contract's `eval_mode`.

    Raises:
        ExportError: the split has no record as long as a window.
    """
    window, stride = contract_io.window(contract), contract_io.stride(contract)
    indices = cache.indices(split)
    indices = indices[cache.lengths[indices] >= window]
    if not indices.size:
        raise ExportError(
            f"{cache.path}: no {split} record of at least {window} samples; "
            f"export needs real {split} windows (never random numbers)"
        )
    rows, starts = evaluation_windows(
        cache, indices, window=window, stride=stride, mode=mode or contract_io.eval_mode(contract)
    )
    if limit is not None and rows.size > limit:
        keep = np.sort(np.random.default_rng(seed).choice(rows.size, limit, replace=False))
        rows, starts = rows[keep], starts[keep]
    return rows, starts


def read_windows(
    cache: PreparedCache, contract: dict, rows: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Reads and standardises windows: float32 `(n, window, 12)`.

    Raises:
        ExportError: the windows hold NaN or inf.
    """
    window = contract_io.window(contract)
    windows = cache.gather(rows, starts, window)
    standardizer = contract_io.standardizer(contract)
    if standardizer is not None:
        flat = standardizer.transform(windows.reshape(-1, windows.shape[-1]))
        windows = flat.reshape(windows.shape)
    bad = int(windows.size - np.count_nonzero(np.isfinite(windows)))
    if bad:
        raise ExportError(
            f"{cache.path}: {bad} NaN/inf values in windows of records "
            f"{sorted(set(np.asarray(rows).tolist()))[:10]}; prepare the "
            "cache again"
        )
    return windows.astype(np.float32, copy=False)


def calibration_windows(
    cache: PreparedCache, contract: dict, n: int = DEFAULT_CALIBRATION_SAMPLES, seed: int = 0
) -> np.ndarray:
    """Up to `n` real training windows for post-training quantisation.

    Example:

    ```python
    windows = calibration_windows(open_run_cache(contract), contract)
    ```
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ExportError(f"--calibration-samples must be a positive integer. Received: {n!r}")
    # Sliding windows whatever the evaluation mode: calibration wants varied inputs.
    rows, starts = split_plan(cache, contract, "train", limit=int(n), seed=seed, mode="sliding")
    return read_windows(cache, contract, rows, starts)
