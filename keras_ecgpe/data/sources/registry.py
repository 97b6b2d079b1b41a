"""The dataset sources by name."""

from __future__ import annotations

import inspect

from keras_ecgpe.data.sources.base import DatasetSource
from keras_ecgpe.data.sources.cinc import CinCSource
from keras_ecgpe.data.sources.cpsc2018 import CPSC2018Source
from keras_ecgpe.data.sources.medalcare_xl import MedalCareXLSource
from keras_ecgpe.data.sources.pe_cohort import PECohortSource
from keras_ecgpe.data.sources.ptbxl import PTBXLSource
from keras_ecgpe.errors import ConfigError

SOURCES = {
    "ptbxl": PTBXLSource,
    "cpsc2018": CPSC2018Source,
    "cinc": CinCSource,
    "medalcare": MedalCareXLSource,
    "pe": PECohortSource,
}


def make_source(name: str, root, **options) -> DatasetSource:
    """Builds a dataset source by its registry name.

    Args:
        name: one of "ptbxl", "cpsc2018", "cinc", "medalcare", "pe".
        root: the dataset folder (the manifest CSV for "pe").
        **options: the source's own options (e.g. `task`, `sampling_rate` for ptbxl,
            `variant` for medalcare).

    Returns:
        The `DatasetSource`.

    Raises:
        ConfigError: unknown name or option.
        RecordError: `root` does not exist.

    Example:

    ```python
    source = make_source("ptbxl", "ptb-xl", task="rhythm", sampling_rate=500)
    ```
    """
    if name not in SOURCES:
        raise ConfigError(f"unknown dataset source {name!r}; valid: {', '.join(SOURCES)}")
    cls = SOURCES[name]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"][1:]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"source {name!r} has no option(s) {', '.join(unknown)}; "
            f"options: {', '.join(accepted) or 'none'}"
        )
    return cls(root, **options)
