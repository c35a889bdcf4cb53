"""chain_rule: the sum over paths is the gradient (vs backward, HIPS autograd and torch)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad.engine import Value
from tracegrad.viz import chain_rule

from tests.support import require
from tests.viz.helpers import lecture_221

OPS = ("add", "mul", "sub", "tanh", "sigmoid")


def test_lecture_chain_for_w1() -> None:
    C, v = lecture_221()
    C.backward()
    r = chain_rule(C, v["w1"])
    assert r.count == 1 and r.complete
    assert str(r).startswith("dC/dw1 = dC/do1 . do1/dz3 . dz3/dh1 . dh1/dz1 . dz1/dw1 = "
                             "(-0.7086) . (0.2288) . (0.55) . (0.2367) . (0.5) = -0.01055")
    assert math.isclose(r.total, v["w1"].grad, rel_tol=1e-12)
    tex = r.latex()
    assert tex.startswith(r"\frac{\partial \mathrm{C}}{\partial w_{1}} = "
                          r"\frac{\partial \mathrm{C}}{\partial o_{1}} \cdot")
    assert r._repr_latex_().startswith("$$")


def test_two_paths_to_an_input_add_up() -> None:
    C, v = lecture_221()
    C.backward()
    r = chain_rule(C, v["x1"])
    assert r.count == 2 and len(r.paths) == 2
    assert math.isclose(r.shown_sum, v["x1"].grad, rel_tol=1e-12)
    assert "sum over 2 paths" in r.text() and "dh2/dz2" in r.text()
    raw = chain_rule(C, v["x1"], merge_unlabelled=False)
    assert any(f.upper == "y-o1" for f in raw.paths[0].factors)
    assert math.isclose(raw.shown_sum, r.shown_sum, rel_tol=1e-12)


def test_no_path_and_bad_arguments() -> None:
    C, _ = lecture_221()
    other = Value(1.0, "q")
    r = chain_rule(C, other)
    assert r.count == 0 and r.total == 0.0 and "no path" in r.text()
    with pytest.raises(TypeError, match="engine.Value"):
        chain_rule(C, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_paths"):
        chain_rule(C, other, max_paths=0)


def ladder(depth: int) -> tuple[Value, Value]:
    """x -> x*a + x*b, repeated: 2**depth paths from the root to x0."""
    x0 = Value(0.9, "x0")
    x = x0
    for i in range(depth):
        a, b = Value(0.5 + 0.01 * i, f"a{i}"), Value(0.7 - 0.02 * i, f"b{i}")
        x = x * a + x * b
        x.label = f"x{i + 1}"
    return x, x0


def test_exponentially_many_paths_never_hang() -> None:
    root, x0 = ladder(40)
    root.backward()
    r = chain_rule(root, x0, max_paths=5)
    assert r.count == 2**40 and not r.complete and len(r.paths) == 5
    assert math.isclose(r.total, x0.grad, rel_tol=1e-9)
    assert "showing the 5 largest" in r.text() and str(2**40) in r.text()
    assert r"\ldots" in r.latex()


def test_largest_paths_are_the_largest() -> None:
    root, x0 = ladder(6)
    everything = chain_rule(root, x0, max_paths=1000)
    top = chain_rule(root, x0, max_paths=5)
    assert everything.complete and everything.count == 64
    want = sorted((abs(p.product) for p in everything.paths), reverse=True)[:5]
    got = [abs(p.product) for p in top.paths]
    assert got == pytest.approx(want, rel=1e-12)


programs = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 100), st.integers(0, 100)),
    min_size=1, max_size=8,
)
inputs = st.lists(st.floats(-1.5, 1.5, allow_nan=False), min_size=3, max_size=3)


def run(program: list[tuple[str, int, int]], xs: list, np_mod: object) -> object:
    """Evaluate a straight-line program over values (engine Values or autograd/torch)."""
    vals = list(xs)
    for op, i, j in program:
        a, b = vals[i % len(vals)], vals[j % len(vals)]
        if op == "add":
            vals.append(a + b)
        elif op == "mul":
            vals.append(a * b)
        elif op == "sub":
            vals.append(a - b)
        elif op == "tanh":
            vals.append(a.tanh() if isinstance(a, Value) else np_mod.tanh(a))
        else:
            vals.append(a.sigmoid() if isinstance(a, Value) else 1.0 / (1.0 + np_mod.exp(-a)))
    return vals[-1]


@settings(max_examples=60, deadline=None)
@given(programs, inputs)
def test_sum_over_paths_is_the_gradient_like_autograd(program: list, xs: list) -> None:
    ag = require("autograd")
    anp = require("autograd.numpy")
    leaves = [Value(x, f"x{k}") for k, x in enumerate(xs)]
    root = run(program, leaves, None)
    if not isinstance(root, Value) or root in leaves:
        return
    root.backward()
    ref = ag.grad(lambda arr: run(program, [arr[0], arr[1], arr[2]], anp))(anp.array(xs))
    for k, leaf in enumerate(leaves):
        r = chain_rule(root, leaf, max_paths=10_000)
        assert r.complete
        assert r.total == pytest.approx(leaf.grad, rel=1e-9, abs=1e-12)
        assert r.shown_sum == pytest.approx(float(ref[k]), rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(programs, inputs)
def test_sum_over_paths_matches_torch_float64(program: list, xs: list) -> None:
    torch = require("torch")
    leaves = [Value(x, f"x{k}") for k, x in enumerate(xs)]
    root = run(program, leaves, None)
    if not isinstance(root, Value) or root in leaves:
        return
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = run(program, ts, torch)
    if not out.requires_grad:
        return
    out.backward()
    for leaf, t in itertools.zip_longest(leaves, ts):
        want = 0.0 if t.grad is None else float(t.grad)
        assert chain_rule(root, leaf, max_paths=10_000).shown_sum == pytest.approx(
            want, rel=1e-9, abs=1e-12)
