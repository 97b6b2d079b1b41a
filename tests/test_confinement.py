"""Confinement: every file a record leads to resolves inside the allowed folder.

Records are copies of a real PTB-XL record (06000_hr) in tmp_path; the "system file"
is a file of the test's own outside folder, or /etc/hostname where the CLI is driven.
"""

from __future__ import annotations

import pathlib
import shutil

import pytest
from click.testing import CliRunner

from keras_ecgpe.cli.main import cli
from keras_ecgpe.data.readers import inspect_record, read_record
from keras_ecgpe.data.sources.pe_cohort import PECohortSource
from keras_ecgpe.errors import RecordError

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"
PTBXL = REAL / "ptbxl" / "records500" / "06000" / "06000_hr"


@pytest.fixture
def layout(tmp_path):
    """`inside/` holds the header; the signal file lives in `outside/`."""
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    shutil.copyfile(f"{PTBXL}.hea", inside / "06000_hr.hea")
    shutil.copyfile(f"{PTBXL}.dat", outside / "06000_hr.dat")
    return inside, outside


def test_signal_file_named_by_a_header_must_stay_inside(layout):
    inside, outside = layout
    (inside / "06000_hr.dat").symlink_to(outside / "06000_hr.dat")
    with pytest.raises(RecordError) as error:
        read_record(inside / "06000_hr")
    message = str(error.value)
    assert "signal file named by 06000_hr.hea resolves to" in message and "outside" in message
    assert read_record(inside / "06000_hr", allow_outside=True).signal.shape == (5000, 12)
    assert read_record(inside / "06000_hr", root=layout[0].parent).signal.shape == (5000, 12)


def test_record_file_that_is_a_link_outside_is_refused(layout):
    inside, outside = layout
    (outside / "secret.csv").write_text("# fs=500\nI,II\n1,2\n3,4\n")
    (inside / "ecg.csv").symlink_to(outside / "secret.csv")
    with pytest.raises(RecordError, match="ecg.csv: file resolves to .*secret.csv, outside"):
        inspect_record(inside / "ecg.csv")
    (inside / "loop.csv").symlink_to(inside / "loop.csv")
    with pytest.raises(RecordError, match="loop.csv"):
        read_record(inside / "loop.csv", fs=500)


def test_folder_link_on_the_path_is_caught_against_the_dataset_root(layout, tmp_path):
    """A manifest's record behind a linked folder: refused at indexing, and again when read
    (the source passes its folder as the root), unless allow_absolute_paths."""
    inside, outside = layout
    shutil.copyfile(f"{PTBXL}.hea", outside / "06000_hr.hea")
    (inside / "linked").symlink_to(outside, target_is_directory=True)
    (inside / "manifest.csv").write_text("record,label,patient_id\nlinked/06000_hr,1,p1\n")
    with pytest.raises(RecordError, match="outside the manifest's folder"):
        PECohortSource(inside / "manifest.csv").index()
    trusted = PECohortSource(inside / "manifest.csv", allow_absolute_paths=True)
    item = trusted.index()[0][0]
    assert trusted.read(item).signal.shape == (5000, 12)
    strict = PECohortSource(inside / "manifest.csv")
    with pytest.raises(RecordError, match="outside"):
        strict.read(item)


@pytest.mark.slow  # data inspect reads in a worker process (about 3 s)
def test_data_inspect_refuses_a_symlinked_system_file(tmp_path):
    system_file = pathlib.Path("/etc/hostname")
    if not system_file.is_file():
        pytest.skip("no /etc/hostname on this machine")
    (tmp_path / "ecg.csv").symlink_to(system_file)
    result = CliRunner().invoke(cli, ["data", "inspect", str(tmp_path / "ecg.csv")])
    assert result.exit_code == 1
    assert "outside" in result.stdout and "ecg.csv" in result.stdout
    assert "Traceback" not in result.output
