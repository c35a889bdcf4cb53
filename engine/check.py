"""Checking gradients: central differences as a library function, and gradcheck.

    numerical d f / d x_i  ~=  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any, NamedTuple

import numpy as np

from .backward import backward, topological_order
from .tensor import Tensor, to_array
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


def _input_float(x: Any, i: int) -> float:
    """Input ``i`` of a scalar check as a float: a Value's data or a real number (else ``TypeError``)."""
    if isinstance(x, Value):
        return x.data
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"input {i} must be a number, a Value, a Tensor or an array, got {type(x).__name__}")
    return float(x)


def _check_tolerances(eps: float, rtol: float, atol: float) -> None:
    for name, value in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"gradcheck: {name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0 or (name == "eps" and value == 0):
            bound = "> 0" if name == "eps" else ">= 0"
            raise ValueError(f"gradcheck: {name} must be a finite number {bound}, got {value!r}")


def _is_tensor_mode(inputs: Sequence[Any]) -> bool:
    return any(isinstance(x, (Tensor, np.ndarray)) for x in inputs)


def _scalar_of(out: Any) -> float:
    if not isinstance(out, Tensor):
        raise TypeError(f"f must return a Tensor when checking Tensors, got {type(out).__name__}")
    if out.data.size != 1:
        raise ValueError(f"f must return a one-element Tensor, got shape {out.shape}")
    return float(out.data.reshape(()))


def _numerical_tensor_grad(f: Callable[..., Any], arrays: list[np.ndarray], eps: float) -> list[Any]:
    """Central differences of one-element-Tensor ``f``, element by element, one array per input."""
    grads = []
    for i, base in enumerate(arrays):
        grad = np.zeros(base.shape)
        for j in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[j] += eps
            minus[j] -= eps
            args_p = [Tensor(a, requires_grad=True) for a in arrays]
            args_m = [Tensor(a, requires_grad=True) for a in arrays]
            args_p[i], args_m[i] = Tensor(plus, requires_grad=True), Tensor(minus, requires_grad=True)
            grad[j] = (_scalar_of(f(*args_p)) - _scalar_of(f(*args_m))) / (2.0 * eps)
        grads.append(grad)
    return grads


def numerical_grad(f: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6) -> list[Any]:
    """Central differences of scalar ``f`` at ``inputs``, one per input.

    Inputs are numbers or Values (one float each), or, when any input is a
    Tensor or numpy array, Tensors (one float64 array of the input's shape
    each; ``f`` then takes Tensors and returns a one-element Tensor).
    ``f`` runs with recording on (leaves that require grad), so a function
    that takes a gradient inside, such as a gradient penalty, is differenced
    as it computes.
    """
    _check_tolerances(eps, 0.0, 0.0)
    if _is_tensor_mode(inputs):
        return _numerical_tensor_grad(f, [to_array(x, np.float64).copy() for x in inputs], eps)
    xs = [_input_float(x, i) for i, x in enumerate(inputs)]
    grads = []
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

    ``f`` takes one Value per input and returns a Value; or, when any input is
    a Tensor or numpy array, one Tensor per input (float64 leaves with
    ``requires_grad=True``) and returns a one-element Tensor, and every
    element is checked (labels like ``W[1, 2]``).  Fresh leaves are
    made from the inputs' numbers, so the caller's graph and grads are left
    alone.  An input passes when ``|analytic - numeric| <= atol + rtol |numeric|``.
    Returns one :class:`GradcheckResult` per input (per element for Tensors); raises
    :class:`GradcheckError` naming the first input that fails.
    """
    if not inputs:
        raise ValueError("gradcheck needs at least one input")
    _check_tolerances(eps, rtol, atol)
    if _is_tensor_mode(inputs):
        return _gradcheck_tensors(f, inputs, eps, rtol, atol)
    labels = [x.label if isinstance(x, Value) and x.label else f"input {i}" for i, x in enumerate(inputs)]
    leaves = [Value(_input_float(x, i), label=lbl) for i, (x, lbl) in enumerate(zip(inputs, labels))]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    analytic = _backward_leaving_grads(out, leaves)
    numeric = numerical_grad(f, leaves, eps)
    report = []
    for i, (a, num) in enumerate(zip(analytic, numeric)):
        err = abs(a - num)
        report.append(GradcheckResult(i, labels[i], a, num, err, err <= atol + rtol * abs(num)))
    _raise_first_failure(report, rtol, atol)
    return report


def _backward_leaving_grads(out: Any, leaves: Sequence[Any]) -> list[Any]:
    """``backward(out)`` and the ``leaves``' gradients; every ``.grad`` in the graph is put back as it was.

    ``f`` may use the caller's parameters (Values or Tensors): backward would
    fill their ``.grad``, so each node's ``.grad`` is saved first (arrays copied)
    and restored (the same object, the old numbers), even if backward raises.
    """
    saved = [(node, node.grad, _copy(node.grad)) for node in topological_order(out)]
    try:
        backward(out)
        return [leaf.grad for leaf in leaves]
    finally:
        for node, grad, copy in saved:
            if isinstance(grad, np.ndarray):  # backward may add into the array in place: the same array, old numbers
                grad[...] = copy
            node.grad = grad


def _copy(grad: Any) -> Any:
    return grad.copy() if isinstance(grad, np.ndarray) else grad


def _raise_first_failure(report: list[GradcheckResult], rtol: float, atol: float) -> None:
    for r in report:
        if not r.ok:
            raise GradcheckError(
                f"gradcheck failed for {r.label}: backward gives {r.analytic!r}, "
                f"central differences give {r.numeric!r} (error {r.error:.3g}, "
                f"allowed {atol + rtol * abs(r.numeric):.3g})"
            )


def _gradcheck_tensors(
    f: Callable[..., Any], inputs: Sequence[Any], eps: float, rtol: float, atol: float
) -> list[GradcheckResult]:
    labels = [x.label if isinstance(x, Tensor) and x.label else f"input {i}" for i, x in enumerate(inputs)]
    arrays = [to_array(x, np.float64).copy() for x in inputs]
    leaves = [Tensor(a.copy(), requires_grad=True, label=lbl) for a, lbl in zip(arrays, labels)]
    out = f(*leaves)
    _scalar_of(out)
    grads = _backward_leaving_grads(out, leaves)
    numeric = _numerical_tensor_grad(f, arrays, eps)
    report = []
    for i, (leaf, num) in enumerate(zip(leaves, numeric)):
        analytic = grads[i] if grads[i] is not None else np.zeros(leaf.shape)
        for j in np.ndindex(leaf.shape):
            a, n = float(analytic[j]), float(num[j])
            err = abs(a - n)
            where = f"{labels[i]}[{', '.join(map(str, j))}]" if j else labels[i]
            report.append(GradcheckResult(i, where, a, n, err, err <= atol + rtol * abs(n)))
    _raise_first_failure(report, rtol, atol)
    return report
