"""Sizes a MATLAB v5 file's compressed elements before scipy inflates them.

A v5 `.mat` file is a 128-byte header followed by tagged elements; `miCOMPRESSED` elements
hold a zlib stream that scipy inflates whole. A 2 MB element can inflate to gigabytes, so
the file size alone bounds nothing. `check_inflated_size` walks the elements and inflates
each compressed one incrementally into a small buffer that is thrown away, counting the
bytes, and refuses the file as soon as the count passes the limit: checking costs at most
`limit` bytes of inflation and a few hundred kilobytes of memory.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

from keras_ecgpe.errors import RecordError

if TYPE_CHECKING:
    import pathlib

_HEADER_BYTES = 128
_MI_COMPRESSED = 15
_READ_BYTES = 1 << 16
_INFLATE_BYTES = 1 << 18


def check_inflated_size(path: pathlib.Path, limit: int) -> None:
    """Refuses a v5 MAT file whose elements inflate to more than `limit` bytes in total.

    Files that are not v5 (v4, HDF5-based v7.3) and malformed tags are left to the
    reader, which reports them.

    Raises:
        RecordError: naming the file: the inflated size passes `limit`, or a compressed
            element is not a valid zlib stream.
    """
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise RecordError(path, f"cannot read MATLAB file: {exc.strerror}") from None
    with handle:
        header = handle.read(_HEADER_BYTES)
        if len(header) < _HEADER_BYTES or not header.startswith(b"MATLAB 5.0"):
            return
        order = {b"IM": "<", b"MI": ">"}.get(header[126:128])
        if order is None:
            return
        total = 0
        while True:
            tag = handle.read(8)
            if len(tag) < 8:
                return
            kind, nbytes = struct.unpack(order + "II", tag)
            if kind >> 16:  # small data element: the data sit in the tag itself
                continue
            if kind != _MI_COMPRESSED:
                total += nbytes
                handle.seek(nbytes + (-nbytes % 8), 1)
            else:
                total += _inflated_bytes(handle, nbytes, limit - total, path)
            if total > limit:
                raise RecordError(
                    path,
                    f"its elements hold more than {limit} bytes once inflated, more than "
                    "the samples allowed (max_samples) can take; refusing to inflate them",
                )


def _inflated_bytes(handle, nbytes: int, room: int, path) -> int:
    """Inflates the next `nbytes` of `handle`, counting; stops once past `room`."""
    inflater = zlib.decompressobj()
    count, left = 0, nbytes
    try:
        while left > 0 and count <= room:
            chunk = handle.read(min(_READ_BYTES, left))
            if not chunk:
                break
            left -= len(chunk)
            data = chunk
            while data and count <= room:
                count += len(inflater.decompress(data, _INFLATE_BYTES))
                data = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error as exc:
        raise RecordError(
            path, f"cannot read MATLAB file: a compressed element is corrupt ({exc})"
        ) from None
    if left > 0:
        handle.seek(left, 1)
    return count
