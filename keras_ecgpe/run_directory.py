"""The run directory: what a training run writes, where, and how it is read back.

Layout of a run directory and who writes what:

- `config.yaml`: the resolved `TrainConfig`, written first; its presence makes a folder
  a run (a later `--overwrite` may delete only folders that hold it).
- `history.csv`, `logs/` (TensorBoard), `last.keras` and `best.keras` (by
  `training.monitor`), all rewritten atomically each epoch, with the resume state
  `train_state.json` + `resume/state.npz` (see `training/resume.py`).
- `contract.json`: the model's input contract (see `training/contract.py`), then
  `validation_metrics.json`, `validation_summary.txt` and `training_curves.png`.
- `checksums.json`: the SHA-256 and size of `best.keras` and `last.keras` once they are
  final, then `run.json`, written last: its presence means the run finished.
- `eval-<split>/` per `evaluate_run` (`metrics.json`, `summary.txt`, `predictions.csv`,
  `roc.png`, `pr.png`, `calibration.png`) and `export/<bundle>/` per export.

`locate_run` checks a finished run's model file against `checksums.json` before anyone uses
it (evaluate, export, predict, transfer), so a modified or damaged model is refused by name.

Every module that reads or writes these files takes the names from here, loads models with
`load_model` (safe mode, the zoo's classes registered, errors naming the file) and
contracts with `load_contract` (size limit, strict JSON, format tag, schema). This module
depends on neither `keras_ecgpe.training` nor `keras_ecgpe.inference`: both import it.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import schemas
from keras_ecgpe.data.atomic import atomic_write_json
from keras_ecgpe.data.cache_format import file_sha256
from keras_ecgpe.errors import ConfigError

_LOG = logging.getLogger(__name__)

if TYPE_CHECKING:
    import os

    import keras

CONFIG = "config.yaml"
HISTORY = "history.csv"
LOGS = "logs"
BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
STATE = "train_state.json"
STATE_ARRAYS = "resume/state.npz"
CONTRACT = "contract.json"
VALIDATION_METRICS = "validation_metrics.json"
VALIDATION_SUMMARY = "validation_summary.txt"
TRAINING_CURVES = "training_curves.png"
FINISHED = "run.json"  # written last by a run that ended normally
CHECKSUMS = "checksums.json"  # SHA-256 of the final model files, written just before run.json
CHECKSUMS_FORMAT = "keras_ecgpe.run_checksums/1"
MODEL_FILES = (BEST_MODEL, LAST_MODEL)
EXPORTS = "export"
# Inside an evaluation folder (`eval-<split>/`).
METRICS = "metrics.json"
SUMMARY = "summary.txt"
PREDICTIONS = "predictions.csv"
ROC_PLOT, PR_PLOT, CALIBRATION_PLOT = "roc.png", "pr.png", "calibration.png"

# /2 stores the decision cuts as logits (`thresholds.logit_cuts`); /1 files hold only
# probability thresholds and are still read (converted once, see evaluation/thresholds.py).
CONTRACT_FORMAT = "keras_ecgpe.contract/2"
READABLE_CONTRACT_FORMATS = ("keras_ecgpe.contract/1", CONTRACT_FORMAT)
CONTRACT_REQUIRED = (
    "model_name",
    "fs",
    "window",
    "lead_order",
    "units",
    "preprocess",
    "standardizer",
    "label_names",
    "thresholds",
    "temperature",
    "eval_mode",
    "eval_stride",
    "aggregate",
)


@dataclasses.dataclass(frozen=True)
class RunFiles:
    """Where a model and its contract live: `run_dir/best.keras` + `run_dir/contract.json`."""

    model: Path
    contract: Path
    run_dir: Path

    @property
    def config(self) -> Path:
        """The run's `config.yaml` (absent for a model trained outside this package)."""
        return self.run_dir / CONFIG


def locate_run(path: os.PathLike | str) -> RunFiles:
    """Finds the model and contract of a run directory or of a `.keras` file.

    Args:
        path: a run directory (its `best.keras` is used) or a `.keras` file whose run's
            `contract.json` lies beside it.

    Returns:
        A `RunFiles`.

    Raises:
        ConfigError: no model, or no `contract.json` beside it (the message names both).

    Example:

    ```python
    locate_run("runs/pe").model
    # PosixPath('runs/pe/best.keras')
    ```
    """
    path = Path(path)
    model = path / BEST_MODEL if path.is_dir() else path
    if not model.is_file() or model.suffix != ".keras":
        raise ConfigError(
            f"{path}: expected a run directory holding {BEST_MODEL} or a .keras model file"
        )
    contract = model.parent / CONTRACT
    if not contract.is_file():
        raise ConfigError(
            f"{contract}: missing; a .keras model is used only with the "
            f"{CONTRACT} its training run wrote beside it"
        )
    verify_model_file(model)
    return RunFiles(model, contract, model.parent)


