"""A batch replay on one parameter vector: ``g.batch(..., params=theta)`` and ``g.backward(into=grad)``.

The vector replaces each parameter's ``.data`` (read) and ``.grad`` (written):
random hand-written MLPs (hypothesis: layer shapes, activations, quirks that
break the layer pattern, an L2 penalty ``α Σ p**2`` inside the program) give,
fused (compiled), grouped (``fuse=False``) and by the dynamic engine, the same
values and parameter gradients to 1e-12, while the Values' ``.data`` and
``.grad`` stay untouched.  A backward that does not ask for the inputs'
gradients skips their edges and gives the same parameter gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tracegrad import engine
from tracegrad.engine import Value, sum_values, trace

from tests.engine.test_trace_fuse import EXACT, SETTINGS, Net, dynamic_numbers, nets


class Penalized:
    """``net(x, t) + α Σ p**2``: a per-sample program with the L2 penalty inside (its mean: loss + penalty)."""

    def __init__(self, net: Net, alpha: float) -> None:
        self.net, self.alpha = net, alpha

    def parameters(self) -> list[Value]:
        return self.net.parameters()

    def __call__(self, x: list[Value], t: Value) -> Value:
        out = self.net(x, t)
        if not self.alpha:
            return out
        return out + self.alpha * sum_values([p**2 for p in self.net.parameters()])


def vector_numbers(g: Any, params: list[Value], theta: np.ndarray, X: np.ndarray,
                   y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean output and parameter gradients (``params`` order) of a replay on the vector ``theta``."""
    order = {id(p): i for i, p in enumerate(params)}
    pos = np.array([order[id(p)] for p in g.params], dtype=np.intp)
    grad = np.zeros(len(g.params))
    out = g.batch(X, y, params=theta[pos])
    g.backward(into=grad)
    full = np.zeros(len(params))
    full[pos] = grad
    return out, full


@SETTINGS
@given(nets(), st.sampled_from([0.0, 1e-3, 0.5]))
def test_a_replay_on_a_parameter_vector_equals_the_values_replay_fused_grouped_and_dynamic(
        case: tuple[Net, np.ndarray, np.ndarray], alpha: float) -> None:
    net, X, y = case
    model = Penalized(net, alpha)
    params = model.parameters()
    theta = np.array([p.data for p in params])
    want_out, want_grads, _ = dynamic_numbers(model, params, X, y)  # type: ignore[arg-type]
    for fuse in (True, False):
        g = trace(model, X[0].tolist(), float(y[0]), params=params, fuse=fuse)
        for p in params:  # the replay must read the vector, not these
            p.data, p.grad = 1e6, -7.0
        out, grads = vector_numbers(g, params, theta, X, y)
        assert all(p.data == 1e6 and p.grad == -7.0 for p in params)  # nothing read back or written
        for p, v in zip(params, theta.tolist()):
            p.data = v
        np.testing.assert_allclose(out, want_out, rtol=EXACT, atol=EXACT)
        np.testing.assert_allclose(grads, want_grads, rtol=EXACT, atol=EXACT)


@SETTINGS
@given(nets())
def test_a_backward_without_the_inputs_gradients_gives_the_same_parameter_gradients(
        case: tuple[Net, np.ndarray, np.ndarray]) -> None:
    net, X, y = case
    params = net.parameters()
    for fuse in (True, False):
        g = trace(net, X[0].tolist(), float(y[0]), params=params, fuse=fuse)
        g.batch(X, y)
        engine.zero_grad(params)
        grads_x = g.backward(inputs=True)
        with_inputs = [p.grad for p in params]
        assert g.input_grads is not None and len(grads_x) == len(X[0]) + 1
        engine.zero_grad(params)
        assert g.backward() is None
        assert g.input_grads is None  # the edges into the inputs were skipped
        np.testing.assert_array_equal([p.grad for p in params], with_inputs)


def test_a_penalty_of_squares_fuses_as_one_product_of_parameters() -> None:
    ps = [Value(v) for v in (0.5, -1.5, 2.0)]
    g = trace(lambda x: x * ps[0] + 0.1 * sum_values([p**2 for p in ps]), 1.0, params=ps)
    text = g.fusion()
    assert "1 neuron × 3 inputs → one (1×3) @ (3×1) product of parameters, once per batch" in text
    out = g.batch(np.array([1.0, 3.0]))
    g.backward()
    assert out == pytest.approx(2.0 * 0.5 + 0.1 * (0.25 + 2.25 + 4.0), rel=EXACT)
    assert [p.grad for p in ps] == pytest.approx([2.0 + 0.2 * 0.5, 0.2 * -1.5, 0.2 * 2.0], rel=EXACT)


def test_a_parameter_vector_of_the_wrong_kind_or_length_is_refused() -> None:
    w = Value(2.0)
    g = trace(lambda x: w * x, 1.0, params=[w])
    with pytest.raises(TypeError, match=r"trace.batch: params must be a float64 numpy array .* got list"):
        g.batch(np.ones(3), params=[2.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got int64"):
        g.batch(np.ones(3), params=np.array([2]))
    with pytest.raises(ValueError, match=r"must have shape \(1,\), one entry per parameter of the trace; got \(2,\)"):
        g.batch(np.ones(3), params=np.ones(2))
    g.batch(np.ones(3), params=np.array([3.0]))
    with pytest.raises(ValueError, match=r"trace.backward: into must have shape \(1,\)"):
        g.backward(into=np.zeros(3))
    grad = np.zeros(1)
    g.backward(into=grad)
    assert grad.tolist() == [1.0] and w.grad == 0.0


def test_backward_into_a_vector_after_a_scalar_replay_starts_from_zero() -> None:
    w, b = Value(2.0), Value(-1.0)
    g = trace(lambda x: (w * x + b).tanh(), 0.3, params=[w, b])
    w.grad, b.grad = 5.0, 5.0  # a vector backward neither reads nor writes them
    g(0.7)
    grad = np.array([1.0, 1.0])
    g.backward(into=grad)
    z = Value(2.0) * 0.7 + Value(-1.0)
    local = 1.0 - z.tanh().data ** 2
    assert g.params == (w, b)  # the order params= gave
    assert grad.tolist() == pytest.approx([1.0 + local * 0.7, 1.0 + local], rel=EXACT)
    assert (w.grad, b.grad) == (5.0, 5.0)


def test_a_one_sample_numpy_replay_keeps_its_inputs_gradients_as_the_scalar_replay() -> None:
    w, b = Value(0.5), Value(-0.2)
    for replay in ("python", "numpy"):
        g = trace(lambda x: (w * x + b).relu() * x, 1.5, params=[w, b], replay=replay)
        g(2.0)
        g.backward()
        assert g.input_grads == pytest.approx([2 * 0.5 * 2.0 - 0.2], rel=EXACT)
