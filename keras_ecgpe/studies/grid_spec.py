"""The study file of `ecgpe-keras study`: a declarative grid, read strictly and expanded.

A study file (YAML) names the cohort, the base run settings, the folds and the axes of the
grid; every combination of one value per axis is a cell (docs/study_grid.md). Reading it
checks every key and value and names the first problem on one line, as
`<file>: at <key>: <problem>`. Expanding it gives the cells in a fixed order, each with
the dotted run settings, the preprocessing and the initialisation it trains with.

Keys inside an axis value (and in `settings`) are dotted run-configuration keys
(`optimizer.learning_rate`, `model.overrides.width`), plus three of the study's own:
`preprocess.<key>` (a preprocessing setting: a cache of its own, prepared once),
`transfer` (scratch, linear, full or gradual) and `pretraining` (a name under
`pretraining:`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

TRANSFERS = ("scratch", "linear", "full", "gradual")
STUDY_KEYS = ("transfer", "pretraining")
PREPROCESS_PREFIX = "preprocess."
# Short names of the usual axes: `model: [resnet1d18, vgg11]`.
ALIASES = {"model": "model.name", "augment": "data.augment", "normalize": "preprocess.normalize"}
_TOP = {
    "version",
    "name",
    "data",
    "preprocess",
    "pretraining",
    "folds",
    "settings",
    "axes",
    "reference",
    "accept_leakage",
    "search",
}
_FOLD_KEYS = {"k", "repeats", "max_train_records", "inner_validation"}
_DEMO_KEYS = {"n_pe", "n_ptbxl", "seed"}
_MAX_BYTES = 256_000
_SLUG = re.compile(r"[^A-Za-z0-9.]+")


class _Where:
    """Builds `<file>: at <key>: <problem>` errors."""

    def __init__(self, source: str):
        self.source = source

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(" ".join(f"{self.source}: at {key}: {problem}".split()))


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """Where records come from: the SYNTHETIC demo, a source + root, or a prepared cache."""

    demo: dict | None = None
    source: str | None = None
    root: str | None = None
    options: dict = dataclasses.field(default_factory=dict)
    cache: str | None = None

    @property
    def prepared(self) -> bool:
        """True for a fixed cache (no preprocessing of its own)."""
        return self.cache is not None


@dataclasses.dataclass(frozen=True)
class PretrainingSpec:
    """A pretraining source: data to pretrain on (built once per key) or a finished run."""

    name: str
    demo: str | None = None  # "ptbxl": the demo's PTB-XL-style set
    source: str | None = None
    root: str | None = None
    options: dict = dataclasses.field(default_factory=dict)
    cache: str | None = None
    run: str | None = None
    settings: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SearchSpec:
    """An Optuna search inside every cell (per fold, on its inner validation part)."""

    trials: int
    space: dict
    storage: str | None = None
    seed: int = 0
    startup_trials: int = 2
    warmup_epochs: int = 1
    heartbeat_s: int = 60


@dataclasses.dataclass(frozen=True)
class Cell:
    """One combination of axis values.

    Attributes:
        id: the cell's directory name (axis value labels + a hash of what it trains).
        labels: `{axis: value label}` in axis order.
        settings: dotted run-configuration keys (base settings, then axis values).
        preprocess: the preprocessing of its cache (None with a fixed cache).
        transfer: "scratch", "linear", "full" or "gradual".
        pretraining: the pretraining source's name, None for scratch.
    """

    id: str
    labels: dict
    settings: dict
    preprocess: dict | None
    transfer: str
    pretraining: str | None

    @property
    def label(self) -> str:
        return ", ".join(f"{axis}={value}" for axis, value in self.labels.items())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """A validated study file (see the module docstring and docs/study_grid.md)."""

    source: str
    name: str
    data: DataSpec
    preprocess: dict | None
    pretraining: dict
    folds: dict
    settings: dict
    axes: dict  # {axis: {value label: {key: value}}}
    reference: dict
    accept_leakage: bool
    search: SearchSpec | None

    @classmethod
    def load(cls, path: os.PathLike | str) -> StudySpec:
        """Reads and checks a study file; relative paths in it are taken from its folder.

        Raises:
            ConfigError: one line naming the file, the key and the problem.
        """
        from keras_ecgpe.config_documents import read_config_document

        path = Path(path)
        data = read_config_document(path, what="study file", max_bytes=_MAX_BYTES)
        return cls.from_dict(data, source=str(path), base_dir=path.parent)

    @classmethod
    def from_dict(
        cls, data: object, *, source: str = "study", base_dir: os.PathLike | str = "."
    ) -> StudySpec:
        """Checks a parsed study file (see `load`).

        Example:
        >>> spec = StudySpec.from_dict({"data": {"cache": "pe"}, "folds": {"k": 3},
        ...     "axes": {"model.name": ["resnet1d18", "vgg11"]}})
        >>> [cell.label for cell in spec.cells()]
        ['model.name=resnet1d18', 'model.name=vgg11']
        """
        where = _Where(source)
        base = Path(base_dir)
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a study file must be a mapping of keys")
        unknown = sorted(set(map(str, data)) - _TOP)
        if unknown:
            raise where.error(unknown[0], f"unknown key; valid keys: {', '.join(sorted(_TOP))}")
        if data.get("version", 1) != 1:
            raise where.error("version", f"must be 1. Received: {data.get('version')!r}")
        name = data.get("name", Path(source).stem)
        if not isinstance(name, str) or not name.strip():
            raise where.error("name", f"must be a non-empty string. Received: {name!r}")
        data_spec = _data(data.get("data"), where, base)
        preprocess = data.get("preprocess")
        if data_spec.prepared and preprocess is not None:
            raise where.error("preprocess", "goes with prepared data (data.demo or data.source)")
        if not data_spec.prepared:
            preprocess = _preprocess(preprocess or {}, where, "preprocess")
        pretraining = _pretraining(data.get("pretraining") or {}, where, base, data_spec)
        folds = _folds(data.get("folds"), where)
        settings = _settings(data.get("settings") or {}, where, "settings")
        axes = _axes(data.get("axes") or {}, where, data_spec, pretraining)
        reference = _reference(data.get("reference"), axes, where)
        accept = data.get("accept_leakage", False)
        if not isinstance(accept, bool):
            raise where.error("accept_leakage", f"must be true or false. Received: {accept!r}")
        search = _search(data.get("search"), where)
        spec = cls(
            source,
            name.strip(),
            data_spec,
            preprocess,
            pretraining,
            folds,
            settings,
            axes,
            reference,
            accept,
            search,
        )
        spec.check_cells()
        return spec

    def cells(self) -> list[Cell]:
        """Every combination of one value per axis, in axis order; cells that would train
        the same thing (a scratch cell under two pretraining sources) appear once."""
        names = list(self.axes)
        seen, out = set(), []
        for combination in itertools.product(*(self.axes[a].items() for a in names)):
            labels = {a: label for a, (label, _) in zip(names, combination)}
            values = dict(self.settings)
            for _, bundle in combination:
                values.update(bundle)
            transfer = values.pop("transfer", "scratch")
            pretraining = values.pop("pretraining", None)
            if transfer == "scratch":
                if pretraining is not None and "pretraining" in labels:
                    labels["pretraining"] = "none"
                pretraining = None
            elif pretraining is None and len(self.pretraining) == 1:
                pretraining = next(iter(self.pretraining))
            preprocess = None
            if not self.data.prepared:
                preprocess = dict(self.preprocess)
                for key in [k for k in values if k.startswith(PREPROCESS_PREFIX)]:
                    preprocess[key[len(PREPROCESS_PREFIX) :]] = values.pop(key)
            what = {
                "settings": values,
                "preprocess": preprocess,
                "transfer": transfer,
                "pretraining": pretraining,
            }
            text = json.dumps(what, sort_keys=True, default=str)
            if text in seen:
                continue
            seen.add(text)
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
            slug = _SLUG.sub("-", "-".join(str(v) for v in labels.values())).strip("-")
            cell_id = f"{slug[:60]}-{digest}" if slug else digest
            out.append(Cell(cell_id, labels, values, preprocess, transfer, pretraining))
        return out

    def reference_cell(self) -> Cell:
        """The cell every other is compared with (`reference:`, else the first)."""
        cells = self.cells()
        for cell in cells:
            if all(cell.labels.get(a) == v for a, v in self.reference.items()):
                return cell
        return cells[0]

    def check_cells(self) -> None:
        """Checks every cell's settings against the run configuration (names the cell)."""
        from keras_ecgpe.data.preprocessing import PreprocessConfig
        from keras_ecgpe.training.config import TrainConfig

        where = _Where(self.source)
        for cell in self.cells():
            try:
                TrainConfig().with_values(cell.settings)
                if cell.preprocess is not None:
                    PreprocessConfig.from_dict(cell.preprocess)
            except ConfigError as exc:
                raise where.error(f"axes (cell {cell.label})", str(exc)) from None
            if cell.transfer != "scratch" and cell.pretraining is None:
                raise where.error(
                    f"axes (cell {cell.label})",
                    f"transfer {cell.transfer} needs a pretraining source: add a `pretraining` "
                    "axis or declare exactly one under `pretraining:`",
                )
        if self.search is not None:
            for key in self.search.space:
                try:
                    TrainConfig().with_values({key: _example(self.search.space[key])})
                except ConfigError as exc:
                    raise where.error(f"search.space.{key}", str(exc)) from None

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["cells"] = [cell.to_dict() for cell in self.cells()]
        return out


