"""Readers that die with a real SIGSEGV on chosen records.

Used to test that `prepare_dataset` survives a native crash in a worker process. The
scipy bug that first showed the problem (tests/data/scipy_segfault.mat) reads freed memory
and does not crash on every machine, so the crash is raised here on purpose. It lives in
its own module so spawned worker processes can import it.
"""

from __future__ import annotations

import os
import signal

from keras_ecgpe.data.sources.cpsc2018 import CPSC2018Source


class CrashingCPSC2018Source(CPSC2018Source):
    def __init__(self, root, crash_on=()):
        super().__init__(root)
        self.crash_on = sorted(crash_on)

    def read(self, item, **read_options):
        if item.record_id in self.crash_on:
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().read(item, **read_options)


def read_or_crash(path: str) -> str:
    """Dies with SIGSEGV on a path containing "crash", raises RecordError on "bad"."""
    from keras_ecgpe.errors import RecordError

    if "crash" in path:
        os.kill(os.getpid(), signal.SIGSEGV)
    if "bad" in path:
        raise RecordError(path, "not a record")
    return path.upper()
