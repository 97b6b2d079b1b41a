"""The prespecified analysis plan: what a study will report, fixed before the test split is read.

A small YAML (or JSON) file, checked against `schemas/analysis_plan.schema.json` (unknown
keys are errors) and a few rules a schema cannot say (age bands must increase). Its
`sha256` is taken over the canonical JSON of the validated plan WITH the defaults filled
in, so comments, whitespace, key order and writing a default out do not change it, while
any changed value does. Evaluations record the hash in their report and in the test-split
ledger. Format and defaults: docs/study.md, "The analysis plan".
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from keras_ecgpe import schemas
from keras_ecgpe.config_documents import check_flow_nesting, check_nesting
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from typing import Any

PLAN_VERSION = 1
_MAX_BYTES = schemas.MAX_BYTES["analysis_plan"]


@dataclasses.dataclass(frozen=True)
class AnalysisPlan:
    """A validated analysis plan. Build it with `load`, `from_dict` or `default`.

    Attributes:
        label: the class the plan is about (e.g. "PE"); None for every class.
        primary_metric: the one figure the study is judged on.
        rule_out_sensitivity: rule-out operating point: the threshold chosen on validation
            reaches at least this sensitivity; None for no rule-out point.
        rule_in_specificity: rule-in operating point, likewise for specificity; or None.
        sex_subgroups: report by sex where the data has it.
        age_bands: band edges in years, increasing: `(18, 50, 65, 80)` gives 18-<50,
            50-<65, 65-<80 and >=80; ages below the first edge are in no band. Empty: none.
        target_prevalence: PPV/NPV are also reported at this prevalence; None for only the
            cohort's own.
        interval_level: confidence level of every interval.
        proportion_interval: "clopper-pearson" (default: the interval whose simulated
            coverage held at 5 positives, docs/statistics.md) or "wilson", for sensitivity,
            specificity, PPV and NPV.
        bootstrap_resamples: patient-level bootstrap resamples (0: none).
        seed: seed of every resampling.
        small_sample_min: fewer positives or negatives than this flags an interval.
        source: the file the plan was read from (not part of the hash), or None.

    Example:
    >>> plan = AnalysisPlan.default()
    >>> plan.primary_metric, plan.age_band_labels()[-1]
    ('auroc', '>=80')
    """

    label: str | None = None
    primary_metric: str = "auroc"
    rule_out_sensitivity: float | None = 0.95
    rule_in_specificity: float | None = 0.90
    sex_subgroups: bool = True
    age_bands: tuple[float, ...] = (18.0, 50.0, 65.0, 80.0)
    target_prevalence: float | None = None
    interval_level: float = 0.95
    proportion_interval: str = "clopper-pearson"  # see docs/statistics.md
    bootstrap_resamples: int = 2000
    seed: int = 0
    small_sample_min: int = 10
    source: str | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def default(cls) -> AnalysisPlan:
        """The plan used when none is given (the defaults in docs/study.md)."""
        return cls()

    @classmethod
    def load(cls, path: os.PathLike | str) -> AnalysisPlan:
        """Reads and validates a `.yaml`, `.yml` or `.json` plan.

        Raises:
            ConfigError: unreadable, too large, not YAML/JSON, an unknown key, a value of
                the wrong type or range, or age bands that do not increase; the message
                names the file and the key (`plan.yaml: at $.operating_points.rule_out.
                sensitivity: 1.5 is greater than the maximum of 1`).
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".yaml", ".yml", ".json"):
            raise ConfigError(f"{path}: an analysis plan must be a .yaml, .yml or .json file")
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the analysis plan ({exc.strerror})") from None
        if len(data) > _MAX_BYTES:
            raise ConfigError(
                f"{path}: more than {_MAX_BYTES} bytes, too large for an analysis plan; not parsed"
            )
        if suffix == ".json":
            document = schemas.parse_json_bytes(
                data, where=str(path), what="analysis plan", error_type=ConfigError
            )
        else:
            document = _parse_yaml(data, path)
        return cls.from_dict(document, where=str(path))

    @classmethod
    def from_dict(cls, document: object, where: str | None = None) -> AnalysisPlan:
        """Validates a parsed plan and fills in defaults.

        Args:
            document: the parsed YAML/JSON mapping.
            where: the file it came from, for messages and `source`.

        Raises:
            ConfigError: as for `load`.
        """
        source, where = where, where or "analysis plan"
        if document is None:
            raise ConfigError(f"{where}: the analysis plan is empty; state at least primary_metric")
        _refuse_non_finite(document, where, "$")
        schemas.validate(document, "analysis_plan", where, error_type=ConfigError)
        bands = (document.get("subgroups") or {}).get("age_bands") or []
        if any(b <= a for a, b in itertools.pairwise(bands)):
            raise ConfigError(
                f"{where}: at $.subgroups.age_bands: band edges must increase "
                f"strictly. Received: {bands}"
            )
        base = cls()
        points = document.get("operating_points", {})
        subgroups = document.get("subgroups", {})
        intervals = document.get("intervals", {})
        bootstrap = document.get("bootstrap", {})
        prevalence = document.get("target_prevalence", base.target_prevalence)

        def target(name, key, default):
            if name not in points:
                return default
            return None if points[name] is None else float(points[name][key])

        return cls(
            label=document.get("label", base.label),
            primary_metric=document.get("primary_metric", base.primary_metric),
            rule_out_sensitivity=target("rule_out", "sensitivity", base.rule_out_sensitivity),
            rule_in_specificity=target("rule_in", "specificity", base.rule_in_specificity),
            sex_subgroups=subgroups.get("sex", base.sex_subgroups),
            # Numbers as one type each (18 and 18.0, 2000 and 2000.0 hash alike).
            age_bands=tuple(map(float, bands)) if "age_bands" in subgroups else base.age_bands,
            target_prevalence=None if prevalence is None else float(prevalence),
            interval_level=float(intervals.get("level", base.interval_level)),
            proportion_interval=intervals.get("proportion", base.proportion_interval),
            bootstrap_resamples=int(bootstrap.get("resamples", base.bootstrap_resamples)),
            seed=int(bootstrap.get("seed", base.seed)),
            small_sample_min=int(document.get("small_sample_min", base.small_sample_min)),
            source=source,
        )

    def to_dict(self) -> dict:
        """The plan in the file format, every key written out (JSON- and YAML-safe)."""
        return {
            "version": PLAN_VERSION,
            "label": self.label,
            "primary_metric": self.primary_metric,
            "operating_points": {
                "rule_out": None
                if self.rule_out_sensitivity is None
                else {"sensitivity": self.rule_out_sensitivity},
                "rule_in": None
                if self.rule_in_specificity is None
                else {"specificity": self.rule_in_specificity},
            },
            "subgroups": {"sex": self.sex_subgroups, "age_bands": list(self.age_bands)},
            "target_prevalence": self.target_prevalence,
            "intervals": {"level": self.interval_level, "proportion": self.proportion_interval},
            "bootstrap": {"resamples": self.bootstrap_resamples, "seed": self.seed},
            "small_sample_min": self.small_sample_min,
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of `to_dict()` (sorted keys, no spaces, UTF-8),
        so equal plans hash alike however they were written."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def age_band_labels(self) -> list[str]:
        """Names of the age bands in order: `["18-<50", "50-<65", "65-<80", ">=80"]`."""
        edges = list(self.age_bands)
        return [f"{a:g}-<{b:g}" for a, b in itertools.pairwise(edges)] + (
            [f">={edges[-1]:g}"] if edges else []
        )

    def age_band(self, age: float | None) -> str | None:
        """The band `age` (years) falls in; None when unknown or below the first edge."""
        if isinstance(age, bool) or not isinstance(age, (int, float)) or not math.isfinite(age):
            return None
        labels = self.age_band_labels()
        inside = [k for k, edge in enumerate(self.age_bands) if age >= edge]
        return labels[inside[-1]] if inside else None


class StrictSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses duplicate keys and aliases (`*anchor`)."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not allowed in an analysis plan", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(data: bytes, path: os.PathLike):
    try:
        text = data.decode("utf-8")
        check_flow_nesting(text, str(path), "analysis plan")
        document = yaml.load(text, Loader=StrictSafeLoader)
    except RecursionError:
        raise ConfigError(f"{path}: analysis plan nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not a valid YAML analysis plan ({exc})") from None
    check_nesting(document, str(path), "analysis plan")
    return document


def _refuse_non_finite(value, where: str, at: str) -> None:
    """YAML reads `.nan` and `.inf` as floats; a plan never needs them."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: at {at}: {value} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_non_finite(item, where, f"{at}.{key}")
    elif isinstance(value, list):
        for k, item in enumerate(value):
            _refuse_non_finite(item, where, f"{at}[{k}]")
