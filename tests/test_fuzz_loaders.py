"""Fuzz tests: every loader of a table, manifest or JSON document succeeds or says which file.

The only allowed outcomes of a malformed input are a successful load or the package's own
error (`ECGPEError` or a subclass) whose message names the file; any other exception
fails the test. Inputs: PTB-XL database and statement tables, CPSC2018's REFERENCE.csv,
PE manifests (with paths climbing out, absolute paths and links leading outside), a
prepared cache's manifest.json and index.npz, contract.json, model.json, and `.tflite`
bytes for the embedded-metadata reader. Hypothesis runs derandomised so CI is repeatable;
`pytest --hypothesis-show-statistics` prints how many cases ran.
"""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_inputs import csv_line, damaged_json, mutated
from keras_ecgpe.data.cache import CacheWriter, PreparedCache
from keras_ecgpe.data.cache_format import INDEX, INDEX_FIELDS, MANIFEST, seal_manifest
from keras_ecgpe.data.normalization import DatasetStandardizer
from keras_ecgpe.data.preprocessing import PreprocessConfig
from keras_ecgpe.data.sources.base import SPLITS
from keras_ecgpe.data.sources.cpsc2018 import CPSC2018Source
from keras_ecgpe.data.sources.pe_cohort import PECohortSource
from keras_ecgpe.data.sources.ptbxl import PTBXLSource
from keras_ecgpe.data.synthetic.ptbxl_style import SCP_STATEMENTS
from keras_ecgpe.errors import ConfigError, ECGPEError, RecordError
from keras_ecgpe.evaluation.thresholds import ThresholdChoice
from keras_ecgpe.inference import contract_io
from keras_ecgpe.inference.tflite_runner import load_model_json, read_embedded_json
from keras_ecgpe.run_directory import load_contract
from keras_ecgpe.training.contract import make_contract

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WINDOW = 64
RARELY = st.sampled_from([False] * 7 + [True])  # integers would favour their bounds


def _outcome(load, name: str):
    """Runs `load()`; returns its result, or None after an ECGPEError naming `name`."""
    try:
        return load()
    except ECGPEError as error:
        assert name in str(error), f"message does not name {name}: {error}"
        return None


# --- label tables ---------------------------------------------------------------------------

_CODES = [
    "{'NORM': 100.0}",
    "{'NORM': 100.0, 'SR': 0.0}",
    "{'IMI': 35.0, 'ABQRS': 0.0}",
    "{}",
    "{'XYZ': 1}",
    "[]",
    "{[]: 1}",
    "{'a': {'b': 1}}",
    "{1: 2}",
    "None",
    "(" * 300,
    "{" * 2000,
    "1" * 5000,
    "{'NORM': 1e999}",
    "__import__('os').getcwd()",
    "{'NORM': __import__('os').getpid()}",
    "(lambda: {})()",
    "{**{}}",
    "x" * 20_000,
]
_FILES = [
    "records100/00001_lr",
    "records100/00002_lr",
    "../outside",
    "records100/../../x",
    "/etc/passwd",
    "C:\\x",
    "",
    "a\x00b",
    "y" * 300,
    "records100/" + "z" * 300,
]
_PTBXL_VALUES = {
    "ecg_id": st.sampled_from(["1", "2", "", "1.0"]),
    "patient_id": st.sampled_from(["15709.0", "", "x"]),
    "age": st.sampled_from(["56.0", "300", "nan", "inf", "-1", "", "1" * 400]),
    "sex": st.sampled_from(["0", "1", "1.0", "", "x"]),
    "scp_codes": st.one_of(*[st.sampled_from(_CODES[:3] * 8 + _CODES)] * 7, st.text(max_size=40)),
    "strat_fold": st.sampled_from(
        ["1", "9", "10"] * 3 + ["0", "11", "inf", "nan", "1e400", "", "x"]
    ),
    "filename_lr": st.sampled_from(_FILES[:2] * 4 + _FILES),
    "filename_hr": st.sampled_from(_FILES[:2] * 4 + _FILES),
}


