"""`ecgpe-keras compare-models`: two trained models on one split, paired DeLong test."""

from __future__ import annotations

import click

from keras_ecgpe.cli.errors import reported_errors
from keras_ecgpe.cli.study_options import analysis_plan, declare_new_model_option, split_option


@click.command("compare-models")
@click.argument("run_a", type=click.Path(exists=True))
@click.argument("run_b", type=click.Path(exists=True))
@click.option(
    "--data",
    "cache",
    type=click.Path(exists=True, file_okay=False),
    required=True,
    help="Prepared cache both models' contracts fit.",
)
@split_option
@click.option("--out", type=click.Path(file_okay=False), required=True)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Analysis plan (YAML): interval level; its SHA-256 goes into the result and ledger.",
)
@declare_new_model_option
@click.option("--overwrite", is_flag=True, help="Replace a previous result in --out.")
def compare_models(
    run_a: str,
    run_b: str,
    cache: str,
    split: str,
    out: str,
    plan_file: str | None,
    declaration: str | None,
    overwrite: bool,
) -> None:
    """Score RUN_A and RUN_B on the same records and test their AUROC difference (DeLong).

    Scoring the test split is a look for both models in the cache's ledger. Writes
    OUT/paired_delong.json and OUT/report.{txt,html,json}.
    """
    from keras_ecgpe.studies.paired_models import compare_models as run_comparison

    with reported_errors():
        result = run_comparison(
            run_a,
            run_b,
            cache,
            out,
            split=split,
            declaration=declaration,
            analysis_plan=analysis_plan(plan_file),
            overwrite=overwrite,
        )
    tag = " (SYNTHETIC data)" if result["synthetic"] else ""
    for entry in result["classes"]:
        if entry.get("p_value") is not None or entry.get("difference") is not None:
            p = "n/a" if entry.get("p_value") is None else f"{entry['p_value']:.3g}"
            click.echo(
                f"{entry['label']}{tag}: AUROC A {entry['auroc_a']:.3f}, B {entry['auroc_b']:.3f}, "
                f"A - B {entry['difference']:+.3f} ({entry['ci_low']:+.3f} to "
                f"{entry['ci_high']:+.3f}), DeLong p {p}"
            )
        else:
            click.echo(f"{entry['label']}: n/a ({entry['undefined']})")
    click.echo(f"Report: {out}/report.html")
