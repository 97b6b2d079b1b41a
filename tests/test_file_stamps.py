"""The index digest's file stamps: the same stamps as a per-record glob, at linear cost.

The cost is guarded by counting directory listings (os.scandir / os.listdir calls), not by
timing: a per-record glob lists the record's folder once per record, the square of the
folder's size in entries read.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from keras_ecgpe.data.file_stamps import record_file_stamps
from keras_ecgpe.data.prepare import describe_source
from keras_ecgpe.data.sources.base import DatasetSource, SourceItem


def _glob_stamps(record_path: str) -> list:
    """The per-record glob the index used before (quadratic in a folder's size)."""
    path = Path(record_path)
    candidates = (
        [path]
        if path.suffix and path.exists()
        else sorted(path.parent.glob(glob.escape(path.name) + ".*"))
    )
    return [[c.name, c.stat().st_size, c.stat().st_mtime_ns] for c in candidates]


def _flat_folder(folder: Path, n: int) -> list[str]:
    """`n` WFDB-style records (`.hea` + `.dat`, empty) in one folder; their record paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(n):
        stem = folder / f"{number:05d}_hr"
        stem.with_suffix(".hea").write_bytes(b"h" * (number % 7))
        stem.with_suffix(".dat").touch()
        paths.append(str(stem))
    return paths


class _ListingCounter:
    """Counts the real os.scandir / os.listdir calls while it is installed."""

    def __init__(self, monkeypatch):
        self.calls = 0
        for name in ("scandir", "listdir"):
            real = getattr(os, name)
            monkeypatch.setattr(os, name, self._counted(real))

    def _counted(self, real):
        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        return counted


def test_stamps_equal_the_per_record_glob_on_awkward_names(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    for name in ("x.hea", "x.dat", "x.1.hea", "x.1.dat", "y.csv", "z[1].hea", "xy.hea", "x"):
        (folder / name).write_text(name)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.hea").write_text("elsewhere, longer")
    paths = [
        str(folder / "x"),  # matches x.hea, x.dat, x.1.hea, x.1.dat (as the glob does)
        str(folder / "x.1"),
        str(folder / "y.csv"),  # an existing file with an extension: itself only
        str(folder / "y.missing"),  # extension that does not exist: the glob's answer
        str(folder / "z[1]"),  # glob metacharacters in the name
        str(folder / "absent"),
        str(tmp_path / "other" / "x"),
        str(tmp_path / "no-such-folder" / "x"),
        str(folder / "x"),  # listed twice: same stamps twice
    ]
    assert record_file_stamps(paths) == [_glob_stamps(path) for path in paths]
    assert [len(stamps) for stamps in record_file_stamps(paths)] == [4, 2, 1, 0, 1, 0, 1, 0, 4]


@pytest.mark.parametrize("n", [40, 400])
def test_a_flat_folder_is_listed_once_whatever_its_size(tmp_path, monkeypatch, n):
    paths = _flat_folder(tmp_path / "flat", n)
    expected = [_glob_stamps(path) for path in paths]
    counter = _ListingCounter(monkeypatch)
    stamps = record_file_stamps(paths)
    assert counter.calls == 1
    assert stamps == expected


def test_listings_grow_with_folders_not_records(tmp_path, monkeypatch):
    # PTB-XL's layout: records500/00000/, records500/01000/, ... 1000 records a folder.
    paths = []
    for folder in range(6):
        paths += _flat_folder(tmp_path / "records500" / f"{folder:05d}", 25)
    counter = _ListingCounter(monkeypatch)
    record_file_stamps(paths)
    assert counter.calls == 6


class _Listed(DatasetSource):
    """A source over given items (what any registered source's index returns)."""

    name = "listed"

    def __init__(self, root, items=()):
        super().__init__(root)
        self._items = list(items)

    @property
    def label_names(self) -> tuple[str, ...]:
        return ("A",)

    def index(self):
        return self._items, []


def test_the_index_digest_lists_each_folder_once_and_tracks_a_rewritten_record(
    tmp_path, monkeypatch
):
    paths = _flat_folder(tmp_path / "flat", 300)
    items = [SourceItem(path, Path(path).name, None, ("A",), None, None) for path in paths]
    source = _Listed(tmp_path, items)
    counter = _ListingCounter(monkeypatch)
    before = describe_source(source, items)["index_sha256"]
    assert counter.calls == 1
    Path(paths[123] + ".dat").write_bytes(b"rewritten")
    assert describe_source(source, items)["index_sha256"] != before
