"""Drawing ECGs: the 12-lead paper printout, with an optional attribution overlay."""

from keras_ecgpe.visualization.ecg_paper import (
    Overlay,
    ecg_paper_figure,
    record_figure,
    write_png,
)

__all__ = ["Overlay", "ecg_paper_figure", "record_figure", "write_png"]
