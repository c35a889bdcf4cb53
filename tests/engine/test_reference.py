"""Gradients of random expression graphs agree with HIPS autograd, PyTorch (float64) and gradcheck.

A program is a list of instructions over earlier nodes (so fan-out happens),
using every op of the table, and a ``chain`` instruction (40 gates deep) so
deep chains happen too; the output sums every node.  PyTorch is compared when
installed (it must be in CI); autograd and gradcheck always.
Reference ops use the same conventions at kinks as the engine (relu'(0) = 0,
|x|'(0) = 0, max/min ties route to the first input).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tracegrad.engine import OPS, Value, apply, gradcheck, sum_values, topological_order
from tracegrad.engine.ops import BUILT_IN

from tests.support import IN_CI, require

Binary = Callable[[Any, Any, Any], Any]

# name -> f(lib, a, b); lib is the backend namespace below
INSTRUCTIONS: dict[str, Binary] = {
    "add": lambda L, a, b: a + b,
    "sub": lambda L, a, b: a - b,
    "mul": lambda L, a, b: a * b,
    "div": lambda L, a, b: a / (b * b + 0.5),
    "neg": lambda L, a, b: -a,
    "pow2": lambda L, a, b: a**2,
    "pow3": lambda L, a, b: a**3,
    "sqrt": lambda L, a, b: (a * a + 0.1) ** 0.5,
    "recip": lambda L, a, b: (a * a + 1.0) ** -1,
    "pow_value": lambda L, a, b: (a * a + 0.5) ** L.tanh(b),
    "rpow": lambda L, a, b: 2.0 ** L.tanh(a),
    "exp": lambda L, a, b: L.exp(L.tanh(a)),
    "log": lambda L, a, b: L.log(a * a + 0.1),
    "tanh": lambda L, a, b: L.tanh(a),
    "sigmoid": lambda L, a, b: L.sigmoid(a),
    "relu": lambda L, a, b: L.relu(a),
    "leaky_relu": lambda L, a, b: L.leaky_relu(a),
    "abs": lambda L, a, b: L.abs(a),
    "max": lambda L, a, b: L.max(a, b),
    "min": lambda L, a, b: L.min(a, b),
    "sum3": lambda L, a, b: L.sum3(a, b),
    "shift": lambda L, a, b: a - L.max_shift(a, b),  # a stop-gradient max: passes no gradient
    "fanout": lambda L, a, b: a * a + a,
    "chain": lambda L, a, b: chain(L.tanh, a, b),
}
CHAIN_DEPTH = 40


def chain(tanh: Callable[[Any], Any], a: Any, b: Any) -> Any:
    """A deep chain: a <- tanh(0.9 a + 0.3 b), 40 times (b fans out into every link)."""
    for _ in range(CHAIN_DEPTH):
        a = tanh(a * 0.9 + b * 0.3)
    return a


def optional(module: str) -> ModuleType | None:
    """A second reference library: None when absent here, but a failure in CI (CI=true)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if IN_CI:
            pytest.fail(f"{module} is required in CI (CI=true) but is not installed")
        return None
KINKS = {"relu", "leaky_relu", "abs", "max", "min"}


class EngineLib:
    tanh = staticmethod(lambda a: a.tanh())
    exp = staticmethod(lambda a: a.exp())
    log = staticmethod(lambda a: a.log())
    sigmoid = staticmethod(lambda a: a.sigmoid())
    relu = staticmethod(lambda a: a.relu())
    leaky_relu = staticmethod(lambda a: a.leaky_relu(0.1))
    abs = staticmethod(lambda a: a.abs())
    max = staticmethod(lambda a, b: a.max(b))
    min = staticmethod(lambda a, b: a.min(b))
    sum3 = staticmethod(lambda a, b: sum_values([a, b, a]))
    max_shift = staticmethod(lambda a, b: apply(OPS["max_shift"], a, b))


def reference_lib(np: Any) -> Any:
    """The same ops in a numpy-like library (autograd.numpy or torch)."""

    class Lib:
        tanh = staticmethod(np.tanh)
        exp = staticmethod(np.exp)
        log = staticmethod(np.log)
        sigmoid = staticmethod(lambda a: 0.5 * (np.tanh(0.5 * a) + 1.0))
        relu = staticmethod(lambda a: np.where(a > 0, a, 0.0 * a))
        leaky_relu = staticmethod(lambda a: np.where(a > 0, a, 0.1 * a))
        abs = staticmethod(lambda a: a * np.sign(a))
        max = staticmethod(lambda a, b: np.where(a >= b, a, b))
        min = staticmethod(lambda a, b: np.where(a <= b, a, b))
        sum3 = staticmethod(lambda a, b: a + b + a)
        max_shift = staticmethod(lambda a, b: _stop(np.where(a >= b, a, b)))

    return Lib


