"""`run_study`: every cell of a study grid cross-validated on the same folds, resumably.

Layout of the output folder:

    study.json                  the resolved study: spec, cells, folds (first written)
    demo-data/, caches/         inputs built once (`grid_inputs.py`)
    pretrain/<source>-<key>/    pretraining runs, one per key
    cells/<cell id>/            one cross-validation per cell (`cross_validate` layout)
    cells/<cell id>/cell.json   written last, atomically: the cell is finished
    searches/<cell id>/<fold>/  the trials of a cell's hyperparameter search (with `search:`)
    optuna.sqlite3              the searches' storage (with `search:` and no storage URL)
    study_table.csv, study_results.json, study_summary.txt, forest.png, report.*

Every cell uses the cohort's folds dealt with the base `training.seed` (the folds of every
cache are checked to hold the same records), so paired per-fold differences are paired.
A finished cell is skipped; an unfinished one continues from its last finished fold (and
that fold's last epoch). Workers (`workers=N` processes here, or the same command on other
machines sharing the folder) take cells one at a time under each cell's folder lock; cells
with a search are searched by every worker together, then finished by one.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import messages
from keras_ecgpe.data.atomic import atomic_write_json
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.formatting import format_number
from keras_ecgpe.studies import grid_inputs

if TYPE_CHECKING:
    import os

    from keras_ecgpe.studies.grid_spec import Cell, StudySpec
    from keras_ecgpe.training.config import TrainConfig

STUDY_FILE = "study.json"
CELLS = "cells"
CELL_DONE = "cell.json"
_ALLOWED = {
    STUDY_FILE,
    CELLS,
    grid_inputs.DEMO_DIR,
    grid_inputs.CACHES,
    grid_inputs.PRETRAIN,
    "optuna.sqlite3",
    "study_table.csv",
    "study_results.json",
    "study_summary.txt",
    "forest.png",
    "report.txt",
    "report.html",
    "report.json",
    "final",
    "searches",
}

log = logging.getLogger(__name__)


def cell_dir(out: Path, cell: Cell) -> Path:
    return out / CELLS / cell.id


def is_done(out: Path, cell: Cell) -> bool:
    return (cell_dir(out, cell) / CELL_DONE).is_file()


def _base_seed(spec: StudySpec) -> int:
    from keras_ecgpe.training.config import TrainConfig

    return TrainConfig().with_values(spec.settings).training.seed


def _check_out(out: Path, spec: StudySpec) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: the study folder is an existing file")
    if out.is_dir():
        names = {p.name for p in out.iterdir() if not p.name.startswith(".")}
        if names and STUDY_FILE not in names:
            raise ConfigError(f"{out}: not empty and not a previous study; choose another `out`")
        if names - _ALLOWED:
            raise ConfigError(
                f"{out}: holds {', '.join(sorted(names - _ALLOWED))}, which a study does not "
                "write; choose another `out`"
            )
    if STUDY_FILE in (names if out.is_dir() else ()):
        saved = json.loads((out / STUDY_FILE).read_text("utf-8"))
        if saved.get("name") != spec.name:
            raise ConfigError(
                f"{out}: holds study {saved.get('name')!r}, not {spec.name!r}; choose another `out`"
            )


def prepare_inputs(spec: StudySpec, out: Path) -> dict:
    """Prepares every cohort cache the cells need, checks that their folds hold the same
    records, and writes `study.json`; returns `{cell id: cache path}`."""
    caches, by_preprocess = {}, {}
    for cell in spec.cells():
        key = json.dumps(cell.preprocess, sort_keys=True)
        if key not in by_preprocess:
            by_preprocess[key] = grid_inputs.cohort_cache(spec, out, cell.preprocess)
        caches[cell.id] = str(by_preprocess[key].path)
    described = {f"preprocessing {key}": cache for key, cache in by_preprocess.items()}
    seed = _base_seed(spec)
    grid_inputs.check_same_folds(described, spec, seed)
    record = {
        "name": spec.name,
        "study_file": spec.source,
        "spec": spec.to_dict(),
        "reference": spec.reference_cell().id,
        "caches": caches,
        "fold_seed": seed,
        "test_split": "not used by any cell: kept for one final evaluation",
    }
    atomic_write_json(out / STUDY_FILE, record)
    return caches


def cell_config(
    spec: StudySpec, out: Path, cell: Cell, cache: str, *, progress: bool
) -> tuple[TrainConfig, dict | None]:
    """The `TrainConfig` a cell's folds train with (transfer cells: from their pretrained
    run, as `compare`'s arms are)."""
    from keras_ecgpe.studies.comparison import arm_configs
    from keras_ecgpe.studies.transfer_leakage import check_transfer_leakage
    from keras_ecgpe.training.config import TrainConfig  # noqa: F811 (runtime import)

    config = TrainConfig().with_values({**cell.settings, "data.cache": cache})
    if cell.transfer == "scratch":
        return config, None
    run = grid_inputs.pretrained_run(spec, out, cell, progress=progress)
    leakage = check_transfer_leakage(
        run, cache, accept=spec.accept_leakage, splits=("test", "train", "validation")
    )
    return arm_configs(config, run, [cell.transfer])[cell.transfer], leakage


