"""Child processes end with their parent: a SIGKILLed command leaves no orphans behind.

A process killed with SIGKILL cannot stop its children. The package's children (the
reader workers of `prepare` and `predict`, the export's converter and fine-tuning
processes) therefore watch their parent themselves: a daemon thread checks every
`POLL_S` seconds that the parent is still the one that started them and exits the
process at once (`os._exit`) when it is gone. Polling is used rather than Linux's
`PR_SET_PDEATHSIG`, which fires when the parent THREAD that started the child ends, not
the parent process. Once the workers are gone, multiprocessing's resource tracker sees its
last pipe close and ends too.
"""

from __future__ import annotations

import os
import threading
import time

POLL_S = 0.5
PARENT_ENV = "KERAS_ECGPE_PARENT_PID"  # set by the parent for `python -m` children


def exit_with_parent(parent_pid: int | None = None) -> None:
    """Ends this process (exit status 1) as soon as its parent process is gone.

    Args:
        parent_pid: the parent's pid as the parent saw it (so a parent that died before
            this call is noticed too); default `$KERAS_ECGPE_PARENT_PID`, else the
            current parent.
    """
    if parent_pid is None:
        parent_pid = int(os.environ.get(PARENT_ENV) or os.getppid())
    if os.getppid() != parent_pid:
        os._exit(1)
    thread = threading.Thread(
        target=_watch, args=(parent_pid,), name="exit-with-parent", daemon=True
    )
    thread.start()


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_S)
    os._exit(1)  # no cleanup: the parent that would use the result is gone
