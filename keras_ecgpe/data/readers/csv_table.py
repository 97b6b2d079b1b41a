"""Bounded reading of numeric CSV tables, shared by the CSV and MedalCare-XL readers.

A CSV is never read whole on trust: files larger than `max_samples` rows of plain numbers
could fill are refused by size first, and reading stops after `max_rows` rows, so a 10 GB
file costs a `stat`, not a read.
"""

from __future__ import annotations

import pathlib
import warnings
from typing import TYPE_CHECKING

import numpy as np

from keras_ecgpe.errors import RecordError

if TYPE_CHECKING:
    from typing import TextIO

# Generous room per value ("-1234.5678901234567e-05," is 24 characters) plus a header.
_BYTES_PER_VALUE = 32
_HEADER_BYTES = 1 << 20
MAX_LINE_CHARS = 1 << 20
# A data row of 12 numbers is under 400 characters; 64 k leaves room for wide exports and
# bounds what one line can cost (a 190 MB line is refused after reading 64 k of it).
MAX_DATA_LINE_CHARS = 1 << 16
CHUNK_ROWS = 50_000
CHUNK_CHARS = 8 << 20  # text parsed at a time: numpy's parser needs several times this


def check_csv_size(path: pathlib.Path, cap: int, n_columns: int) -> None:
    """Refuses a CSV too large to hold only `cap` rows of `n_columns` numbers.

    Raises:
        RecordError: naming the file, when it is missing or too large.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RecordError(path, f"cannot read CSV file: {exc}") from exc
    limit = cap * max(n_columns, 1) * _BYTES_PER_VALUE + _HEADER_BYTES
    if size > limit:
        raise RecordError(
            path,
            f"file is {size} bytes, more than {cap} samples (max_samples) "
            f"of {n_columns} columns can take ({limit} bytes); refusing "
            "to read it",
        )


def read_line(handle: TextIO, path: pathlib.Path) -> str:
    """Returns one text line, refusing lines longer than `MAX_LINE_CHARS`."""
    line = handle.readline(MAX_LINE_CHARS)
    if len(line) >= MAX_LINE_CHARS and not line.endswith("\n"):
        raise RecordError(path, f"a header line is longer than {MAX_LINE_CHARS} characters")
    return line


def load_numbers(
    handle: TextIO,
    path: pathlib.Path,
    *,
    max_rows: int,
    max_line_chars: int = MAX_DATA_LINE_CHARS,
) -> np.ndarray:
    """Reads comma-separated numbers from `handle` into a float64 `(rows, columns)` array.

    Lines are parsed in chunks of at most `CHUNK_ROWS` lines and `CHUNK_CHARS` characters
    (numpy's own `max_rows` preallocates that many rows, so it cannot serve as a cap), a
    line longer than `max_line_chars` is refused as soon as that much of it is read,
    and reading stops once more than `max_rows` rows were read: the caller then refuses
    the record without reading the rest. Memory is bounded whatever the file holds.

    Args:
        handle: text file positioned at the first data row.
        path: the file, for error messages.
        max_rows: stop after more than this many rows.
        max_line_chars: longest line accepted (a row of the widest table allowed).

    Raises:
        RecordError: ragged rows, text where numbers should be, undecodable bytes.
    """
    chunks, n_rows = [], 0
    try:
        while n_rows <= max_rows:
            lines = _bounded_lines(handle, path, max_line_chars)
            if not lines:
                break
            with warnings.catch_warnings():
                # Comment-only chunks are skipped, not reported as "no data".
                warnings.simplefilter("ignore", UserWarning)
                chunk = np.loadtxt(lines, delimiter=",", ndmin=2, dtype=np.float64, comments="#")
            if chunk.size == 0:
                continue
            if chunks and chunk.shape[1] != chunks[0].shape[1]:
                raise ValueError(f"rows hold {chunks[0].shape[1]} and {chunk.shape[1]} values")
            chunks.append(chunk)
            n_rows += chunk.shape[0]
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise RecordError(path, f"cannot parse CSV numbers: {exc}") from exc
    return np.concatenate(chunks) if chunks else np.empty((0, 0))


def line_chars_for(n_values: int) -> int:
    """The longest line a row of `n_values` numbers may take (at least 64 k characters)."""
    return max(MAX_DATA_LINE_CHARS, n_values * _BYTES_PER_VALUE)


def _bounded_lines(handle: TextIO, path: pathlib.Path, max_chars: int) -> list[str]:
    """The next chunk of lines (see `load_numbers`); an over-long line is a RecordError."""
    lines, chars = [], 0
    while len(lines) < CHUNK_ROWS and chars < CHUNK_CHARS:
        line = handle.readline(max_chars + 1)
        if not line:
            break
        if len(line) > max_chars:
            raise RecordError(
                path,
                f"a data line is longer than {max_chars} characters "
                f"(after {len(lines)} lines of this chunk); refusing to read it",
            )
        lines.append(line)
        chars += len(line)
    return lines
