"""Each edge's numbers sit on that edge: where two edges meet at one gate, each label touches
its own edge's path (within 3 pt) and is nearer to it than to the other edge's (read from the rendered SVG's geometry).

Graphviz puts an edge's label beside that edge; ``decorate`` underlines it and ties the
underline to the edge, so the label's extent and its edge can be read from the SVG.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from tracegrad.viz import draw_flow, draw_graph
from tracegrad.viz.cli import lecture_network

from tests.viz.helpers import SVG, by_id, parse_svg

Point = tuple[float, float]


def path_points(d: str, steps: int = 24) -> list[Point]:
    """Points along an SVG path of Graphviz's form ``M x,y C x1,y1 x2,y2 x3,y3 ...`` (cubic Béziers)."""
    nums = [float(v) for v in re.findall(r"-?[\d.]+(?:e-?\d+)?", d)]
    pts = list(zip(nums[0::2], nums[1::2]))
    out = [pts[0]]
    for k in range(1, len(pts) - 2, 3):
        p0, p1, p2, p3 = pts[k - 1], pts[k], pts[k + 1], pts[k + 2]
        for s in range(1, steps + 1):
            t = s / steps
            out.append(tuple(  # type: ignore[arg-type]
                (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * e
                for a, b, c, e in zip(p0, p1, p2, p3)))
    return out


def edge_path(svg: ET.Element, ident: str) -> list[Point]:
    (path,) = by_id(svg, ident).iter(f"{SVG}path")
    return path_points(path.get("d"))


def label_box(svg: ET.Element, ident: str) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` of an edge's label: its underline (the first segment of the tie that
    ``decorate`` draws from the label to its edge) spans the label; the text stands on it."""
    edge = by_id(svg, ident)
    (tie,) = edge.iter(f"{SVG}polyline")
    pts = [tuple(map(float, xy.split(","))) for xy in tie.get("points").split()]
    (xa, y), (xb, _) = pts[0], pts[1]
    lines = list(edge.iter(f"{SVG}text"))
    assert lines, f"edge {ident} has no label"
    height = 1.2 * sum(float(t.get("font-size")) for t in lines)
    return min(xa, xb), y - height, max(xa, xb), y


def box_distance(box: tuple[float, float, float, float], path: list[Point]) -> float:
    """The shortest distance from a point of ``path`` to the box (0 where the path touches it)."""
    x0, y0, x1, y1 = box
    return min(math.hypot(max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)) for x, y in path)


def two_input_gates(svg: ET.Element) -> list[int]:
    ids = {el.get("id") for el in svg.iter() if el.get("id")}
    return sorted(int(m.group(1)) for i in ids if (m := re.fullmatch(r"e(\d+)_1", i))
                  and f"e{m.group(1)}_0" in ids)


def lecture_graph() -> str:
    C = lecture_network()
    C.backward()
    return draw_graph(C).svg()


@pytest.mark.parametrize("make", [
    pytest.param(lecture_graph, id="graph-221"),
    pytest.param(lambda: draw_flow(lecture_network()).svg(), id="flow-221"),
    pytest.param(lambda: draw_graph(lecture_network(), rankdir="LR").svg(), id="graph-221-LR"),
])
def test_each_label_touches_its_own_edge_and_is_nearer_it_than_the_other_edge_into_its_gate(make) -> None:  # noqa: ANN001
    svg = parse_svg(make())
    gates = two_input_gates(svg)
    assert len(gates) == 10  # six ×, three +, one -
    for i in gates:
        paths = [edge_path(svg, f"e{i}_{k}") for k in (0, 1)]
        for k in (0, 1):
            box = label_box(svg, f"e{i}_{k}")
            own, other = box_distance(box, paths[k]), box_distance(box, paths[1 - k])
            assert own <= 3.0 and own < other, (f"e{i}_{k}", round(own, 1), round(other, 1))


def test_a_label_is_tied_to_its_edge() -> None:
    src = draw_graph(lecture_network()).source
    assert src.count("decorate=true") == src.count("label=\"local")  # every labelled edge
