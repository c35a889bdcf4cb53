"""draw_graph, draw_flow and collapse: SVG structure (ids, classes, titles, text)."""

from __future__ import annotations

import re
import time

import pytest
from tracegrad.engine import Value
from tracegrad.viz import draw_flow, draw_graph
from tracegrad.viz.graph import scope_group

from tests.viz.helpers import by_id, groups, lecture_221, parse_svg, scoped_mlp, texts, tooltips


def neuron() -> Value:
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    out = a * b
    out.label = "out"
    return out


def test_value_boxes_show_label_data_grad_and_gates_their_rule() -> None:
    out = neuron()
    out.backward()
    svg = parse_svg(draw_graph(out).svg())
    values = groups(svg, "value")
    assert {g.get("id") for g in values} == {"n0", "n1", "n2"}
    assert len(groups(svg, "leaf")) == 2 and len(groups(svg, "root")) == 1
    a = [g for g in values if "a" in texts(g)][0]
    assert texts(a) == ["a", "data 2.0", "grad -3.0"]
    (mul,) = groups(svg, "op-mul")
    assert texts(mul) == ["×"]
    (tip,) = tooltips(mul)
    assert "swap multiplier" in tip and "d(a*b)/da = b" in tip
    edge_text = [t for g in groups(svg, "edge") for t in texts(g)]
    assert "local -3.0" in edge_text and "carried -3.0" in edge_text  # d out/da = b
    assert "local 2.0" in edge_text and "carried 2.0" in edge_text


def test_show_flags_drop_grads_and_locals() -> None:
    out = neuron()
    svg = parse_svg(draw_graph(out, show_grad=False, show_local=False).svg())
    all_text = texts(svg)
    assert not any(t.startswith("grad") or t.startswith("local") or t.startswith("carried")
                   for t in all_text)
    assert "data -6.0" in all_text


def test_fan_out_draws_two_edges_and_the_node_shows_their_sum() -> None:
    x = Value(3.0, "x")
    y = x + x
    y.label = "y"
    y.backward()
    svg = parse_svg(draw_graph(y).svg())
    e0, e1 = by_id(svg, "e1_0"), by_id(svg, "e1_1")
    for e in (e0, e1):
        assert "carried 1.0" in texts(e)
        assert "".join(e.find("{http://www.w3.org/2000/svg}title").itertext()) == "n0->op1"
    assert "grad 2.0" in texts(by_id(svg, "n0"))


def test_dot_source_is_deterministic_and_never_uses_id() -> None:
    sources = []
    for _ in range(2):
        C, _nodes = lecture_221()
        C.backward()
        sources.append(draw_graph(C).source)
    assert sources[0] == sources[1]
    assert not re.search(r"\d{8,}", sources[0])  # no id()-like numbers
    flows = [draw_flow(lecture_221()[0]).source for _ in range(2)]
    assert flows[0] == flows[1]


def test_unlabelled_nodes_get_stable_names() -> None:
    C, _ = lecture_221()
    text = texts(parse_svg(draw_graph(C).svg()))
    assert {"w1·x1", "w3·x2", "w2·x1", "w4·x2", "w5·h1", "w6·h2", "y-o1"} <= set(text)  # what each computes


def test_flow_colours_widths_and_dead_edges() -> None:
    a, b = Value(2.0, "a"), Value(5.0, "b")
    m = a.max(b)  # router: a loses
    r = Value(-1.0, "r").relu()  # dead ReLU
    out = m * Value(-2.0, "k") + r
    out.label = "out"
    svg_text = draw_flow(out).svg()
    svg = parse_svg(svg_text)
    dead = groups(svg, "dead")
    assert len(dead) == 2  # a's edge into max (the router's loser), r's into the dead ReLU
    for g in dead:
        path = g.find(".//{http://www.w3.org/2000/svg}path")
        assert path.get("stroke") == "#9e9e9e" and path.get("stroke-dasharray")
    pos, neg = groups(svg, "positive"), groups(svg, "negative")
    assert pos and neg
    widths = [float(g.find(".//{http://www.w3.org/2000/svg}path").get("stroke-width", "1"))
              for g in pos + neg]
    assert max(widths) > 3.0
    legend = by_id(svg, "legend")
    assert any("gradient flow" in t for t in texts(legend))
    assert a.grad == 0.0 and b.grad == 0.0  # private replay: real grads untouched


