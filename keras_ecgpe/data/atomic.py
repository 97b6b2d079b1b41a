"""Atomic file writes: a file is either absent, the old one, or complete.

Every write goes to a temporary name in the destination's own directory (so the final
rename never crosses file systems), is flushed and fsynced, and is then moved over the
destination with `os.replace`, which POSIX and Windows both perform atomically. The
directory entry is fsynced too where the platform allows, so a power cut right after
the call cannot lose the rename. A crash or exception mid-write leaves at most a
`.<name>.tmp-*` file behind, never a truncated file under the real name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from typing import Any


def fsync_directory(path: os.PathLike | str) -> None:
    """Makes renames inside directory `path` durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: os.PathLike | str) -> Iterator[BinaryIO]:
    """Opens a binary file for streamed writing that appears at `path` only on success.

    On leaving the block without an exception the data are fsynced and moved over
    `path`; on an exception the temporary file is deleted and `path` is untouched.

    Args:
        path: the destination file; its directory must exist.

    Yields:
        A binary file object open for writing.

    Example:
    >>> with atomic_open("/tmp/example.bin") as f:
    ...     _ = f.write(b"abc")
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    # os.open with 0o666 honours the umask (mkstemp would force 0o600 on shared caches).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_directory(path.parent)


def atomic_write_bytes(path: os.PathLike | str, data: bytes) -> None:
    """Writes `data` to `path` atomically (see `atomic_open`)."""
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_json(path: os.PathLike | str, obj: Any) -> None:
    """Writes `obj` as indented, key-sorted UTF-8 JSON to `path` atomically.

    Raises:
        TypeError: `obj` holds something JSON cannot represent (nothing is written).
    """
    # Serialise first so an unencodable object never even creates the temporary file.
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def atomic_save_npy(path: os.PathLike | str, array: np.ndarray) -> None:
    """Saves `array` in `.npy` format to `path` atomically, never with pickle."""
    with atomic_open(path) as handle:  # streamed: no second copy of a large array
        np.save(handle, np.asarray(array), allow_pickle=False)


def staging_directory(target: os.PathLike | str) -> Path:
    """A new empty hidden directory beside `target` to build its replacement in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.staging-{os.getpid()}-{secrets.token_hex(4)}")
    staging.mkdir()
    return staging


def replace_directory(finished: os.PathLike | str, target: os.PathLike | str) -> None:
    """Moves the complete directory `finished` to `target`, replacing whatever is there.

    Two renames: the old `target` moves aside, then `finished` moves in, so `target` is
    never a mix of old and new files. A crash between the two leaves no `target` and the
    old one whole under `.<name>.old-*` beside it.
    """
    finished, target = Path(finished), Path(target)
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(target, old)
        os.rename(finished, target)
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    else:
        os.rename(finished, target)
    fsync_directory(target.parent)


# What an interrupted write of folder NAME leaves, beside it: `staging_directory`'s
# `.NAME.staging-<pid>-<hex>`, `replace_directory`'s `.NAME.old-<pid>-<hex>` and the cache
# writer's `NAME.partial-<pid>`; inside it: `atomic_open`'s `.<file>.tmp-<pid>-<hex>` (and a
# checkpoint's `.<stem>.tmp-<pid>-<hex>.keras`).
_BESIDE = r"^(?:\.{name}\.(?P<kind>staging|old)-\d+-[0-9a-f]+|{name}\.partial-\d+)$"
_INSIDE = re.compile(r"^\..+\.tmp-\d+-[0-9a-f]+(?:\.keras)?$")


def leftovers(target: os.PathLike | str) -> list[Path]:
    """The staging, old, partial and temporary copies an interrupted write of folder
    `target` left beside it and (one level deep) inside it.

    Only the writer holding `target`'s lock (`keras_ecgpe.data.locks`) may remove them: any
    other process writing `target` would hold it instead, so they are a dead writer's.
    """
    target = Path(target)
    beside = re.compile(_BESIDE.format(name=re.escape(target.name)))
    found = []
    if target.parent.is_dir():
        found += [p for p in sorted(target.parent.iterdir()) if beside.match(p.name)]
    if target.is_dir() and not target.is_symlink():
        for folder in [target] + sorted(
            p for p in target.iterdir() if p.is_dir() and not p.is_symlink()
        ):
            found += [p for p in sorted(folder.iterdir()) if _INSIDE.match(p.name)]
    return found


def remove_leftovers(target: os.PathLike | str) -> list[str]:
    """Removes `leftovers(target)`; returns their names, for one report line.

    An old copy (`.NAME.old-*`) whose replacement never arrived (no `target`) is the last
    complete folder: it is moved back to `target` instead of removed.
    """
    target = Path(target)
    done = []
    for path in leftovers(target):
        if ".old-" in path.name and not os.path.lexists(target) and path.is_dir():
            os.rename(path, target)
            done.append(f"{path.name} (restored as {target.name})")
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        done.append(path.name)
    return done
