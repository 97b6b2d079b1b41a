"""`ecgpe-keras study`: a declarative experiment grid on the same folds (docs/study_grid.md)."""

from __future__ import annotations

from pathlib import Path

import click

from keras_ecgpe.cli.errors import reported_errors
from keras_ecgpe.cli.study_options import declare_new_model_option
from keras_ecgpe.limits import MAX_WORKERS


@click.command("study")
@click.argument("study_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Study folder.")
@click.option(
    "--workers",
    type=click.IntRange(1, MAX_WORKERS),
    default=1,
    show_default=True,
    help="Processes taking cells in parallel (more machines: run the same command on each).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Only read and check the study file and list its cells; train nothing.",
)
@click.option(
    "--final-test",
    "final_cell",
    metavar="CELL",
    help="After the grid: train CELL (its id or label) on the cohort's train/validation "
    "splits and score it ONCE on the test split (a look in the sealed-test ledger).",
)
@declare_new_model_option
def study(
    study_file: str,
    out: str,
    workers: int,
    check: bool,
    final_cell: str | None,
    declaration: str | None,
) -> None:
    """Run every cell of STUDY_FILE's grid on the same patient-level folds.

    Finished cells are skipped, so a killed study continues where it stopped. Writes
    OUT/study_table.csv, study_results.json, study_summary.txt, forest.png and
    report.{txt,html,json}; the table goes to stdout, progress to stderr.
    """
    from keras_ecgpe.studies.grid_spec import StudySpec

    with reported_errors():
        spec = StudySpec.load(study_file)
        if check:
            for cell in spec.cells():
                mark = " (reference)" if cell == spec.reference_cell() else ""
                click.echo(f"{cell.id}: {cell.label}{mark}")
            return
        from keras_ecgpe.studies.grid_results import markdown_table
        from keras_ecgpe.studies.grid_runner import run_study

        result = run_study(spec, out, workers=workers)
        final = None
        if final_cell is not None:
            from keras_ecgpe.studies.grid_final import final_test

            final = final_test(spec, out, final_cell, declaration=declaration)
    tag = "SYNTHETIC data: " if result["synthetic"] else ""
    click.echo(f"{tag}study {result['name']}, {len(result['rows'])} cells")
    click.echo(markdown_table(result["rows"], result["level"]))
    click.echo(result["verdict"])
    files = ["study_table.csv", "study_results.json", "report.html", "forest.png"]
    click.echo("Files: " + ", ".join(f"{out}/{f}" for f in files if (Path(out) / f).is_file()))
    if final is not None:
        click.echo(f"Final test of {final['cell']}: {final['summary']} ({final['report']})")
