"""Every model family of the zoo through the quantised export paths (tiny builds).

tests/test_export.py checks three families in depth; this covers the others in the
quantised modes, where the traps are (RNN loops, attention, patch embeddings). The export
is forced so a family whose tiny model the gate refuses still shows that it converts to
builtins only and runs in LiteRT; the gate's verdict is asserted where it is stable.
"""

from __future__ import annotations

import pytest

from fixtures import FAMILY_REPRESENTATIVES, make_run, pulse_cache
from keras_ecgpe.export.bundle import export_run

# Slow tier: trains and converts one tiny model per family.
pytestmark = pytest.mark.slow

IN_TEST_EXPORT = ("resnet1d18", "crnn_lstm", "transformer")
OTHERS = [name for name in FAMILY_REPRESENTATIVES if name not in IN_TEST_EXPORT]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return pulse_cache(tmp_path_factory.mktemp("families") / "cache")


@pytest.mark.parametrize("family", OTHERS)
def test_family_exports_dynamic_and_int8(family, cache, tmp_path):
    run_dir, _, _ = make_run(tmp_path / family, cache, family)
    for mode in ("dynamic", "int8"):
        result = export_run(run_dir, mode=mode, force=True)
        report = result.report
        assert (result.out_dir / "model.tflite").is_file(), family
        assert report.n_records > 0 and report.decision_agreement >= 0.8, report.to_text()
        assert "WHILE" not in result.model_json["model"]["ops"], f"{family} {mode} kept a loop"
