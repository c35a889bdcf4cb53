"""engine.trace: a traced program replays exactly what the dynamic engine computes.

Random MLPs and random expression graphs (hypothesis) are traced at one input
and replayed at others (so routers and ReLUs re-decide), in both replay
forms (straight-line Python, grouped numpy) and over batches; the dynamic
engine is the reference, and PyTorch float64 checks both independently.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracegrad import engine
from tracegrad.engine import Trace, TraceMismatchError, Value, sum_values, trace

from tests.support import require

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXACT = 1e-12

# ---------------------------------------------------------------- helpers

ACTS: dict[str, Callable[[Value], Value]] = {
    "relu": lambda v: v.relu(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "leaky": lambda v: v.leaky_relu(0.1),
    "linear": lambda v: v,
}


class TinyMLP:
    """neuron = act(sum w*x + b), as micrograd's; built from engine Values only."""

    def __init__(self, nin: int, sizes: list[int], act: str, seed: int):
        rng = random.Random(seed)
        self.layers = []
        for nout in sizes:
            self.layers.append(
                [([Value(rng.uniform(-1, 1), f"w{len(self.layers)}") for _ in range(nin)], Value(0.1))
                 for _ in range(nout)]
            )
            nin = nout
        self.act = ACTS[act]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for w, b in layer for p in (*w, b)]

    def __call__(self, x: list[Any]) -> Value:
        for i, layer in enumerate(self.layers):
            x = [sum_values([wi * xi for wi, xi in zip(w, x)] + [b]) for w, b in layer]
            if i < len(self.layers) - 1:
                x = [self.act(v) for v in x]
        return x[0]


def hinge(model: TinyMLP, x: list[Any], y: Any) -> Value:
    return (1.0 - y * model(x)).relu()


def dynamic(model: TinyMLP, fn: Callable[..., Value], *args: Any) -> tuple[float, list[float]]:
    engine.zero_grad(model.parameters())
    out = fn(*args)
    out.backward()
    return out.data, [p.grad for p in model.parameters()]


def replayed(g: Trace, model: TinyMLP, *args: Any) -> tuple[float, list[float]]:
    engine.zero_grad(model.parameters())
    out = g(*args)
    g.backward()
    return out, [p.grad for p in model.parameters()]


def close(a: list[float], b: list[float], tol: float = EXACT) -> bool:
    return all(abs(x - y) <= tol * max(1.0, abs(x), abs(y)) for x, y in zip(a, b, strict=True))


mlps = st.builds(
    TinyMLP,
    nin=st.integers(1, 3),
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    act=st.sampled_from(sorted(ACTS)),
    seed=st.integers(0, 10_000),
)
coords = st.lists(st.floats(-3.0, 3.0, allow_nan=False), min_size=3, max_size=3)


# ---------------------------------------------------------------- random MLPs


@SETTINGS
@given(model=mlps, x0=coords, x1=coords, y=st.sampled_from([-1.0, 1.0]),
       replay=st.sampled_from(["python", "numpy"]))
def test_mlp_replay_equals_dynamic(model: TinyMLP, x0: list[float], x1: list[float], y: float,
                                   replay: str) -> None:
    nin = len(model.layers[0][0][0])
    fn = lambda x, t: hinge(model, x, t)  # noqa: E731
    g = Trace(fn, (x0[:nin], y), model.parameters(), replay=replay)
    for x in (x0[:nin], x1[:nin]):  # the traced point and a new one: routers re-decide
        want_out, want = dynamic(model, fn, [Value(v) for v in x], y)
        got_out, got = replayed(g, model, x, y)
        assert close([got_out], [want_out]) and close(got, want)
        if replay == "python":  # same rules, same order: bit for bit
            assert (got_out, got) == (want_out, want)


@SETTINGS
@given(model=mlps, rows=st.lists(coords, min_size=1, max_size=6),
       reduce=st.sampled_from(["mean", "sum"]))
def test_mlp_batch_equals_dynamic_mean(model: TinyMLP, rows: list[list[float]], reduce: str) -> None:
    nin = len(model.layers[0][0][0])
    X = np.array([r[:nin] for r in rows])
    y = np.array([1.0 if i % 2 else -1.0 for i in range(len(rows))])
    g = trace(lambda x, t: hinge(model, x, t), X[0].tolist(), y[0], params=model.parameters())

    def total() -> Value:
        s = sum_values([hinge(model, [Value(v) for v in x], t) for x, t in zip(X.tolist(), y)])
        return s * (1.0 / len(rows)) if reduce == "mean" else s

    want_out, want = dynamic(model, total)
    engine.zero_grad(model.parameters())
    got_out = g.batch(X, y, reduce=reduce)
    g.backward()
    assert close([got_out], [want_out], 1e-10)
    assert close([p.grad for p in model.parameters()], want, 1e-10)


