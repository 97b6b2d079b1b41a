"""Reading a prepared cache: checksums verified, shards memory-mapped (format: cache.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import schemas
from keras_ecgpe.data.cache_format import (
    AGE_FIELD,
    DEMOGRAPHIC_FIELDS,
    FORMAT_VERSION,
    INDEX,
    INDEX_FIELDS,
    MANIFEST,
    MANIFEST_HASH_FIELD,
    QUALITY_FIELD,
    SEX_FIELD,
    SEX_VALUES,
    SPLITS,
    file_sha256,
    manifest_digest,
    manifest_key,
    refuse_occupied,
)
from keras_ecgpe.errors import ConfigError, ECGPEError
from keras_ecgpe.leads import CANONICAL_LEADS

if TYPE_CHECKING:
    import os
    from collections.abc import Sequence


class PreparedCache:
    """A finished prepared cache, opened for reading with memory-mapped shards.

    Use `PreparedCache.open(path)`; the constructor is internal. Signals are read lazily
    from the shards, so opening a multi-GB cache costs only the index (and the checksum
    pass when `verify=True`).

    Attributes:
        path, key, fs, dtype, label_names, settings, source, manifest: from the manifest.
        record_ids, patient_ids, splits: unicode `(n,)`; folds, lengths: int64 `(n,)`.
        labels, label_mask: float32 `(n, C)`.
        shard, offset: int64 `(n,)`, where each record lives.
        ages: float64 `(n,)` years, NaN unknown; sexes: unicode `(n,)` "M", "F" or ""
            (unknown). A cache written before these columns existed has every age NaN,
            every sex "" and `has_demographics` False.

    Example:

    ```python
    cache = PreparedCache.open("prepared/ptbxl")
    cache.signal(cache.indices("train")[0]).shape
    # (1000, 12)
    ```
    """

    def __init__(self, path: Path, manifest: dict, index: dict, shards: list):
        self.path, self.manifest = path, manifest
        self.key = manifest["key"]
        self.fs = float(manifest["fs"])
        self.dtype = manifest["dtype"]
        self.label_names = tuple(manifest["label_names"])
        self.settings, self.source = manifest["settings"], manifest["source"]
        self.record_ids, self.patient_ids = index["record_ids"], index["patient_ids"]
        self.splits, self.folds = index["splits"], index["folds"]
        self.labels, self.label_mask = index["labels"], index["label_mask"]
        self.shard, self.offset, self.lengths = index["shard"], index["offset"], index["length"]
        self.has_demographics = all(field in index for field in DEMOGRAPHIC_FIELDS)
        n = self.record_ids.shape[0]
        self.ages = index.get(AGE_FIELD, np.full(n, np.nan))
        self.sexes = index.get(SEX_FIELD, np.full(n, "", dtype="<U1"))
        self._has_quality_flags = QUALITY_FIELD in index
        self.quality_flags = index.get(QUALITY_FIELD, np.full(n, "", dtype="<U1"))
        self._shards = shards

    @property
    def n_records(self) -> int:
        return int(self.record_ids.shape[0])

    def __len__(self) -> int:
        return self.n_records

    def __repr__(self) -> str:
        return (
            f"PreparedCache({str(self.path)!r}, key={self.key}, n_records={self.n_records}, "
            f"fs={self.fs:g}, labels={list(self.label_names)})"
        )

    @property
    def has_partial_masks(self) -> bool:
        """True when some record leaves some class unannotated (`label_mask` < 1)."""
        return bool((self.label_mask < 1).any())

    @classmethod
    def open(cls, path: os.PathLike | str, *, verify: bool = True) -> PreparedCache:
        """Opens the cache at `path`, checking its structure and optionally its checksums.

        Args:
            path: the cache directory.
            verify: recompute the SHA-256 of every shard and of the index and compare them
                with the manifest (reads every byte once: about 1 s per GB).

        Raises:
            ECGPEError: no or invalid manifest (an unfinished or crashed write), a missing,
                truncated or corrupted shard or index; the message names the file.
        """
        path = Path(path)
        manifest = _read_manifest(path / MANIFEST)
        files = [path / INDEX] + [path / item["file"] for item in manifest["shards"]]
        for file in files:
            if not file.is_file():
                raise ECGPEError(f"{file}: missing from the cache listed in {path / MANIFEST}")
        if verify:
            expected = [manifest["index_sha256"]] + [item["sha256"] for item in manifest["shards"]]
            for file, sha in zip(files, expected):
                if file_sha256(file) != sha:
                    raise ECGPEError(
                        f"{file}: SHA-256 differs from {path / MANIFEST}; the file "
                        "is corrupted or was modified: prepare the cache again"
                    )
        index = _load_arrays(path / INDEX, "cache index", npz=True)
        shards = [_load_arrays(file, "cache shard", npz=False) for file in files[1:]]
        cache = cls(path, manifest, index, shards)
        cache._check_consistent()
        return cache

    @classmethod
    def find(
        cls, path: os.PathLike | str, key: str, *, verify: bool = True
    ) -> PreparedCache | None:
        """Returns the finished cache at `path` if its key is `key`, None if there is none.

        Raises:
            ConfigError: `path` holds a cache with another key, or other content.
            ECGPEError: the cache with this key fails `open` (e.g. a corrupted shard).
        """
        path = Path(path)
        if not (path / MANIFEST).is_file():
            refuse_occupied(path)  # a half-written or foreign directory is not reusable
            return None
        found = manifest_key(path)
        if found != key:
            raise ConfigError(
                f"{path} holds a cache prepared with other settings (key "
                f"{found}, wanted {key}); choose another directory or overwrite"
            )
        return cls.open(path, verify=verify)

    def signal(self, i: int) -> np.ndarray:
        """Returns record `i` as float32 `(time, 12)` mV (a read-only view for float32 caches)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(self):
            raise ConfigError(f"`i` must be a record index in [0, {len(self)}). Received: i={i!r}")
        start = int(self.offset[i])
        rows = self._shards[int(self.shard[i])][start : start + int(self.lengths[i])]
        return np.asarray(rows, dtype=np.float32)

    def indices(
        self,
        split: str | Sequence[str] | None = None,
        folds: int | Sequence[int] | None = None,
        *,
        exclude_flagged: bool = False,
    ) -> np.ndarray:
        """Record indices (ascending int64) in `split` and `folds`; None means any.

        Args:
            split: a split name or a list of them ("train", "validation", "test", "").
            folds: a fold number or a list of them.
            exclude_flagged: leave out records with signal-quality flags (`quality_flags`,
                written by `data prepare` under its default "flag" policy).

        Example:

        ```python
        cache.indices("train", folds=range(1, 9))
        ```
        """
        keep = np.ones(len(self), dtype=bool)
        if split is not None:
            names = [split] if isinstance(split, str) else list(split)
            unknown = sorted(set(names) - set(SPLITS))
            if unknown:
                raise ConfigError(f"`split` must be among {SPLITS}. Received: split={split!r}")
            keep &= np.isin(self.splits, names)
        if folds is not None:
            wanted = [folds] if isinstance(folds, (int, np.integer)) else list(folds)
            keep &= np.isin(self.folds, np.asarray(wanted, dtype=np.int64))
        if exclude_flagged:
            self.require_quality_flags()
            keep &= self.quality_flags == ""
        return np.flatnonzero(keep).astype(np.int64)

    @property
    def has_quality_flags(self) -> bool:
        """True when the index has the `quality_flags` column (caches of this version)."""
        return self._has_quality_flags

    def require_quality_flags(self) -> None:
        """Refuses to filter on flags a cache cannot have: nothing would be left out silently.

        Raises:
            ConfigError: the cache predates the `quality_flags` column, or was prepared with
                quality policy "keep" (which flags nothing).
        """
        policy = (self.settings.get("quality") or {}).get("policy")
        if not self.has_quality_flags or policy is None:
            raise ConfigError(
                f"{self.path}: prepared before signal-quality flags existed, so no record can "
                "be left out as flagged; prepare it again or do not exclude flagged records"
            )
        if policy == "keep":
            raise ConfigError(
                f"{self.path}: prepared with quality policy 'keep', which flags no record; "
                "prepare it with policy 'flag' or do not exclude flagged records"
            )

    def gather(self, rows: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """Reads a batch of windows: float32 `(len(rows), window, 12)`.

        Window `k` is samples `starts[k] : starts[k] + window` of record `rows[k]`. Each
        window is one contiguous slice copy out of its shard's memory map: measured 18x
        faster than one fancy-indexing read per shard (0.2 vs 3.8 ms for 64 x 2048 x 12),
        since fancy indexing copies row by row through an index array.

        Raises:
            ConfigError: a window outside its record.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        lengths = self.lengths[rows]
        if rows.shape != starts.shape or (starts < 0).any() or (starts + window > lengths).any():
            raise ConfigError(
                f"{self.path}: windows of {window} samples at {starts.tolist()} "
                f"fall outside records {rows.tolist()}"
            )
        out = np.empty((rows.shape[0], window, len(CANONICAL_LEADS)), dtype=np.float32)
        base = (self.offset[rows] + starts).tolist()
        for k, (s, b) in enumerate(zip(self.shard[rows].tolist(), base)):
            out[k] = self._shards[s][b : b + window]
        return out

    def _check_consistent(self) -> None:
        self._check_index_types()
        n, n_classes = self.manifest["n_records"], len(self.label_names)
        problems = [
            f"{field} has shape {getattr(self, attr).shape}"
            for field, attr, shape in (
                ("record_ids", "record_ids", (n,)),
                ("labels", "labels", (n, n_classes)),
                ("label_mask", "label_mask", (n, n_classes)),
                ("length", "lengths", (n,)),
                ("offset", "offset", (n,)),
                ("shard", "shard", (n,)),
                ("folds", "folds", (n,)),
                ("splits", "splits", (n,)),
                ("patient_ids", "patient_ids", (n,)),
                (AGE_FIELD, "ages", (n,)),
                (SEX_FIELD, "sexes", (n,)),
                (QUALITY_FIELD, "quality_flags", (n,)),
            )
            if getattr(self, attr).shape != shape
        ]
        if problems:
            raise ECGPEError(
                f"{self.path / INDEX}: does not match {MANIFEST} "
                f"({n} records, {n_classes} classes): {', '.join(problems)}"
            )
        for number, (item, array) in enumerate(zip(self.manifest["shards"], self._shards)):
            if array.shape != (item["n_samples"], len(CANONICAL_LEADS)) or array.dtype != np.dtype(
                self.dtype
            ):
                raise ECGPEError(
                    f"{self.path / item['file']}: holds {array.dtype} "
                    f"{array.shape}, {MANIFEST} says {self.dtype} "
                    f"({item['n_samples']}, 12)"
                )
            inside = self.shard == number
            # Compared without adding: a huge offset plus a length could wrap around int64.
            room = item["n_samples"] - self.offset[inside]
            if (room < 0).any() or (self.lengths[inside] > room).any():
                raise ECGPEError(
                    f"{self.path / INDEX}: records run past the end of "
                    f"{item['file']} as {MANIFEST} lists it"
                )
        if self.n_records and ((self.shard < 0) | (self.shard >= len(self._shards))).any():
            raise ECGPEError(f"{self.path / INDEX}: refers to shards that {MANIFEST} does not list")

    def _check_index_types(self) -> None:
        """Refuses index arrays of the wrong kind or with impossible values.

        A hand-made or damaged index with the right shapes would otherwise read wrong
        samples silently (a negative offset slices from the end of a shard).
        """
        kinds = {
            "record_ids": "U",
            "patient_ids": "U",
            "splits": "U",
            "folds": "i",
            "shard": "i",
            "offset": "i",
            "length": "i",
            "labels": "f",
            "label_mask": "f",
            AGE_FIELD: "f",
            SEX_FIELD: "U",
            QUALITY_FIELD: "U",
        }
        arrays = {
            "record_ids": self.record_ids,
            "patient_ids": self.patient_ids,
            "splits": self.splits,
            "folds": self.folds,
            "shard": self.shard,
            "offset": self.offset,
            "length": self.lengths,
            "labels": self.labels,
            "label_mask": self.label_mask,
            AGE_FIELD: self.ages,
            SEX_FIELD: self.sexes,
            QUALITY_FIELD: self.quality_flags,
        }
        wrong = [
            f"{field} is {arrays[field].dtype}"
            for field, kind in kinds.items()
            if arrays[field].dtype.kind != kind
        ]
        if not wrong:
            if (self.offset < 0).any() or (self.lengths < 1).any():
                wrong.append("negative offsets or empty records")
            if not np.isin(self.splits, SPLITS).all():
                wrong.append(f"splits outside {SPLITS}")
            if not (np.isfinite(self.labels).all() and np.isfinite(self.label_mask).all()):
                wrong.append("labels or label_mask not finite")
            if np.isinf(self.ages).any() or (self.ages < 0).any():
                wrong.append(f"{AGE_FIELD} negative or infinite")
            if not np.isin(self.sexes, SEX_VALUES).all():
                wrong.append(f"{SEX_FIELD} outside {SEX_VALUES}")
        if wrong:
            raise ECGPEError(f"{self.path / INDEX}: malformed index ({'; '.join(wrong)})")


# What np.load raises on damaged bytes. MemoryError: a damaged header can claim an absurd
# array shape, which np.load tries to allocate for an .npz member.
_UNREADABLE = (
    OSError,
    ValueError,
    KeyError,
    EOFError,
    zipfile.BadZipFile,
    NotImplementedError,
    MemoryError,
)


def _load_arrays(path: Path, what: str, *, npz: bool):
    """The index's arrays (`npz`) or a memory-mapped shard; never unpickles anything."""
    try:
        loaded = np.load(path, mmap_mode=None if npz else "r", allow_pickle=False)
        # np.load picks the format from the magic bytes, not from the file's name.
        archive = isinstance(loaded, np.lib.npyio.NpzFile)
        if archive:
            with loaded:
                arrays = (
                    {
                        field: loaded[field]
                        for field in INDEX_FIELDS + DEMOGRAPHIC_FIELDS + (QUALITY_FIELD,)
                        if field in INDEX_FIELDS or field in loaded.files
                    }
                    if npz
                    else None
                )
        if npz != archive:
            raise ValueError("not an .npz archive" if npz else "not an .npy array")
        return arrays if npz else loaded
    except _UNREADABLE as exc:  # e.g. truncated: shorter than its header says
        raise ECGPEError(f"{path}: unreadable {what} ({type(exc).__name__}: {exc})") from None


def _read_manifest(path: Path) -> dict:
    """Reads `manifest.json`: size cap, strict JSON, format version, then the schema."""
    if not path.parent.is_dir():  # say so, rather than suspect an interrupted write
        raise ECGPEError(
            f"{path.parent}: no such prepared cache (the folder does not exist, so there is "
            f"no {MANIFEST})"
        )
    if not path.is_file():
        raise ECGPEError(
            f"{path}: not found; the directory is not a finished prepared cache "
            "(an interrupted write leaves no manifest): prepare it again"
        )
    try:
        manifest = schemas.read_json(
            path, max_bytes=schemas.MAX_BYTES["cache_manifest"], what="cache manifest"
        )
    except OSError as exc:
        raise ECGPEError(f"{path}: unreadable manifest ({exc.strerror})") from None
    # The version first: a newer format deserves "prepare again", not a schema complaint.
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version is not None and version != FORMAT_VERSION:
        raise ECGPEError(
            f"{path}: cache format {version!r:.40}, this version of "
            f"keras_ecgpe reads format {FORMAT_VERSION}: prepare the cache again"
        )
    schemas.validate(manifest, "cache_manifest", path)
    if manifest[MANIFEST_HASH_FIELD] != manifest_digest(manifest):
        raise ECGPEError(
            f"{path}: its fields do not match their SHA-256 ({MANIFEST_HASH_FIELD}): the "
            "manifest was edited or damaged: prepare the cache again"
        )
    return manifest
