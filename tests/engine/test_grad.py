"""Gradients of gradients: ``engine.grad`` as an API, against closed forms and against PyTorch.

``grad(output, inputs, create_graph=True)`` builds the gradient as a graph of the same gates
(each op's ``local_grads`` run on the node backend), so it can be differentiated again, drawn,
stepped through and back-propagated.  Higher derivatives of every op of the table are compared
with ``torch.autograd.grad(..., create_graph=True)`` in float64 (rtol 1e-9), and random tensor
programs' first and second derivatives with PyTorch's (rtol 1e-7).  Router gates pass their
decision on as a constant: their second derivative is 0 away from the kinks, as in PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tracegrad import engine, nn, viz
from tracegrad.engine import (
    OPS,
    Tensor,
    Value,
    apply,
    concatenate,
    cross_entropy,
    grad,
    linear,
    log_softmax,
    maximum,
    minimum,
    softmax,
    stack,
    topological_order,
)

from tests.support import require

# The table as shipped (test modules that define ops take them out again at import).
TABLE = {name: op for name, op in OPS.items() if name}


def real(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo: float, hi: float, gap: float = 0.2) -> st.SearchStrategy[float]:
    return real(lo, hi).filter(lambda v: abs(v) > gap)


def nth(f: Callable[[Value], Value], x: float, n: int) -> list[float]:
    """f(x), f'(x), ..., f^(n)(x) by repeated ``grad(..., create_graph=True)``."""
    v = Value(x)
    node = f(v)
    out = [node.data]
    for _ in range(n):
        node = grad(node, v, create_graph=True)
        out.append(node.data)
    return out


# ---------------------------------------------------------------- the API


def graph() -> tuple[Value, list[Value]]:
    x, y = Value(0.6, "x"), Value(-1.3, "y")
    z = (x * y + x.tanh()).sigmoid() * y
    return z, [x, y]


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_leaves_every_grad_untouched(create_graph: bool) -> None:
    z, (x, y) = graph()
    nodes = topological_order(z)
    for i, n in enumerate(nodes):
        n.grad = 100.0 + i
    gx, gy = grad(z, [x, y], create_graph=create_graph)
    assert [n.grad for n in nodes] == [100.0 + i for i in range(len(nodes))]
    if create_graph:
        grad(gx, [x, y])
        assert [n.grad for n in nodes] == [100.0 + i for i in range(len(nodes))]
    z.backward()  # and the numbers are backward's
    assert (gx.data, gy.data) == pytest.approx((x.grad - 100.0 - nodes.index(x), y.grad - 100.0 - nodes.index(y)))


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_leaves_every_tensor_grad_untouched(create_graph: bool) -> None:
    X = Tensor([[0.5, -1.0], [2.0, 0.3]], requires_grad=True)
    W = Tensor([[1.0, 0.5], [-0.5, 2.0]], requires_grad=True)
    out = (X @ W).tanh().sum()
    X.grad, W.grad = np.full((2, 2), 7.0), None
    gX, gW = grad(out, [X, W], create_graph=create_graph)
    assert X.grad.tolist() == [[7.0, 7.0], [7.0, 7.0]] and W.grad is None
    assert all(n.grad is None for n in topological_order(out) if n.parents)
    X.grad = None
    out.backward()
    np.testing.assert_allclose(gX.data, X.grad, rtol=1e-15)
    np.testing.assert_allclose(gW.data, W.grad, rtol=1e-15)


def test_grad_mirrors_its_inputs_and_gives_zero_to_an_unreached_input() -> None:
    z, (x, y) = graph()
    lone = Value(3.0)
    g = grad(z, x)
    assert type(g) is Value
    both = grad(z, [x, y])
    assert type(both) is tuple and len(both) == 2
    assert type(grad(z, (x,))) is tuple
    (unreached,) = grad(z, [lone])
    assert unreached.data == 0.0 and grad(z, lone, create_graph=True).data == 0.0
    assert grad(x, x).data == 1.0  # d x / d x
    assert grad(z, [x, x])[0].data == grad(z, [x, x])[1].data == g.data

    X = Tensor([1.0, 2.0], requires_grad=True)
    lone_t = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    gX = grad((X * X).sum(), X)
    assert type(gX) is Tensor and gX.data.tolist() == [2.0, 4.0]
    gl = grad((X * X).sum(), [X, lone_t])
    assert type(gl) is tuple and gl[1].shape == (1, 3) and not gl[1].data.any()