@SETTINGS
@given(model=mlps, x=coords)
def test_mlp_trace_matches_torch_float64(model: TinyMLP, x: list[float]) -> None:
    torch = require("torch")
    nin = len(model.layers[0][0][0])
    g = trace(lambda xs: model(xs).tanh(), x[:nin], params=model.parameters())
    _, got = replayed(g, model, x[:nin])
    acts = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "leaky": lambda v: torch.nn.functional.leaky_relu(v, 0.1), "linear": lambda v: v}
    ps = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    it = iter(ps)
    h = [torch.tensor(v, dtype=torch.float64) for v in x[:nin]]
    for i, layer in enumerate(model.layers):
        nxt = []
        for w, _ in layer:
            ws = [next(it) for _ in w]
            b = next(it)
            z = sum((wi * hi for wi, hi in zip(ws, h)), torch.zeros((), dtype=torch.float64)) + b
            nxt.append(acts[model_act_name(model)](z) if i < len(model.layers) - 1 else z)
        h = nxt
    torch.tanh(h[0]).backward()
    assert close(got, [0.0 if p.grad is None else p.grad.item() for p in ps], 1e-9)


def model_act_name(model: TinyMLP) -> str:
    return next(k for k, f in ACTS.items() if f is model.act)


# ---------------------------------------------------------------- random expressions

# name -> f(a, b) on Values; domains kept safe so replay at new inputs never raises
EXPRESSIONS: dict[str, Callable[[Value, Value], Value]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 0.5),
    "neg": lambda a, b: -a,
    "pow3": lambda a, b: a**3,
    "sqrt": lambda a, b: (a * a + 0.1) ** 0.5,
    "pow_value": lambda a, b: (a * a + 0.5) ** b.tanh(),
    "exp": lambda a, b: a.tanh().exp(),
    "log": lambda a, b: (a * a + 0.1).log(),
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(),
    "leaky_relu": lambda a, b: a.leaky_relu(0.2),
    "abs": lambda a, b: a.abs(),
    "max": lambda a, b: a.max(b),
    "min": lambda a, b: a.min(b),
    "sum3": lambda a, b: sum_values([a, b, a, 1.5]),
    "const": lambda a, b: 2.0 * a - 1.0,
}


def build(program: list[tuple[str, int, int]], xs: list[Value], params: list[Value]) -> Value:
    nodes = [*xs, *params]
    for name, i, j in program:
        nodes.append(EXPRESSIONS[name](nodes[i % len(nodes)], nodes[j % len(nodes)]))
    return sum_values(nodes[len(xs) + len(params):] + [nodes[0]])


programs = st.lists(
    st.tuples(st.sampled_from(sorted(EXPRESSIONS)), st.integers(0, 1000), st.integers(0, 1000)),
    min_size=1, max_size=16,
)
points = st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=2, max_size=2)


@SETTINGS
@given(program=programs, a=points, b=points, replay=st.sampled_from(["python", "numpy"]))
def test_expression_replay_equals_dynamic(program: list[tuple[str, int, int]], a: list[float],
                                          b: list[float], replay: str) -> None:
    params = [Value(0.3, "p"), Value(-0.7, "q")]
    fn = lambda x0, x1: build(program, [x0, x1], params)  # noqa: E731
    g = Trace(fn, a, params, replay=replay)
    for point in (a, b):
        xs = [Value(v) for v in point]
        engine.zero_grad(params)
        want = fn(*xs)
        want.backward()
        want_grads = [p.grad for p in params] + [x.grad for x in xs]
        engine.zero_grad(params)
        got = g(*point)
        got_inputs = g.backward(inputs=True)
        got_grads = [p.grad for p in params] + got_inputs
        assert close([got], [want.data]) and close(got_grads, want_grads)


