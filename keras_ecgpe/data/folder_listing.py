"""Which files a folder holds, from one listing per folder instead of a stat per name.

Indexing a manifest checked each record's candidate files (`x`, `x.hea`, `x.mat`, ...) with
a stat each and resolved every file's path for links: eight system calls a record. A listing
gives the names, whether each is a regular file and whether it is a link for all of a
folder's entries at once (a stat only for links), so the index costs one listing per folder
plus a little per record.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

REGULAR_FILE = 1  # a regular file, or a link to one
LINK = 2  # a symbolic link (resolved separately, since it may lead anywhere)


class FolderListing:
    """Entries of folders, each folder listed once while among the `keep` most recent.

    Records of a dataset come folder by folder (PTB-XL's `records500/00000/`, MIMIC's study
    folders) or all from one folder, so a small cache lists each folder once; a manifest
    that alternates between many folders lists them again, but never costs more than a stat
    per name did.

    Args:
        keep: folders kept listed.

    Example:
    >>> FolderListing().flags("/nonexistent-folder")
    {}
    """

    def __init__(self, keep: int = 16):
        self._keep = keep
        self._listed: collections.OrderedDict[str, dict[str, int]] = collections.OrderedDict()
        self._resolved: collections.OrderedDict[str, str] = collections.OrderedDict()

    def flags(self, folder: os.PathLike | str) -> dict[str, int]:
        """`{name: REGULAR_FILE | LINK bits}` of the folder's entries; {} if it is missing.

        Raises:
            OSError: the folder exists but cannot be listed (e.g. no permission).
        """
        key = os.fspath(folder)
        if key in self._listed:
            self._listed.move_to_end(key)
            return self._listed[key]
        found = {}
        try:
            with os.scandir(key) as entries:
                for entry in entries:
                    try:
                        regular = entry.is_file()  # follows links; a stat only for links
                    except OSError:
                        regular = False
                    found[entry.name] = (REGULAR_FILE if regular else 0) | (
                        LINK if entry.is_symlink() else 0
                    )
        except (FileNotFoundError, NotADirectoryError):
            found = {}
        self._listed[key] = found
        if len(self._listed) > self._keep:
            self._listed.popitem(last=False)
        return found

    def resolved_folder(self, folder: os.PathLike | str) -> str:
        """`Path.resolve()` of the folder, computed once while among the recent ones.

        Raises:
            OSError, RuntimeError: as `Path.resolve()` (RuntimeError: a link loop).
        """
        key = os.fspath(folder)
        if key not in self._resolved:
            self._resolved[key] = str(Path(key).resolve())
            if len(self._resolved) > self._keep:
                self._resolved.popitem(last=False)
        return self._resolved[key]
