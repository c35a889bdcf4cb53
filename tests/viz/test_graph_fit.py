"""draw_graph / draw_flow fit a projector: the rendered SVG's size in px at 100 % and its smallest text.

Graphviz writes SVG in points (width="...pt", font-size in pt): 1 pt = 4/3 px.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from tracegrad import nn
from tracegrad.engine import Value, sum_values
from tracegrad.viz import draw_flow, draw_graph
from tracegrad.viz.cli import lecture_network

from tests.viz.helpers import SVG, parse_svg

PX = 4 / 3  # px per pt


def size_px(svg: ET.Element) -> tuple[float, float]:
    """The picture's width and height in px at 100 % zoom."""
    w, h = (float(re.match(r"[\d.]+", svg.get(k)).group()) for k in ("width", "height"))
    return w * PX, h * PX


def smallest_text_px(svg: ET.Element) -> float:
    return min(float(t.get("font-size")) for t in svg.iter(f"{SVG}text")) * PX


def lecture_graph() -> str:
    C = lecture_network()
    C.backward()
    return draw_graph(C).svg()


def mlp_loss() -> Value:
    """A 2-4-1 nn.MLP's squared error on one point, after backward."""
    model = nn.MLP(2, [4, 1], seed=0)
    loss = (model([0.5, -0.3]) - 1.0) ** 2
    loss.backward()
    return loss


# (picture, max width px, max height px): the lecture network fits a 1920 x 1080 projector
# (1688 x 1032 px and 1508 x 1041 px: top-down, one-row boxes); the 2-4-1 MLP (12 boxes on one
# level, stacked) 2200 px wide.  Before: 1148 x 1947 px, and first 4227 and 3913 px wide.
CASES = [
    pytest.param(lecture_graph, 1920, 1080, id="graph-221"),
    pytest.param(lambda: draw_flow(lecture_network()).svg(), 1920, 1080, id="flow-221"),
    pytest.param(lambda: draw_graph(mlp_loss()).svg(), 2200, 1800, id="graph-2-4-1"),
    pytest.param(lambda: draw_flow(mlp_loss()).svg(), 2200, 1800, id="flow-2-4-1"),
]


@pytest.mark.parametrize(("make", "max_w", "max_h"), CASES)
def test_lecture_pictures_fit_a_projector_with_readable_text(make, max_w: int, max_h: int) -> None:  # noqa: ANN001
    svg = parse_svg(make())
    w, h = size_px(svg)
    assert w <= max_w and h <= max_h, (round(w), round(h))
    assert smallest_text_px(svg) >= 12.0


def test_auto_direction_runs_a_deep_graph_top_down_and_a_shallow_wide_one_left_right() -> None:
    assert "rankdir=TB" in draw_graph(lecture_network()).source  # 9 levels, 6 boxes wide
    xs = [Value(float(i), f"x{i}") for i in range(12)]
    wide = sum_values([x * x for x in xs])  # 12 boxes side by side, 3 levels
    assert "rankdir=LR" in draw_graph(wide).source
    assert "rankdir=LR" in draw_graph(lecture_network(), rankdir="LR").source  # asked: kept


def test_boxes_stack_left_right_and_run_one_row_top_down_while_the_widest_level_fits() -> None:
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    out = a * b
    down = draw_graph(out, rankdir="TB").source  # one row: each rank one text line high
    assert 'label="a | data 2.0 | grad 0.0"' in down
    assert 'label="a | data 2.0 | grad 0.0"' in draw_graph(out, rankdir="LR").source  # stacked in LR
    xs = [Value(float(i), f"x{i}") for i in range(12)]
    wide = sum_values([x * x for x in xs])  # 12 boxes on one level: one row each would not fit
    assert 'label="{ x0 | data 0.0 | grad 0.0 }"' in draw_graph(wide, rankdir="TB").source


def test_a_top_down_graph_of_one_row_boxes_writes_each_edge_label_on_one_line() -> None:
    C = lecture_network()
    C.backward()
    src = draw_graph(C).source
    assert 'label="local 0.2288, carried -0.1621"' in src
    assert 'label="local 0.2288\ncarried -0.1621"' in draw_graph(C, rankdir="LR").source
