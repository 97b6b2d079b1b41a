"""The study grid's file (strict, one-line errors naming the key), its cells, and its
results table (paired differences, Holm, verdict, CSV) - no training here."""

import csv
import io
import json
from pathlib import Path

import pytest

from keras_ecgpe.errors import ConfigError
from keras_ecgpe.studies.grid_results import study_rows, table_csv, verdict
from keras_ecgpe.studies.grid_spec import StudySpec

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "study_grid.yaml"

BASE = {"data": {"cache": "pe"}, "folds": {"k": 3}}


def _spec(**extra):
    return StudySpec.from_dict({**BASE, **extra}, source="s.yaml")


def test_the_documented_example_has_eight_cells_with_the_reference_first():
    spec = StudySpec.load(EXAMPLE)
    cells = spec.cells()
    assert len(cells) == 8 and len({c.id for c in cells}) == 8
    assert spec.reference_cell() == cells[0]
    assert cells[0].labels == {
        "model": "resnet",
        "preprocess.normalize": "zscore",
        "transfer": "scratch",
    }
    full = [c for c in cells if c.transfer == "full"]
    assert len(full) == 4 and all(c.pretraining == "ptbxl" for c in full)
    assert {c.preprocess["normalize"] for c in cells} == {"zscore", "minmax"}
    assert all(c.settings["model.overrides"] == {"width": 4} for c in cells)


def test_scratch_cells_do_not_repeat_under_each_pretraining_source():
    spec = StudySpec.from_dict(
        {
            "data": {"source": "pe", "root": "m.csv"},
            "folds": {"k": 2},
            "pretraining": {"a": {"cache": "ca"}, "b": {"cache": "cb"}},
            "axes": {"pretraining": ["a", "b"], "transfer": ["scratch", "linear"]},
        },
        source="s.yaml",
    )
    labels = [c.label for c in spec.cells()]
    assert labels == [
        "pretraining=none, transfer=scratch",
        "pretraining=a, transfer=linear",
        "pretraining=b, transfer=linear",
    ]


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"axis": {}}, "at axis: unknown key"),
        ({"axes": {"model.name": ["resnet1d18", "nope"]}}, "at axes (cell model.name=nope)"),
        ({"axes": {"training.seed": [0, 1]}}, "at axes.training.seed: the seed deals the folds"),
        ({"axes": {"transfer": ["full"]}}, "transfer full needs a pretraining source"),
        ({"axes": {"model": ["resnet1d18"]}, "reference": {"model": "vgg"}}, "reference.model"),
        ({"axes": {"preprocess.normalize": ["zscore"]}}, "axes.preprocess.normalize"),
        ({"folds": {"k": 1}}, "at folds.k: must be an integer >= 2"),
        ({"settings": {"data.cache": "x"}}, "at settings.data.cache: set by the study"),
        (
            {"search": {"trials": 2, "space": {"optimizer.learning_rate": {"type": "loguni"}}}},
            "search.space.optimizer.learning_rate.type",
        ),
        (
            {
                "search": {
                    "trials": 2,
                    "space": {"model.dropout": {"type": "float", "low": 1, "high": 0}},
                }
            },
            "needs low < high",
        ),
        (
            {"search": {"trials": 2, "space": {"a": {"type": "int", "low": 1, "high": 2}}}},
            "search.space.a",
        ),
    ],
)
def test_a_bad_study_file_is_one_line_naming_the_file_and_key(extra, names):
    with pytest.raises(ConfigError) as caught:
        _spec(**extra)
    message = str(caught.value)
    assert message.startswith("s.yaml: at ") and names in message and "\n" not in message


def test_load_names_the_file_for_yaml_and_size_problems(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: cannot read the study file"):
        StudySpec.load(bad)
    bad.write_text("folds: {k: 2}\n")
    with pytest.raises(ConfigError, match="bad.yaml: at data: missing"):
        StudySpec.load(bad)


# --- results -------------------------------------------------------------------------------


def _record(cell_id, aurocs, labels):
    per_fold = [
        {
            "fold": f"r1-f{i + 1}",
            "macro": {"auroc": a},
            "n_train": 80,
            "n_validation": 20,
            "n_heldout": 50,
        }
        for i, a in enumerate(aurocs)
    ]
    return {
        "cell": {"id": cell_id, "labels": labels, "transfer": "scratch", "pretraining": None},
        "summary": {
            "per_fold": per_fold,
            "primary": {"mean": sum(aurocs) / len(aurocs), "sd": 0.01, "n_folds": len(aurocs)},
            "pooled_auroc_mean_over_repeats": {"value": 0.7, "ci_low": 0.6, "ci_high": 0.8},
            "statistics": {"alpha": 0.05, "n_boot": 100},
        },
    }


def _folders(tmp_path, ids, records=("a", "b")):
    out = {}
    for cell_id in ids:
        folder = tmp_path / cell_id
        folder.mkdir()
        (folder / "cv_plan.json").write_text(json.dumps({"folds": [{"heldout": list(records)}]}))
        out[cell_id] = folder
    return out


def test_rows_pair_each_cell_with_the_reference_and_holm_adjust_the_family(tmp_path):
    ref = [0.60, 0.62, 0.61, 0.63, 0.60, 0.62, 0.61, 0.63, 0.60, 0.62]
    better = [a + 0.10 + 0.002 * (i % 3) for i, a in enumerate(ref)]
    same = [a + (0.01 if i % 2 else -0.01) for i, a in enumerate(ref)]
    records = [
        _record("ref", ref, {"m": "r"}),
        _record("up", better, {"m": "u"}),
        _record("flat", same, {"m": "f"}),
    ]
    rows = study_rows(records, "ref", _folders(tmp_path, ["ref", "up", "flat"]), alpha=0.05)
    assert [r["cell"] for r in rows] == ["ref", "up", "flat"]
    assert rows[0]["reference"] and "difference" not in rows[0]
    up, flat = rows[1]["difference"], rows[2]["difference"]
    assert up["better"] == 10 and up["corrected_t"]["holm_family"] == 2
    assert up["corrected_t"]["p_holm"] >= up["corrected_t"]["p_value"]
    assert rows[1]["survives_holm"] is True and rows[2]["survives_holm"] is False
    assert flat["ties"] == 0 and flat["better"] == 5
    text = verdict(rows, 0.05)
    assert "1 survive(s) the correction: m=u" in text and "m=f" not in text
    table = list(csv.DictReader(io.StringIO(table_csv(rows))))
    assert [t["survives_holm"] for t in table] == ["", "True", "False"]
    assert table[0]["diff_mean"] == "" and float(table[1]["diff_mean"]) > 0.09
    assert "percentile bootstrap over patients" in table[0]["pooled_interval_method"]


def test_rows_refuse_a_cell_whose_folds_hold_other_records(tmp_path):
    records = [_record("ref", [0.6, 0.7], {"m": "r"}), _record("x", [0.6, 0.7], {"m": "x"})]
    folders = _folders(tmp_path, ["ref"])
    folders.update(_folders(tmp_path, ["x"], records=("a", "c")))
    with pytest.raises(ConfigError, match="other records than the reference"):
        study_rows(records, "ref", folders, alpha=0.05)


def test_no_surviving_difference_is_said_plainly(tmp_path):
    records = [
        _record("ref", [0.6, 0.7, 0.65], {"m": "r"}),
        _record("x", [0.7, 0.6, 0.66], {"m": "x"}),
    ]
    rows = study_rows(records, "ref", _folders(tmp_path, ["ref", "x"]), alpha=0.05)
    assert "None survives the correction" in verdict(rows, 0.05)