def test_grad_without_create_graph_gives_leaves_and_with_it_graphs() -> None:
    z, (x, y) = graph()
    for g in grad(z, [x, y]):
        assert g.is_leaf() and g.op == ""
    for g in grad(z, [x, y], create_graph=True):
        assert not g.is_leaf()
    X = Tensor([1.0, -2.0], requires_grad=True)
    g = grad((X * X * X).sum(), X)
    assert g.is_leaf() and not g.requires_grad
    g = grad((X * X * X).sum(), X, create_graph=True)
    assert not g.is_leaf() and g.requires_grad


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda z, x, X: grad(1.0, x), TypeError, "output must be a Value or a Tensor"),
        (lambda z, x, X: grad([z], x), TypeError, "output must be a Value or a Tensor"),
        (lambda z, x, X: grad(z, [x, X]), TypeError, "input 1 is a Tensor"),
        (lambda z, x, X: grad((X * X).sum(), [X, x]), TypeError, "input 1 is a Value"),
        (lambda z, x, X: grad(z, x, create_graph=1), TypeError, "create_graph must be a bool"),
        (lambda z, x, X: grad(z, x, create_graph="yes"), TypeError, "create_graph must be a bool"),
        (lambda z, x, X: grad(z, "x"), TypeError, "inputs must be"),
        (lambda z, x, X: grad(z, None), TypeError, "inputs must be"),
        (lambda z, x, X: grad(z, []), ValueError, "no inputs"),
        (lambda z, x, X: grad(z, ()), ValueError, "no inputs"),
        (lambda z, x, X: grad(X * X, X), ValueError, "one element"),
        (lambda z, x, X: grad(Tensor([1.0]) * 2.0, X), ValueError, "does not require grad"),
    ],
)
def test_grad_refuses_what_it_cannot_differentiate(call, error, match) -> None:
    z, (x, _) = graph()
    X = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(error, match=match):
        call(z, x, X)


def test_create_graph_results_are_new_nodes_not_the_graphs_own() -> None:
    x, y = Value(2.0, "x"), Value(3.0, "y")
    gx, gy = grad(x * y, [x, y], create_graph=True)
    assert gx is not y and gy is not x
    e = x.exp()
    assert grad(e, x, create_graph=True) is not e
    for p, g in zip((x, y), (gx, gy)):  # a plain gradient step through the results
        p.data -= 0.1 * g.data
    assert (x.data, y.data) == pytest.approx((2.0 - 0.3, 3.0 - 0.2))


def test_tensor_grad_results_own_writable_arrays() -> None:
    X = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    g = grad(X.sum(), X)
    assert g.data.flags.writeable and g.data.flags.owndata
    g.data += 1.0


# ---------------------------------------------------------------- closed forms


def tanh_derivative_polys(n: int) -> list[np.polynomial.Polynomial]:
    """p_0(t) = t, p_{k+1}(t) = (1 - t^2) p_k'(t): d^k tanh / dx^k = p_k(tanh x)."""
    P = np.polynomial.Polynomial
    polys = [P([0.0, 1.0])]
    for _ in range(n):
        polys.append(P([1.0, 0.0, -1.0]) * polys[-1].deriv())
    return polys