def _mapping(value, where, key) -> dict:
    if not isinstance(value, dict):
        raise where.error(key, f"must be a mapping. Received: {value!r}")
    return value


def _only(value: dict, allowed: set, where, key) -> None:
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        raise where.error(
            f"{key}.{unknown[0]}", f"unknown key; valid keys: {', '.join(sorted(allowed))}"
        )


def _path(value, base: Path, where, key) -> str:
    if not isinstance(value, str) or not value:
        raise where.error(key, f"must be a path. Received: {value!r}")
    return str(base / value) if not Path(value).is_absolute() else value


def _data(value, where, base) -> DataSpec:
    if value is None:
        raise where.error("data", "missing: give data.demo, data.source + data.root, or data.cache")
    value = _mapping(value, where, "data")
    _only(value, {"demo", "source", "root", "options", "cache"}, where, "data")
    given = [k for k in ("demo", "source", "cache") if k in value]
    if len(given) != 1:
        raise where.error("data", "give exactly one of demo, source (+ root) or cache")
    if "demo" in value:
        demo = _mapping(value["demo"] or {}, where, "data.demo")
        _only(demo, _DEMO_KEYS, where, "data.demo")
        for key, number in demo.items():
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise where.error(f"data.demo.{key}", f"must be an integer >= 0: {number!r}")
        return DataSpec(demo={"n_pe": 300, "n_ptbxl": 400, "seed": 0, **demo})
    if "cache" in value:
        return DataSpec(cache=_path(value["cache"], base, where, "data.cache"))
    if "root" not in value:
        raise where.error("data.root", "missing: data.source needs data.root")
    options = _mapping(value.get("options") or {}, where, "data.options")
    return DataSpec(
        source=str(value["source"]),
        root=_path(value["root"], base, where, "data.root"),
        options=options,
    )


