"""Writing a prepared cache: streamed shards, atomic publish (see cache.py for the format)."""

from __future__ import annotations

import collections
import datetime
import hashlib
import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import keras_ecgpe
from keras_ecgpe.data import locks
from keras_ecgpe.data.atomic import (
    atomic_open,
    atomic_write_bytes,
    atomic_write_json,
    replace_directory,
)
from keras_ecgpe.data.cache_format import (
    AGE_FIELD,
    CONTENT_HASH_FIELD,
    DTYPES,
    FORMAT_VERSION,
    INDEX,
    INDEX_FIELDS,
    LEDGER,
    MANIFEST,
    QUALITY_FIELD,
    REPORT,
    SEX_FIELD,
    SPLITS,
    canonical_json,
    manifest_key,
    refuse_occupied,
    seal_manifest,
)
from keras_ecgpe.data.prepared_cache import PreparedCache
from keras_ecgpe.data.readers.common import parse_sex
from keras_ecgpe.errors import ConfigError, ECGPEError, RecordError
from keras_ecgpe.leads import CANONICAL_LEADS

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def normalise_demographics(
    age: float | None, sex: str | None, *, record_id: str, where: str | None = None
) -> tuple[float, str]:
    """The one place a record's age and sex take their cache form: `(years or NaN, "M"/"F"/"")`.

    Args:
        age: years >= 0, or None / NaN when unknown.
        sex: "M"/"F"/"male"/"female" (any case), or None / "" when unknown.
        record_id, where: named in the error.

    Raises:
        RecordError: an age that is negative, infinite or not a number, or a sex spelling
            `parse_sex` does not know (kept out rather than stored as unknown).

    Example:
    >>> normalise_demographics(None, "female", record_id="r1")
    (nan, 'F')
    """
    if age is None:
        years = float("nan")
    elif isinstance(age, bool) or not isinstance(age, (int, float, np.integer, np.floating)):
        raise RecordError(where, f"record {record_id!r}: age must be a number; got {age!r:.80}")
    else:
        years = float(age)
        if np.isinf(years) or years < 0:
            raise RecordError(
                where, f"record {record_id!r}: age must be >= 0 years or unknown; got {age!r}"
            )
    if sex is None or (isinstance(sex, str) and not sex.strip()):
        return years, ""
    code = parse_sex(sex)
    if code is None:
        raise RecordError(
            where, f"record {record_id!r}: sex must be M/F/male/female or unknown; got {sex!r:.80}"
        )
    return years, code


