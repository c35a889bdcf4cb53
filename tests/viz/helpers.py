"""Graphs for the viz tests, built with the engine only, and an SVG reader."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tracegrad.engine import Value, scope

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def lecture_221() -> tuple[Value, dict[str, Value]]:
    """Seed 000's 2-2-1 sigmoid network with C = (y - o1)^2, every named node labelled."""
    x1, x2 = Value(0.5, "x1"), Value(0.3, "x2")
    w1, w2, w3, w4, w5, w6 = (Value(v, f"w{i + 1}")
                              for i, v in enumerate([0.7, 0.3, 0.4, 0.6, 0.55, 0.45]))
    z1 = w1 * x1 + w3 * x2
    z2 = w2 * x1 + w4 * x2
    h1, h2 = z1.sigmoid(), z2.sigmoid()
    z3 = w5 * h1 + w6 * h2
    o1 = z3.sigmoid()
    y = Value(1.0, "y")
    C = (y - o1) ** 2
    for v, name in ((z1, "z1"), (z2, "z2"), (h1, "h1"), (h2, "h2"), (z3, "z3"), (o1, "o1"),
                    (C, "C")):
        v.label = name
    nodes = dict(x1=x1, x2=x2, w1=w1, w2=w2, w3=w3, w4=w4, w5=w5, w6=w6, z1=z1, z2=z2, h1=h1,
                 h2=h2, z3=z3, o1=o1, y=y, C=C)
    return C, nodes


def scoped_mlp(sizes: tuple[int, ...] = (2, 3, 3, 1)) -> tuple[Value, list[Value]]:
    """A tiny MLP built by hand, each neuron under engine.scope('layers.i') / ('neurons.j')."""
    x: list[Value] = [Value(0.5 + 0.25 * i, f"x{i + 1}") for i in range(sizes[0])]
    params: list[Value] = []
    for li, (nin, nout) in enumerate(zip(sizes, sizes[1:])):
        ws = [[Value(((li + 1) * (j + 2) * (k + 3)) % 7 / 7 - 0.4, f"w{k + 1}")
               for k in range(nin)] for j in range(nout)]
        bs = [Value(0.1, "b") for _ in range(nout)]
        params += [w for row in ws for w in row] + bs
        out = []
        with scope(f"layers.{li}"):
            for j in range(nout):
                with scope(f"neurons.{j}"):
                    act = sum((wi * xi for wi, xi in zip(ws[j], x)), bs[j])
                    out.append(act.tanh() if li < len(sizes) - 2 else act)
        x = out
    loss = (x[0] - 1.0) ** 2
    loss.label = "loss"
    return loss, params


def parse_svg(svg: str) -> ET.Element:
    """The SVG as an element tree (raises if it is not well-formed XML)."""
    return ET.fromstring(svg.encode("utf-8"))


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    """Every <g> whose class list contains ``cls``."""
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


def by_id(root: ET.Element, ident: str) -> ET.Element:
    for el in root.iter():
        if el.get("id") == ident:
            return el
    raise AssertionError(f"no element with id {ident!r} in the SVG")


def texts(el: ET.Element) -> list[str]:
    """All text of <text> elements under ``el``."""
    return ["".join(t.itertext()) for t in el.iter(f"{SVG}text")]


def tooltips(el: ET.Element) -> list[str]:
    return [a.get(f"{XLINK}title") or "" for a in el.iter(f"{SVG}a")]