def _preprocess(value, where, key) -> dict:
    from keras_ecgpe.data.preprocessing import PreprocessConfig

    value = _mapping(value, where, key)
    try:
        return PreprocessConfig.from_dict(value).to_dict()
    except ConfigError as exc:
        raise where.error(key, str(exc)) from None


def _settings(value, where, key) -> dict:
    """Dotted keys, as `TrainConfig.with_values` takes them (checked there)."""
    value = _mapping(value, where, key)
    out = {}
    for name, item in value.items():
        name = str(name)
        if name.split(".")[0] not in {
            "data",
            "model",
            "loss",
            "optimizer",
            "schedule",
            "training",
            "transfer",
            "thresholds",
            "evaluation",
        }:
            raise where.error(f"{key}.{name}", "not a run-configuration key (section.key)")
        if name in ("data.cache", "data.source", "data.root", "transfer.init_from"):
            raise where.error(f"{key}.{name}", "set by the study (use data: and pretraining:)")
        if name == "training.seed" and (key.startswith("axes") or key == "search.space"):
            raise where.error(f"{key}.{name}", "the seed deals the folds; every cell must share it")
        out[name] = item
    return out


def _pretraining(value, where, base, data_spec) -> dict:
    value = _mapping(value, where, "pretraining")
    out = {}
    for name, entry in value.items():
        key = f"pretraining.{name}"
        entry = _mapping(entry, where, key)
        _only(entry, {"demo", "source", "root", "options", "cache", "run", "settings"}, where, key)
        given = [k for k in ("demo", "source", "cache", "run") if k in entry]
        if len(given) != 1:
            raise where.error(key, "give exactly one of demo, source (+ root), cache or run")
        if "demo" in entry and (data_spec.demo is None or entry["demo"] != "ptbxl"):
            raise where.error(f"{key}.demo", "must be ptbxl, and goes with data.demo")
        if "source" in entry and "root" not in entry:
            raise where.error(f"{key}.root", "missing: a pretraining source needs its root")
        if "run" in entry and "settings" in entry:
            raise where.error(f"{key}.settings", "a finished run is used as it is")
        out[str(name)] = PretrainingSpec(
            name=str(name),
            demo=entry.get("demo"),
            source=None if "source" not in entry else str(entry["source"]),
            root=None if "root" not in entry else _path(entry["root"], base, where, f"{key}.root"),
            options=_mapping(entry.get("options") or {}, where, f"{key}.options"),
            cache=None
            if "cache" not in entry
            else _path(entry["cache"], base, where, f"{key}.cache"),
            run=None if "run" not in entry else _path(entry["run"], base, where, f"{key}.run"),
            settings=_settings(entry.get("settings") or {}, where, f"{key}.settings"),
        )
    return out


