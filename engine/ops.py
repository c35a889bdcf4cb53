"""THE op table: every op tracegrad knows, defined once.

Each entry says, in the lecture's words, what the op's gate does with the
gradient, and gives two pure functions of the input numbers:

* ``fn(*inputs) -> (out, local_grads)``: the forward value and the local
  gradient d(out)/d(input) for each input, computed together, once
  (scalar form, Python floats);
* ``array_fn(*inputs) -> (out, local_grads)``: the same rule for numpy
  arrays (element-wise), used by the tensor path and the batched tracer.

The backward pass only ever applies ``downstream = local x upstream``; every
consumer (``Value``, the backward loop, the tracer, the diagrams, the tests)
reads the rules from here, so adding an op is one entry.

An :class:`Op` *is* its name (a ``str``), so ``node.op == "mul"`` works, and it
also carries its entry: ``node.op.gate == "swap multiplier"``.  Ops with a
constant argument (``x ** 3``, ``leaky_relu(slope)``) are *bound* once per
argument value (:meth:`Op.bind`) and cached, so a node costs no extra memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Rule = Callable[..., tuple[Any, tuple[Any, ...]]]


class Op(str):
    """One entry of the op table; compares equal to its name."""

    symbol: str
    gate: str
    explain: str
    formula: str
    arity: int
    fn: Rule
    array_fn: Rule | None
    arg: float | None
    _make_fn: Callable[[float], Rule] | None
    _make_array_fn: Callable[[float], Rule] | None
    _bound: dict[float, Op]

    def __new__(
        cls,
        name: str,
        *,
        symbol: str,
        gate: str,
        explain: str,
        formula: str,
        arity: int,
        fn: Rule | None = None,
        array_fn: Rule | None = None,
        make_fn: Callable[[float], Rule] | None = None,
        make_array_fn: Callable[[float], Rule] | None = None,
    ) -> Op:
        op = super().__new__(cls, name)
        op.symbol, op.gate, op.explain, op.formula = symbol, gate, explain, formula
        op.arity = arity
        op.fn = fn  # type: ignore[assignment]
        op.array_fn = array_fn
        op.arg = None
        op._make_fn, op._make_array_fn = make_fn, make_array_fn
        op._bound = {}
        return op

    @property
    def name(self) -> str:
        """The op's plain name, e.g. ``'mul'``."""
        return str.__str__(self)

    def bind(self, arg: float) -> Op:
        """This op with its constant argument fixed (cached per value)."""
        if self._make_fn is None:
            raise TypeError(f"op '{self.name}' takes no constant argument")
        if not math.isfinite(arg):
            raise ValueError(f"op '{self.name}' needs a finite constant argument, got {arg!r}")
        bound = self._bound.get(arg)
        if bound is None:
            bound = Op(
                self.name,
                symbol=self.symbol.format(arg=_fmt(arg)),
                gate=self.gate,
                explain=self.explain,
                formula=self.formula.replace("{arg}", _fmt(arg)),
                arity=self.arity,
                fn=self._make_fn(arg),
                array_fn=self._make_array_fn(arg) if self._make_array_fn else None,
            )
            bound.arg = arg
            self._bound[arg] = bound
        return bound

    def __repr__(self) -> str:
        return f"Op({self.name!r}, gate={self.gate!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # pickles (and copies) as a reference to the table entry
        return (_lookup, (self.name, self.arg))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _lookup(name: str, arg: float | None) -> Op:
    op = OPS[name]
    return op if arg is None else op.bind(arg)


# ---------------------------------------------------------------- the rules
# Scalar rules take and return Python floats; they raise a plain
# ValueError / ZeroDivisionError / OverflowError on a domain error, and the
# engine adds the node's labels to the message.

ONE = (1.0,)
ONE_ONE = (1.0, 1.0)
ONE_MINUS_ONE = (1.0, -1.0)
_SAME: dict[tuple[int, float], tuple[float, ...]] = {}


def _same_locals(n: int, local: float, op: str) -> tuple[float, ...]:
    """``(local,) * n`` for an n-ary gate whose every edge has the same local (cached per n)."""
    if n == 0:
        raise ValueError(f"{op} of no inputs: the gate needs at least one")
    same = _SAME.get((n, local))
    if same is None:
        same = _SAME[n, local] = (local,) * n
    return same


def _add(a: float, b: float) -> tuple[float, tuple[float, float]]:
    return a + b, ONE_ONE


