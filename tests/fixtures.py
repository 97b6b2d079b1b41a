"""Builders shared by the tests: tiny models, training overrides and SYNTHETIC toy caches.

Nothing here is an ECG. Three kinds of toy cache serve different tests:

- `index_cache`: records whose leads spell out where a sample came from (lead 0 the record
  number, lead 1 the time index), for tests of how the cache and pipeline slice records.
- `toy_cache`: Gaussian noise at 100 Hz; in the learnable task a positive label of class
  `c` adds a 5 Hz sine to lead `c`, so a tiny CNN finds it from a 2.5 s window; in the
  random task labels are independent of the signal (nothing to learn).
- `pulse_cache`: a QRS-like pulse train at 500 Hz through the real preprocessing
  (resampled to 100 Hz, band-pass, z-score); in positive records the pulses of V1-V4 are
  inverted (a caricature of T-wave inversion) and one label in eight is flipped, so a model
  trained for a few steps separates the classes with a validation AUROC below 1 (AUROC
  deltas of an export mean something). `make_run` trains on it and writes a run directory.

Pytest fixtures (`real_ecg`) live in conftest.py; this module holds plain functions.
"""

from __future__ import annotations

import keras
import numpy as np

from keras_ecgpe.data.cache import CacheWriter, cache_key
from keras_ecgpe.data.pipeline import fit_standardizer
from keras_ecgpe.data.preprocessing import PreprocessConfig, apply_preprocessing
from keras_ecgpe.evaluation import aggregate_windows, choose_thresholds
from keras_ecgpe.export.representative import read_windows, split_plan
from keras_ecgpe.models import build_model
from keras_ecgpe.run_directory import BEST_MODEL, load_contract, save_contract
from keras_ecgpe.training.contract import make_contract

# --- tiny models -----------------------------------------------------------------------------

_ATTENTION = dict(width=8, num_heads=2, dropout=0.0)
_ENCODER = dict(num_heads=2, mlp_dim=32, num_layers=1, dropout=0.0)
# Tiny, dropout-free settings (so one training step is deterministic) by registry name;
# tests/test_registry.py asks for at least one name of every family here.
TINY = {
    "resnet1d18": dict(width=8),
    "resnet1d50": dict(width=4),
    "xresnet1d18": dict(width=4),
    "xresnet1d50": dict(width=4),
    "vgg11": dict(width=4, fc_units=16, dropout=0.0),
    "vgg11_bn": dict(width=4, fc_units=16, dropout=0.0),
    "alexnet1d": dict(width=4, fc_units=16, dropout=0.0),
    "attresnet18": _ATTENTION,
    "attresnet18_flatten": _ATTENTION,
    "lstm": dict(width=8, units=8),
    "bigru": dict(width=8, units=8),
    "crnn_lstm": dict(width=8, units=8),
    "crnn_gru": dict(width=8, units=8),
    "transformer": dict(width=16, **_ENCODER),
    "transformer_patch": dict(width=16, patch_size=16, **_ENCODER),
    "resnet_transformer": dict(width=8, embed_dim=16, **_ENCODER),
    "inception1d": dict(width=4, bottleneck=4, depth=3),
    "dscnn1d": dict(width=4),
}
# One representative per family, and per variant that changes the graph (each in TINY).
FAMILY_REPRESENTATIVES = (
    "resnet1d18",
    "xresnet1d18",
    "vgg11_bn",
    "alexnet1d",
    "attresnet18",
    "attresnet18_flatten",
    "lstm",
    "bigru",
    "crnn_lstm",
    "transformer",
    "transformer_patch",
    "resnet_transformer",
    "inception1d",
    "dscnn1d",
)
INPUT_LEN = 256


def tiny_model(
    name: str, *, num_classes: int = 3, input_len: int = INPUT_LEN, seed: int = 0, **extra
):
    """`build_model(name)` at its `TINY` settings (plus `extra`), seeded for repeatability."""
    if name not in TINY:
        raise KeyError(f"no tiny settings for {name!r}: add them to TINY in tests/fixtures.py")
    keras.utils.set_random_seed(seed)
    return build_model(
        name, input_len=input_len, num_classes=num_classes, **{**TINY[name], **extra}
    )


