"""The lecture's pictures as a projector shows them: rendered at 100 % in headless Chromium and
measured there (size, on-screen text size, WCAG contrast against what lies behind each text,
overlapping texts, and the order of the units).

Pictures: the seed 2-2-1 network's graph and flow (they must fit 1920 x 1080), the gate
examples of notebook 03 (rebuilt here as the notebook builds them: one gate within 1024 x 576,
the composite within 1280 x 720, the sigmoid neuron within 1920 x 1080) and
``draw_network(nn.MLP(3, [5, 4, 2]))`` (within 1280 x 720).  ``test_the_checks_catch_a_bad_picture`` shows each
check fails on a picture spoilt on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from tracegrad import nn
from tracegrad.engine import Value
from tracegrad.viz import draw_flow, draw_graph, draw_network
from tracegrad.viz.cli import lecture_network

from tests.viz.browser import Picture, centre, chromium, contrast, measure, overlapping
from tests.viz.helpers import groups, parse_svg, texts

PROJECTOR = (1920.0, 1080.0)  # the 2-2-1 network's graph and flow, and the sigmoid neuron's
HD = (1280.0, 720.0)  # notebook 03's composite example and the 3-5-4-2 network
COLUMN = (1024.0, 576.0)  # one gate: fits a notebook column
MIN_TEXT_PX = 11.0
MIN_CONTRAST = 4.5


@dataclass(frozen=True)
class Case:
    """A picture, the size it must fit (px), and chains of units that must come in order."""

    make: Callable[[], Any]  # -> Diagram
    max_size: tuple[float, float]
    order: tuple[tuple[str, ...], ...]  # value-box labels (graph/flow) or node ids (network)


def _backward(root: Value) -> Value:
    root.backward()
    return root


def _labelled(v: Value, label: str) -> Value:
    v.label = label
    return v


def lecture_graph() -> Any:
    return draw_graph(_backward(lecture_network()))


def composite() -> Value:
    """Notebook 03's first example: f = 2 (x y + max(z, w))."""
    x, y, z, w = Value(3.0, "x"), Value(-4.0, "y"), Value(2.0, "z"), Value(-1.0, "w")
    s = _labelled(_labelled(x * y, "xy") + _labelled(z.max(w), "m"), "s")
    return _backward(_labelled(s * 2.0, "f"))


def gate(op: str) -> Value:
    """Notebook 03's one-gate examples: out = a op b."""
    a, b = (Value(2.0, "a"), Value(-1.0, "b")) if op == "max" else (Value(3.0, "a"), Value(-4.0, "b"))
    out = {"add": lambda: a + b, "mul": lambda: a * b, "max": lambda: a.max(b),
           "copy": lambda: _labelled(a * b, "ab") + a}[op]()
    return _backward(_labelled(out, "f" if op == "copy" else "out"))


def twice() -> Value:
    x = Value(1.5, "x")
    return _backward(_labelled(x + x, "x+x"))


NEURON = ("w0", "x0", "w1", "x1", "w2")


def neuron(primitive: bool = False) -> Value:
    """Notebook 03's sigmoid neuron, as one sigmoid gate or as elementary gates."""
    w0, x0, w1, x1, w2 = (Value(v, n) for n, v in zip(NEURON, (2.0, -1.0, -3.0, -2.0, -3.0)))
    z = w0 * x0 + w1 * x1 + w2
    out = 1.0 / (1.0 + (-z).exp()) if primitive else z.sigmoid()
    return _backward(_labelled(out, "f"))


def network() -> Any:
    return draw_network(nn.MLP(3, [5, 4, 2], seed=0))


NETWORK_ORDER = (("in0", "in1", "in2"), tuple(f"L0N{j}" for j in range(5)),
                 tuple(f"L1N{j}" for j in range(4)), ("L2N0", "L2N1"))
LECTURE_ORDER = (("x1", "x2"), ("z1", "z2"), ("h1", "h2"))
GATE_ORDER = (("a", "b"),)

CASES = {
    "graph-221": Case(lecture_graph, PROJECTOR, LECTURE_ORDER),
    "flow-221": Case(lambda: draw_flow(lecture_network()), PROJECTOR, LECTURE_ORDER),
    "gates-composite-graph": Case(lambda: draw_graph(composite()), HD, (("x", "y"), ("z", "w"))),
    "gates-composite-flow": Case(lambda: draw_flow(composite()), HD, (("x", "y"), ("z", "w"))),
    **{f"gate-{op}-{kind}": Case(lambda op=op, draw=draw: draw(gate(op)), COLUMN, GATE_ORDER)
       for op in ("add", "mul", "max", "copy") for kind, draw in (("graph", draw_graph), ("flow", draw_flow))},
    "gate-x+x-graph": Case(lambda: draw_graph(twice()), COLUMN, ()),
    "neuron-graph": Case(lambda: draw_graph(neuron()), PROJECTOR, (NEURON[:4],)),
    "neuron-flow": Case(lambda: draw_flow(neuron()), PROJECTOR, (NEURON[:4],)),
    "neuron-primitive-flow": Case(lambda: draw_flow(neuron(primitive=True)), PROJECTOR, (NEURON[:4],)),
    "network-3-5-4-2": Case(network, HD, NETWORK_ORDER),
}


@dataclass(frozen=True)
class Rendered:
    svg: str
    source: str
    picture: Picture


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def rendered(browser: Any) -> dict[str, Rendered]:
    """Each case rendered and measured once, on first use."""

    class Lazy(dict):
        def __missing__(self, key: str) -> Rendered:
            diagram = CASES[key].make()
            svg = diagram.svg()
            self[key] = Rendered(svg, diagram.source, measure(browser, svg))
            return self[key]

    return Lazy()


# --- the checks: each returns what is wrong (empty: nothing) -----------------------------------