@SETTINGS
@given(program=programs, rows=st.lists(points, min_size=1, max_size=5))
def test_expression_batch_equals_per_sample(program: list[tuple[str, int, int]],
                                            rows: list[list[float]]) -> None:
    params = [Value(0.3, "p"), Value(-0.7, "q")]
    fn = lambda x0, x1: build(program, [x0, x1], params)  # noqa: E731
    g = trace(fn, *rows[0], params=params)
    X = np.array(rows)
    engine.zero_grad(params)
    got = g.batch(X[:, 0], X[:, 1], reduce="sum")
    per_input = g.backward(inputs=True)
    got_grads = [p.grad for p in params]
    engine.zero_grad(params)
    want = 0.0
    for i, row in enumerate(rows):
        xs = [Value(v) for v in row]
        out = fn(*xs)
        out.backward()
        want += out.data
        assert close([per_input[0][i], per_input[1][i]], [xs[0].grad, xs[1].grad], 1e-10)
    assert close([got], [want], 1e-10) and close(got_grads, [p.grad for p in params], 1e-10)


# ---------------------------------------------------------------- the program


def lecture_net() -> tuple[Callable[..., Value], list[Value]]:
    w = [Value(v, f"w{i + 1}") for i, v in enumerate([0.7, 0.3, 0.4, 0.6, 0.55, 0.45])]

    def cost(x1: Value, x2: Value, y: Value) -> Value:
        h1 = (w[0] * x1 + w[2] * x2).sigmoid()
        h2 = (w[1] * x1 + w[3] * x2).sigmoid()
        o1 = (w[4] * h1 + w[5] * h2).sigmoid()
        return (y - o1) ** 2

    return cost, w


def test_lecture_network_program_and_printout() -> None:
    cost, w = lecture_net()
    g = trace(cost, 0.5, 0.3, 1.0, params=w)
    assert g(0.5, 0.3, 1.0) == pytest.approx(0.126, abs=5e-4)
    assert [s.kind for s in g.slots].count("input") == 3 and len(g.params) == 6
    assert [i.op.name for i in g.ops].count("sigmoid") == 3
    for ins in g.ops:  # topological: every op reads slots made before it
        assert all(a < ins.out for a in ins.args)
    text = str(g)
    assert "w1 = param" in text and "= σ(" in text and "× x0" in text and text.endswith("return t" + str(
        len(g.ops) - 1))
    assert g.slots[g.output].kind == "op"


def test_params_default_to_every_non_input_leaf_and_constants_freeze() -> None:
    w = Value(2.0, "w")
    g = trace(lambda x: w * x + 1.0, 1.0)  # params=None: w and the wrapped 1.0 are parameters
    assert len(g.params) == 2 and any(p is w for p in g.params)
    assert sorted(p.data for p in g.params) == [1.0, 2.0]
    k = Value(3.0, "k")
    h = trace(lambda x: w * x + k, 1.0, params=[w])  # k unlisted: a constant
    k.data = 100.0
    assert h(1.0) == 5.0
    w.data = 4.0
    assert h(1.0) == 7.0  # parameters are read at every replay


def test_routers_redecide_on_replay() -> None:
    g = trace(lambda a, b: a.max(b) + a.relu(), 1.0, 2.0)
    assert g(3.0, 2.0) == 6.0
    assert g.backward(inputs=True) == [2.0, 0.0]
    assert g(-1.0, 2.0) == 2.0
    assert g.backward(inputs=True) == [0.0, 1.0]


def test_input_gradients_of_one_replay_are_floats_in_both_modes() -> None:
    for mode in ("python", "numpy"):
        g = trace(lambda a, b: a * a * b + 2.0, 3.0, 2.0, replay=mode)
        assert g(1.5, 4.0) == 11.0
        grads = g.backward(inputs=True)
        assert grads == [12.0, 2.25] and all(type(x) is float for x in grads), (mode, grads)
        assert g.input_grads == grads


def test_unused_inputs_and_nested_inputs() -> None:
    g = trace(lambda xs, y: xs[0][1] * 2.0, [[1.0, 2.0], [3.0, 4.0]], 5.0)
    assert g(np.array([[1.0, 7.0], [3.0, 4.0]]), 0.0) == 14.0
    assert g.backward(inputs=True) == [0.0, 2.0, 0.0, 0.0, 0.0]


def test_aux_results_reported() -> None:
    w = Value(0.5, "w")
    def f(x: Value) -> tuple[Value, list[Value]]:
        o = w * x
        return (o - 1.0) ** 2, [o]

    side = trace(lambda x: ((w * x - 1.0) ** 2, [(w * x).exp()]), 2.0, params=[w])
    assert side(2.0) == 0.0 and side.aux == [pytest.approx(np.e)]  # aux outside the loss's graph
    side.backward()
    assert w.grad == 0.0
    g = trace(f, 2.0, params=[w])
    assert g(4.0) == 1.0 and g.aux == [2.0]
    g.batch(np.array([[2.0], [4.0]]))
    assert g.aux[0].tolist() == [1.0, 2.0]


