"""The embedded default: pretrain, fine-tune and evaluate on the SYNTHETIC demo data.

`default_demo_run(out_dir)` is what `ecgpe-keras train` does without data. It shows the
whole transfer-learning recipe end to end on data anyone can regenerate:

1. write the SYNTHETIC PTB-XL-style set and PE cohort (`<out>/demo-data`, reused when
   present) and prepare both caches at 100 Hz;
2. pretrain a ResNet-1D-18 (the paper's architecture at its full width, 3.9 M
   parameters) on the 5 superdiagnostic labels (`<out>/pretrain-ptbxl`);
3. fine-tune it, all layers, on the PE cohort (`<out>/finetune-pe`), selecting on the PE
   validation split;
4. evaluate once on the PE test split and write the study report (participant flow,
   operating points locked on validation, calibration, decision curve, the test-split
   ledger's looks) with plots (`<out>/finetune-pe/eval-test/report.html`).

Every line it prints and every report it writes says SYNTHETIC: the numbers only show
that the machinery works, never how well a model reads real ECGs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe import messages, run_directory
from keras_ecgpe.data import locks
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.formatting import format_interval, format_number
from keras_ecgpe.training.config import TrainConfig

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

DEMO_DATA = "demo-data"
PRETRAIN_RUN = "pretrain-ptbxl"
FINETUNE_RUN = "finetune-pe"
# Measured on a 2-core CPU: about 950-500 training windows/s at width 32-64, 2.5 s windows.
PRETRAIN = {
    "model.name": "resnet1d18",
    "training.epochs": 20,
    "training.patience": 6,
    "optimizer.learning_rate": 1e-3,
    "schedule.name": "cosine",
    "schedule.warmup_epochs": 1,
    "evaluation.bootstrap": 0,
}
FINETUNE = {
    "transfer.finetune": "full",
    "training.epochs": 20,
    "training.patience": 8,
    "optimizer.learning_rate": 3e-4,
    "schedule.name": "cosine",
    "evaluation.bootstrap": 1000,
}


def _check_out_dir(out: Path) -> None:
    """Accepts a new/empty folder or a previous demo (its runs are replaced)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: the demo output is an existing file")
    if out.is_dir() and any(out.iterdir()):
        folders = {DEMO_DATA, PRETRAIN_RUN, FINETUNE_RUN}
        # A killed demo leaves its folders' lock files (data/locks.py): free, not foreign.
        allowed = folders | {locks.lock_path(out / name).name for name in folders}
        if (
            not (out / DEMO_DATA / "SYNTHETIC_DATA.txt").is_file()
            or {p.name for p in out.iterdir()} - allowed
        ):
            raise ConfigError(
                f"{out}: not empty and not a previous SYNTHETIC demo; choose another `out`"
            )


def default_demo_run(
    out_dir: os.PathLike | str,
    *,
    n_ptbxl: int = 2000,
    n_pe: int = 900,
    seed: int = 0,
    pretrain: Mapping[str, object] | None = None,
    finetune: Mapping[str, object] | None = None,
    progress: bool = True,
) -> dict:
    """Runs the SYNTHETIC demo: data, pretraining, fine-tuning, test evaluation.

    Args:
        out_dir: a new or empty folder, or a previous demo (data reused, runs replaced).
        n_ptbxl, n_pe: records of the synthetic sets (written only if absent).
        seed: seed of the data and both runs.
        pretrain, finetune: extra `{"section.key": value}` settings of the two runs
            (e.g. fewer epochs or a narrower model for a quick look).
        progress: log one line per stage (stderr, `keras_ecgpe.messages`) and show Keras'
            per-epoch progress.

    Returns:
        A dict: "synthetic" (True), "seconds", run and report paths, and the PE test
        "auroc" with "auroc_ci" (95 % patient bootstrap).
    """
    from keras_ecgpe.data.demo import prepare_demo
    from keras_ecgpe.data.synthetic import write_demo
    from keras_ecgpe.training.evaluate import demo_declaration, evaluate_run
    from keras_ecgpe.training.trainer import train_run

    say = messages.progress_reporter(__name__, progress)
    started = time.perf_counter()
    out = Path(out_dir)
    _check_out_dir(out)
    data_dir = out / DEMO_DATA
    if (data_dir / "SYNTHETIC_DATA.txt").is_file():
        say(f"[1/4] Reusing the SYNTHETIC demo data in {data_dir}")
    else:
        say(f"[1/4] Writing SYNTHETIC demo data to {data_dir} (not real patients)")
        write_demo(data_dir, n_ptbxl=n_ptbxl, n_pe=n_pe, seed=seed)
    caches = prepare_demo(data_dir)
    say(
        f"      caches ready: {caches['ptbxl'].path}, {caches['pe'].path} "
        f"({time.perf_counter() - started:.0f} s)"
    )

    say("[2/4] Pretraining resnet1d18 on the SYNTHETIC PTB-XL-style set (5 labels)")
    config = TrainConfig().with_values(
        {
            "data.cache": str(caches["ptbxl"].path),
            "training.seed": seed,
            **PRETRAIN,
            **(pretrain or {}),
        }
    )
    pre = train_run(config, out / PRETRAIN_RUN, progress=progress, overwrite=True)

    say("[3/4] Fine-tuning all layers on the SYNTHETIC PE cohort")
    config = TrainConfig().with_values(
        {
            "data.cache": str(caches["pe"].path),
            "transfer.init_from": str(pre.run_dir),
            "training.seed": seed,
            **FINETUNE,
            **(finetune or {}),
        }
    )
    fine = train_run(config, out / FINETUNE_RUN, progress=progress, overwrite=True)

    say("[4/4] Evaluating once on the SYNTHETIC PE test split (patient bootstrap)")
    metrics = evaluate_run(
        fine.run_dir,
        caches["pe"].path,
        split="test",
        n_boot=config.evaluation.bootstrap,
        seed=seed,
        overwrite=True,
        # A re-run retrains, so the sealed test split meets a new model: declared, recorded.
        declare_new_model=demo_declaration(caches["pe"].path, fine.best_model),
    )
    auroc = metrics["macro"]["auroc"]
    ci = metrics.get("macro_ci", {}).get("auroc", {})
    result = {
        "synthetic": True,
        "seconds": round(time.perf_counter() - started, 1),
        "demo_data": str(data_dir),
        "pretrain_run": str(pre.run_dir),
        "finetune_run": str(fine.run_dir),
        "pretrain_val_auroc": pre.val_metrics["auroc"],
        "auroc": auroc,
        "auroc_ci": [ci.get("ci_low"), ci.get("ci_high")],
        "report": metrics["files"]["summary"],
        "study_report": metrics["files"]["report_html"],
        "files": metrics["files"],
    }
    say(
        f"SYNTHETIC demo done in {result['seconds']:.0f} s. PE test AUROC "
        f"{format_interval({**ci, 'value': auroc}, label='95 % CI')} on "
        "SYNTHETIC data: it shows the pipeline works, not how well real ECGs are read."
    )
    say(
        f"  pretrained model:  {pre.run_dir / run_directory.BEST_MODEL} (validation macro "
        f"AUROC {format_number(pre.val_metrics['auroc'])})"
    )
    say(
        f"  fine-tuned model:  {fine.run_dir / run_directory.BEST_MODEL} + {run_directory.CONTRACT}"
    )
    say(f"  test summary:      {metrics['files']['summary']}")
    say(f"  study report:      {metrics['files']['report_html']} (also .txt, .json)")
    plots = ", ".join(metrics["files"][k] for k in ("roc", "pr", "calibration"))
    say(f"  plots:             {plots}")
    return result
