"""The sealed-test ledger: hash chain, tamper detection, looks, declarations, concurrency."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal

import numpy as np
import pytest

from keras_ecgpe.data.cache import CacheWriter, PreparedCache
from keras_ecgpe.data.cache_format import LEDGER
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.evaluation.ledger import GENESIS, Ledger, LedgerError, Looks, entry_hash, summarise


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


MODEL_A, MODEL_B, CONFIG = sha("model a"), sha("model b"), sha("config")


@pytest.fixture
def cache_dir(tmp_path):
    from fixtures import index_cache  # here: spawned appenders re-import this module lean

    index_cache(tmp_path / "cache", [20, 20, 20], splits=["train", "validation", "test"])
    return tmp_path / "cache"


def _three_looks(ledger):
    ledger.append(
        split="test",
        model_sha256=MODEL_A,
        config_sha256=CONFIG,
        metrics={"auroc": 0.8, "sensitivity": None},
    )
    ledger.append(
        split="test",
        model_sha256=MODEL_A,
        config_sha256=CONFIG,
        metrics={"auroc": np.float32(0.8)},
        analysis_plan_sha256=sha("plan"),
    )
    ledger.append(
        split="test",
        model_sha256=MODEL_B,
        config_sha256=CONFIG,
        metrics={"auroc": 0.7},
        declaration="  external validation of model B ",
    )


def test_chain_verifies_and_entries_link(cache_dir):
    ledger = Ledger.open(cache_dir)
    assert ledger.entries() == [] and ledger.verify() == 0 and ledger.head is None
    _three_looks(ledger)
    entries = Ledger.open(cache_dir).entries()
    assert [e.sequence for e in entries] == [0, 1, 2] and ledger.verify() == 3
    assert entries[0].previous_sha256 == GENESIS
    assert [e.previous_sha256 for e in entries[1:]] == [e.sha256 for e in entries[:-1]]
    assert all(e.sha256 == entry_hash(e.to_dict()) for e in entries)
    assert entries[1].metrics == {"auroc": pytest.approx(0.8)}
    assert entries[1].analysis_plan_sha256 == sha("plan") and entries[0].declaration is None
    assert entries[2].declaration == "external validation of model B"
    assert entries[0].cache_key == PreparedCache.open(cache_dir).key
    assert entries[0].time.endswith("+00:00")
    assert ledger.head == entries[-1].sha256 and ledger.verify(known_head=entries[1].sha256)
    # One canonical JSON object per line, the hash over it without its own "sha256".
    lines = (cache_dir / LEDGER).read_text().splitlines()
    first = json.loads(lines[0])
    assert lines[0] == json.dumps(first, sort_keys=True, separators=(",", ":"))
    body = {k: v for k, v in first.items() if k != "sha256"}
    assert first["sha256"] == sha(json.dumps(body, sort_keys=True, separators=(",", ":")))


def test_the_cache_still_opens_with_its_checksums(cache_dir):
    _three_looks(Ledger.open(cache_dir))
    PreparedCache.open(cache_dir, verify=True)


@pytest.mark.parametrize("entry", [0, 1, 2])
def test_any_edited_byte_is_detected_and_the_entry_named(cache_dir, entry):
    _three_looks(Ledger.open(cache_dir))
    path = cache_dir / LEDGER
    lines = path.read_bytes().split(b"\n")
    for old, new in ((b"0.7", b"0.9"), (b"0.8", b"0.9"), (b'"test"', b'"tesT"')):
        if old in lines[entry]:
            lines[entry] = lines[entry].replace(old, new, 1)
            break
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(
        LedgerError, match=f"{LEDGER}: entry {entry} \\(line {entry + 1}\\)"
    ) as error:
        Ledger.open(cache_dir).verify()
    assert error.value.entry == entry
    for operation in (
        lambda led: led.looks("test"),
        lambda led: led.entries(),
        lambda led: led.append(
            split="test", model_sha256=MODEL_A, config_sha256=CONFIG, metrics={}
        ),
    ):
        with pytest.raises(LedgerError):  # nothing is counted from or added to a bad chain
            operation(Ledger.open(cache_dir))


def test_every_single_byte_flip_is_detected(cache_dir):
    _three_looks(Ledger.open(cache_dir))
    path = cache_dir / LEDGER
    good = path.read_bytes()
    rng = np.random.default_rng(0)
    for position in rng.choice(len(good) - 1, size=40, replace=False):
        damaged = bytearray(good)
        damaged[position] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(LedgerError):
            Ledger.open(cache_dir).verify()
    path.write_bytes(good)
    assert Ledger.open(cache_dir).verify() == 3


@pytest.mark.parametrize("removed", [0, 1])
def test_a_removed_entry_is_detected(cache_dir, removed):
    _three_looks(Ledger.open(cache_dir))
    path = cache_dir / LEDGER
    lines = path.read_text().splitlines(keepends=True)
    del lines[removed]
    path.write_text("".join(lines))
    with pytest.raises(LedgerError, match=f"entry {removed} .*removed, inserted or reordered"):
        Ledger.open(cache_dir).verify()


def test_reordered_entries_are_detected(cache_dir):
    _three_looks(Ledger.open(cache_dir))
    path = cache_dir / LEDGER
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([lines[0], lines[2], lines[1]]))
    with pytest.raises(LedgerError, match="entry 1 .*reordered"):
        Ledger.open(cache_dir).verify()


def test_cut_tail_is_found_only_against_a_known_head(cache_dir):
    ledger = Ledger.open(cache_dir)
    _three_looks(ledger)
    head = ledger.head
    path = cache_dir / LEDGER
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))
    assert ledger.verify() == 2  # a chain cannot know what followed its last entry
    with pytest.raises(LedgerError, match="reported earlier is not in the chain"):
        ledger.verify(known_head=head)


def test_second_model_needs_a_declaration_and_looks_are_counted(cache_dir):
    ledger = Ledger.open(cache_dir)
    assert ledger.check_new_look("test", MODEL_A) == Looks(0, 0)
    ledger.append(split="test", model_sha256=MODEL_A, config_sha256=CONFIG, metrics={})
    assert ledger.check_new_look("test", MODEL_A) == Looks(1, 1)  # same model: allowed
    ledger.append(split="test", model_sha256=MODEL_A, config_sha256=CONFIG, metrics={})
    assert ledger.looks("test") == Looks(2, 1)
    with pytest.raises(
        ConfigError,
        match=r"already scored 2 time\(s\) by 1 model.*"
        r"`declare_new_model=REASON`",
    ):
        ledger.check_new_look("test", MODEL_B)
    with pytest.raises(ConfigError, match="declare_new_model"):
        ledger.append(split="test", model_sha256=MODEL_B, config_sha256=CONFIG, metrics={})
    assert ledger.looks("test") == Looks(2, 1)  # the refused look left no entry
    with pytest.raises(ConfigError, match="non-empty reason"):
        ledger.append(
            split="test", model_sha256=MODEL_B, config_sha256=CONFIG, metrics={}, declaration="   "
        )
    entry = ledger.append(
        split="test",
        model_sha256=MODEL_B,
        config_sha256=CONFIG,
        metrics={"auroc": 0.75},
        declaration="prespecified comparator",
    )
    assert entry.declaration == "prespecified comparator"
    assert ledger.looks("test") == Looks(3, 2) and ledger.looks("validation") == Looks(0, 0)
    # Another split has its own count; a third distinct model needs its own declaration.
    ledger.append(split="validation", model_sha256=MODEL_B, config_sha256=CONFIG, metrics={})
    with pytest.raises(ConfigError):
        ledger.check_new_look("test", sha("model c"))
    summary = summarise(ledger.entries())
    assert (summary["n_looks"], summary["n_models"]) == (3, 2)
    assert summary["declarations"] == ["prespecified comparator"]
    assert summary["head_sha256"] == ledger.head
    json.dumps(summary)


def test_bad_arguments_are_refused(cache_dir, tmp_path):
    ledger = Ledger.open(cache_dir)
    with pytest.raises(ConfigError, match="model_sha256"):
        ledger.append(split="test", model_sha256="abc", config_sha256=CONFIG, metrics={})
    with pytest.raises(ConfigError, match="split"):
        ledger.looks("tset")
    with pytest.raises(ConfigError, match="None, not NaN"):
        ledger.append(
            split="test", model_sha256=MODEL_A, config_sha256=CONFIG, metrics={"ppv": float("nan")}
        )
    with pytest.raises(ConfigError, match="headline figures only"):
        ledger.append(
            split="test",
            model_sha256=MODEL_A,
            config_sha256=CONFIG,
            metrics={"curve": list(range(10000))},
        )
    with pytest.raises(ConfigError, match="not a prepared cache"):
        Ledger.open(tmp_path / "nowhere")
    assert not (cache_dir / LEDGER).exists()


def test_torn_last_line_is_reported_and_can_be_repaired(cache_dir):
    ledger = Ledger.open(cache_dir)
    _three_looks(ledger)
    path = cache_dir / LEDGER
    complete = path.read_bytes()
    path.write_bytes(complete + complete.splitlines(keepends=True)[0][:40])  # cut short
    with pytest.raises(LedgerError, match="entry 3 .*incomplete last line.*3 entries before"):
        ledger.verify()
    assert ledger.repair_torn_tail() == 40
    assert path.read_bytes() == complete and ledger.verify() == 3
    assert ledger.repair_torn_tail() == 0


def test_overwriting_the_cache_keeps_its_ledger(cache_dir):
    _three_looks(Ledger.open(cache_dir))
    before = (cache_dir / LEDGER).read_bytes()
    writer = CacheWriter(
        cache_dir, key="other", source={}, settings={}, fs=100.0, label_names=["PE"], overwrite=True
    )
    writer.add(np.ones((10, 12), np.float32), record_id="x", labels=[1], split="test")
    assert writer.close().key == "other"
    assert (cache_dir / LEDGER).read_bytes() == before
    assert Ledger.open(cache_dir).looks("test") == Looks(3, 2)


def _append_many(cache_dir, model, count):
    ledger = Ledger.open(cache_dir)
    for k in range(count):
        ledger.append(
            split="test",
            model_sha256=model,
            config_sha256=CONFIG,
            metrics={"k": k, "pid": os.getpid()},
            declaration="concurrency test",
        )


@pytest.mark.slow
def test_two_processes_appending_at_once_lose_nothing(cache_dir):
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(cache_dir, model, 20))
        for model in (MODEL_A, MODEL_B)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    ledger = Ledger.open(cache_dir)
    assert ledger.verify() == 40 and ledger.looks("test") == Looks(40, 2)
    per_model = {
        m: sorted(e.metrics["k"] for e in ledger.entries() if e.model_sha256 == m)
        for m in (MODEL_A, MODEL_B)
    }
    assert per_model == {MODEL_A: list(range(20)), MODEL_B: list(range(20))}


@pytest.mark.slow
def test_a_killed_appender_leaves_a_complete_chain(cache_dir):
    context = multiprocessing.get_context("spawn")
    worker = context.Process(target=_append_many, args=(cache_dir, MODEL_A, 10000))
    worker.start()
    ledger = Ledger.open(cache_dir)
    while not (cache_dir / LEDGER).exists() or ledger.verify() < 5:
        assert worker.is_alive()
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(30)
    count = ledger.verify()  # whatever was written is complete and chained
    assert count >= 5
    ledger.append(split="test", model_sha256=MODEL_A, config_sha256=CONFIG, metrics={})
    assert ledger.verify() == count + 1
