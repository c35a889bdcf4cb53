"""A new op is one entry: ``define_op`` once, and every path of the engine reads it from the table.

Three gates are defined here the way a user would, at module level: a unary one (softplus), a
binary one (hypot) and an n-ary one (a sum of squares).  Each is then driven through every path:
Value forward/backward, Tensor forward/backward with broadcasting, ``engine.trace`` (Python and
batched replay), the diagrams and the stepper, ``gradcheck``, ``engine.grad`` with
``create_graph=True`` and pickling.  Bad definitions fail at definition time.

The gates leave the shared table as soon as they are defined and join it again around each test
here (the ``registered`` fixture): other test modules check that the table holds the built-in
ops only.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import engine, viz
from tracegrad.engine import OPS, TENSOR_OPS, Tensor, Value, define_op, grad, gradcheck, trace

softplus = define_op(
    "softplus_t",
    forward=lambda m, x: m.log(1 + m.exp(x)),
    local_grads=lambda m, x, out: (m.sigmoid(x),),
    symbol="softplus",
    gate="softplus gate",
    formula="d softplus(x)/dx = σ(x)",
)
hypot = define_op(
    "hypot_t",
    forward=lambda m, a, b: (a * a + b * b) ** 0.5,
    local_grads=lambda m, a, b, out: (a / out, b / out),
)
sumsq = define_op(
    "sumsq_t",
    forward=lambda m, *xs: m.sum(*[x * x for x in xs]),
    local_grads=lambda m, *xs, out: tuple(2.0 * x for x in xs),
)
DEFINED = {g.op.name: g.op for g in (softplus, hypot, sumsq)}
for _name in DEFINED:
    del OPS[_name]  # out of the shared table until a test here runs (see the module docstring)


@pytest.fixture(autouse=True)
def registered() -> Any:
    OPS.update(DEFINED)
    yield
    for name in DEFINED:
        OPS.pop(name, None)


def sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def sp(x: float) -> float:
    """softplus as the rule writes it (log(1 + e^x), not log1p: the engine runs the rule as given)."""
    return math.log(1.0 + math.exp(x))


def real(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


NONZERO = real(-5.0, 5.0).filter(lambda v: abs(v) > 0.1)


def f_scalar(x1: Any, x2: Any, w: Any) -> Any:
    """A function of two inputs and a parameter that uses all three gates."""
    return softplus(x1 * w) + hypot(x1, x2 + 2.0) * w + sumsq(x1, x2, w, x1) * 0.25


# ---------------------------------------------------------------- the entry


def test_each_gate_joins_the_table_with_its_arity_words_and_formula() -> None:
    sp_op, hy_op, sq_op = (OPS[name] for name in ("softplus_t", "hypot_t", "sumsq_t"))
    assert softplus.op is sp_op and hypot.op is hy_op and sumsq.op is sq_op
    assert (sp_op.arity, hy_op.arity, sq_op.arity) == (1, 2, -1)
    assert sp_op.gate == "softplus gate" and sp_op.symbol == "softplus"
    assert sp_op.formula == "d softplus(x)/dx = σ(x)"
    assert hy_op.gate == "hypot_t gate" and hy_op.symbol == "hypot_t"
    assert hy_op.formula == "dhypot_t/dx1 = x1 / hypot_t, dhypot_t/dx2 = x2 / hypot_t"  # from the rule's text
    assert sq_op.formula == "dsumsq_t/dx1 = 2·x1, dsumsq_t/dx2 = 2·x2"
    assert sp_op.fn is not None and sp_op.array_fn is not None
    assert sp_op.local_text(["z"], "o") == ("σ(z)",)
    assert hy_op.local_text(["a", "b"], "h") == ("a / h", "b / h")
    assert sq_op.local_text(["a", "b", "c"], "s") == ("2·a", "2·b", "2·c")
    assert hy_op.forward_text(["a", "b"]) == "hypot_t(a, b)"
    assert "softplus_t" in repr(softplus) and "softplus gate" in repr(softplus)


def test_the_gates_rule_runs_on_floats_arrays_and_text_alike() -> None:
    op = OPS["hypot_t"]
    out, local = op.fn(3.0, 4.0)
    assert (out, local) == (5.0, (0.6, 0.8))
    aout, alocal = op.array_fn(np.array([3.0, 5.0]), np.array([4.0, 12.0]))
    assert aout.tolist() == [5.0, 13.0]
    assert [a.tolist() for a in alocal] == [[0.6, 5 / 13], [0.8, 12 / 13]]
    out, local = OPS["sumsq_t"].fn(1.0, 2.0, 3.0)
    assert (out, local) == (14.0, (2.0, 4.0, 6.0))


# ---------------------------------------------------------------- Value


@settings(max_examples=40, deadline=None)
@given(x=real(-30.0, 30.0), a=NONZERO, b=NONZERO, xs=st.lists(real(-5.0, 5.0), min_size=1, max_size=5))
def test_value_forward_and_backward_match_the_closed_forms(x, a, b, xs) -> None:
    v = Value(x, "x")
    y = softplus(v)
    assert y.op == "softplus_t" and y.parents == (v,)
    assert y.data == sp(x)
    y.backward()
    assert v.grad == pytest.approx(sig(x), rel=1e-12)

    va, vb = Value(a, "a"), Value(b, "b")
    h = hypot(va, vb)
    h.backward()
    r = math.hypot(a, b)
    assert h.data == pytest.approx(r, rel=1e-14)
    assert (va.grad, vb.grad) == pytest.approx((a / r, b / r), rel=1e-13)

    vs = [Value(t) for t in xs]
    s = sumsq(*vs)
    assert s.op.arity == -1 and s.parents == tuple(vs)
    s.backward()
    assert s.data == pytest.approx(sum(t * t for t in xs), rel=1e-14, abs=1e-300)
    assert [q.grad for q in vs] == pytest.approx([2 * t for t in xs], rel=1e-15)


def test_a_gate_takes_plain_numbers_and_repeated_inputs() -> None:
    y = softplus(0.5)
    assert type(y) is Value and y.data == pytest.approx(sp(0.5))
    x = Value(1.5)
    s = sumsq(x, x, 2.0)  # fan-out: two edges into x add up
    s.backward()
    assert s.data == pytest.approx(1.5 * 1.5 * 2 + 4.0) and x.grad == pytest.approx(6.0)


# ---------------------------------------------------------------- Tensor


def test_tensor_forward_and_backward_broadcast() -> None:
    A = Tensor([[3.0], [1.0]], requires_grad=True)  # (2, 1)
    B = Tensor([4.0, 2.0, 0.5], requires_grad=True)  # (3,)
    H = hypot(A, B)
    assert H.shape == (2, 3) and H.op == "hypot_t"
    a, b = A.data, B.data
    r = np.hypot(a, b)
    np.testing.assert_allclose(H.data, r, rtol=1e-14)
    H.sum().backward()
    np.testing.assert_allclose(A.grad, (a / r).sum(axis=1, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(B.grad, (b / r).sum(axis=0), rtol=1e-13)

    X = Tensor(np.linspace(-3.0, 3.0, 6).reshape(2, 3), requires_grad=True)
    Y = softplus(X)
    np.testing.assert_allclose(Y.data, np.log1p(np.exp(X.data)), rtol=1e-13)
    (Y * Y).sum().backward()
    np.testing.assert_allclose(X.grad, 2 * Y.data / (1 + np.exp(-X.data)), rtol=1e-13)

    P = Tensor([1.0, -2.0], requires_grad=True)
    Q = Tensor([[0.5], [3.0]], requires_grad=True)
    S = sumsq(P, Q, np.array([1.0, 1.0]))  # a constant array joins as a leaf
    assert S.shape == (2, 2)
    np.testing.assert_allclose(S.data, P.data**2 + Q.data**2 + 1.0)
    S.sum().backward()
    np.testing.assert_allclose(P.grad, 2 * P.data * 2)
    np.testing.assert_allclose(Q.grad, 2 * Q.data * 2)


def test_float32_tensors_stay_float32_through_a_gate() -> None:
    X = Tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    Y = hypot(X, 2.0)
    assert Y.dtype == np.float32
    Y.sum().backward()
    assert X.grad.dtype == np.float32
    np.testing.assert_allclose(X.grad, X.data / np.hypot(X.data, 2.0), rtol=1e-6)


# ---------------------------------------------------------------- trace


def dynamic(x1: float, x2: float, w: Value) -> tuple[float, float, float, float]:
    """Output, d/dx1, d/dx2 and d/dw by the dynamic engine (w.grad left as it was)."""
    before = w.grad
    a, b = Value(x1), Value(x2)
    w.grad = 0.0
    out = f_scalar(a, b, w)
    out.backward()
    dw = w.grad
    w.grad = before
    return out.data, a.grad, b.grad, dw


@pytest.mark.parametrize("replay", ["python", "numpy"])
def test_trace_replays_agree_with_the_dynamic_engine(replay: str) -> None:
    w = Value(0.7, "w")
    g = trace(lambda a, b: f_scalar(a, b, w), 0.5, -1.5, params=[w], replay=replay)
    assert {ins.op.name for ins in g.ops} >= {"softplus_t", "hypot_t", "sumsq_t"}
    assert "softplus(" in str(g) and "hypot_t(" in str(g) and "sumsq_t(" in str(g)

    for x1, x2 in [(0.5, -1.5), (1.3, 0.2), (-2.0, 3.0)]:
        out, d1, d2, dw = dynamic(x1, x2, w)
        w.grad = 0.0
        assert g(x1, x2) == pytest.approx(out, rel=1e-13)
        grads = g.backward(inputs=True)
        assert grads == pytest.approx([d1, d2], rel=1e-12)
        assert w.grad == pytest.approx(dw, rel=1e-12)

    X = np.array([[0.5, -1.5], [1.3, 0.2], [-2.0, 3.0], [0.1, 0.0]])
    want = [dynamic(x1, x2, w) for x1, x2 in X]
    w.grad = 0.0
    assert g.batch(X[:, 0], X[:, 1]) == pytest.approx(np.mean([r[0] for r in want]), rel=1e-13)
    d1, d2 = g.backward(inputs=True)
    n = len(X)
    np.testing.assert_allclose(d1, [r[1] / n for r in want], rtol=1e-12)
    np.testing.assert_allclose(d2, [r[2] / n for r in want], rtol=1e-12)
    assert w.grad == pytest.approx(np.mean([r[3] for r in want]), rel=1e-12)


# ---------------------------------------------------------------- pictures and the stepper


def test_diagrams_draw_the_gate() -> None:
    x = Value(0.5, "x")
    y = softplus(x * 2.0)
    y.label = "y"
    y.backward()
    source = viz.draw_graph(y).source
    assert "softplus" in source and "softplus gate" in source
    a, b = Value(3.0, "a"), Value(4.0, "b")
    h = hypot(a, b) + sumsq(a, b, a)
    flow = viz.draw_flow(h).source
    assert "hypot_t" in flow and "sumsq_t" in flow
    T = Tensor([0.5, -1.0], requires_grad=True)
    out = softplus(hypot(T, 1.0)).sum()
    out.backward()
    tsource = viz.draw_graph(out).source
    assert "softplus" in tsource and "hypot_t" in tsource
    assert "hypot_t" in viz.draw_flow(out).source
    w = Value(0.7, "w")
    g = trace(lambda p, q: f_scalar(p, q, w), 0.5, -1.5, params=[w])
    g(0.5, -1.5)
    assert "softplus" in viz.draw_graph(g).source and "sumsq_t" in viz.draw_flow(g).source


def test_the_stepper_names_the_gate_and_its_local_gradient() -> None:
    x, a, b = Value(0.5, "x"), Value(3.0, "a"), Value(4.0, "b")
    y = softplus(x)
    y.label = "y"
    h = hypot(a, b)
    h.label = "h"
    s = sumsq(y, h, x)
    s.label = "s"
    stepper = viz.BackpropStepper(s)
    texts = {info.op: stepper.text(i) for i, info in enumerate(stepper)}
    assert set(texts) == {"softplus_t", "hypot_t", "sumsq_t"}
    assert "softplus gate" in texts["softplus_t"] and "σ(x.data)" in texts["softplus_t"]
    assert "hypot_t gate" in texts["hypot_t"]
    assert "a.data / h.data" in texts["hypot_t"] and "b.data / h.data" in texts["hypot_t"]
    assert "2·y.data" in texts["sumsq_t"] and "2·x.data" in texts["sumsq_t"]
    s.backward()
    for info in stepper:  # the stepper's numbers are the engine's
        node = stepper.graph.order[int(info.node_id[1:])]
        assert info.upstream == pytest.approx(node.grad)


# ---------------------------------------------------------------- checks and gradients of gradients


def test_gradcheck_passes_on_values_and_tensors() -> None:
    w = Value(0.7)
    results = gradcheck(lambda p, q: f_scalar(p, q, w), [0.4, -1.1])
    assert all(r.ok for r in results)
    results = gradcheck(lambda P, Q: (softplus(P) * hypot(P, Q) + sumsq(P, Q)).sum(),
                        [np.array([0.3, -0.8]), np.array([[1.2], [0.4]])])
    assert all(r.ok for r in results)


@settings(max_examples=25, deadline=None)
@given(x=real(-8.0, 8.0), a=NONZERO, b=NONZERO)
def test_second_derivatives_by_grad_match_the_closed_forms(x, a, b) -> None:
    v = Value(x)
    d1 = grad(softplus(v), v, create_graph=True)
    d2 = grad(d1, v)
    s = sig(x)
    assert d1.data == pytest.approx(s, rel=1e-13)
    assert d2.data == pytest.approx(s * (1 - s), rel=1e-9, abs=1e-15)

    va, vb = Value(a), Value(b)
    ga, gb = grad(hypot(va, vb), [va, vb], create_graph=True)
    haa, hab = grad(ga, [va, vb])
    hba, hbb = grad(gb, [va, vb])
    r3 = math.hypot(a, b) ** 3
    assert (haa.data, hab.data, hba.data, hbb.data) == pytest.approx(
        (b * b / r3, -a * b / r3, -a * b / r3, a * a / r3), rel=1e-9, abs=1e-15)

    vs = [Value(a), Value(b), Value(x)]
    first = grad(sumsq(*vs), vs, create_graph=True)
    assert [g.data for g in first] == pytest.approx([2 * a, 2 * b, 2 * x])
    assert [[h.data for h in grad(g, vs)] for g in first] == [[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]]


def test_second_derivative_on_tensors() -> None:
    X = Tensor([-1.0, 0.0, 2.5], requires_grad=True)
    (g,) = grad(softplus(X).sum(), [X], create_graph=True)
    (h,) = grad(g.sum(), [X])
    s = 1 / (1 + np.exp(-X.data))
    np.testing.assert_allclose(g.data, s, rtol=1e-13)
    np.testing.assert_allclose(h.data, s * (1 - s), rtol=1e-9)


def test_a_value_made_with_a_gate_pickles() -> None:
    x = Value(0.5, "x")
    y = hypot(softplus(x), x)
    y2 = pickle.loads(pickle.dumps(y))
    assert y2.op is y.op is OPS["hypot_t"]
    assert y2.parents[0].op is OPS["softplus_t"]
    assert y2.data == y.data and y2.local_grads == y.local_grads
    y.backward()
    y2.backward()
    x2 = y2.parents[1]
    assert x2.label == "x" and x2.grad == x.grad
    assert y2.parents[0].parents[0] is x2  # the shared input stays shared


# ---------------------------------------------------------------- bad definitions


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: define_op("mul", forward=lambda m, a, b: a * b, local_grads=lambda m, a, b, out: (b, a)),
         ValueError, "taken"),
        (lambda: define_op("softplus_t", forward=lambda m, x: x, local_grads=lambda m, x, out: (1.0,)),
         ValueError, "taken"),
        (lambda: define_op("matmul", forward=lambda m, a, b: a * b, local_grads=lambda m, a, b, out: (b, a)),
         ValueError, "taken"),
        (lambda: define_op("soft plus", forward=lambda m, x: x, local_grads=lambda m, x, out: (1.0,)),
         ValueError, "identifier"),
        (lambda: define_op("2x", forward=lambda m, x: x, local_grads=lambda m, x, out: (1.0,)),
         ValueError, "identifier"),
        (lambda: define_op("", forward=lambda m, x: x, local_grads=lambda m, x, out: (1.0,)),
         ValueError, "identifier"),
        (lambda: define_op(7, forward=lambda m, x: x, local_grads=lambda m, x, out: (1.0,)),
         TypeError, "str"),
        (lambda: define_op("bad_fwd", forward=3.0, local_grads=lambda m, x, out: (1.0,)),
         TypeError, "forward must be a function"),
        (lambda: define_op("bad_loc", forward=lambda m, x: x, local_grads=(1.0,)),
         TypeError, "local_grads must be a function"),
        (lambda: define_op("no_input", forward=lambda m: 1.0, local_grads=lambda m, out: ()),
         TypeError, "no input"),
        (lambda: define_op("no_m", forward=lambda: 1.0, local_grads=lambda m, out: ()),
         TypeError, "backend m first"),
        (lambda: define_op("no_out", forward=lambda m, x: x, local_grads=lambda m, x: (1.0,)),
         TypeError, "local_grads must take"),
        (lambda: define_op("one_of_two", forward=lambda m, a, b: a * b, local_grads=lambda m, a, out: (1.0,)),
         TypeError, "local_grads must take"),
        (lambda: define_op("two_for_one", forward=lambda m, x: x * x, local_grads=lambda m, x, out: (2 * x, 1.0)),
         ValueError, "2 local gradient"),
        (lambda: define_op("nary_short", forward=lambda m, *xs: m.sum(*xs), local_grads=lambda m, *xs, out: (1.0,)),
         ValueError, "1 local gradient"),
        (lambda: define_op("no_tuple", forward=lambda m, x: x * x, local_grads=lambda m, x, out: 2 * x),
         ValueError, "tuple"),
    ],
)
def test_a_bad_definition_fails_at_definition_and_leaves_the_table_alone(make, error, match) -> None:
    before = dict(OPS), dict(TENSOR_OPS)
    try:
        with pytest.raises(error, match=match):
            make()
    finally:
        added = set(OPS) - set(before[0])
        for name in added:
            del OPS[name]
    assert not added and OPS == before[0] and TENSOR_OPS == before[1]
    assert OPS["mul"] is engine.ops.MUL
