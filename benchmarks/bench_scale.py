"""Cost of prepare and of the index phases against the number of records, flat and nested.

SYNTHETIC records only (random-walk 12-lead signals, not ECG-like, labels at random): the
benchmark measures bookkeeping, reading and writing, not a model. Two layouts, as users
keep cohorts and as public sets are published:

- flat: every record in one folder (`records/000123.hea`, `.dat`), like CPSC2018 or a
  CinC training folder;
- nested: PTB-XL's `records500/00000/00123_hr`, 1000 records a folder.

Each record is listed in a PE-cohort manifest (`record,label,patient_id`, two records a
patient, no split column so the patient-level split and 5 folds are computed).

- full prepare (`--prepare-sizes`, default 1000 5000 20000): 10 s at 500 Hz WFDB records,
  `prepare_dataset` with the default preprocessing (1-45 Hz band-pass, z-score, 500 Hz),
  float16 storage (so 20k records fit the disk budget), 2 workers; time per record and
  peak memory of the parent and of the largest worker.
- index only (`--index-sizes`, default 100000 800000): empty `.hea`/`.dat` files (hard
  links to a few empty files, so their stats find the inode cached); the
  manifest's index (`source.index()`: parse, checks, one stat per candidate file), the
  index digest (`describe_source`: the files' sizes and times) and the split and fold
  assignment; time per record and peak memory.

- pipeline (`--pipeline`, after each full prepare): training windows/s (2048 samples,
  batches of 64, the default augmentation) read from that cache, with the cache's files
  in the page cache ("warm") and evicted from it first ("cold", `posix_fadvise`
  DONTNEED on the cache's files only), each with the global shuffle and with the
  block shuffle (`shuffle_buffer` = the records of one shard).

Each size runs in its own child process, so its peak memory is its own. Data goes under
`--tmp` (default: the system's temporary folder) and is deleted after each size.

Usage: python benchmarks/bench_scale.py [--layouts flat nested] [--prepare-sizes ...]
    [--index-sizes ...] [--workers 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import write_results

FS = 500
SECONDS = 10
PER_FOLDER = 1000

CHILD = """
import json, resource, sys, time
from keras_ecgpe.data.prepare import SplitSettings, _assign_splits, describe_source
from keras_ecgpe.data.prepare import prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.sources.registry import make_source
mode, manifest, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
source = make_source("pe", manifest)
result = {}
start, cpu_start = time.perf_counter(), time.process_time()
if mode == "index":
    items, skipped = source.index()
    result["index_s"] = time.perf_counter() - start
    mark = time.perf_counter()
    describe_source(source, items)
    result["digest_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    _assign_splits(items, source.label_names, SplitSettings())
    result["splits_s"] = time.perf_counter() - mark
    result["records"] = len(items)
else:
    cache, _ = prepare_dataset(source, out, PreprocessConfig(), dtype="float16", workers=workers)
    result["records"] = cache.n_records
result["seconds"] = time.perf_counter() - start
cpu_own = time.process_time() - cpu_start
own = resource.getrusage(resource.RUSAGE_SELF)
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
result["peak_rss_parent_mb"] = own.ru_maxrss / 1024
result["peak_rss_worker_mb"] = workers.ru_maxrss / 1024
# CPU seconds (user + system) of the measured phases and of the finished workers: unlike
# wall time, they barely change when other work shares the cores.
result["cpu_s"] = cpu_own + workers.ru_utime + workers.ru_stime
print(json.dumps(result))
"""


PIPELINE_CHILD = """
import json, os, sys, time
from keras_ecgpe.data.augment import AugmentConfig
from keras_ecgpe.data.cache import PreparedCache
from keras_ecgpe.data.pipeline import training_dataset
cache_dir, block, cold, batches = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", 60
cache = PreparedCache.open(cache_dir, verify=False)
if cold:  # only this cache's files leave the page cache; nothing else on the machine
    for name in os.listdir(cache_dir):
        fd = os.open(os.path.join(cache_dir, name), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
dataset = training_dataset(cache, cache.indices(), window=2048, batch_size=64, seed=0,
                           augment=AugmentConfig(), fs=cache.fs,
                           shuffle_buffer=block or None, repeat=True)
iterator = iter(dataset)
for _ in range(3):
    next(iterator)
start = time.perf_counter()
for _ in range(batches):
    next(iterator)
print(json.dumps(batches * 64 / (time.perf_counter() - start)))
"""


def pipeline_rates(cache_dir: Path) -> dict:
    """Training windows/s from the cache: warm and cold, global and block shuffle."""
    manifest = json.loads((cache_dir / "manifest.json").read_text())
    n, shards = manifest["n_records"], len(manifest["shards"])
    block = -(-n // shards)
    rates = {"records_per_shard": block}
    for cold in (True, False):
        for name, buffer in (("global", 0), ("block", block)):
            result = subprocess.run(
                [sys.executable, "-c", PIPELINE_CHILD, str(cache_dir), str(buffer), str(+cold)],
                check=True,
                capture_output=True,
                text=True,
            )
            key = f"{'cold' if cold else 'warm'}_{name}_windows_per_s"
            rates[key] = round(json.loads(result.stdout.strip().splitlines()[-1]), 1)
    return rates


def record_name(number: int, layout: str) -> str:
    """The record's path relative to the dataset folder, without extension."""
    if layout == "flat":
        return f"records/{number:06d}"
    return f"records500/{number // PER_FOLDER * PER_FOLDER:05d}/{number:05d}_hr"


def write_dataset(root: Path, n: int, layout: str, signals: bool, seed: int = 0) -> Path:
    """Writes `n` SYNTHETIC records and their manifest; returns the manifest's path."""
    from keras_ecgpe.data.synthetic.wfdb_writer import write_record

    rng = np.random.default_rng(seed)
    lines = ["record,label,patient_id"]
    made = set()
    for number in range(n):
        name = record_name(number, layout)
        folder = root / os.path.dirname(name)
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        stem = os.path.basename(name)
        if signals:
            walk = np.cumsum(rng.normal(0.0, 0.01, (FS * SECONDS, 12)), axis=0)
            write_record(folder, stem, walk - walk.mean(axis=0), FS)
        else:
            # Hard links to empty templates: creating 1.6 million inodes took 3 ms each on
            # the shared machine, a link 60 us. ext4 allows 65,000 links to an inode.
            if number % 30_000 == 0:
                templates = root / f"template-{number}"
                templates.mkdir()
                (templates / "empty.hea").touch()
                (templates / "empty.dat").touch()
            os.link(templates / "empty.hea", folder / f"{stem}.hea")
            os.link(templates / "empty.dat", folder / f"{stem}.dat")
        lines.append(f"{name},{int(rng.random() < 0.3)},p{number // 2}")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def run_child(mode: str, manifest: Path, out: Path, workers: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(manifest), str(out), str(workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(
    mode: str, n: int, layout: str, workers: int, tmp: Path, pipeline: bool = False
) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"bench_scale_{layout}_{n}_", dir=tmp))
    try:
        start = time.perf_counter()
        manifest = write_dataset(root / "data", n, layout, signals=mode == "prepare")
        written = time.perf_counter() - start
        result = run_child(mode, manifest, root / "cache", workers)
        if pipeline and mode == "prepare":
            result.update(pipeline_rates(root / "cache"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {
        key: round(value, 2) if isinstance(value, float) else value for key, value in result.items()
    }
    result.update(layout=layout, records=n, write_s=round(written, 1))
    result["ms_per_record"] = round(1000 * result["seconds"] / n, 3)
    result["cpu_ms_per_record"] = round(1000 * result["cpu_s"] / n, 3)
    print(json.dumps(result), flush=True)
    return result


def machine() -> str:
    load = os.getloadavg()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{memory:.0f} GiB RAM, Python {platform.python_version()}, "
        f"load average {load:.1f} at the start"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", nargs="+", default=["flat", "nested"])
    parser.add_argument("--prepare-sizes", nargs="*", type=int, default=[1000, 5000, 20000])
    parser.add_argument("--index-sizes", nargs="*", type=int, default=[100_000, 800_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pipeline", action="store_true")
    parser.add_argument("--tmp", default=tempfile.gettempdir())
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--name", default="scale.json")
    args = parser.parse_args()

    results = {
        "machine": machine(),
        "data": "SYNTHETIC random-walk records, 12 x 5000 at 500 Hz (prepare); empty files "
        "(index); PE-cohort manifest, 2 records a patient",
        "workers": args.workers,
        "prepare": [],
        "index": [],
    }
    for layout in args.layouts:
        for n in args.index_sizes:
            results["index"].append(measure("index", n, layout, args.workers, Path(args.tmp)))
        for n in args.prepare_sizes:
            results["prepare"].append(
                measure("prepare", n, layout, args.workers, Path(args.tmp), args.pipeline)
            )
    results["load_average_at_end"] = round(os.getloadavg()[0], 1)
    write_results(args.out, args.name, results)


if __name__ == "__main__":
    main()
