"""The one look at the test split a study allows: the chosen cell, trained once, scored once.

No cell of a study reads the cohort's `test` split. When the grid has chosen a
configuration, `final_test` trains that cell's configuration the ordinary way (the
cohort's `train` split trains, its `validation` split selects) into
`<out>/final/<cell id>/` and scores it with `evaluate_run` on the `test` split, which
records the look in the cache's sealed-test ledger (docs/study.md): a model that has not
looked before needs a declaration once another model has. A cell with a search takes the
hyperparameters of its fold search with the highest inner validation AUROC.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import messages, run_directory
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.formatting import format_interval

if TYPE_CHECKING:
    import os

    from keras_ecgpe.studies.grid_spec import Cell, StudySpec

FINAL = "final"


def find_cell(spec: StudySpec, name: str) -> Cell:
    """The cell whose id or label is `name` (errors list the cells)."""
    cells = spec.cells()
    for cell in cells:
        if name in (cell.id, cell.label):
            return cell
    listed = "; ".join(f"{c.id} ({c.label})" for c in cells)
    raise ConfigError(f"final test: no cell {name!r} in {spec.source}; cells: {listed}")


def _searched_values(out: Path, cell: Cell) -> dict:
    from keras_ecgpe.studies.grid_runner import cell_dir
    from keras_ecgpe.studies.grid_search import SEARCH_FILE

    found = [
        json.loads(p.read_text("utf-8")) for p in cell_dir(out, cell).glob(f"cv/*/{SEARCH_FILE}")
    ]
    if not found:
        return {}
    return max(found, key=lambda s: s["best_value"])["best_params"]


def final_test(
    spec: StudySpec,
    out_dir: os.PathLike | str,
    name: str,
    *,
    declaration: str | None = None,
) -> dict:
    """Trains cell `name` on the cohort's train/validation splits and scores it once on
    its test split (a ledger look).

    Returns:
        `{"cell", "run_dir", "summary", "report", "metrics"}`.

    Raises:
        ConfigError: an unknown cell, a cell not finished in the grid, or a look the
            ledger refuses (a new model without a declaration).
    """
    from keras_ecgpe.studies.grid_runner import (
        STUDY_FILE,
        cell_config,
        is_done,
    )
    from keras_ecgpe.training.evaluate import evaluate_run
    from keras_ecgpe.training.trainer import train_run

    out = Path(out_dir)
    cell = find_cell(spec, name)
    if not is_done(out, cell):
        raise ConfigError(f"final test: cell {cell.label} has not finished in {out}")
    cache = json.loads((out / STUDY_FILE).read_text("utf-8"))["caches"][cell.id]
    config, _ = cell_config(spec, out, cell, cache, progress=False)
    config = config.with_values(_searched_values(out, cell))
    run_dir = out / FINAL / cell.id
    say = messages.progress_reporter(__name__)
    status = run_directory.run_status(run_dir)
    if status != "finished":
        say(f"Final model of {cell.label}: training on the train split ({run_dir})")
        train_run(config, run_dir, progress=False, resume=status == "unfinished")
    metrics = evaluate_run(run_dir, cache, split="test", declare_new_model=declaration)
    macro = metrics.get("macro") or {}
    auroc = {
        "value": macro.get("auroc"),
        **{
            k: (metrics.get("macro_ci") or {}).get("auroc", {}).get(k)
            for k in ("ci_low", "ci_high")
        },
    }
    return {
        "cell": cell.label,
        "run_dir": str(run_dir),
        "summary": f"test macro AUROC {format_interval(auroc, label='95 % CI')}",
        "report": metrics["files"].get("report_html"),
        "metrics": metrics,
    }