def _sub(a: float, b: float) -> tuple[float, tuple[float, float]]:
    return a - b, ONE_MINUS_ONE


def _mul(a: float, b: float) -> tuple[float, tuple[float, float]]:
    return a * b, (b, a)


def _div(a: float, b: float) -> tuple[float, tuple[float, float]]:
    if b == 0.0:
        raise ZeroDivisionError(f"division by zero: {a!r} / {b!r}")
    inv = 1.0 / b
    return a * inv, (inv, -a * inv * inv)


def _neg(x: float) -> tuple[float, tuple[float]]:
    return -x, (-1.0,)


def _sum(*xs: float) -> tuple[float, tuple[float, ...]]:
    n = len(xs)
    return math.fsum(xs) if n > 64 else sum(xs, 0.0), _same_locals(n, 1.0, "sum")


def _make_pow(k: float) -> Rule:
    integral = float(k).is_integer()

    def _pow(x: float) -> tuple[float, tuple[float]]:
        if x < 0.0 and not integral:
            raise ValueError(f"negative base with a non-integer exponent: ({x!r}) ** {k!r}")
        if x == 0.0 and k < 1.0 and k != 0.0:
            raise ZeroDivisionError(
                f"0.0 ** {k!r}: the local gradient {k!r} * 0 ** {k - 1!r} is infinite"
            )
        try:
            return x**k, (k * x ** (k - 1.0) if k != 0.0 else 0.0,)
        except OverflowError:
            raise OverflowError(f"({x!r}) ** {k!r} overflows a float") from None

    return _pow


def _pow_value(x: float, y: float) -> tuple[float, tuple[float, float]]:
    if x < 0.0:
        raise ValueError(
            f"negative base with a Value exponent: ({x!r}) ** {y!r} has no real gradient "
            "with respect to the exponent (it needs log(base))"
        )
    if x == 0.0:
        if y < 1.0 and y != 0.0:
            raise ZeroDivisionError(f"0.0 ** {y!r}: the local gradient with respect to the base is infinite")
        return (1.0, (0.0, 0.0)) if y == 0.0 else (0.0, (y * 0.0 ** (y - 1.0), 0.0))
    try:
        out = x**y
        return out, (y * x ** (y - 1.0), out * math.log(x))
    except OverflowError:
        raise OverflowError(f"({x!r}) ** {y!r} overflows a float") from None


def _exp(x: float) -> tuple[float, tuple[float]]:
    try:
        out = math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp({x!r}) overflows a float (exp(x) > 1.8e308 for x > 709.78)") from None
    return out, (out,)


def _log(x: float) -> tuple[float, tuple[float]]:
    if x <= 0.0:
        raise ValueError(f"log of a non-positive number: log({x!r})")
    return math.log(x), (1.0 / x,)


def _tanh(x: float) -> tuple[float, tuple[float]]:
    t = math.tanh(x)
    return t, (1.0 - t * t,)


def _sigmoid(x: float) -> tuple[float, tuple[float]]:
    # stable for large |x|: never exponentiates a positive number
    if x >= 0.0:
        s = 1.0 / (1.0 + math.exp(-x))
    else:
        e = math.exp(x)
        s = e / (1.0 + e)
    return s, (s * (1.0 - s),)


def _relu(x: float) -> tuple[float, tuple[float]]:
    if x > 0.0:
        return x, ONE
    return (x, (0.0,)) if x != x else (0.0, (0.0,))  # NaN stays NaN (no silent NaN), as in numpy


def _make_leaky_relu(slope: float) -> Rule:
    def _leaky_relu(x: float) -> tuple[float, tuple[float]]:
        return (x, ONE) if x > 0.0 else (slope * x, (slope,))

    return _leaky_relu


def _abs(x: float) -> tuple[float, tuple[float]]:
    return abs(x), (1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0,)


def _max(a: float, b: float) -> tuple[float, tuple[float, float]]:
    return (a, (1.0, 0.0)) if a >= b else (b, (0.0, 1.0))


def _min(a: float, b: float) -> tuple[float, tuple[float, float]]:
    return (a, (1.0, 0.0)) if a <= b else (b, (0.0, 1.0))


def _max_shift(*xs: float) -> tuple[float, tuple[float, ...]]:
    """m = max(x1, ..., xn), every local 0: a stabilising shift that passes no gradient (NaN in, NaN out)."""
    zeros = _same_locals(len(xs), 0.0, "max_shift")
    m = max(xs)
    return (math.nan if any(x != x for x in xs) else m), zeros


