"""`ecgpe-keras train`, `compare` and `evaluate`: thin adapters over keras_ecgpe.training."""

from __future__ import annotations

import json

import click

from keras_ecgpe.cli.errors import reported_errors
from keras_ecgpe.cli.study_options import analysis_plan, declare_new_model_option, split_option
from keras_ecgpe.limits import (
    MAX_BOOTSTRAP,
    MAX_EPOCHS,
    MAX_FOLDS,
    MAX_RECORDS,
    MAX_REPEATS,
    MAX_SEED,
)


def _config(config_file, assignments, named):
    """Config file, then --set overrides, then named options (None: not given)."""
    from keras_ecgpe.training.config import TrainConfig

    config = TrainConfig.from_file(config_file) if config_file else TrainConfig()
    return config.with_overrides(assignments).with_values(
        {key: value for key, value in named.items() if value is not None}
    )


def _runtime_values(strategy, precision, xla) -> dict:
    # XLA needs op determinism off (Keras silently drops XLA under determinism).
    xla_values = (
        {}
        if xla is None
        else {"training.jit_compile": xla}
        if not xla
        else {"training.jit_compile": True, "training.deterministic": False}
    )
    return {"training.strategy": strategy, "training.precision": precision, **xla_values}


_COMMON = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False),
        help="Run configuration (.yaml/.yml/.json).",
    ),
    click.option(
        "--set",
        "assignments",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one setting, e.g. --set training.epochs=3 (repeatable).",
    ),
    click.option(
        "--data",
        "cache",
        type=click.Path(exists=True, file_okay=False),
        help="Prepared cache to train on.",
    ),
    click.option("--epochs", type=click.IntRange(1, MAX_EPOCHS)),
    click.option("--seed", type=click.IntRange(0, MAX_SEED)),
    click.option(
        "--strategy",
        type=click.Choice(["auto", "mirrored", "multiworker"]),
        help="Devices: one (auto), local GPUs/logical CPUs (mirrored), the TF_CONFIG "
        "cluster (multiworker). training.batch_size is per replica.",
    ),
    click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"])),
    click.option(
        "--xla/--no-xla",
        default=None,
        help="XLA compilation (--xla also turns op determinism off).",
    ),
    click.option("--overwrite", is_flag=True, help="Replace a previous run in --out."),
    click.option(
        "--resume", is_flag=True, help="Continue the unfinished run (or cross-validation) in --out."
    ),
]


_STUDY = [
    click.option(
        "--plan",
        "plan_file",
        type=click.Path(exists=True, dir_okay=False),
        help="Prespecified analysis plan (YAML): interval level, bootstrap, small-sample "
        "limit; its SHA-256 goes into the summary and the report.",
    ),
    click.option(
        "--regenerate-folds",
        is_flag=True,
        help="Deal new patient-level folds even when the cache has its own (a fold column "
        "in the PE manifest); by default those are used as given.",
    ),
    click.option(
        "--accept-leakage",
        is_flag=True,
        help="With --init-from: go on although a fine-tuning record is also a pretraining "
        "record, or a patient is in two splits (the report says so).",
    ),
]


def _study(function):
    for option in reversed(_STUDY):
        function = option(function)
    return function


def _common(function):
    for option in reversed(_COMMON):
        function = option(function)
    return function


