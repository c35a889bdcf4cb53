"""Export for slides: PNG at a chosen scale, a clear error where there is no PDF, slide-sized plots."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from tracegrad.engine import Value
from tracegrad.viz import draw_graph, plot_history
from tracegrad.viz.cli import main
from tracegrad.viz.dot import PdfUnavailableError, find_dot

from tests.support import require


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def diagram():  # type: ignore[no-untyped-def]
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = a * b
    c.label = "c"
    c.backward()
    return draw_graph(c)


def test_png_scale_multiplies_the_pixel_size(tmp_path: Path) -> None:
    d = diagram()
    w1, h1 = png_size(d.png())
    w2, h2 = png_size(d.png(tmp_path / "g.png", scale=2))
    assert abs(w2 - 2 * w1) <= 2 and abs(h2 - 2 * h1) <= 2
    assert png_size((tmp_path / "g.png").read_bytes()) == (w2, h2)
    assert png_size(d.png()) == (w1, h1)  # the diagram itself is unchanged by a scaled export


@pytest.mark.parametrize("scale", [0, -1, float("nan"), 11, "2", True])
def test_png_scale_must_be_a_sensible_number(scale: object) -> None:
    with pytest.raises(ValueError, match="scale must be a number in"):
        diagram().png(scale=scale)  # type: ignore[arg-type]


def test_pdf_without_a_pdf_renderer_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.delenv("TRACEGRAD_DOT", raising=False)
    program = find_dot()
    if not os.path.basename(program).startswith("graphviz-pure"):
        pytest.skip("a Graphviz with PDF is installed")
    with pytest.raises(PdfUnavailableError) as err:
        diagram().pdf(tmp_path / "g.pdf")
    message = str(err.value)
    assert "cannot write PDF" in message and "install Graphviz" in message
    assert "TRACEGRAD_DOT=dot" in message and "SVG" in message
    assert not (tmp_path / "g.pdf").exists()


def test_history_legend_names_the_loss_and_every_metric() -> None:
    mpl = require("matplotlib")
    mpl.use("Agg")
    fig = plot_history({"loss": [1.0, 0.5, 0.25], "metrics": {"accuracy": [0.5, 0.7, 0.9]}})
    entries = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert entries == ["loss", "accuracy"]
    fig = plot_history({"loss": [1.0, 0.5]})  # no metrics: the loss still has its entry
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["loss"]


def test_demo_pictures_are_slide_sized(tmp_path: Path) -> None:
    require("matplotlib")
    require("sklearn")
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--epochs", "2", "--samples", "20", "--no-progress"]) == 0
    for name in ("boundary.png", "loss.png"):
        width, height = png_size((out / name).read_bytes())
        assert width >= 1200 and height >= 700, (name, width, height)
