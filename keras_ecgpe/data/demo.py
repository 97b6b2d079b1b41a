"""Prepared caches of the SYNTHETIC demo data: the embedded default every command can use."""

from __future__ import annotations

import os
from pathlib import Path

from keras_ecgpe.data.cache import PreparedCache
from keras_ecgpe.data.prepare import prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.sources.registry import make_source

# Both sets at 100 Hz so a model pretrained on the PTB-XL-style set fits the PE set (the
# PE records are written at 500 Hz and resampled here, as a user's own cohort would be).
DEMO_PREPROCESS = PreprocessConfig(
    target_fs=100.0,
    filter="bandpass",
    low_hz=1.0,
    high_hz=45.0,
    normalize="zscore",
    duration_s=10.0,
)


def prepare_demo(
    demo_dir: os.PathLike | str, workers: int | None = None
) -> dict[str, PreparedCache]:
    """Prepares (or reuses) the demo's PTB-XL-style and PE caches under `demo_dir/cache`.

    The caches belong to the demo: when the demo data were rewritten (new file stamps),
    the stale caches are replaced rather than refused.
    """
    demo_dir = Path(demo_dir)
    sources = {
        "ptbxl": make_source(
            "ptbxl", demo_dir / "ptbxl_synthetic", task="superdiagnostic", sampling_rate=100
        ),
        "pe": make_source("pe", demo_dir / "pe_synthetic" / "manifest.csv"),
    }
    return {
        name: prepare_dataset(
            source, demo_dir / "cache" / name, DEMO_PREPROCESS, workers=workers, overwrite=True
        )[0]
        for name, source in sources.items()
    }
