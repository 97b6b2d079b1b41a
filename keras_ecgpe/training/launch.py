"""What `train` does before a run starts: where the run goes, and the demo when there is no data.

These rules belong to the library, not to the command line, so that a script and the CLI
behave alike: a run with no output folder gets `runs/<model>-<time>` (`-cv-` for a
cross-validation), and "train" with no data at all means the SYNTHETIC demo, which is only
allowed when nothing else was asked for (a user who set a model or epochs but forgot the
data gets an error, not a demo).
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

    from keras_ecgpe.training.config import TrainConfig

DEMO_OUT = "ecgpe-demo"
RUNS = "runs"

log = logging.getLogger(__name__)


def default_run_dir(
    model_name: str, *, cross_validation: bool = False, now: datetime.datetime | None = None
) -> str:
    """The default folder of a run: `runs/<model>-<YYYYmmdd-HHMMSS>` (`-cv-` before the time
    for a cross-validation).

    Example:
    >>> default_run_dir("resnet1d18", now=datetime.datetime(2025, 3, 1, 12, 0, 5))
    'runs/resnet1d18-20250301-120005'
    >>> default_run_dir("gru", cross_validation=True, now=datetime.datetime(2025, 3, 1))
    'runs/gru-cv-20250301-000000'
    """
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{RUNS}/{model_name}-{'cv-' if cross_validation else ''}{stamp}"


def demo_if_no_data(
    config: TrainConfig, out_dir: os.PathLike | str | None = None, *, customised: bool = False
) -> dict | None:
    """Runs the SYNTHETIC demo when `config` names no data; otherwise returns None.

    Args:
        config: the resolved `TrainConfig`.
        out_dir: the demo's folder (default `ecgpe-demo`).
        customised: whether the caller asked for anything beyond an output folder and a
            seed (a config file, overrides, a model, epochs, transfer, folds): then a
            missing dataset is an error, not a request for the demo.

    Returns:
        None when `config` has data (train normally), else the demo's result dict.

    Raises:
        ConfigError: no data, and `customised`.
    """
    if config.data.has_data:
        return None
    if customised:
        raise ConfigError(
            "no training data: set data.cache (`cache`), or data.source and data.root; the "
            "SYNTHETIC demo runs only when nothing but `out` and `seed` is given"
        )
    from keras_ecgpe.training.demo_run import default_demo_run

    log.info("No data given: running the SYNTHETIC demo (synthetic ECGs, fake patients).")
    return default_demo_run(out_dir or DEMO_OUT, seed=config.training.seed)
