"""SYNTHETIC toy caches for the training tests (not ECGs): a learnable and a random task.

Records are Gaussian noise at 100 Hz; in the learnable task a positive label of class `c`
adds a 5 Hz sine of amplitude 1 to lead `c`, so a tiny CNN can find it from a 2.5 s window.
In the random task labels are independent of the signal (nothing to learn).
"""

from __future__ import annotations

import numpy as np

from keras_ecgpe.data.cache import CacheWriter

FS = 100.0
PREPROCESS = {"target_fs": 100.0, "filter": "none", "low_hz": 1.0, "high_hz": 45.0,
              "normalize": "none", "duration_s": 5.0, "pad": "none", "crop": "centre"}
SPLITS = {"train": 48, "validation": 24, "test": 24}


def toy_cache(path, *, learnable=True, n_classes=2, seed=0, seconds=5.0, splits=None,
              partial_mask=False, preprocess=None, label_names=None):
    """Writes a toy cache (SYNTHETIC) and returns it opened.

    Args:
        path: the cache directory.
        learnable: labels visible in the signal (a sine in lead c) or not.
        n_classes: number of labels.
        seed: random seed.
        seconds: record length.
        splits: records per split (default 48/24/24).
        partial_mask: leave class 1 unannotated on every third training record.
        preprocess: the `preprocess` settings recorded in the manifest.
        label_names: class names (default "A", "B", ...).
    """
    rng = np.random.default_rng(seed)
    names = label_names or [chr(ord("A") + c) for c in range(n_classes)]
    writer = CacheWriter(path, key=f"toy-{seed}-{learnable}", source={
        "name": "toy", "synthetic": True}, settings={"preprocess": preprocess or PREPROCESS},
        fs=FS, label_names=names)
    n = int(round(seconds * FS))
    t = np.arange(n) / FS
    record = 0
    for split, count in (splits or SPLITS).items():
        labels = np.zeros((count, n_classes), np.float32)
        for c in range(n_classes):  # balanced classes: exactly half positive per split
            labels[rng.permutation(count)[: count // 2], c] = 1.0
        for k in range(count):
            x = rng.normal(0.0, 0.5, (n, 12)).astype(np.float32)
            if learnable:
                for c in np.flatnonzero(labels[k]):
                    x[:, c] += np.sin(2 * np.pi * 5.0 * t + rng.uniform(0, 2 * np.pi))
            mask = np.ones(n_classes, np.float32)
            if partial_mask and split == "train" and n_classes > 1 and k % 3 == 0:
                mask[1] = 0.0
            writer.add(x, record_id=f"r{record:04d}", patient_id=f"p{record // 2:04d}",
                       labels=labels[k], label_mask=mask, split=split)
            record += 1
    return writer.close()


def tiny_overrides(**extra):
    """Overrides of a small, fast run: resnet1d18 at width 8, batch 16, no bootstrap."""
    base = ["model.name=resnet1d18", "model.overrides.width=8", "training.batch_size=16",
            "training.epochs=2", "evaluation.bootstrap=0"]
    return base + [f"{k.replace('__', '.')}={v}" for k, v in extra.items()]
