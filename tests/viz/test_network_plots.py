"""draw_network and the matplotlib plots (decision boundary, history, activations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import nn
from tracegrad.engine import Value
from tracegrad.viz import draw_network
from tracegrad.viz.plots import activation_curves, replay

from tests.support import require
from tests.viz.helpers import groups, parse_svg, texts


@pytest.fixture(scope="module")
def plt():  # noqa: ANN201
    mpl = require("matplotlib")
    mpl.use("Agg")  # tests never open windows
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


def test_network_picture_has_every_neuron_and_weight() -> None:
    model = nn.MLP(2, [3, 2, 1], seed=0)
    svg = parse_svg(draw_network(model).svg())
    assert [g.get("id") for g in groups(svg, "input")] == ["in0", "in1"]
    assert len(groups(svg, "hidden")) == 5 + 2  # 5 neurons plus 2 hidden-layer clusters
    assert len(groups(svg, "neuron")) == 6
    weights = groups(svg, "weight")
    assert len(weights) == 2 * 3 + 3 * 2 + 2 * 1
    for g in weights:
        _, i, j, k = g.get("id").replace("_", " ").replace("w", "w ").split()
        w = model.layers[int(i)].neurons[int(j)].w[int(k)].data
        assert ("positive" if w > 0 else "negative") in g.get("class").split()
        assert texts(g)  # small nets print the numbers
    assert any("edges: weight w" in t for t in texts(svg))
    assert any(t.startswith("layer 1 (hidden, relu)") for t in texts(svg))


def test_network_by_gradient_and_limits() -> None:
    model = nn.MLP(2, [4, 1], seed=1)
    out = model([0.5, -0.2])
    out.backward()
    svg = parse_svg(draw_network(model, show_grad=True, edge_labels=False).svg())
    assert any("gradient dL/dw" in t for t in texts(svg))
    assert not any(texts(g) for g in groups(svg, "weight"))
    with pytest.raises(ValueError, match="collapse='layer'"):
        draw_network(nn.MLP(2, [16, 16, 1]), max_edges=100)
    with pytest.raises(TypeError, match="MLP-like"):
        draw_network(Value(1.0))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=20))
def test_replay_on_arrays_equals_calling_the_model(points: list[tuple[float, float]]) -> None:
    model = nn.MLP(2, [5, 4, 1], activation="tanh", seed=3)
    xs = [Value(0.0), Value(0.0)]
    (out,) = replay([model(xs)], xs, [np.array([p[0] for p in points]),
                                      np.array([p[1] for p in points])])
    want = [model(list(p)).data for p in points]
    assert out.tolist() == pytest.approx(want, rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.floats(-8, 8, allow_nan=False))
def test_activation_derivatives_match_torch(x: float) -> None:
    torch = require("torch")
    fns = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01)}
    for name, fn in fns.items():
        if name in ("relu", "leaky_relu") and x == 0.0:
            continue  # the kink: conventions differ
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        y = fn(t)
        y.backward()
        (ys,), (ds,) = activation_curves(name, [x])
        assert math.isclose(ys, float(y.detach()), rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(ds, float(t.grad), rel_tol=1e-12, abs_tol=1e-15)


def test_plots_return_figures(plt) -> None:  # noqa: ANN001
    from tracegrad.viz import plot_activations, plot_decision_boundary, plot_history

    fig = plot_activations()
    assert len(fig.axes) == 4 and "σ'(z) = σ(z)(1 - σ(z))" in fig.axes[0].get_title()
    model = nn.MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=0)
    X, y = nn.data.moons(30, noise=0.1, seed=0)
    fig = plot_decision_boundary(model, X, y, resolution=40)
    assert fig.axes[0].get_title() == "decision boundary"
    fig = plot_history({"loss": [1.0, 0.5, 0.25], "metrics": {"accuracy": [0.5, 0.7, 0.9]}})
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="shape"):
        plot_decision_boundary(model, [[1.0, 2.0, 3.0]], [0])
    with pytest.raises(ValueError, match="labels"):
        plot_decision_boundary(model, X, y[:-1])
    with pytest.raises(TypeError, match="loss"):
        plot_history(42)
    with pytest.raises(ValueError, match="no epochs"):
        plot_history({"loss": []})
    with pytest.raises(ValueError, match="unknown activation"):
        plot_activations(["swish"])


@pytest.mark.parametrize("output_activation", [None, "sigmoid", "tanh"])
def test_decision_zones_of_a_tensor_model_equal_its_scalar_mlp(output_activation: str | None) -> None:
    from tracegrad.viz.plots import decision_zones

    for nout in (1, 3):
        mlp = nn.MLP(2, [5, nout], activation="tanh", output_activation=output_activation, seed=4)
        seq = mlp.to_sequential()
        points = np.random.default_rng(0).normal(size=(200, 2)) * 2
        scalar, tensor = decision_zones(mlp, points), decision_zones(seq, points)
        np.testing.assert_array_equal(tensor, scalar)
        assert len(np.unique(scalar)) > 1  # the test would notice a constant answer
        if nout == 1:  # the default cut: 0.5 after a sigmoid gate, else 0
            out = np.array([mlp(p.tolist()).data for p in points])
            np.testing.assert_array_equal(scalar, out > (0.5 if output_activation == "sigmoid" else 0.0))


def test_plot_decision_boundary_draws_a_tensor_model(plt) -> None:  # noqa: ANN001
    from tracegrad.viz import plot_decision_boundary

    seq = nn.Sequential(nn.Linear(2, 4, seed=0), nn.ReLU(), nn.Linear(4, 1, seed=1), nn.Sigmoid())
    X, y = nn.data.moons(30, noise=0.1, seed=0)
    fig = plot_decision_boundary(seq, np.array(X), np.array(y), resolution=30)
    assert fig.axes[0].get_title() == "decision boundary"
    assert all(p.grad is None for p in seq.parameters())  # evaluated without training state changes


def test_plot_activations_checks_its_range(plt) -> None:  # noqa: ANN001
    from tracegrad.viz import plot_activations

    with pytest.raises(ValueError, match="points must be an int >= 2, got 1"):
        plot_activations(points=1)
    with pytest.raises(TypeError, match="lo must be a number, got str"):
        plot_activations(lo="a")
