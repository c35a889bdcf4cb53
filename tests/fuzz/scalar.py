"""Random scalar graphs (every op of ``engine.ops.BUILT_IN``) against PyTorch float64 and HIPS autograd.

The programs, the three backends and the reference conventions at kinks are
those of ``tests/engine/test_reference.py``; here they are drawn from a seeded
``random.Random`` so a budget runs an exact number of graphs.  Graph ``k``
starts with instruction ``k mod |INSTRUCTIONS|``, so any budget of at least
that many graphs uses every op of the table.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import numpy as np
from tracegrad.engine import Value, topological_order

from tests.engine.test_reference import INSTRUCTIONS, EngineLib, engine_gradients, reference_lib, run
from tests.fuzz.budget import Report

NAMES = sorted(INSTRUCTIONS)
RTOL_VALUE, RTOL_GRAD, ATOL = 1e-9, 1e-8, 1e-10


def program(k: int, seed: int = 0) -> tuple[list[tuple[str, int, int]], list[float]]:
    """Graph ``k``: 1-14 instructions over 1-4 inputs in [-2, 2] (the first instruction fixed by ``k``)."""
    rng = random.Random(seed * 1_000_003 + k)
    steps = [(NAMES[k % len(NAMES)], rng.randrange(1001), rng.randrange(1001))]
    steps += [(rng.choice(NAMES), rng.randrange(1001), rng.randrange(1001))
              for _ in range(rng.randrange(14))]
    return steps, [rng.uniform(-2.0, 2.0) for _ in range(rng.randint(1, 4))]


def ops_used(steps: list[tuple[str, int, int]], xs: list[float]) -> set[str]:
    """The op names a program's graph contains."""
    out = run(steps, [Value(x) for x in xs], EngineLib)
    return {str(n.op) for n in topological_order(out) if n.op}


def _close(got: float, want: float, rtol: float) -> bool:
    return abs(got - want) <= max(rtol * max(abs(got), abs(want)), ATOL)


def _differences(value: float, grads: list[float], ref_value: float, ref_grads: list[float],
                 who: str) -> list[str]:
    out = [] if _close(value, ref_value, RTOL_VALUE) else [f"{who} value {ref_value!r} != {value!r}"]
    out += [f"{who} grad x{i} {r!r} != {g!r}" for i, (g, r) in enumerate(zip(grads, ref_grads))
            if not _close(g, r, RTOL_GRAD)]
    return out


def _autograd(steps: list[tuple[str, int, int]], xs: list[float], anp: Any, grad: Any) -> tuple[float, list[float]]:
    lib = reference_lib(anp)

    def f(arr: Any) -> Any:
        return run(steps, [arr[i] for i in range(len(xs))], lib)

    arr = np.array(xs, dtype=float)
    return float(f(arr)), [float(g) for g in grad(f)(arr)]


def _torch(steps: list[tuple[str, int, int]], xs: list[float], torch: Any) -> tuple[float, list[float]]:
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = run(steps, ts, reference_lib(torch))
    out.backward()
    return float(out.detach()), [0.0 if t.grad is None else float(t.grad) for t in ts]


def fuzz_scalar(n: int, seed: int = 0) -> Report:
    """Run ``n`` random scalar graphs through the engine, torch float64 and autograd; report mismatches."""
    import autograd  # noqa: PLC0415 - the references are optional dependencies
    import autograd.numpy as anp  # noqa: PLC0415
    import torch  # noqa: PLC0415

    report, start = Report("scalar graphs vs torch float64 and autograd"), time.perf_counter()
    for k in range(n):
        steps, xs = program(k, seed)
        report.cases += 1
        value, grads, _ = engine_gradients(steps, xs)
        if not (math.isfinite(value) and abs(value) < 1e12):
            report.skip("overflow")
            continue
        with np.errstate(all="ignore"):
            diffs = _differences(value, grads, *_autograd(steps, xs, anp, autograd.grad), "autograd")
        diffs += _differences(value, grads, *_torch(steps, xs, torch), "torch")
        if diffs:
            report.mismatches.append(f"seed {seed} graph {k}: {steps} at {xs}: {'; '.join(diffs)}")
    report.seconds = time.perf_counter() - start
    return report
