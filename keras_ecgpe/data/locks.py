"""One writer at a time: an exclusive lock on each folder a command writes.

A run directory (train, `train --resume`, cross-validation folds), an evaluation folder, a
prepared cache being written and an export bundle each get a lock file BESIDE the folder,
`.<name>.lock`, so that replacing the folder never deletes its own lock. The lock is a
`fcntl.flock` on that file: the kernel releases it when the holding process ends, however
it ends (SIGKILL included), so a lock left by a killed process is free for the next
writer. The holder writes its pid, host, start time and command into the file; a second
writer is refused at once with a message naming them, and the next writer after a killed
one reads the old holder's details and says in one line that it took the lock over.

Holding the lock is also what makes it safe to clean up: every writer of a folder takes
it first, so the staging, partial and temporary leftovers found beside or inside the folder
(see `atomic.leftovers`) belong to a writer that died, and `writing` removes them.

Limits: `flock` is advisory (a program that ignores it is not stopped) and, on some network
file systems, local to one machine.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from keras_ecgpe.data.atomic import remove_leftovers
from keras_ecgpe.errors import ConfigError

if TYPE_CHECKING:
    from typing import Any

log = logging.getLogger(__name__)

_HOLDER_BYTES = 4096  # the holder's details; a longer file is not ours


class LockedError(ConfigError):
    """Another process holds the folder's lock; `holder` says who (may be empty)."""

    def __init__(self, message: str, holder: dict):
        super().__init__(message)
        self.holder = holder


def lock_path(target: os.PathLike | str) -> Path:
    """The lock file of folder `target`: `.<name>.lock` beside it.

    Example:
    >>> lock_path("runs/pe") == Path("runs/.pe.lock").absolute()
    True
    """
    target = Path(os.path.abspath(target))  # "." and "runs/.." have a name only this way
    if not target.name:
        raise ConfigError(f"{target}: a file system root cannot be locked as a folder")
    return target.with_name(f".{target.name}.lock")


def describe_holder(holder: dict[str, Any]) -> str:
    """`pid 123 on host, started 2026-01-01T10:00:00+00:00 (ecgpe-keras train ...)`.

    Example:
    >>> describe_holder({"pid": 7, "host": "h", "started": "2026-01-01T00:00:00+00:00"})
    'pid 7 on h, started 2026-01-01T00:00:00+00:00'
    """
    if not holder:
        return "a process that left no details"
    text = f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
    command = holder.get("command")
    return text + (f" ({command:.120})" if command else "")


class FolderLock:
    """The held lock of one folder; `release()` (or leaving `writing`) frees it.

    Attributes:
        target: the folder.
        path: the lock file.
        previous: the details a dead holder left in the lock file, or None.
    """

    def __init__(self, target: Path, path: Path, fd: int, previous: dict | None):
        self.target, self.path, self._fd, self.previous = target, path, fd, previous

    def __del__(self) -> None:  # an abandoned holder (e.g. a writer never closed) frees it
        with contextlib.suppress(Exception):  # at interpreter exit the kernel frees it anyway
            self.release()

    def release(self) -> None:
        """Removes the lock file, then frees the lock (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # the next writer checks it locked the file still linked here
        os.close(self._fd)
        self._fd = None


def acquire(target: os.PathLike | str, what: str) -> FolderLock:
    """Takes the exclusive lock of folder `target`, or refuses at once; then cleans up.

    Once the lock is held, the staging, partial, old and temporary copies an interrupted
    write of `target` left (`atomic.leftovers`) are removed (an old copy whose replacement
    never arrived is moved back) and reported in one log line.

    Args:
        target: the folder about to be written (it need not exist; its parent is created).
        what: what the folder is, for messages ("run directory", "prepared cache", ...).

    Returns:
        The held `FolderLock`.

    Raises:
        LockedError: another process holds it; the message names the holder.
        ConfigError: the lock file cannot be created (e.g. the parent is a file).
    """
    target = Path(target)
    path = lock_path(target)
    for _ in range(100):  # a retry only when a releasing holder unlinked the file meanwhile
        fd = _open(path, target, what)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockedError(
                f"{target}: another process is writing this {what} "
                f"({describe_holder(holder)}); wait for it to end or stop it",
                holder,
            ) from None
        try:
            linked = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            linked = False
        if not linked:  # we locked a file its holder just removed: try the new one
            os.close(fd)
            continue
        previous = _read_holder(fd)
        _write_holder(fd)
        if previous and previous.get("pid") != os.getpid():
            log.warning(
                "%s: took over the lock of a writer that ended without releasing it (%s)",
                target,
                describe_holder(previous),
            )
        try:
            removed = remove_leftovers(os.path.abspath(target))
        except OSError as exc:
            os.close(fd)
            raise ConfigError(
                f"{target}: cannot remove what an interrupted write left ({exc})"
            ) from None
        if removed:
            log.warning(
                "%s: removed what an interrupted write left: %s", target, ", ".join(removed)
            )
        return FolderLock(target, path, fd, previous or None)
    raise ConfigError(f"{path}: the lock file keeps being replaced; is another writer looping?")


@contextlib.contextmanager
def writing(target: os.PathLike | str, what: str) -> Iterator[FolderLock]:
    """Holds the lock of folder `target` for the block (see `acquire`).

    Raises:
        LockedError, ConfigError: see `acquire`.

    Example:

    ```python
    with writing("runs/pe", "run directory"):
        ...  # no other process writes runs/pe meanwhile
    ```
    """
    lock = acquire(target, what)
    try:
        yield lock
    finally:
        lock.release()


def _open(path: Path, target: Path, what: str) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        # mkdir says "File exists" when a part of the path is a file: name that file instead.
        file = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
        reason = f"{file} is a file, not a folder" if file and not file.is_dir() else exc.strerror
        raise ConfigError(
            f"{target}: cannot create the lock of this {what} at {path} ({reason})"
        ) from None


def _read_holder(fd: int) -> dict:
    try:
        data = os.pread(fd, _HOLDER_BYTES + 1, 0)
        holder = json.loads(data.decode("utf-8")) if 0 < len(data) <= _HOLDER_BYTES else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300],
    }
    data = json.dumps(holder).encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
