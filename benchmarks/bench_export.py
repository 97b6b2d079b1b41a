"""TFLite export of ResNet-1D-18 and a CRNN at 12 x 2048: size, latency and AUROC delta.

For each model (full-size registry defaults): parameters and MACs per window, then for
Keras and the fp32, fp16, dynamic and int8 TFLite exports the file size, the batch-1
latency (median of `--runs` >= 50 invocations after 5 warm-up runs, with 1 and 2 threads)
and the record-level validation AUROC delta against Keras from the export's parity gate.

AUROC deltas need a trained model: each model is trained briefly (`--epochs` epochs of
one random 2048-sample crop per record, Adam 1e-3, batch 32, no augmentation) on the
SYNTHETIC demo PE cohort (`write_demo`), prepared at 500 Hz (band-pass 1-45 Hz, z-score,
10 s) so a 2048-sample window fits a record; thresholds are chosen on its validation
split, then every mode goes through `export_run` (int8 calibrated on 300 real training
windows). The data are synthetic: the AUROC values say nothing about real ECGs, only the
deltas between Keras and TFLite matter. Keras latency runs in a child process per thread
count, because TensorFlow fixes its thread pools at start-up.

    python benchmarks/bench_export.py                      # writes benchmarks/results/
    python benchmarks/bench_export.py --n-pe 120 --epochs 1 --runs 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import write_results

MODELS = ("resnet1d18", "crnn_lstm")
MODES = ("none", "float16", "dynamic", "int8")
WINDOW, STRIDE = 2048, 1024


def median_ms(fn, runs: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def keras_latency(model_path: str, threads: int, runs: int) -> float:
    """Runs in a child process: Keras batch-1 latency with `threads` intra-op threads."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from keras_ecgpe.run_directory import load_model

    model = load_model(model_path)
    x = tf.constant(np.random.default_rng(0).normal(size=(1, WINDOW, 12)).astype("float32"))
    call = tf.function(lambda v: model(v, training=False))
    return median_ms(lambda: call(x).numpy(), runs)


def prepare(tmp: Path, n_pe: int):
    from keras_ecgpe.data.prepare import prepare_dataset
    from keras_ecgpe.data.preprocessing import PreprocessConfig
    from keras_ecgpe.data.sources.registry import make_source
    from keras_ecgpe.data.synthetic import write_demo

    write_demo(tmp / "demo", n_ptbxl=10, n_pe=n_pe)
    config = PreprocessConfig(
        target_fs=500.0, filter="bandpass", normalize="zscore", duration_s=10.0
    )
    source = make_source("pe", tmp / "demo" / "pe_synthetic" / "manifest.csv")
    return prepare_dataset(source, tmp / "pe500", config)[0]


def train_run(cache, name: str, run_dir: Path, epochs: int):
    import keras

    from keras_ecgpe.data.pipeline import evaluation_dataset, fit_standardizer, training_dataset
    from keras_ecgpe.evaluation import aggregate_windows, choose_thresholds
    from keras_ecgpe.models import build_model
    from keras_ecgpe.run_directory import BEST_MODEL, save_contract
    from keras_ecgpe.training.contract import make_contract

    keras.utils.set_random_seed(0)
    standardizer = fit_standardizer(cache, cache.indices("train"))
    model = build_model(name, input_len=WINDOW, num_classes=1)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    train = training_dataset(
        cache,
        cache.indices("train"),
        window=WINDOW,
        batch_size=32,
        seed=0,
        standardizer=standardizer,
    )
    start = time.perf_counter()
    model.fit(train, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    validation = evaluation_dataset(
        cache,
        cache.indices("validation"),
        window=WINDOW,
        mode="sliding",
        stride=STRIDE,
        batch_size=32,
        standardizer=standardizer,
    )
    logits, rows = [], []
    for x, _, index in validation:
        logits.append(model(x, training=False).numpy())
        rows.append(index.numpy())
    import numpy as np

    records, z = aggregate_windows(np.concatenate(logits), np.concatenate(rows), "mean")
    choice = choose_thresholds(cache.labels[records], z, method="youden")
    run_dir.mkdir(parents=True)
    model.save(run_dir / BEST_MODEL)
    save_contract(
        make_contract(
            cache=cache,
            model_name=name,
            window=WINDOW,
            stride=STRIDE,
            eval_mode="sliding",
            aggregate="mean",
            label_names=list(cache.label_names),
            threshold_choice=choice.to_dict(),
            temperature=1.0,
            standardizer=standardizer.to_dict(),
        ),
        run_dir,
    )
    return model, seconds


def bench_model(cache, name: str, tmp: Path, args) -> dict:
    import numpy as np

    from keras_ecgpe.export.bundle import export_run
    from keras_ecgpe.inference import TFLiteRunner
    from keras_ecgpe.models import model_complexity
    from keras_ecgpe.run_directory import BEST_MODEL, export_dir

    run_dir = tmp / name
    model, train_s = train_run(cache, name, run_dir, args.epochs)
    cost = model_complexity(model)
    row = {
        "parameters": cost.parameters,
        "macs": cost.macs,
        "train_seconds": train_s,
        "keras": {"size_bytes": (run_dir / BEST_MODEL).stat().st_size},
    }
    for threads in (1, 2):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--keras-latency",
                str(run_dir / BEST_MODEL),
                "--threads",
                str(threads),
                "--runs",
                str(args.runs),
            ],
            capture_output=True,
            text=True,
        )
        row["keras"][f"latency_ms_{threads}t"] = float(out.stdout.strip().splitlines()[-1])
    x = np.random.default_rng(0).normal(size=(1, WINDOW, 12)).astype("float32")
    for mode in MODES:
        start = time.perf_counter()
        result = export_run(run_dir, mode=mode, force=True, out_dir=export_dir(run_dir, mode))
        entry = {
            "export_seconds": time.perf_counter() - start,
            "size_bytes": result.model_json["file"]["size_bytes"],
            "auroc_keras": result.report.auroc_keras[0],
            "auroc_tflite": result.report.auroc_tflite[0],
            "auroc_delta": result.report.auroc_drop,
            "max_abs_window_logit_error": result.report.max_abs_window_logit_error,
            "decision_agreement": result.report.decision_agreement,
            "gate_passed": result.report.passed,
            "validation_records": result.report.n_records,
        }
        for threads in (1, 2):
            runner = TFLiteRunner(result.out_dir / "model.tflite", num_threads=threads)
            entry[f"latency_ms_{threads}t"] = median_ms(lambda r=runner: r.runner(ecg=x), args.runs)
        row[mode] = entry
        print(name, mode, json.dumps(entry), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pe", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--keras-latency", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_latency:
        print(keras_latency(args.keras_latency, args.threads, args.runs))
        return
    if args.runs < 50:
        parser.error("--runs must be at least 50")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        tmp = Path(tmp)
        cache = prepare(tmp, args.n_pe)
        results = {
            "window": WINDOW,
            "stride": STRIDE,
            "fs": cache.fs,
            "data": f"SYNTHETIC demo PE cohort, {args.n_pe} records",
            "epochs": args.epochs,
            "runs": args.runs,
            "n_train": int(cache.indices("train").size),
            "n_validation": int(cache.indices("validation").size),
            "models": {name: bench_model(cache, name, tmp, args) for name in MODELS},
        }
    write_results(args.out, "bench_export.json", results)


if __name__ == "__main__":
    main()
