"""The prepared cache's on-disk format: file names, version, key and manifest helpers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import schemas
from keras_ecgpe.errors import ConfigError, ECGPEError

if TYPE_CHECKING:
    from typing import Any

FORMAT_VERSION = 1
SPLITS = ("train", "validation", "test", "")
DTYPES = ("float32", "float16")
MANIFEST = "manifest.json"
INDEX = "index.npz"
REPORT = "report.json"
INDEX_FIELDS = (
    "record_ids",
    "patient_ids",
    "splits",
    "folds",
    "shard",
    "offset",
    "length",
    "labels",
    "label_mask",
)
# Optional index column (absent in caches written before it existed, so never read as one
# of INDEX_FIELDS): per record the SHA-256 of the raw signal (see data/content_hash.py),
# "" where the writer was given none.
CONTENT_HASH_FIELD = "content_sha256"
# Optional index columns, per record, absent in caches written before they existed (those
# open with every age and sex unknown and `PreparedCache.has_demographics` False): age in
# years, float64, NaN unknown; sex one of SEX_VALUES ("" unknown), the spelling the readers
# use (`readers.common.parse_sex`). Metadata for the report's baseline table and subgroups,
# never model input.
AGE_FIELD = "ages"
SEX_FIELD = "sexes"
SEX_VALUES = ("F", "M", "")
DEMOGRAPHIC_FIELDS = (AGE_FIELD, SEX_FIELD)
# Optional index column (absent in caches written before it existed, which open with every
# record unflagged): per record the signal-quality problems `data prepare` found under the
# "flag" policy, "; "-joined ("" when clean or not checked); see data/quality.py.
QUALITY_FIELD = "quality_flags"
# The data-quality summary `data prepare` writes beside the index (data/quality_summary.py).
QUALITY_SUMMARY_FILES = ("data_quality.json", "data_quality.txt", "data_quality.png")
# The sealed-test ledger (evaluation/ledger.py) lives beside the cache's files. It is not in
# the manifest's checksums: it grows after the cache is finished.
LEDGER = "test_ledger.jsonl"
LEDGER_LOCK = "test_ledger.jsonl.lock"


def canonical_json(obj: Any, what: str) -> str:
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"`{what}` must be JSON-serialisable. Received: {obj!r} ({exc})"
        ) from None


def cache_key(source: dict, settings: dict) -> str:
    """Identifies a cache by what went into it: 16 hex digits of a SHA-256.

    The digest covers the canonical JSON (sorted keys) of `source`, `settings` and the
    cache format version, so any change of data, preprocessing or format gives a new key.

    Example:
    >>> cache_key({"name": "ptbxl"}, {"fs": 100}) == cache_key({"name": "ptbxl"}, {"fs": 100})
    True
    """
    canonical_json(source, "source")
    canonical_json(settings, "settings")
    text = canonical_json(
        {"format_version": FORMAT_VERSION, "source": source, "settings": settings}, "settings"
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# The manifest's own checksum: SHA-256 of the canonical JSON of every other field, so an
# edited fs, label list, normalisation or shard list is refused on open (not a signature:
# whoever edits the fields can recompute it; it catches careless and accidental changes).
MANIFEST_HASH_FIELD = "manifest_sha256"


def manifest_digest(manifest: dict) -> str:
    """SHA-256 of `manifest` without its `manifest_sha256` field (canonical JSON).

    Example:
    >>> manifest_digest({"fs": 100.0}) == manifest_digest({"fs": 100.0, "manifest_sha256": "x"})
    True
    """
    fields = {k: v for k, v in manifest.items() if k != MANIFEST_HASH_FIELD}
    return hashlib.sha256(canonical_json(fields, "manifest").encode("utf-8")).hexdigest()


def seal_manifest(manifest: dict) -> dict:
    """`manifest` with its `manifest_sha256` (see `manifest_digest`) set."""
    return {**manifest, MANIFEST_HASH_FIELD: manifest_digest(manifest)}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_key(path: Path) -> str | None:
    """The key in `path/manifest.json`, or None when there is no readable one."""
    try:
        manifest = schemas.read_json(
            path / MANIFEST, what="cache manifest", max_bytes=schemas.MAX_BYTES["cache_manifest"]
        )
    except (OSError, ECGPEError):
        return None
    key = manifest.get("key") if isinstance(manifest, dict) else None
    return key if isinstance(key, str) else None


def refuse_occupied(path: Path) -> None:
    """ConfigError when `path` exists and is not an empty directory."""
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    key = manifest_key(path)
    if key is not None:
        raise ConfigError(
            f"{path} already holds a prepared cache (key {key}); reuse it with "
            "PreparedCache.find, choose another directory, or overwrite it"
        )
    raise ConfigError(f"{path} exists and is not an empty directory; choose another directory")