def _stop(x: Any) -> Any:
    """x with its gradient stopped (torch: detach; autograd: the raw value)."""
    if hasattr(x, "detach"):
        return x.detach()
    from autograd.tracer import getval

    return getval(x)


def run(program: list[tuple[str, int, int]], inputs: list[Any], lib: Any) -> Any:
    nodes = list(inputs)
    for name, i, j in program:
        nodes.append(INSTRUCTIONS[name](lib, nodes[i % len(nodes)], nodes[j % len(nodes)]))
    out = nodes[0]
    for n in nodes[1:]:
        out = out + n
    return out


programs = st.lists(
    st.tuples(st.sampled_from(sorted(INSTRUCTIONS)), st.integers(0, 1000), st.integers(0, 1000)),
    min_size=1,
    max_size=14,
)
inputs = st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=1, max_size=4)


def engine_gradients(program: list[tuple[str, int, int]], xs: list[float]) -> tuple[float, list[float], bool]:
    """Output, input gradients, and whether the graph sits near a kink or a large value."""
    leaves = [Value(x, f"x{i}") for i, x in enumerate(xs)]
    out = run(program, leaves, EngineLib)
    out.backward()
    delicate = False
    for node in topological_order(out):
        if abs(node.data) > 1e3:
            delicate = True
        if node.op == "max_shift":  # passes no gradient by design: central differences would see it
            delicate = True
        if node.op in KINKS:
            ps = node.parents
            gap = abs(ps[0].data - ps[1].data) if len(ps) == 2 else abs(ps[0].data)
            delicate |= gap < 1e-4
    return out.data, [leaf.grad for leaf in leaves], delicate


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs, xs=inputs)
def test_random_graphs_match_autograd_torch_and_gradcheck(program, xs) -> None:
    autograd = require("autograd")
    anp = require("autograd.numpy")
    torch = optional("torch")  # without torch (outside CI) autograd and gradcheck still run
    value, grads, delicate = engine_gradients(program, xs)
    assume(math.isfinite(value) and abs(value) < 1e12)

    # HIPS autograd
    alib = reference_lib(anp)

    def f(arr: Any) -> Any:
        return run(program, [arr[i] for i in range(len(xs))], alib)

    import numpy

    ref = autograd.grad(f)(numpy.array(xs, dtype=float))
    assert float(f(numpy.array(xs, dtype=float))) == pytest.approx(value, rel=1e-9, abs=1e-12)
    assert grads == pytest.approx(list(ref), rel=1e-8, abs=1e-10)

    # PyTorch float64
    if torch is not None:
        tlib = reference_lib(torch)
        ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
        tout = run(program, ts, tlib)
        tout.backward()
        assert float(tout.detach()) == pytest.approx(value, rel=1e-9, abs=1e-12)
        want = [float(t.grad) if t.grad is not None else 0.0 for t in ts]
        assert grads == pytest.approx(want, rel=1e-8, abs=1e-10)

    # central differences, away from kinks and huge values
    if not delicate:
        gradcheck(lambda *vs: run(program, list(vs), EngineLib), xs, rtol=1e-4, atol=1e-6)


def test_reference_libraries_are_present_in_ci() -> None:
    require("autograd")
    require("torch")


def test_optional_reference_fails_in_ci_and_is_none_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.engine.test_reference as here

    monkeypatch.setattr(here, "IN_CI", False)
    assert optional("no_such_reference_library") is None
    monkeypatch.setattr(here, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        optional("no_such_reference_library")


def test_programs_reach_deep_chains_and_every_op() -> None:
    x, y = Value(0.3, "x"), Value(-0.2, "y")
    out = run([("chain", 0, 1)], [x, y], EngineLib)
    depth = {id(n): 0 for n in topological_order(out)}
    for n in topological_order(out):
        depth[id(n)] = max((depth[id(p)] + 1 for p in n.parents), default=0)
    assert depth[id(out)] >= 3 * CHAIN_DEPTH  # mul, add, tanh per link
    table = set(BUILT_IN)  # every op the table ships; define_op's own ops are tested in test_define_op
    seen: set[str] = set()
    for name in INSTRUCTIONS:
        node = run([(name, 0, 1)], [Value(0.7), Value(0.4)], EngineLib)
        seen |= {str(n.op) for n in topological_order(node) if n.op}
    assert table <= seen, f"ops the random programs never use: {sorted(table - seen)}"
