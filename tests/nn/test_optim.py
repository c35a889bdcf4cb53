"""Optimizers: the same numbers as torch.optim in float64, for scalar and array parameters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import nn
from tracegrad.engine import Value
from tracegrad.nn.optim import SGD, Adam

from tests.support import require

small = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


class ArrayParam:
    """A tensor-path parameter: .data and .grad are numpy arrays."""

    def __init__(self, data: list[float]) -> None:
        self.data = np.array(data, dtype=float)
        self.grad = np.zeros_like(self.data)


def run_ours(kind: str, init: list[float], grad_seq: list[list[float]], arrays: bool, **kw) -> list[float]:
    if arrays:
        params = [ArrayParam(init)]
    else:
        params = [Value(v) for v in init]
    opt = SGD(params, **kw) if kind == "sgd" else Adam(params, **kw)
    for g in grad_seq:
        if arrays:
            params[0].grad[...] = g
        else:
            for p, gi in zip(params, g):
                p.grad = gi
        opt.step()
    return params[0].data.tolist() if arrays else [p.data for p in params]


def run_torch(kind: str, init: list[float], grad_seq: list[list[float]], **kw) -> list[float]:
    torch = require("torch")
    p = torch.tensor(init, dtype=torch.float64, requires_grad=True)
    kw = dict(kw)
    if callable(kw.get("lr")):
        schedule = kw.pop("lr")
        kw["lr"] = schedule(0)
    else:
        schedule = None
    opt = torch.optim.SGD([p], **kw) if kind == "sgd" else torch.optim.Adam([p], **kw)
    for k, g in enumerate(grad_seq):
        if schedule is not None:
            for group in opt.param_groups:
                group["lr"] = schedule(k)
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return p.detach().tolist()


def grad_sequences(n: int = 3):
    return st.integers(1, 4).flatmap(
        lambda size: st.tuples(
            st.lists(small, min_size=size, max_size=size),
            st.lists(st.lists(small, min_size=size, max_size=size), min_size=1, max_size=n),
        )
    )


@settings(max_examples=40, deadline=None)
@given(grad_sequences(4), st.floats(0.001, 1.0), st.sampled_from([0.0, 0.5, 0.9]), st.sampled_from([0.0, 0.01, 0.3]),
       st.booleans())
def test_sgd_matches_torch(case, lr: float, momentum: float, weight_decay: float, arrays: bool) -> None:
    init, grad_seq = case
    kw = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
    ours = run_ours("sgd", init, grad_seq, arrays, **kw)
    assert ours == pytest.approx(run_torch("sgd", init, grad_seq, **kw), rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(grad_sequences(5), st.floats(1e-4, 0.5), st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.99)]),
       st.sampled_from([1e-8, 1e-3]), st.sampled_from([0.0, 0.1]), st.booleans())
def test_adam_matches_torch(case, lr: float, betas, eps: float, weight_decay: float, arrays: bool) -> None:
    init, grad_seq = case
    kw = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
    ours = run_ours("adam", init, grad_seq, arrays, **kw)
    assert ours == pytest.approx(run_torch("adam", init, grad_seq, **kw), rel=1e-10, abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(grad_sequences(5), st.booleans())
def test_lr_schedule_matches_torch(case, arrays: bool) -> None:
    init, grad_seq = case

    def schedule(k: int) -> float:
        return 1.0 - 0.9 * k / 100  # micrograd's demo

    ours = run_ours("sgd", init, grad_seq, arrays, lr=schedule, momentum=0.9)
    assert ours == pytest.approx(run_torch("sgd", init, grad_seq, lr=schedule, momentum=0.9), rel=1e-12, abs=1e-12)


def test_plain_sgd_is_the_lectures_rule() -> None:
    w = Value(0.55)
    w.grad = -0.0999
    SGD([w], lr=0.1).step()
    assert w.data == pytest.approx(0.55 + 0.00999)  # w5' = w5 - lr * dC/dw5


def test_schedule_sees_step_index() -> None:
    seen = []
    w = Value(1.0)
    opt = SGD([w], lr=lambda k: seen.append(k) or 0.1)
    for _ in range(3):
        w.grad = 1.0
        opt.step()
    assert seen == [0, 1, 2] and opt.steps == 3


def test_nan_gradient_updates_nothing() -> None:
    a, b = Value(1.0), Value(2.0)
    a.grad, b.grad = 0.5, math.nan
    opt = Adam([a, b], lr=0.1)
    with pytest.raises(FloatingPointError, match="parameter 1 has gradient nan; nothing was updated"):
        opt.step()
    assert (a.data, b.data) == (1.0, 2.0) and opt.steps == 0 and opt.t == [0, 0]
    arr = ArrayParam([1.0, 2.0])
    arr.grad[1] = math.inf
    with pytest.raises(FloatingPointError):
        SGD([arr], lr=0.1).step()
    assert arr.data.tolist() == [1.0, 2.0]


def test_zero_grad_forgets_array_grads_and_zeroes_scalar_ones() -> None:
    arr = ArrayParam([1.0, 2.0])
    data = arr.data
    arr.grad += 1.0
    opt = SGD([arr], lr=0.5, momentum=0.9)
    opt.step()
    assert arr.data is data and arr.data.tolist() == [0.5, 1.5]  # updated in place
    opt.zero_grad()
    assert arr.grad is None  # as PyTorch: the next backward writes a fresh gradient
    opt.step()  # a parameter without a gradient is skipped (its momentum too)
    assert arr.data.tolist() == [0.5, 1.5] and opt.steps == 2
    v = Value(1.0)
    v.grad = 3.0
    SGD([v], lr=1.0).zero_grad()
    assert v.grad == 0.0


def test_zero_grad_then_tensor_backward_equals_a_fresh_gradient() -> None:
    from tracegrad.engine import Tensor

    w = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    (w * w).sum().backward()
    assert w.grad.tolist() == [4.0, -8.0, 12.0]  # accumulated twice
    opt.zero_grad()
    assert w.grad is None
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, -4.0, 6.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("where", [0, 2, 5])
def test_non_finite_array_gradient_anywhere_raises_and_updates_nothing(bad: float, where: int) -> None:
    a, b = ArrayParam([1.0, 2.0, 3.0]), ArrayParam([4.0, 5.0, 6.0])
    a.grad[...] = 1.0
    b.grad[...] = 1.0
    (a if where < 3 else b).grad[where % 3] = bad
    opt = Adam([a, b], lr=0.1)
    with pytest.raises(FloatingPointError, match=f"parameter {int(where >= 3)} has gradient"):
        opt.step()
    assert a.data.tolist() == [1.0, 2.0, 3.0] and b.data.tolist() == [4.0, 5.0, 6.0] and opt.t == [0, 0]
    empty = ArrayParam([])
    SGD([empty], lr=0.1).step()  # an empty gradient is finite


def test_momentum_buffer_is_not_an_alias_of_grad() -> None:
    arr = ArrayParam([0.0])
    arr.grad[...] = 1.0
    opt = SGD([arr], lr=1.0, momentum=0.5)
    opt.step()
    arr.grad[...] = 0.0  # zeroing the grad in place must not zero the velocity
    opt.step()
    assert arr.data.tolist() == [-1.5]


def test_accepts_a_module_and_skips_duplicates() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    assert len(SGD(model, lr=0.1).params) == 13
    p = Value(1.0)
    assert len(SGD([p, p], lr=0.1).params) == 1


def test_optimizer_errors() -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 has no .data and .grad"):
        SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        SGD([Value(1.0)], lr=-1)
    with pytest.raises(TypeError, match="lr must be a number"):
        SGD([Value(1.0)], lr="fast")
    with pytest.raises(ValueError, match="momentum"):
        SGD([Value(1.0)], lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="betas must be a pair"):
        Adam([Value(1.0)], betas=(0.9,))
    bad_schedule = SGD([Value(1.0)], lr=lambda k: math.nan)
    with pytest.raises(ValueError, match="lr at step 0"):
        bad_schedule.step()


# ---------------------------------------------------------------- all or nothing


def _copy(xs: list[Any]) -> list[Any]:
    return [np.copy(x) if isinstance(x, np.ndarray) else x for x in xs]


def _state(opt: SGD | Adam) -> Any:
    copy = _copy
    if isinstance(opt, Adam):
        return opt.steps, list(opt.t), copy(opt.m), copy(opt.v)
    return opt.steps, copy(opt.velocity)


def test_adam_refuses_eps_zero_and_other_bad_hyper_parameters() -> None:
    with pytest.raises(ValueError, match=r"eps must be a finite number in \(0, inf\]"):
        Adam([Value(1.0)], eps=0)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        Adam([Value(1.0)], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="weight_decay"):
        SGD([Value(1.0)], lr=0.1, weight_decay=math.inf)


@pytest.mark.parametrize("arrays", [False, True])
def test_an_update_that_overflows_changes_no_weight_and_no_state(arrays: bool) -> None:
    # 13 weights, the 6th overflows to -inf: nothing may be written, not the first five, not the momentum
    if arrays:
        params: list[Any] = [ArrayParam([1.0, 2.0]) for _ in range(13)]
        params[5].data[1] = -1e308
        for p in params:
            p.grad[...] = 1.0
    else:
        params = [Value(1.0) for _ in range(13)]
        params[5].data = -1e308
        for p in params:
            p.grad = 1.0
    for opt in (SGD(params, lr=1e308, momentum=0.9), Adam(params, lr=1e308)):  # both steps move by about lr
        before = [np.copy(p.data) for p in params]
        state = _state(opt)
        with pytest.raises(FloatingPointError, match="update of parameter 5 gives a non-finite value"):
            opt.step()
        assert all(np.array_equal(p.data, b) for p, b in zip(params, before))
        assert str(_state(opt)) == str(state)


def test_a_wrong_shape_gradient_in_a_later_parameter_updates_nothing() -> None:
    params = [ArrayParam([1.0, 2.0]), ArrayParam([3.0, 4.0])]
    params[0].grad[...] = 1.0
    params[1].grad = np.ones(3)
    opt = Adam(params, lr=0.1)
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(2,\) but its gradient has shape \(3,\)"):
        opt.step()
    assert params[0].data.tolist() == [1.0, 2.0] and opt.t == [0, 0] and opt.steps == 0