@click.command()
@_common
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run directory (default runs/<model>-<time>; the demo: ecgpe-demo).",
)
@click.option("--model", help="Registered model name (ecgpe-keras models list).")
@click.option(
    "--init-from",
    type=click.Path(exists=True),
    help="Pretrained run directory or .keras file (with its contract.json).",
)
@click.option("--finetune", type=click.Choice(["linear", "full", "gradual"]))
@click.option(
    "--cv",
    "folds",
    type=click.IntRange(2, MAX_FOLDS),
    help="Repeated patient-level k-fold cross-validation over the non-test records.",
)
@click.option(
    "--repeats",
    type=click.IntRange(1, MAX_REPEATS),
    default=1,
    show_default=True,
    help="Repeats of --cv (each with a new fold assignment).",
)
@click.option(
    "--max-train-records",
    type=click.IntRange(4, MAX_RECORDS),
    help="With --cv: cap each fold's training part (patient-level, stratified).",
)
@_study
def train(
    config_file: str | None,
    assignments: tuple[str, ...],
    cache: str | None,
    epochs: int | None,
    seed: int | None,
    strategy: str | None,
    precision: str | None,
    xla: bool | None,
    overwrite: bool,
    resume: bool,
    out: str | None,
    model: str | None,
    init_from: str | None,
    finetune: str | None,
    folds: int | None,
    repeats: int,
    max_train_records: int | None,
    plan_file: str | None,
    regenerate_folds: bool,
    accept_leakage: bool,
) -> None:
    """Train a model; without data, run the SYNTHETIC demo (pretrain, fine-tune, evaluate).

    Named options win over --set, which wins over --config. The run directory gets the
    config, history, best/last checkpoints, contract.json and validation reports. With
    --cv K, every fold is a run under OUT/cv/ and OUT/cv_summary.{json,txt} summarise them;
    the test split is left for one final evaluation.
    """
    named = {
        "data.cache": cache,
        "model.name": model,
        "training.epochs": epochs,
        "transfer.init_from": init_from,
        "transfer.finetune": finetune,
        "training.seed": seed,
        **_runtime_values(strategy, precision, xla),
    }
    with reported_errors():
        from keras_ecgpe.errors import ConfigError

        config = _config(config_file, assignments, named)
        if (repeats != 1 or max_train_records or plan_file or regenerate_folds) and not folds:
            raise ConfigError(
                "--repeats, --max-train-records, --plan and --regenerate-folds go with --cv K"
            )
        if accept_leakage and not config.transfer.init_from:
            raise ConfigError("--accept-leakage goes with --init-from")
        from keras_ecgpe.training import launch

        customised = any((config_file, assignments, model, epochs, init_from, finetune, folds))
        if launch.demo_if_no_data(config, out, customised=customised) is not None:
            return
        out = out or launch.default_run_dir(config.model.name, cross_validation=bool(folds))
        if config.transfer.init_from:
            _check_transfer_leakage(config, accept_leakage)
        if folds:
            from keras_ecgpe.studies.cross_validation import cross_validate

            cross_validate(
                config,
                out,
                k=folds,
                repeats=repeats,
                max_train_records=max_train_records,
                overwrite=overwrite,
                resume=resume,
                regenerate_folds=regenerate_folds,
                analysis_plan=analysis_plan(plan_file),
            )
            return
        from keras_ecgpe.training.trainer import train_run

        result = train_run(config, out, overwrite=overwrite, resume=resume)
    tag = " (SYNTHETIC data)" if result.synthetic else ""
    click.echo(
        f"Run {result.run_dir}{tag}: best epoch {result.best_epoch} of "
        f"{result.epochs_run}, validation macro AUROC "
        f"{result.val_metrics['auroc']:.3f}; model {result.best_model}"
    )


def _check_transfer_leakage(config, accept: bool) -> None:
    """Refuses (unless `accept`) a fine-tuning cache whose test split holds a pretraining
    recording or whose splits share a patient; says what could not be checked."""
    from keras_ecgpe.studies.transfer_leakage import check_transfer_leakage

    if config.data.cache is None:
        click.echo(
            "Leakage check: skipped, the data is prepared during the run (give --data "
            "CACHE to check it against the pretraining cache first)"
        )
        return
    found = check_transfer_leakage(config.transfer.init_from, config.data.cache, accept=accept)
    if found["pretraining_check"].startswith("not run"):
        click.echo(f"Leakage check against pretraining {found['pretraining_check']}")
    if found["accepted"]:
        click.echo(f"Leakage ACCEPTED (--accept-leakage): {found['summary']}")


@click.command()
@_common
@_study
@click.option(
    "--init-from",
    type=click.Path(exists=True),
    required=True,
    help="Pretrained run directory (its config.yaml names the scratch architecture).",
)
@click.option(
    "--cv",
    "folds",
    type=click.IntRange(2, MAX_FOLDS),
    required=True,
    help="Folds of the patient-level cross-validation.",
)
@click.option("--repeats", type=click.IntRange(1, MAX_REPEATS), default=1, show_default=True)
@click.option(
    "--arms",
    default="scratch,linear,full",
    show_default=True,
    help="Comma-separated: scratch, linear, full, gradual.",
)
@click.option(
    "--max-train-records",
    type=click.IntRange(4, MAX_RECORDS),
    help="Cap each fold's training part, e.g. 150 (patient-level, stratified).",
)
@click.option("--out", type=click.Path(file_okay=False), required=True)
def compare(
    config_file: str | None,
    assignments: tuple[str, ...],
    cache: str | None,
    epochs: int | None,
    seed: int | None,
    strategy: str | None,
    precision: str | None,
    xla: bool | None,
    overwrite: bool,
    resume: bool,
    plan_file: str | None,
    regenerate_folds: bool,
    accept_leakage: bool,
    init_from: str,
    folds: int,
    repeats: int,
    arms: str,
    max_train_records: int | None,
    out: str,
) -> None:
    """Scratch vs linear probe vs full fine-tuning on the same folds: paired per-fold tests.

    Writes OUT/<arm>/ (one cross-validation per arm), OUT/comparison.md and .json, and
    OUT/report.{txt,html,json}: per-fold paired differences with the corrected resampled
    t-test (primary), the pooled AUROC (secondary).
    """
    named = {
        "data.cache": cache,
        "training.epochs": epochs,
        "training.seed": seed,
        **_runtime_values(strategy, precision, xla),
    }
    with reported_errors():
        from keras_ecgpe.studies.comparison import compare_arms

        config = _config(config_file, assignments, named)
        compare_arms(
            config,
            out,
            init_from=init_from,
            arms=[a.strip() for a in arms.split(",") if a.strip()],
            k=folds,
            repeats=repeats,
            max_train_records=max_train_records,
            overwrite=overwrite,
            resume=resume,
            regenerate_folds=regenerate_folds,
            analysis_plan=analysis_plan(plan_file),
            accept_leakage=accept_leakage,
        )
    click.echo(f"Comparison: {out}/comparison.md, {out}/report.html")


