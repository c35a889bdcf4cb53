"""Checking gradients: central differences as a library function, and gradcheck.

    numerical d f / d x_i  ~=  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .backward import backward
from .state import no_grad
from .value import Value


class GradcheckError(RuntimeError):
    """Backward and central differences disagree for some input."""


class GradcheckResult(NamedTuple):
    """One input's verdict: the backward gradient vs the numerical one."""

    index: int
    label: str
    analytic: float
    numeric: float
    error: float  # |analytic - numeric|
    ok: bool


def _as_float(x: Any) -> float:
    return x.data if isinstance(x, Value) else float(x)


def numerical_grad(f: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6) -> list[float]:
    """Central differences of scalar ``f`` at ``inputs`` (numbers or Values), one per input."""
    xs = [_as_float(x) for x in inputs]
    grads = []
    with no_grad():
        for i in range(len(xs)):
            plus = list(xs)
            minus = list(xs)
            plus[i] += eps
            minus[i] -= eps
            fp = _as_float(f(*[Value(v) for v in plus]))
            fm = _as_float(f(*[Value(v) for v in minus]))
            grads.append((fp - fm) / (2.0 * eps))
    return grads


def gradcheck(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
) -> list[GradcheckResult]:
    """Compare backward with central differences for scalar ``f(*inputs)``.

    ``f`` takes one Value per input and returns a Value.  Fresh leaves are
    made from the inputs' numbers, so the caller's graph and grads are left
    alone.  An input passes when ``|analytic - numeric| <= atol + rtol |numeric|``.
    Returns one :class:`GradcheckResult` per input; raises
    :class:`GradcheckError` naming the first input that fails.
    """
    if not inputs:
        raise ValueError("gradcheck needs at least one input")
    labels = [x.label if isinstance(x, Value) and x.label else f"input {i}" for i, x in enumerate(inputs)]
    leaves = [Value(_as_float(x), label=lbl) for x, lbl in zip(inputs, labels)]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    backward(out)
    numeric = numerical_grad(f, leaves, eps)
    report = []
    for i, (leaf, num) in enumerate(zip(leaves, numeric)):
        err = abs(leaf.grad - num)
        report.append(GradcheckResult(i, labels[i], leaf.grad, num, err, err <= atol + rtol * abs(num)))
    for r in report:
        if not r.ok:
            raise GradcheckError(
                f"gradcheck failed for {r.label}: backward gives {r.analytic!r}, "
                f"central differences give {r.numeric!r} (error {r.error:.3g}, "
                f"allowed {atol + rtol * abs(r.numeric):.3g})"
            )
    return report
