"""Process-level settings of a run: the run directory, seeds, determinism, precision.

Everything here touches global state (TensorFlow's op determinism, Keras' global seed and
dtype policy), so it is gathered in one place; the dtype policy is always restored when a
run ends, so a later model in the same process is not built in float16 by surprise.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from keras_ecgpe.errors import ConfigError

RUN_MARKER = "config.yaml"  # every run directory starts with its config


def prepare_run_dir(out_dir, *, overwrite: bool = False, marker: str = RUN_MARKER) -> Path:
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
            raise ConfigError(f"{path}: the run directory exists and is not empty; choose "
                              "another one or overwrite it (--overwrite)")
        if not (path / marker).is_file():
            raise ConfigError(f"{path}: not empty and not a previous run (no {marker}); "
                              "refusing to delete its contents even with overwrite")
        for entry in path.iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seeds Python, NumPy and TensorFlow (`keras.utils.set_random_seed`) and, when
    `deterministic`, turns on TensorFlow op determinism (same seed, same run on CPU;
    process-wide and permanent for this process)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def precision_policy(name: str):
    """Sets Keras' global dtype policy ("float32", "mixed_float16", "mixed_bfloat16")
    inside the block and restores the previous one afterwards."""
    import keras

    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
