"""draw_network's layout, read back from the rendered SVG: units in order, names per layer,
captions and legend clear of every edge."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from tracegrad import nn
from tracegrad.viz import draw_network
from tracegrad.viz.network import unit_name

from tests.viz.helpers import SVG, by_id, groups, parse_svg, texts

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in SVG coordinates (y grows downwards)


def _centre(svg: ET.Element, ident: str) -> tuple[float, float]:
    ellipse = next(by_id(svg, ident).iter(f"{SVG}ellipse"))
    return float(ellipse.get("cx")), float(ellipse.get("cy"))


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", text)]


def _text_box(el: ET.Element) -> Box:
    """The box around every <text> of ``el`` (0.6 em per character, as wide as Helvetica gets)."""
    boxes = []
    for t in el.iter(f"{SVG}text"):
        x, y, size = float(t.get("x")), float(t.get("y")), float(t.get("font-size"))
        w = 0.6 * size * len("".join(t.itertext()))
        left = {"start": x, "end": x - w}.get(t.get("text-anchor") or "", x - w / 2)
        boxes.append((left, y - size, left + w, y + 0.25 * size))
    return _union(boxes)


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


def _legend_box(svg: ET.Element) -> Box:
    legend = groups(svg, "legend")[0]
    pts = [_numbers(p.get("points") or "") for p in legend.iter(f"{SVG}polygon")]
    shapes = [(min(p[0::2]), min(p[1::2]), max(p[0::2]), max(p[1::2])) for p in pts if p]
    return _union(shapes + [_text_box(legend)])


def _edge_points(edge: ET.Element) -> list[tuple[float, float]]:
    """Points along an edge's path and arrowhead (the path's control points, densely joined)."""
    coords: list[tuple[float, float]] = []
    for el in list(edge.iter(f"{SVG}path")) + list(edge.iter(f"{SVG}polygon")):
        v = _numbers(el.get("d") or el.get("points") or "")
        coords += list(zip(v[0::2], v[1::2]))
    dense = []
    for (x0, y0), (x1, y1) in zip(coords, coords[1:]):
        dense += [(x0 + (x1 - x0) * s / 40, y0 + (y1 - y0) * s / 40) for s in range(41)]
    return dense


def _crossing(svg: ET.Element, box: Box) -> list[str]:
    x0, y0, x1, y1 = box
    return [e.get("id") or "" for e in groups(svg, "weight")
            if any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in _edge_points(e))]


@pytest.mark.parametrize("sizes", [(2, [2, 1]), (3, [5, 4, 2]), (2, [16, 16, 1])])
def test_units_are_drawn_in_order_top_to_bottom(sizes: tuple[int, list[int]]) -> None:
    nin, nouts = sizes
    svg = parse_svg(draw_network(nn.MLP(nin, nouts, seed=0)).svg())
    columns = [[f"in{k}" for k in range(nin)]] + \
        [[f"L{i}N{j}" for j in range(n)] for i, n in enumerate(nouts)]
    for col in columns:
        xs, ys = zip(*(_centre(svg, ident) for ident in col))
        assert len(set(xs)) == 1 and list(ys) == sorted(ys) and len(set(ys)) == len(ys), col
    lefts = [_centre(svg, col[0])[0] for col in columns]
    assert lefts == sorted(lefts)


def test_top_to_bottom_layout_orders_units_left_to_right() -> None:
    svg = parse_svg(draw_network(nn.MLP(3, [5, 4, 2], seed=0), rankdir="TB").svg())
    xs = [_centre(svg, f"L0N{j}")[0] for j in range(5)]
    assert xs == sorted(xs) and _centre(svg, "in0")[1] < _centre(svg, "L0N0")[1]
    for ident in ("inputs", "layer0", "layer1", "layer2", "legend"):
        box = _legend_box(svg) if ident == "legend" else _text_box(by_id(svg, ident))
        assert not _crossing(svg, box), ident


def test_every_layer_names_its_own_units() -> None:
    svg = parse_svg(draw_network(nn.MLP(3, [5, 4, 2], seed=0)).svg())
    names = [texts(g)[0] for g in groups(svg, "input") + groups(svg, "neuron")]
    assert names[:4] == ["x₁", "x₂", "x₃", "h¹₁"] and names[-1] == "o₂"
    assert "h²₄" in names and len(set(names)) == len(names) == 3 + 5 + 4 + 2
    assert unit_name("hidden", 11, 15) == "h¹²₁₆"
    assert [texts(by_id(svg, f"layer{i}"))[0] for i in range(3)] == \
        ["layer 1 (hidden, relu)", "layer 2 (hidden, relu)", "layer 3 (output, linear)"]


@pytest.mark.parametrize("sizes", [(2, [2, 1]), (3, [5, 4, 2]), (2, [16, 16, 1])])
def test_no_edge_crosses_a_caption_or_the_legend(sizes: tuple[int, list[int]]) -> None:
    nin, nouts = sizes
    svg = parse_svg(draw_network(nn.MLP(nin, nouts, seed=0)).svg())
    captions = groups(svg, "caption")
    assert len(captions) == 1 + len(nouts)
    for cap in captions:
        assert not _crossing(svg, _text_box(cap)), texts(cap)
    assert not _crossing(svg, _legend_box(svg))
    boxes = [_text_box(c) for c in captions] + [_legend_box(svg)]
    for a, b in ((a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]):
        assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1], (a, b)


@pytest.mark.parametrize("sizes", [(2, [2, 1]), (2, [3, 1]), (3, [2, 2])])
def test_edge_numbers_do_not_overlap(sizes: tuple[int, list[int]]) -> None:
    """Each weight's number sits at its own place along its edge, even where two edges cross."""
    nin, nouts = sizes
    svg = parse_svg(draw_network(nn.MLP(nin, nouts, seed=0)).svg())
    boxes = [(e.get("id"), _text_box(e)) for e in groups(svg, "weight")]
    assert all(texts(by_id(svg, ident)) for ident, _ in boxes)
    for n, (ia, a) in enumerate(boxes):
        for ib, b in boxes[n + 1:]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1], (ia, ib)