def _folds(value, where) -> dict:
    if value is None:
        raise where.error("folds", "missing: give at least folds.k")
    value = _mapping(value, where, "folds")
    _only(value, _FOLD_KEYS, where, "folds")
    k = value.get("k")
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise where.error("folds.k", f"must be an integer >= 2. Received: {k!r}")
    repeats = value.get("repeats", 1)
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise where.error("folds.repeats", f"must be an integer >= 1. Received: {repeats!r}")
    cap = value.get("max_train_records")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 4):
        raise where.error("folds.max_train_records", f"must be an integer >= 4. Received: {cap!r}")
    inner = value.get("inner_validation", 0.2)
    if not isinstance(inner, (int, float)) or isinstance(inner, bool) or not 0 < inner < 1:
        raise where.error("folds.inner_validation", f"must be in (0, 1). Received: {inner!r}")
    return {"k": k, "repeats": repeats, "max_train_records": cap, "inner_validation": inner}


def _axis_value(axis: str, item, where, key, data_spec, pretraining) -> dict:
    """One axis value as `{key: value}`: a bundle of keys, or the axis key's value."""
    bundle = dict(item) if isinstance(item, dict) else {axis: item}
    out = {}
    for name, value in bundle.items():
        name = str(name)
        at = f"{key}.{name}" if isinstance(item, dict) else key  # a list axis is named once
        if name == "transfer":
            if value not in TRANSFERS:
                raise where.error(at, f"must be one of {', '.join(TRANSFERS)}. Received: {value!r}")
        elif name == "pretraining":
            if value not in (None, "none") and (
                not isinstance(value, str) or value not in pretraining
            ):
                raise where.error(
                    at,
                    f"{value!r} is not declared under pretraining: "
                    f"({', '.join(pretraining) or 'none declared'})",
                )
            value = None if value == "none" else value
        elif name.startswith(PREPROCESS_PREFIX):
            if data_spec.prepared:
                raise where.error(at, "preprocessing axes need prepared data (data.demo or source)")
        else:  # a plain value of a list axis is named by the axis itself
            _settings({name: value}, where, key if isinstance(item, dict) else "axes")
        out[name] = value
    return out


