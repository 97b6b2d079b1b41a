"""Child-process entry of the calibrated conversions: `python -m keras_ecgpe.export.convert_worker`.

The parent (`tflite.convert`) saves the calibration windows, runs this module and reads the
flatbuffer it writes. A converter crash kills only this process; the parent turns the exit
status into a message. Errors the package raises on purpose are printed as one line
starting with `ERROR: ` and exit with status 2.

Example:
    python -m keras_ecgpe.export.convert_worker --model run/best.keras --window 1000 \\
        --mode int8 --representative windows.npy --out /tmp/model.tflite
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keras_ecgpe.export.convert_worker")
    parser.add_argument("--model", required=True, help=".keras model file")
    parser.add_argument("--window", required=True, type=int, help="samples per window")
    parser.add_argument("--mode", required=True)
    parser.add_argument("--representative", required=True, help=".npy calibration windows")
    parser.add_argument("--out", required=True, help="where to write the .tflite")
    parser.add_argument("--int8-io", action="store_true")
    args = parser.parse_args(argv)

    import numpy as np

    from keras_ecgpe.data.atomic import atomic_write_bytes
    from keras_ecgpe.export.child_process import report_errors
    from keras_ecgpe.export.tflite import convert_model
    from keras_ecgpe.run_directory import load_model

    def convert_and_write():
        model = load_model(args.model)
        windows = np.load(args.representative, allow_pickle=False)
        blob = convert_model(
            model, args.mode, window=args.window, representative=windows, int8_io=args.int8_io
        )
        atomic_write_bytes(args.out, blob)

    return report_errors(convert_and_write)


if __name__ == "__main__":
    sys.exit(main())
