"""draw_graph says what its box colours mean: a compact legend (one swatch per kind of box it
draws, in that box's own fill) that no edge crosses."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from tracegrad.engine import Value
from tracegrad.viz import draw_flow, draw_graph
from tracegrad.viz.cli import lecture_network
from tracegrad.viz.stepper import STEP_STYLE
from tracegrad.viz.style import LEAF_FILL, OP_FILL, ROOT_FILL

from tests.viz.helpers import SVG, by_id, groups, parse_svg, texts
from tests.viz.test_graph_edge_labels import path_points

Box = tuple[float, float, float, float]


def outline(el: ET.Element) -> Box:
    """The bounding box of every polygon under ``el``."""
    nums = [float(v) for p in el.iter(f"{SVG}polygon") for v in re.findall(r"-?[\d.]+", p.get("points"))]
    xs, ys = nums[0::2], nums[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def swatches(legend: ET.Element) -> set[str]:
    return {p.get("fill") for p in legend.iter(f"{SVG}polygon")} - {"none", "white", "#ffffff"}


def lecture_graph() -> ET.Element:
    C = lecture_network()
    C.backward()
    return parse_svg(draw_graph(C).svg())


def test_the_graph_has_a_legend_for_each_kind_of_box_it_draws() -> None:
    legend = by_id(lecture_graph(), "legend")
    words = " ".join(texts(legend))
    for meaning in ("input or parameter", "computed value", "output", "gate", "local", "carried"):
        assert meaning in words
    assert "constant" not in words  # the lecture network has none: no row for it
    assert {LEAF_FILL, ROOT_FILL, OP_FILL} <= swatches(legend)


def test_a_constant_gets_its_row_and_drawing_without_grads_drops_carried() -> None:
    x = Value(3.0, "x")
    y = x * 2.0
    y.label = "y"
    words = " ".join(texts(by_id(parse_svg(draw_graph(y, show_grad=False).svg()), "legend")))
    assert "constant" in words and "local" in words and "carried" not in words


@pytest.mark.parametrize("make", [
    pytest.param(lecture_graph, id="graph-221"),
    pytest.param(lambda: parse_svg(draw_graph(lecture_network(), rankdir="LR").svg()), id="graph-221-LR"),
    pytest.param(lambda: parse_svg(draw_flow(lecture_network()).svg()), id="flow-221"),
])
def test_no_edge_crosses_the_legend(make) -> None:  # noqa: ANN001
    svg = make()
    x0, y0, x1, y1 = outline(by_id(svg, "legend"))
    edges = groups(svg, "edge")
    assert edges
    for edge in edges:
        for path in edge.iter(f"{SVG}path"):
            for x, y in path_points(path.get("d")):
                assert not (x0 < x < x1 and y0 < y < y1), (edge.get("id"), (x, y), (x0, y0, x1, y1))


def test_the_stepper_frames_keep_their_own_legend() -> None:
    assert STEP_STYLE.show_legend is False
