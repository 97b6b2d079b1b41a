"""Training-pipeline throughput from the prepared cache vs the seed's per-item path.

Both paths run in this one process on the same SYNTHETIC records (the demo's PE-style set:
12 leads, 10 s, 500 Hz, WFDB files) and deliver the same thing: band-passed (1-45 Hz),
z-scored, randomly cropped 2048-sample windows with one of the paper's augmentations.

- naive (the seed study's approach): per item, wfdb.rdsamp the record, band-pass each lead
  separately, normalise, crop, augment in numpy.
- cache + tf.data (ours): `prepare` once (timed, per record, with its peak memory measured
  in a child process at two dataset sizes to show it is streamed), then batches of 64 from
  the memory-mapped cache with batched TF augmentation.

Usage: python benchmarks/bench_pipeline.py [--records 1800] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import write_results

WINDOW = 2048
BATCH = 64


def naive_windows_per_second(record_paths, seconds=20.0, seed=0):
    """The seed's per-item loop: read, filter lead by lead, normalise, crop, augment."""
    import wfdb
    from scipy import signal as sps

    rng = np.random.default_rng(seed)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        path = record_paths[count % len(record_paths)]
        data, fields = wfdb.rdsamp(path)
        fs = fields["fs"]
        sos = sps.butter(4, [1.0, 45.0], btype="bandpass", fs=fs, output="sos")
        filtered = np.stack([sps.sosfiltfilt(sos, data[:, lead]) for lead in range(12)], 1)
        filtered = (filtered - filtered.mean(0)) / (filtered.std(0) + 1e-8)
        offset = rng.integers(0, filtered.shape[0] - WINDOW + 1)
        window = filtered[offset : offset + WINDOW].astype(np.float32)
        choice = rng.integers(0, 3)
        if choice == 1:
            window = -window
        elif choice == 2:
            window[rng.random(WINDOW) < 0.1] = 0.0
        count += 1
    return count / (time.perf_counter() - start)


def pipeline_windows_per_second(cache_dir, batches=150, seed=0):
    """Windows/s of keras_ecgpe's training dataset with augmentation, after warm-up."""
    from keras_ecgpe.data.augment import AugmentConfig
    from keras_ecgpe.data.cache import PreparedCache
    from keras_ecgpe.data.pipeline import training_dataset

    cache = PreparedCache.open(cache_dir)
    dataset = training_dataset(
        cache,
        cache.indices(),
        window=WINDOW,
        batch_size=BATCH,
        seed=seed,
        augment=AugmentConfig(),
        fs=cache.fs,
        repeat=True,
    )
    iterator = iter(dataset)
    for _ in range(10):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        x, *_ = next(iterator)
    elapsed = time.perf_counter() - start
    return batches * BATCH / elapsed


PREPARE_CHILD = """
import json, resource, sys, time
from keras_ecgpe.data.prepare import prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.sources.registry import make_source
source = make_source("pe", sys.argv[1])
start = time.perf_counter()
cache, _ = prepare_dataset(source, sys.argv[2], PreprocessConfig(normalize="zscore"),
                           workers=int(sys.argv[3]))
elapsed = time.perf_counter() - start
peak_parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
peak_workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"records": cache.n_records, "seconds": elapsed,
                  "peak_rss_parent_mb": peak_parent, "peak_rss_worker_mb": peak_workers}))
"""


def timed_prepare(manifest, out_dir, workers):
    result = subprocess.run(
        [sys.executable, "-c", PREPARE_CHILD, str(manifest), str(out_dir), str(workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def subset_manifest(manifest, n, out):
    lines = manifest.read_text().splitlines()
    header, rows = lines[0], lines[1 : n + 1]
    base = manifest.parent
    fixed = []
    for row in rows:
        record, rest = row.split(",", 1)
        fixed.append(f"{(base / record).resolve()},{rest}")
    out.write_text("\n".join([header] + fixed) + "\n")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1800)
    parser.add_argument("--naive-seconds", type=float, default=20.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    from keras_ecgpe.data.synthetic import write_demo

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_demo(tmp / "demo", n_ptbxl=20, n_pe=args.records, seed=0)
        manifest = tmp / "demo" / "pe_synthetic" / "manifest.csv"
        small = subset_manifest(manifest, args.records // 3, tmp / "small.csv")
        paths = [
            str(tmp / "demo" / "pe_synthetic" / line.split(",")[0])
            for line in manifest.read_text().splitlines()[1:]
        ]

        naive = naive_windows_per_second(paths, seconds=args.naive_seconds)
        prepare_small = timed_prepare(small, tmp / "cache_small", workers=os.cpu_count())
        prepare_full = timed_prepare(manifest, tmp / "cache_full", workers=os.cpu_count())
        ours = pipeline_windows_per_second(tmp / "cache_full")

    results = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "data": f"SYNTHETIC demo PE set, {args.records} records, 12 x 5000 at 500 Hz",
        "window": WINDOW,
        "batch": BATCH,
        "naive_windows_per_s": round(naive, 1),
        "pipeline_windows_per_s": round(ours, 1),
        "speedup": round(ours / naive, 1),
        "prepare_small": prepare_small,
        "prepare_full": prepare_full,
        "prepare_ms_per_record": round(1000 * prepare_full["seconds"] / prepare_full["records"], 2),
    }
    write_results(args.out, "pipeline.json", results)


if __name__ == "__main__":
    main()
