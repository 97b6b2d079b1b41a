"""Runs a dataset source through preprocessing once, in parallel, into a prepared cache.

Workers read and preprocess records; the parent process writes them to the cache in the
source's order, keeping at most a few records per worker in flight so memory stays
bounded however large the dataset (PTB-XL at 500 Hz is 5 GB of float32). Records that
cannot be used are skipped and listed in the cache's report with the reason.

Every record read is also checked for signal quality (`data/quality.py`) and handled by the
quality policy (keep, flag, skip); records are split by patient only after all are read,
so that recordings present twice (equal raw content hash) land in one split. What was read,
skipped, flagged and ignored is summarised in the cache's `data_quality.json`
(`data/quality_summary.py`).
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
from keras_ecgpe.data.quality import QualitySettings, check_record
from keras_ecgpe.data.quality_summary import (
    JSON_FILE,
    QualityLog,
    class_names,
    marked_synthetic,
    summary_json,
)
from keras_ecgpe.data.sources.base import DatasetSource, SkippedItem, SourceItem
from keras_ecgpe.data.splits import (
    duplicate_groups,
    patient_stratified_kfold,
    patient_stratified_split,
)
from keras_ecgpe.errors import ConfigError, ECGPEError


@dataclasses.dataclass(frozen=True)
class SplitSettings:
    """How records without an official split are split by patient (seeded, stratified).

    Attributes:
        fractions: train, validation, test shares (sum 1; a 0 leaves that split empty,
            e.g. `(0.8, 0.2, 0)` for a small set with no test split).
        folds: patient-level folds to assign when the source has none (0 or 1: none).
        seed: seed of the generated split and folds.
        all_train: every record in `train`, official splits included (a pretraining-only
            source: nothing of it is ever tested on).
    """

    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    folds: int = 5
    seed: int = 0
    all_train: bool = False

    def to_dict(self) -> dict:
        values = {"fractions": list(self.fractions), "folds": self.folds, "seed": self.seed}
        return {**values, "all_train": True} if self.all_train else values

    @classmethod
    def from_dict(cls, values: dict | None) -> SplitSettings:
        """Settings from a config mapping (`fractions`, `folds`, `seed`, `all_train`)."""
        values = dict(values or {})
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown split setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        if "fractions" in values:
            values["fractions"] = tuple(values["fractions"])
        return cls(**values)


def _process(
    source: DatasetSource, config: PreprocessConfig, quality: QualitySettings, item: SourceItem
):
    """Worker body: `(signal, fs, None, raw content hash, (age, sex), check)`, or
    `(None, None, reason, None, None, None)`; age and sex as the source or the file gives
    them; `check` is `(raw fs, raw samples, RecordQuality)` of the raw recording."""
    try:
        record = source.read(item)
        check = (record.fs, record.n_samples, check_record(record.signal, record.fs, quality))
        signal, fs = apply_preprocessing(record.signal, record.fs, config)
        return (
            np.ascontiguousarray(signal, dtype=np.float32),
            float(fs),
            None,
            content_sha256(record.signal),
            (record.age, record.sex),
            check,
        )
    except ECGPEError as exc:
        return None, None, str(exc), None, None, None


def _crashed(item: SourceItem):
    return None, None, CRASH_REASON, None, None, None


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
        # Classes decided by metadata (PTB-XL's heart axis) change a record's label mask
        # without changing its labels; appended only when present, as above.
        if item.findings:
            entry.append([[code, present] for code, present in item.findings])
        digest.update(json.dumps(entry).encode())
    return {**source.describe(), "index_sha256": digest.hexdigest()}


def _assign_splits(
    items: list[SourceItem],
    label_names,
    settings: SplitSettings,
    content_hashes: Sequence[str] | None = None,
    generated: set[str] | frozenset[str] = frozenset(),
):
    """Official splits and folds where the source has them, else patient-level ones.

    Generated splits and folds keep each patient, and each recording present more than
    once (equal `content_hashes`), on one side (`splits.duplicate_groups`). Records whose
    source split was generated (`generated`: record ids, e.g. a multi-source set's
    sources without an official split) follow a duplicate with an official split.

    Returns `(splits, folds, folds_from)`; `folds_from` says where the folds came from:
    "source" (a `fold` column of the dataset, e.g. site or time folds of a PE manifest,
    which cross-validation honours), "generated" (patient-level, seeded) or "none".
    """
    labels = np.array(
        [[name in item.labels for name in label_names] for item in items], dtype=np.float32
    )
    patients = duplicate_groups(
        [item.patient_id or item.record_id for item in items],
        content_hashes or [""] * len(items),
    )
    if settings.all_train:
        splits = ["train"] * len(items)
    elif any(item.split for item in items):
        splits = [item.split or "" for item in items]
        if generated:
            splits = _follow_duplicates(items, splits, patients, generated)
    else:
        try:
            splits = list(
                patient_stratified_split(
                    labels, patients, fractions=settings.fractions, seed=settings.seed
                )
            )
        except ConfigError as exc:
            raise ConfigError(
                f"cannot split {len(items)} records by patient: {exc}; give other "
                "fractions (`split_fractions`, e.g. 0.8,0.2,0 for no test split; "
                "config: data.split.fractions), or `all_train=True` for a pretraining-only "
                "source (config: data.split.all_train: true)"
            ) from exc
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
                "use fewer folds (`folds=0` for none; config: data.split.folds)"
            ) from exc
    else:
        folds = [None] * len(items)
    return splits, folds, folds_from


def _follow_duplicates(items, splits, groups, generated) -> list[str]:
    """Moves records with a generated split into their group's official split.

    A group is a patient or a recording present more than once (`duplicate_groups`). Its
    first record with an official split sets the split; a group with none takes the split
    of its first record, so duplicates never straddle splits unless two official splits
    disagree (then they are reported, not moved).
    """
    target: dict[int, str] = {}
    for item, split, group in zip(items, splits, groups):
        if item.record_id not in generated and split:
            target.setdefault(group, split)
    for split, group in zip(splits, groups):
        target.setdefault(group, split)
    return [
        target[group] if item.record_id in generated else split
        for item, split, group in zip(items, splits, groups)
    ]


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
    quality: QualitySettings | None = None,
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
        quality: signal-quality thresholds and policy (keep, flag or skip); None means
            the defaults (policy "flag"); see `keras_ecgpe.data.quality`.

    Returns:
        `(cache, reused)`: the opened cache and whether an identical one was reused.

    Raises:
        ConfigError: `out_dir` holds a cache prepared with other settings.
        ECGPEError: the source is unreadable or no record survived.
    """
    out_dir = Path(out_dir)
    quality = QualitySettings() if quality is None else quality
    items, skipped = source.index() if index is None else index
    skipped = list(skipped)
    settings = {
        "preprocess": preprocess.to_dict(),
        "split": split.to_dict(),
        "dtype": dtype,
        "quality": quality.to_dict(),
    }
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
                f"now {key}); choose another `out` or pass `overwrite=True`"
            )
    elif out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise ConfigError(
            f"{out_dir} exists and is not an empty directory or a cache; choose another `out`"
        )
    if not items:
        raise ECGPEError(
            f"{source.root}: no usable records found "
            f"({len(skipped)} skipped: {_summarise(skipped)})"
        )

    # Fails fast on settings that cannot split these records; the splits written are
    # made once every record is read (duplicates known, unreadable records left out).
    _, _, folds_from = _assign_splits(items, source.label_names, split)
    # Recorded in the manifest but not in the key: a cache prepared before the record
    # existed is still reused (its folds then read as of unknown origin).
    written_settings = {**settings, "folds_from": folds_from}
    writer: CacheWriter | None = None
    log = QualityLog(quality, len(items) + len(skipped))
    for skip in skipped:
        log.skip(skip.record_id, skip.path, skip.reason)
    cached: list[SourceItem] = []
    hashes: list[str] = []
    try:
        for item, (signal, fs, reason, content, demographics, check) in ordered_process_map(
            _process,
            items,
            workers or os.cpu_count() or 1,
            source,
            preprocess,
            quality,
            on_crash=_crashed,
        ):
            if check is not None:
                log.read(item.record_id, check[0], check[1], check[2])
                if check[2].problems and quality.policy == "skip":
                    reason = f"signal quality: {check[2].describe()}"
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
                log.skip(item.record_id, item.record_path, reason)
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
                    content_sha256=content,
                    age=demographics[0],
                    sex=demographics[1],
                    quality_flags=check[2].describe() if quality.policy == "flag" else "",
                )
                cached.append(item)
                hashes.append(content)
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
    try:
        splits, folds, _ = _assign_splits(
            cached,
            source.label_names,
            split,
            hashes,
            frozenset(getattr(source, "generated_splits", ())),
        )
        writer.assign_splits(splits, folds)
        summary = log.summary(
            source=description,
            record_ids=[item.record_id for item in cached],
            splits=splits,
            labels=np.array(
                [[name in item.labels for name in source.label_names] for item in cached],
                dtype=np.float32,
            ).reshape(len(cached), len(source.label_names)),
            label_names=source.label_names,
            display_names=class_names(source.label_names, source.label_vocabulary),
            content_hashes=hashes,
            ignored_codes=source.ignored_labels(),
            splits_from="all train"
            if split.all_train
            else "source"
            if any(item.split for item in cached)
            else "generated",
            synthetic=description.get("synthetic") is True or marked_synthetic(source.root),
        )
    except BaseException:
        writer.abort()
        raise
    return writer.close(attachments={JSON_FILE: summary_json(summary)}), False


def _summarise(skipped: Sequence[SkippedItem], limit: int = 3) -> str:
    """The first few skip reasons, for error messages."""
    shown = "; ".join(f"{skip.record_id}: {skip.reason}" for skip in skipped[:limit])
    more = len(skipped) - limit
    return shown + (f"; and {more} more" if more > 0 else "")