@click.command()
@click.argument("run_or_model", type=click.Path(exists=True))
@click.option(
    "--data",
    "cache",
    type=click.Path(exists=True, file_okay=False),
    required=True,
    help="Prepared cache compatible with the model's contract.",
)
@split_option
@click.option("--out", type=click.Path(file_okay=False), help="Default <run>/eval-<split>.")
@click.option(
    "--bootstrap",
    type=click.IntRange(0, MAX_BOOTSTRAP),
    default=None,
    help="Bootstrap resamples (default: the run's evaluation.bootstrap).",
)
@click.option("--overwrite", is_flag=True, help="Replace a previous evaluation in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option(
    "--plan",
    type=click.Path(dir_okay=False),
    help="Prespecified analysis plan (.yaml/.json, docs/study.md); default: the defaults.",
)
@click.option(
    "--prevalence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Target-population prevalence: PPV/NPV also at it (overrides the plan's).",
)
@click.option(
    "--seed", type=click.IntRange(0, MAX_SEED), help="Bootstrap seed (overrides the plan's)."
)
@click.option(
    "--interval",
    type=click.Choice(["clopper-pearson", "wilson"]),
    help="Interval of sensitivity, specificity, PPV, NPV (default: the plan's).",
)
@declare_new_model_option
@click.option(
    "--accept-leakage",
    is_flag=True,
    help="Score despite patients or recordings shared between splits or with pretraining; "
    "the report says so prominently.",
)
@click.option(
    "--pretrain-cache",
    "pretrain_caches",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="A cache the model was pretrained on, checked for shared recordings (repeatable; "
    "the run's transfer.init_from chain is followed too).",
)
@click.option(
    "--gallery",
    type=click.IntRange(0, 50),
    default=4,
    show_default=True,
    help="Error gallery: this many most confident false positives and false negatives "
    "(and half as many true positives) drawn with their attributions; 0: none.",
)
def evaluate(
    run_or_model: str,
    cache: str,
    split: str,
    out: str | None,
    bootstrap: int | None,
    overwrite: bool,
    as_json: bool,
    plan: str | None,
    prevalence: float | None,
    seed: int | None,
    interval: str | None,
    declaration: str | None,
    accept_leakage: bool,
    pretrain_caches: tuple[str, ...],
    gallery: int,
) -> None:
    """Score RUN_OR_MODEL once on a split (default test); write the study report.

    Writes metrics.json, summary.txt, predictions.csv, plots and report.txt/.html/.json.
    A test split is sealed: each look is recorded in the cache's ledger, and a different
    model needs --declare-new-model REASON.
    """
    from keras_ecgpe.training.evaluate import evaluate_run

    with reported_errors():
        metrics = evaluate_run(
            run_or_model,
            cache,
            split=split,
            out_dir=out,
            n_boot=bootstrap,
            overwrite=overwrite,
            plan=plan,
            prevalence=prevalence,
            seed=seed,
            interval=interval,
            declare_new_model=declaration,
            accept_leakage=accept_leakage,
            pretrain_caches=pretrain_caches,
            gallery=gallery,
        )
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    with open(metrics["files"]["summary"], encoding="utf-8") as handle:
        click.echo(handle.read().rstrip())
    click.echo("Files: " + ", ".join(metrics["files"].values()))
    if metrics.get("gallery"):
        gallery = metrics["gallery"]
        click.echo(f"Error gallery: {gallery['folder']} ({len(gallery['items'])} records)")
    click.echo(f"Study report: {metrics['files']['report_html']}")
