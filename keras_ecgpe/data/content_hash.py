"""Content hashes of ECG recordings, to find the same recording under two names.

Two hashes, because a prepared cache stores the signal after preprocessing:

- `content_sha256(signal)`: the RAW signal as a reader returns it (float32 mV, leads in
  canonical order, native sampling rate), rounded to whole microvolts before hashing so
  that two readers computing `(adc - baseline) / gain` with different float rounding still
  agree. `prepare_dataset` stores it per record in the cache index (column
  `content_sha256`), so caches prepared with DIFFERENT settings (sampling rate, filter,
  window) can still be compared: PTB-XL record 6000 and its CinC 2020/2021 copy HR06000
  hash alike.
- `stored_sha256(cache, i)`: the signal exactly as stored in one cache. Used for caches
  written before the index had the column, or by writers that gave no raw hash; equal
  stored hashes are duplicates, but records prepared with different settings never match.

See docs/study.md, "Leakage checks".
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.data.cache_format import CONTENT_HASH_FIELD, INDEX
from keras_ecgpe.errors import ConfigError, ECGPEError
from keras_ecgpe.leads import CANONICAL_LEADS

if TYPE_CHECKING:
    from keras_ecgpe.data.prepared_cache import PreparedCache

# Bumped whenever the definition changes, so old and new hashes can never be equal.
_RAW_TAG = b"keras_ecgpe content v1: int64 microvolts, (time, 12) C order\n"
_STORED_TAG = b"keras_ecgpe stored v1: float32 cache signal, (time, 12) C order\n"
RAW, STORED = "raw", "stored"


def content_sha256(signal: np.ndarray) -> str:
    """SHA-256 of a raw recording, robust to float rounding below 1 uV.

    Args:
        signal: `(time, 12)` real array in mV, canonical lead order, finite.

    Returns:
        64 lower-case hex digits.

    Raises:
        ConfigError: not `(time >= 1, 12)`, not real, or not finite.

    Example:
    >>> x = np.zeros((500, 12), np.float32)
    >>> content_sha256(x) == content_sha256(x.astype(np.float64) + 1e-9)
    True
    """
    x = np.asarray(signal)
    if (
        x.ndim != 2
        or x.shape[1] != len(CANONICAL_LEADS)
        or x.shape[0] < 1
        or not np.issubdtype(x.dtype, np.number)
        or np.iscomplexobj(x)
    ):
        raise ConfigError(
            f"`signal` must be a real (time >= 1, 12) array. Received: {x.dtype} {x.shape}"
        )
    with np.errstate(invalid="ignore", over="ignore"):
        microvolts = np.rint(x.astype(np.float64) * 1000.0)
    if not np.isfinite(microvolts).all() or (np.abs(microvolts) > 2.0**62).any():
        raise ConfigError("`signal` holds NaN, inf or values beyond 4.6e12 mV")
    digest = hashlib.sha256(_RAW_TAG)
    digest.update(np.asarray(x.shape, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(microvolts, dtype="<i8").tobytes())
    return digest.hexdigest()


def stored_sha256(cache: PreparedCache, i: int) -> str:
    """SHA-256 of record `i` exactly as `cache` stores it (float32 view of the shard)."""
    x = np.ascontiguousarray(cache.signal(i), dtype="<f4")
    digest = hashlib.sha256(_STORED_TAG)
    digest.update(np.asarray(x.shape, dtype="<i8").tobytes())
    digest.update(x.tobytes())
    return digest.hexdigest()


def raw_hashes(cache: PreparedCache) -> np.ndarray | None:
    """The raw content hashes the cache index holds, or None when it has none for some record.

    Returns:
        unicode `(n,)` of 64-hex strings in record order, or None when the index has no
        `content_sha256` column (a cache written before it existed) or leaves some record
        without one (a writer that was given no raw signal).

    Raises:
        ECGPEError: the index is unreadable or the column is malformed.
    """
    path = Path(cache.path) / INDEX
    try:
        with np.load(path, allow_pickle=False) as index:
            if CONTENT_HASH_FIELD not in index.files:
                return None
            column = index[CONTENT_HASH_FIELD]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ECGPEError(f"{path}: unreadable cache index ({type(exc).__name__}: {exc})") from None
    if column.dtype.kind != "U" or column.shape != (len(cache),):
        raise ECGPEError(
            f"{path}: column {CONTENT_HASH_FIELD} is {column.dtype} "
            f"{column.shape}, expected unicode ({len(cache)},)"
        )
    if (np.char.str_len(column) != 64).any():
        return None
    return column


def record_hashes(cache: PreparedCache, *, method: str | None = None) -> tuple[np.ndarray, str]:
    """Content hashes of every record of `cache`, raw where the index has them.

    Args:
        cache: an open `PreparedCache`.
        method: "raw" (error when the index lacks them), "stored" (hash the cached
            signals; reads every shard once), or None for raw when available, else stored.

    Returns:
        `(hashes, method)`: unicode `(n,)` and the method used.

    Raises:
        ConfigError: `method` is not one of the above, or "raw" for a cache without them.
    """
    if method not in (None, RAW, STORED):
        raise ConfigError(f"`method` must be 'raw', 'stored' or None. Received: {method!r}")
    if method != STORED:
        raw = raw_hashes(cache)
        if raw is not None:
            return raw, RAW
        if method == RAW:
            raise ConfigError(
                f"{cache.path}: the cache index holds no raw content hash for "
                "every record; prepare the cache again with this version"
            )
    return np.array([stored_sha256(cache, i) for i in range(len(cache))], dtype=np.str_), STORED
