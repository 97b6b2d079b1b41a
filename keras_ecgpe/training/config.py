"""One strict, typed configuration per training run: file, overrides, defaults.

A run is described by nine sections (`data`, `model`, `loss`, `optimizer`, `schedule`,
`training`, `transfer`, `thresholds`, `evaluation`; see `config_sections.py` for every key
and its default). A config comes from a YAML or JSON file and/or `section.key=value`
overrides (values parsed as YAML scalars, so `3`, `true`, `null`, `[1, 2]` and `vgg11_bn`
mean what they look like). Unknown sections or keys and wrong types are `ConfigError`s that
name the key. `train_run` writes the resolved config to the run directory before any work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from keras_ecgpe.config_documents import parse_yaml_value, read_config_document
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.training.config_sections import (
    SECTIONS,
    DataSection,
    EvaluationSection,
    LossSection,
    ModelSection,
    OptimizerSection,
    ScheduleSection,
    ThresholdsSection,
    TrainingSection,
    TransferSection,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

    from keras_ecgpe.training.config_fields import Section

_BY_NAME = {section.NAME: section for section in SECTIONS}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The whole configuration of one training run (immutable; derive with `replace`).

    Example:
    >>> config = TrainConfig().with_overrides(["training.epochs=3", "model.overrides.width=8"])
    >>> config.training.epochs, config.model.overrides
    (3, {'width': 8})
    """

    data: DataSection = dataclasses.field(default_factory=DataSection)
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    loss: LossSection = dataclasses.field(default_factory=LossSection)
    optimizer: OptimizerSection = dataclasses.field(default_factory=OptimizerSection)
    schedule: ScheduleSection = dataclasses.field(default_factory=ScheduleSection)
    training: TrainingSection = dataclasses.field(default_factory=TrainingSection)
    transfer: TransferSection = dataclasses.field(default_factory=TransferSection)
    thresholds: ThresholdsSection = dataclasses.field(default_factory=ThresholdsSection)
    evaluation: EvaluationSection = dataclasses.field(default_factory=EvaluationSection)

    @classmethod
    def from_dict(cls, data: object) -> TrainConfig:
        """Builds a config from `{section: {key: value}}`; missing entries take defaults.

        Raises:
            ConfigError: an unknown section or key (the valid ones are listed), or a value
                of the wrong type or range (named as `section.key`).
        """
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"a run configuration must be a mapping of sections. Received: {data!r}"
            )
        unknown = sorted(set(map(str, data)) - set(_BY_NAME))
        if unknown:
            raise ConfigError(
                f"unknown section(s) {', '.join(unknown)}; valid sections: {', '.join(_BY_NAME)}"
            )
        return cls(
            **{name: section.from_dict(data.get(name)) for name, section in _BY_NAME.items()}
        )

    @classmethod
    def from_file(cls, path: os.PathLike | str) -> TrainConfig:
        """Reads a `.yaml`/`.yml` or `.json` file (errors name the file); size and nesting
        are capped (`config_documents.MAX_CONFIG_BYTES`, `MAX_NESTING`)."""
        path = Path(path)
        if path.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise ConfigError(f"{path}: a run configuration must be a .yaml, .yml or .json file")
        data = read_config_document(path, what="run configuration")
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        """Returns `{section: {key: value}}`, JSON- and YAML-safe."""
        return {name: getattr(self, name).to_dict() for name in _BY_NAME}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)

    def with_overrides(self, assignments: Iterable[str]) -> TrainConfig:
        """Returns a copy with `section.key=value` assignments applied in order.

        `value` is parsed as a YAML scalar or flow collection. Keys holding a mapping
        (`data.preprocess`, `data.augment_config`, `data.source_options`,
        `model.overrides`) take one more level: `model.overrides.width=8`.

        Raises:
            ConfigError: a malformed assignment, an unknown section/key or a bad value.
        """
        values = []
        for text in assignments:
            if not isinstance(text, str) or "=" not in text:
                raise ConfigError(
                    f"an override must look like section.key=value. Received: {text!r}"
                )
            path, raw = text.split("=", 1)
            try:
                value = parse_yaml_value(raw, f"override {path.strip()!r}") if raw.strip() else None
            except yaml.YAMLError as exc:
                raise ConfigError(f"cannot parse the value of override {text!r} ({exc})") from None
            values.append((path.strip(), value))
        return self.with_values(values)

    def with_values(
        self, values: Mapping[str, object] | Iterable[tuple[str, object]]
    ) -> TrainConfig:
        """Like `with_overrides`, with Python values given as is (no YAML parsing):
        `config.with_values({"data.cache": path})` or a list of `(key, value)` pairs."""
        data = self.to_dict()
        for path, value in values.items() if isinstance(values, dict) else values:
            parts = str(path).split(".")
            if len(parts) not in (2, 3) or not all(parts):
                raise ConfigError(
                    f"an override must name section.key (or section.key.sub "
                    f"for a mapping). Received: {path!r}"
                )
            section, key = parts[0], parts[1]
            if section not in data:
                raise ConfigError(
                    f"unknown section {section!r} in override {path!r}; valid "
                    f"sections: {', '.join(_BY_NAME)}"
                )
            if key not in data[section]:
                raise ConfigError(
                    f"unknown key {section}.{key} in override {path!r}; valid "
                    f"keys of `{section}`: {', '.join(data[section])}"
                )
            if len(parts) == 3:
                if not isinstance(data[section][key], dict):
                    raise ConfigError(
                        f"`{section}.{key}` is not a mapping; override it as "
                        f"{section}.{key}=value. Received: {path!r}"
                    )
                data[section][key] = {**data[section][key], parts[2]: value}
            else:
                data[section][key] = value
        return TrainConfig.from_dict(data)

    def replace(self, **sections: Section) -> TrainConfig:
        """Returns a copy with whole sections replaced (e.g. `data=DataSection(...)`)."""
        return dataclasses.replace(self, **sections)
