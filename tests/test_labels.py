"""The harmonised SNOMED CT vocabulary: tables, cross-source mapping, per-source masks."""

import csv
import pathlib

import numpy as np
import pytest

from keras_ecgpe.data.labels import TABLES_DIR, HarmonisedVocabulary, canonical_code, label_mappings
from keras_ecgpe.data.sources.cinc import CinCSource, parse_header_comments
from keras_ecgpe.data.sources.cpsc2018 import CLASSES as CPSC_CLASSES
from keras_ecgpe.data.sources.medalcare_xl import CLASSES as MEDALCARE_CLASSES
from keras_ecgpe.data.sources.ptbxl import PTBXLSource
from keras_ecgpe.errors import ConfigError

REAL = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "real-ecg"
PTBXL = REAL / "ptbxl"


def codes_of(vocabulary, y):
    return {code for code, value in zip(vocabulary.codes, y) if value}


def test_tables_cover_every_label_and_explain_every_row():
    mappings = label_mappings()
    assert tuple(mappings["scp"]) == PTBXLSource(PTBXL, task="all").label_names
    assert set(mappings["cpsc"]) == set(CPSC_CLASSES)
    assert set(mappings["medalcare"]) == set(MEDALCARE_CLASSES)
    assert set(mappings["scp_superclass"]) == {"NORM", "MI", "STTC", "CD", "HYP"}
    for table in TABLES_DIR.glob("*_to_snomed.csv"):
        with open(table, newline="") as handle:
            assert all(row["basis"].strip() for row in csv.DictReader(handle)), table
    for name in ("dx_mapping_scored.csv", "dx_mapping_unscored.csv", "weights.csv"):
        assert (TABLES_DIR / name).read_bytes() == (REAL / "cinc_meta" / name).read_bytes()


def test_equivalent_codes_merge_onto_the_first_code_of_the_pair():
    assert canonical_code("59118001") == "713427006"
    assert canonical_code("164909002") == "733534002"
    assert canonical_code("164889003") == "164889003"


@pytest.mark.parametrize(
    "scp, cpsc, code",
    [
        ("AFIB", "AF", "164889003"),
        ("CRBBB", "RBBB", "713427006"),
        ("1AVB", "IAVB", "270492004"),
        ("CLBBB", "LBBB", "733534002"),
        ("PAC", "PAC", "284470004"),
        ("PVC", "PVC", "164884008"),
        ("STD_", "STD", "429622005"),
        ("STE_", "STE", "164931005"),
        ("SR", "SNR", "426783006"),
    ],
)
def test_ptbxl_and_cpsc_labels_meet_on_one_code(scp, cpsc, code):
    vocabulary = HarmonisedVocabulary.from_sources(
        [PTBXLSource(PTBXL, task="all"), ("cpsc2018", "cpsc", CPSC_CLASSES)]
    )
    assert codes_of(vocabulary, vocabulary.to_multi_hot("ptbxl", [scp])[0]) == {code}
    assert codes_of(vocabulary, vocabulary.to_multi_hot("cpsc2018", [cpsc])[0]) == {code}


def test_ptbxl_mapping_reproduces_the_challenge_headers_of_the_same_records():
    """HR06000-HR06002 are the CinC 2021 conversions of PTB-XL 6000-6002."""
    source = PTBXLSource(PTBXL, task="all", sampling_rate=500)
    vocabulary = HarmonisedVocabulary.from_sources([source])
    items = {item.record_id: item for item in source.index()[0]}
    for ecg_id in ("6000", "6001", "6002"):
        _, comments = parse_header_comments(REAL / "cinc" / f"HR0{ecg_id}.hea")
        expected = {canonical_code(code) for code in comments["dx"].split(",")}
        y, _ = vocabulary.to_multi_hot("ptbxl", items[ecg_id].labels)
        assert codes_of(vocabulary, y) == expected, ecg_id


def test_masks_mark_only_what_each_source_annotates():
    vocabulary = HarmonisedVocabulary.from_sources(
        [PTBXLSource(PTBXL, task="superdiagnostic"), ("cpsc2018", "cpsc", CPSC_CLASSES)]
    )
    index = {code: i for i, code in enumerate(vocabulary.codes)}
    mi, af, nsr = index["164865005"], index["164889003"], index["426783006"]
    assert set(vocabulary.codes) == {
        "164865005",
        "426783006",
        "164889003",
        "270492004",
        "733534002",
        "713427006",
        "284470004",
        "164884008",
        "429622005",
        "164931005",
    }
    y, mask = vocabulary.to_multi_hot("ptbxl", ["MI"])
    assert (y[mi], mask[mi], mask[af]) == (1, 1, 0)
    assert mask[nsr] == 0  # NORM only implies sinus rhythm: unknown for an MI record
    y, mask = vocabulary.to_multi_hot("ptbxl", ["NORM"])
    assert (y[nsr], mask[nsr], y[mi], mask[mi]) == (1, 1, 0, 1)
    assert mask.sum() == 2
    y, mask = vocabulary.to_multi_hot("cpsc2018", ["AF"])
    assert (y[af], mask[af], mask[mi], mask[nsr]) == (1, 1, 0, 0)
    assert mask.sum() == len(vocabulary.codes) - 2  # all but MI and sinus rhythm
    assert y.dtype == mask.dtype == np.float32
    assert vocabulary.unmapped == {"ptbxl": ("STTC", "CD", "HYP"), "cpsc2018": ()}


def test_cinc_source_joins_with_its_scored_classes():
    cinc = CinCSource(REAL / "cinc")
    vocabulary = HarmonisedVocabulary.from_sources([cinc, ("cpsc2018", "cpsc", CPSC_CLASSES)])
    assert vocabulary.codes[:26] == cinc.label_names
    y, mask = vocabulary.to_multi_hot("cinc", ["713427006"])
    assert y.sum() == 1 and mask[: len(cinc.label_names)].all()
    assert not mask[len(cinc.label_names) :].any()  # PVC/STD/STE codes: CinC's unscored


def test_vocabulary_errors():
    with pytest.raises(ConfigError, match="no SNOMED CT mapping for label vocabulary"):
        HarmonisedVocabulary.from_sources([PTBXLSource(PTBXL, task="subdiagnostic")])
    with pytest.raises(ConfigError, match="given twice"):
        HarmonisedVocabulary.from_sources([("a", "cpsc", ("AF",)), ("a", "cpsc", ("AF",))])
    with pytest.raises(ConfigError, match=r"labels \['XX'\] are not in"):
        HarmonisedVocabulary.from_sources([("a", "cpsc", ("AF", "XX"))])
    vocabulary = HarmonisedVocabulary.from_sources([("a", "cpsc", ("AF",))])
    with pytest.raises(ConfigError, match="unknown source 'b'"):
        vocabulary.to_multi_hot("b", ["AF"])
    with pytest.raises(ConfigError, match="has no label 'RBBB'"):
        vocabulary.to_multi_hot("a", ["RBBB"])
