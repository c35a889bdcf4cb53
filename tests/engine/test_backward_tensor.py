"""engine.backward and engine.zero_grad take Tensors as well as Values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tracegrad import engine
from tracegrad.engine import Tensor, Value

from tests.support import require

small = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


def net(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return ((x @ w + b).tanh() * (x @ w).sigmoid()).sum(axis=1)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.data())
def test_backward_on_a_tensor_root_matches_torch(n: int, k: int, m: int, data) -> None:
    torch = require("torch")
    X = data.draw(hnp.arrays(np.float64, (n, k), elements=small))
    W = data.draw(hnp.arrays(np.float64, (k, m), elements=small))
    B = data.draw(hnp.arrays(np.float64, (m,), elements=small))
    seed = data.draw(hnp.arrays(np.float64, (n,), elements=small))
    x, w, b = Tensor(X), Tensor(W, requires_grad=True), Tensor(B, requires_grad=True)
    engine.backward(net(x, w, b), seed)  # an array seed for a non-scalar root
    wt, bt = (torch.tensor(a, requires_grad=True) for a in (W, B))
    net(torch.tensor(X), wt, bt).backward(torch.tensor(seed))  # type: ignore[arg-type]
    assert np.allclose(w.grad, wt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(b.grad, bt.grad.numpy(), rtol=1e-12, atol=1e-12)
    # the same as the Tensor's own backward, and leaves accumulate on a second call
    w2, b2 = Tensor(W, requires_grad=True), Tensor(B, requires_grad=True)
    net(x, w2, b2).backward(seed)
    assert np.array_equal(w.grad, w2.grad) and np.array_equal(b.grad, b2.grad)
    engine.backward(net(x, w, b), seed)
    assert np.allclose(w.grad, 2 * w2.grad, rtol=1e-15, atol=0)


def test_one_element_tensor_root_defaults_to_seed_one() -> None:
    w = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    engine.backward((w * w).sum())
    assert w.grad.tolist() == [2.0, -4.0, 6.0]
    engine.backward((w * w).sum(), 0.5)
    assert w.grad.tolist() == [3.0, -6.0, 9.0]


def test_tensor_root_errors() -> None:
    w = Tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(ValueError, match=r"non-scalar Tensor of shape \(1, 2\) needs an explicit gradient"):
        engine.backward(w * 2.0)
    with pytest.raises(ValueError, match=r"gradient's shape \(3,\) does not match the root's shape \(1, 2\)"):
        engine.backward(w * 2.0, np.ones(3))
    with pytest.raises(ValueError, match="does not require grad"):
        engine.backward(Tensor([1.0]))
    assert w.grad is None  # nothing half-done


def test_scalar_root_seed() -> None:
    x = Value(3.0)
    y = x * x
    engine.backward(y)  # None -> 1.0
    assert x.grad == 6.0
    engine.backward(x * x, 0.5)
    assert x.grad == 9.0
    with pytest.raises(TypeError, match="seed gradient of a scalar root must be a number, got ndarray"):
        engine.backward(x * x, np.ones(1))
    with pytest.raises(TypeError, match="got bool"):
        engine.backward(x * x, True)
    assert x.grad == 9.0


def test_zero_grad_clears_both_kinds() -> None:
    v = Value(2.0)
    t = Tensor([1.0, 2.0], requires_grad=True)
    (v * v).backward()
    engine.backward((t * t).sum())
    assert v.grad == 4.0 and t.grad is not None
    engine.zero_grad([v, t])
    assert v.grad == 0.0 and type(v.grad) is float
    assert t.grad is None
    engine.backward((t * 3.0).sum())  # a fresh gradient, as if zeroed
    assert t.grad.tolist() == [3.0, 3.0]
    engine.zero_grad(iter([t, t]))  # any iterable; twice is fine
    assert t.grad is None
