"""Banners every study report shares (evaluate, `train --cv`, compare, compare-models)."""

from __future__ import annotations

from keras_ecgpe.reporting.blocks import Notice

SYNTHETIC_DATA = (
    "SYNTHETIC DATA: these numbers show that the pipeline works, and say nothing about how "
    "well real ECGs are read."
)


def synthetic_banners(synthetic: bool) -> list[Notice]:
    """The SYNTHETIC banner as a one-item list when the data was synthetic, else [].

    Example:
    >>> [notice.level for notice in synthetic_banners(True)], synthetic_banners(False)
    (['critical'], [])
    """
    return [Notice(SYNTHETIC_DATA, level="critical")] if synthetic else []
