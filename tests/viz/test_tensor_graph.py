"""draw_graph / draw_flow on Tensor roots, draw_network on nn.Sequential, the stepper's refusal."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import nn
from tracegrad.engine import Tensor, Value, cross_entropy
from tracegrad.viz import BackpropStepper, draw_flow, draw_graph, draw_network
from tracegrad.viz.graph import fmt
from tracegrad.viz.tensor_graph import norm

from tests.support import require
from tests.viz.helpers import by_id, groups, parse_svg, texts, tooltips


def small_net() -> tuple[nn.Sequential, Tensor, Tensor]:
    X = Tensor(np.arange(6.0).reshape(2, 3) / 6.0, label="X")
    net = nn.Sequential(nn.Linear(3, 2, seed=0), nn.ReLU(), nn.Linear(2, 3, seed=1))
    loss = cross_entropy(net(X), [0, 2])
    loss.label = "loss"
    return net, X, loss


def box(svg, label: str) -> list[str]:  # noqa: ANN001
    return [texts(el) for el in groups(svg, "value") if texts(el)[0] == label][0]


def test_tensor_boxes_show_shape_numbers_and_gates_from_the_op_tables() -> None:
    net, X, loss = small_net()
    loss.backward()
    svg = parse_svg(draw_graph(loss).svg())
    assert box(svg, "X") == ["X", "shape (2, 3)", "data [[0.0, 0.1667, 0.3333], [0.5, 0.6667, "
                             "0.8333]]", "grad none"]
    assert box(svg, "loss")[:3] == ["loss", "shape ()", f"data {fmt(float(loss.data))}"]
    assert len(groups(svg, "tensor")) == 9  # X, 2 weights, 2 biases, linear, relu, linear, CE
    assert {texts(el)[0] for el in groups(svg, "op-linear")} == {"Wx+b"}
    (ce,) = groups(svg, "op-cross_entropy")
    assert texts(ce) == ["CE"] and "softmax - one-hot" in tooltips(ce)[0]
    (relu,) = groups(svg, "op-relu")
    assert "gradient switch" in tooltips(relu)[0]  # the scalar op table's rule
    # 6 numbers or fewer: shown in full
    assert all(texts(el)[2].startswith("data [") for el in groups(svg, "param"))
    # edges carry the gradient's shape and Frobenius norm; the constant input gets none
    (w1_edge,) = [e for e in groups(svg, "edge") if e.get("id") == "e5_1"]
    W1 = net.layers[0].weight
    assert texts(w1_edge) == [f"grad (2, 3) ‖g‖ {fmt(norm(W1.grad))}"]
    assert texts(by_id(svg, "e5_0")) == ["no grad"]


def test_big_tensors_show_a_summary_and_unrun_graphs_show_no_grad() -> None:
    X = Tensor(np.arange(12.0).reshape(3, 4), label="X", requires_grad=True)
    out = (X * 2.0).sum()
    svg = parse_svg(draw_graph(out).svg())
    assert box(svg, "X") == ["X", "shape (3, 4)", "data mean 5.5 min 0.0 max 11.0", "grad none"]
    out.backward()
    svg = parse_svg(draw_graph(out, show_local=False).svg())
    assert box(svg, "X")[3] == "grad mean 2.0 min 2.0 max 2.0"
    (s,) = groups(svg, "op-reduce_sum")
    assert texts(s) == ["Σ"] and "distributor" in tooltips(s)[0]
    f32 = Tensor(np.ones(2, dtype=np.float32), label="h", requires_grad=True)
    assert "shape (2,) float32" in texts(parse_svg(draw_graph(f32.exp().sum()).svg()))


def test_flow_encodes_the_norm_per_edge_and_leaves_grads_alone() -> None:
    net, X, loss = small_net()
    src = draw_flow(loss).source
    assert src == draw_flow(loss).source and not re.search(r"\d{8,}", src)
    assert all(p.grad is None for p in net.parameters())  # private replay
    svg = parse_svg(draw_flow(loss).svg())
    flows = groups(svg, "flow")
    dead = groups(svg, "dead")
    assert len(flows) == 8 and len(dead) >= 1  # the constant X carries nothing
    assert by_id(svg, "legend") is not None
    loss.backward()
    W2 = net.layers[2].weight
    labels = [t.strip() for t in texts(by_id(svg, "e7_1"))]  # padded off its thick edge
    assert labels == [f"‖g‖ {fmt(norm(W2.grad))}"]
    widths = {e.get("id"): e for e in flows}
    assert widths  # every edge has an id
    with pytest.raises(ValueError, match="one-element root"):
        draw_flow(net(X))
    with pytest.raises(ValueError, match="collapse"):
        draw_graph(loss, collapse="layer")


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_edge_norms_match_torch(n: int, d: int, seed: int) -> None:
    torch = require("torch")
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, d)), rng.normal(size=(d, 2))
    A, B = Tensor(a, requires_grad=True, label="A"), Tensor(b, requires_grad=True, label="B")
    out = ((A @ B).tanh() * 3.0).mean()
    out.backward()
    ta = torch.tensor(a, requires_grad=True, dtype=torch.float64)
    tb = torch.tensor(b, requires_grad=True, dtype=torch.float64)
    ((ta @ tb).tanh() * 3.0).mean().backward()
    svg = parse_svg(draw_graph(out).svg())
    (mm,) = groups(svg, "op-matmul")
    mm_index = mm.get("id")[2:]
    assert texts(by_id(svg, f"e{mm_index}_0")) == [f"grad ({n}, {d}) ‖g‖ {fmt(float(ta.grad.norm()))}"]
    assert texts(by_id(svg, f"e{mm_index}_1")) == [f"grad ({d}, 2) ‖g‖ {fmt(float(tb.grad.norm()))}"]


def test_draw_network_on_a_sequential() -> None:
    net = nn.Sequential(nn.Linear(3, 4, seed=0), nn.Tanh(), nn.Linear(4, 2, seed=1), nn.Sigmoid())
    svg = parse_svg(draw_network(net).svg())
    assert len(groups(svg, "input")) == 3
    assert len(groups(svg, "neuron")) == 6
    assert len([e for e in groups(svg, "weight")]) == 3 * 4 + 4 * 2
    titles = [texts(by_id(svg, f"layer{i}"))[0] for i in range(2)]
    assert titles == ["layer 1 (hidden, tanh)", "layer 2 (output, sigmoid)"]
    W = net.layers[2].weight.data  # (nout, nin): row j is neuron j's incoming weights
    edge = by_id(svg, "w1_1_3")
    assert f"layers.2.weight[1, 3] = {fmt(float(W[1, 3]))}" in tooltips(edge)[0]
    # same picture as the equivalent MLP
    mlp = net.to_mlp()
    same = parse_svg(draw_network(mlp).svg())
    assert [texts(e) for e in groups(same, "weight")] == [texts(e) for e in groups(svg, "weight")]
    # by gradient, after a backward
    net(Tensor(np.ones((2, 3)))).sum().backward()
    by_grad = parse_svg(draw_network(net, show_grad=True, edge_labels=True).svg())
    g = net.layers[0].weight.grad
    assert texts(by_id(by_grad, "w0_2_1")) == [fmt(float(g[2, 1]))]
    nobias = nn.Sequential(nn.Linear(2, 1, bias=False, seed=0))
    assert "no bias" in tooltips(by_id(parse_svg(draw_network(nobias).svg()), "L0N0"))[0]


def test_draw_network_rejects_what_it_cannot_draw() -> None:
    with pytest.raises(TypeError, match="Embedding"):
        draw_network(nn.Sequential(nn.Embedding(5, 2), nn.Flatten(), nn.Linear(2, 1)))
    with pytest.raises(ValueError, match="must follow a Linear"):
        draw_network(nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    with pytest.raises(ValueError, match="takes 3 inputs but the layer before gives 2"):
        draw_network(nn.Sequential(nn.Linear(2, 2), nn.Linear(3, 1)))


def test_stepper_is_scalar_only_with_a_clear_message() -> None:
    _, _, loss = small_net()
    with pytest.raises(TypeError, match=r"scalar \(engine.Value\) graphs only, got an engine.Tensor"):
        BackpropStepper(loss)  # type: ignore[arg-type]
    BackpropStepper(Value(2.0) * 3.0)  # Values still step
