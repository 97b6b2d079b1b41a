"""Child-process probe of a model in TFLite Micro: `python -m keras_ecgpe.export.micro_worker`.

TFLM's Python interpreter segfaults when its tensor arena is too small, so the arena is
first measured here, in a process that may die: the model is loaded with a generous arena
(a missing operator makes TFLM fail to allocate and print which one), run once on a zero
window, and TFLM's RecordingMicroAllocator reports the arena it used. The model is then
loaded again with exactly that many bytes and run once more, proving the figure. The
facts are written as JSON; errors are `ERROR: ...` lines with exit status 2.

Example:
    python -m keras_ecgpe.export.micro_worker --model /tmp/model.tflite --out /tmp/facts.json
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keras_ecgpe.export.micro_worker")
    parser.add_argument("--model", required=True, help=".tflite file")
    parser.add_argument("--out", required=True, help="where to write the facts (JSON)")
    args = parser.parse_args(argv)

    from pathlib import Path

    from keras_ecgpe.data.atomic import atomic_write_json
    from keras_ecgpe.export.child_process import report_errors
    from keras_ecgpe.export.micro_probe import measure_arena

    def measure_and_write():
        atomic_write_json(args.out, measure_arena(Path(args.model).read_bytes()))

    return report_errors(measure_and_write)


if __name__ == "__main__":
    sys.exit(main())
