"""Options and helpers that the commands scoring a split (`evaluate`, `compare-models`) and
the studies (`train --cv`, `compare`) declare alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import os

    from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan

split_option = click.option(
    "--split", default="test", show_default=True, type=click.Choice(["test", "validation", "train"])
)

declare_new_model_option = click.option(
    "--declare-new-model",
    "declaration",
    metavar="REASON",
    help="Why a model that has not scored this test split may score it now; the reason is "
    "recorded in the cache's test-split ledger (needed once another model has scored it).",
)


def analysis_plan(plan_file: os.PathLike | str | None) -> AnalysisPlan | None:
    """The `AnalysisPlan` of --plan, or None.

    Raises:
        ConfigError: the plan file is malformed (named).
    """
    if plan_file is None:
        return None
    from keras_ecgpe.evaluation.analysis_plan import AnalysisPlan

    return AnalysisPlan.load(plan_file)
