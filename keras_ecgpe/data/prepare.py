"""Runs a dataset source through preprocessing once, in parallel, into a prepared cache.

Workers read and preprocess records; the parent process writes them to the cache in the
source's order, keeping at most a few records per worker in flight so memory stays
bounded however large the dataset (PTB-XL at 500 Hz is 5 GB of float32). Records that
cannot be used are skipped and listed in the cache's report with the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from keras_ecgpe.data.cache import CacheWriter, PreparedCache, cache_key
from keras_ecgpe.data.content_hash import content_sha256
from keras_ecgpe.data.file_stamps import record_file_stamps
from keras_ecgpe.data.isolation import CRASH_REASON, ordered_process_map
from keras_ecgpe.data.preprocessing import PreprocessConfig, apply_preprocessing
from keras_ecgpe.data.sources.base import DatasetSource, SkippedItem, SourceItem
from keras_ecgpe.data.splits import patient_stratified_kfold, patient_stratified_split
from keras_ecgpe.errors import ConfigError, ECGPEError


@dataclasses.dataclass(frozen=True)
class SplitSettings:
    """How records without an official split are split by patient (seeded, stratified)."""

    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    folds: int = 5
    seed: int = 0

    def to_dict(self) -> dict:
        return {"fractions": list(self.fractions), "folds": self.folds, "seed": self.seed}


def _process(source: DatasetSource, config: PreprocessConfig, item: SourceItem):
    """Worker body: `(signal, fs, None, raw content hash, (age, sex))`, or
    `(None, None, reason, None, None)`; age and sex as the source or the file gives them."""
    try:
        record = source.read(item)
        signal, fs = apply_preprocessing(record.signal, record.fs, config)
        return (
            np.ascontiguousarray(signal, dtype=np.float32),
            float(fs),
            None,
            content_sha256(record.signal),
            (record.age, record.sex),
        )
    except ECGPEError as exc:
        return None, None, str(exc), None, None


def _crashed(item: SourceItem):
    return None, None, CRASH_REASON, None, None


def describe_source(source: DatasetSource, items: Sequence[SourceItem]) -> dict:
    """What identifies the data: source name, root, options and a digest of its index.

    The digest covers every record path, label, patient and split, age and sex where the
    source's table gives them, and the size and modification time of each record's files,
    so an edited label table, manifest or rewritten record never reuses a stale cache.
    """
    digest = hashlib.sha256()
    # One listing per folder, not a glob per record: a glob lists the whole folder each
    # time, which made the index of a 21,837-record flat folder take 21 minutes.
    stamps = record_file_stamps([item.record_path for item in items])
    for item, files in zip(items, stamps, strict=True):
        entry = [
            item.record_path,
            list(item.labels),
            item.patient_id,
            item.split,
            item.fold,
            files,
        ]
        # Age and sex are metadata, not signal, but the cache index stores them for the
        # report: a corrected age or sex column must not reuse a cache holding the old
        # values. Appended only when the table has them, so sources without (ages from the
        # record files, already covered by their stamps) keep their earlier keys.
        if item.age is not None or item.sex is not None:
            entry.append([item.age, item.sex])
        digest.update(json.dumps(entry).encode())
    return {**source.describe(), "index_sha256": digest.hexdigest()}


def _assign_splits(items: list[SourceItem], label_names, settings: SplitSettings):
    """Official splits and folds where the source has them, else patient-level ones.

    Returns `(splits, folds, folds_from)`; `folds_from` says where the folds came from:
    "source" (a `fold` column of the dataset, e.g. site or time folds of a PE manifest,
    which cross-validation honours), "generated" (patient-level, seeded) or "none".
    """
    labels = np.array(
        [[name in item.labels for name in label_names] for item in items], dtype=np.float32
    )
    patients = [item.patient_id or item.record_id for item in items]
    if any(item.split for item in items):
        splits = [item.split or "" for item in items]
    else:
        splits = list(
            patient_stratified_split(
                labels, patients, fractions=settings.fractions, seed=settings.seed
            )
        )
    folds_from = "none"
    if any(item.fold is not None for item in items):
        folds = [None if item.fold is None else int(item.fold) for item in items]
        folds_from = "source"
    elif settings.folds > 1:
        folds_from = "generated"
        try:
            folds = [
                int(fold)
                for fold in patient_stratified_kfold(
                    labels, patients, k=settings.folds, seed=settings.seed
                )[0]
            ]
        except ConfigError as exc:
            raise ConfigError(
                f"cannot assign {settings.folds} patient-level folds: {exc}; "
                "use fewer folds (--folds 0 for none)"
            ) from exc
    else:
        folds = [None] * len(items)
    return splits, folds, folds_from


def prepare_dataset(
    source: DatasetSource,
    out_dir: os.PathLike | str,
    preprocess: PreprocessConfig,
    *,
    split: SplitSettings = SplitSettings(),
    dtype: str = "float32",
    workers: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    index: tuple[list[SourceItem], list[SkippedItem]] | None = None,
) -> tuple[PreparedCache, bool]:
    """Prepares `source` into a cache at `out_dir`, or reuses the one already there.

    Args:
        source: an indexed dataset source (see `keras_ecgpe.data.sources`).
        out_dir: the cache directory.
        preprocess: preprocessing applied to every record.
        split: patient-level split settings, used only when the source has no split.
        dtype: "float32" or "float16" storage.
        workers: processes reading in parallel (default: all cores); records are
            never read in this process, so a native reader crash costs one record.
        overwrite: replace a cache prepared with other settings instead of refusing, or
            an identical one written before caches stored age and sex.
        progress: called with the number of records handled since the last call.
        index: `source.index()` when the caller already has it (it reads the dataset's
            tables and checks every file, so it is not done twice).

    Returns:
        `(cache, reused)`: the opened cache and whether an identical one was reused.

    Raises:
        ConfigError: `out_dir` holds a cache prepared with other settings.
        ECGPEError: the source is unreadable or no record survived.
    """
    out_dir = Path(out_dir)
    items, skipped = source.index() if index is None else index
    skipped = list(skipped)
    settings = {"preprocess": preprocess.to_dict(), "split": split.to_dict(), "dtype": dtype}
    description = describe_source(source, items)
    key = cache_key(description, settings)
    if (out_dir / "manifest.json").exists():
        existing = PreparedCache.open(out_dir, verify=False)
        # The same key but no age/sex columns: written before they existed. Reused as it
        # is, unless `overwrite` asks for a cache that has them.
        if existing.key == key and (existing.has_demographics or not overwrite):
            return PreparedCache.open(out_dir, verify=True), True
        if not overwrite:
            raise ConfigError(
                f"{out_dir} holds a cache prepared with other settings (key {existing.key}, "
                f"now {key}); choose another --out or pass --overwrite"
            )
    elif out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise ConfigError(
            f"{out_dir} exists and is not an empty directory or a cache; choose another --out"
        )
    if not items:
        raise ECGPEError(
            f"{source.root}: no usable records found "
            f"({len(skipped)} skipped: {_summarise(skipped)})"
        )

    splits, folds, folds_from = _assign_splits(items, source.label_names, split)
    # Recorded in the manifest but not in the key: a cache prepared before the record
    # existed is still reused (its folds then read as of unknown origin).
    written_settings = {**settings, "folds_from": folds_from}
    writer: CacheWriter | None = None
    try:
        for position, (item, (signal, fs, reason, content, demographics)) in enumerate(
            ordered_process_map(
                _process,
                items,
                workers or os.cpu_count() or 1,
                source,
                preprocess,
                on_crash=_crashed,
            )
        ):
            if signal is not None and writer is None:
                writer = CacheWriter(
                    out_dir,
                    key=key,
                    source=description,
                    settings=written_settings,
                    fs=fs,
                    label_names=source.label_names,
                    dtype=dtype,
                    overwrite=overwrite,
                )
                for skip in skipped:
                    writer.skip(skip.record_id, skip.path, skip.reason)
            if signal is not None and fs != writer.fs:
                reason = (
                    f"sampling rate {fs:g} Hz differs from the cache's {writer.fs:g} Hz; "
                    "set a target sampling rate to resample every record"
                )
            if reason is not None:
                skipped.append(SkippedItem(item.record_id, item.record_path, reason))
                if writer is not None:
                    writer.skip(item.record_id, item.record_path, reason)
            else:
                labels = np.array([name in item.labels for name in source.label_names], np.float32)
                mask = (
                    None
                    if item.annotated is None
                    else np.array(
                        [name in item.annotated for name in source.label_names], np.float32
                    )
                )
                writer.add(
                    signal,
                    record_id=item.record_id,
                    patient_id=item.patient_id,
                    labels=labels,
                    label_mask=mask,
                    split=splits[position],
                    fold=folds[position],
                    content_sha256=content,
                    age=demographics[0],
                    sex=demographics[1],
                )
            if progress is not None:
                progress(1)
    except BaseException:
        if writer is not None:  # frees the cache folder's lock, drops the partial folder
            writer.abort()
        raise
    if writer is None:
        raise ECGPEError(
            f"{source.root}: none of {len(items)} records could be prepared ({_summarise(skipped)})"
        )
    return writer.close(), False


def _summarise(skipped: Sequence[SkippedItem], limit: int = 3) -> str:
    """The first few skip reasons, for error messages."""
    shown = "; ".join(f"{skip.record_id}: {skip.reason}" for skip in skipped[:limit])
    more = len(skipped) - limit
    return shown + (f"; and {more} more" if more > 0 else "")