def test_flow_threshold_marks_saturated_sigmoid() -> None:
    z = Value(30.0, "z")
    s = z.sigmoid()
    s.label = "s"
    assert len(groups(parse_svg(draw_flow(s).svg()), "dead")) == 1
    assert len(groups(parse_svg(draw_flow(s, threshold=0.0).svg()), "dead")) == 0
    with pytest.raises(ValueError, match="threshold"):
        draw_flow(s, threshold=-1)


def test_collapse_by_neuron_and_layer() -> None:
    loss, params = scoped_mlp((2, 3, 3, 1))
    loss.backward()
    svg = parse_svg(draw_graph(loss, collapse="neuron").svg())
    boxes = groups(svg, "group")
    labels = [texts(b)[0] for b in boxes]
    assert sorted(labels) == sorted(
        [f"layers.{i}.neurons.{j}" for i, n in enumerate((3, 3, 1)) for j in range(n)])
    # parameters went into their neuron's box; the inputs stay visible
    leaf_names = {texts(g)[0] for g in groups(svg, "leaf")}
    assert {"x1", "x2"} <= leaf_names and not leaf_names & {"w1", "w2", "b"}
    svg = parse_svg(draw_graph(loss, collapse="layer").svg())
    labels = sorted(texts(b)[0] for b in groups(svg, "group"))
    assert labels == ["layers.0", "layers.1", "layers.2"]
    assert any("3 neurons" in t for t in texts(svg))
    bundles = groups(svg, "bundle")
    assert any("9 edges" in texts(b) for b in bundles)  # layer 0 -> layer 1: 3 x 3


def test_collapse_by_function() -> None:
    loss, _ = scoped_mlp((2, 2, 1))
    svg = parse_svg(draw_graph(loss, collapse=lambda s: "net" if s else None).svg())
    assert [texts(b)[0] for b in groups(svg, "group")] == ["net"]


def test_scope_group() -> None:
    assert scope_group("layers.1.neurons.3", "layer") == "layers.1"
    assert scope_group("layers.1.neurons.3", "neuron") == "layers.1.neurons.3"
    assert scope_group("enc.layers.0.neurons.2", "layer") == "enc.layers.0"
    assert scope_group("loss", "layer") is None and scope_group("", "neuron") is None


def test_max_nodes_error_suggests_collapse() -> None:
    loss, _ = scoped_mlp((2, 3, 3, 1))
    with pytest.raises(ValueError, match="collapse='neuron' or collapse='layer'"):
        draw_graph(loss, max_nodes=10)
    with pytest.raises(ValueError, match="collapsed graph still has"):
        draw_graph(loss, collapse="neuron", max_nodes=3)


def test_bad_arguments() -> None:
    out = neuron()
    with pytest.raises(TypeError, match="engine.Value"):
        draw_graph(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="collapse"):
        draw_graph(out, collapse="module")
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(out, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(out, max_nodes=0)


def test_labels_with_record_characters_are_escaped() -> None:
    v = Value(1.0, "a|b {c} <d>")
    w = v * 2
    svg = parse_svg(draw_graph(w).svg())
    assert "a|b {c} <d>" in texts(svg)


def test_mlp_337_collapses_by_layer_quickly() -> None:
    from tracegrad import nn

    model = nn.MLP(2, [16, 16, 1], seed=0)
    assert sum(1 for _ in model.parameters()) == 337
    X, y = nn.data.moons(8, noise=0.1, seed=1)
    loss = nn.losses.mse([model(x) for x in X], [float(t) for t in y])
    loss.backward()
    start = time.perf_counter()
    with pytest.raises(ValueError, match="collapse"):
        draw_graph(loss)
    svg = parse_svg(draw_graph(loss, collapse="layer").svg())
    elapsed = time.perf_counter() - start
    assert sorted(texts(b)[0] for b in groups(svg, "group")) == ["layers.0", "layers.1",
                                                                "layers.2"]
    assert elapsed < 5.0
    svg = parse_svg(draw_graph(model([0.3, -0.2]), collapse="neuron").svg())
    assert len(groups(svg, "group")) == 33
