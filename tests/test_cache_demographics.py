"""Age and sex in the prepared cache's index, and the report sections that read them.

The writer normalises them in one place (`normalise_demographics`); `prepare` passes each
record's age and sex from the source's table or the record's header; caches written before
the columns existed still open, with every age and sex unknown, and the report says so.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from keras_ecgpe.data.cache import CacheWriter, PreparedCache
from keras_ecgpe.data.cache_format import INDEX, MANIFEST, file_sha256, seal_manifest
from keras_ecgpe.data.cache_writer import normalise_demographics
from keras_ecgpe.data.prepare import SplitSettings, prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.sources.registry import make_source
from keras_ecgpe.errors import ECGPEError, RecordError
from keras_ecgpe.evaluation import AnalysisPlan
from keras_ecgpe.evaluation.participant_flow import (
    PREDATES_DEMOGRAPHICS,
    baseline_characteristics,
    cache_demographics,
)
from keras_ecgpe.evaluation.study import subgroup_masks

RAW = PreprocessConfig(target_fs=None, filter="none", normalize="none")


def _cache(path, demographics):
    """A 4-record toy cache; `demographics`: one `(age, sex)` per record as given to add()."""
    writer = CacheWriter(
        path, key="demo-toy", source={"name": "toy"}, settings={}, fs=100.0, label_names=["PE"]
    )
    rng = np.random.default_rng(0)
    for k, (age, sex) in enumerate(demographics):
        writer.add(
            rng.normal(size=(50, 12)),
            record_id=f"r{k}",
            patient_id=f"p{k}",
            labels=[float(k % 2)],
            split="test",
            age=age,
            sex=sex,
        )
    return writer.close()


def test_writer_stores_normalised_age_and_sex(tmp_path):
    cache = _cache(tmp_path / "c", [(61.5, "female"), (None, "M"), (40, None), (np.nan, "")])
    reopened = PreparedCache.open(cache.path, verify=True)
    assert reopened.has_demographics
    np.testing.assert_array_equal(reopened.ages, [61.5, np.nan, 40.0, np.nan])
    assert reopened.sexes.tolist() == ["F", "M", "", ""]
    ages, sexes, reason = cache_demographics(reopened)
    assert reason is None and sexes.tolist() == ["F", "M", "", ""]
    base = baseline_characteristics(reopened.splits, ages, sexes, reason=reason)
    assert base["splits"][0]["sex"] == {"F": 1, "M": 1, "missing": 2}
    assert base["splits"][0]["age"]["n"] == 2 and base["splits"][0]["age"]["median"] == 50.75


@pytest.mark.parametrize(
    "age, sex, problem",
    [(-1.0, "F", "age must be >= 0"), (np.inf, None, "age must be >= 0"), ("old", None, "number")]
    + [(50.0, "X", "sex must be M/F/male/female"), (True, None, "number")],
)
def test_writer_refuses_a_bad_age_or_sex_naming_the_record(age, sex, problem):
    with pytest.raises(RecordError, match=problem) as caught:
        normalise_demographics(age, sex, record_id="r7", where="m.csv")
    assert "r7" in str(caught.value)


def test_a_cache_without_known_values_says_so(tmp_path):
    cache = _cache(tmp_path / "c", [(None, None)] * 2 + [(70.0, None)] * 2)
    ages, sexes, reason = cache_demographics(cache)
    assert sexes is None and ages is not None
    assert reason == "no record in the cache has a known sex"
    masks, notes = subgroup_masks(AnalysisPlan.default(), sexes, ages, missing_reason=reason)
    assert ("age", "65-<80") in masks and masks[("age", "65-<80")].sum() == 2
    assert notes[0] == "by sex: not done, no record in the cache has a known sex"


def _strip_demographic_columns(path):
    """Rewrites the index as a cache written before the age and sex columns existed."""
    with np.load(path / INDEX, allow_pickle=False) as index:
        arrays = {k: index[k] for k in index.files if k not in ("ages", "sexes")}
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    (path / INDEX).write_bytes(buffer.getvalue())
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["index_sha256"] = file_sha256(path / INDEX)
    (path / MANIFEST).write_text(json.dumps(seal_manifest(manifest)))


def test_an_old_index_without_the_columns_opens_and_the_report_says_it_predates_them(tmp_path):
    cache = _cache(tmp_path / "c", [(50.0, "F")] * 4)
    _strip_demographic_columns(cache.path)
    old = PreparedCache.open(cache.path, verify=True)
    assert not old.has_demographics
    assert np.isnan(old.ages).all() and old.sexes.tolist() == [""] * 4
    ages, sexes, reason = cache_demographics(old)
    assert ages is None and sexes is None and reason == PREDATES_DEMOGRAPHICS
    base = baseline_characteristics(old.splits, ages, sexes, reason=reason)
    assert not base["age_available"] and "prepared before" in base["reason"]
    _, notes = subgroup_masks(AnalysisPlan.default(), sexes, ages, missing_reason=reason)
    assert all("prepared before keras_ecgpe stored age and sex" in note for note in notes)


def test_a_malformed_sex_column_is_refused_by_name(tmp_path):
    cache = _cache(tmp_path / "c", [(50.0, "F")] * 4)
    with np.load(cache.path / INDEX, allow_pickle=False) as index:
        arrays = {k: index[k] for k in index.files}
    arrays["sexes"] = np.array(["F", "female", "M", ""])
    np.savez(cache.path / INDEX, allow_pickle=False, **arrays)
    with pytest.raises(ECGPEError, match="sexes outside"):
        PreparedCache.open(cache.path, verify=False)


# --- prepare: slow tier (worker processes) ---------------------------------------------------


def _pe_manifest_with_demographics(out, n_records=20):
    """A SYNTHETIC PE cohort whose manifest gains `age` and `sex` columns (a few blank)."""
    from keras_ecgpe.data.synthetic.pe_cohort import write_pe_cohort

    summary = write_pe_cohort(out, n_records=n_records, seed=5)
    with open(summary["manifest"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    spellings = ["F", "male", "Female", "M", ""]
    expected = {}
    for k, row in enumerate(rows):
        row["age"] = "" if k % 7 == 3 else f"{20 + 3 * k}"
        row["sex"] = spellings[k % len(spellings)]
        expected[row["record"]] = (
            np.nan if row["age"] == "" else float(row["age"]),
            {"F": "F", "male": "M", "Female": "F", "M": "M", "": ""}[row["sex"]],
        )
    with open(summary["manifest"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return summary["manifest"], expected


@pytest.mark.slow
def test_prepare_keeps_age_and_sex_of_a_pe_manifest(tmp_path):
    manifest, expected = _pe_manifest_with_demographics(tmp_path / "pe")
    source = make_source("pe", manifest)
    cache, _ = prepare_dataset(source, tmp_path / "c", RAW, workers=1, split=SplitSettings(folds=0))
    items = {item.record_id: item.record_path for item in source.index()[0]}
    assert cache.has_demographics and len(cache) == len(expected)
    for record_id, age, sex in zip(cache.record_ids, cache.ages, cache.sexes):
        want_age, want_sex = next(v for k, v in expected.items() if items[record_id].endswith(k))
        np.testing.assert_equal(age, want_age)
        assert sex == want_sex
    ages, sexes, reason = cache_demographics(cache)
    base = baseline_characteristics(cache.splits, ages, sexes, reason=reason)
    assert base["age_available"] and base["sex_available"] and "reason" not in base
    # The same data in a cache written before the columns: reused as it is, and prepared
    # again with them under `overwrite`.
    _strip_demographic_columns(cache.path)
    old, reused = prepare_dataset(source, tmp_path / "c", RAW, split=SplitSettings(folds=0))
    assert reused and not old.has_demographics
    again, reused = prepare_dataset(
        source, tmp_path / "c", RAW, workers=1, split=SplitSettings(folds=0), overwrite=True
    )
    assert not reused and again.has_demographics and again.key == cache.key
    np.testing.assert_array_equal(again.ages, cache.ages)


@pytest.mark.slow
def test_prepare_keeps_the_real_records_age_and_sex(real_ecg, tmp_path):
    """PTB-XL from its CSV (sex 0 male, 1 female) and CinC from its headers (`# Age:`)."""
    ptbxl, _ = prepare_dataset(
        make_source("ptbxl", real_ecg / "ptbxl", sampling_rate=500),
        tmp_path / "p",
        RAW,
        workers=1,
        split=SplitSettings(folds=0),
    )
    with open(real_ecg / "ptbxl" / "ptbxl_database.csv", newline="") as handle:
        table = {row["ecg_id"]: row for row in csv.DictReader(handle)}
    assert len(ptbxl) == 10
    for record_id, age, sex in zip(ptbxl.record_ids, ptbxl.ages, ptbxl.sexes):
        assert age == float(table[record_id]["age"])
        assert sex == {"0": "M", "1": "F"}[table[record_id]["sex"]]
    cinc, _ = prepare_dataset(
        make_source("cinc", real_ecg / "cinc"),
        tmp_path / "c",
        RAW,
        workers=1,
        split=SplitSettings(fractions=(0.4, 0.3, 0.3), folds=0),
    )
    assert len(cinc) == 15
    for record_id, age, sex in zip(cinc.record_ids, cinc.ages, cinc.sexes):
        header = (real_ecg / "cinc" / f"{record_id}.hea").read_text()
        lines = dict(
            line.lstrip("#").strip().split(": ", 1)
            for line in header.splitlines()
            if line.startswith("#") and ": " in line
        )
        assert age == float(lines["Age"]), record_id
        assert sex == {"Male": "M", "Female": "F"}[lines["Sex"]], record_id
    # HR06000-HR06002 republish PTB-XL 6000-6002: the two sources agree.
    for k in range(3):
        c, p = list(cinc.record_ids).index(f"HR0600{k}"), list(ptbxl.record_ids).index(f"600{k}")
        assert (cinc.ages[c], cinc.sexes[c]) == (ptbxl.ages[p], ptbxl.sexes[p])
