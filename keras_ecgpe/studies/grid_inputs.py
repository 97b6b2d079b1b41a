"""What the cells of a study share, built once and reused by key.

- the SYNTHETIC demo data (`<out>/demo-data`), written when the study asks for it;
- prepared caches, one per (dataset, preprocessing): `<out>/caches/<name>-<fingerprint>`;
  `prepare_dataset` reuses a cache whose key matches, so a second worker or a resumed
  study finds it ready;
- pretraining runs, one per (pretraining source, preprocessing, architecture, window,
  settings): `<out>/pretrain/<name>-<hash>`; a finished run (`run.json`) is reused, an
  unfinished one (killed) is continued.

Each is built under a lock (`keras_ecgpe.data.locks`, on `<folder>-build`), so two
workers never build the same thing at once: the second waits, then reuses it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import messages, run_directory
from keras_ecgpe.data.atomic import atomic_write_json
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from keras_ecgpe.data.prepared_cache import PreparedCache
    from keras_ecgpe.studies.grid_spec import Cell, StudySpec
    from keras_ecgpe.training.config import TrainConfig

DEMO_DIR = "demo-data"
CACHES = "caches"
PRETRAIN = "pretrain"
_WAIT_S = 2.0


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def locked(target: Path, what: str) -> _Held:
    """`with locked(target, what):` waits while another worker builds `target`, then holds
    the right to build it for the block.

    The lock is that of a sibling name (`<target>-build`): the writers inside the block
    (a cache writer, a training run) take `target`'s own lock themselves.
    """
    from keras_ecgpe.data.locks import LockedError, acquire

    while True:
        try:
            return _Held(acquire(target.with_name(f"{target.name}-build"), what))
        except LockedError:
            time.sleep(_WAIT_S)


class _Held:
    def __init__(self, lock):
        self.lock = lock

    def __enter__(self):
        return self.lock

    def __exit__(self, *exc) -> None:
        self.lock.release()


def demo_data(spec: StudySpec, out: Path) -> Path:
    """Writes the SYNTHETIC demo data the study asks for (once); returns its folder."""
    from keras_ecgpe.data.synthetic import write_demo

    folder = out / DEMO_DIR
    stamp = folder / "study-demo.json"
    with locked(folder, "demo data folder"):
        if stamp.is_file() and json.loads(stamp.read_text("utf-8")) == spec.data.demo:
            return folder
        demo = spec.data.demo
        write_demo(folder, n_ptbxl=demo["n_ptbxl"], n_pe=demo["n_pe"], seed=demo["seed"])
        atomic_write_json(stamp, demo)
    return folder


def _source(name: str, root: str, options: dict):
    from keras_ecgpe.data.sources.registry import make_source

    return make_source(name, root, **options)


def _prepared(source, folder: Path, preprocess: dict) -> PreparedCache:
    from keras_ecgpe.data.prepare import prepare_dataset
    from keras_ecgpe.data.preprocessing import PreprocessConfig

    with locked(folder, "prepared cache"):
        cache, _ = prepare_dataset(source, folder, PreprocessConfig.from_dict(preprocess))
    return cache


def cohort_cache(spec: StudySpec, out: Path, preprocess: dict | None) -> PreparedCache:
    """The cohort's cache with `preprocess` (prepared once per fingerprint), or the fixed
    cache of `data.cache`."""
    from keras_ecgpe.data.cache import PreparedCache
    from keras_ecgpe.data.preprocessing import PreprocessConfig

    data = spec.data
    if data.cache is not None:
        return PreparedCache.open(data.cache)
    if data.demo is not None:
        source = _source("pe", str(demo_data(spec, out) / "pe_synthetic" / "manifest.csv"), {})
        name = "pe"
    else:
        source, name = _source(data.source, data.root, data.options), data.source
    fingerprint = PreprocessConfig.from_dict(preprocess).fingerprint()[:12]
    return _prepared(source, out / CACHES / f"{name}-{fingerprint}", preprocess)


def pretraining_cache(spec: StudySpec, out: Path, name: str, preprocess: dict | None) -> str:
    """The cache pretraining source `name` trains on, prepared with the cell's
    preprocessing (or its own fixed cache)."""
    from keras_ecgpe.data.preprocessing import PreprocessConfig

    entry = spec.pretraining[name]
    if entry.cache is not None:
        return entry.cache
    if entry.demo is not None:
        source = _source(
            "ptbxl",
            str(demo_data(spec, out) / "ptbxl_synthetic"),
            {"task": "superdiagnostic", "sampling_rate": 100},
        )
    else:
        source = _source(entry.source, entry.root, entry.options)
    if preprocess is None:
        raise ConfigError(
            f"{spec.source}: at pretraining.{name}: a cohort given as a fixed cache has no "
            "preprocessing to prepare the pretraining data with; give the pretraining data "
            "as a cache or a finished run"
        )
    fingerprint = PreprocessConfig.from_dict(preprocess).fingerprint()[:12]
    folder = out / CACHES / f"pretrain-{name}-{fingerprint}"
    return str(_prepared(source, folder, preprocess).path)


def pretraining_config(spec: StudySpec, cell: Cell, cache: str) -> TrainConfig:
    """The pretraining run's configuration: the base settings, the source's own settings,
    and the cell's architecture and window (what the fine-tuned model inherits)."""
    from keras_ecgpe.training.config import TrainConfig  # noqa: F811 (runtime import)

    inherited = {
        key: value
        for key, value in cell.settings.items()
        if key.startswith("model.") or key in ("data.window_s", "data.standardize")
    }
    entry = spec.pretraining[cell.pretraining]
    return TrainConfig().with_values(
        {**spec.settings, **inherited, **entry.settings, "data.cache": cache}
    )


