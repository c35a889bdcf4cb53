"""Optimizers: the same numbers as torch.optim in float64, for scalar and array parameters."""

from __future__ import annotations

import math
import warnings
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


# ---------------------------------------------------------------- the all-or-nothing checks, made cheap


class HalfStepSGD(SGD):
    """A subclass with its own rule: half the step (the array fast path must not bypass it)."""

    def _rule(self, data: Any, g: Any, v: Any, lr: float) -> Any:
        return super()._rule(data, g, v, lr / 2)


class ClippedSGD(SGD):
    """A rule that hides a NaN or inf gradient: its gradients must still be checked on their own."""

    def _rule(self, data: Any, g: Any, v: Any, lr: float) -> Any:
        return super()._rule(data, np.nan_to_num(g, nan=0.0, posinf=1.0, neginf=-1.0), v, lr)


arrays32_64 = st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dt: st.tuples(
        st.just(dt),
        st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=40),
        st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=40),
    )
)


@settings(max_examples=60, deadline=None)
@given(arrays32_64, st.sampled_from([0.0, 1e-3, 0.1, 2.5]))
def test_plain_sgd_on_arrays_is_p_minus_lr_g_bit_for_bit_in_place(case, lr: float) -> None:
    dt, data, grad = case
    n = min(len(data), len(grad))
    p = ArrayParam(data[:n])
    p.data = p.data.astype(dt)
    p.grad = np.array(grad[:n], dtype=dt)
    held, g0 = p.data, p.grad.copy()
    opt = SGD([p], lr=lr)
    for _ in range(3):  # the work array is reused from step to step
        expected = (p.data - lr * p.grad).astype(dt)
        opt.step()
        assert p.data is held and p.data.dtype == dt
        assert np.array_equal(p.data, expected)
        assert np.array_equal(p.grad, g0)  # the gradient is read, never written


def test_a_subclass_rule_is_used_for_arrays_too() -> None:
    p = ArrayParam([1.0, 2.0])
    p.grad[...] = 1.0
    HalfStepSGD([p], lr=0.5).step()
    assert p.data.tolist() == [0.75, 1.75]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_rule_that_hides_a_bad_gradient_still_has_the_gradient_checked(bad: float) -> None:
    p = ArrayParam([1.0, 2.0])
    p.grad[1] = bad
    opt = ClippedSGD([p], lr=0.1)
    with pytest.raises(FloatingPointError, match="parameter 0 has gradient"):
        opt.step()
    assert p.data.tolist() == [1.0, 2.0] and opt.steps == 0


@pytest.mark.parametrize("kind", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_bad_gradient_is_named_even_with_lr_zero(kind: str, bad: float) -> None:
    # lr = 0: 0 x inf is NaN, so the update still shows the gradient's inf; the message names the gradient
    p = ArrayParam([1.0, 2.0, 3.0])
    p.grad[...] = 1.0
    p.grad[2] = bad
    opt = {"sgd": SGD([p], lr=0.0), "momentum": SGD([p], lr=0.0, momentum=0.9), "adam": Adam([p], lr=0.0)}[kind]
    state = _state(opt)
    with pytest.raises(FloatingPointError, match="parameter 0 has gradient"):
        opt.step()
    assert p.data.tolist() == [1.0, 2.0, 3.0] and str(_state(opt)) == str(state)


def test_a_bad_gradient_is_named_before_an_earlier_parameters_overflowing_update() -> None:
    a, b = ArrayParam([-3e38, 1.0]), ArrayParam([1.0, 2.0])
    a.data, a.grad = a.data.astype(np.float32), np.array([1e38, 0.0], dtype=np.float32)  # a's update overflows
    b.grad[0] = math.nan
    with pytest.raises(FloatingPointError, match="parameter 1 has gradient"):
        SGD([a, b], lr=10.0).step()
    with pytest.raises(FloatingPointError, match="update of parameter 0 gives a non-finite value"):
        SGD([a], lr=10.0).step()
    assert a.data.tolist() == [np.float32(-3e38), 1.0] and b.data.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("dtype, huge", [(np.float32, 1e30), (np.float64, 1e200)])
@pytest.mark.parametrize("kind", [SGD, ClippedSGD])  # ClippedSGD checks its gradients on their own
def test_huge_but_finite_numbers_are_not_mistaken_for_nan_or_inf(kind: type, dtype: Any, huge: float) -> None:
    # x.x overflows for these (the quick check says "maybe not finite"); the element-wise check must clear it
    p = ArrayParam([1.0, 2.0])
    p.data = np.array([huge, -huge], dtype=dtype)  # the updates are huge
    p.grad = np.array([huge, 0.0], dtype=dtype)  # and so is a gradient
    opt = kind([p], lr=1.0 / huge)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow warning leaks out of the check
        opt.step()
    assert p.data.tolist() == [np.float64(dtype(huge) - dtype(1.0 / huge) * dtype(huge)), -np.float64(dtype(huge))]


def test_a_parameter_whose_data_changes_shape_gets_a_new_work_array() -> None:
    p = ArrayParam([1.0, 2.0])
    p.grad[...] = 1.0
    opt = SGD([p], lr=1.0)
    opt.step()
    p.data, p.grad = np.zeros((2, 3)), np.ones((2, 3))
    opt.step()
    assert p.data.tolist() == [[-1.0] * 3] * 2


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.integers(1, 300), st.data(),
       st.sampled_from([math.nan, math.inf, -math.inf]))
def test_one_nan_or_inf_anywhere_in_a_long_gradient_is_caught(dtype: Any, n: int, data: Any, bad: float) -> None:
    # the quick check is one dot product x.x per array: every position (BLAS tails too) must count
    where = data.draw(st.integers(0, n - 1))
    p = ArrayParam([0.5] * n)
    p.data = p.data.astype(dtype)
    p.grad = np.full(n, 0.25, dtype=dtype)
    p.grad[where] = bad
    with pytest.raises(FloatingPointError, match="parameter 0 has gradient"):
        SGD([p], lr=0.1).step()
    assert (p.data == dtype(0.5)).all()
