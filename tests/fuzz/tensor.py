"""Random tensor programs (broadcasting, every element-wise gate) against PyTorch float64 and autograd.

The recipes, the three backends and the kink filter are those of
``tests/engine/test_tensor_reference.py``; here shapes, inputs and recipes
come from ``numpy.random.default_rng(seed, k)``.
"""

from __future__ import annotations

import time

import numpy as np
from tracegrad.engine import Tensor

from tests.engine.test_tensor_reference import ATOL, BINARY, RTOL, UNARY, backend_ops, no_kinks, run_recipe
from tests.fuzz.budget import Report

Recipe = list[tuple[str, tuple[int, ...]]]


def broadcast_shapes(rng: np.random.Generator, n: int) -> list[tuple[int, ...]]:
    """``n`` mutually broadcastable shapes (0-3 dims, sides 1-3): suffixes of one shape, some sides 1."""
    full = tuple(int(s) for s in rng.integers(1, 4, size=rng.integers(0, 4)))
    shapes = []
    for _ in range(n):
        tail = full[len(full) - int(rng.integers(0, len(full) + 1)):]
        shapes.append(tuple(1 if rng.random() < 0.3 else s for s in tail))
    return shapes


def case(k: int, seed: int = 0) -> tuple[list[np.ndarray], Recipe]:
    """Tensor program ``k``: 1-3 inputs in [-2, 2], 1-6 steps (unary or binary, every gate in turn)."""
    rng = np.random.default_rng([seed, k])
    inputs = [rng.uniform(-2.0, 2.0, size=s) for s in broadcast_shapes(rng, int(rng.integers(1, 4)))]
    steps: Recipe = []
    names = UNARY + BINARY
    for j in range(int(rng.integers(1, 7))):
        name = names[k % len(names)] if j == 0 else str(rng.choice(names))
        arity = 1 if name in UNARY else 2
        steps.append((name, tuple(int(i) for i in rng.integers(0, 21, size=arity))))
    return inputs, steps


def _differences(out: Tensor, leaves: list[Tensor], value: float, grads: list[np.ndarray], who: str) -> list[str]:
    diffs = [] if np.isclose(out.item(), value, rtol=RTOL, atol=ATOL) else [f"{who} value {value!r} != {out.item()!r}"]
    for i, (leaf, g) in enumerate(zip(leaves, grads)):
        if not np.allclose(leaf.grad, np.broadcast_to(g, leaf.shape), rtol=RTOL, atol=ATOL):
            diffs.append(f"{who} grad of input {i} differs by {np.max(np.abs(leaf.grad - g)):.3g}")
    return diffs


def fuzz_tensor(n: int, seed: int = 0) -> Report:
    """Run ``n`` random tensor programs through tracegrad, torch float64 and autograd; report mismatches."""
    import autograd  # noqa: PLC0415 - the references are optional dependencies
    import torch  # noqa: PLC0415

    report, start = Report("tensor programs vs torch float64 and autograd"), time.perf_counter()
    tg, th, ag = backend_ops("tg"), backend_ops("torch"), backend_ops("autograd")
    for k in range(n):
        inputs, recipe = case(k, seed)
        report.cases += 1
        if not no_kinks(inputs, recipe):
            report.skip("kink")
            continue
        leaves = [Tensor(x.copy(), requires_grad=True) for x in inputs]
        out = run_recipe(recipe, leaves, tg)
        out.backward()
        t_leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
        t_out = run_recipe(recipe, t_leaves, th)
        t_out.backward()
        diffs = _differences(out, leaves, t_out.item(), [t.grad.numpy() for t in t_leaves], "torch")
        a_value = float(run_recipe(recipe, inputs, ag))
        a_grads = autograd.grad(lambda *xs, r=recipe: run_recipe(r, list(xs), ag), list(range(len(inputs))))(*inputs)
        diffs += _differences(out, leaves, a_value, list(a_grads), "autograd")
        if diffs:
            report.mismatches.append(f"seed {seed} tensor {k}: {recipe} on shapes "
                                     f"{[x.shape for x in inputs]}: {'; '.join(diffs)}")
    report.seconds = time.perf_counter() - start
    return report
