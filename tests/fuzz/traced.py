"""Random traced programs against the dynamic engine: the straight-line Python replay, the grouped
numpy replay, and batched replays.

The expressions and ``build`` are those of ``tests/engine/test_trace.py``.  A
program is traced at one point and replayed at others (so routers, ReLUs and
|x| re-decide); every replay must give the output, parameter and input
gradients the dynamic engine gives (1e-12 for one sample, 1e-10 summed over a batch).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import numpy as np
from tracegrad import engine
from tracegrad.engine import Trace, Value

from tests.engine.test_trace import EXACT, EXPRESSIONS, build, close
from tests.fuzz.budget import Report

NAMES = sorted(EXPRESSIONS)
BATCH_TOL = 1e-10
Program = list[tuple[str, int, int]]


def case(k: int, seed: int = 0) -> tuple[Program, list[list[float]]]:
    """Program ``k`` (1-16 expressions, the first fixed by ``k``) and 2-6 points in [-2, 2]^2."""
    rng = random.Random(seed * 1_000_003 + k + 7)
    steps = [(NAMES[k % len(NAMES)], rng.randrange(1001), rng.randrange(1001))]
    steps += [(rng.choice(NAMES), rng.randrange(1001), rng.randrange(1001)) for _ in range(rng.randrange(16))]
    return steps, [[rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)] for _ in range(rng.randint(2, 6))]


def _dynamic(fn: Callable[[Value, Value], Value], params: list[Value], point: list[float]) -> list[float]:
    """[output, d/dparams..., d/dinputs...] from the dynamic engine."""
    xs = [Value(v) for v in point]
    engine.zero_grad(params)
    out = fn(*xs)
    out.backward()
    return [out.data, *(p.grad for p in params), *(x.grad for x in xs)]


def _replay(g: Trace, params: list[Value], point: list[float]) -> list[float]:
    engine.zero_grad(params)
    out = g(*point)
    inputs = g.backward(inputs=True)
    return [out, *(p.grad for p in params), *(np.asarray(x).item() for x in inputs)]  # numpy mode: 1-element arrays


def _batch(g: Trace, params: list[Value], rows: list[list[float]], want: list[list[float]]) -> list[str]:
    X = np.array(rows)
    engine.zero_grad(params)
    total = g.batch(X[:, 0], X[:, 1], reduce="sum")
    per_input = g.backward(inputs=True)
    diffs = []
    summed = [sum(w[i] for w in want) for i in range(1 + len(params))]
    if not close([total, *(p.grad for p in params)], summed, BATCH_TOL):
        diffs.append("batch sum or parameter gradients")
    for j, w in enumerate(want):
        if not close([per_input[0][j], per_input[1][j]], w[-2:], BATCH_TOL):
            diffs.append(f"batch input gradients of row {j}")
    return diffs


def _one(steps: Program, rows: list[list[float]], report: Report) -> list[str]:
    params = [Value(0.3, "p"), Value(-0.7, "q")]

    def fn(x0: Value, x1: Value) -> Value:
        return build(steps, [x0, x1], params)

    try:
        want = [_dynamic(fn, params, row) for row in rows]
    except (ArithmeticError, ValueError):
        report.skip("dynamic engine raised")
        return []
    diffs = []
    for replay in ("python", "numpy"):
        g = Trace(fn, rows[0], params, replay=replay)
        for j, (row, w) in enumerate(zip(rows, want)):
            report.extra["replays"] = report.extra.get("replays", 0) + 1
            if not close(_replay(g, params, row), w, EXACT):
                diffs.append(f"{replay} replay at row {j}")
    diffs += _batch(g, params, rows, want)
    report.extra["batches"] = report.extra.get("batches", 0) + 1
    return diffs


def fuzz_traced(n: int, seed: int = 0) -> Report:
    """Trace ``n`` random programs; replay each in both forms and as a batch against the dynamic engine."""
    report, start = Report("traced programs vs the dynamic engine"), time.perf_counter()
    for k in range(n):
        steps, rows = case(k, seed)
        report.cases += 1
        diffs = _one(steps, rows, report)
        if diffs:
            report.mismatches.append(f"seed {seed} program {k}: {steps} at {rows}: {'; '.join(diffs)}")
    report.seconds = time.perf_counter() - start
    return report


# ---------------------------------------------------------------- validate: branch flips and wiring changes

# Python control flow on .data: each one can build a different program at another point.
BRANCHES: dict[str, Callable[[Value, Value], Value]] = {
    "pick": lambda a, b: (a if a.data > b.data else b) * 2.0,  # same ops, swapped wiring
    "gate": lambda a, b: a * b if a.data > 0.0 else a + b,  # a different op
    "leaf": lambda a, b: a * Value(round(b.data)),  # a constant read from the data
}
VALIDATE_NAMES = sorted(EXPRESSIONS) + sorted(BRANCHES) * 3


def build_branching(steps: Program, xs: list[Value], params: list[Value]) -> Value:
    """:func:`build` with :data:`BRANCHES` among the expressions, summing only what the steps made.

    So an input may go unused at one point and used at another (the branch picked the other).
    """
    nodes = [*xs, *params]
    for name, i, j in steps:
        f = BRANCHES.get(name) or EXPRESSIONS[name]
        nodes.append(f(nodes[i % len(nodes)], nodes[j % len(nodes)]))
    return engine.sum_values(nodes[len(xs) + len(params):])


def validate_case(k: int, seed: int = 0) -> tuple[Program, list[list[float]]]:
    """Program ``k`` with branches (one in every program) and 2-6 points in [-2, 2]^2."""
    rng = random.Random(seed * 1_000_003 + k + 11)
    names = sorted(BRANCHES)
    steps = [(names[k % len(names)], rng.randrange(1001), rng.randrange(1001))]
    steps += [(rng.choice(VALIDATE_NAMES), rng.randrange(1001), rng.randrange(1001)) for _ in range(rng.randrange(8))]
    rng.shuffle(steps)
    return steps, [[rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)] for _ in range(rng.randint(2, 6))]


def _validated(g: Trace, fn: Callable[[Value, Value], Value], params: list[Value], row: list[float],
               report: Report) -> bool:
    """``g(*row, validate=True)``: True if it raised TraceMismatchError or agreed with the dynamic engine."""
    want = _dynamic(fn, params, row)
    try:
        got = _replay_validated(g, params, row)
    except engine.TraceMismatchError:
        report.extra["caught"] = report.extra.get("caught", 0) + 1
        return True
    report.extra["passed validate"] = report.extra.get("passed validate", 0) + 1
    return close(got, want, EXACT)


def _replay_validated(g: Trace, params: list[Value], point: list[float]) -> list[float]:
    engine.zero_grad(params)
    out = g(*point, validate=True)
    inputs = g.backward(inputs=True)
    return [out, *(p.grad for p in params), *(np.asarray(x).item() for x in inputs)]


def fuzz_validate(n: int, seed: int = 0) -> Report:
    """Trace ``n`` branching programs; ``validate=True`` at other points must raise or agree."""
    report, start = Report("validate on branching programs"), time.perf_counter()
    for k in range(n):
        steps, rows = validate_case(k, seed)
        report.cases += 1
        params = [Value(0.3, "p"), Value(-0.7, "q")]

        def fn(x0: Value, x1: Value, steps: Program = steps, params: list[Value] = params) -> Value:
            return build_branching(steps, [x0, x1], params)

        try:
            for row in rows:
                _dynamic(fn, params, row)
        except (ArithmeticError, ValueError):
            report.skip("dynamic engine raised")
            continue
        for replay in ("python", "numpy"):
            g = Trace(fn, rows[0], params, replay=replay)
            bad = [j for j, row in enumerate(rows[1:], 1) if not _validated(g, fn, params, row, report)]
            if bad:
                report.mismatches.append(f"seed {seed} branching program {k} ({replay}): {steps} at {rows}: "
                                         f"validate=True passed rows {bad} with wrong numbers")
    report.seconds = time.perf_counter() - start
    return report
