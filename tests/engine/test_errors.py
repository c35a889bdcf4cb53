"""Every bad input gets its specific exception and a message naming what was wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tracegrad.engine import (
    OPS,
    GradcheckError,
    Tensor,
    Value,
    apply,
    backward,
    backward_schedule,
    concatenate,
    detect_anomaly,
    gradcheck,
    log_softmax,
    numerical_grad,
    softmax,
    stack,
    trace,
)


def test_log_of_non_positive_names_value_and_label() -> None:
    with pytest.raises(ValueError, match=r"log.*-1\.0.*'?x'?"):
        Value(-1.0, "x").log()
    with pytest.raises(ValueError, match="log"):
        Value(0.0).log()


def test_division_by_zero() -> None:
    with pytest.raises(ZeroDivisionError, match=r"div.*b=0\.0"):
        Value(1.0, "a") / Value(0.0, "b")
    with pytest.raises(ZeroDivisionError):
        1 / Value(0.0)


def test_negative_base_with_fractional_exponent() -> None:
    with pytest.raises(ValueError, match=r"negative base.*0\.5"):
        Value(-4.0, "x") ** 0.5
    with pytest.raises(ValueError, match="negative base"):
        Value(-4.0) ** Value(2.0)
    assert (Value(-2.0) ** 3).data == -8.0


def test_zero_to_a_negative_power() -> None:
    with pytest.raises(ZeroDivisionError):
        Value(0.0) ** -1
    with pytest.raises(ZeroDivisionError, match="infinite"):
        Value(0.0) ** 0.5


def test_exp_overflow_is_an_overflow_error_not_inf() -> None:
    with pytest.raises(OverflowError, match=r"exp\(800\.0\).*'?big'?"):
        Value(800.0, "big").exp()


def test_failed_op_leaves_its_inputs_untouched() -> None:
    x = Value(-1.0, "x")
    y = x * 2
    with pytest.raises(ValueError):
        y.log()
    assert (x.data, x.grad, y.data, y.grad) == (-1.0, 0.0, -2.0, 0.0)


def test_detect_anomaly_catches_nan_in_forward_and_names_the_op() -> None:
    inf = Value(math.inf, "inf")
    with pytest.raises(FloatingPointError, match=r"op 'sub'.*inf"):
        with detect_anomaly():
            _ = inf - inf
    _ = inf - inf  # outside the block: plain IEEE arithmetic


def test_detect_anomaly_catches_a_nan_leaf() -> None:
    with pytest.raises(FloatingPointError, match="w"):
        with detect_anomaly():
            Value(math.nan, "w")


def test_detect_anomaly_catches_inf_in_backward_and_commits_nothing() -> None:
    x = Value(1e200, "x")
    y = x * x  # data is inf already: caught in forward when anomaly is on
    with pytest.raises(FloatingPointError, match="mul"):
        with detect_anomaly():
            x * x
    a = Value(1e300, "a")
    b = a * 1.0
    with detect_anomaly():
        z = b * 10.0  # 1e301, finite
        with pytest.raises(FloatingPointError, match=r"backward through op 'mul'"):
            z.backward(1e10)  # 10 x 1e10 fine, then 1e300 x ... overflow
    assert a.grad == 0.0 and b.grad == 0.0, "a failed backward half-updated the grads"
    assert y.data == math.inf


def test_gradcheck_reports_every_input() -> None:
    report = gradcheck(lambda a, b: (a * b + a.exp()).tanh(), [Value(0.3, "a"), 0.7])
    assert [r.label for r in report] == ["a", "input 1"]
    assert all(r.ok for r in report)
    assert report[0].analytic == pytest.approx(report[0].numeric, rel=1e-6)


def test_gradcheck_leaves_the_callers_gradients_alone() -> None:
    w, b = Value(2.0, "w"), Value(0.5, "b")
    w.grad, b.grad = 7.0, -1.0
    x = Value(0.3, "x")
    x.grad = 4.0
    inner = w * b  # the caller's graph, used inside f
    inner.grad = 9.0
    report = gradcheck(lambda v: (v * inner + b).tanh(), [x])
    assert report[0].ok
    assert (w.grad, b.grad, x.grad, inner.grad) == (7.0, -1.0, 4.0, 9.0)
    W = Tensor(np.array([[1.0, -2.0]]), requires_grad=True)
    W.grad = np.array([[5.0, 6.0]])
    held = W.grad
    gradcheck(lambda t: (t * W).sum(), [np.array([[0.5, 0.25]])])
    assert W.grad is held and W.grad.tolist() == [[5.0, 6.0]]
    V = Tensor(np.array([1.0, 2.0]), requires_grad=True)  # no gradient yet: stays None
    gradcheck(lambda t: (t * V).sum(), [np.array([0.5, 0.25])])
    assert V.grad is None


def test_gradcheck_raises_naming_the_input_and_both_values() -> None:
    def wrong(a: Value) -> Value:
        out = a * a
        out.local_grads = (a.data, 0.0)  # a deliberately wrong local gradient
        return out

    with pytest.raises(GradcheckError, match=r"for x: backward gives 1\.5.*central differences give (3\.0|2\.9999)"):
        gradcheck(wrong, [Value(1.5, "x")])


def test_gradcheck_needs_inputs_and_a_value() -> None:
    with pytest.raises(ValueError):
        gradcheck(lambda: Value(1.0), [])
    with pytest.raises(TypeError, match="must return a Value"):
        gradcheck(lambda a: 1.0, [1.0])


def test_detect_anomaly_catches_a_fan_out_sum_that_overflows() -> None:
    x = Value(1.0, "x")
    y = x * 1e308 + x * 1e308  # each edge is finite; their sum at x is not
    x.grad = 0.5
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"gradient of x=1\.0 overflowed.*adder"):
        y.backward()
    assert x.grad == 0.5, "a failed backward half-updated the grads"
    with detect_anomaly(), pytest.raises(FloatingPointError, match="seed"):
        (x * 2.0).backward(math.inf)


def test_backward_needs_a_node_and_a_number_seed() -> None:
    with pytest.raises(TypeError, match="needs a Value or a Tensor, got float"):
        backward(3.0)
    x = Value(2.0)
    (x * x).backward(np.float32(0.5))  # any real number is a seed
    assert x.grad == 2.0 and type(x.grad) is float
    with pytest.raises(TypeError, match="seed gradient"):
        backward_schedule(x * x, "1")  # type: ignore[arg-type]


def test_gradcheck_refuses_bad_inputs_and_tolerances() -> None:
    f = lambda a: a * a  # noqa: E731
    with pytest.raises(TypeError, match="input 1 must be a number.*got str"):
        gradcheck(lambda a, b: a * b, [1.0, "2.0"])
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0, got 0\.0"):
        gradcheck(f, [1.0], eps=0.0)
    with pytest.raises(ValueError, match=r"rtol must be a finite number >= 0, got -1"):
        gradcheck(f, [1.0], rtol=-1)
    with pytest.raises(TypeError, match="atol must be a number"):
        gradcheck(f, [1.0], atol="0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eps"):
        numerical_grad(f, [1.0], eps=math.nan)


def test_apply_checks_op_arity_and_inputs() -> None:
    a, b = Value(2.0, "a"), Value(3.0, "b")
    assert apply(OPS["mul"], a, b).data == 6.0
    assert apply("add", a, 1).data == 3.0  # a name, and a number wrapped as a constant
    assert apply(OPS["pow"].bind(2.0), a).data == 4.0
    assert apply("sum", a, b, a).parents == (a, b, a)
    with pytest.raises(ValueError, match="unknown op 'matmul'"):
        apply("matmul", a, b)
    with pytest.raises(ValueError, match=r"'mul' takes 2 input\(s\), got 1"):
        apply("mul", a)
    with pytest.raises(ValueError, match="at least 1"):
        apply("sum")
    with pytest.raises(TypeError, match=r"constant argument: OPS\['pow'\]\.bind"):
        apply("pow", a)
    with pytest.raises(TypeError, match="leaf"):
        apply(OPS[""])
    with pytest.raises(TypeError, match="op must be an engine Op"):
        apply(len, a)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got str"):
        apply("add", a, "b")


def test_constant_arguments_must_be_finite() -> None:
    with pytest.raises(ValueError, match="pow.*finite"):
        Value(2.0) ** math.nan
    with pytest.raises(ValueError, match="leaky_relu.*finite"):
        Value(2.0).leaky_relu(math.inf)
    assert len(OPS["pow"]._bound) == len({k for k in OPS["pow"]._bound if k == k})  # no NaN keys cached


# ---------------------------------------------------------------- clear errors: each names the input, sample or op


def test_a_zero_d_array_is_a_number_to_trace() -> None:
    g = trace(lambda x: x * 2.0, np.array(3.0))
    assert g(np.array(4.0)) == 8.0


def test_a_traced_fn_that_returns_a_number_is_told_why() -> None:
    with pytest.raises(TypeError, match=r"a pair whose first item is a float \(a plain number has no graph"):
        trace(lambda x: (float(x.data), [x]), 1.0)  # as a custom loss that calls float() under trace=True
    with pytest.raises(TypeError, match=r"got float \(a plain number"):
        trace(lambda x: x.data, 1.0)


def test_an_empty_batch_is_reported_as_empty() -> None:
    g = trace(lambda x: x * 2.0, 1.0)
    with pytest.raises(ValueError, match=r"the batch is empty \(input 0 has 0 samples\)"):
        g.batch(np.ones(0))
    h = trace(lambda xs: xs[0] * xs[1], [1.0, 2.0])
    with pytest.raises(ValueError, match="the batch is empty"):
        h.batch(np.ones((0, 2)))


def test_softmax_over_an_empty_axis_names_the_axis() -> None:
    with pytest.raises(ValueError, match=r"softmax: axis 1 of shape \(2, 0\) is empty"):
        softmax(Tensor(np.ones((2, 0))), axis=1)
    with pytest.raises(ValueError, match=r"log_softmax: axis 0 of shape \(0,\) is empty"):
        log_softmax(Tensor(np.ones(0)), axis=0)


def test_joining_along_axis_none_is_refused() -> None:
    with pytest.raises(TypeError, match="concatenate: axis must be an int, got None"):
        concatenate([Tensor([1.0]), Tensor([2.0, 3.0])], axis=None)
    with pytest.raises(TypeError, match="stack: axis must be an int, got None"):
        stack([Tensor([1.0]), Tensor([2.0])], axis=None)


def test_a_number_too_large_for_a_float_names_where_it_was() -> None:
    big = 10**400
    for run, where in [
        (lambda: Value(big), "Value data"),
        (lambda: Value(1.0) * big, "mul: the operand"),
        (lambda: big / Value(1.0), "div: the operand"),
        (lambda: Tensor([1.0, big]), r"Tensor data: element \[1\]"),
        (lambda: Tensor([1.0]) + big, "Tensor operand"),
        (lambda: trace(lambda x: x * 2.0, 1.0)(big), "trace: input 0"),
        (lambda: trace(lambda x: x * 2.0, 1.0).batch([1.0, 2.0, big]), "trace.batch: input 0, sample 2"),
    ]:
        with pytest.raises(OverflowError, match=where + ".*too large for a float"):
            run()


def test_a_batch_division_by_zero_names_the_sample_and_the_op() -> None:
    g = trace(lambda x, y: x / y + x, 3.0, 1.0)
    with pytest.raises(ZeroDivisionError, match=r"division by zero.*sample 1, t0 = x0 ÷ x1"):
        g.batch(np.ones(3), np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ZeroDivisionError, match=r"division by zero.*t0 = x0 ÷ x1, over a batch, sample 2"):
        g.inspect(np.ones(3), np.array([1.0, 2.0, 0.0]), batch=True)
