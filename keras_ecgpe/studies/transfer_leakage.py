"""Leakage checks before training from a pretrained run (`train/compare --init-from`).

A pretrained model has learnt its pretraining records. If one of them is also in a split
of the fine-tuning cache that scores the model, the score is inflated; CinC 2020/2021
republishes PTB-XL and CPSC2018 under other names, so this happens with public data. And a
patient in two splits of the fine-tuning cache leaks within it. `check_transfer_leakage`
finds both with `keras_ecgpe.data.leakage.find_leaks`, refuses by default with the records
named, and returns what it checked for the report - including that the pretraining
comparison could NOT be run when the pretraining cache is no longer where the pretrained
run's `config.yaml` says (`training.study_inputs.pretrained_run_cache`, which `evaluate`
uses too).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    import os

    from keras_ecgpe.data.prepared_cache import PreparedCache

ACCEPT_OPTION = "`accept_leakage=True`"


def check_transfer_leakage(
    init_from: os.PathLike | str,
    fine_tune_cache: PreparedCache | os.PathLike | str,
    *,
    accept: bool,
    splits: Sequence[str] = ("test",),
) -> dict:
    """Checks a fine-tuning cache against itself and against the pretraining cache.

    Args:
        init_from: the pretrained run directory (or its `.keras` file).
        fine_tune_cache: path of the fine-tuning cache.
        accept: go on despite leaks (the result says "accepted").
        splits: the fine-tuning splits whose records must not be pretraining records.

    Returns:
        `{"pretraining_cache", "pretraining_check" ("run" or "not run: ..."),
        "splits_checked", "clean", "accepted", "summary", "reports": [LeakReport dicts]}`.

    Raises:
        ConfigError: a leak and not `accept`; the message names the records and the option.

    Example:

    ```python
    check_transfer_leakage("runs/pretrain", "prepared/pe", accept=False)["clean"]
    ```
    """
    from keras_ecgpe.data.leakage import find_leaks
    from keras_ecgpe.training.study_inputs import pretrained_run_cache

    pretrain, why_not = pretrained_run_cache(init_from)
    same = pretrain is not None and pretrain.resolve() == Path(fine_tune_cache).resolve()
    others = [] if pretrain is None or same else [pretrain]
    reports = []
    for split in splits:
        report = find_leaks(fine_tune_cache, others, split=split)
        try:
            reports.append(report.raise_unless(accept))
        except ConfigError as exc:
            raise ConfigError(f"{exc} with {ACCEPT_OPTION}") from None
    if same:
        check = "run: the pretraining cache is the fine-tuning cache (checked across its splits)"
    elif pretrain is None:
        check = f"not run: {why_not}"
    else:
        check = "run"
    leaked = [r for r in reports if not r.clean]
    return {
        "pretraining_cache": None if pretrain is None else str(pretrain),
        "pretraining_check": check,
        "splits_checked": list(splits),
        "clean": not leaked,
        "accepted": bool(leaked),
        "summary": "; ".join(f"{r.split}: {r.summary()}" for r in reports),
        "leaked_records": sorted({rec for r in leaked for rec in r.leaked_records()}),
        "reports": [r.to_dict() for r in reports],
    }