def _axes(value, where, data_spec, pretraining) -> dict:
    value = _mapping(value, where, "axes")
    out = {}
    for axis, values in value.items():
        axis, key = str(axis), f"axes.{axis}"
        if isinstance(values, list):
            if not values:
                raise where.error(key, "has no values")
            if axis not in STUDY_KEYS and "." not in axis and axis not in ALIASES:
                raise where.error(
                    key,
                    "a list axis is named by its key (section.key, preprocess.key, "
                    f"transfer, pretraining or {', '.join(ALIASES)})",
                )
            labelled = {}
            for item in values:
                if isinstance(item, (dict, list)):
                    raise where.error(
                        key, "a list holds plain values; give named bundles as a mapping"
                    )
                label = (
                    "null"
                    if item is None
                    else str(item).lower()
                    if isinstance(item, bool)
                    else str(item)
                )
                if label in labelled:
                    raise where.error(key, f"value {label!r} appears twice")
                labelled[label] = _axis_value(
                    ALIASES.get(axis, axis), item, where, key, data_spec, pretraining
                )
        elif isinstance(values, dict) and values:
            labelled = {}
            for label, bundle in values.items():
                if not isinstance(bundle, dict) or not bundle:
                    raise where.error(
                        f"{key}.{label}", "must be a mapping of keys to values (a bundle)"
                    )
                labelled[str(label)] = _axis_value(
                    axis, bundle, where, f"{key}.{label}", data_spec, pretraining
                )
        else:
            raise where.error(key, "must be a list of values or a mapping of named bundles")
        out[axis] = labelled
    if not out:
        out = {"cell": {"base": {}}}
    return out


def _reference(value, axes, where) -> dict:
    if value is None:
        return {axis: next(iter(values)) for axis, values in axes.items()}
    value = _mapping(value, where, "reference")
    out = {}
    for axis, label in value.items():
        axis = str(axis)
        if axis not in axes:
            raise where.error(f"reference.{axis}", f"not an axis ({', '.join(axes)})")
        label = str(label).lower() if isinstance(label, bool) else str(label)
        if label not in axes[axis]:
            raise where.error(
                f"reference.{axis}", f"{label!r} is not a value of it ({', '.join(axes[axis])})"
            )
        out[axis] = label
    return out


_DISTRIBUTIONS = {
    "float": {"type", "low", "high", "log"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}


def _example(distribution: dict) -> Any:
    return distribution["choices"][0] if "choices" in distribution else distribution["low"]


def _search(value, where) -> SearchSpec | None:
    if value is None:
        return None
    value = _mapping(value, where, "search")
    _only(
        value,
        {"trials", "space", "storage", "seed", "startup_trials", "warmup_epochs", "heartbeat_s"},
        where,
        "search",
    )
    numbers = {}
    for key, low, default in (
        ("trials", 1, None),
        ("seed", 0, 0),
        ("startup_trials", 0, 2),
        ("warmup_epochs", 0, 1),
        ("heartbeat_s", 1, 60),
    ):
        number = value.get(key, default)
        if not isinstance(number, int) or isinstance(number, bool) or number < low:
            raise where.error(f"search.{key}", f"must be an integer >= {low}. Received: {number!r}")
        numbers[key] = number
    space = _mapping(value.get("space"), where, "search.space")
    if not space:
        raise where.error("search.space", "is empty")
    checked = {}
    for name, distribution in space.items():
        key = f"search.space.{name}"
        distribution = _mapping(distribution, where, key)
        kind = distribution.get("type")
        if kind not in _DISTRIBUTIONS:
            raise where.error(f"{key}.type", f"must be one of {', '.join(_DISTRIBUTIONS)}")
        _only(distribution, _DISTRIBUTIONS[kind], where, key)
        if kind == "categorical":
            choices = distribution.get("choices")
            if not isinstance(choices, list) or not choices:
                raise where.error(f"{key}.choices", "must be a non-empty list")
        else:
            low, high = distribution.get("low"), distribution.get("high")
            number = int if kind == "int" else (int, float)
            if not all(isinstance(v, number) and not isinstance(v, bool) for v in (low, high)):
                raise where.error(key, f"low and high must be {kind} numbers")
            if not low < high or (distribution.get("log") and low <= 0):
                raise where.error(key, f"needs low < high (and low > 0 with log): {low}, {high}")
        _settings({str(name): None}, where, "search.space")
        checked[str(name)] = dict(distribution)
    storage = value.get("storage")
    if storage is not None and (not isinstance(storage, str) or "://" not in storage):
        raise where.error("search.storage", f"must be a database URL. Received: {storage!r}")
    return SearchSpec(space=checked, storage=storage, **numbers)
