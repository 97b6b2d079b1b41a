"""Tiny training runs for the export and predict tests, built from SYNTHETIC signals.

A run directory is what training leaves behind: `best.keras` (logits head), a
`contract.json` and the prepared cache it names. The cache holds SYNTHETIC 12-lead records
(not patient data): a QRS-like pulse train at 500 Hz through the real preprocessing
(resampled to 100 Hz, band-pass, z-score); in positive records the pulses of V1-V4 are
inverted (a caricature of T-wave inversion), so a model trained for a few steps separates
the classes; one label in eight is flipped, so validation AUROC stays below 1 and AUROC
deltas mean something.
"""

from __future__ import annotations

import keras
import numpy as np
from keras_ecgpe.export.representative import read_windows, split_plan

from keras_ecgpe.data.cache import CacheWriter, cache_key
from keras_ecgpe.data.pipeline import fit_standardizer
from keras_ecgpe.data.preprocessing import PreprocessConfig, apply_preprocessing
from keras_ecgpe.evaluation import aggregate_windows, choose_thresholds
from keras_ecgpe.inference import contract_io
from keras_ecgpe.models import build_model
from keras_ecgpe.training.contract import make_contract, save_contract

FS_RAW, FS = 500.0, 100.0
WINDOW, STRIDE = 256, 128
PREPROCESS = PreprocessConfig(target_fs=FS, filter="bandpass", low_hz=1.0, high_hz=45.0,
                              normalize="zscore")
TINY = {
    "resnet1d18": dict(width=8),
    "crnn_lstm": dict(width=8, units=8),
    "transformer": dict(width=16, num_heads=2, mlp_dim=32, num_layers=1, dropout=0.0),
}


def synthetic_record(rng, positive: bool, seconds: float = 8.0) -> np.ndarray:
    """One SYNTHETIC `(time, 12)` mV record at 500 Hz (see the module docstring)."""
    t = np.arange(int(seconds * FS_RAW)) / FS_RAW
    beats = np.arange(rng.uniform(0, 0.8), seconds, 60.0 / rng.uniform(55, 95))
    pulse = sum(np.exp(-0.5 * ((t - b) / 0.025) ** 2) for b in beats)
    gains = rng.uniform(0.5, 1.5, 12)
    if positive:
        gains[6:10] *= -1.0
    signal = pulse[:, None] * gains + 0.05 * rng.normal(size=(t.size, 12))
    return (signal + 0.2 * np.sin(2 * np.pi * 0.3 * t)[:, None]).astype(np.float32)


def write_cache(path, n_train: int = 48, n_validation: int = 40, seed: int = 0):
    """Writes the SYNTHETIC prepared cache; half of each split is positive."""
    rng = np.random.default_rng(seed)
    source = {"name": "synthetic-export-test", "seed": seed, "synthetic": True}
    settings = {"preprocess": PREPROCESS.to_dict()}
    writer = CacheWriter(path, key=cache_key(source, settings), source=source,
                         settings=settings, fs=FS, label_names=["PE"])
    for split, count in (("train", n_train), ("validation", n_validation)):
        for k in range(count):
            positive = k % 2 == 1
            signal, _ = apply_preprocessing(synthetic_record(rng, positive), FS_RAW, PREPROCESS)
            label = positive != (k % 8 == 3)  # label noise: records 3, 11, 19, ... flipped
            writer.add(signal, record_id=f"{split}-{k:03d}", patient_id=f"{split}-{k:03d}",
                       labels=[float(label)], split=split)
    return writer.close()


def make_run(run_dir, cache, name: str, *, epochs: int = 4, seed: int = 0, **overrides):
    """Trains a tiny `name` model briefly on the cache and writes the run directory.

    The contract comes from the training side's own `make_contract`, with thresholds
    chosen on the validation records as training does.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    standardizer = fit_standardizer(cache, cache.indices("train"))
    plan = {"fs": FS, "window": WINDOW, "eval_stride": STRIDE, "eval_mode": "sliding",
            "standardizer": standardizer.to_dict()}
    keras.utils.set_random_seed(seed)
    model = build_model(name, input_len=WINDOW, num_classes=1, **{**TINY.get(name, {}),
                                                                  **overrides})
    rows, starts = split_plan(cache, plan, "train")
    x, y = read_windows(cache, plan, rows, starts), cache.labels[rows]
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    rows, starts = split_plan(cache, plan, "validation")
    z = model.predict(read_windows(cache, plan, rows, starts), verbose=0)
    records, record_z = aggregate_windows(z, rows, "mean")
    choice = choose_thresholds(cache.labels[records], record_z, method="f1")
    contract = make_contract(cache=cache, model_name=name, window=WINDOW, stride=STRIDE,
                             eval_mode="sliding", aggregate="mean", label_names=["PE"],
                             threshold_choice=choice.to_dict(), temperature=1.5,
                             standardizer=standardizer.to_dict())
    model.save(run_dir / "best.keras")
    save_contract(contract, run_dir)
    return run_dir, model, contract_io.load_contract(run_dir)