# ---------------------------------------------------------------- limitations, errors


def test_data_dependent_control_flow_is_detected_on_validate() -> None:
    def f(x: Value) -> Value:
        return x * 2.0 if x.data > 0 else x.exp()

    g = trace(f, 1.0)
    assert g(3.0, validate=True) == 6.0
    with pytest.raises(TraceMismatchError, match="op sequence"):
        g(-1.0, validate=True)
    frozen = trace(lambda x: x + Value(x.data * 2.0), 1.0)  # a leaf made from .data
    with pytest.raises(TraceMismatchError, match="parameters"):
        frozen.validate(5.0)


def test_errors_are_specific() -> None:
    with pytest.raises(TypeError, match="must return a Value"):
        trace(lambda x: 3.0, 1.0)
    with pytest.raises(TypeError, match="input 0"):
        trace(lambda x: x, "a")
    with pytest.raises(TypeError, match="callable"):
        trace(3.0, 1.0)  # type: ignore[arg-type]
    a = Value(1.0)
    with pytest.raises(ValueError, match="not a leaf"):
        trace(lambda x: x * a, 1.0, params=[a + 1.0])
    with pytest.raises(TypeError, match="params"):
        trace(lambda x: x, 1.0, params=[1.0])  # type: ignore[list-item]
    with engine.no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        trace(lambda x: x * 2.0, 1.0)
    g = trace(lambda x, y: x / y, 1.0, 2.0)
    with pytest.raises(RuntimeError, match="run the program first"):
        g.backward()
    with pytest.raises(ValueError, match="structure"):
        g(1.0)
    with pytest.raises(ZeroDivisionError, match=r"div: .*x1=0\.0"):
        g(1.0, 0.0)
    with pytest.raises(ValueError, match="reduce"):
        g.batch([1.0], [2.0], reduce="max")
    with pytest.raises(ValueError, match="samples"):
        g.batch([1.0, 2.0], [2.0])
    with pytest.raises(TypeError, match="seed gradient"):
        g(1.0, 2.0)
        g.backward("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="replay must be"):
        Trace(lambda x: x, (1.0,), None, replay="fast")


def test_failed_replay_keeps_the_last_good_one() -> None:
    w = Value(1.0, "w")
    g = trace(lambda x: (w * x).log(), 2.0, params=[w])
    assert g(2.0) == pytest.approx(np.log(2.0))
    with pytest.raises(ValueError, match="log"):
        g(-1.0)
    g.backward()  # still the gradient at x = 2
    assert w.grad == pytest.approx(1.0)


def test_numpy_replay_falls_back_to_exact_scalar_semantics_on_overflow() -> None:
    g = Trace(lambda x: x.exp(), (1.0,), None, replay="numpy")
    with pytest.raises(OverflowError, match="exp"):
        g(1000.0)
    assert g(0.0) == 1.0


# ---------------------------------------------------------------- training


def test_memory_is_flat_over_2000_steps_in_every_mode() -> None:
    import tracemalloc

    m = TinyMLP(2, [4, 4, 1], "relu", 1)
    ps = m.parameters()
    X = np.array([[0.5, 0.3], [-0.2, 0.8], [0.9, -0.4]])
    y = np.array([1.0, -1.0, 1.0])
    gp = Trace(lambda x, t: hinge(m, x, t), ([0.5, 0.3], 1.0), ps, replay="python")
    gn = Trace(lambda x, t: hinge(m, x, t), ([0.5, 0.3], 1.0), ps, replay="numpy")

    def dyn() -> None:
        engine.zero_grad(ps)
        hinge(m, [Value(0.5), Value(0.3)], 1.0).backward()

    def py() -> None:
        gp([0.5, 0.3], 1.0)
        gp.backward()

    def vec() -> None:
        gn([0.5, 0.3], 1.0)
        gn.backward()

    def bat() -> None:
        gn.batch(X, y)
        gn.backward()

    for mode in (dyn, py, vec, bat):
        for _ in range(50):
            mode()
        for size in (1, 2, 3, 4):  # fill CPython's bounded tuple free lists: not a leak
            junk = [tuple(range(i, i + size)) for i in range(2500)]
            del junk
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(500):
            mode()
        middle = tracemalloc.get_traced_memory()[0]
        for _ in range(1500):
            mode()
        end = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        # warm-up allocations (caches, free lists) settle in the first 500; then nothing grows.
        # The bound allows interpreter noise (< 44 B a step); one leaked node a step is >= 100 B.
        assert end - middle < 65_536, (mode.__name__, base, middle, end)


# ---------------------------------------------------------------- the n-ary sum's array form


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=3), min_size=1,
                max_size=130))
