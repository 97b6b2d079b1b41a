"""Keeping reads inside an allowed folder: every file a record leads to, links resolved.

A record path, the signal files its WFDB header names and any symbolic link on the way
are resolved and must lie inside the allowed root: by default the folder the record was
named in (a dataset source passes its root, the PE cohort its manifest's folder). So a
header in a received dataset cannot pull `/etc/shadow` in as "signal", and a link
`x.csv -> /proc/self/environ` is not read as an ECG. A caller that trusts its layout
(records spread across disks through links) passes `allow_outside=True`.
"""

from __future__ import annotations

import os
from pathlib import Path

from keras_ecgpe.errors import RecordError

OUTSIDE_HINT = "copy the file in, or allow links leading outside (`allow_outside=True`)"


def check_inside(path: os.PathLike | str, root: os.PathLike | str, what: str = "file") -> None:
    """Refuses `path` when it resolves (links followed) outside `root` (also resolved).

    Args:
        path: the file about to be read.
        root: the folder it must stay inside.
        what: how the message calls it ("signal file named by x.hea").

    Raises:
        RecordError: naming `path`: outside `root`, or not resolvable (a link loop).

    Example:
    >>> check_inside("/etc/hostname", "/tmp")
    Traceback (most recent call last):
    ...
    keras_ecgpe.errors.RecordError: /etc/hostname: file resolves to /etc/hostname, outside \
/tmp; copy the file in, or allow links leading outside (`allow_outside=True`)
    """
    try:
        target = Path(path).resolve()
        base = Path(root).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop
        raise RecordError(path, f"cannot resolve the {what}'s path ({exc})") from None
    if not target.is_relative_to(base):
        raise RecordError(path, f"{what} resolves to {target}, outside {base}; {OUTSIDE_HINT}")