def tiny_overrides(**extra) -> list:
    """`section.key=value` overrides of a small, fast training run.

    resnet1d18 at width 8, batch 16, 2 epochs, no bootstrap; `extra` adds or replaces keys,
    `__` standing for the dot: `tiny_overrides(training__epochs=1)`.
    """
    values = {
        "model.name": "resnet1d18",
        "model.overrides.width": 8,
        "training.batch_size": 16,
        "training.epochs": 2,
        "evaluation.bootstrap": 0,
    }
    values.update({key.replace("__", "."): value for key, value in extra.items()})
    return [f"{key}={value}" for key, value in values.items()]


def set_options(overrides) -> list:
    """The CLI spelling of overrides: `["--set", "a.b=1", "--set", ...]`."""
    return [item for override in overrides for item in ("--set", override)]


# --- index caches ------------------------------------------------------------------------


def index_signal(record: int, length: int, offset: float = 0.0) -> np.ndarray:
    """`(length, 12)` float32: lead 0 = record number, lead 1 = time, lead k = k + offset."""
    x = np.tile(np.arange(12, dtype=np.float32) + offset, (length, 1))
    x[:, 0] = record
    x[:, 1] = np.arange(length)
    return x


def index_cache(path, lengths, *, splits=None, masks=None, offsets=None, shard_bytes=2000):
    """A cache of `index_signal` records, labels `[r, r % 2]` ("r", "odd"); returns it opened."""
    writer = CacheWriter(
        path,
        key="k",
        source={},
        settings={},
        fs=100.0,
        label_names=["r", "odd"],
        shard_bytes=shard_bytes,
    )
    for r, length in enumerate(lengths):
        writer.add(
            index_signal(r, length, 0.0 if offsets is None else offsets[r]),
            record_id=f"rec{r}",
            labels=[r, r % 2],
            label_mask=None if masks is None else masks[r],
            split=None if splits is None else splits[r],
        )
    return writer.close()


# --- training toys -------------------------------------------------------------------------

TOY_FS = 100.0
TOY_PREPROCESS = {
    "target_fs": 100.0,
    "filter": "none",
    "low_hz": 1.0,
    "high_hz": 45.0,
    "normalize": "none",
    "duration_s": 5.0,
    "pad": "none",
    "crop": "centre",
}
TOY_SPLITS = {"train": 48, "validation": 24, "test": 24}