class CacheWriter:
    """Streams records into a new prepared cache, holding at most one shard in memory.

    Records are kept in the order they are added. Nothing is visible at `out_dir` until
    `close()` has written the index, the report and, last, the manifest into a temporary
    `<out_dir>.partial-<pid>` directory and renamed it. From construction to `close()` or
    `abort()` the writer holds `out_dir`'s lock (`keras_ecgpe.data.locks`): a second writer
    of the same folder is refused, naming this process.

    Args:
        out_dir: the cache directory; must not exist or be empty (unless `overwrite`).
        key: `cache_key(source, settings)`.
        source: JSON-safe description of the data (stored in the manifest).
        settings: JSON-safe preprocessing and split settings (stored in the manifest).
        fs: sampling rate of every record, Hz.
        label_names: the `C` class names, in label column order.
        dtype: storage type, "float32" or "float16" (halves disk and page cache; about
            3 significant digits, i.e. 1 uV steps at 1 mV).
        shard_bytes: a new shard starts when the next record would pass this size.
        overwrite: replace a cache or other content at `out_dir` at `close()`.

    Raises:
        ConfigError: a bad argument, or `out_dir` already holds something.

    Example:

    ```python
    writer = CacheWriter("/tmp/c", key="k", source={}, settings={}, fs=500.0,
                         label_names=["PE"])
    writer.add(np.zeros((5000, 12)), record_id="r1", labels=[1.0])
    cache = writer.close()
    ```
    """

    def __init__(
        self,
        out_dir: os.PathLike | str,
        *,
        key: str,
        source: dict,
        settings: dict,
        fs: float,
        label_names: Sequence[str],
        dtype: str = "float32",
        shard_bytes: int = 256 * 2**20,
        overwrite: bool = False,
    ):
        self.out_dir = Path(out_dir)
        if dtype not in DTYPES:
            raise ConfigError(f"`dtype` must be one of {DTYPES}. Received: dtype={dtype!r}")
        if isinstance(fs, bool) or not isinstance(fs, (int, float, np.number)) or not fs > 0:
            raise ConfigError(f"`fs` must be a positive number. Received: fs={fs!r}")
        if isinstance(shard_bytes, bool) or not isinstance(shard_bytes, int) or shard_bytes < 1:
            raise ConfigError(
                f"`shard_bytes` must be a positive integer. Received: shard_bytes={shard_bytes!r}"
            )
        names = [str(name) for name in label_names]
        if not names or len(set(names)) != len(names):
            raise ConfigError(
                f"`label_names` must be non-empty and unique. Received: label_names={names}"
            )
        canonical_json(source, "source")  # fail now, not at close() after hours of work
        canonical_json(settings, "settings")
        self.key, self.source, self.settings = str(key), dict(source), dict(settings)
        self.fs, self.label_names, self.dtype = float(fs), names, np.dtype(dtype).newbyteorder("<")
        self.shard_bytes, self.overwrite = shard_bytes, bool(overwrite)
        # One writer per cache folder until close()/abort(); taking the lock also removes
        # the partial folders of writers that were killed (data/locks.py).
        self._lock = locks.acquire(self.out_dir, "prepared cache")
        try:
            if not self.overwrite:
                refuse_occupied(self.out_dir)
            self.partial_dir = self.out_dir.with_name(f"{self.out_dir.name}.partial-{os.getpid()}")
            if self.partial_dir.exists():  # left by an earlier writer of this very process
                shutil.rmtree(self.partial_dir)
            self.partial_dir.mkdir(parents=True)
        except BaseException:
            self._lock.release()
            raise
        self._rows = {field: [] for field in INDEX_FIELDS}
        self._content_hashes: list = []
        self._ages: list = []
        self._sexes: list = []
        self._quality_flags: list = []
        self._seen: set = set()
        self._pending: list = []
        self._pending_samples = 0
        self._shards: list = []
        self._skipped: list = []
        self._closed = False

    @property
    def n_records(self) -> int:
        return len(self._rows["record_ids"])

    def add(
        self,
        signal: np.ndarray,
        *,
        record_id: str,
        patient_id: str | None = None,
        labels: ArrayLike,
        label_mask: ArrayLike | None = None,
        split: str | None = None,
        fold: int | None = None,
        path: str | None = None,
        content_sha256: str | None = None,
        age: float | None = None,
        sex: str | None = None,
        quality_flags: str = "",
    ) -> None:
        """Appends one record `(time, 12)` in mV, already preprocessed.

        Args:
            signal: `(time, 12)` float array, `time >= 1`, finite.
            record_id: unique within the cache.
            patient_id: patient identifier, or None when unknown.
            labels: `(C,)` label values (0/1 or soft) in `label_names` order.
            label_mask: `(C,)` 1 where the source annotates the class; default all ones.
            split: "train", "validation", "test" or None.
            fold: fold number >= 0, or None.
            path: the record's source file, used in error messages.
            content_sha256: `content_hash.content_sha256` of the record's RAW signal
                (before preprocessing), for leakage checks across caches; None if unknown.
            age: age in years (>= 0), or None / NaN when unknown.
            sex: "M"/"F" or a spelling `parse_sex` knows ("male", "female"), or None / ""
                when unknown; stored as "M", "F" or "".
            quality_flags: the record's signal-quality problems ("" when clean), stored in
                the index column `quality_flags` (see data/quality.py).

        Raises:
            RecordError: bad shape, NaN/inf, duplicate id, bad labels/split/fold/hash/age/sex.
        """
        self._check_open()
        record_id = str(record_id)
        where = path
        if not record_id:
            raise RecordError(where, "empty record_id")
        if record_id in self._seen:
            raise RecordError(where, f"duplicate record_id {record_id!r}: ids must be unique")
        x = np.asarray(signal)
        if x.ndim != 2 or x.shape[1] != len(CANONICAL_LEADS) or x.shape[0] < 1:
            raise RecordError(
                where, f"record {record_id!r}: signal must be (time >= 1, 12); got shape {x.shape}"
            )
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise RecordError(where, f"record {record_id!r}: signal dtype {x.dtype} is not real")
        with np.errstate(over="ignore", invalid="ignore"):  # reported just below
            x = np.ascontiguousarray(x, dtype=self.dtype)
        if not np.isfinite(x).all():
            raise RecordError(
                where,
                f"record {record_id!r}: signal holds NaN or inf "
                f"(or values beyond the {self.dtype.name} range)",
            )
        labels = self._class_vector(labels, "labels", record_id, where)
        mask = (
            np.ones(len(self.label_names), np.float32)
            if label_mask is None
            else self._class_vector(label_mask, "label_mask", record_id, where)
        )
        split = "" if split is None else str(split)
        if split not in SPLITS:
            raise RecordError(
                where,
                f"record {record_id!r}: split must be one of {SPLITS[:-1]} or None; got {split!r}",
            )
        if fold is None:
            fold = -1
        elif isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or fold < 0:
            raise RecordError(
                where, f"record {record_id!r}: fold must be an integer >= 0 or None; got {fold!r}"
            )
        if content_sha256 is not None and not (
            isinstance(content_sha256, str)
            and len(content_sha256) == 64
            and set(content_sha256) <= set("0123456789abcdef")
        ):
            raise RecordError(
                where,
                f"record {record_id!r}: content_sha256 must be 64 lower-case "
                f"hex digits or None; got {content_sha256!r:.80}",
            )
        age, sex = normalise_demographics(age, sex, record_id=record_id, where=where)
        if (
            self._pending
            and (self._pending_samples + x.shape[0]) * x.itemsize * x.shape[1] > self.shard_bytes
        ):
            self._flush_shard()
        self._seen.add(record_id)
        row = dict(
            record_ids=record_id,
            patient_ids="" if patient_id is None else str(patient_id),
            splits=split,
            folds=int(fold),
            shard=len(self._shards),
            offset=self._pending_samples,
            length=x.shape[0],
            labels=labels,
            label_mask=mask,
        )
        for field, value in row.items():
            self._rows[field].append(value)
        self._content_hashes.append(content_sha256 or "")
        self._ages.append(age)
        self._sexes.append(sex)
        self._quality_flags.append(str(quality_flags))
        self._pending.append(x)
        self._pending_samples += x.shape[0]

    def skip(self, record_id: str, path: os.PathLike | str | None, reason: str) -> None:
        """Notes a record that could not be used; it is listed in `report.json`."""
        self._check_open()
        self._skipped.append(
            {
                "record_id": str(record_id),
                "path": None if path is None else str(path),
                "reason": str(reason),
            }
        )

    def assign_splits(self, splits: Sequence[str | None], folds: Sequence[int | None]) -> None:
        """Replaces the split and fold of every record added so far (in the order added).

        `prepare_dataset` splits by patient only once every record is read, because records
        with the same signal (content hash) must land in the same split.

        Raises:
            RecordError: not one split and fold per record, or an invalid split or fold.
        """
        self._check_open()
        if len(splits) != self.n_records or len(folds) != self.n_records:
            raise RecordError(
                None,
                f"{len(splits)} splits and {len(folds)} folds for {self.n_records} records",
            )
        for record_id, split, fold in zip(self._rows["record_ids"], splits, folds):
            split = "" if split is None else str(split)
            if split not in SPLITS:
                raise RecordError(None, f"record {record_id!r}: split {split!r} not in {SPLITS}")
            if fold is not None and (isinstance(fold, bool) or int(fold) != fold or fold < 0):
                raise RecordError(None, f"record {record_id!r}: fold {fold!r} is not >= 0")
        self._rows["splits"] = ["" if split is None else str(split) for split in splits]
        self._rows["folds"] = [-1 if fold is None else int(fold) for fold in folds]

    def close(self, attachments: dict[str, bytes] | None = None) -> PreparedCache:
        """Writes the last shard, index, report and manifest, then publishes the cache.

        Args:
            attachments: `{file name: bytes}` written beside the index before the cache is
                published (the data-quality summary); not covered by the manifest's checksums.

        Returns:
            The finished cache, opened (checksums were computed while writing).

        Raises:
            ECGPEError: no record was added (the message summarises the skip reasons).
            ConfigError: another cache appeared at `out_dir` meanwhile.
        """
        self._check_open()
        if not self.n_records:
            self.abort()
            reasons = collections.Counter(skip["reason"] for skip in self._skipped)
            summary = "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(5))
            raise ECGPEError(
                f"{self.out_dir}: no records to write ({len(self._skipped)} "
                f"skipped{': ' + summary if summary else ''})"
            )
        if self._pending:
            self._flush_shard()
        index = self._write_index()
        for name, data in (attachments or {}).items():
            atomic_write_bytes(self.partial_dir / name, data)
        atomic_write_json(
            self.partial_dir / REPORT,
            {"records_read": self.n_records, "records_skipped": self._skipped},
        )
        atomic_write_json(
            self.partial_dir / MANIFEST,
            seal_manifest(
                {
                    "format_version": FORMAT_VERSION,
                    "key": self.key,
                    "source": self.source,
                    "settings": self.settings,
                    "fs": self.fs,
                    "n_leads": len(CANONICAL_LEADS),
                    "lead_order": list(CANONICAL_LEADS),
                    "label_names": self.label_names,
                    "dtype": self.dtype.name,
                    "n_records": self.n_records,
                    "shards": self._shards,
                    "index_sha256": index,
                    "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds"
                    ),
                    "keras_ecgpe_version": keras_ecgpe.__version__,
                }
            ),
        )
        self._closed = True
        try:
            return self._publish()
        finally:
            self._lock.release()

    def abort(self) -> None:
        """Discards everything written so far (the partial directory) and frees the folder."""
        self._closed = True
        shutil.rmtree(self.partial_dir, ignore_errors=True)
        self._lock.release()

    def _check_open(self) -> None:
        if self._closed:
            raise ECGPEError(f"{self.out_dir}: this CacheWriter is already closed")

    def _class_vector(self, values, name: str, record_id: str, where) -> np.ndarray:
        vector = np.asarray(values, dtype=np.float32)
        if vector.shape != (len(self.label_names),) or not np.isfinite(vector).all():
            raise RecordError(
                where,
                f"record {record_id!r}: {name} must be {len(self.label_names)}"
                f" finite values ({self.label_names}); got {values!r}",
            )
        return vector

    def _flush_shard(self) -> None:
        name = f"signals-{len(self._shards):05d}.npy"
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header,
            {
                "descr": np.lib.format.dtype_to_descr(self.dtype),
                "fortran_order": False,
                "shape": (self._pending_samples, len(CANONICAL_LEADS)),
            },
        )
        digest = hashlib.sha256()
        with atomic_open(self.partial_dir / name) as handle:
            # Streamed record by record: the shard is never copied into one big array.
            for chunk in [header.getvalue()] + [memoryview(x) for x in self._pending]:
                digest.update(chunk)
                handle.write(chunk)
        self._shards.append(
            {
                "file": name,
                "sha256": digest.hexdigest(),
                "n_records": len(self._pending),
                "n_samples": self._pending_samples,
            }
        )
        self._pending, self._pending_samples = [], 0

    def _write_index(self) -> str:
        rows = self._rows
        arrays = {
            "record_ids": np.array(rows["record_ids"], dtype=np.str_),
            "patient_ids": np.array(rows["patient_ids"], dtype=np.str_),
            "splits": np.array(rows["splits"], dtype=np.str_),
            "folds": np.array(rows["folds"], dtype=np.int64),
            "shard": np.array(rows["shard"], dtype=np.int64),
            "offset": np.array(rows["offset"], dtype=np.int64),
            "length": np.array(rows["length"], dtype=np.int64),
            "labels": np.stack(rows["labels"]).astype(np.float32),
            "label_mask": np.stack(rows["label_mask"]).astype(np.float32),
            CONTENT_HASH_FIELD: np.array(self._content_hashes, dtype=np.str_),
            AGE_FIELD: np.array(self._ages, dtype=np.float64),
            # "<U1" even when every sex is unknown, so the column's kind is always unicode.
            SEX_FIELD: np.array(self._sexes, dtype="<U1"),
            QUALITY_FIELD: np.array(self._quality_flags, dtype=np.str_),
        }
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        data = buffer.getvalue()
        atomic_write_bytes(self.partial_dir / INDEX, data)
        return hashlib.sha256(data).hexdigest()

    def _publish(self) -> PreparedCache:
        target = self.out_dir
        if target.exists() and not (target.is_dir() and not any(target.iterdir())):
            if not self.overwrite:
                existing = manifest_key(target)
                if existing == self.key:  # an identical cache was finished meanwhile
                    shutil.rmtree(self.partial_dir)
                    return PreparedCache.open(target, verify=False)
                self.abort()
                refuse_occupied(target)
            if (target / LEDGER).is_file():  # the test split's looks outlive a re-prepare
                shutil.copy2(target / LEDGER, self.partial_dir / LEDGER)
        replace_directory(self.partial_dir, target)
        return PreparedCache.open(target, verify=False)
