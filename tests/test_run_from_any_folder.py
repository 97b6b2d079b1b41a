"""A run works from any working folder: the cache path a run recorded is resolved.

New contracts store the cache's absolute path; older ones (and config.yaml's data.cache)
hold it as typed, relative to where training ran, and are resolved from the run
directory's ancestors. The cache is a SYNTHETIC index cache from tests/fixtures.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import index_cache
from keras_ecgpe.errors import ECGPEError
from keras_ecgpe.export.representative import open_run_cache
from keras_ecgpe.inference.contract_io import cache_path, resolve_recorded_path
from keras_ecgpe.training.contract import data_description


@pytest.fixture
def project(tmp_path, monkeypatch):
    """project/caches/c (a cache) and project/runs/r (a run), training ran in project/."""
    (tmp_path / "project" / "runs" / "r").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "project")
    cache = index_cache("caches/c", [300, 300])
    return tmp_path / "project", cache


def test_new_contracts_record_an_absolute_cache_path(project, tmp_path, monkeypatch):
    root, cache = project
    recorded = data_description(cache)["cache_path"]
    assert recorded == str(root / "caches" / "c")
    monkeypatch.chdir(tmp_path)  # elsewhere
    contract = {"data": {"cache_path": recorded}}
    assert cache_path(contract, root / "runs" / "r") == root / "caches" / "c"


def test_relative_cache_path_of_an_older_run_is_found_from_the_run(project, tmp_path, monkeypatch):
    root, cache = project
    contract = {"data": {"cache_path": "caches/c", "cache_key": cache.key}}
    monkeypatch.chdir(tmp_path)  # the folder training ran in is not the current one
    run = root / "runs" / "r"
    assert cache_path(contract, run) == root / "caches" / "c"
    # Without the run folder the relative path means the current folder, as before.
    assert cache_path(contract) == Path("caches/c")
    assert resolve_recorded_path("caches/missing", run) == root / "runs" / "caches" / "missing"


def test_missing_cache_folder_is_named_as_missing_not_as_an_interrupted_write(tmp_path):
    contract = {"data": {"cache_path": str(tmp_path / "gone")}, "fs": 100.0}
    with pytest.raises(ECGPEError) as error:
        open_run_cache(contract)
    assert "gone: no such prepared cache (the folder does not exist" in str(error.value)
    assert "interrupted" not in str(error.value)
