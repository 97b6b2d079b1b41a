"""Every model family through `export --target micro` at the demo's export size.

The demo's fine-tuned run (`ecgpe-keras train`, SYNTHETIC data) fixes the export size: 12
leads, 100 Hz, 2.5-s windows (250 samples), stride 125. For that run itself and for one
representative of every family (registry defaults, `build_model(name)`), trained briefly
from scratch on the same prepared PE cache (`--epochs` epochs, one random 250-sample crop
per record, Adam 1e-3, batch 32, plain BCE on logits, the run's standardiser if any, its
aggregation; thresholds chosen on validation with Youden's J), the script exports full
int8 with int8 input/output
(`export_run(..., mode="int8", int8_io=True, target="micro", force=True)`) and records:
parameters and MACs per window, the int8 file size (the flash figure), the tensor arena
TFLite Micro reported (`model.json` `micro`), the batch-1 latency in TFLite Micro (its
reference kernels, as the `tflite-micro` wheel ships them) and in LiteRT (1 thread,
XNNPACK), each the median of `--runs` invocations after 3 warm-up runs, and the AUROC drop
versus Keras on the demo's validation records from both parity gates. A family the
export refuses is listed with the reason. The data are SYNTHETIC: AUROC values say
nothing about real ECGs; the drops between Keras and the int8 runtimes are the point.

    python benchmarks/bench_micro.py --demo ecgpe-demo        # writes benchmarks/results/
    python benchmarks/bench_micro.py --demo ecgpe-demo --families dscnn1d --epochs 2
    python benchmarks/bench_micro.py --demo ecgpe-demo --no-demo-run --families lstm
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_common import write_results

FAMILIES = (
    "dscnn1d",
    "resnet1d18",
    "xresnet1d18",
    "vgg11_bn",
    "alexnet1d",
    "inception1d",
    "attresnet18",
    "lstm",
    "crnn_lstm",
    "transformer",
    "resnet_transformer",
)


def median_ms(fn, runs: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def train_run(demo_contract: dict, cache, name: str, run_dir: Path, epochs: int) -> None:
    """Trains `name` on the demo's cache at the demo run's window; writes a run folder."""
    import keras
    import numpy as np

    from keras_ecgpe.data.normalization import DatasetStandardizer
    from keras_ecgpe.data.pipeline import evaluation_dataset, training_dataset
    from keras_ecgpe.evaluation import aggregate_windows, choose_thresholds
    from keras_ecgpe.inference import contract_io
    from keras_ecgpe.models import build_model
    from keras_ecgpe.run_directory import BEST_MODEL, save_contract
    from keras_ecgpe.training.contract import make_contract

    window, stride = contract_io.window(demo_contract), contract_io.stride(demo_contract)
    stored = demo_contract.get("standardizer")  # the demo trains without one
    standardizer = DatasetStandardizer.from_dict(stored) if stored else None
    keras.utils.set_random_seed(0)
    model = build_model(name, input_len=window, num_classes=len(cache.label_names))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    train = training_dataset(
        cache,
        cache.indices("train"),
        window=window,
        batch_size=32,
        seed=0,
        standardizer=standardizer,
    )
    model.fit(train, epochs=epochs, verbose=0)
    validation = evaluation_dataset(
        cache,
        cache.indices("validation"),
        window=window,
        mode="sliding",
        stride=stride,
        batch_size=32,
        standardizer=standardizer,
    )
    logits, rows = [], []
    for x, _, index in validation:
        logits.append(model(x, training=False).numpy())
        rows.append(index.numpy())
    how = contract_io.aggregate(demo_contract)
    records, z = aggregate_windows(np.concatenate(logits), np.concatenate(rows), how)
    choice = choose_thresholds(cache.labels[records], z, method="youden")
    run_dir.mkdir(parents=True)
    model.save(run_dir / BEST_MODEL)
    save_contract(
        make_contract(
            cache=cache,
            model_name=name,
            window=window,
            stride=stride,
            eval_mode="sliding",
            aggregate=how,
            label_names=list(cache.label_names),
            threshold_choice=choice.to_dict(),
            temperature=1.0,
            standardizer=stored,
        ),
        run_dir,
    )


def bench_run(run_dir: Path, out_dir: Path, runs: int) -> dict:
    """Exports one run with --target micro and measures it."""
    import numpy as np

    from keras_ecgpe.errors import ECGPEError
    from keras_ecgpe.export.bundle import export_run
    from keras_ecgpe.export.micro import MicroRunner
    from keras_ecgpe.inference import TFLiteRunner
    from keras_ecgpe.models import model_complexity
    from keras_ecgpe.run_directory import load_model, locate_run

    cost = model_complexity(load_model(locate_run(run_dir).model))
    row = {"parameters": cost.parameters, "macs": cost.macs}
    start = time.perf_counter()
    try:
        result = export_run(
            run_dir, mode="int8", int8_io=True, target="micro", force=True, out_dir=out_dir
        )
    except ECGPEError as exc:
        return {**row, "refused": str(exc)}
    micro = result.model_json["micro"]
    blob = (result.out_dir / "model.tflite").read_bytes()
    x = np.random.default_rng(0).normal(size=(1, micro["input_bytes"] // 12, 12))
    litert, tflm = TFLiteRunner(blob, num_threads=1), MicroRunner(blob, micro["arena_bytes"])
    micro_report = json.loads((result.out_dir / "parity_micro.json").read_text())
    return {
        **row,
        "export_seconds": time.perf_counter() - start,
        "int8_bytes": micro["flash_bytes"],
        "arena_bytes": micro["arena_bytes"],
        "ops": micro["ops"],
        "latency_ms_tflm": median_ms(lambda: tflm.logits(x), runs),
        "latency_ms_litert_1t": median_ms(lambda: litert.logits(x), runs),
        "auroc_keras": result.report.auroc_keras[0],
        "auroc_drop_litert": result.report.auroc_drop,
        "auroc_drop_tflm": micro_report["auroc_drop"],
        "max_abs_window_logit_tflm_vs_litert": micro_report["max_abs_window_logit_error_vs_litert"],
        "gate_passed": result.report.passed and micro_report["passed"],
        "validation_records": result.report.n_records,
        "validation_windows": result.report.n_windows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", required=True, type=Path, help="the demo's output folder")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results"))
    parser.add_argument(
        "--no-demo-run", action="store_true", help="skip the demo's own fine-tuned run"
    )
    args = parser.parse_args()

    from keras_ecgpe.export.representative import open_run_cache
    from keras_ecgpe.inference import contract_io

    out_dir = args.out.resolve()
    demo_run = (args.demo / "finetune-pe").resolve()
    os.chdir(args.demo.resolve().parent)  # the demo's contracts name its cache from there
    contract = contract_io.load_contract(demo_run / "contract.json")
    cache = open_run_cache(contract, None)
    results = {
        "data": "SYNTHETIC demo PE cohort (ecgpe-keras train), validation split",
        "window": contract_io.window(contract),
        "fs": contract_io.fs(contract),
        "epochs": args.epochs,
        "runs": args.runs,
        "machine": "2-core x86_64 CPU shared with other jobs (latencies are indicative)",
        "rows": {},
    }
    previous = out_dir / "micro.json"  # rows of earlier invocations are kept
    if previous.is_file():
        results["rows"] = json.loads(previous.read_text())["rows"]
    with tempfile.TemporaryDirectory(prefix="bench-micro-") as tmp:
        tmp = Path(tmp)
        if not args.no_demo_run:
            row = bench_run(demo_run, tmp / "demo-export", args.runs)
            results["rows"]["demo fine-tuned resnet1d18"] = row
            print("demo", json.dumps(row), flush=True)
        for name in args.families:
            run_dir = tmp / name
            train_run(contract, cache, name, run_dir, args.epochs)
            results["rows"][name] = bench_run(run_dir, tmp / f"{name}-export", args.runs)
            print(name, json.dumps(results["rows"][name]), flush=True)
            write_results(out_dir, "micro.json", results)  # partial results survive
    write_results(out_dir, "micro.json", results)


if __name__ == "__main__":
    main()