@st.composite
def ptbxl_tables(draw):
    """A `(database bytes, statements bytes or None)` pair; None keeps the real table."""
    columns = list(_PTBXL_VALUES)
    if draw(RARELY):  # a missing, repeated or extra column now and then
        columns = draw(st.permutations(columns + [draw(st.sampled_from(columns + ["x"]))]))
        columns = columns[: draw(st.integers(0, len(columns)))]
    rows = [
        csv_line([draw(_PTBXL_VALUES.get(c, st.text(max_size=5))) for c in columns])
        for _ in range(draw(st.integers(1, 4)))
    ]
    database = "\n".join([csv_line(columns)] + rows).encode("utf-8", errors="surrogatepass")
    if draw(RARELY):
        database = draw(st.binary(max_size=200))
    statements = None
    if draw(RARELY):
        text = SCP_STATEMENTS.read_bytes()
        cut = draw(st.integers(0, 400))
        statements = draw(
            st.sampled_from(
                [
                    text[:cut],
                    text[:cut] + b"\xff\xfe" + text[cut:],
                    text.replace(b"diagnostic_class", b"dc"),
                    text[:cut] + b'"' + text[cut:],
                ]
            )
        )
    return database, statements


@FUZZ
@given(
    tables=ptbxl_tables(),
    task=st.sampled_from(["superdiagnostic", "rhythm", "all"]),
    rate=st.sampled_from([100, 500]),
)
def test_fuzzed_ptbxl_tables(tables, task, rate):
    database, statements = tables
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "scp_statements.csv").write_bytes(statements or SCP_STATEMENTS.read_bytes())
        (root / "ptbxl_database.csv").write_bytes(database)
        source = _outcome(
            lambda: PTBXLSource(root, task=task, sampling_rate=rate), "scp_statements.csv"
        )
        assert source is not None or statements is not None  # the real table always loads
        result = source and _outcome(source.index, "ptbxl_database.csv")
        for item in (result or ([], []))[0]:  # every accepted record lies inside the root
            assert pathlib.Path(item.record_path).resolve().is_relative_to(root.resolve())


def test_ptbxl_scp_codes_are_never_evaluated(tmp_path):
    """A Python expression in scp_codes is refused without running it."""
    marker = tmp_path / "EVALUATED"
    shutil.copyfile(SCP_STATEMENTS, tmp_path / "scp_statements.csv")
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    (tmp_path / "ptbxl_database.csv").write_text(
        csv_line(_PTBXL_VALUES) + "\n" + csv_line(["1", "1", "50", "0", code, "1", "a", "b"])
    )
    with pytest.raises(RecordError, match="line 2: scp_codes is not a dict literal"):
        PTBXLSource(tmp_path).index()
    assert not marker.exists()


_CPSC_HEADERS = ["Recording,First_label,Second_label,Third_label"] * 6 + [
    "Recording,First_label",
    "First_label,Recording,Second_label,Third_label,Extra",
    "Recording,Recording,First_label,Second_label,Third_label",
    "",
]
_CPSC_VALUES = ["A0001", "A0002", "A0003", "1", "5", "9", "", ""]
_CPSC_BAD = ["0", "10", "\u00b2", "05", "1" * 5000, "x", " 3 ", "A0001"]


@FUZZ
@given(
    header=st.sampled_from(_CPSC_HEADERS),
    raw=RARELY,
    noise=st.binary(max_size=40),
    rows=st.lists(
        st.lists(
            st.sampled_from(_CPSC_VALUES) | st.sampled_from(_CPSC_BAD) | st.text(max_size=4),
            min_size=1,
            max_size=5,
        ),
        max_size=5,
    ),
)
def test_fuzzed_cpsc2018_reference(cpsc_root, header, rows, noise, raw):
    rows = [[f"A000{k % 3 + 1}"] + row[1:] if k % 2 else row for k, row in enumerate(rows)]
    text = "\n".join([header] + [csv_line(row) for row in rows]).encode("utf-8", "surrogatepass")
    (cpsc_root / "REFERENCE.csv").write_bytes(noise if raw else text)
    _outcome(CPSC2018Source(cpsc_root).index, "REFERENCE.csv")


@pytest.fixture(scope="module")
def cpsc_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpsc")
    (root / "A0001.mat").write_bytes(b"")  # indexing only lists files, it never reads them
    (root / "sub").mkdir()
    (root / "sub" / "A0002.mat").write_bytes(b"")
    return root


