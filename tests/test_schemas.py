"""The JSON Schemas agree with the code that writes the documents, and name the problem."""

import json

import numpy as np
import pytest

from keras_ecgpe import schemas
from keras_ecgpe.data.cache import CacheWriter
from keras_ecgpe.data.preprocessing import CROPS, FILTERS, NORMALIZATIONS, PADS, PreprocessConfig
from keras_ecgpe.errors import ConfigError, ECGPEError
from keras_ecgpe.leads import CANONICAL_LEADS


def test_schema_enums_follow_the_code():
    preprocess = schemas.schema("contract")["$defs"]["preprocess"]
    for key, values in (
        ("filter", FILTERS),
        ("normalize", NORMALIZATIONS),
        ("pad", PADS),
        ("crop", CROPS),
    ):
        assert tuple(preprocess["properties"][key]["enum"]) == values
    # Every PreprocessConfig field is known to the schema (it refuses other keys).
    assert set(PreprocessConfig().to_dict()) == set(preprocess["properties"])
    assert schemas.schema("cache_manifest")["properties"]["lead_order"]["const"] == list(
        CANONICAL_LEADS
    )


def test_a_written_cache_manifest_is_valid_and_problems_are_located(tmp_path):
    writer = CacheWriter(
        tmp_path / "c", key="k", source={"name": "x"}, settings={}, fs=250.0, label_names=["PE"]
    )
    writer.add(np.zeros((10, 12), np.float32), record_id="r", labels=[1.0])
    writer.close()
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    schemas.validate(manifest, "cache_manifest", "m.json")
    manifest["shards"][0]["file"] = "../../outside.npy"
    with pytest.raises(ECGPEError, match=r"^m.json: at \$.shards\[0\].file: "):
        schemas.validate(manifest, "cache_manifest", "m.json")


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"a": NaN}', "NaN is not a number"),
        ('{"a": 1e999}', "out of the float range"),
        ('{"a": 1, "a": 2}', "'a' appears twice"),
        ("[" * 100_000, "nested too deeply"),
        ('{"a": "\\ud800"', "Unterminated|Expecting"),
        ("\xff", "not UTF-8"),
    ],
)
def test_the_strict_reader_refuses_what_writers_never_produce(tmp_path, text, problem):
    path = tmp_path / "doc.json"
    path.write_bytes(text.encode("latin-1") if text == "\xff" else text.encode())
    with pytest.raises(ConfigError, match=f"doc.json: .*({problem})"):
        schemas.read_json(path, max_bytes=1 << 20, what="document", error_type=ConfigError)
