"""The blocks a report section is made of: text, tables, figures, notices, key-value lists.

Each block checks its own fields when it is built, so a bad table (a row one cell short, a
NaN where None and a reason belong) fails where the report content is assembled, with the
caption in the message, not later inside a renderer.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.reporting.cells import Column, check_cell, numeric_column

NOTICE_LEVELS = ("note", "warning", "critical")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _text(value, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"`{where}` must be a string. Received: {value!r}")
    return value


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text (wrapped by the text renderer, escaped by the HTML one).

    Example:
    >>> Paragraph("Thresholds were chosen on validation data.").text
    'Thresholds were chosen on validation data.'
    """

    text: str

    def __post_init__(self):
        _text(self.text, "Paragraph.text")


@dataclass(frozen=True)
class Preformatted:
    """Text shown verbatim in a monospaced block, e.g. an analysis plan's YAML.

    Args:
        text: the text; its line breaks and spacing are kept.
        caption: a title above the block, or "".
    """

    text: str
    caption: str = ""

    def __post_init__(self):
        _text(self.text, "Preformatted.text")
        _text(self.caption, "Preformatted.caption")


@dataclass(frozen=True)
class Notice:
    """A note or warning the reader must not miss (small samples, synthetic data, leakage).

    Args:
        text: the message.
        level: one of `NOTICE_LEVELS`: "note", "warning" or "critical".

    Example:
    >>> Notice("Only 7 positive patients: intervals are wide.", level="warning").level
    'warning'
    """

    text: str
    level: str = "warning"

    def __post_init__(self):
        _text(self.text, "Notice.text")
        if self.level not in NOTICE_LEVELS:
            raise ConfigError(
                f"`Notice.level` must be one of {NOTICE_LEVELS}. Received: {self.level!r}"
            )


@dataclass(frozen=True)
class KeyValueList:
    """Labelled values, one a line ("Bootstrap resamples: 2000").

    Args:
        items: `(key, value)` pairs; a value is a cell (number, text, None, `Cell`,
            `Interval`) and reads as in an "auto" column.
        caption: a title above the list, or "".

    Example:
    >>> KeyValueList([("Records", 412), ("Positive patients", 37)]).items[0]
    ('Records', 412)
    """

    items: tuple = ()
    caption: str = ""

    def __post_init__(self):
        items = tuple(tuple(item) for item in self.items)
        for index, item in enumerate(items):
            if len(item) != 2:
                raise ConfigError(
                    f"`KeyValueList.items[{index}]` must be a (key, value) pair. Received: {item!r}"
                )
            _text(item[0], f"KeyValueList.items[{index}] key")
            check_cell(item[1], f"KeyValueList.items[{index}] value")
        object.__setattr__(self, "items", items)
        _text(self.caption, "KeyValueList.caption")


@dataclass(frozen=True)
class Table:
    """A table with a caption, typed columns, rows of cells and footnotes.

    Cells are numbers, strings, None ("n/a"), `Cell` (a value or n/a with its reason) or
    `Interval`. Reasons for n/a cells become numbered footnotes below the table.

    Args:
        caption: the table's title ("Table 2. Accuracy at the rule-out threshold").
        columns: `Column`s, or plain strings (labels of "auto" columns).
        rows: one sequence of cells per row, each as long as `columns`.
        notes: footnotes printed below the table (methods, abbreviations).

    Raises:
        ConfigError: a row of the wrong length, or a cell of an unsupported type or NaN.

    Example:
    >>> table = Table("2x2 table", ["", "Reference +", "Reference -"],
    ...               [["Test +", 30, 12], ["Test -", 4, 90]])
    >>> [column.label for column in table.columns]
    ['', 'Reference +', 'Reference -']
    """

    caption: str
    columns: tuple
    rows: tuple
    notes: tuple = ()

    def __post_init__(self):
        _text(self.caption, "Table.caption")
        columns = tuple(Column(c) if isinstance(c, str) else c for c in self.columns)
        if not columns or not all(isinstance(c, Column) for c in columns):
            raise ConfigError(
                f"Table {self.caption!r}: `columns` must be a non-empty list "
                f"of Column or str. Received: {self.columns!r}"
            )
        rows = tuple(tuple(row) for row in self.rows)
        for r, row in enumerate(rows):
            if len(row) != len(columns):
                raise ConfigError(
                    f"Table {self.caption!r}: row {r} has {len(row)} cells for "
                    f"{len(columns)} columns"
                )
            for c, value in enumerate(row):
                check_cell(value, f"Table {self.caption!r} row {r} column {c}")
        notes = tuple(self.notes)
        for n, note in enumerate(notes):
            _text(note, f"Table {self.caption!r} notes[{n}]")
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "notes", notes)

    def numeric_columns(self) -> list[bool]:
        """Per column, whether it reads as numbers (right-aligned, never wrapped)."""
        return [
            numeric_column(column, [row[c] for row in self.rows])
            for c, column in enumerate(self.columns)
        ]


@dataclass(frozen=True)
class Figure:
    """A PNG figure: from a file (read when rendered) or from bytes in memory.

    The HTML page embeds the image; the text report names the file; the JSON dump records
    its name, size in pixels and SHA-256.

    Args:
        image: a path to a PNG file, or the PNG's bytes.
        caption: the figure's caption.
        alt: a short description for readers who cannot see the image (required).
        name: the file name the text report lists; defaults to the path's name.

    Raises:
        ConfigError: an empty `alt`, or bytes that are not a PNG.
    """

    image: Path | bytes
    caption: str
    alt: str
    name: str = ""
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        _text(self.caption, "Figure.caption")
        if not isinstance(self.alt, str) or not self.alt.strip():
            raise ConfigError(
                f"Figure {self.caption!r}: `alt` must describe the image. Received: {self.alt!r}"
            )
        if isinstance(self.image, (bytes, bytearray)):
            object.__setattr__(self, "image", bytes(self.image))
            _png_size(self.image, f"Figure {self.caption!r}")
        elif isinstance(self.image, (str, Path)):
            object.__setattr__(self, "image", Path(self.image))
            if not self.name:
                object.__setattr__(self, "name", self.image.name)
        else:
            raise ConfigError(
                f"Figure {self.caption!r}: `image` must be a path or PNG bytes. "
                f"Received: {type(self.image).__name__}"
            )
        _text(self.name, "Figure.name")

    def png_bytes(self) -> bytes:
        """The PNG's bytes (a file is read once, on first use).

        Raises:
            ConfigError: the file is missing, unreadable or not a PNG; names the file.
        """
        if isinstance(self.image, bytes):
            return self.image
        if "bytes" not in self._cache:
            try:
                data = self.image.read_bytes()
            except OSError as error:
                raise ConfigError(
                    f"{self.image}: figure {self.caption!r} cannot be read "
                    f"({error.strerror or error})"
                ) from None
            _png_size(data, str(self.image))
            self._cache["bytes"] = data
        return self._cache["bytes"]

    def pixel_size(self) -> tuple[int, int]:
        """`(width, height)` in pixels, from the PNG header."""
        return _png_size(self.png_bytes(), self.name or self.caption)

    def sha256(self) -> str:
        """The SHA-256 of the PNG bytes, hex."""
        return hashlib.sha256(self.png_bytes()).hexdigest()


def _png_size(data: bytes, where: str) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, which the format requires to come first."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ConfigError(f"{where}: not a PNG image (figures must be PNG)")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise ConfigError(f"{where}: PNG of size {width}x{height}")
    return width, height


BLOCK_TYPES = (Paragraph, Preformatted, Notice, KeyValueList, Table, Figure)
