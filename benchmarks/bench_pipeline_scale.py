"""Training-pipeline throughput from a small and a large prepared cache, cold and warm.

SYNTHETIC caches (Gaussian noise, 12 x 5000 at 500 Hz, float16, written straight with
`CacheWriter`, no reading or filtering) of `--sizes` records; the training dataset of
`keras_ecgpe.data.pipeline` (2048-sample windows, batches of 64, the default augmentation)
reads `--batches` batches from each. "cold": the cache's own files are evicted from the page
cache first (`posix_fadvise` DONTNEED; nothing else on the machine is touched), so the reads
go to the disk as they would from a cache larger than memory; "warm": straight after, with
the pages the cold pass and a full read brought in. Each configuration runs `--rounds`
times, interleaved, and the median is reported, since the machine may be shared.

Usage: python benchmarks/bench_pipeline_scale.py [--sizes 1000 20000] [--rounds 3]
    [--tmp DIR] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import write_results
from bench_scale import machine

WINDOW, BATCH = 2048, 64


def write_cache(path: Path, n: int, seed: int = 0):
    from keras_ecgpe.data.cache import CacheWriter

    rng = np.random.default_rng(seed)
    writer = CacheWriter(
        path,
        key=f"bench-{n}",
        source={"name": "SYNTHETIC noise"},
        settings={},
        fs=500.0,
        label_names=["PE"],
        dtype="float16",
    )
    block = rng.normal(0.0, 1.0, (5000 + 64, 12)).astype(np.float32)
    for i in range(n):
        shift = int(rng.integers(0, 64))  # cheap distinct records
        writer.add(
            block[shift : shift + 5000],
            record_id=f"r{i:06d}",
            patient_id=f"p{i // 2}",
            labels=np.array([i % 2], np.float32),
            split="train",
        )
    return writer.close()


def evict(path: Path) -> None:
    """Drops this cache's files, and only them, from the page cache."""
    for name in os.listdir(path):
        fd = os.open(path / name, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def rate(cache, shuffle_buffer, batches: int, cold: bool) -> float:
    from keras_ecgpe.data.augment import AugmentConfig
    from keras_ecgpe.data.pipeline import training_dataset

    if cold:
        evict(Path(cache.path))
    dataset = training_dataset(
        cache,
        cache.indices(),
        window=WINDOW,
        batch_size=BATCH,
        seed=int(time.time()) % 1000,  # new windows each round: no reuse of warm pages
        augment=AugmentConfig(),
        fs=cache.fs,
        shuffle_buffer=shuffle_buffer,
        repeat=True,
    )
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * BATCH / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 20000])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tmp", default=tempfile.gettempdir())
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    from keras_ecgpe.data.cache import PreparedCache

    root = Path(tempfile.mkdtemp(prefix="bench_pipeline_scale_", dir=args.tmp))
    results = {"machine": machine(), "window": WINDOW, "batch": BATCH, "sizes": {}}
    try:
        caches = {}
        for n in args.sizes:
            write_cache(root / str(n), n)
            caches[n] = PreparedCache.open(root / str(n), verify=False)
        records_per_shard = {n: -(-len(c) // len(c.manifest["shards"])) for n, c in caches.items()}
        figures = {}
        for _ in range(args.rounds):
            for n, cache in caches.items():
                for shuffle, buffer in (("global", None), ("block", records_per_shard[n])):
                    for cold in (True, False):
                        key = (n, shuffle, "cold" if cold else "warm")
                        value = rate(cache, buffer, args.batches, cold)
                        figures.setdefault(key, []).append(value)
                        print(key, round(value, 1), flush=True)
        for (n, shuffle, temperature), values in figures.items():
            entry = results["sizes"].setdefault(
                str(n),
                {
                    "records_per_shard": records_per_shard[n],
                    "gb": round(sum(f.stat().st_size for f in (root / str(n)).iterdir()) / 1e9, 2),
                },
            )
            entry[f"{temperature}_{shuffle}_windows_per_s"] = round(statistics.median(values), 1)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results["load_average_at_end"] = round(os.getloadavg()[0], 1)
    write_results(args.out, "pipeline_scale.json", results)


if __name__ == "__main__":
    main()
