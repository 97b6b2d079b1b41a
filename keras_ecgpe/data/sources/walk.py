"""Finding a dataset's files: an iterative walk with a depth cap, safe on link loops.

`Path.rglob` recurses once per folder level (a 1,200-level tree exhausts Python's
recursion limit) and follows whatever the file system offers. `find_files` walks with an
explicit stack, never follows symbolic links to folders (a link loop cannot make it spin,
and a link cannot pull a folder from elsewhere into the dataset), goes at most
`MAX_DEPTH` levels below the root, and turns every file-system error into a
`RecordError` naming the folder.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from keras_ecgpe.errors import RecordError

# PhysioNet's deepest layout (PTB-XL records500/21000/21837_hr) is three levels; CinC
# training folders add two. Thirty-two leaves room for any real one.
MAX_DEPTH = 32


def find_files(root: os.PathLike | str, pattern: str, max_depth: int = MAX_DEPTH) -> list[Path]:
    """Every file under `root` whose name matches `pattern` (case-sensitive), sorted.

    Args:
        root: the dataset folder.
        pattern: a shell pattern for the file name, e.g. "*.hea".
        max_depth: deepest folder level searched below `root`.

    Returns:
        The matching files (regular files or links to them), sorted by path.

    Raises:
        RecordError: naming the folder, for a tree deeper than `max_depth` or a folder
            that cannot be listed.

    Example:
    >>> find_files("/nonexistent-dataset", "*.hea")
    []
    """
    root = Path(root)
    found: list[Path] = []
    stack = [(root, 0)] if root.is_dir() else []
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if depth + 1 > max_depth:
                            raise RecordError(
                                entry.path,
                                f"folder more than {max_depth} levels below the dataset root "
                                f"{root}; no dataset is that deep (a loop or a mistake?)",
                            )
                        stack.append((Path(entry.path), depth + 1))
                    elif fnmatch.fnmatchcase(entry.name, pattern):
                        found.append(Path(entry.path))
        except OSError as exc:
            raise RecordError(folder, f"cannot list the folder ({exc.strerror})") from None
    return sorted(found)
