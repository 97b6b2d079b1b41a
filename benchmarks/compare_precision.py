"""Does mixed_bfloat16 training cost accuracy? float32 vs mixed_bfloat16, same seeds.

Trains the default model (ResNet-1D-18, the demo's training settings) from scratch on the
SYNTHETIC demo PE cohort (`ecgpe-keras data demo`, 900 records at 100 Hz, 630 train) once
per precision and seed, then scores each run once on the test split (`ecgpe-keras
evaluate`, 135 records). Reported per run: epochs run (early stopping), wall seconds of the
whole `train` command (start-up and calibration included), test AUROC and ECE after
calibration; and the paired AUROC differences. Both precisions run in
this one invocation on the same machine. The data are synthetic: the comparison says whether
bf16 arithmetic changes what the model learns, not how well it detects PE.

    python benchmarks/compare_precision.py                 # writes benchmarks/results/
    python benchmarks/compare_precision.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench_common import ecgpe, write_results

PRECISIONS = ("float32", "mixed_bfloat16")


def train_and_test(cache: Path, out: Path, precision: str, seed: int) -> dict:
    start = time.perf_counter()
    ecgpe("train", "--data", cache, "--out", out, "--seed", seed, "--precision", precision)
    seconds = time.perf_counter() - start
    ecgpe("evaluate", out, "--data", cache, "--out", out / "test")
    metrics = json.loads((out / "test" / "metrics.json").read_text())
    with open(out / "history.csv", newline="") as handle:
        epochs = sum(1 for _ in csv.DictReader(handle))
    return {
        "precision": precision,
        "seed": seed,
        "epochs": epochs,
        "train_command_s": round(seconds, 1),
        "test_auroc": round(metrics["macro"]["auroc"], 4),
        "test_ece_calibrated": round(metrics["calibration"]["ece_after"], 4),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        ecgpe("data", "demo", work / "demo", "--n-ptbxl", 40)
        cache = work / "demo" / "cache" / "pe"
        runs = [
            train_and_test(cache, work / f"{precision}-{seed}", precision, seed)
            for seed in args.seeds
            for precision in PRECISIONS
        ]
    by = {(r["precision"], r["seed"]): r for r in runs}
    differences = [
        by["mixed_bfloat16", s]["test_auroc"] - by["float32", s]["test_auroc"] for s in args.seeds
    ]
    results = {
        "data": "SYNTHETIC demo PE cohort (630 train / 135 validation / 135 test records)",
        "runs": runs,
        "auroc_bf16_minus_fp32": [round(d, 4) for d in differences],
        "mean_auroc": {
            p: round(statistics.mean(by[p, s]["test_auroc"] for s in args.seeds), 4)
            for p in PRECISIONS
        },
    }
    write_results(args.out, "precision_quality.json", results)


if __name__ == "__main__":
    main()
