"""The 12-lead printout is drawn to the paper conventions (25 mm/s, 10 mm/mV, 3 x 4 + rhythm).

The figure is drawn in millimetres, so positions are checked directly on the artists: a
constant 1 mV lead sits 10 mm above its baseline, 2.5 s of a column span 62.5 mm, and each
row starts with a 10 mm x 5 mm calibration pulse. Signals are SYNTHETIC except the real
PTB-XL record drawn at the end.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import AxesImage

from keras_ecgpe.data.readers import read_record
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.leads import CANONICAL_LEADS
from keras_ecgpe.visualization import Overlay, ecg_paper_figure, record_figure, write_png
from keras_ecgpe.visualization.ecg_paper import png_paths, unit_gain

FS = 100.0


def _texts(figure) -> list[str]:
    return [t.get_text() for t in figure.axes[0].texts]


def test_layout_labels_and_caption():
    figure = ecg_paper_figure(np.zeros((1000, 12)), FS, title="SYNTHETIC flat line")
    labels = _texts(figure)
    expected = ["I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3", "V6"]
    assert labels == expected + ["II (rhythm)"]
    caption = "\n".join(t.get_text() for t in figure.texts)
    for fact in ("25 mm/s", "10 mm/mV", "fs 100 Hz", "units mV", "0.0-10.0 s of 10.0 s"):
        assert fact in caption


def test_traces_are_drawn_at_25_mm_per_s_and_10_mm_per_mv():
    signal = np.zeros((1000, 12))
    signal[:, CANONICAL_LEADS.index("I")] = 1.0  # 1 mV throughout lead I
    figure = ecg_paper_figure(signal, FS, title="SYNTHETIC")
    lines = figure.axes[0].lines
    pulses = [line for line in lines if len(line.get_xdata()) == 6]
    assert len(pulses) == 4  # one calibration pulse per row
    heights = {round(np.ptp(p.get_ydata()), 6) for p in pulses}
    widths = {round(p.get_xdata()[3] - p.get_xdata()[2], 6) for p in pulses}
    assert heights == {10.0} and widths == {5.0}  # 1 mV x 0.2 s
    traces = [line for line in lines if len(line.get_xdata()) > 6]
    assert len(traces) == 13
    first = traces[0]  # lead I, first column: 2.5 s = 250 samples over 62.5 mm
    x, y = first.get_xdata(), first.get_ydata()
    assert len(x) == 250 and x[-1] - x[0] == pytest.approx(249 / FS * 25.0)
    baseline = pulses[0].get_ydata()[0]
    assert np.allclose(y, baseline + 10.0)


def test_overlay_shades_every_drawn_strip_and_is_clear_where_nothing_is_attributed():
    values = np.zeros((1000, 12))
    values[100:120, CANONICAL_LEADS.index("V2")] = 1.0
    overlay = Overlay(np.arange(1000) / FS, values, "SYNTHETIC map")
    figure = ecg_paper_figure(np.zeros((1000, 12)), FS, title="t", overlay=overlay)
    images = [a for a in figure.axes[0].get_children() if isinstance(a, AxesImage)]
    assert len(images) == 13
    alphas = [image.get_array()[0, :, 3] for image in images]
    # V2 is drawn for 5.0-7.5 s: its attribution at 1.0-1.2 s is not on the page there.
    assert all(np.all(a == 0) for a in alphas)
    values[600:620, CANONICAL_LEADS.index("V2")] = -1.0  # 6.0-6.2 s: in V2's column
    figure = ecg_paper_figure(np.zeros((1000, 12)), FS, title="t", overlay=overlay)
    images = [a for a in figure.axes[0].get_children() if isinstance(a, AxesImage)]
    shaded = [k for k, image in enumerate(images) if image.get_array()[0, :, 3].max() > 0]
    assert shaded == [6]  # the V2 strip (row 2, column 3), blue = lowers the logit
    rgba = images[6].get_array()[0]
    assert rgba[:, 3].max() == pytest.approx(0.85) and rgba[rgba[:, 3] > 0, 2].min() > 0.5


def test_normalised_signals_get_a_stated_gain():
    assert unit_gain(np.full((10, 12), 4.0)) == 2.5
    figure = ecg_paper_figure(
        np.full((500, 12), 4.0), FS, title="t", units="model input (zscore per lead), not mV"
    )
    caption = "\n".join(t.get_text() for t in figure.texts)
    assert "2.5 mm per unit" in caption and "mm/mV" not in caption


@pytest.mark.parametrize(
    ("signal", "fs", "start", "message"),
    [
        (np.zeros((100, 11)), FS, 0.0, "time, 12"),
        (np.zeros((100, 12)), 0.0, 0.0, "fs"),
        (np.zeros((100, 12)), FS, 1.0, "start_s"),
    ],
)
def test_bad_input_is_refused(signal, fs, start, message):
    with pytest.raises(ConfigError, match=message):
        ecg_paper_figure(signal, fs, title="t", start_s=start)


def test_png_paths_are_unique_and_never_overwrite(tmp_path):
    paths = png_paths(["a/x.hea", "b/x", "c/A1.mat"], tmp_path / "out")
    assert [p.name for p in paths] == ["x.png", "x-2.png", "A1.png"]
    paths[0].write_bytes(b"old")
    with pytest.raises(ConfigError, match="x.png: exists"):
        png_paths(["x"], tmp_path / "out")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="existing file"):
        png_paths(["x"], tmp_path / "file")


def test_a_real_record_at_its_own_rate(real_ecg, tmp_path):
    record = read_record(real_ecg / "ptbxl/records100/00000/00001_lr")
    path = write_png(record_figure(record), tmp_path / "ecg.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width == round(264.0 / 25.4 * 150)  # the 264 mm page at 150 dpi


@pytest.mark.slow  # reads the records in worker processes
def test_cli_inspect_plots_every_real_record_kind(real_ecg, tmp_path):
    from click.testing import CliRunner

    from keras_ecgpe.cli.main import cli

    records = [
        real_ecg / "ptbxl/records100/00000/00001_lr",
        real_ecg / "ptbxl/records500/06000/06000_hr",
        real_ecg / "cinc/E00666",
        real_ecg / "cpsc2018/A1981.mat",
        real_ecg / "ptb/s0010_re",
        tmp_path / "missing",
    ]
    out = tmp_path / "plots"
    result = CliRunner().invoke(
        cli, ["data", "inspect", *map(str, records), "--plot", str(out), "--json"]
    )
    assert result.exit_code == 1  # the missing record
    entries = json.loads(result.output)
    assert [len(e["plots"]) for e in entries] == [1, 1, 1, 1, 1, 0]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["00001_lr.png", "06000_hr.png", "E00666.png", "A1981.png", "s0010_re.png"]
    )


def test_cli_inspect_model_needs_plot(real_ecg):
    from click.testing import CliRunner

    from keras_ecgpe.cli.main import cli

    record = str(real_ecg / "cinc/E00666")
    result = CliRunner().invoke(cli, ["data", "inspect", record, "--model", record + ".hea"])
    assert result.exit_code == 2 and "--model" in result.output and "--plot" in result.output