def too_big(pic: Picture, max_size: tuple[float, float]) -> list[str]:
    w, h = max_size
    return [] if pic.width <= w + 0.5 and pic.height <= h + 0.5 else [f"{pic.width:.0f} x {pic.height:.0f} px"]


def small_texts(pic: Picture) -> list[tuple[str, float]]:
    return [(t.text, round(t.px, 2)) for t in pic.texts if t.px < MIN_TEXT_PX]


def pale_texts(pic: Picture) -> list[tuple[str, tuple[int, int, int], tuple[int, int, int], float]]:
    return [(t.text, t.fg, t.bg, round(contrast(t.fg, t.bg), 2)) for t in pic.texts
            if contrast(t.fg, t.bg) < MIN_CONTRAST]


def box_ids(svg: str) -> dict[str, str]:
    """Value box label -> its node id (``n{i}``), from the SVG."""
    root = parse_svg(svg)
    return {texts(g)[0]: g.get("id") for g in groups(root, "value") if texts(g)}


def out_of_order(r: Rendered, chains: tuple[tuple[str, ...], ...]) -> list[tuple[str, str]]:
    """Neighbours of a chain drawn out of order: across the ranks (x for a top-down graph,
    y otherwise), and for a network, its columns left to right too."""
    ids = box_ids(r.svg)
    down = re.search(r"rankdir=(TB|BT)", r.source) is not None
    bad = []
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            (xa, ya), (xb, yb) = (centre(r.picture.nodes[ids.get(n, n)]) for n in (a, b))
            if not ((xa < xb) if down else (ya < yb)):
                bad.append((a, b))
    if chains is NETWORK_ORDER:  # columns: inputs, then each layer, left to right
        xs = [centre(r.picture.nodes[chain[0]])[0] for chain in chains]
        bad += [(f"column {i}", f"column {i + 1}") for i in range(len(xs) - 1) if not xs[i] < xs[i + 1]]
    return bad


# --- the pictures --------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_the_picture_fits_its_screen(rendered: dict[str, Rendered], case: str) -> None:
    assert too_big(rendered[case].picture, CASES[case].max_size) == []


@pytest.mark.parametrize("case", CASES)
def test_every_text_is_at_least_11px_on_screen(rendered: dict[str, Rendered], case: str) -> None:
    pic = rendered[case].picture
    assert pic.texts and small_texts(pic) == []


@pytest.mark.parametrize("case", CASES)
def test_every_text_has_4_5_to_1_contrast_with_what_lies_behind_it(rendered: dict[str, Rendered],
                                                                  case: str) -> None:
    assert pale_texts(rendered[case].picture) == []


@pytest.mark.parametrize("case", CASES)
def test_no_two_texts_overlap(rendered: dict[str, Rendered], case: str) -> None:
    assert overlapping(rendered[case].picture.texts) == []


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c].order])
def test_units_are_drawn_in_order(rendered: dict[str, Rendered], case: str) -> None:
    assert out_of_order(rendered[case], CASES[case].order) == []


def test_the_checks_catch_a_bad_picture(rendered: dict[str, Rendered], browser: Any) -> None:
    """The 2-2-1 graph spoilt on purpose: a pale edge label, a 7 pt box text, one text moved onto
    another, and the labels x1 and x2 swapped; and drawn 3 times as large."""
    good = rendered["graph-221"]
    large = re.sub(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"',
                   lambda m: f'<svg width="{3 * float(m.group(1))}pt" height="{3 * float(m.group(2))}pt"',
                   good.svg)
    assert too_big(measure(browser, large), PROJECTOR)
    svg = good.svg
    svg = re.sub(r'(<text [^>]*?)(>local )', r'\1 fill="#bbbbbb"\2', svg, count=1)
    svg = svg.replace('font-size="12.00">data 0.47<', 'font-size="7.00">data 0.47<')
    x, y = re.search(r'<text [^>]*x="([\d.-]+)" y="([\d.-]+)"[^>]*>data 0.33<', svg).groups()
    svg = re.sub(r'(<text [^>]*)x="[\d.-]+" y="[\d.-]+"([^>]*>data 0.18<)', rf'\1x="{x}" y="{y}"\2', svg)
    svg = svg.replace(">x1<", ">tmp<").replace(">x2<", ">x1<").replace(">tmp<", ">x2<")
    bad = Rendered(svg, good.source, measure(browser, svg))
    assert [t for t, _ in small_texts(bad.picture)] == ["data 0.47"]
    assert [fg for _, fg, _, _ in pale_texts(bad.picture)] == [(187, 187, 187)]
    assert any({a, b} == {"data 0.18", "data 0.33"} for a, b, _ in overlapping(bad.picture.texts))
    assert out_of_order(bad, LECTURE_ORDER) == [("x1", "x2")]


def test_the_order_check_catches_a_scrambled_network(rendered: dict[str, Rendered], browser: Any) -> None:
    """Neurons h¹₁ and h¹₂ swapped, and the output column moved left of layer 2."""
    good = rendered["network-3-5-4-2"]
    svg = good.svg.replace('id="L0N0"', 'id="tmp"').replace('id="L0N1"', 'id="L0N0"').replace('id="tmp"', 'id="L0N1"')
    assert ("L0N0", "L0N1") in out_of_order(Rendered(svg, good.source, measure(browser, svg)), NETWORK_ORDER)
    pic = good.picture
    nodes = dict(pic.nodes)
    nodes["L2N0"] = (0.0, nodes["L2N0"][1], 1.0, nodes["L2N0"][3])
    moved = Rendered(good.svg, good.source, Picture(pic.width, pic.height, pic.texts, nodes))
    assert ("column 2", "column 3") in out_of_order(moved, NETWORK_ORDER)
