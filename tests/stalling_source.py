"""A dataset source whose reader stalls on chosen records, to kill `prepare` mid-run.

It lives in its own module so spawned worker processes can import it. The stalling worker
writes a marker file first, so a test knows the run is under way before it sends SIGKILL.
"""

from __future__ import annotations

import time
from pathlib import Path

from keras_ecgpe.data.sources.cpsc2018 import CPSC2018Source


class StallingCPSC2018Source(CPSC2018Source):
    def __init__(self, root, stall_on=(), marker=None):
        super().__init__(root)
        self.stall_on, self.marker = sorted(stall_on), marker

    def read(self, item, **read_options):
        if item.record_id in self.stall_on:
            Path(self.marker).write_text("stalling")
            time.sleep(600)  # killed long before
        return super().read(item, **read_options)
