"""What an evaluation settles before it reads the evaluated split.

- `StudySettings`: the analysis plan and the options that override it (prevalence, seed,
  interval, bootstrap resamples), resolved once and checked;
- `fingerprints`: the SHA-256 of the model file and of the run's configuration, which the
  test-split ledger records;
- `pretraining_caches`: the caches the model learnt from before fine-tuning, found through
  the run's `transfer.init_from` chain, for the leakage check;
- `locked_operating_points`: the contract's cut and the plan's rule-out and rule-in cuts,
  chosen on VALIDATION data before the evaluated split is scored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe import run_directory
from keras_ecgpe.data.prepared_cache import PreparedCache
from keras_ecgpe.errors import ConfigError, ECGPEError
from keras_ecgpe.evaluation import AnalysisPlan, ThresholdChoice, choose_thresholds
from keras_ecgpe.evaluation.proportions import INTERVAL_METHODS
from keras_ecgpe.evaluation.study import OperatingPoint
from keras_ecgpe.inference.contract_io import resolve_recorded_path

if TYPE_CHECKING:
    import os

    import keras

_MAX_TRANSFER_DEPTH = 8  # a chain of pretrained runs longer than this is a loop


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """The analysis plan with the command line's overrides applied.

    Attributes:
        plan: the `AnalysisPlan` (its hash goes into the report and the ledger).
        plan_given: False when no plan file was given and the defaults were used.
        prevalence: the stated target-population prevalence, or None.
        prevalence_from: "option", "plan" or None.
        seed: bootstrap seed; n_boot: patient bootstrap resamples; interval: the proportion
            interval ("clopper-pearson" or "wilson"); each with where it came from in
            `origins`.
    """

    plan: AnalysisPlan
    plan_given: bool
    prevalence: float | None
    seed: int
    n_boot: int
    interval: str
    origins: dict

    @property
    def alpha(self) -> float:
        return 1.0 - self.plan.interval_level

    def to_dict(self) -> dict:
        return {
            "plan": self.plan.to_dict(),
            "plan_sha256": self.plan.sha256,
            "plan_source": self.plan.source,
            "plan_given": self.plan_given,
            "prevalence": self.prevalence,
            "seed": self.seed,
            "n_boot": self.n_boot,
            "interval": self.interval,
            "interval_name": INTERVAL_METHODS[self.interval][1],
            "level": self.plan.interval_level,
            "origins": dict(self.origins),
        }


def resolve_settings(
    plan: AnalysisPlan | os.PathLike | str | None = None,
    *,
    prevalence: float | None = None,
    seed: int | None = None,
    n_boot: int | None = None,
    interval: str | None = None,
    run_bootstrap: int | None = None,
) -> StudySettings:
    """Resolves the plan and its overrides: an option beats the plan, the plan beats the
    run's `evaluation.bootstrap`, which beats the plan's default.

    Args:
        plan: an `AnalysisPlan`, a plan file path, or None (defaults, said so in the report).
        prevalence: `--prevalence`, in (0, 1), or None.
        seed: `--seed`, or None.
        n_boot: `--bootstrap`, or None.
        interval: `--interval`, or None.
        run_bootstrap: the run's `evaluation.bootstrap`, used without a plan and option.

    Raises:
        ConfigError: a bad plan file (named), a prevalence outside (0, 1), a negative
            seed or resample count, an unknown interval.
    """
    given = plan is not None
    if plan is None:
        plan = AnalysisPlan.default()
    elif not isinstance(plan, AnalysisPlan):
        plan = AnalysisPlan.load(plan)
    origins = {}
    if prevalence is not None:
        prevalence = float(prevalence)
        if not 0.0 < prevalence < 1.0:
            raise ConfigError(f"`prevalence` must be in (0, 1). Received: {prevalence:g}")
        origins["prevalence"] = "option --prevalence"
    elif plan.target_prevalence is not None:
        prevalence = plan.target_prevalence
        origins["prevalence"] = "analysis plan"
    if seed is None:
        seed, origins["seed"] = plan.seed, "analysis plan" if given else "default plan"
    else:
        origins["seed"] = "option --seed"
    if int(seed) != seed or seed < 0:
        raise ConfigError(f"`seed` must be a non-negative integer. Received: {seed}")
    if n_boot is not None:
        origins["n_boot"] = "option --bootstrap"
    elif given or run_bootstrap is None:
        n_boot = plan.bootstrap_resamples
        origins["n_boot"] = "analysis plan" if given else "default plan"
    else:
        n_boot, origins["n_boot"] = run_bootstrap, "the run's evaluation.bootstrap"
    if int(n_boot) != n_boot or n_boot < 0:
        raise ConfigError(f"`n_boot` must be a non-negative integer. Received: {n_boot}")
    if interval is None:
        interval = plan.proportion_interval
        origins["interval"] = "analysis plan" if given else "default plan"
    else:
        origins["interval"] = "option --interval"
    if interval not in INTERVAL_METHODS:
        raise ConfigError(
            f"`interval` must be one of {sorted(INTERVAL_METHODS)}. Received: {interval!r}"
        )
    return StudySettings(plan, given, prevalence, int(seed), int(n_boot), interval, origins)


def file_sha256(path: os.PathLike | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprints(files: run_directory.RunFiles, contract: dict) -> dict:
    """SHA-256 of the model file and of the run's configuration, as the ledger records them.

    The configuration hash is over the bytes of the run's `config.yaml`; a model without
    one (trained outside this package) is hashed by the canonical JSON of its contract
    (sorted keys, no spaces), and `config_hashed` says which.
    """
    if files.config.is_file():
        config_sha, what = file_sha256(files.config), f"bytes of {files.config.name}"
    else:
        text = json.dumps(contract, sort_keys=True, separators=(",", ":"), allow_nan=False)
        config_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        what = "canonical JSON of contract.json (the run has no config.yaml)"
    return {
        "model_sha256": file_sha256(files.model),
        "config_sha256": config_sha,
        "config_hashed": what,
    }


def pretrained_run_cache(run: os.PathLike | str) -> tuple[Path | None, str | None]:
    """`(cache, None)`: the cache a pretrained run learnt from; or `(None, why not)`.

    The run's `config.yaml` names the cache (`data.cache`; a run that prepared its own data
    keeps it in `<run>/cache`). When the run's contract recorded the cache key, a cache that
    now holds other data is not taken for the pretraining data.
    """
    from keras_ecgpe.training.config import TrainConfig

    path = Path(run)
    run_dir = path if path.is_dir() else path.parent
    config_file = run_dir / run_directory.CONFIG
    if not config_file.is_file():
        return None, f"{run_dir} has no {run_directory.CONFIG} naming its pretraining data"
    try:
        data = TrainConfig.from_file(config_file).data
    except ECGPEError as exc:
        return None, f"{config_file} could not be read ({exc})"
    # config.yaml keeps data.cache as typed, relative to where training ran: resolved.
    cache = resolve_recorded_path(data.cache, run_dir) if data.cache else run_dir / "cache"
    named = f"data.cache={data.cache!r}" if data.cache is not None else f"{cache}"
    try:
        opened = PreparedCache.open(cache, verify=False)
    except ECGPEError:
        return None, f"the pretraining cache ({named} in {config_file}) no longer exists"
    contract_file = run_dir / run_directory.CONTRACT
    key = None
    if contract_file.is_file():
        key = (run_directory.load_contract(contract_file).get("data") or {}).get("cache_key")
    if key is not None and opened.key != key:
        return None, (
            f"the pretraining cache {cache} now holds other data (key {opened.key}, the "
            f"pretrained run recorded {key})"
        )
    return opened.path, None


def pretraining_caches(files: run_directory.RunFiles) -> tuple[list[str], list[str]]:
    """The caches the model's pretrained ancestors learnt from, found through config files.

    A fine-tuned run's `config.yaml` names its pretrained run (`transfer.init_from`), whose
    data `pretrained_run_cache` finds; the chain is followed up to the first run that was
    not fine-tuned.

    Returns:
        `(cache paths, notes)`: the caches found, and notes on links that could not be
        followed (a moved run or cache).
    """
    from keras_ecgpe.training.config import TrainConfig

    found, notes, seen = [], [], set()
    current = files
    for _ in range(_MAX_TRANSFER_DEPTH):
        if not current.config.is_file():
            break
        init_from = TrainConfig.from_file(current.config).transfer.init_from
        if not init_from:
            break
        try:
            parent = run_directory.locate_run(init_from)
        except ConfigError as error:
            notes.append(f"pretrained run {init_from} not found, its data not checked: {error}")
            break
        if parent.run_dir.resolve() in seen:
            break
        seen.add(parent.run_dir.resolve())
        cache, why_not = pretrained_run_cache(parent.run_dir)
        if cache is None:
            notes.append(f"pretraining data of {parent.run_dir} not checked: {why_not}")
        else:
            found.append(str(cache))
        current = parent
    return found, notes


def _validation_source(contract: dict, cache: PreparedCache):
    """The cache whose validation split chose the contract's cuts, or `(None, reason)`."""
    data = contract.get("data") or {}
    if data.get("cache_key") == cache.key:
        return cache, None
    path = data.get("cache_path")
    path = resolve_recorded_path(path, None) if path else None
    try:
        training = PreparedCache.open(path, verify=False) if path else None
    except ECGPEError as error:
        return None, f"the training cache {path} cannot be opened ({error})"
    if training is None or training.key != data.get("cache_key"):
        return None, (
            f"the training cache {path} is missing or holds other data, so no validation "
            "split is at hand to lock the rule-out and rule-in cuts on"
        )
    return training, None