# --- PE manifests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A cohort folder with records, links leading outside and a link loop."""
    base = tmp_path_factory.mktemp("cohort")
    folder, outside = base / "cohort", base / "outside"
    (folder / "records").mkdir(parents=True)
    outside.mkdir()
    for name in ("a.hea", "a.dat", "b.mat", "c.csv"):
        (folder / "records" / name).write_bytes(b"")
    (outside / "secret.hea").write_bytes(b"")
    (folder / "records" / "out.hea").symlink_to(outside / "secret.hea")
    (folder / "linkdir").symlink_to(outside)
    (folder / "records" / "loop.hea").symlink_to(folder / "records" / "loop.hea")
    return folder, outside


_RECORDS = [
    "records/a",
    "records/a.hea",
    "records/b",
    "records/c.csv",
    "records/out",
    "linkdir/secret",
    "records/loop",
    "records/missing",
    "../outside/secret",
    "records/../../outside/secret",
    "./records/b",
    "",
    "a\x00b",
    "C:\\x",
    "x" * 300,
    "records/" + "y" * 300,
    "..\\outside\\secret",
]
_PE_VALUES = {
    "record": st.sampled_from(_RECORDS[:7] * 2 + _RECORDS) | st.text(max_size=12),
    "label": st.sampled_from(["0", "1"] * 4 + ["2", "", "yes"]),
    "patient_id": st.sampled_from(["p1", "p2", "p3", "p4"] * 2 + [""])
    | st.text(min_size=1, max_size=5),
    "split": st.sampled_from(list(SPLITS) * 3 + ["", "dev"]),
    "fold": st.sampled_from(["0", "1", "2"] * 3 + ["-1", "x", "9" * 5000, "", "1.5"]),
    "age": st.sampled_from(["50", "71.5"] * 3 + ["nan", "inf", "-1e999", "", "x", "1e400"]),
    "sex": st.sampled_from(["M", "F", "male"] * 2 + ["x", ""]),
}


@FUZZ
@given(data=st.data(), allow=st.booleans())
def test_fuzzed_pe_manifest(cohort, data, allow):
    folder, outside = cohort
    columns = ["record", "label", "patient_id"] + data.draw(
        st.lists(
            st.sampled_from(["split", "fold", "age", "sex"] * 3 + ["site", "label"]),
            max_size=3,
            unique=True,
        )
    )
    if data.draw(RARELY):
        columns = columns[1:]  # no record column
    pool = dict(_PE_VALUES, record=_PE_VALUES["record"] | st.just(str(outside / "secret")))
    rows = data.draw(
        st.lists(
            st.tuples(*[pool.get(c, st.text(max_size=4)) for c in columns]), min_size=1, max_size=5
        )
    )
    text = "\n".join(csv_line(row) for row in [columns] + rows)
    if data.draw(RARELY):
        text = data.draw(st.text(max_size=200))
    (folder / "manifest.csv").write_bytes(text.encode("utf-8", "surrogatepass"))
    source = PECohortSource(folder, allow_absolute_paths=allow)
    result = _outcome(source.index, "manifest.csv")
    for item in (result or ([], []))[0]:
        path = pathlib.Path(item.record_path)
        files = [
            f
            for f in [path]
            + [path.with_name(path.name + e) for e in (".hea", ".mat", ".csv", ".dat")]
            if f.is_file()
        ]
        assert files
        if not allow:  # nothing reachable outside the manifest's folder
            assert all(f.resolve().is_relative_to(folder.resolve()) for f in files)


# --- prepared cache -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A small valid cache: 3 records in 2 shards, 2 labels."""
    path = tmp_path_factory.mktemp("cache") / "cache"
    writer = CacheWriter(
        path,
        key="k",
        source={"name": "fuzz"},
        settings={},
        fs=100.0,
        label_names=["A", "B"],
        shard_bytes=2000,
    )
    for r, length in enumerate((20, 30, 25)):
        writer.add(
            np.full((length, 12), r, np.float32),
            record_id=f"r{r}",
            labels=[r % 2, 1],
            split=SPLITS[r],
            fold=r,
        )
    writer.close()
    return path


