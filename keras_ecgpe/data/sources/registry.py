"""The dataset sources by name, and how one or several of them are opened.

`SOURCES` is the one list of names: `make_source` and `open_sources` accept them and the
CLI's `data prepare --source` help lists them. Each entry names its class as
`"module:Class"` and is imported only when used, so reading the names costs no import of
the readers (the CLI's start-up stays fast).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from keras_ecgpe.data.sources.base import DatasetSource
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os
    from typing import Any

log = logging.getLogger(__name__)

SOURCES = {
    "ptbxl": "keras_ecgpe.data.sources.ptbxl:PTBXLSource",
    "cpsc2018": "keras_ecgpe.data.sources.cpsc2018:CPSC2018Source",
    "cinc": "keras_ecgpe.data.sources.cinc:CinCSource",
    "medalcare": "keras_ecgpe.data.sources.medalcare_xl:MedalCareXLSource",
    "pe": "keras_ecgpe.data.sources.pe_cohort:PECohortSource",
    "mimic": "keras_ecgpe.data.sources.mimic_iv_ecg:MIMICIVECGSource",
}


def source_class(name: str) -> type[DatasetSource]:
    """The `DatasetSource` subclass registered as `name`.

    Raises:
        ConfigError: unknown name.
    """
    if name not in SOURCES:
        raise ConfigError(f"unknown dataset source {name!r}; valid: {', '.join(SOURCES)}")
    module, _, attribute = SOURCES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def source_options(name: str) -> tuple[str, ...]:
    """The options (constructor arguments after the root) source `name` accepts.

    Example:
    >>> source_options("ptbxl")
    ('task', 'sampling_rate')
    """
    parameters = inspect.signature(source_class(name).__init__).parameters
    return tuple(p for p in parameters if p != "self")[1:]


def make_source(name: str, root: os.PathLike | str, **options: Any) -> DatasetSource:
    """Builds a dataset source by its registry name.

    Args:
        name: one of `SOURCES` ("ptbxl", "cpsc2018", "cinc", "medalcare", "pe", "mimic").
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
    accepted = source_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"source {name!r} has no option(s) {', '.join(unknown)}; "
            f"options: {', '.join(accepted) or 'none'}"
        )
    return source_class(name)(root, **options)


def open_sources(
    names: str | Sequence[str], roots: Sequence, *, split_seed: int = 0, **options: Any
) -> DatasetSource:
    """Opens one source, or several as one `CombinedSource` (harmonised labels and masks).

    Each option goes to every source that accepts it and is ignored by the others, so one
    set of options (e.g. the CLI's `--task`, `--variant`) serves any mix of sources.

    Args:
        names: source names, as a sequence or joined by commas ("ptbxl,cpsc2018").
        roots: one dataset folder per name, in the same order.
        split_seed: seed of the patient-level split given to combined sources without one.
        **options: source options (`task`, `sampling_rate`, `variant`, ...).

    Returns:
        The `DatasetSource` (a `CombinedSource` for two or more names).

    Raises:
        ConfigError: an unknown name, an option no named source accepts, or a number of
            roots different from the number of names.
    """
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",")]
    names, roots = list(names), list(roots)
    if len(names) != len(roots):
        raise ConfigError(
            f"{len(names)} source(s) {names} but {len(roots)} root(s); give one root per "
            "source, in order"
        )
    accepted = {name: source_options(name) for name in names}
    unused = sorted(set(options) - {o for names_ in accepted.values() for o in names_})
    if unused:
        raise ConfigError(
            f"no source among {names} has the option(s) "
            + ", ".join(f"`{name}`" for name in unused)
        )
    sources = []
    for name, root in zip(names, roots, strict=True):
        own = {k: v for k, v in options.items() if k in accepted[name]}
        log.debug("source %s at %s, options %s", name, root, own or "default")
        sources.append(make_source(name, root, **own))
    if len(sources) == 1:
        return sources[0]
    from keras_ecgpe.data.sources.combined import CombinedSource

    return CombinedSource(sources, split_seed=split_seed)