@pytest.mark.parametrize("x", [-2.0, -0.7, 0.0, 0.3, 1.1, 2.5])
def test_tanh_derivatives_up_to_the_fourth_follow_the_polynomial_recurrence(x: float) -> None:
    got = nth(lambda v: v.tanh(), x, 4)
    t = math.tanh(x)
    want = [float(p(t)) for p in tanh_derivative_polys(4)]
    assert got == pytest.approx(want, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("x", [-3.0, -0.4, 0.0, 0.9, 2.2])
def test_sigmoid_second_derivative_is_s_one_minus_s_one_minus_two_s(x: float) -> None:
    got = nth(lambda v: v.sigmoid(), x, 2)
    s = 1.0 / (1.0 + math.exp(-x))
    assert got == pytest.approx([s, s * (1 - s), s * (1 - s) * (1 - 2 * s)], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("x", [-2.0, 0.0, 0.5, 3.0])
def test_every_derivative_of_exp_is_exp(x: float) -> None:
    assert nth(lambda v: v.exp(), x, 4) == pytest.approx([math.exp(x)] * 5, rel=1e-15)


@pytest.mark.parametrize("x", [0.2, 1.0, 2.5, 10.0])
def test_log_derivatives(x: float) -> None:
    got = nth(lambda v: v.log(), x, 4)
    assert got == pytest.approx([math.log(x), 1 / x, -1 / x**2, 2 / x**3, -6 / x**4], rel=1e-13)


@pytest.mark.parametrize(
    ("k", "x"),
    [(k, x) for k in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -2.0, 0.5, 1.5, 2.5) for x in (0.3, 1.7, -1.2)
     if x > 0 or k.is_integer()],  # a negative base takes integer powers only
)
def test_power_derivatives_up_to_the_fourth(k: float, x: float) -> None:
    got = nth(lambda v: v**k, x, 4)
    want, c = [], 1.0
    for n in range(5):
        want.append(c * x ** (k - n) if c else 0.0)
        c *= k - n
    assert got == pytest.approx(want, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("name", ["relu", "abs", "leaky_relu"])
@pytest.mark.parametrize("x", [-1.5, 0.7])
def test_a_routers_second_derivative_is_zero_away_from_its_kink(name: str, x: float) -> None:
    first, second = nth(lambda v: getattr(v, name)(), x, 2)[1:]
    assert first == {"relu": float(x > 0), "abs": math.copysign(1.0, x), "leaky_relu": 1.0 if x > 0 else 0.01}[name]
    assert second == 0.0
    a, b = Value(x), Value(0.2)
    for op in ("max", "min"):
        ga, gb = grad(getattr(a, op)(b), [a, b], create_graph=True)
        assert [h.data for h in grad(ga, [a, b]) + grad(gb, [a, b])] == [0.0] * 4


# ---------------------------------------------------------------- every op against PyTorch


def partials(f: Callable[..., Any], xs: list[float], order: int) -> dict[tuple[int, ...], float]:
    """Every partial derivative of f at xs up to ``order``, keyed by the inputs differentiated in turn."""
    vs = [Value(x) for x in xs]
    frontier: dict[tuple[int, ...], Value] = {(): f(*vs)}
    out = {(): frontier[()].data}
    for _ in range(order):
        nxt = {}
        for seq, node in frontier.items():
            for i, g in enumerate(grad(node, vs, create_graph=True)):
                nxt[seq + (i,)] = g
                out[seq + (i,)] = g.data
        frontier = nxt
    return out


def torch_partials(torch: Any, f: Callable[..., Any], xs: list[float], order: int) -> dict[tuple[int, ...], float]:
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    frontier: dict[tuple[int, ...], Any] = {(): f(*ts)}
    out = {(): float(frontier[()].detach())}
    for _ in range(order):
        nxt = {}
        for seq, node in frontier.items():
            if node is None or not node.requires_grad:
                gs: Any = [None] * len(ts)
            else:
                gs = torch.autograd.grad(node, ts, create_graph=True, allow_unused=True)
            for i, g in enumerate(gs):
                nxt[seq + (i,)] = g
                out[seq + (i,)] = 0.0 if g is None else float(g.detach())
        frontier = nxt
    return out


POW_KS = (0.0, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.5, 1.5, -2.5)
SLOPES = (0.01, 0.1, 0.5)


def torch_rule(torch: Any, op: Any, n: int) -> Callable[..., Any]:
    """The op in torch, found by ``op.reference`` where the names agree."""
    F = torch.nn.functional
    if op.name == "pow":
        return lambda x: x**op.arg
    if op.name == "pow_value":
        return lambda x, y: x**y
    if op.name == "leaky_relu":
        return lambda x: F.leaky_relu(x, op.arg)
    if op.name == "sum":
        return lambda *xs: sum(xs[1:], xs[0])
    if op.name == "max_shift":  # a stop-gradient max: its derivative is 0
        return lambda *xs: torch.stack(xs).max().detach()
    fn = getattr(torch, op.reference, None) or getattr(F, op.reference)
    return fn


BINARY_DOMAINS = {
    "div": (real(-3.0, 3.0), away_from_zero(-3.0, 3.0, 0.3)),
    # y off the integers: torch's pow backward is where(y == 0, 0, y x^(y-1)), so its d/dy d/dx x^y at
    # y = 0 is 0 instead of x^-1, and likewise one order up at y = 1, 2, 3 (the engine gives the true values)
    "pow_value": (real(0.2, 3.0), real(-2.0, 2.0).filter(lambda y: abs(y - round(y)) > 1e-3)),
}
UNARY_DOMAINS = {
    "log": real(0.2, 5.0),
    "relu": away_from_zero(-3.0, 3.0, 1e-3),
    "abs": away_from_zero(-3.0, 3.0, 1e-3),
    "leaky_relu": away_from_zero(-3.0, 3.0, 1e-3),
}


def op_cases() -> list[Any]:
    out = []
    for name in sorted(TABLE):
        op = TABLE[name]
        if op.const == "k":
            out += [pytest.param(op.bind(k), 1, id=f"pow[{k:g}]") for k in POW_KS]
        elif op.const is not None:
            out += [pytest.param(op.bind(s), 1, id=f"{name}[{s:g}]") for s in SLOPES]
        elif op.arity < 0:
            out += [pytest.param(op, n, id=f"{name}[{n}]") for n in (1, 2, 3, 5)]
        else:
            out.append(pytest.param(op, op.arity, id=name))
    return out


def domain(op: Any, n: int) -> st.SearchStrategy[list[float]]:
    if op.name == "pow":
        if not float(op.arg).is_integer():
            return st.tuples(real(0.2, 3.0)).map(list)
        return st.tuples(away_from_zero(-3.0, 3.0) if op.arg < 0 else real(-3.0, 3.0)).map(list)
    if op.name in BINARY_DOMAINS:
        return st.tuples(*BINARY_DOMAINS[op.name]).map(list)
    return st.lists(UNARY_DOMAINS.get(op.name, real(-3.0, 3.0)), min_size=n, max_size=n)


def test_every_op_of_the_table_is_compared_with_torch() -> None:
    names = {c.values[0].name for c in op_cases()}
    assert names == set(TABLE)


@pytest.mark.parametrize(("op", "n"), op_cases())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_higher_derivatives_of_every_op_match_torch(op, n, data) -> None:
    torch = require("torch")
    xs = data.draw(domain(op, n))
    if op.name in ("max", "min"):
        assume(abs(xs[0] - xs[1]) > 1e-6)  # ties: torch splits the gradient, the engine routes it
    if op.name == "max_shift":
        assume(len(set(xs)) == len(xs))
    order = 4 if n <= 2 else 2
    got = partials(lambda *vs: apply(op, *vs), xs, order)
    want = torch_partials(torch, torch_rule(torch, op, n), xs, order)
    assert set(got) == set(want)
    for seq in sorted(want, key=len):
        assert got[seq] == pytest.approx(want[seq], rel=1e-9, abs=1e-9), (op.name, xs, seq)


def test_mixed_partials_commute() -> None:
    x, y = Value(0.7), Value(1.3)
    f = (x**y) * (x / y).tanh() + (x * y).sigmoid()
    gx, gy = grad(f, [x, y], create_graph=True)
    (hxy,) = grad(gx, [y])
    (hyx,) = grad(gy, [x])
    assert hxy.data == pytest.approx(hyx.data, rel=1e-12)


# ---------------------------------------------------------------- Hessian, Newton, gradient penalty


def hessian(f: Callable[..., Value], xs: list[float]) -> list[list[float]]:
    vs = [Value(x) for x in xs]
    first = grad(f(*vs), vs, create_graph=True)
    return [[h.data for h in grad(g, vs)] for g in first]


@pytest.mark.parametrize(("x", "y"), [(1.0, 2.0), (-0.5, 0.3), (2.0, -1.5)])
def test_hessian_by_grad_of_grad(x: float, y: float) -> None:
    def f(a: Any, b: Any) -> Any:
        return a**3 * b + a * b**2

    H = hessian(f, [x, y])
    want = [[6 * x * y, 3 * x * x + 2 * y], [3 * x * x + 2 * y, 2 * x]]
    assert H == [pytest.approx(row, rel=1e-14, abs=1e-14) for row in want]
    torch = require("torch")
    Ht = torch.autograd.functional.hessian(lambda t: f(t[0], t[1]), torch.tensor([x, y], dtype=torch.float64))
    np.testing.assert_allclose(H, Ht.numpy(), rtol=1e-14, atol=1e-14)


def test_newtons_method_with_grad_converges_to_one() -> None:
    x = 2.0
    iterates = [x]
    for _ in range(8):
        v = Value(x)
        f = v**4 - 2 * v**2
        d1 = grad(f, v, create_graph=True)
        d2 = grad(d1, v)
        assert d1.data == pytest.approx(4 * x**3 - 4 * x, rel=1e-14)
        assert d2.data == pytest.approx(12 * x**2 - 4, rel=1e-14)
        new = x - d1.data / d2.data
        assert new == pytest.approx(x - (4 * x**3 - 4 * x) / (12 * x**2 - 4), rel=1e-14)
        x = new
        iterates.append(x)
    assert abs(iterates[-1] - 1.0) < 1e-12
    assert all(a > b for a, b in zip(iterates, iterates[1:4]))  # from above, monotonically


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradient_penalty_through_an_mlp_matches_torch(activation: str) -> None:
    torch = require("torch")
    model = nn.MLP(2, [4, 1], activation=activation, seed=0)
    params = model.parameters()
    xs = [Value(0.3, "x1"), Value(-0.8, "x2")]
    out = model(xs)
    dx = grad(out, xs, create_graph=True)
    loss = out + 0.1 * (dx[0] * dx[0] + dx[1] * dx[1])
    got = grad(loss, params)

    # the same network in torch, one 0-d leaf per parameter (so the order is model.parameters())
    leaf = {id(p): torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in params}
    act = torch.relu if activation == "relu" else torch.tanh
    h = torch.tensor([0.3, -0.8], dtype=torch.float64, requires_grad=True)
    x_t = h
    for i, layer in enumerate(model.layers):
        zs = [sum((leaf[id(w)] * x_t[k] for k, w in enumerate(n.w)), leaf[id(n.b)]) for n in layer.neurons]
        z = torch.stack(zs)
        x_t = z if i == len(model.layers) - 1 else act(z)
    out_t = x_t[0]
    assert float(out_t.detach()) == pytest.approx(out.data, rel=1e-14)
    (dx_t,) = torch.autograd.grad(out_t, h, create_graph=True)
    np.testing.assert_allclose([d.data for d in dx], dx_t.detach().numpy(), rtol=1e-13)
    loss_t = out_t + 0.1 * (dx_t**2).sum()
    want = torch.autograd.grad(loss_t, [leaf[id(p)] for p in params], allow_unused=True)
    want = [0.0 if w is None else float(w) for w in want]
    assert [g.data for g in got] == pytest.approx(want, rel=1e-12, abs=1e-14)
    assert any(w != 0.0 for w in want)


def test_the_derivative_graph_is_drawn_stepped_and_backpropagated() -> None:
    x = Value(0.4, "x")
    y = (x * x).tanh() * x.sigmoid()
    g = grad(y, x, create_graph=True)
    g.label = "dy/dx"
    gates = {n.op.gate for n in topological_order(g) if n.op}
    assert {"swap multiplier", "tanh gate", "sigmoid gate"} & gates
    source = viz.draw_graph(g).source
    for gate in gates:
        assert gate in source, gate
    assert viz.draw_flow(g).source
    stepper = viz.BackpropStepper(g)
    assert len(stepper) == sum(1 for n in topological_order(g) if n.parents)
    assert all(info.gate in stepper.text(i) or info.op in stepper.text(i) for i, info in enumerate(stepper))

    g2 = grad(g, x, create_graph=True)  # and differentiated again
    g3 = grad(g2, x)
    x.grad = 0.0
    engine.backward(g)
    assert x.grad == pytest.approx(g2.data, rel=1e-14)
    torch = require("torch")
    t = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    yt = torch.tanh(t * t) * torch.sigmoid(t)
    d1 = torch.autograd.grad(yt, t, create_graph=True)[0]
    d2 = torch.autograd.grad(d1, t, create_graph=True)[0]
    d3 = torch.autograd.grad(d2, t)[0]
    assert [g.data, g2.data, g3.data] == pytest.approx([float(d.detach()) for d in (d1, d2, d3)], rel=1e-12)


# ---------------------------------------------------------------- power at base 0


def test_a_value_exponent_at_base_zero_differentiates_with_create_graph() -> None:
    x, y = Value(0.0), Value(0.0)
    assert grad(x**y, x).data == 0.0
    assert grad(x**y, x, create_graph=True).data == 0.0


def test_third_derivative_of_x_to_a_value_two_at_zero_is_zero() -> None:
    assert nth(lambda v: v ** Value(2.0), 0.0, 3) == [0.0, 0.0, 2.0, 0.0]


# ---------------------------------------------------------------- the tensor path against PyTorch

TARGETS = np.array([1, 0, 3])


def tensor_steps(torch: Any) -> dict[str, tuple[Callable[..., Any], Callable[..., Any]]]:
    """name -> (engine step, torch step), each (3, 4) -> (3, 4) given the parameters P."""
    F = torch.nn.functional
    return {
        "tanh": (lambda h, P: h.tanh(), lambda h, P: torch.tanh(h)),
        "sigmoid": (lambda h, P: h.sigmoid(), lambda h, P: torch.sigmoid(h)),
        "exp": (lambda h, P: h.tanh().exp(), lambda h, P: torch.exp(torch.tanh(h))),
        "log": (lambda h, P: (h * h + 0.5).log(), lambda h, P: torch.log(h * h + 0.5)),
        "relu": (lambda h, P: h.relu() + h * 0.1, lambda h, P: torch.relu(h) + h * 0.1),
        "leaky_relu": (lambda h, P: h.leaky_relu(0.2), lambda h, P: F.leaky_relu(h, 0.2)),
        "abs": (lambda h, P: h.abs() - h * 0.5, lambda h, P: torch.abs(h) - h * 0.5),
        "cube": (lambda h, P: h**3 * 0.5 - h, lambda h, P: h**3 * 0.5 - h),
        "neg": (lambda h, P: -h.tanh(), lambda h, P: -torch.tanh(h)),
        "sqrt": (lambda h, P: (h * h + 0.1) ** 0.5, lambda h, P: (h * h + 0.1) ** 0.5),
        "div": (lambda h, P: h / (P["W"][:3] * P["W"][:3] + 0.5), lambda h, P: h / (P["W"][:3] * P["W"][:3] + 0.5)),
        "pow_value": (lambda h, P: (h * h + 0.5) ** P["W"][:3].tanh(),
                      lambda h, P: (h * h + 0.5) ** torch.tanh(P["W"][:3])),
        "maximum": (lambda h, P: maximum(h, P["C"]), lambda h, P: torch.maximum(h, P["C"])),
        "minimum": (lambda h, P: minimum(P["C"], h), lambda h, P: torch.minimum(P["C"], h)),
        "broadcast": (lambda h, P: h * P["b"] - P["b"][None, :] / 2.0, lambda h, P: h * P["b"] - P["b"][None, :] / 2.0),
        "matmul": (lambda h, P: h @ P["W"], lambda h, P: h @ P["W"]),
        "sum": (lambda h, P: h - 0.3 * h.sum(axis=1, keepdims=True), lambda h, P: h - 0.3 * h.sum(dim=1, keepdim=True)),
        "sum_all": (lambda h, P: h * h.sum() * 0.1, lambda h, P: h * h.sum() * 0.1),
        "mean": (lambda h, P: h * h.mean(axis=0), lambda h, P: h * h.mean(dim=0)),
        "reshape": (lambda h, P: h.reshape(2, 6).reshape(3, 4), lambda h, P: h.reshape(2, 6).reshape(3, 4)),
        "transpose": (lambda h, P: h.T.reshape(3, 4), lambda h, P: h.T.reshape(3, 4)),
        "linear": (lambda h, P: linear(h, P["W"], P["b"]), lambda h, P: F.linear(h, P["W"], P["b"])),
        "softmax": (lambda h, P: softmax(h, axis=-1) * 3.0, lambda h, P: torch.softmax(h, dim=-1) * 3.0),
        "log_softmax": (lambda h, P: log_softmax(h, axis=0), lambda h, P: torch.log_softmax(h, dim=0)),
        "getitem": (lambda h, P: h[[0, 0, 2]] + h, lambda h, P: h[[0, 0, 2]] + h),
        "getitem2": (lambda h, P: h[[2, 1, 1], :][:, [3, 3, 0, 1]], lambda h, P: h[[2, 1, 1], :][:, [3, 3, 0, 1]]),
        "concatenate": (lambda h, P: concatenate([h[:, :2], h[:, 1:3]], axis=1),
                        lambda h, P: torch.cat([h[:, :2], h[:, 1:3]], dim=1)),
        "stack": (lambda h, P: stack([h[0], h[1] * 2.0, h[2]], axis=0),
                  lambda h, P: torch.stack([h[0], h[1] * 2.0, h[2]], dim=0)),
        "max": (lambda h, P: h - h.max(axis=1, keepdims=True), lambda h, P: h - h.max(dim=1, keepdim=True).values),
        "max_all": (lambda h, P: h * h.max(), lambda h, P: h * h.max()),
    }


def ties(name: str, h: Tensor, P: dict[str, Any]) -> bool:
    """Whether a router step would see a tie (torch and the engine split ties differently)."""
    d = h.data
    if name == "max":
        return bool((np.sort(d, axis=1)[:, -1] == np.sort(d, axis=1)[:, -2]).any())
    if name == "max_all":
        return int((d == d.max()).sum()) > 1
    if name in ("maximum", "minimum"):
        return bool((d == P["C"].data).any())
    return False


STEP_NAMES = sorted([
    "abs", "broadcast", "concatenate", "cube", "div", "exp", "getitem", "getitem2", "leaky_relu", "linear", "log",
    "log_softmax", "matmul", "max", "max_all", "maximum", "mean", "minimum", "neg", "pow_value", "relu", "reshape",
    "sigmoid", "softmax", "sqrt", "stack", "sum", "sum_all", "tanh", "transpose",
])


@settings(max_examples=40, deadline=None)
@given(program=st.lists(st.sampled_from(STEP_NAMES), min_size=1, max_size=5), seed=st.integers(0, 2**32 - 1),
       reduction=st.sampled_from(["mean", "sum"]))
def test_random_tensor_programs_first_and_second_derivatives_match_torch(program, seed, reduction) -> None:
    torch = require("torch")
    steps = tensor_steps(torch)
    rng = np.random.default_rng(seed)
    arrays = {"X": rng.uniform(-1, 1, (3, 4)), "W": rng.uniform(-0.7, 0.7, (4, 4)),
              "b": rng.uniform(-0.5, 0.5, 4), "C": rng.uniform(-1, 1, (3, 4))}
    names = ["X", "W", "b"]  # C is a constant
    P = {k: Tensor(a, requires_grad=k != "C") for k, a in arrays.items()}
    Pt = {k: torch.tensor(a, dtype=torch.float64, requires_grad=k != "C") for k, a in arrays.items()}

    h, ht = P["X"], Pt["X"]
    for name in program:
        assume(not ties(name, h, P))
        h, ht = steps[name][0](h, P), steps[name][1](ht, Pt)
    assume(np.isfinite(h.data).all() and np.abs(h.data).max() < 1e6)
    loss = (h * h).mean() + cross_entropy(h, TARGETS, reduction=reduction)
    loss_t = (ht * ht).mean() + torch.nn.functional.cross_entropy(ht, torch.tensor(TARGETS), reduction=reduction)
    assert loss.item() == pytest.approx(float(loss_t.detach()), rel=1e-10)

    first = grad(loss, [P[k] for k in names], create_graph=True)
    first_t = torch.autograd.grad(loss_t, [Pt[k] for k in names], create_graph=True, allow_unused=True)
    first_t = [torch.zeros_like(Pt[k]) if g is None else g for k, g in zip(names, first_t)]
    for k, g, gt in zip(names, first, first_t):
        want = gt.detach().numpy()
        np.testing.assert_allclose(g.data, want, rtol=1e-7, atol=1e-9 * max(1.0, np.abs(want).max()), err_msg=k)

    penalty = (first[0] * first[0]).sum() + (first[1] * first[1]).sum() + (first[2] * first[2]).sum()
    penalty_t = sum((g * g).sum() for g in first_t)
    assume(penalty_t.requires_grad)
    second = grad(penalty, [P[k] for k in names])
    second_t = torch.autograd.grad(penalty_t, [Pt[k] for k in names], allow_unused=True)
    for k, g, gt in zip(names, second, second_t):
        want = np.zeros_like(g.data) if gt is None else gt.numpy()
        np.testing.assert_allclose(g.data, want, rtol=1e-7, atol=1e-9 * max(1.0, np.abs(want).max()), err_msg=k)


def test_tensor_step_list_uses_every_tensor_gate() -> None:
    torch = require("torch")
    steps = tensor_steps(torch)
    assert sorted(steps) == STEP_NAMES
    P = {"X": Tensor(np.ones((3, 4)) * 0.3, requires_grad=True), "W": Tensor(np.eye(4) * 0.5, requires_grad=True),
         "b": Tensor(np.full(4, 0.1), requires_grad=True), "C": Tensor(np.zeros((3, 4)))}
    seen = set()
    for step, _ in steps.values():
        out = step(P["X"] + 0.01 * np.arange(12).reshape(3, 4), P)
        seen |= {n.op.name for n in topological_order(out) if n.op}
    seen.add("cross_entropy")
    wanted = set(engine.TENSOR_OPS) - {"scatter"}  # scatter is made by backward (the index gate's vjp)
    wanted |= {name for name, op in TABLE.items() if op.arity != -1}  # the element-wise gates of the table
    assert wanted <= seen, sorted(wanted - seen)


def test_gradcheck_differences_a_function_that_takes_a_gradient_inside() -> None:
    # numerical_grad used to run f under no_grad, so grad() inside f saw no graph and the penalty vanished
    def penalised(w: Value) -> Value:
        x = Value(0.5)
        d = grad((w * x).tanh(), x, create_graph=True)
        return d * d

    (r,) = engine.gradcheck(penalised, [0.7])
    assert r.numeric == pytest.approx(r.analytic, rel=1e-6) and abs(r.numeric) > 0.5
    X = Tensor(np.array([0.5, -0.3]), requires_grad=True)

    def tensor_penalised(W: Tensor) -> Tensor:
        Xc = Tensor(X.data, requires_grad=True)
        (g,) = grad((W * Xc).tanh().sum(), [Xc], create_graph=True)
        return (g * g).sum()

    engine.gradcheck(tensor_penalised, [np.array([0.7, -0.2])])
