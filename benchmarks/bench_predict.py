"""`predict` scoring time per real record: Keras eager call vs traced tf.function vs TFLite.

The model is a ResNet-1D-18 trained for one epoch on the SYNTHETIC demo PE cohort (100 Hz,
2.56 s windows, sliding stride 1.28 s), exported to float32 TFLite; its decisions on real
records mean nothing clinically. The 28 real records of ../shared/data/real-ecg (PTB-XL,
CinC, CPSC2018, PTB at 1000 Hz, LUDB) are read once; what is timed is `predict_record`:
preprocessing, windows, the model, aggregation and thresholds, per record, median over
`--passes` passes after one warm-up pass. All three paths run in this one process, so
the figures are side by side on the same machine state.

    python benchmarks/bench_predict.py            # writes benchmarks/results/predict.json
    python benchmarks/bench_predict.py --run RUN  # an existing run directory instead
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench_common import ecgpe, write_results

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"
RECORDS = (
    [p.with_suffix("") for p in sorted((REAL / "ptbxl/records500/06000").glob("*.hea"))]
    + [p.with_suffix("") for p in sorted((REAL / "cinc").glob("*.hea"))]
    + [REAL / "cpsc2018/A1980.mat", REAL / "ptb/s0010_re", REAL / "ludb/1"]
)


def demo_run(work: Path) -> Path:
    """Trains the benchmark's model on the SYNTHETIC demo cohort and exports it."""
    ecgpe("data", "demo", work / "demo", "--n-ptbxl", 40, "--n-pe", 200)
    ecgpe(
        "train",
        "--data",
        work / "demo" / "cache" / "pe",
        "--out",
        work / "run",
        "--model",
        "resnet1d18",
        "--epochs",
        1,
    )
    return work / "run"


def per_record_ms(predictor, records, passes: int) -> tuple:
    """Median ms per record over passes (after a warm-up pass), and the decisions."""
    decisions = [predictor.predict_record(record)["decisions"] for record in records]
    pass_ms = []
    for _ in range(passes):
        start = time.perf_counter()
        for record in records:
            predictor.predict_record(record)
        pass_ms.append((time.perf_counter() - start) * 1e3 / len(records))
    return statistics.median(pass_ms), decisions


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="Run directory (default: train one on the demo).")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    from keras_ecgpe.data.readers import read_record
    from keras_ecgpe.inference import Predictor, contract_io
    from keras_ecgpe.inference.predictor import eager_keras_logits
    from keras_ecgpe.run_directory import load_model, locate_run

    with tempfile.TemporaryDirectory() as work:
        run = Path(args.run) if args.run else demo_run(Path(work))
        bundle = Path(work) / "float32"
        ecgpe("export", run, "--tflite", "--out", bundle, "--force")
        records = [read_record(path) for path in RECORDS]
        files = locate_run(run)
        contract = contract_io.load_contract(files.contract)
        eager = Predictor(
            contract, eager_keras_logits(load_model(files.model)), "keras", str(files.model)
        )
        paths = {
            "keras_eager_call": eager,
            "keras_tf_function": Predictor.load(run),
            "tflite_float32_1_thread": Predictor.load(bundle / "model.tflite"),
        }
        timings, decisions = {}, {}
        for name, predictor in paths.items():
            timings[name], decisions[name] = per_record_ms(predictor, records, args.passes)
    windows = sum(len(paths["keras_tf_function"].windows(record)) for record in records)
    results = {
        "records": len(records),
        "windows": windows,
        "passes": args.passes,
        "model": contract_io.model_name(contract),
        "window": contract_io.window(contract),
        "ms_per_record": {name: round(ms, 2) for name, ms in timings.items()},
        "speed_up_vs_eager": {
            name: round(timings["keras_eager_call"] / ms, 2) for name, ms in timings.items()
        },
        "decisions_agree": all(d == decisions["keras_eager_call"] for d in decisions.values()),
        "data": "SYNTHETIC-trained model, real records",
    }
    write_results(args.out, "predict.json", results)


if __name__ == "__main__":
    main()