def record_checksums(run_dir: os.PathLike | str) -> Path:
    """Writes `checksums.json`: SHA-256 and size of each of the run's final model files.

    Returns:
        Its path.
    """
    run_dir = Path(run_dir)
    files = {}
    for name in MODEL_FILES:
        path = run_dir / name
        if path.is_file():
            files[name] = {"sha256": file_sha256(path), "size_bytes": path.stat().st_size}
    atomic_write_json(run_dir / CHECKSUMS, {"format": CHECKSUMS_FORMAT, "files": files})
    return run_dir / CHECKSUMS


def verify_model_file(model: os.PathLike | str) -> None:
    """Checks a model file of a finished run against the run's `checksums.json`.

    A model outside a finished run (no `run.json` beside it, e.g. a run still training or
    a model trained elsewhere) has nothing to be checked against and passes.

    Raises:
        ConfigError: a finished run without (or with an unreadable) `checksums.json`, a
            model file it does not list, or a size or SHA-256 that differs; one line naming
            the file.
    """
    model = Path(model)
    run_dir = model.parent
    path = run_dir / CHECKSUMS
    if not path.is_file():
        if (run_dir / FINISHED).is_file():
            raise ConfigError(
                f"{path}: missing from a finished run, so {model.name} cannot be verified "
                "(the run directory was altered); train the run again"
            )
        return
    listed = schemas.read_json(
        path,
        max_bytes=schemas.MAX_BYTES["run_checksums"],
        what="run checksums",
        error_type=ConfigError,
    )
    schemas.validate(listed, "run_checksums", path, error_type=ConfigError)
    entry = listed["files"].get(model.name)
    if entry is None:
        raise ConfigError(f"{model}: not among the model files {path} lists")
    if model.stat().st_size != entry["size_bytes"] or file_sha256(model) != entry["sha256"]:
        raise ConfigError(
            f"{model}: its SHA-256 differs from the one {CHECKSUMS} recorded when the run "
            "finished; the model file was modified or damaged"
        )


def load_model(path: os.PathLike | str, *, compile: bool = False) -> keras.Model:
    """Loads a model of the zoo from a `.keras` file in Keras' safe mode.

    The zoo's classes are registered first (importing `keras_ecgpe.models`), so any
    architecture the package trains loads; safe mode refuses serialized Python code.

    Args:
        path: the `.keras` file.
        compile: restore the training configuration too (False: inference only).

    Returns:
        The Keras model.

    Raises:
        ConfigError: a missing, truncated or foreign file, naming it.
    """
    import keras

    import keras_ecgpe.models  # noqa: F401  (registers the zoo's classes for loading)

    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except (OSError, ValueError, TypeError) as exc:
        _LOG.debug("Keras' full message for %s: %s", path, exc)
        raise ConfigError(f"{path}: cannot load the Keras model ({keras_refusal(exc)})") from None


