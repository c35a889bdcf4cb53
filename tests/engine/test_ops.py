"""Each op's forward value and local gradients, straight from the op table, edge cases included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import engine
from tracegrad.engine import OPS, Tensor, Value
from tracegrad.engine.backends import FLOAT
from tracegrad.engine.ops import LEAF, Op


def test_every_op_has_a_full_table_entry() -> None:
    for name, op in OPS.items():
        assert isinstance(op, Op) and op == name
        if name == "":
            continue
        assert op.symbol and op.gate and op.explain and op.formula, name
        assert op.forward is not None and op.local_grads is not None, name


def test_gate_names_are_the_lectures_words() -> None:
    assert OPS["add"].gate == "gradient distributor"
    assert OPS["mul"].gate == "swap multiplier"
    assert OPS["max"].gate == "gradient router"
    assert "sigmoid" in OPS["sigmoid"].gate


def test_op_is_its_name_and_carries_its_entry() -> None:
    v = Value(2.0) * Value(3.0)
    assert v.op == "mul" and v.op.name == "mul"
    assert v.op.gate == "swap multiplier"
    assert Value(1.0).op == "" and Value(1.0).op is LEAF


def test_bound_ops_are_cached_and_carry_their_argument() -> None:
    a, b = Value(2.0) ** 3, Value(5.0) ** 3
    assert a.op is b.op and a.op.arg == 3.0 and a.op == "pow"
    assert "3" in a.op.symbol


@pytest.mark.parametrize(
    ("make", "data", "locals_"),
    [
        (lambda a, b: a + b, 5.0, (1.0, 1.0)),
        (lambda a, b: a - b, -1.0, (1.0, -1.0)),
        (lambda a, b: a * b, 6.0, (3.0, 2.0)),
        (lambda a, b: a / b, 2 / 3, (1 / 3, -2 / 9)),
        (lambda a, b: a.max(b), 3.0, (0.0, 1.0)),
        (lambda a, b: a.min(b), 2.0, (1.0, 0.0)),
        (lambda a, b: a**b, 8.0, (3 * 2.0**2, 8 * math.log(2.0))),
    ],
)
def test_binary_op_value_and_local_gradients(make, data, locals_) -> None:
    out = make(Value(2.0), Value(3.0))
    assert out.data == pytest.approx(data, rel=1e-15)
    assert out.local_grads == pytest.approx(locals_, rel=1e-15)


@pytest.mark.parametrize(
    ("method", "x", "data", "local"),
    [
        ("exp", 1.5, math.exp(1.5), math.exp(1.5)),
        ("log", 2.0, math.log(2.0), 0.5),
        ("tanh", 0.3, math.tanh(0.3), 1 - math.tanh(0.3) ** 2),
        ("sigmoid", 0.3, 1 / (1 + math.exp(-0.3)), (1 / (1 + math.exp(-0.3))) * (1 - 1 / (1 + math.exp(-0.3)))),
        ("relu", 2.5, 2.5, 1.0),
        ("relu", -2.5, 0.0, 0.0),
        ("relu", 0.0, 0.0, 0.0),
        ("abs", -2.0, 2.0, -1.0),
        ("abs", 0.0, 0.0, 0.0),
        ("__neg__", 2.0, -2.0, -1.0),
    ],
)
def test_unary_op_value_and_local_gradient(method, x, data, local) -> None:
    out = getattr(Value(x), method)()
    assert out.data == pytest.approx(data, rel=1e-15, abs=0)
    assert out.local_grads == pytest.approx((local,), rel=1e-12, abs=0)


def test_relu_gradient_at_exactly_zero_is_zero() -> None:
    x = Value(0.0)
    y = x.relu()
    y.backward()
    assert y.data == 0.0 and x.grad == 0.0


def test_leaky_relu_uses_its_slope_below_zero() -> None:
    assert Value(-2.0).leaky_relu(0.1).data == pytest.approx(-0.2)
    assert Value(-2.0).leaky_relu(0.1).local_grads == (0.1,)
    assert Value(-2.0).leaky_relu().local_grads == (0.01,)
    assert Value(3.0).leaky_relu(0.1).local_grads == (1.0,)


@pytest.mark.parametrize("x", [800.0, -800.0, 1e308, -1e308])
def test_sigmoid_is_stable_for_large_inputs(x: float) -> None:
    s = Value(x).sigmoid()
    assert s.data == (1.0 if x > 0 else 0.0)
    assert s.local_grads == (0.0,)
    assert math.isfinite(s.data)


def test_sigmoid_matches_the_closed_form_in_the_middle() -> None:
    for x in np.linspace(-30, 30, 61):
        assert Value(x).sigmoid().data == pytest.approx(1 / (1 + math.exp(-x)), rel=1e-14)


def test_max_tie_routes_everything_to_the_first_argument() -> None:
    a, b = Value(2.0), Value(2.0)
    m = a.max(b)
    m.backward()
    assert (a.grad, b.grad) == (1.0, 0.0)
    a2, b2 = Value(2.0), Value(2.0)
    n = a2.min(b2)
    n.backward()
    assert (a2.grad, b2.grad) == (1.0, 0.0)


def test_max_accepts_plain_numbers() -> None:
    assert Value(-1.0).max(0).data == 0.0
    assert Value(-1.0).min(0.5).data == -1.0


def test_pow_with_a_value_exponent_differentiates_both_sides() -> None:
    x, y = Value(2.0, "x"), Value(3.0, "y")
    z = x**y
    z.backward()
    assert z.data == 8.0
    assert x.grad == pytest.approx(12.0)
    assert y.grad == pytest.approx(8.0 * math.log(2.0))


def test_number_to_the_power_of_a_value() -> None:
    y = Value(3.0)
    z = 2**y
    z.backward()
    assert z.data == 8.0 and y.grad == pytest.approx(8 * math.log(2))


def test_pow_with_constant_exponent() -> None:
    x = Value(-3.0)
    z = x**2
    z.backward()
    assert z.data == 9.0 and x.grad == -6.0
    x0 = Value(0.0)
    (x0**0).backward()
    assert x0.grad == 0.0
    assert (Value(4.0) ** 0.5).data == 2.0


def test_reflected_operators() -> None:
    v = Value(4.0)
    assert (2 * v).data == 8.0
    assert (1 - v).data == -3.0
    assert (1 / v).data == 0.25
    assert (3 + v).data == 7.0
    assert (-v).data == -4.0


def test_sum_values_is_one_distributor_node() -> None:
    from tracegrad.engine import sum_values

    xs = [Value(float(i)) for i in range(5)]
    s = sum_values(xs)
    assert s.op == "sum" and len(s.parents) == 5 and s.data == 10.0
    s.backward()
    assert [x.grad for x in xs] == [1.0] * 5
    assert sum_values([Value(2.0)]).data == 2.0
    assert sum_values([]).data == 0.0
    assert sum_values([1.0, Value(2.0)], start=3.0).data == 6.0


def test_array_forms_agree_with_scalar_forms() -> None:
    xs = np.array([-2.0, -0.5, 0.0, 0.7, 3.0])
    ys = np.array([1.0, -0.5, 2.0, 0.7, -1.0])
    for name, op in OPS.items():
        if not name or op.array_fn is None:
            continue
        if op.arity == 1:
            a = np.abs(xs) + 0.5 if name == "log" else xs
            out, loc = op.array_fn(a)
            for i, x in enumerate(a):
                o, l1 = op.fn(float(x))
                assert out[i] == pytest.approx(o) and np.broadcast_to(loc[0], a.shape)[i] == pytest.approx(l1[0])
        else:
            a = np.abs(xs) + 0.5 if name == "pow_value" else xs
            b = np.abs(ys) + 0.5 if name == "div" else ys
            out, loc = op.array_fn(a, b)
            for i in range(len(a)):
                o, ls = op.fn(float(a[i]), float(b[i]))
                assert out[i] == pytest.approx(o), name
                for k in range(2):
                    assert np.broadcast_to(loc[k], a.shape)[i] == pytest.approx(ls[k]), name


def test_relu_passes_nan_through_like_its_array_form() -> None:
    assert math.isnan(Value(math.nan).relu().data)
    assert math.isnan(OPS["relu"].array_fn(np.array([math.nan]))[0][0])


@pytest.mark.parametrize("y", [0.0, 1.0, 2.5])
def test_pow_value_array_form_takes_base_zero_as_the_scalar_rule_does(y: float) -> None:
    out, (d_base, d_exp) = OPS["pow_value"].array_fn(np.array([0.0, 2.0]), np.array([y, y]))
    for i, x in enumerate((0.0, 2.0)):
        o, (sb, se) = OPS["pow_value"].fn(x, y)
        assert (out[i], d_base[i], d_exp[i]) == pytest.approx((o, sb, se), rel=1e-15)


def test_pow_array_forms_refuse_what_the_scalar_rules_refuse() -> None:
    pv, p = OPS["pow_value"], OPS["pow"]
    with pytest.raises(ValueError, match=r"negative base with a Value exponent: \(-1\.0\)"):
        pv.array_fn(np.array([1.0, -1.0]), np.array([2.0, 2.0]))
    with pytest.raises(ZeroDivisionError, match="infinite"):
        pv.array_fn(np.array([0.0]), np.array([0.5]))
    with pytest.raises(ValueError, match=r"negative base with a non-integer exponent: \(-2\.0\) \*\* 0\.5"):
        p.bind(0.5).array_fn(np.array([4.0, -2.0]))
    for rule in (p.bind(2.0).fn, lambda x: pv.fn(x, 2.0)):  # the scalar rules overflow loudly ...
        with pytest.raises(OverflowError):
            rule(1e200)
    with pytest.raises(OverflowError, match=r"x \*\* 2\.0 overflows a float \(first at element 1\)"):
        p.bind(2.0).array_fn(np.array([1.0, 1e200]))  # ... and so do the array forms (no silent inf)
    with pytest.raises(OverflowError, match="overflows"):
        pv.array_fn(np.array([1e200]), np.array([2.0]))
    assert np.isposinf(p.bind(2.0).array_fn(np.array([np.inf]))[0][0])  # inf in, inf out: not an overflow
    with pytest.raises(ValueError, match=r"log\(-3\.0\)"):
        OPS["log"].array_fn(np.array([1.0, -3.0]))


def test_max_shift_is_a_stabiliser_that_passes_no_gradient() -> None:
    op = OPS["max_shift"]
    assert op.gate == "stabiliser" and "passes no gradient" in op.explain
    assert op.fn(1.0, 3.0, -2.0) == (3.0, (0.0, 0.0, 0.0))
    assert math.isnan(op.fn(1.0, math.nan)[0]) and math.isnan(op.fn(math.nan, 1.0)[0])  # no silent NaN
    out, loc = op.array_fn(np.array([1.0, -5.0, math.nan]), np.array([2.0, -7.0, 0.0]), np.array([0.0, -6.0, 1.0]))
    assert out[:2].tolist() == [2.0, -5.0] and math.isnan(out[2]) and loc == (0.0, 0.0, 0.0)
    for rule in (op.fn, op.array_fn):
        with pytest.raises(ValueError, match="at least one"):
            rule()
    xs = [Value(0.5), Value(2.0), Value(-1.0)]
    m = engine.apply("max_shift", *xs)
    y = xs[0] * 3.0 - m
    y.backward()
    assert m.data == 2.0 and m.op.gate == "stabiliser"
    assert [x.grad for x in xs] == [3.0, 0.0, 0.0]  # the router back through m carries exactly nothing


# ---------------------------------------------------------------- division is one correctly rounded a / b

FINITE = st.floats(-1e100, 1e100)  # the locals (1/b, -a/b^2) stay finite: no overflow warnings


def test_a_number_divided_by_itself_is_exactly_one() -> None:
    assert (Value(49.0) / Value(49.0)).data == 1.0  # a * (1/b) gave 0.9999999999999999
    assert (Value(49.0) / 49.0).data == 1.0 and (49.0 / Value(49.0)).data == 1.0


@settings(deadline=None, max_examples=300)
@given(a=FINITE, b=FINITE.filter(lambda b: abs(b) > 1e-100))
def test_division_is_pythons_a_over_b_bit_for_bit_on_every_path(a: float, b: float) -> None:
    want = a / b
    assert Value(a).__truediv__(Value(b)).data == want
    assert OPS["div"].fn(a, b)[0] == want
    assert OPS["div"].forward(FLOAT, a, b) == want
    assert float(OPS["div"].array_fn(np.array([a]), np.array([b]))[0][0]) == want
    assert float((Tensor([a]) / Tensor([b])).data[0]) == want
    g = engine.trace(lambda x, y: x / y, a, b, replay="python")
    assert g(a, b) == want and g.batch(np.array([a]), np.array([b])) == want


def test_division_by_zero_raises_on_every_path() -> None:
    for run in (lambda: Value(1.0) / Value(0.0), lambda: OPS["div"].fn(1.0, 0.0),
                lambda: OPS["div"].forward(FLOAT, 1.0, 0.0), lambda: Tensor([1.0]) / Tensor([0.0]),
                lambda: OPS["div"].array_fn(np.array([1.0]), np.array([0.0]))):
        with pytest.raises(ZeroDivisionError, match="division by zero"):
            run()
