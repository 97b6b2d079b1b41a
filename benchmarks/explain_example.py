"""The README's example printout, and what an explanation costs per record.

Draws one real record (default: PTB-XL 06000 at 500 Hz, from ../shared/data/real-ecg) with
the integrated-gradients attribution of a trained run's PE logit, as `ecgpe-keras predict
RUN RECORD --explain --plot DIR` does, and times `Explainer.explain_record` on every real
record kind (PTB-XL 100 and 500 Hz, CinC, CPSC2018, PTB at 1000 Hz; median of `--repeats`
after one warm-up call, which traces the gradient function). The run used for the README
is the SYNTHETIC demo's fine-tuned model (`ecgpe-keras train`): its attributions show the
mechanics, not anything clinical.

    python benchmarks/explain_example.py ecgpe-demo/finetune-pe
    python benchmarks/explain_example.py RUN --record PATH --png docs/images/explain_example.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real-ecg"
RECORDS = {
    "PTB-XL 100 Hz": REAL / "ptbxl/records100/00000/00001_lr",
    "PTB-XL 500 Hz": REAL / "ptbxl/records500/06000/06000_hr",
    "CinC (Georgia) 500 Hz": REAL / "cinc/E00666",
    "CPSC2018 500 Hz, 15.9 s": REAL / "cpsc2018/A1981.mat",
    "PTB 1000 Hz, 38.4 s": REAL / "ptb/s0010_re",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory (or .keras / .tflite of a run)")
    parser.add_argument("--record", default=str(RECORDS["PTB-XL 500 Hz"]))
    parser.add_argument("--png", default=str(ROOT / "docs/images/explain_example.png"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks/results/explain_example.json"), help="timings"
    )
    args = parser.parse_args()

    from keras_ecgpe.data.readers import read_record
    from keras_ecgpe.explain import Explainer
    from keras_ecgpe.explain.figures import attribution_figure
    from keras_ecgpe.inference import Predictor
    from keras_ecgpe.visualization import write_png

    explainer = Explainer.load(args.run)
    predictor = Predictor.load(args.run)
    record = read_record(args.record)
    attribution = explainer.explain_record(record)
    how = explainer.describe()
    entry = predictor.predict_record(record)
    label = how["label"]
    line = (
        f"Model trained on SYNTHETIC data (the package's demo): {label} probability "
        f"{entry['probabilities'][label]:.3f}, decision {entry['decisions'][label]}; the "
        "attribution shows the mechanics, not a clinical finding"
    )
    Path(args.png).parent.mkdir(parents=True, exist_ok=True)
    write_png(attribution_figure(record, attribution, how, caption=[line]), args.png)
    timings = {}
    for name, path in RECORDS.items():
        item = read_record(path)
        explainer.explain_record(item)  # warm-up: traces the gradient function
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = explainer.explain_record(item)
            seconds.append(time.perf_counter() - start)
        timings[name] = {
            "median_s": round(statistics.median(seconds), 3),
            "windows": result.windows,
            "completeness_gap": round(result.completeness_gap, 5),
            "logit_minus_baseline": round(result.logit - result.baseline_logit, 5),
        }
        print(f"{name}: {timings[name]}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"run": str(args.run), "steps": how["steps"], "records": timings}, indent=2)
        + "\n"
    )
    print(f"wrote {args.png} and {args.out}")


if __name__ == "__main__":
    main()
