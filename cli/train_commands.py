"""`ecgpe-keras train` and `ecgpe-keras evaluate`: thin adapters over keras_ecgpe.training."""

from __future__ import annotations

import datetime
import json

import click

from keras_ecgpe.cli.errors import reported_errors


@click.command()
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="Run configuration (.yaml/.yml/.json).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override one setting, e.g. --set training.epochs=3 (repeatable).")
@click.option("--out", type=click.Path(file_okay=False),
              help="Run directory (default runs/<model>-<time>; the demo: ecgpe-demo).")
@click.option("--data", "cache", type=click.Path(exists=True, file_okay=False),
              help="Prepared cache to train on (its train/validation splits).")
@click.option("--model", help="Registered model name (ecgpe-keras models list).")
@click.option("--epochs", type=click.IntRange(min=1))
@click.option("--init-from", type=click.Path(exists=True),
              help="Pretrained run directory or .keras file (with its contract.json).")
@click.option("--finetune", type=click.Choice(["linear", "full", "gradual"]))
@click.option("--seed", type=click.IntRange(min=0))
@click.option("--overwrite", is_flag=True, help="Replace a previous run in --out.")
def train(config_file, assignments, out, cache, model, epochs, init_from, finetune, seed,
          overwrite) -> None:
    """Train a model; without data, run the SYNTHETIC demo (pretrain, fine-tune, evaluate).

    Named options win over --set, which wins over --config. The run directory gets the
    config, history, best/last checkpoints, contract.json and validation reports.
    """
    from keras_ecgpe.training.config import TrainConfig

    named = {"data.cache": cache, "model.name": model, "training.epochs": epochs,
             "transfer.init_from": init_from, "transfer.finetune": finetune,
             "training.seed": seed}
    with reported_errors():
        config = TrainConfig.from_file(config_file) if config_file else TrainConfig()
        config = config.with_overrides(assignments).with_values(
            {key: value for key, value in named.items() if value is not None})
        if not config.data.has_data:
            from keras_ecgpe.errors import ConfigError
            from keras_ecgpe.training.demo_run import default_demo_run

            if config_file or assignments or model or epochs or init_from or finetune:
                raise ConfigError("no training data: give --data CACHE (or data.source and "
                                  "data.root); run `ecgpe-keras train` with at most --out "
                                  "and --seed for the SYNTHETIC demo")
            click.echo("No data given: running the SYNTHETIC demo (synthetic ECGs, fake "
                       "patients).")
            default_demo_run(out or "ecgpe-demo", seed=config.training.seed)
            return
        from keras_ecgpe.training.trainer import train_run

        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        result = train_run(config, out or f"runs/{config.model.name}-{stamp}",
                           overwrite=overwrite)
    tag = " (SYNTHETIC data)" if result.synthetic else ""
    click.echo(f"Run {result.run_dir}{tag}: best epoch {result.best_epoch} of "
               f"{result.epochs_run}, validation macro AUROC "
               f"{result.val_metrics['auroc']:.3f}; model {result.best_model}")


@click.command()
@click.argument("run_or_model", type=click.Path(exists=True))
@click.option("--data", "cache", type=click.Path(exists=True, file_okay=False), required=True,
              help="Prepared cache compatible with the model's contract.")
@click.option("--split", default="test", show_default=True,
              type=click.Choice(["test", "validation", "train"]))
@click.option("--out", type=click.Path(file_okay=False), help="Default <run>/eval-<split>.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=None,
              help="Bootstrap resamples (default: the run's evaluation.bootstrap).")
@click.option("--overwrite", is_flag=True, help="Replace a previous evaluation in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(run_or_model, cache, split, out, bootstrap, overwrite, as_json) -> None:
    """Score RUN_OR_MODEL once on a split (default test) with bootstrap CIs and plots."""
    from keras_ecgpe.training.evaluate import evaluate_run

    with reported_errors():
        metrics = evaluate_run(run_or_model, cache, split=split, out_dir=out,
                               n_boot=bootstrap, overwrite=overwrite)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    with open(metrics["files"]["summary"], encoding="utf-8") as handle:
        click.echo(handle.read().rstrip())
    click.echo("Files: " + ", ".join(metrics["files"].values()))
