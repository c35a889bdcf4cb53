"""draw_graph / draw_flow on a traced program (engine.trace): SVG and DOT structure."""

from __future__ import annotations

import random
import re

import pytest
from tracegrad import nn
from tracegrad.engine import Value, trace
from tracegrad.viz import BackpropStepper, draw_flow, draw_graph

from tests.viz.helpers import by_id, groups, parse_svg, texts, tooltips


def small_trace():  # noqa: ANN201
    w, b = Value(0.7, "w"), Value(0.1, "b")

    def f(x: Value, y: Value) -> Value:
        z = w * x + b
        z.label = "z"
        return (z.sigmoid() - y) ** 2

    return trace(f, 0.5, 1.0, params=[w, b]), w, b, f


def test_slots_are_value_boxes_and_instructions_are_gates() -> None:
    g, *_ = small_trace()
    svg = parse_svg(draw_graph(g).svg())
    inputs = groups(svg, "slot-input")
    params = groups(svg, "slot-param")
    assert sorted(texts(el)[0] for el in inputs) == ["x0", "x1"]
    assert sorted(texts(el)[0] for el in params) == ["b", "w"]
    # one gate per instruction, each with its symbol and the op table's rule as tooltip
    gates = groups(svg, "op")
    assert len(gates) == len(g.ops) == 5
    names = sorted(c for el in gates for c in el.get("class").split() if c.startswith("op-"))
    assert names == ["op-add", "op-mul", "op-pow", "op-sigmoid", "op-sub"]
    (mul,) = groups(svg, "op-mul")
    assert texts(mul) == ["×"]
    (tip,) = tooltips(mul)
    assert "swap multiplier" in tip and "d(a*b)/da = b" in tip
    (sig,) = groups(svg, "op-sigmoid")
    assert "σ(x)(1 - σ(x))" in tooltips(sig)[0]
    # the labelled op result keeps its label; the root is the output slot
    z = [el for el in groups(svg, "value") if texts(el)[0] == "z"][0]
    assert texts(z)[1] == "data 0.45"  # 0.7 x 0.5 + 0.1
    (root,) = groups(svg, "root")
    assert texts(root)[-1] == "grad 1.0"
    # edges run from each slot into the gate that reads it
    n_edges = sum(len(ins.args) for ins in g.ops)
    assert len([e for e in groups(svg, "edge") if "grad" in (e.get("class") or "")]) == n_edges


def test_grads_equal_the_trace_backward_and_the_dynamic_engine() -> None:
    g, w, b, f = small_trace()
    g(2.0, 0.0)
    xg = g.backward(inputs=True)
    svg = parse_svg(draw_graph(g, inputs=(2.0, 0.0)).svg())

    def box(name: str) -> list[str]:
        return [texts(el) for el in groups(svg, "value") if texts(el)[0] == name][0]

    assert box("w") == ["w", "data 0.7", f"grad {_fmt(w.grad)}"]
    assert box("b") == ["b", "data 0.1", f"grad {_fmt(b.grad)}"]
    assert box("x0") == ["x0", "data 2.0", f"grad {_fmt(xg[0])}"]
    # the same numbers as the dynamic engine on fresh Values
    x, y = Value(2.0), Value(0.0)
    w.grad = b.grad = 0.0
    loss = f(x, y)
    loss.backward()
    assert box("z")[1:] == ["data 1.5", f"grad {_fmt(loss.parents[0].parents[0].parents[0].grad)}"]
    assert box("x1")[2] == f"grad {_fmt(y.grad)}"


def _fmt(x: float) -> str:
    from tracegrad.viz.graph import fmt

    return fmt(x)


def test_drawing_leaves_the_trace_and_its_params_untouched() -> None:
    g, w, b, _ = small_trace()
    g(2.0, 0.0)
    g.backward()
    before = (w.grad, b.grad, list(g.input_grads))
    draw_graph(g, inputs=(1.0, 1.0))
    draw_flow(g)
    assert (w.grad, b.grad, list(g.input_grads)) == before
    g.backward()  # the last replay is still the one backward differentiates
    assert w.grad == pytest.approx(2 * before[0])


def test_default_is_the_traced_example_and_source_is_deterministic() -> None:
    g, *_ = small_trace()
    src = draw_graph(g).source
    assert src == draw_graph(small_trace()[0]).source
    assert not re.search(r"\d{8,}", src)
    assert '"x0 | data 0.5 |' in src and '"x1 | data 1.0 |' in src
    flow = parse_svg(draw_flow(g).svg())
    assert by_id(flow, "legend") is not None
    assert len(groups(flow, "flow")) == sum(len(i.args) for i in g.ops)


def test_constants_and_show_flags() -> None:
    w = Value(2.0, "w")
    g = trace(lambda x: w * x + 3.0, 1.5, params=[w])
    svg = parse_svg(draw_graph(g, show_grad=False, show_local=False).svg())
    (const,) = groups(svg, "slot-const")
    assert texts(const) == ["c0", "data 3.0"]
    assert not any(t.startswith(("grad", "local", "carried")) for t in texts(svg))


def test_bad_inputs_raise_clear_errors() -> None:
    g, *_ = small_trace()
    with pytest.raises(ValueError, match="gives 3 numbers, the trace takes 2"):
        draw_graph(g, inputs=(1.0, 2.0, 3.0))
    with pytest.raises(TypeError, match="inputs= must be a tuple"):
        draw_graph(g, inputs=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="numbers, Values or lists"):
        draw_graph(g, inputs=("a", 1.0))
    with pytest.raises(ValueError, match="log"):
        draw_graph(trace(lambda x: x.log(), 1.0), inputs=(-1.0,))
    with pytest.raises(TypeError, match="inputs= applies to an engine.Trace only"):
        draw_graph(Value(1.0) * 2.0, inputs=(1.0,))
    with pytest.raises(TypeError, match="scalar"):
        BackpropStepper(g)  # type: ignore[arg-type]


def test_traced_mlp_collapses_by_layer() -> None:
    random.seed(1)
    model = nn.MLP(2, [4, 4, 1])

    def loss(x: list[Value], y: Value) -> Value:
        return (model(x) - y) ** 2

    g = trace(loss, [0.3, -0.2], 1.0, params=model.parameters())
    full = draw_graph(g)
    assert full.source.count("class=\"op ") == len(g.ops)
    svg = parse_svg(draw_graph(g, collapse="layer").svg())
    boxes = groups(svg, "group")
    titles = sorted(texts(el)[0] for el in boxes)
    assert titles == ["layers.0", "layers.1", "layers.2"]
    layer0 = [el for el in boxes if texts(el)[0] == "layers.0"][0]
    assert "4 neurons" in texts(layer0)
    assert any(t.endswith("parameters / constants") and t.startswith("12 ") for t in texts(layer0))
    # the loss gates (sub, pow) are outside every module and stay as gates
    assert {c for el in groups(svg, "op") for c in el.get("class").split()} >= {"op-sub", "op-pow"}
    assert len(groups(svg, "bundle")) >= 2
    with pytest.raises(ValueError, match="collapse"):
        draw_graph(g, max_nodes=20)


def test_default_follows_the_last_replay_until_a_batch() -> None:
    g, *_ = small_trace()
    g(2.0, 0.0)
    src = draw_graph(g).source
    assert '"x0 | data 2.0 |' in src and '"x1 | data 0.0 |' in src
    assert src == draw_graph(g, inputs=(2.0, 0.0)).source
    g.batch([0.1, 0.2], [1.0, 0.0])
    assert g.last_inputs is None
    assert '"x0 | data 0.5 |' in draw_graph(g).source  # back to the traced example