def _index_variants(draw, path):
    """index.npz bytes: random, or the real arrays with one dropped, retyped or reshaped."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in INDEX_FIELDS}
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=300))
    field = draw(st.sampled_from(INDEX_FIELDS))
    change = draw(st.sampled_from(["drop", "float", "str", "shape", "negative", "huge", "nan"]))
    value = arrays[field]
    if change == "drop":
        del arrays[field]
    elif change == "float":
        arrays[field] = value.astype(np.float64) if value.dtype.kind != "U" else np.zeros(3)
    elif change == "str":
        arrays[field] = value.astype(str)
    elif change == "shape":
        arrays[field] = np.concatenate([value, value[:1]])
    elif change == "negative" and value.dtype.kind in "if":
        arrays[field] = value - 100
    elif change == "huge" and value.dtype.kind == "i":
        arrays[field] = value + 2**62
    elif change == "nan" and value.dtype.kind == "f":
        arrays[field] = value * np.nan
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@FUZZ
@given(
    data=st.data(),
    target=st.sampled_from([MANIFEST, MANIFEST, INDEX]),
    update_sha=st.booleans(),
    verify=st.booleans(),
)
def test_fuzzed_cache_manifest_and_index(cache_dir, data, target, update_sha, verify):
    manifest = json.loads((cache_dir / MANIFEST).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        copy = pathlib.Path(tmp) / "cache"
        shutil.copytree(cache_dir, copy)
        if target == MANIFEST:
            (copy / MANIFEST).write_bytes(data.draw(damaged_json(manifest)))
        else:
            blob = _index_variants(data.draw, cache_dir / INDEX)
            (copy / INDEX).write_bytes(blob)
            if update_sha:  # get past the checksum to reach the structural checks
                manifest["index_sha256"] = hashlib.sha256(blob).hexdigest()
                (copy / MANIFEST).write_text(json.dumps(seal_manifest(manifest)))
        cache = _outcome(lambda: PreparedCache.open(copy, verify=verify), target)
        if cache is not None:  # whatever was accepted must also be readable
            for i in range(len(cache)):
                assert cache.signal(i).shape == (int(cache.lengths[i]), 12)
            cache.gather(np.arange(len(cache)), np.zeros(len(cache), np.int64), 1)
            del cache  # release the memory maps before the folder goes


# --- contract.json and model.json -----------------------------------------------------------


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    """A valid contract, made by the training side's own `make_contract`."""
    path = tmp_path_factory.mktemp("contract-cache") / "cache"
    writer = CacheWriter(
        path,
        key="c",
        source={"name": "fuzz", "synthetic": True},
        settings={
            "preprocess": PreprocessConfig(
                target_fs=100.0, filter="none", normalize="none"
            ).to_dict()
        },
        fs=100.0,
        label_names=["PE"],
    )
    writer.add(np.zeros((200, 12), np.float32), record_id="r", labels=[1.0], split="train")
    choice = ThresholdChoice(np.array([0.4]), "f1").to_dict()
    standardizer = DatasetStandardizer(np.zeros(12), np.ones(12), 200).to_dict()
    return make_contract(
        cache=writer.close(),
        model_name="fuzz",
        window=WINDOW,
        stride=32,
        eval_mode="sliding",
        aggregate="mean",
        label_names=["PE"],
        threshold_choice=choice,
        temperature=1.5,
        standardizer=standardizer,
    )


@FUZZ
@given(data=st.data())
def test_fuzzed_contract_json(contract, data):
    blob = data.draw(damaged_json(contract))
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "contract.json"
        path.write_bytes(blob)
        loaded = _outcome(lambda: load_contract(path), "contract.json")
        checked = loaded and _outcome(lambda: contract_io.load_contract(path), "contract.json")
        if checked:  # what inference accepts, it can use
            logits = np.zeros((2, len(contract_io.label_names(checked))))
            contract_io.decisions(checked, logits)
            contract_io.probabilities(checked, logits)
            contract_io.inference_preprocess(checked)


def test_valid_contract_loads_everywhere(contract, tmp_path):
    (tmp_path / "contract.json").write_text(json.dumps(contract))
    assert contract_io.load_contract(tmp_path) == contract


@pytest.fixture(scope="module")
def exported(contract):
    """A converted tiny model, its model.json and the .tflite with the description embedded."""
    import keras

    from keras_ecgpe.export.metadata import build_model_json, embed, file_facts
    from keras_ecgpe.export.tflite import convert_model

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((WINDOW, 12)),
            keras.layers.Conv1D(2, 5),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    blob = convert_model(model, "none", window=WINDOW)
    payload = build_model_json(contract, blob, mode="none")
    final = embed(blob, payload)
    return {
        "blob": blob,
        "payload": payload,
        "final": final,
        "model_json": file_facts(payload, final),
        "embed": embed,
    }


