"""Numbers on draw_flow and draw_network edges are readable on a projector: at least 12 pt and
WCAG AA contrast (4.5:1) against the white page, read from the rendered SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from tracegrad import nn
from tracegrad.engine import Value
from tracegrad.viz import draw_flow, draw_network

from tests.viz.helpers import SVG, groups, lecture_221, parse_svg


def _luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str = "#ffffff") -> float:
    """WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05), lighter over darker."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _texts(svg: ET.Element) -> list[tuple[str, str, float]]:
    """(text, fill, font size) of every <text>; no fill attribute is SVG's default black."""
    return [("".join(t.itertext()), t.get("fill") or "#000000", float(t.get("font-size")))
            for t in svg.iter(f"{SVG}text")]


def _dead_and_live() -> Value:
    """A flow with a dead branch (ReLU of a negative) beside live ones, some faint."""
    a, b, c = Value(2.0, "a"), Value(-3.0, "b"), Value(0.01, "c")
    return (a * b).relu() + a * c + b


def test_contrast_formula() -> None:
    assert contrast("#000000") == pytest.approx(21.0)
    assert contrast("#9e9e9e") < 3.0  # the old dead-edge grey


@pytest.mark.parametrize("svg", [
    pytest.param(lambda: draw_flow(lecture_221()[0]).svg(), id="flow-221"),
    pytest.param(lambda: draw_flow(_dead_and_live()).svg(), id="flow-dead"),
    pytest.param(lambda: draw_network(nn.MLP(2, [2, 1], seed=0)).svg(), id="network-weights"),
    pytest.param(lambda: draw_network(nn.MLP(3, [3, 2], seed=1), edge_labels=True).svg(), id="network-3-3-2"),
])
def test_every_text_is_12pt_and_4_5_to_1(svg) -> None:  # noqa: ANN001
    root = parse_svg(svg())
    labelled = [g for g in groups(root, "flow") + groups(root, "weight") if list(g.iter(f"{SVG}text"))]
    assert labelled  # the edges do carry numbers
    for text, fill, size in _texts(root):
        assert size >= 12.0, (text, size)
        assert contrast(fill) >= 4.5, (text, fill, round(contrast(fill), 2))
