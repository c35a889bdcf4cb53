"""engine.trace_fuse: a layer whose inputs are parameters (a penalty Σ p·p, a product of weights) keeps its numbers.

Such a layer reads its inputs from the parameters' vector, one column for every
sample, and sends their gradients straight to the parameters.  Random programs
(hypothesis: layer shapes, gates, a parameter, a per-sample or no bias, a weight
that is also an input, a parameter read twice) replayed over a batch fused,
grouped (``fuse=False``) and by the dynamic engine agree to 1e-12: values,
parameter gradients and input gradients; so does a one-sample replay.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracegrad import engine
from tracegrad.engine import Value, sum_values, trace

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXACT = 1e-12
GATES = ("relu", "tanh", "none")
BIASES = ("param", "sample", "none")


class ParamLayer:
    """``Σ_j gate(Σ_i w_ji q_i + b_j) · t + x_0 · v``: products of two parameters, then a per-sample term."""

    def __init__(self, m: int, k: int, gate: str, bias: str, shared: bool, twice: bool, seed: int) -> None:
        rng = random.Random(seed)
        self.q = [Value(rng.uniform(-1, 1)) for _ in range(k)]
        self.w = [[Value(rng.uniform(-1, 1)) for _ in range(k)] for _ in range(m)]
        self.b = [Value(rng.uniform(-1, 1)) for _ in range(m)]
        self.v = Value(rng.uniform(-1, 1))
        if shared:  # a weight that is also an input: its gradient has both edges
            self.w[0][0] = self.q[-1]
        self.gate, self.bias, self.twice = gate, bias, twice

    def parameters(self) -> list[Value]:
        return [*self.q, *(w for row in self.w for w in row), *self.b, self.v]

    def __call__(self, x: list[Value], t: Value) -> Value:
        qs = [*self.q[:-1], self.q[0]] if self.twice and len(self.q) > 1 else self.q  # q_0 read twice
        outs = []
        for row, b in zip(self.w, self.b):
            terms = [w * q for w, q in zip(row, qs)]
            if self.bias == "param":
                terms.append(b)
            elif self.bias == "sample":
                terms.append(x[0] * t)
            z = sum_values(terms)
            outs.append(z.relu() if self.gate == "relu" else z.tanh() if self.gate == "tanh" else z)
        return sum_values(outs) * t + x[0] * self.v


@st.composite
def cases(draw: Any) -> tuple[ParamLayer, np.ndarray, np.ndarray]:
    net = ParamLayer(draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.sampled_from(GATES)),
                     draw(st.sampled_from(BIASES)), draw(st.booleans()), draw(st.booleans()),
                     draw(st.integers(0, 2**16)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n = draw(st.integers(1, 5))
    return net, rng.uniform(-2, 2, size=(n, 2)), rng.uniform(-2, 2, size=n)


def batch_numbers(g: Any, params: list[Value], X: np.ndarray, y: np.ndarray) -> tuple[float, list[float], Any]:
    engine.zero_grad(params)
    out = g.batch(X, y)
    grads_x = g.backward(inputs=True)
    return out, [p.grad for p in params], np.array(grads_x)


def dynamic_numbers(net: ParamLayer, X: np.ndarray, y: np.ndarray) -> tuple[float, list[float], Any]:
    params = net.parameters()
    engine.zero_grad(params)
    total, grads_x = 0.0, []
    for row, t in zip(X, y):
        xs, tv = [Value(float(v)) for v in row], Value(float(t))
        out = net(xs, tv)
        out.backward(1.0 / len(y))
        total += out.data
        grads_x.append([v.grad for v in (*xs, tv)])
    return total / len(y), [p.grad for p in params], np.array(grads_x).T


def assert_same(a: tuple[float, list[float], Any], b: tuple[float, list[float], Any]) -> None:
    for got, want in zip(a, b):
        np.testing.assert_allclose(got, want, rtol=EXACT, atol=EXACT)


@SETTINGS
@given(cases())
def test_a_layer_over_parameters_replays_a_batch_as_grouped_replay_and_dynamic_engine(
        case: tuple[ParamLayer, np.ndarray, np.ndarray]) -> None:
    net, X, y = case
    params = net.parameters()
    fused = trace(net, X[0].tolist(), float(y[0]), params=params)
    grouped = trace(net, X[0].tolist(), float(y[0]), params=params, fuse=False)
    if len(net.q) > 1:  # the pattern under test is found (one product alone is no sum)
        assert any(d.x_params for d in fused.fused_plan().layers)
    want = dynamic_numbers(net, X, y)
    assert_same(batch_numbers(fused, params, X, y), want)
    assert_same(batch_numbers(grouped, params, X, y), want)


@SETTINGS
@given(cases())
def test_a_layer_over_parameters_replays_one_sample_as_the_straight_line_replay(
        case: tuple[ParamLayer, np.ndarray, np.ndarray]) -> None:
    net, X, y = case
    params = net.parameters()
    x, t = X[0].tolist(), float(y[0])
    results = []
    for g in (trace(net, x, t, params=params, replay="numpy"), trace(net, x, t, params=params, replay="python")):
        engine.zero_grad(params)
        out = g(x, t)
        grads_x = g.backward(inputs=True)
        results.append((out, [p.grad for p in params], grads_x))
    assert_same(results[0], results[1])


def test_the_penalty_program_reads_its_parameters_without_rows_of_its_own() -> None:
    ps = [Value(v) for v in (0.5, -1.5, 2.0)]
    g = trace(lambda: 0.1 * sum_values([p * p for p in ps]), params=ps, replay="numpy")
    (step,) = [s for s in g.fused_plan().steps if type(s).__name__ == "Dense"]
    # positions in the plan's parameter vector, not rows: weights and inputs one run (views, no gathers)
    assert step.x_params and step.inputs == slice(0, 3) and step.w_span == slice(0, 3)
    assert len(g.fused_plan().filled) < len(g.slots) - len(ps)
    for _ in range(2):  # leaves accumulate, as in the dynamic engine
        assert abs(g() - 0.1 * (0.25 + 2.25 + 4.0)) < EXACT
        g.backward()
    assert [p.grad for p in ps] == [0.4 * p.data for p in ps]


def test_the_view_says_a_layer_over_parameters_runs_once_per_batch() -> None:
    ps = [Value(v) for v in (0.5, -1.5, 2.0)]
    g = trace(lambda x: x * 0.1 * sum_values([p * p for p in ps]), 1.0, params=ps)
    assert "one (1×3) @ (3×1) product of parameters, once per batch" in g.fusion()


def test_an_mlp_plan_reads_its_weights_and_hidden_rows_as_views() -> None:
    """Weights and biases: one run of the plan's parameter vector each; hidden rows, group rows: runs of V."""
    rng = random.Random(0)
    sizes = [2, 4, 3, 1]
    layers = [[([Value(rng.uniform(-1, 1)) for _ in range(a)], Value(0.1)) for _ in range(b)]
              for a, b in zip(sizes, sizes[1:])]
    params = [p for layer in layers for ws, b in layer for p in (*ws, b)]

    def model(x: list[Value], t: Value) -> Value:
        for i, layer in enumerate(layers):
            x = [sum_values([w * xi for w, xi in zip(ws, x)] + [b]) for ws, b in layer]
            x = [v.relu() for v in x] if i < len(layers) - 1 else x
        return (1 + -t * x[0]).relu()

    g = trace(model, [0.5, -0.5], 1.0, params=params)
    dense = [s for s in g.fused_plan().steps if type(s).__name__ == "Dense"]
    assert len(dense) == 3
    assert all(d.w_span is not None and type(d.bias) is slice for d in dense)
    assert all(type(d.inputs) is slice for d in dense[1:])
    groups = [s for s in g.fused_plan().steps if type(s).__name__ == "Group"]
    assert groups and all(s.views is not None for s in groups)  # the hinge's one-op groups read views too
    X, y = np.array([[0.5, -0.5], [1.0, 2.0], [-1.0, 0.3]]), np.array([1.0, -1.0, 1.0])
    grouped = trace(model, [0.5, -0.5], 1.0, params=params, fuse=False)
    assert_same(batch_numbers(g, params, X, y), batch_numbers(grouped, params, X, y))