def toy_cache(
    path,
    *,
    learnable=True,
    n_classes=2,
    seed=0,
    seconds=5.0,
    splits=None,
    partial_mask=False,
    preprocess=None,
    label_names=None,
):
    """Writes a toy training cache (see the module docstring) and returns it opened.

    Args:
        path: the cache directory.
        learnable: labels visible in the signal (a sine in lead c) or not.
        n_classes: number of labels; each split is balanced (exactly half positive).
        seed: random seed.
        seconds: record length.
        splits: records per split (default 48/24/24); records come in pairs per patient.
        partial_mask: leave class 1 unannotated on every third training record.
        preprocess: the `preprocess` settings recorded in the manifest.
        label_names: class names (default "A", "B", ...).
    """
    rng = np.random.default_rng(seed)
    names = label_names or [chr(ord("A") + c) for c in range(n_classes)]
    writer = CacheWriter(
        path,
        key=f"toy-{seed}-{learnable}",
        source={"name": "toy", "synthetic": True},
        settings={"preprocess": preprocess or TOY_PREPROCESS},
        fs=TOY_FS,
        label_names=names,
    )
    n = int(round(seconds * TOY_FS))
    t = np.arange(n) / TOY_FS
    record = 0
    for split, count in (splits or TOY_SPLITS).items():
        labels = np.zeros((count, n_classes), np.float32)
        for c in range(n_classes):
            labels[rng.permutation(count)[: count // 2], c] = 1.0
        for k in range(count):
            x = rng.normal(0.0, 0.5, (n, 12)).astype(np.float32)
            if learnable:
                for c in np.flatnonzero(labels[k]):
                    x[:, c] += np.sin(2 * np.pi * 5.0 * t + rng.uniform(0, 2 * np.pi))
            mask = np.ones(n_classes, np.float32)
            if partial_mask and split == "train" and n_classes > 1 and k % 3 == 0:
                mask[1] = 0.0
            writer.add(
                x,
                record_id=f"r{record:04d}",
                patient_id=f"p{record // 2:04d}",
                labels=labels[k],
                label_mask=mask,
                split=split,
            )
            record += 1
    return writer.close()


# --- pulse caches and trained runs (export, predict) ------------------------------------------

PULSE_FS_RAW, PULSE_FS = 500.0, 100.0
RUN_WINDOW, RUN_STRIDE = 256, 128
PULSE_PREPROCESS = PreprocessConfig(
    target_fs=PULSE_FS, filter="bandpass", low_hz=1.0, high_hz=45.0, normalize="zscore"
)


def pulse_record(rng, positive: bool, seconds: float = 8.0) -> np.ndarray:
    """One `(time, 12)` mV pulse-train record at 500 Hz (see the module docstring)."""
    t = np.arange(int(seconds * PULSE_FS_RAW)) / PULSE_FS_RAW
    beats = np.arange(rng.uniform(0, 0.8), seconds, 60.0 / rng.uniform(55, 95))
    pulse = sum(np.exp(-0.5 * ((t - b) / 0.025) ** 2) for b in beats)
    gains = rng.uniform(0.5, 1.5, 12)
    if positive:
        gains[6:10] *= -1.0
    signal = pulse[:, None] * gains + 0.05 * rng.normal(size=(t.size, 12))
    return (signal + 0.2 * np.sin(2 * np.pi * 0.3 * t)[:, None]).astype(np.float32)


def pulse_cache(path, n_train: int = 48, n_validation: int = 40, seed: int = 0):
    """Writes the pulse-train cache, one label "PE", half of each split positive."""
    rng = np.random.default_rng(seed)
    source = {"name": "synthetic-export-test", "seed": seed, "synthetic": True}
    settings = {"preprocess": PULSE_PREPROCESS.to_dict()}
    writer = CacheWriter(
        path,
        key=cache_key(source, settings),
        source=source,
        settings=settings,
        fs=PULSE_FS,
        label_names=["PE"],
    )
    for split, count in (("train", n_train), ("validation", n_validation)):
        for k in range(count):
            positive = k % 2 == 1
            signal, _ = apply_preprocessing(
                pulse_record(rng, positive), PULSE_FS_RAW, PULSE_PREPROCESS
            )
            label = positive != (k % 8 == 3)  # label noise: records 3, 11, 19, ... flipped
            writer.add(
                signal,
                record_id=f"{split}-{k:03d}",
                patient_id=f"{split}-{k:03d}",
                labels=[float(label)],
                split=split,
            )
    return writer.close()


def make_run(run_dir, cache, name: str, *, epochs: int = 4, seed: int = 0, build=None):
    """Trains a tiny `name` model briefly on `cache` and writes a run directory.

    Args:
        run_dir: the folder to write (`best.keras`, `contract.json`).
        cache: an opened pulse cache.
        name: a registry name.
        epochs: training epochs.
        seed: Keras random seed.
        build: `build_model` keyword arguments (default `TINY[name]`).

    Returns:
        `(run_dir, model, contract)`; the contract comes from the training side's own
        `make_contract`, with thresholds chosen on the validation records as training does.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    standardizer = fit_standardizer(cache, cache.indices("train"))
    plan = {
        "fs": PULSE_FS,
        "window": RUN_WINDOW,
        "eval_stride": RUN_STRIDE,
        "eval_mode": "sliding",
        "standardizer": standardizer.to_dict(),
    }
    keras.utils.set_random_seed(seed)
    model = build_model(
        name, input_len=RUN_WINDOW, num_classes=1, **(TINY[name] if build is None else build)
    )
    rows, starts = split_plan(cache, plan, "train")
    x, y = read_windows(cache, plan, rows, starts), cache.labels[rows]
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    rows, starts = split_plan(cache, plan, "validation")
    z = model.predict(read_windows(cache, plan, rows, starts), verbose=0)
    records, record_z = aggregate_windows(z, rows, "mean")
    choice = choose_thresholds(cache.labels[records], record_z, method="f1")
    contract = make_contract(
        cache=cache,
        model_name=name,
        window=RUN_WINDOW,
        stride=RUN_STRIDE,
        eval_mode="sliding",
        aggregate="mean",
        label_names=["PE"],
        threshold_choice=choice.to_dict(),
        temperature=1.5,
        standardizer=standardizer.to_dict(),
    )
    model.save(run_dir / BEST_MODEL)
    save_contract(contract, run_dir)
    return run_dir, model, load_contract(run_dir)