# ---------------------------------------------------------------- array forms
# The same rules, element-wise on numpy arrays (tensor path, batched replay).
# Locals may be Python floats where they are constant (broadcast by the user).


def _a_add(a: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    return a + b, ONE_ONE


def _a_sub(a: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    return a - b, ONE_MINUS_ONE


def _a_mul(a: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    return a * b, (b, a)


def _a_div(a: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    if np.any(b == 0):
        raise ZeroDivisionError("division by zero: the divisor has a zero element")
    inv = 1.0 / b
    return a * inv, (inv, -a * inv * inv)


def _a_neg(x: Any) -> tuple[Any, tuple[Any]]:
    return -x, (-1.0,)


def _a_sum(*xs: Any) -> tuple[Any, tuple[float, ...]]:
    """Element-wise x1 + ... + xn, rounded as the scalar rule rounds.

    Up to 64 inputs: the same left-to-right sum as ``_sum`` (bit for bit);
    more: ``math.fsum`` per element (exactly the scalar rule) when there are few
    elements, else a compensated (Neumaier) sum, as close to it as numpy gets.  Every local is 1 (a distributor).
    """
    n = len(xs)
    ones = _same_locals(n, 1.0, "sum")
    total = xs[0] + 0.0
    if n <= 64:
        for x in xs[1:]:
            total = total + x
        return total, ones
    stacked = np.stack(np.broadcast_arrays(*xs)).astype(np.result_type(*xs, 1.0))
    if stacked[0].size <= 256:  # few elements: math.fsum per element, the scalar rule exactly
        columns = stacked.reshape(n, -1).T
        exact = np.array([math.fsum(c) for c in columns.tolist()], dtype=stacked.dtype)
        return exact.reshape(stacked.shape[1:]), ones
    carry = np.zeros_like(total)
    for x in xs[1:]:
        t = total + x
        carry += np.where(np.abs(total) >= np.abs(x), (total - t) + x, (x - t) + total)
        total = t
    return total + carry, ones


def _a_make_pow(k: float) -> Rule:
    integral = float(k).is_integer()

    def _pow(x: Any) -> tuple[Any, tuple[Any]]:
        if not integral and np.any(x < 0):
            raise ValueError(f"negative base with a non-integer exponent: ({_first(x, x < 0)!r}) ** {k!r}")
        if k < 1.0 and k != 0.0 and np.any(x == 0):
            raise ZeroDivisionError(f"0.0 ** {k!r}: the local gradient {k!r} * 0 ** {k - 1!r} is infinite")
        with np.errstate(over="ignore"):
            out = x**k
            local = k * x ** (k - 1.0) if k != 0.0 else np.zeros_like(x)
        _check_overflow(np.isfinite(x), out, local, f"x ** {k!r}")
        return out, (local,)

    return _pow


def _a_pow_value(x: Any, y: Any) -> tuple[Any, tuple[Any, Any]]:
    """The scalar rule's cases element-wise: x < 0 refused, 0 ** y with 0 < y < 1 or y < 0 infinite."""
    if np.any(x < 0):
        raise ValueError(
            f"negative base with a Value exponent: ({_first(x, x < 0)!r}) ** y has no real gradient "
            "with respect to the exponent (it needs log(base))"
        )
    zero = x == 0
    if np.any(zero & (y < 1.0) & (y != 0.0)):
        raise ZeroDivisionError("0.0 ** y with y < 1, y != 0: the local gradient with respect to the base is infinite")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = x**y
        d_base = y * x ** (y - 1.0)
        d_exp = out * np.log(np.where(zero, 1.0, x))  # 0 at x = 0, as the scalar rule
        if np.any(zero):
            d_base = np.where(zero, np.where(y == 0.0, 0.0, y * 0.0 ** (y - 1.0)), d_base)
    _check_overflow(np.isfinite(x) & np.isfinite(y), out, d_base, "x ** y")
    return out, (d_base, d_exp)


def _first(x: Any, mask: Any) -> float:
    """The first element of ``x`` where ``mask`` holds (for error messages)."""
    return float(np.broadcast_to(x, np.shape(mask))[mask].flat[0])


def _check_overflow(finite: Any, out: Any, local: Any, what: str) -> None:
    """OverflowError, as the scalar rules raise, where finite inputs give an infinite output or local."""
    bad = np.broadcast_to(finite, np.shape(out)) & (np.isinf(out) | np.isinf(local))
    if np.any(bad):
        raise OverflowError(f"{what} overflows a float (first at element {int(np.argmax(bad.ravel()))})")


def _a_exp(x: Any) -> tuple[Any, tuple[Any]]:
    with np.errstate(over="ignore"):
        out = np.exp(x)
    if np.isposinf(out).any() and not np.isposinf(x).any():
        limit = np.log(np.finfo(np.result_type(x, 1.0)).max)
        raise OverflowError(f"exp overflows a float for inputs above {limit:.2f}")
    return out, (out,)


def _a_log(x: Any) -> tuple[Any, tuple[Any]]:
    if np.any(x <= 0):
        raise ValueError(f"log of a non-positive number: log({_first(x, x <= 0)!r})")
    return np.log(x), (1.0 / x,)


def _a_tanh(x: Any) -> tuple[Any, tuple[Any]]:
    t = np.tanh(x)
    return t, (1.0 - t * t,)


def _a_sigmoid(x: Any) -> tuple[Any, tuple[Any]]:
    e = np.exp(-np.abs(x))  # stable: never exponentiates a positive number
    s = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return s, (s * (1.0 - s),)


def _float_type(x: Any) -> Any:
    """The float dtype results of ``x`` take (float32 stays float32)."""
    return x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.result_type(x, 1.0)


def _a_relu(x: Any) -> tuple[Any, tuple[Any]]:
    return np.maximum(x, 0.0), ((x > 0).astype(_float_type(x)),)


def _a_make_leaky_relu(slope: float) -> Rule:
    def _leaky_relu(x: Any) -> tuple[Any, tuple[Any]]:
        mask = x > 0
        local = np.where(mask, 1.0, slope).astype(_float_type(x), copy=False)
        return x * local, (local,)

    return _leaky_relu


def _a_abs(x: Any) -> tuple[Any, tuple[Any]]:
    return np.abs(x), (np.sign(x),)


def _a_max(a: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    first = a >= b  # ties go to the first input
    out = np.where(first, a, b)
    dt = _float_type(out)
    return out, (first.astype(dt), (~first).astype(dt))


def _a_min(a: Any, b: Any) -> tuple[Any, tuple[Any, Any]]:
    first = a <= b
    out = np.where(first, a, b)
    dt = _float_type(out)
    return out, (first.astype(dt), (~first).astype(dt))


def _a_max_shift(*xs: Any) -> tuple[Any, tuple[float, ...]]:
    """Element-wise max of the inputs (NaN propagates); every local is 0 (passes no gradient)."""
    zeros = _same_locals(len(xs), 0.0, "max_shift")
    out = xs[0] + 0.0
    for x in xs[1:]:
        out = np.maximum(out, x)
    return out, zeros


# ---------------------------------------------------------------- the table

LEAF = Op(
    "",
    symbol="",
    gate="leaf",
    explain="an input or a parameter: gradients stop and accumulate here",
    formula="",
    arity=0,
)

_ENTRIES = [
    Op("add", symbol="+", gate="gradient distributor", arity=2, fn=_add, array_fn=_a_add,
       explain="add gate: hands the upstream gradient unchanged to every input",
       formula="d(a+b)/da = 1, d(a+b)/db = 1"),
    Op("sub", symbol="-", gate="gradient distributor", arity=2, fn=_sub, array_fn=_a_sub,
       explain="subtract gate: hands the upstream gradient to a, and its negative to b",
       formula="d(a-b)/da = 1, d(a-b)/db = -1"),
    Op("sum", symbol="Σ", gate="gradient distributor", arity=-1, fn=_sum, array_fn=_a_sum,
       explain="sum gate: hands the upstream gradient unchanged to every input",
       formula="d(x1+...+xn)/dxi = 1"),
    Op("mul", symbol="×", gate="swap multiplier", arity=2, fn=_mul, array_fn=_a_mul,
       explain="multiply gate: each input gets the upstream gradient times the OTHER input",
       formula="d(a*b)/da = b, d(a*b)/db = a"),
    Op("div", symbol="÷", gate="scaled swap multiplier", arity=2, fn=_div, array_fn=_a_div,
       explain="divide gate: a gets upstream / b, b gets -upstream * a / b^2",
       formula="d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"),
    Op("neg", symbol="−", gate="sign flipper", arity=1, fn=_neg, array_fn=_a_neg,
       explain="negate gate: passes the upstream gradient with its sign flipped",
       formula="d(-x)/dx = -1"),
    Op("pow", symbol="^{arg}", gate="power gate", arity=1,
       make_fn=_make_pow, make_array_fn=_a_make_pow,
       explain="power gate: scales the upstream gradient by k x^(k-1)",
       formula="d(x^{arg})/dx = {arg} x^({arg}-1)"),
    Op("pow_value", symbol="^", gate="power gate", arity=2, fn=_pow_value, array_fn=_a_pow_value,
       explain="power gate with a variable exponent: base gets y x^(y-1), exponent gets x^y ln x",
       formula="d(x^y)/dx = y x^(y-1), d(x^y)/dy = x^y ln x"),
    Op("exp", symbol="exp", gate="exp gate", arity=1, fn=_exp, array_fn=_a_exp,
       explain="exp gate: the local gradient is the gate's own output",
       formula="d(e^x)/dx = e^x"),
    Op("log", symbol="log", gate="log gate", arity=1, fn=_log, array_fn=_a_log,
       explain="log gate: divides the upstream gradient by the input",
       formula="d(ln x)/dx = 1/x"),
    Op("tanh", symbol="tanh", gate="tanh gate", arity=1, fn=_tanh, array_fn=_a_tanh,
       explain="tanh gate: scales the upstream gradient by 1 - tanh^2, near 0 when saturated",
       formula="d tanh(x)/dx = 1 - tanh(x)^2"),
    Op("sigmoid", symbol="σ", gate="sigmoid gate", arity=1, fn=_sigmoid, array_fn=_a_sigmoid,
       explain="sigmoid gate: scales the upstream gradient by σ(1-σ), at most 1/4",
       formula="dσ(x)/dx = σ(x)(1 - σ(x))"),
    Op("relu", symbol="ReLU", gate="gradient switch", arity=1, fn=_relu, array_fn=_a_relu,
       explain="ReLU gate: a router against 0; passes the gradient where x > 0, blocks it elsewhere",
       formula="d relu(x)/dx = 1 if x > 0 else 0"),
    Op("leaky_relu", symbol="LReLU({arg})", gate="leaky gradient switch", arity=1,
       make_fn=_make_leaky_relu, make_array_fn=_a_make_leaky_relu,
       explain="leaky ReLU gate: passes the gradient where x > 0, a trickle (slope) elsewhere",
       formula="d lrelu(x)/dx = 1 if x > 0 else {arg}"),
    Op("abs", symbol="|x|", gate="sign router", arity=1, fn=_abs, array_fn=_a_abs,
       explain="abs gate: passes the gradient times the sign of the input",
       formula="d|x|/dx = sign(x)"),
    Op("max", symbol="max", gate="gradient router", arity=2, fn=_max, array_fn=_a_max,
       explain="max gate: routes the whole upstream gradient to the larger input (ties: the first)",
       formula="d max(a,b)/da = 1 if a >= b else 0"),
    Op("min", symbol="min", gate="gradient router", arity=2, fn=_min, array_fn=_a_min,
       explain="min gate: routes the whole upstream gradient to the smaller input (ties: the first)",
       formula="d min(a,b)/da = 1 if a <= b else 0"),
    Op("max_shift", symbol="shift", gate="stabiliser", arity=-1, fn=_max_shift, array_fn=_a_max_shift,
       explain="stabiliser: max of the inputs, passes no gradient (the shift cancels in log-softmax)",
       formula="m = max(x1..xn), dm/dxi = 0"),
]

OPS: dict[str, Op] = {op.name: op for op in _ENTRIES}
OPS[""] = LEAF

ADD, SUB, SUM, MUL, DIV, NEG = (OPS[k] for k in ("add", "sub", "sum", "mul", "div", "neg"))
POW, POW_VALUE, EXP, LOG = (OPS[k] for k in ("pow", "pow_value", "exp", "log"))
TANH, SIGMOID, RELU, LEAKY_RELU = (OPS[k] for k in ("tanh", "sigmoid", "relu", "leaky_relu"))
ABS, MAX, MIN = (OPS[k] for k in ("abs", "max", "min"))


def gate_rule(op: str) -> str:
    """The lecture's one-line rule for an op name (``''`` for a leaf)."""
    return OPS[op].explain if op in OPS else ""