@pytest.mark.slow
def test_valid_model_json_loads(exported, tmp_path):
    from keras_ecgpe.inference import TFLiteRunner

    (tmp_path / "model.json").write_text(json.dumps(exported["model_json"]))
    (tmp_path / "model.tflite").write_bytes(exported["final"])
    assert load_model_json(tmp_path / "model.json") == exported["model_json"]
    assert load_model_json(tmp_path / "model.tflite") == exported["payload"]
    assert TFLiteRunner(tmp_path / "model.tflite").metadata() == exported["payload"]
    with pytest.raises(ConfigError, match="model.tflite: no 'keras_ecgpe_contract'"):
        (tmp_path / "model.tflite").write_bytes(exported["blob"])
        load_model_json(tmp_path / "model.tflite")


@pytest.mark.slow
@FUZZ
@given(data=st.data(), embedded=st.booleans())
def test_fuzzed_model_json(exported, data, embedded):
    with tempfile.TemporaryDirectory() as tmp:
        if embedded:  # a damaged description inside an intact flatbuffer
            path = pathlib.Path(tmp) / "model.tflite"
            path.write_bytes(
                exported["embed"](exported["blob"], data.draw(mutated(exported["payload"])))
            )
        else:
            path = pathlib.Path(tmp) / "model.json"
            path.write_bytes(data.draw(damaged_json(exported["model_json"])))
        _outcome(lambda: load_model_json(path), path.name)


@pytest.mark.slow
@FUZZ
@given(data=st.data(), kind=st.sampled_from(["random", "tfl3", "flipped", "cut"]))
def test_fuzzed_tflite_bytes(exported, data, kind):
    final = exported["final"]
    if kind == "random":
        blob = data.draw(st.binary(max_size=400))
    elif kind == "tfl3":  # passes the identifier check, then garbage offsets
        blob = (
            data.draw(st.binary(min_size=4, max_size=4))
            + b"TFL3"
            + data.draw(st.binary(max_size=400))
        )
    elif kind == "cut":
        blob = final[: data.draw(st.integers(8, len(final)))]
    else:
        blob = bytearray(final)
        for _ in range(data.draw(st.integers(1, 8))):
            blob[data.draw(st.integers(0, len(blob) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        blob = bytes(blob)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "model.tflite"
        path.write_bytes(blob)
        _outcome(lambda: read_embedded_json(blob, where=str(path)), "model.tflite")
        _outcome(lambda: load_model_json(path), "model.tflite")


# --- sizes ----------------------------------------------------------------------------------


def _sparse(path, size):
    """A file of `size` zero bytes that takes no disk space."""
    with open(path, "wb") as handle:
        handle.truncate(size)


def test_huge_inputs_are_refused_before_parsing(cache_dir, tmp_path):
    from keras_ecgpe import schemas
    from keras_ecgpe.data.sources.base import MAX_TABLE_BYTES

    shutil.copytree(cache_dir, tmp_path / "cache")
    _sparse(tmp_path / "cache" / MANIFEST, schemas.MAX_BYTES["cache_manifest"] + 1)
    with pytest.raises(ECGPEError, match="manifest.json: .* bytes, more than"):
        PreparedCache.open(tmp_path / "cache")
    _sparse(tmp_path / "contract.json", schemas.MAX_BYTES["contract"] + 1)
    with pytest.raises(ConfigError, match="contract.json: .* bytes, more than"):
        load_contract(tmp_path)
    _sparse(tmp_path / "manifest.csv", MAX_TABLE_BYTES + 1)
    with pytest.raises(RecordError, match="manifest.csv: .* bytes, more than"):
        PECohortSource(tmp_path).index()
    # One field beyond the csv module's limit (128 kB) is a RecordError, not a csv.Error.
    (tmp_path / "manifest.csv").write_text("record,label,patient_id\n" + "x" * 200_000)
    with pytest.raises(RecordError, match="manifest.csv: line 2: malformed CSV"):
        PECohortSource(tmp_path).index()