def test_sum_array_rule_rounds_like_the_scalar_rule(columns: list[list[float]]) -> None:
    SUM = engine.OPS["sum"]
    rows = np.array(columns)  # (n inputs, 3 samples)
    out, locs = SUM.array_fn(*rows)
    assert locs == (1.0,) * len(columns)  # a distributor: every local is 1
    for j in range(3):
        want, _ = SUM.fn(*rows[:, j].tolist())
        if len(columns) <= 64:
            assert out[j] == want  # the same left-to-right sum, bit for bit
        else:
            assert out[j] == pytest.approx(want, rel=1e-15, abs=1e-9)  # compensated vs math.fsum


def test_batch_replay_reads_the_sum_rule_from_the_op_table() -> None:
    ws = [Value(0.01 * (i - 50), f"w{i}") for i in range(100)]

    def wide(x: list[Value]) -> Value:  # one 100-input sum gate (the compensated array form)
        return sum_values([w * xi for w, xi in zip(ws, x)]).tanh()

    g = trace(wide, [0.1] * 100, params=ws, replay="numpy")
    rules = {grp.op.name: grp.rule for grp in g._groups}
    assert rules["sum"] is not None
    X = np.random.default_rng(0).normal(size=(6, 100))
    mean = g.batch(X)
    g.backward()
    batch_grads = [w.grad for w in ws]
    engine.zero_grad(ws)
    total = sum_values([wide([Value(v) for v in row]) for row in X.tolist()]) * (1 / 6)
    total.backward()
    assert mean == pytest.approx(total.data, rel=EXACT)
    assert batch_grads == pytest.approx([w.grad for w in ws], rel=EXACT, abs=1e-15)
    with pytest.raises(ValueError, match="needs at least one"):
        engine.OPS["sum"].array_fn()


# ---------------------------------------------------------------- audit: errors keep state, targets decide


def test_failed_batch_changes_neither_aux_nor_backward() -> None:
    w = Value(1.0, "w")
    g = trace(lambda x: ((w * x).exp(), [w * x]), 1.0, params=[w], replay="numpy")
    g.batch(np.array([1.0, 2.0]))
    aux = g.aux[0].tolist()
    with pytest.raises(OverflowError, match="exp"):
        g.batch(np.array([1.0, 1000.0]))
    g2 = trace(lambda x: ((w * x) * 1e300, [w * x]), 1.0, params=[w], replay="numpy")
    g2.batch(np.array([1.0]))
    with pytest.raises(FloatingPointError, match="sample 1"), np.errstate(over="ignore"):
        g2.batch(np.array([1.0, 1e10]))
    assert g2.aux[0].tolist() == [1.0]  # the last good batch's aux, as backward differentiates it
    g2.backward()
    assert w.grad == pytest.approx(1e300)
    assert g.aux[0].tolist() == aux
    with pytest.raises(TypeError, match="input 0 must be numbers"):
        g.batch(np.array(["a", "b"]))
    g.backward(np.float32(1.0))  # any real seed


def test_a_stabilising_shift_is_recomputed_for_every_sample() -> None:
    # log-sum-exp with m = max_shift(s): a frozen example max would make exp overflow (or underflow to
    # log 0) for rows far from the example; the stabiliser node re-decides per row and passes no gradient
    w = Value(1.5, "w")

    def lse(s: list[Value]) -> Value:
        m = engine.apply("max_shift", *[v * w for v in s])
        return sum_values([(v * w - m).exp() for v in s]).log() + m

    rows = [[0.5, -0.2, 0.1], [900.0, 880.0, -5.0], [-800.0, -790.0, -805.0]]
    g = trace(lse, rows[0], params=[w])
    for row in rows:
        g.validate(row)
        assert g(row) == lse([Value(v) for v in row]).data
    total = g.batch(rows, reduce="sum")
    w.grad = 0.0
    g.backward()
    batch_grad = w.grad
    w.grad = 0.0
    want = sum_values([lse([Value(v) for v in row]) for row in rows])
    want.backward()
    assert total == pytest.approx(want.data, rel=1e-15) and batch_grad == pytest.approx(w.grad, rel=1e-15)
    assert sum(ins.op == "max_shift" for ins in g.ops) == 1