def pretrained_run(spec: StudySpec, out: Path, cell: Cell, *, progress: bool) -> Path:
    """The pretrained run of `cell` (its pretraining source, built once per key)."""
    from keras_ecgpe.data.cache import PreparedCache
    from keras_ecgpe.training.trainer import train_run

    entry = spec.pretraining[cell.pretraining]
    if entry.run is not None:
        run_directory.locate_run(entry.run)
        return Path(entry.run)
    cache = pretraining_cache(spec, out, cell.pretraining, cell.preprocess)
    config = pretraining_config(spec, cell, cache)
    key = _digest({"config": config.to_dict(), "cache_key": PreparedCache.open(cache).key})
    run_dir = out / PRETRAIN / f"{cell.pretraining}-{key}"
    say = messages.progress_reporter(__name__)
    with locked(run_dir, "pretraining run"):
        status = run_directory.run_status(run_dir)
        if status == "finished":
            return run_dir
        say(f"Pretraining {cell.pretraining} for {cell.label}: {run_dir}")
        train_run(config, run_dir, progress=progress, resume=status == "unfinished")
    return run_dir


def fold_fingerprint(cache: PreparedCache, spec: StudySpec, seed: int) -> list:
    """The record ids of every part of every fold on `cache` (what must be equal across
    the cells' caches)."""
    from keras_ecgpe.studies.cv_plan import plan_folds

    folds = plan_folds(
        cache,
        k=spec.folds["k"],
        repeats=spec.folds["repeats"],
        seed=seed,
        inner_validation=spec.folds["inner_validation"],
        max_train_records=spec.folds["max_train_records"],
    )
    return [fold.to_dict(cache) for fold in folds]


def check_same_folds(caches: dict, spec: StudySpec, seed: int) -> None:
    """Refuses caches (one per preprocessing) whose folds would hold other records: a
    preprocessing that skipped records would make cells incomparable.

    Args:
        caches: `{description: PreparedCache}`.
    """
    first = None
    for what, cache in caches.items():
        folds = fold_fingerprint(cache, spec, seed)
        if first is None:
            first = (what, folds)
        elif folds != first[1]:
            raise ConfigError(
                f"{spec.source}: the cache of {what} ({cache.path}) holds other records than "
                f"that of {first[0]}, so the cells' folds would differ (a preprocessing "
                "setting skipped records; see the caches' skipped lists)"
            )
