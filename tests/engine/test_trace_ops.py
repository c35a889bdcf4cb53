"""Every op of the op table, through every compiled form of a trace, against the dynamic engine.

The straight-line Python replay, the grouped-numpy replay (one sample and a
batch) and the reference replay (:meth:`Trace.inspect`) are the trace's three
ways to run a program; each must give the numbers the dynamic engine gives
(``engine.apply`` + ``backward``) for each op in ``engine.OPS``, with a
parameter among the op's inputs, an unused input and fan-out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from tracegrad import engine
from tracegrad.engine import Op, Trace, Value

MIXED = [[0.7, -1.3, 0.4], [-1.9, 0.2, 1.1], [0.6, 0.6, -2.0]]  # routers re-decide; a tie with q
POSITIVE = [[abs(v) for v in row] for row in MIXED]  # for ops whose domain is x > 0
BOUND = {"pow": (3.0, 0.5, -1.0, 0.0), "leaky_relu": (0.1,)}  # constant arguments to bind
TOL = 1e-12


def table_ops() -> Iterator[Any]:
    """Every op of the table (the leaf entry skipped); ops with a constant argument bound."""
    for name, op in sorted(engine.OPS.items()):
        if not name:
            continue
        if op.fn is None:  # needs its constant argument
            for k in BOUND.get(name, (0.5,)):
                yield pytest.param(op.bind(k), id=f"{name}({k:g})")
        else:
            yield pytest.param(op, id=name)


def program(op: Op, wiring: str, q: Value, w: Value) -> Callable[[Value, Value], Value]:
    """``op`` on an input, the parameter ``q`` and another input (n-ary: three), times ``w``.

    ``fan-out``: x0 is also read by the product; ``twice``: two gates of the op (one group
    in the grouped form), one reading x0 twice.
    """
    arity = op.arity if op.arity >= 0 else 3

    def fn(x0: Value, x2: Value) -> Value:
        if wiring == "fan-out":
            return engine.apply(op, *[x0, q, x2][:arity]) * (w * x0)
        if wiring == "twice":
            return (engine.apply(op, *[x0, x0, q][:arity]) + engine.apply(op, *[x2, q, x0][:arity])) * w
        return engine.apply(op, *[x0, q, x2][:arity]) * w

    return fn


def dynamic(fn: Callable[[Value, Value], Value], row: list[float], q: Value, w: Value) -> list[float]:
    """The dynamic engine: [output, d/dx0, d/dx2, d/dq, d/dw]."""
    x0, x2 = Value(row[0]), Value(row[2])
    engine.zero_grad([q, w])
    out = fn(x0, x2)
    out.backward()
    return [out.data, x0.grad, x2.grad, q.grad, w.grad]


def close(got: list[float], want: list[float]) -> bool:
    return all(abs(a - b) <= TOL * max(1.0, abs(a), abs(b)) for a, b in zip(got, want, strict=True))


def rows_for(fn: Callable[[Value, Value], Value], q: Value, w: Value) -> list[list[float]]:
    """The mixed-sign rows if the op takes them all, else the positive ones."""
    try:
        for row in MIXED:
            dynamic(fn, row, q, w)
    except (ArithmeticError, ValueError):
        return POSITIVE
    return MIXED


@pytest.mark.parametrize("wiring", ["distinct", "fan-out", "twice"])
@pytest.mark.parametrize("op", list(table_ops()))
def test_every_op_replays_like_the_dynamic_engine(op: Op, wiring: str) -> None:
    q, w = Value(0.6, "q"), Value(1.5, "w")
    fn = program(op, wiring, q, w)
    rows = rows_for(fn, q, w)
    want = [dynamic(fn, row, q, w) for row in rows]
    for replay in ("python", "numpy"):
        g = Trace(fn, (rows[0][0], rows[0][2]), [q, w], replay=replay)
        assert {ins.op.name for ins in g.ops} >= {op.name}
        for row, expected in zip(rows, want):
            engine.zero_grad([q, w])
            out = g(row[0], row[2])  # numpy: the grouped form over one sample
            gx = g.backward(inputs=True)
            assert close([out, *gx, q.grad, w.grad], expected), (replay, row)
    # the grouped form over a batch: per-sample input gradients, summed parameter gradients
    X = np.array(rows)
    engine.zero_grad([q, w])
    total = g.batch(X[:, 0], X[:, 2], reduce="sum")
    gx = g.backward(inputs=True)
    assert close([total, q.grad, w.grad], [sum(e[i] for e in want) for i in (0, 3, 4)])
    for j, expected in enumerate(want):
        assert close([gx[0][j], gx[1][j]], expected[1:3])
    # the public replay: every slot's gradient, one sample (reference) or a batch (grouped)
    slot = {s.name: s.index for s in g.slots}  # a unary op reads no q: its gradient is 0

    def grads(r: Any, j: int | None = None) -> list[float]:
        got = [r.output, *(r.grads[slot[n]] if n in slot else 0.0 for n in ("x0", "x1", "q", "w"))]
        return got if j is None else [x if isinstance(x, float) else x[j] for x in got]

    engine.zero_grad([q, w])
    batch = g.inspect(X[:, 0], X[:, 2], batch=True)
    for j, (row, expected) in enumerate(zip(rows, want)):
        assert close(grads(g.inspect(row[0], row[2])), expected)
        assert close(grads(batch, j), expected)
    assert q.grad == w.grad == 0.0  # private: no .grad changes