def _folds(spec: StudySpec, cache: str, seed: int):
    from keras_ecgpe.data.cache import PreparedCache
    from keras_ecgpe.studies.cv_plan import plan_folds

    return plan_folds(
        PreparedCache.open(cache, verify=False),
        k=spec.folds["k"],
        repeats=spec.folds["repeats"],
        seed=seed,
        inner_validation=spec.folds["inner_validation"],
        max_train_records=spec.folds["max_train_records"],
    )


def _search_prefix(spec: StudySpec, cell: Cell) -> str:
    return f"{spec.name}/{cell.id}"


def join_searches(spec: StudySpec, out: Path, cell: Cell, cache: str, *, progress: bool) -> None:
    """Runs trials of the cell's unfinished fold searches alongside other workers."""
    from keras_ecgpe.studies import grid_search
    from keras_ecgpe.studies.cv_summary import HELDOUT_FILE

    config, _ = cell_config(spec, out, cell, cache, progress=progress)
    storage = grid_search.open_storage(
        grid_search.storage_url(spec.search, out), spec.search.heartbeat_s
    )
    folder = cell_dir(out, cell)
    for fold in _folds(spec, cache, config.training.seed):
        if (folder / "cv" / fold.name / HELDOUT_FILE).is_file():
            continue
        grid_search.search_fold(
            spec.search,
            storage,
            f"{_search_prefix(spec, cell)}/{fold.name}",
            config,
            fold,
            out / grid_search.SEARCH_DIR / cell.id / fold.name,
            progress=progress,
        )


def run_cell(spec: StudySpec, out: Path, cell: Cell, cache: str, *, progress: bool) -> dict:
    """Cross-validates one cell (continuing what a killed attempt left) and writes its
    `cell.json` last; returns that record."""
    from keras_ecgpe.studies import grid_search
    from keras_ecgpe.studies.cross_validation import cross_validate

    folder = cell_dir(out, cell)
    config, leakage = cell_config(spec, out, cell, cache, progress=progress)
    trainer = None
    if spec.search is not None:
        trainer = grid_search.fold_trainer(
            spec.search,
            grid_search.storage_url(spec.search, out),
            _search_prefix(spec, cell),
            out / grid_search.SEARCH_DIR / cell.id,
        )
    summary = cross_validate(
        config,
        folder,
        k=spec.folds["k"],
        repeats=spec.folds["repeats"],
        max_train_records=spec.folds["max_train_records"],
        inner_validation=spec.folds["inner_validation"],
        progress=progress,
        resume=True,
        write_reports=False,
        train_fold=trainer,
    )
    record = {
        "cell": cell.to_dict(),
        "cache": cache,
        "init_from": config.transfer.init_from,
        "leakage": leakage,
        "summary": summary,
    }
    atomic_write_json(folder / CELL_DONE, record)  # last: marks the cell finished
    return record