def validation_predictions(
    model: keras.Model, contract: dict, cache: PreparedCache, *, exclude_flagged: bool = False
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, str]:
    """Record logits of the training run's validation split: `(y, logits, mask, where)`, or
    `(None, None, None, reason)` when no validation records are at hand. `exclude_flagged`
    leaves out records with signal-quality flags, as the run did (`data.exclude_flagged`)."""
    from keras_ecgpe.training.run_data import WindowPlan, predict_records

    source, reason = _validation_source(contract, cache)
    if source is None:
        return None, None, None, reason
    rows = source.indices("validation", exclude_flagged=exclude_flagged)
    if rows.size == 0:
        return None, None, None, f"{source.path} has no validation records"
    y, logits, mask, _ = predict_records(model, source, rows, WindowPlan.from_contract(contract))
    return y, logits, mask, f"validation split of {source.path}"


def _achieved(y, z, cut) -> dict:
    y = np.asarray(y).astype(bool)
    called = np.asarray(z) >= cut
    return {
        "sensitivity": float((y & called).sum() / y.sum()) if y.any() else None,
        "specificity": float((~y & ~called).sum() / (~y).sum()) if (~y).any() else None,
        "n_positive": int(y.sum()),
        "n_negative": int((~y).sum()),
    }


def locked_operating_points(
    contract: dict,
    plan: AnalysisPlan,
    validation: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, str],
) -> list[list]:
    """Per class, the operating points locked on validation, the contract's cut first.

    Args:
        contract: the model's contract (its `thresholds` hold the primary cuts).
        plan: the analysis plan (rule-out sensitivity and rule-in specificity targets).
        validation: `validation_predictions(...)`.

    Returns:
        One list of `OperatingPoint` per class of the contract.
    """
    y, z, mask, where = validation
    stored = contract["thresholds"]
    choice = ThresholdChoice.from_dict(stored)
    names = list(contract["label_names"])
    targets = [
        ("rule-out", "rule_out", "sensitivity", plan.rule_out_sensitivity),
        ("rule-in", "rule_in", "specificity", plan.rule_in_specificity),
    ]
    chosen = {}
    if y is not None:
        for _, kind, method, target in targets:
            if target is not None:
                chosen[kind] = choose_thresholds(y, z, method=method, target=target, mask=mask)
    out = []
    for c, name in enumerate(names):
        keep = None if y is None else mask[:, c] > 0
        primary_fallback = c in tuple(stored.get("fallback_classes", ()))
        points = [
            OperatingPoint(
                name="primary",
                kind="primary",
                method=choice.method,
                target=choice.target,
                cut=float(choice.cuts[c]),
                chosen_on="validation split of the training run (stored in contract.json)",
                validation=None if y is None else _achieved(y[keep, c], z[keep, c], choice.cuts[c]),
                reason=None,
            )
        ]
        if primary_fallback:
            points[0] = dataclasses.replace(
                points[0], chosen_on="default logit 0: validation had no positives or negatives"
            )
        for label, kind, method, target in targets:
            if target is None:
                continue
            if y is None:
                cut, reason = None, f"not locked: {where}"
            elif c in chosen[kind].fallback:
                cut, reason = (
                    None,
                    f"not locked: the {where} has no positives or negatives of {name}",
                )
            else:
                cut, reason = float(chosen[kind].cuts[c]), None
            points.append(
                OperatingPoint(
                    name=label,
                    kind=kind,
                    method=method,
                    target=float(target),
                    cut=cut,
                    chosen_on=where if y is not None else "",
                    validation=None if cut is None else _achieved(y[keep, c], z[keep, c], cut),
                    reason=reason,
                )
            )
        out.append(points)
    return out
