"""Labels with control characters (NUL, BEL, ESC, DEL, ...) still give well-formed SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from tracegrad import viz
from tracegrad.engine import Value, scope
from tracegrad.viz.text import html_text, record_text, tooltip_text, visible

from tests.viz.helpers import SVG

HOSTILE = "a\x00b\x07c\x1bd\x7fe\x0bf\x0cg\x01"


def test_visible_shows_every_control_character_as_its_picture() -> None:
    assert visible("x\x00y\x1f\x7f") == "x\u2400y\u241f\u2421"
    assert visible("plain é ∂") == "plain é ∂"
    for escape in (record_text, html_text, tooltip_text):
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in escape(HOSTILE + "\n\t"))


@pytest.mark.parametrize("draw", [viz.draw_graph, viz.draw_flow])
def test_control_characters_in_labels_render_well_formed_svg(draw) -> None:
    a, b = Value(2.0, HOSTILE), Value(-3.0, "b\x00")
    out = a * b + a
    out.label = "out\x1b[31m"
    out.backward()
    svg = draw(out).svg()  # NUL used to crash the renderer; \x07 etc. made the XML invalid
    root = ET.fromstring(svg)
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "a\u2400b\u2407c" in texts and "out\u241b[31m" in texts


def test_control_characters_in_collapsed_groups_render_well_formed_svg() -> None:
    with scope("layers.0"), scope("neurons.0\x00\x08"):
        x = Value(1.0, "x")
        y = (x * 2.0).tanh()
    ET.fromstring(viz.draw_graph(y, collapse="neuron").svg())
