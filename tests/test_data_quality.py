"""Data quality at prepare time: signal checks, policy, duplicates, splits, ignored codes.

Real records (../shared/data/real-ecg) where they show a case: the Ningbo record JS20004 has
V2, V4 and V6 all zero; the CinC headers carry unscored Dx codes; PTB-XL rows 6001 and 6003
have heart_axis MID; the two CPSC2018 records are a folder too small for a test split.
Generated signals (SYNTHETIC) for the cases no real record shows: clipping, amplitude,
copied leads, NaN runs, duplicate recordings.
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from keras_ecgpe.cli.main import cli
from keras_ecgpe.data.cache import CacheWriter
from keras_ecgpe.data.labels import snomed_names
from keras_ecgpe.data.prepare import SplitSettings, _assign_splits, prepare_dataset
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.quality import QualitySettings, check_record, nan_runs
from keras_ecgpe.data.quality_summary import QualityLog, paragraph, reason_kind
from keras_ecgpe.data.readers import read_record
from keras_ecgpe.data.readers.common import build_record
from keras_ecgpe.data.sources.base import SourceItem
from keras_ecgpe.data.sources.cinc import CinCSource, parse_header_comments
from keras_ecgpe.data.sources.cpsc2018 import CPSC2018Source
from keras_ecgpe.data.sources.ptbxl import PTBXLSource
from keras_ecgpe.data.sources.registry import open_sources
from keras_ecgpe.data.splits import duplicate_groups
from keras_ecgpe.errors import ConfigError, RecordError
from keras_ecgpe.leads import CANONICAL_LEADS
from keras_ecgpe.training.run_data import split_indices

LEAD = {name: i for i, name in enumerate(CANONICAL_LEADS)}
LAD, RAD = "39732003", "47665007"


def synthetic_ecg(seconds: float = 10.0, fs: float = 500.0, rate_bpm: float = 72.0):
    """SYNTHETIC 12-lead ECG: narrow QRS-like spikes and a slow T-like wave, in mV."""
    t = np.arange(int(seconds * fs)) / fs
    beat = (t * rate_bpm / 60.0) % 1.0
    qrs = np.exp(-(((beat - 0.3) / 0.012) ** 2))
    twave = 0.25 * np.exp(-(((beat - 0.6) / 0.06) ** 2))
    gains = np.linspace(0.6, 1.6, 12) * np.where(np.arange(12) % 3 == 1, -1.0, 1.0)
    rng = np.random.default_rng(0)
    return (qrs + twave)[:, None] * gains + 0.01 * rng.standard_normal((t.size, 12))


def categories(quality) -> set[str]:
    return {category for category, _ in quality.problems}


# --- signal checks -----------------------------------------------------------------


def test_real_ningbo_record_with_zero_leads_is_flagged_and_other_cinc_records_are_clean(real_ecg):
    problems = {}
    for header in sorted((real_ecg / "cinc").glob("*.hea")):
        record = read_record(header.with_suffix(""))
        quality = check_record(record.signal, record.fs)
        if quality.problems:
            problems[header.stem] = quality
    assert list(problems) == ["JS20004"]
    flagged = problems["JS20004"]
    assert ("flat", "flat leads V2,V4,V6") in flagged.problems
    assert np.isnan(flagged.lead_qrs[[LEAD["V2"], LEAD["V4"], LEAD["V6"]]]).all()
    assert flagged.lead_ptp_mv[LEAD["V2"]] == 0.0


def test_real_clean_record_has_a_high_qrs_index_and_plausible_rate(real_ecg):
    record = read_record(real_ecg / "ptbxl" / "records500" / "06000" / "06000_hr")
    quality = check_record(record.signal, record.fs)
    assert quality.ok and quality.qrs_index > 0.9
    assert 40 <= quality.heart_rate_bpm <= 120


def test_synthetic_signal_problems_are_each_found():
    x = synthetic_ecg()
    assert check_record(x, 500.0).ok
    clipped = x.copy()
    clipped[:, LEAD["V1"]] = np.clip(clipped[:, LEAD["V1"]], None, 0.1)  # saturated at 0.1 mV
    assert categories(check_record(clipped, 500.0)) == {"clipped"}
    large = x.copy()
    large[:, LEAD["V1"]] *= 1000.0  # microvolts read as millivolts
    assert "amplitude" in categories(check_record(large, 500.0))
    assert categories(check_record(x / 1000.0, 500.0)) == {"amplitude"}
    copied = x.copy()
    copied[:, LEAD["V5"]] = copied[:, LEAD["V4"]]
    copied[:, LEAD["aVL"]] = -copied[:, LEAD["I"]]
    found = check_record(copied, 500.0)
    assert categories(found) == {"copy"}
    assert "V4=V5" in found.describe() and "I=-aVL" in found.describe()
    gaps = x.copy()
    gaps[1000:1250, LEAD["V3"]] = np.nan
    assert nan_runs(gaps) == {LEAD["V3"]: 250}
    assert "nan" in categories(check_record(gaps, 500.0))


def test_noise_gets_a_qrs_problem_and_thresholds_are_settings():
    noise = np.random.default_rng(1).standard_normal((5000, 12))  # SYNTHETIC
    assert "qrs" in categories(check_record(noise, 500.0))
    x = synthetic_ecg()
    x[:, LEAD["V6"]] = 0.001 * np.random.default_rng(2).standard_normal(len(x))  # ~7 uV
    assert categories(check_record(x, 500.0)) == {"flat"}
    assert check_record(x, 500.0, QualitySettings(flat_mv=0.001)).ok
    with pytest.raises(ConfigError, match="policy"):
        QualitySettings(policy="drop")
    with pytest.raises(ConfigError, match="flat_mw"):
        QualitySettings.from_dict({"flat_mw": 1})


def test_reader_refusing_nan_names_the_longest_run():
    x = synthetic_ecg()
    x[100:400, LEAD["aVF"]] = np.nan
    x[10, LEAD["I"]] = np.nan
    with pytest.raises(RecordError, match=r"longest run 300 samples \(0\.6 s\) in lead aVF"):
        build_record(
            x,
            list(CANONICAL_LEADS),
            fs=500.0,
            path="/d/x.csv",
            record_id="x",
            source_format="csv",
            units="mV",
        )
    message = "/d/x.csv: 301 missing or non-finite samples (NaN/inf), first in lead I"
    assert reason_kind(message) == "N missing or non-finite samples"


# --- duplicates and splits ---------------------------------------------------------


def test_duplicate_groups_join_patients_and_signals():
    groups = duplicate_groups(["a", "b", "c", None, None], ["h1", "h2", "h1", "", "h2"])
    assert groups == [0, 1, 0, 3, 1]


@pytest.mark.parametrize("seed", range(8))
def test_generated_splits_keep_duplicate_recordings_together(seed):
    n = 60
    items = [
        SourceItem(f"r{i}", f"r{i}", None, ("A",) if i % 3 == 0 else ("B",), None, None)
        for i in range(n)
    ]
    hashes = [f"{i:064x}" for i in range(n)]
    pairs = [(0, 31), (5, 44), (12, 59), (20, 21)]
    for a, b in pairs:
        hashes[b] = hashes[a]
    splits, _, _ = _assign_splits(items, ("A", "B"), SplitSettings(folds=0, seed=seed), hashes)
    assert all(splits[a] == splits[b] for a, b in pairs)
    assert set(splits) == {"train", "validation", "test"}


def test_small_folder_error_names_the_options_and_all_train_fixes_it(real_ecg):
    items = [SourceItem(f"A198{i}", f"A198{i}", None, ("SNR",), None, None) for i in range(2)]
    with pytest.raises(ConfigError, match="split[-_]fractions.*all[-_]train"):
        _assign_splits(items, ("SNR",), SplitSettings(folds=0))
    splits, _, _ = _assign_splits(items, ("SNR",), SplitSettings(folds=0, all_train=True))
    assert splits == ["train", "train"]
    assert SplitSettings.from_dict({"fractions": [0.8, 0.2, 0]}).fractions == (0.8, 0.2, 0)
    with pytest.raises(ConfigError, match="fraction"):
        SplitSettings.from_dict({"fraction": [1, 0, 0]})


# --- labels --------------------------------------------------------------------------


def test_cinc_ignored_codes_match_the_real_headers(real_ecg):
    source = CinCSource(real_ecg / "cinc")
    source.index()
    scored = set(source.label_names)
    with open(real_ecg / "cinc_meta" / "weights.csv", newline="") as handle:
        for cell in next(csv.reader(handle))[1:]:
            scored |= set(cell.split("|"))
    expected: dict[str, int] = {}
    for header in sorted((real_ecg / "cinc").glob("*.hea")):
        codes = set(parse_header_comments(header)[1]["dx"].replace(" ", "").split(","))
        for code in codes - scored:
            expected[code] = expected.get(code, 0) + 1
    ignored = source.ignored_labels()
    assert {code: count for code, count, _ in ignored} == expected
    assert [count for _, count, _ in ignored] == sorted(expected.values(), reverse=True)
    assert all(name == snomed_names()[code] for code, _, name in ignored)


def test_ptbxl_ignored_codes_are_the_statements_outside_the_task(real_ecg):
    source = PTBXLSource(real_ecg / "ptbxl", task="superdiagnostic")
    source.index()
    with open(real_ecg / "ptbxl" / "scp_statements.csv", newline="") as handle:
        rows = {row[""]: row for row in csv.DictReader(handle)}
    expected: dict[str, int] = {}
    with open(real_ecg / "ptbxl" / "ptbxl_database.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            for code in eval(row["scp_codes"], {"__builtins__": {}}):  # noqa: S307 (test data)
                if rows[code]["diagnostic"] not in ("1.0", "1"):
                    expected[code] = expected.get(code, 0) + 1
    ignored = source.ignored_labels()
    assert {code: count for code, count, _ in ignored} == expected
    assert all(name == rows[code]["description"] for code, _, name in ignored)


def test_ptbxl_heart_axis_unmasks_the_cinc_axis_classes(real_ecg, tmp_path):
    root = tmp_path / "ptbxl"
    shutil.copytree(real_ecg / "ptbxl", root)
    database = root / "ptbxl_database.csv"
    with open(database, newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    axis = {row["ecg_id"]: row["heart_axis"] for row in rows}
    assert axis["6001"] == axis["6003"] == "MID" and axis["6000"] == ""  # the real values
    for row in rows:  # generated: one deviation of each side
        row["heart_axis"] = {"6002": "ALAD", "6004": "RAD"}.get(row["ecg_id"], row["heart_axis"])
    with open(database, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    combined = open_sources("ptbxl,cinc", [root, real_ecg / "cinc"], task="all", sampling_rate=500)
    items = {item.record_id: item for item in combined.index()[0]}
    assert LAD in combined.label_names and RAD in combined.label_names

    def axis_of(record_id):
        item = items[f"ptbxl:{record_id}"]
        return {
            code: (code in item.labels) if code in item.annotated else None for code in (LAD, RAD)
        }

    assert axis_of("6001") == {LAD: False, RAD: False}  # MID: a known normal axis
    assert axis_of("6000") == {LAD: None, RAD: None}  # empty: masked, unknown
    assert axis_of("6002") == {LAD: True, RAD: False}
    assert axis_of("6004") == {LAD: False, RAD: True}


# --- the index flags, filtering, and the summary ----------------------------------------


def test_flagged_records_can_be_left_out_of_training_and_evaluation(tmp_path):
    settings = {"quality": QualitySettings().to_dict()}
    writer = CacheWriter(
        tmp_path / "cache", key="k", source={}, settings=settings, fs=100.0, label_names=["A"]
    )
    x = np.ones((50, 12), np.float32) * np.arange(12)  # SYNTHETIC
    for i, (split, flags) in enumerate(
        [
            ("train", ""),
            ("train", "flat leads V2"),
            ("validation", ""),
            ("validation", ""),
            ("test", "clipped leads II"),
            ("test", ""),
        ]
    ):
        writer.add(x, record_id=f"r{i}", labels=[float(i % 2)], split=split, quality_flags=flags)
    cache = writer.close()
    assert list(cache.quality_flags) == ["", "flat leads V2", "", "", "clipped leads II", ""]
    assert list(cache.indices("test")) == [4, 5]
    assert list(cache.indices("test", exclude_flagged=True)) == [5]
    train, _ = split_indices(cache, exclude_flagged=True)
    assert list(train) == [0]
    assert list(split_indices(cache)[0]) == [0, 1]


@pytest.mark.parametrize("settings", [{}, {"quality": {"policy": "keep"}}])
def test_excluding_flags_a_cache_cannot_have_is_refused(tmp_path, settings):
    writer = CacheWriter(
        tmp_path / "cache", key="k", source={}, settings=settings, fs=100.0, label_names=["A"]
    )
    writer.add(np.ones((50, 12), np.float32), record_id="r0", labels=[1.0], split="test")
    cache = writer.close()
    assert list(cache.indices("test")) == [0]
    with pytest.raises(ConfigError, match="flag"):
        cache.indices("test", exclude_flagged=True)


def test_summary_counts_and_paragraph():
    log = QualityLog(QualitySettings(), listed=4)
    x = synthetic_ecg()
    flat = x.copy()
    flat[:, LEAD["V1"]] = 0.0
    log.read("a", 500.0, 5000, check_record(x, 500.0))
    log.read("b", 500.0, 5000, check_record(flat, 500.0))
    log.read("c", 250.0, 2500, check_record(x[::2], 250.0))
    log.skip("d", "/d/d.mat", "file missing: d.mat")
    summary = log.summary(
        source={"name": "SYNTHETIC", "root": "/d"},
        record_ids=["a", "b", "c"],
        splits=["train", "train", "test"],
        labels=np.array([[1.0], [0.0], [1.0]]),
        label_names=["164889003"],
        display_names=["AF"],
        content_hashes=["h1", "h2", "h1"],
        ignored_codes=[("253352002", 2, "LAA")],
    )
    json.dumps(summary, allow_nan=False)
    assert summary["records"] == {
        "listed": 4,
        "read": 3,
        "cached": 3,
        "skipped": 1,
        "with_problems": 1,
        "flagged": 1,
    }
    assert summary["problems_by_category"]["flat"] == 1
    assert summary["label_counts"][0] == {
        "class": "AF",
        "code": "164889003",
        "train": 1,
        "validation": 0,
        "test": 1,
        "none": 0,
    }
    assert summary["duplicates"] == [
        {"content_sha256": "h1", "record_ids": ["a", "c"], "splits": ["test", "train"]}
    ]
    assert [entry["value"] for entry in summary["fs_hz"]] == [250.0, 500.0]
    text = paragraph(summary)
    assert "3 of 4 listed records read" in text and "1 file missing" in text
    assert "1 flat" in text and "LAA 2" in text and "1 of them across splits" in text


@pytest.mark.slow
def test_prepare_writes_flags_duplicates_and_the_summary_files(real_ecg, tmp_path, capsys):
    """One prepare of real CinC records plus a copy of one under a new name (a duplicate)."""
    root = tmp_path / "cinc"
    root.mkdir()
    for name in ("JS20004", "E07500", "E07501", "HR06000", "JS00001", "E07502"):
        for suffix in (".hea", ".mat"):
            shutil.copy(real_ecg / "cinc" / f"{name}{suffix}", root)
    header = (real_ecg / "cinc" / "E07500.hea").read_text().replace("E07500", "E09999")
    (root / "E09999.hea").write_text(header)
    shutil.copy(real_ecg / "cinc" / "E07500.mat", root / "E09999.mat")
    from keras_ecgpe.data_quality_report import write_quality_report

    cache, _ = prepare_dataset(
        CinCSource(root),
        tmp_path / "cache",
        PreprocessConfig(target_fs=100.0),
        split=SplitSettings(fractions=(0.5, 0.5, 0.0), folds=0),
        workers=1,
    )
    flags = dict(zip(cache.record_ids, cache.quality_flags))
    assert flags["JS20004"].startswith("flat leads V2,V4,V6")
    assert sum(bool(flag) for flag in flags.values()) == 1
    splits = dict(zip(cache.record_ids, cache.splits))
    assert splits["E07500"] == splits["E09999"]
    summary = json.loads((cache.path / "data_quality.json").read_text())
    assert [group["record_ids"] for group in summary["duplicates"]] == [["E07500", "E09999"]]
    assert summary["records"]["flagged"] == 1 and summary["policy"] == "flag"
    assert {code["name"] for code in summary["ignored_codes"]} >= {"LAA", "LVHV"}
    written = write_quality_report(cache.path)
    assert [path.name for path in written] == ["data_quality.txt", "data_quality.png"]
    assert (cache.path / "data_quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (cache.path / "data_quality.txt").read_text()
    assert "JS20004" in text and "E07500, E09999" in text and "LVHV" in text
    skipping, _ = prepare_dataset(
        CinCSource(root),
        tmp_path / "skip",
        PreprocessConfig(target_fs=100.0),
        split=SplitSettings(all_train=True, folds=0),
        quality=QualitySettings(policy="skip"),
        workers=1,
    )
    assert "JS20004" not in set(skipping.record_ids) and len(skipping) == 6
    report = json.loads((skipping.path / "report.json").read_text())
    assert [s["record_id"] for s in report["records_skipped"]] == ["JS20004"]
    assert report["records_skipped"][0]["reason"].startswith("signal quality: flat leads")


@pytest.mark.slow
def test_cli_prepares_the_real_cpsc2018_pair_only_with_a_split_option(real_ecg, tmp_path):
    root = tmp_path / "cpsc"
    root.mkdir()
    for name in ("A1980", "A1981"):
        shutil.copy(real_ecg / "cpsc2018" / f"{name}.mat", root)
    # Generated labels: the real folder has no REFERENCE.csv.
    (root / "REFERENCE.csv").write_text(
        "Recording,First_label,Second_label,Third_label\nA1980,1,,\nA1981,2,,\n"
    )
    assert len(CPSC2018Source(root).index()[0]) == 2
    args = ["data", "prepare", "--source", "cpsc2018", "--root", str(root), "--workers", "1"]
    refused = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    assert refused.exit_code == 1
    assert "test would be empty" in refused.output and "--split-fractions" in refused.output
    assert "--all-train" in refused.output and "Traceback" not in refused.output
    done = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "b"), "--all-train", "--folds", "0"]
    )
    assert done.exit_code == 0, done.output
    assert "Data quality: 2 of 2 listed records read, 2 cached, 0 skipped" in done.output
    assert (tmp_path / "b" / "data_quality.txt").is_file()
    bad = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "c"), "--split-fractions", "1,1,0"]
    )
    assert bad.exit_code == 2 and "--split-fractions" in bad.output


@pytest.mark.slow  # validating a run config imports TensorFlow (about 6 s alone)
def test_run_config_takes_split_quality_and_exclusion_options():
    from keras_ecgpe.training.config import TrainConfig

    data = {"source": "cinc", "root": "/data/cinc"}
    config = TrainConfig.from_dict(
        {
            "data": {
                **data,
                "split": {"fractions": [0.8, 0.2, 0.0], "all_train": False},
                "quality": {"policy": "skip", "flat_mv": 0.02},
                "exclude_flagged": True,
            }
        }
    )
    assert config.data.exclude_flagged and config.data.quality["policy"] == "skip"
    with pytest.raises(ConfigError, match="polcy"):
        TrainConfig.from_dict({"data": {**data, "quality": {"polcy": "skip"}}})
    with pytest.raises(ConfigError, match="all_trian"):
        TrainConfig.from_dict({"data": {**data, "split": {"all_trian": True}}})


def test_real_ptbxl_records_and_their_cinc_copies_share_a_split(real_ecg):
    """CinC republishes PTB-XL 6000-6002 as HR06000-HR06002: equal raw content hashes.

    PTB-XL's split is official; the CinC records' split is generated by the multi-source
    set, so after reading each copy joins its PTB-XL original's split.
    """
    from keras_ecgpe.data.content_hash import content_sha256

    combined = open_sources(
        "ptbxl,cinc", [real_ecg / "ptbxl", real_ecg / "cinc"], task="all", sampling_rate=500
    )
    items = combined.index()[0]
    hashes = [content_sha256(combined.read(item).signal) for item in items]
    position = {item.record_id: i for i, item in enumerate(items)}
    pairs = [(f"ptbxl:600{k}", f"cinc:HR0600{k}") for k in range(3)]
    assert all(hashes[position[a]] == hashes[position[b]] for a, b in pairs)
    assert {b for _, b in pairs} <= combined.generated_splits
    splits, _, _ = _assign_splits(
        items,
        combined.label_names,
        SplitSettings(folds=0),
        hashes,
        frozenset(combined.generated_splits),
    )
    assert all(splits[position[a]] == splits[position[b]] for a, b in pairs)
    official = {item.record_id: item.split for item in items}
    assert all(splits[position[a]] == official[a] for a, _ in pairs)  # PTB-XL's own kept


def test_summaries_of_synthetic_data_say_so(tmp_path):
    from keras_ecgpe.data.quality_summary import marked_synthetic
    from keras_ecgpe.data.synthetic import MARKER
    from keras_ecgpe.data_quality_report import to_report
    from keras_ecgpe.reporting import to_text

    root = tmp_path / "demo" / "ptbxl_synthetic"
    root.mkdir(parents=True)
    assert not marked_synthetic(root)
    (tmp_path / "demo" / MARKER).write_text("SYNTHETIC")
    assert marked_synthetic(root)
    log = QualityLog(QualitySettings(), listed=1)
    log.read("a", 100.0, 1000, check_record(synthetic_ecg(fs=100.0), 100.0))
    summary = log.summary(
        source={"name": "ptbxl", "root": str(root)},
        record_ids=["a"],
        splits=["train"],
        labels=np.array([[1.0]]),
        label_names=["NORM"],
        synthetic=True,
    )
    assert paragraph(summary).startswith("SYNTHETIC data. Data quality: 1 of 1")
    assert "SYNTHETIC DATA" in to_text(to_report(summary)).splitlines()[4]
