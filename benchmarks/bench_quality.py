"""Cost of the per-record signal-quality checks (keras_ecgpe/data/quality.py).

Times `check_record` against reading the same record (`read_record`) and the default
preprocessing, on the real records of ../shared/data/real-ecg (PTB-XL 500 Hz and 100 Hz,
CinC 500 Hz, PTB 1000 Hz 38 s), `--repeats` calls each, in this process (one core).

Usage: python benchmarks/bench_quality.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from keras_ecgpe.data.preprocessing import PreprocessConfig, apply_preprocessing
from keras_ecgpe.data.quality import check_record
from keras_ecgpe.data.readers import read_record

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-ecg"
RECORDS = (
    "ptbxl/records500/06000/06000_hr",
    "ptbxl/records100/00000/00001_lr",
    "cinc/JS20004",
    "ptb/s0010_re",
)


def per_call_ms(function, repeats: int) -> float:
    function()  # warm: imports, filter design cache
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print("record | fs | seconds | read ms | quality ms | preprocess ms")
    for name in RECORDS:
        path = REAL / name
        record = read_record(path)
        read = per_call_ms(lambda path=path: read_record(path), args.repeats)
        check = per_call_ms(lambda r=record: check_record(r.signal, r.fs), args.repeats)
        prep = per_call_ms(
            lambda r=record: apply_preprocessing(r.signal, r.fs, PreprocessConfig()), args.repeats
        )
        print(
            f"{name} | {record.fs:g} | {record.duration_s:g} | {read:.1f} | {check:.1f} | "
            f"{prep:.1f}"
        )


if __name__ == "__main__":
    main()