def keras_refusal(exc: BaseException, limit: int = 300) -> str:
    """Keras' reason for refusing a model file, in one short line.

    Keras' messages span lines and may end with the whole model config ("Full object
    config: {...}", thousands of characters); safe mode's refusal of serialized Python
    code is said plainly. The full text is logged at DEBUG by the caller.

    Example:
    >>> keras_refusal(ValueError("Could not locate class 'X'.\\nFull object config: {'a': 1}"))
    "Could not locate class 'X'."
    """
    text = str(exc)
    if "safe_mode" in text or "arbitrary code" in text:
        return (
            "it holds serialized Python code (e.g. a Lambda layer), which safe mode refuses "
            "to run; only models built from keras_ecgpe's registered layers are loaded"
        )
    for marker in ("Full object config", "Config:", "config="):
        text = text.split(marker, 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_run(path: os.PathLike | str) -> tuple:
    """Loads the model and the contract of a run directory or of a `.keras` file.

    Returns:
        `(model, contract, RunFiles)`; the model is not compiled.

    Raises:
        ConfigError: see `locate_run`, `load_contract` and `load_model`.
    """
    files = locate_run(path)
    contract = load_contract(files.contract)
    return load_model(files.model), contract, files


def save_contract(contract: dict, directory: os.PathLike | str) -> Path:
    """Writes `contract.json` into `directory` atomically; returns its path."""
    path = Path(directory) / CONTRACT
    atomic_write_json(path, contract)
    return path


def load_contract(path: os.PathLike | str) -> dict:
    """Reads a `contract.json` (or the one in a directory), checked against its schema.

    Raises:
        ConfigError: no file, a file above `schemas.MAX_BYTES["contract"]`, not strict
            JSON, another format, or a value the schema refuses; the message names the
            file (and the JSON path of the problem).
    """
    path = Path(path)
    if path.is_dir():
        path = path / CONTRACT
    try:
        contract = schemas.read_json(
            path,
            max_bytes=schemas.MAX_BYTES["contract"],
            what="model contract",
            error_type=ConfigError,
        )
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(
            f"{path}: no model contract found; a model is usable only with the "
            f"{CONTRACT} its training run wrote beside it"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: unreadable model contract ({exc.strerror})") from None
    if not isinstance(contract, dict) or contract.get("format") not in READABLE_CONTRACT_FORMATS:
        got = contract.get("format") if isinstance(contract, dict) else type(contract).__name__
        raise ConfigError(
            f"{path}: not a keras_ecgpe model contract (format {got!r:.80}, "
            f"expected {CONTRACT_FORMAT!r})"
        )
    missing = [key for key in CONTRACT_REQUIRED if key not in contract]
    if missing:
        raise ConfigError(f"{path}: the model contract lacks {', '.join(missing)}")
    schemas.validate(contract, "contract", path, error_type=ConfigError)
    return contract


def eval_dir(run_dir: os.PathLike | str, split: str) -> Path:
    """The default folder of an evaluation on `split`: `<run>/eval-<split>` ("unsplit" for
    the records of no split)."""
    return Path(run_dir) / f"eval-{split or 'unsplit'}"


def export_dir(run_dir: os.PathLike | str, bundle: str) -> Path:
    """The default folder of an export bundle: `<run>/export/<bundle>`."""
    return Path(run_dir) / EXPORTS / bundle


def run_of_export(path: os.PathLike | str) -> RunFiles:
    """The run an exported model came from, found through the default bundle layout
    (`<run>/export/<bundle>/<model>.tflite`, see `export_dir`).

    Raises:
        ConfigError: the file is not inside a run's `export/` folder (an export written
            elsewhere with `--out` does not say which run it came from), or that run has no
            model or contract any more; the message names the file and what is missing.
    """
    path = Path(path).resolve()
    run_dir = path.parent.parent.parent
    if path.parent.parent.name != EXPORTS:
        raise ConfigError(
            f"{path}: not inside a run's {EXPORTS}/<bundle>/ folder, so its run (and "
            f"{BEST_MODEL}) cannot be found; pass the run directory or its .keras instead"
        )
    try:
        return locate_run(run_dir)
    except ConfigError as error:
        raise ConfigError(f"{path}: its run {run_dir} is incomplete ({error})") from None


def run_status(run_dir: os.PathLike | str) -> str:
    """ "new" (absent or empty), "finished", "unfinished" (a run that did not end) or
    "other" (a non-empty folder that is not a run)."""
    path = Path(run_dir)
    if not path.is_dir() or not any(path.iterdir()):
        return "new"
    if (path / FINISHED).is_file():
        return "finished"
    return "unfinished" if (path / CONFIG).is_file() else "other"


def prepare_run_dir(
    out_dir: os.PathLike | str, *, overwrite: bool = False, marker: str = CONFIG
) -> Path:
    """Creates the run (or evaluation) directory, refusing to mix two runs in one folder.

    An existing non-empty directory is refused unless `overwrite` is set AND it is a
    previous run (it holds `marker`: `config.yaml` for runs, `metrics.json` for
    evaluations); then its contents are removed. A non-empty folder that is not a run is
    never deleted.

    Raises:
        ConfigError: naming the directory.
    """
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: the run directory is an existing file")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise ConfigError(
                f"{path}: the run directory exists and is not empty; choose "
                "another one or overwrite it (`overwrite=True`)"
            )
        if not (path / marker).is_file():
            raise ConfigError(
                f"{path}: not empty and not a previous run (no {marker}); "
                "refusing to delete its contents even with overwrite"
            )
        for entry in path.iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path