def _claim(out: Path, cell: Cell):
    """The cell's folder lock, or None when another worker holds it."""
    from keras_ecgpe.data.locks import LockedError, acquire

    folder = cell_dir(out, cell)
    try:  # a sibling name: the cross-validation inside may lock the cell's folder itself
        return acquire(folder.with_name(f"{folder.name}-build"), "study cell")
    except LockedError:
        return None


def _count_done(out: Path, cells: list) -> int:
    return sum(is_done(out, c) for c in cells)


def work(spec: StudySpec, out: Path, caches: dict, *, inner_progress: bool) -> int:
    """One worker: takes every unfinished cell no other worker holds; returns the number
    of cells it finished."""
    say = messages.progress_reporter(__name__)
    cells = spec.cells()
    finished = 0
    for number, cell in enumerate(cells, 1):
        tag = f"[cell {number}/{len(cells)}]"
        if is_done(out, cell):
            continue
        if spec.search is not None:
            join_searches(spec, out, cell, caches[cell.id], progress=inner_progress)
        lock = _claim(out, cell)
        if lock is None:
            say(f"{tag} {cell.label}: taken by another worker")
            continue
        try:
            if is_done(out, cell):
                continue
            say(f"{tag} started: {cell.label}")
            record = run_cell(spec, out, cell, caches[cell.id], progress=inner_progress)
        finally:
            lock.release()
        finished += 1
        primary = record["summary"]["primary"]
        say(
            f"{tag} finished: {cell.label}: fold-mean AUROC {format_number(primary['mean'])}"
            f" +- {format_number(primary['sd'])} ({primary['n_folds']} folds); "
            f"{_count_done(out, cells)}/{len(cells)} cells done"
        )
    return finished


def _worker_entry(spec: StudySpec, out: str, caches: dict, level: int, inner: bool) -> int:
    messages.configure(level)
    return work(spec, Path(out), caches, inner_progress=inner)


def _verbosity() -> int:
    level = logging.getLogger(messages.PACKAGE).getEffectiveLevel()
    if level <= logging.DEBUG:
        return messages.VERBOSE
    return messages.NORMAL if level <= logging.INFO else messages.QUIET


def wait_for_cells(out: Path, cells: list) -> None:
    """Waits for cells other workers (other machines) are still running."""
    for cell in cells:
        if is_done(out, cell):
            continue
        with grid_inputs.locked(cell_dir(out, cell), "study cell"):
            pass
        if not is_done(out, cell):
            raise ConfigError(
                f"{cell_dir(out, cell)}: cell {cell.label} was left unfinished by another "
                "worker; run the study again to continue it"
            )


def run_study(
    spec: StudySpec, out_dir: os.PathLike | str, *, workers: int = 1, progress: bool = True
) -> dict:
    """Runs every cell of `spec` into `out_dir` (skipping finished ones), then writes the
    results (`grid_results.write_results`).

    Args:
        spec: a loaded `StudySpec`.
        out_dir: the study folder (new, or a previous run of the same study).
        workers: processes taking cells in parallel on this machine.
        progress: one line per cell start and end on stderr; the folds' own progress only
            with --verbose.

    Returns:
        The results dict written to `study_results.json`.

    Raises:
        ConfigError: an occupied `out_dir`, folds that differ between caches, leakage, or
            an invalid cell setting (named).
    """
    from keras_ecgpe.studies.grid_results import write_results

    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"`workers` must be an integer >= 1. Received: {workers!r}")
    out = Path(out_dir)
    _check_out(out, spec)
    out.mkdir(parents=True, exist_ok=True)
    say = messages.progress_reporter(__name__, progress)
    cells = spec.cells()
    caches = prepare_inputs(spec, out)
    done = _count_done(out, cells)
    say(
        f"Study {spec.name}: {len(cells)} cells x {spec.folds['repeats']} x {spec.folds['k']} "
        f"folds; {done} finished earlier (skipped); {workers} worker(s)"
    )
    inner = progress and _verbosity() == messages.VERBOSE
    if workers == 1:
        work(spec, out, caches, inner_progress=inner)
    else:
        context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(_worker_entry, spec, str(out), caches, _verbosity(), inner)
                for _ in range(workers)
            ]
            for future in futures:
                future.result()
    wait_for_cells(out, cells)
    return write_results(spec, out)
