"""Runs reader calls in worker processes so a native crash costs one record, not the run.

scipy's .mat reader (1.17) can segfault on a corrupt file (tests/data/scipy_segfault.mat);
a segfault cannot be caught in the process it happens in. Here the call runs in a spawned
worker: a crash breaks the pool, the item at the head is retried alone in a fresh process,
and if it crashes again its result is `CRASH_REASON` instead. Workers end with the parent
(`parent_watch.exit_with_parent`), so a SIGKILLed command leaves no worker behind.
"""

from __future__ import annotations

import collections
import concurrent.futures
import concurrent.futures.process
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence

from keras_ecgpe.data.parent_watch import exit_with_parent
from keras_ecgpe.errors import ConfigError, ECGPEError

CRASH_REASON = (
    "reading it crashed the worker process (a native crash inside a library, "
    "e.g. scipy on a corrupt .mat file)"
)


def ordered_process_map(
    function: Callable,
    items: Sequence,
    workers: int,
    *args: object,
    on_crash: Callable[[object], object],
) -> Iterator[tuple[object, object]]:
    """Yields (item, function(*args, item)) in order, never more than 4 per worker pending.

    Args:
        function, items, *args: what to run on each item; `function` must be importable by
            a spawned process and should return its failures rather than raise them.
        workers: worker processes.
        on_crash: gives the result for an item whose call crashed its process twice.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # A spawned worker is importing the caller's script, and the script calls us at
        # import time (no `if __name__ == "__main__":` guard). Exit quietly: the parent's
        # start check below tells the user what to change.
        raise SystemExit(1)
    workers = max(workers, 1)
    context = multiprocessing.get_context("spawn")  # never fork a process that may hold TF
    pool = _pool(workers, context)
    _check_workers_start(pool)
    pending: collections.deque = collections.deque()

    def head():
        nonlocal pool, pending
        first, future = pending.popleft()
        try:
            return first, future.result()
        except concurrent.futures.process.BrokenProcessPool:
            pool.shutdown(cancel_futures=True)
            result = _run_alone(function, args, first, context, on_crash)
            pool = _pool(workers, context)
            pending = collections.deque(
                (item, pool.submit(function, *args, item)) for item, _ in pending
            )
            return first, result

    try:
        for item in items:
            pending.append((item, pool.submit(function, *args, item)))
            if len(pending) >= 4 * workers:
                yield head()
        while pending:
            yield head()
    finally:
        pool.shutdown(cancel_futures=True)


def _pool(workers: int, context) -> concurrent.futures.ProcessPoolExecutor:
    """Spawned workers that exit when this process is gone (even after a SIGKILL)."""
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(),)
    )


def _check_workers_start(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Runs a no-op in the pool so a worker that cannot start is told from a crashing record.

    Raises:
        ConfigError: the workers die before running anything; the usual cause is a script
            calling the package at import time, which spawned workers import again.
    """
    try:
        pool.submit(os.getpid).result()
    except concurrent.futures.process.BrokenProcessPool:
        pool.shutdown(cancel_futures=True)
        script = getattr(sys.modules.get("__main__"), "__file__", None)
        cause = (
            f"{script} runs this call again when a worker process imports it: put the "
            'call under `if __name__ == "__main__":` (multiprocessing starts workers by '
            "importing the main script)"
            if script
            else "the worker processes died before running anything"
        )
        raise ConfigError(f"cannot start worker processes: {cause}") from None


def _run_alone(function: Callable, args, item, context, on_crash):
    """Runs one item in its own process; a second native crash gives `on_crash(item)`."""
    with _pool(1, context) as alone:
        try:
            return alone.submit(function, *args, item).result()
        except concurrent.futures.process.BrokenProcessPool:
            return on_crash(item)


def _call_reporting_errors(function: Callable, item):
    """Worker body: ("ok", function(item)) or ("error", message)."""
    try:
        return "ok", function(item)
    except ECGPEError as exc:
        return "error", str(exc)


def map_isolated(function: Callable, items: Sequence) -> Iterator[tuple[object, object, str]]:
    """Yields (item, result, None) or (item, None, error message), in order.

    One worker process runs `function` (importable, e.g. `read_record`) on each item; an
    `ECGPEError` or a native crash becomes that item's message.
    """

    def crashed(item):
        return "error", f"{item}: {CRASH_REASON}"

    for item, (status, value) in ordered_process_map(
        _call_reporting_errors, items, 1, function, on_crash=crashed
    ):
        yield (item, value, None) if status == "ok" else (item, None, value)
