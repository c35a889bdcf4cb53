"""Pictures of unlabelled graphs read well: small op counts, constants as their value, a chain
rule that says something, and a hint when no backward has run."""

from __future__ import annotations

import re

from tracegrad.engine import Value
from tracegrad.viz import chain_rule, draw_flow, draw_graph
from tracegrad.viz.walk import SHORT_NAME, index_graph

from tests.viz.helpers import groups, parse_svg, texts

NO_BACKWARD = "no backward yet"


def _neuron() -> tuple[Value, Value]:
    """tanh(w1·x1 + w2·x2 + b) · 2 with only the inputs and weights labelled; 0.5 is a constant."""
    w1, x1, w2, x2 = Value(-3.0, "w1"), Value(2.0, "x1"), Value(1.0, "w2"), Value(0.5, "x2")
    return (w1 * x1 + w2 * x2 + 6.8813735870195432).tanh() * 0.5, w1


def test_unlabelled_gates_say_what_they_compute_while_short_else_op_and_a_small_count() -> None:
    out, _ = _neuron()
    out.backward()
    svg = parse_svg(draw_graph(out).svg())
    names = [texts(g)[0] for g in groups(svg, "value")]
    # w1·x1 + w2·x2 + 6.881 is longer than SHORT_NAME: add1; so is tanh(add1)·0.5: mul1
    assert {"w1·x1", "w2·x2", "w1·x1+w2·x2", "add1", "tanh(add1)", "mul1"} <= set(names)
    assert not [n for n in names if "#" in n]


def test_no_two_nodes_share_a_name_and_operands_are_bracketed() -> None:
    a, b = Value(2.0, "a"), Value(3.0, "b")
    twice = a * b + a * b  # two mul nodes computing the same thing
    names = index_graph(twice).names
    assert len(set(names)) == len(names) and "a·b" in names and "mul1" in names
    assert {"a-b", "(a-b)²", "σ(a)", "(a-b)²·σ(a)"} <= set(index_graph((a - b) ** 2 * a.sigmoid()).names)
    assert len(max(index_graph(a * b * a * b * a).names, key=len)) <= SHORT_NAME


def test_a_constant_shows_its_value_and_no_gradient() -> None:
    out, _ = _neuron()
    out.backward()
    svg = parse_svg(draw_graph(out).svg())
    constants = groups(svg, "constant")
    assert sorted(texts(g)[0] for g in constants) == ["0.5", "6.881"]
    assert all(len(texts(g)) == 1 for g in constants)  # the value only: no data, no grad
    assert all("leaf" in (g.get("class") or "").split() for g in constants)
    assert not any(t.startswith("leaf") for t in texts(svg))


def test_chain_rule_on_an_unlabelled_graph_reads_as_a_chain() -> None:
    out, w1 = _neuron()
    text = chain_rule(out, w1).text()
    assert text.startswith("dmul1/dw1 = dmul1/dtanh(add1) . dtanh(add1)/dadd1 . dadd1/d(w1·x1+w2·x2) . "
                           "d(w1·x1+w2·x2)/d(w1·x1) . d(w1·x1)/dw1 = ")
    assert not re.search(r"(d\S+/d\S+) = \1\b", text)  # never d out/d w = d out/d w
    a, c = Value(2.0), Value(-3.0)
    assert chain_rule(a * c, a).text() == "d(2.0·(-3.0))/dwrt = -3.0 (one edge: the local gradient)"
    assert "path 1: dadd1/d(2.0·(-3.0)) . d(2.0·(-3.0))/dwrt = (1.0) . (-3.0) = -3.0" in chain_rule(a * c + a, a).text()


def test_a_graph_drawn_before_backward_says_so() -> None:
    out, _ = _neuron()
    assert any(NO_BACKWARD in t for t in texts(parse_svg(draw_graph(out).svg())))
    assert not any(NO_BACKWARD in t for t in texts(parse_svg(draw_flow(out).svg())))
    assert not any(NO_BACKWARD in t for t in texts(parse_svg(draw_graph(out, show_grad=False).svg())))
    out.backward()
    assert not any(NO_BACKWARD in t for t in texts(parse_svg(draw_graph(out).svg())))
