"""engine.trace_fuse: layers of neurons replayed as matrix products give the grouped replay's numbers.

Random scalar MLPs (hypothesis) with random layer shapes, activations, sums
(one n-ary ``sum`` or micrograd's chain of ``+``) and quirks that break the
pattern for some neurons (fewer inputs, no bias, a constant bias, an extra
term, a shared weight, a product read twice, another gate, an input read
twice) are replayed over a batch fused, grouped (``fuse=False``) and by the
dynamic engine: values, parameter gradients and input gradients agree to
1e-12.  Programs with nothing to fuse keep the grouped replay; the view names
what was fused into what.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracegrad import engine, nn
from tracegrad.engine import Value, sum_values, trace, trace_program

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXACT = 1e-12

ACTS: dict[str, Callable[[Value], Value]] = {
    "relu": lambda v: v.relu(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "linear": lambda v: v,
}
QUIRKS = ("fewer", "swapped", "nobias", "constbias", "extra", "shared", "reused", "scaled", "gate", "double",
          "dupx")


class Net:
    """A micrograd-style MLP written by hand (a neuron loop over Values), with per-neuron quirks."""

    def __init__(self, nin: int, sizes: list[int], acts: list[str], quirks: dict[tuple[int, int], str],
                 seed: int, plain: bool = False) -> None:
        rng = random.Random(seed)
        self.layers = []
        for nout in sizes:
            self.layers.append([([Value(rng.uniform(-1, 1)) for _ in range(nin + 1)], Value(rng.uniform(-1, 1)))
                                for _ in range(nout)])
            nin = nout
        self.acts, self.quirks, self.plain = acts, quirks, plain

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for w, b in layer for p in (*w, b)]

    def neuron(self, i: int, j: int, x: list[Value], extras: list[Value]) -> Value:
        w, b = self.layers[i][j]
        quirk = self.quirks.get((i, j))
        xs = x[:-1] if quirk == "fewer" and len(x) > 1 else x + [x[0]] if quirk == "dupx" else x
        ws = [self.layers[i][0][0][0], *w[1:]] if quirk == "shared" else w
        prods = [xi * wi if quirk == "swapped" else wi * xi for wi, xi in zip(ws, xs)]
        if quirk == "reused":
            extras.append(prods[0])
        if quirk == "scaled":
            prods[0] = prods[0] * 2.0
        if self.plain:  # Python's sum: a chain of binary adds, not one n-ary sum
            z = sum(prods, b)
        elif quirk == "nobias":
            z = sum_values(prods)
        elif quirk == "constbias":
            z = sum_values(prods, start=0.5)
        elif quirk == "extra":
            z = sum_values([*prods, b, x[0].tanh()])
        else:
            z = sum_values([*prods, b])
        if quirk == "double":
            extras.append(z)
        act = self.acts[i]
        if quirk == "gate":  # another gate than its layer's
            act = "sigmoid" if act == "tanh" else "tanh"
        return ACTS[act](z)

    def __call__(self, x: list[Value], t: Value) -> Value:
        extras: list[Value] = []
        for i, layer in enumerate(self.layers):
            x = [self.neuron(i, j, x, extras) for j in range(len(layer))]
        return sum_values(x) * t + sum_values(extras) if extras else sum_values(x) * t


@st.composite
def nets(draw: Any) -> tuple[Net, np.ndarray, np.ndarray]:
    nin = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    acts = [draw(st.sampled_from(sorted(ACTS))) for _ in sizes]
    picks = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4), st.sampled_from(QUIRKS)), max_size=4))
    quirks = {(i, j): q for i, j, q in picks if i < len(sizes) and j < sizes[i]}
    n = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    net = Net(nin, sizes, acts, quirks, draw(st.integers(0, 2**16)), draw(st.booleans()))
    return net, rng.uniform(-2, 2, size=(n, nin)), rng.uniform(-2, 2, size=n)


def batch_numbers(g: Any, params: list[Value], X: np.ndarray, y: np.ndarray) -> tuple[float, list[float], Any]:
    """Mean output, parameter gradients and per-sample input gradients of one batch replay."""
    engine.zero_grad(params)
    out = g.batch(X, y)
    grads_x = g.backward(inputs=True)
    return out, [p.grad for p in params], np.array(grads_x)


def dynamic_numbers(net: Net, params: list[Value], X: np.ndarray, y: np.ndarray) -> tuple[float, list[float], Any]:
    """The same by the dynamic engine: one graph per sample, each seeded with 1/n."""
    engine.zero_grad(params)
    n = len(y)
    total, grads_x = 0.0, []
    for row, t in zip(X, y):
        xs, tv = [Value(float(v)) for v in row], Value(float(t))
        out = net(xs, tv)
        out.backward(1.0 / n)
        total += out.data
        grads_x.append([v.grad for v in (*xs, tv)])
    return total / n, [p.grad for p in params], np.array(grads_x).T


def assert_same(a: tuple[float, list[float], Any], b: tuple[float, list[float], Any]) -> None:
    np.testing.assert_allclose(a[0], b[0], rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(a[1], b[1], rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(a[2], b[2], rtol=EXACT, atol=EXACT)


def traced(net: Net, X: np.ndarray, y: np.ndarray, fuse: bool) -> Any:
    return trace(net, X[0].tolist(), float(y[0]), params=net.parameters(), fuse=fuse)


# ---------------------------------------------------------------- the numbers


@SETTINGS
@given(nets())
def test_fused_batch_replay_equals_grouped_replay_and_dynamic_engine(case: tuple[Net, np.ndarray, np.ndarray]) -> None:
    net, X, y = case
    params = net.parameters()
    fused, grouped = traced(net, X, y, True), traced(net, X, y, False)
    want = dynamic_numbers(net, params, X, y)
    assert_same(batch_numbers(fused, params, X, y), want)
    assert_same(batch_numbers(grouped, params, X, y), want)
    # a quirk-free network fuses at least its first layer
    if not net.quirks:
        assert fused.fused_plan().layers


class Unfusable:
    """Products of inputs, parameters added after a gate: no sum of parameter × input products."""

    def __init__(self, nin: int, pairs: list[tuple[int, int]], seed: int) -> None:
        rng = random.Random(seed)
        self.pairs = [(i % nin, j % nin) for i, j in pairs]
        self.ps = [Value(rng.uniform(-1, 1)) for _ in pairs]

    def parameters(self) -> list[Value]:
        return self.ps

    def __call__(self, x: list[Value], t: Value) -> Value:
        terms = [((x[i] * x[j]).tanh() + p).relu() for (i, j), p in zip(self.pairs, self.ps)]
        return sum_values(terms) * t


@SETTINGS
@given(st.integers(1, 4), st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=6),
       st.integers(1, 6), st.integers(0, 2**16))
def test_a_program_with_nothing_to_fuse_keeps_the_grouped_replay(nin: int, pairs: list[tuple[int, int]], n: int,
                                                                 seed: int) -> None:
    net = Unfusable(nin, pairs, seed)
    rng = np.random.default_rng(seed)
    X, y = rng.uniform(-2, 2, size=(n, nin)), rng.uniform(-2, 2, size=n)
    params = net.parameters()
    g = trace(net, X[0].tolist(), float(y[0]), params=params)
    assert g.fused_plan().layers == ()
    assert "no layer found" in g.fusion()
    assert_same(batch_numbers(g, params, X, y), dynamic_numbers(net, params, X, y))  # type: ignore[arg-type]


@SETTINGS
@given(nets(), st.booleans())
def test_one_sample_replay_fused_equals_the_straight_line_replay(case: tuple[Net, np.ndarray, np.ndarray],
                                                                 fuse: bool) -> None:
    net, X, y = case
    params = net.parameters()
    x, t = X[0].tolist(), float(y[0])
    fast = trace(net, x, t, params=params, replay="numpy", fuse=fuse)
    line = trace(net, x, t, params=params, replay="python")
    results = []
    for g in (fast, line):
        engine.zero_grad(params)
        out = g(x, t)
        grads_x = g.backward(inputs=True)
        results.append((out, [p.grad for p in params], grads_x))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(np.ravel(results[0][2]), np.ravel(results[1][2]), rtol=EXACT, atol=EXACT)


def test_a_penalty_sum_of_squares_fuses_into_one_product_and_keeps_its_gradient() -> None:
    ps = [Value(v) for v in (0.5, -1.5, 2.0)]
    g = trace(lambda: 0.1 * sum_values([p * p for p in ps]), params=ps, replay="numpy")
    assert g.fused_plan().layers[0].weights.shape == (1, 3)
    assert abs(g() - 0.1 * (0.25 + 2.25 + 4.0)) < EXACT
    g.backward()
    assert [p.grad for p in ps] == [0.2 * p.data for p in ps]


# ---------------------------------------------------------------- the view


def micrograd_mlp(seed: int = 0, chain: bool = False) -> tuple[Callable[..., Value], list[Value]]:
    """micrograd's MLP(2, [16, 16, 1]), written as a loop over Values (no nn class).

    ``chain``: micrograd's own neuron, ``sum((w * x ...), b)``: a chain of binary ``+``.
    """
    rng = random.Random(seed)
    sizes = [2, 16, 16, 1]
    layers = [[([Value(rng.uniform(-1, 1)) for _ in range(a)], Value(0.0)) for _ in range(b)]
              for a, b in zip(sizes, sizes[1:])]

    def model(x: list[Value]) -> Value:
        for i, layer in enumerate(layers):
            if chain:
                x = [sum((w * xi for w, xi in zip(ws, x)), b) for ws, b in layer]
            else:
                x = [sum_values([w * xi for w, xi in zip(ws, x)] + [b]) for ws, b in layer]
            if i < len(layers) - 1:
                x = [v.relu() for v in x]
        return x[0]

    return model, [p for layer in layers for ws, b in layer for p in (*ws, b)]


@pytest.mark.parametrize("chain", [False, True])
def test_a_hand_written_neuron_loop_compiles_into_three_products_and_the_view_says_so(chain: bool) -> None:
    model, params = micrograd_mlp(chain=chain)
    g = trace(lambda x, t: (1 + -t * model(x)).relu(), [0.1, 0.2], 1.0, params=params)
    X, y = np.random.default_rng(0).normal(size=(100, 2)), np.ones(100)
    g.batch(X, y)
    text = g.fusion()
    assert "layer 1: 16 neurons × 2 inputs → one (100×2) @ (2×16) product + bias, then relu" in text
    assert "layer 2: 16 neurons × 16 inputs → one (100×16) @ (16×16) product + bias, then relu" in text
    assert "layer 3: 1 neuron × 16 inputs → one (100×16) @ (16×1) product + bias" in text
    assert f"{len(g.ops) - 4} of {len(g.ops)} ops fused" in text  # all but the hinge's neg, ×, +, relu


def test_the_view_says_all_ops_fused_when_nothing_is_left_grouped() -> None:
    model, params = micrograd_mlp()
    g = trace(model, [0.1, 0.2], params=params)  # the network alone: every op is in a layer
    g.batch(np.random.default_rng(0).normal(size=(8, 2)))
    assert g.fusion().splitlines()[-1] == f"  all {len(g.ops)} ops fused"


def test_print_still_shows_the_scalar_program_and_fuse_false_fuses_nothing() -> None:
    model, params = micrograd_mlp()
    fused = trace(lambda x: model(x), [0.1, 0.2], params=params)
    plain = trace(lambda x: model(x), [0.1, 0.2], params=params, fuse=False)
    assert str(fused) == str(plain)
    assert "t0 = " in str(fused) and "ReLU" in str(fused)
    assert "fuse=False" in plain.fusion()
    X = np.random.default_rng(1).normal(size=(5, 2))
    fused.batch(X)
    plain.batch(X)
    assert fused._last[4] is not None and plain._last[4] is None  # which replay ran


# ---------------------------------------------------------------- training


def test_fit_with_trace_runs_the_compiled_replay_and_trains_like_the_dynamic_engine(monkeypatch: Any) -> None:
    calls = []
    real = trace_program.run_fused

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(trace_program, "run_fused", counting)
    X = np.random.default_rng(0).normal(size=(24, 2))
    y = np.where(X[:, 0] * X[:, 1] > 0, 1, -1)
    models = []
    for traced_fit in (False, True):
        model = nn.MLP(2, [8, 8, 1], seed=3)
        history = nn.fit(model, X, y, loss="hinge", l2=1e-4, optimizer=nn.SGD(model, lr=0.1), epochs=3,
                         batch_size=8, seed=0, progress=False, trace=traced_fit)
        models.append((history, model))
    (h0, m0), (h1, m1) = models
    assert len(calls) == 3 * 3  # every step of the traced fit: 3 epochs x 3 batches
    np.testing.assert_allclose(h1.loss, h0.loss, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose([p.data for p in m1.parameters()], [p.data for p in m0.parameters()],
                               rtol=EXACT, atol=EXACT)


# ---------------------------------------------------------------- memory


def test_fused_batch_memory_is_flat_over_2000_steps() -> None:
    model, params = micrograd_mlp()
    g = trace(lambda x, t: (1 + -t * model(x)).relu(), [0.1, 0.2], 1.0, params=params)
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.sign(np.random.default_rng(1).normal(size=20))

    def step() -> None:
        engine.zero_grad(params)
        g.batch(X, y)
        g.backward()

    for _ in range(50):
        step()
    tracemalloc.start()
    try:
        for _ in range(500):
            step()
        middle = tracemalloc.get_traced_memory()[0]
        for _ in range(1500):
            step()
        growth = tracemalloc.get_traced_memory()[0] - middle
    finally:
        tracemalloc.stop()
    assert growth < 65_536, growth  # interpreter noise only; one kept slot matrix is ~110 KB
