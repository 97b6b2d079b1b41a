"""The prepared cache: preprocessed records on disk, memory-mapped by tf.data.

Layout of a cache directory and why:

- `signals-00000.npy`, ...: float32 (or float16) arrays `(samples, 12)`, the records of
  a shard concatenated along time. Plain `.npy` needs no extra dependency, is read with
  `np.load(mmap_mode="r")`, so a 5 GB set is never loaded into RAM and a batch of windows
  is one slice copy per window; concatenation handles variable lengths (CPSC2018
  is 6-60 s) with no padding. A record never spans two shards. Shards roll over at about
  256 MB so a checksum failure names a small file and copies resume per file.
- `index.npz` (no pickle): per record `record_ids`, `patient_ids` ("" unknown), `splits`
  (train/validation/test/""), `folds` (-1 none), `shard`, `offset`, `length` (samples),
  `labels` and `label_mask` float32 `(n, C)`; the mask is 1 where the source annotates
  the class, so sets with partial labels can be trained with a masked loss. Optional
  column `content_sha256`: the raw signal's hash for leakage checks (data/content_hash.py;
  "" when unknown, absent in older caches, which read as before). Optional columns
  `ages` (float64 years, NaN unknown) and `sexes` ("M"/"F"/"" unknown) for the report's
  baseline table and subgroups; caches written before them open with every age and sex
  unknown and `has_demographics` False, and the report says they predate the columns.
- `report.json`: records read and records skipped, each with its path and reason.
- `manifest.json`, written last: key, source, settings, fs, lead order, label names,
  dtype, shard and index SHA-256, and `manifest_sha256` over all of those (checked on
  every open, so a hand-edited fs or label list is refused; other keys are refused too).
  Its presence means the cache is complete.
- `test_ledger.jsonl` (+ `.lock`), appended after the cache is finished: every look at the
  test split (evaluation/ledger.py). Not in the manifest's checksums; kept when the cache
  is prepared again with overwrite.

One writer at a time holds `.<out_dir name>.lock` beside the cache (data/locks.py) and
removes the partial folders of writers that were killed. Everything is written into
`<out_dir>.partial-<pid>` and renamed to `out_dir` at the end,
so a crash never leaves a directory a reader accepts; `PreparedCache.open` checks the
checksums, so a corrupted or truncated shard is reported by name instead of training on
garbage.
"""

from keras_ecgpe.data.cache_format import FORMAT_VERSION, SPLITS, cache_key  # noqa: F401
from keras_ecgpe.data.cache_writer import CacheWriter  # noqa: F401
from keras_ecgpe.data.prepared_cache import PreparedCache  # noqa: F401
