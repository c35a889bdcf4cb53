"""THE op table: every op tracegrad knows, each rule written once.

An entry holds, in the lecture's words, what its gate does with the gradient
(``gate``, ``explain``, ``formula``, ``symbol``) and its rule, written once
against a math backend ``m`` (:mod:`engine.backends`)::

    mul:      forward(m, a, b) = a * b          local_grads(m, a, b, out=out) = (b, a)
    sigmoid:  forward(m, x)    = m.sigmoid(x)   local_grads(m, x, out=out)    = (out * (1 - out),)
    relu:     forward(m, x)    = m.relu(x)      local_grads(m, x, out=out)    = (m.step(x),)  # a router

Everything else is derived from the entry:

* ``op.fn(*floats) -> (out, locals)``: the scalar rule (floats backend);
* ``op.array_fn(*arrays) -> (out, locals)``: the element-wise rule (numpy backend),
  for the tensor path and the batched replay;
* ``op.local_text(parents, out)`` / ``op.forward_text(parents)``: the formula
  text the stepper shows (symbol backend);
* ``op.local_grads(VALUE, ...)``: local gradients as nodes, for gradients of
  gradients (:func:`engine.grad` with ``create_graph=True``);
* the ``Value`` / ``Tensor`` methods (``method``), the tracer's generated code,
  the reference tests' op lists (``reference``: the torch / autograd name).

The built-in ops keep a hand-unrolled scalar rule (``fn``) for the hot path;
``tests/engine/test_ops.py`` checks it against the entry's rule for every op.
:func:`define_op` (in :mod:`engine.define`) adds an op the same way.

An :class:`Op` *is* its name (a ``str``), so ``node.op == "mul"`` works, and it
also carries its entry: ``node.op.gate == "swap multiplier"``.  Ops with a
constant argument (``x ** 3``, ``leaky_relu(slope)``) are *bound* once per
argument value (:meth:`Op.bind`) and cached, so a node costs no extra memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

from .backends import ARRAY, FLOAT, SYMBOL, Sym, sym

Rule = Callable[..., tuple[Any, tuple[Any, ...]]]
Forward = Callable[..., Any]
LocalGrads = Callable[..., Sequence[Any]]


class Op(str):
    """One entry of the op table; compares equal to its name.

    ``forward(m, *xs)`` and ``local_grads(m, *xs, out=out)`` are the rule;
    ``arity`` is the number of inputs (-1: any number, at least one);
    ``const`` names a constant argument (``pow``'s k) taken after the inputs
    until the op is bound; ``router`` marks gates whose locals are decisions;
    ``infix`` draws ``a × b`` rather than ``mul(a, b)``; ``method`` is the
    ``Value`` / ``Tensor`` method that makes it; ``reference`` names its
    counterpart in torch (``torch.<reference>``; ``None``: none).
    """

    symbol: str
    gate: str
    explain: str
    formula: str
    arity: int
    forward: Forward | None
    local_grads: LocalGrads | None
    fn: Rule | None
    array_fn: Rule | None
    arg: float | None
    const: str | None
    router: bool
    infix: bool
    method: str | None
    default: float | None
    reference: str | None
    _fast: Callable[[float], Rule] | Rule | None
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
        forward: Forward | None = None,
        local_grads: LocalGrads | None = None,
        fast: Any = None,
        const: str | None = None,
        router: bool = False,
        infix: bool = False,
        method: str | None = None,
        default: float | None = None,
        reference: str | None = None,
    ) -> Op:
        op = super().__new__(cls, name)
        op.symbol, op.gate, op.explain, op.formula = symbol, gate, explain, formula
        op.arity = arity
        op.forward, op.local_grads = forward, local_grads
        op.arg, op.const, op.router, op.infix = None, const, router, infix
        op.method, op.default, op.reference = method, default, reference
        op._fast = fast
        op._bound = {}
        ready = forward is not None and const is None
        op.fn = (fast or _scalar_rule(op)) if ready else None
        op.array_fn = _array_rule(op) if ready else None
        return op

    @property
    def name(self) -> str:
        """The op's plain name, e.g. ``'mul'``."""
        return str.__str__(self)

    def bind(self, arg: float) -> Op:
        """This op with its constant argument fixed (cached per value)."""
        if self.const is None or self.arg is not None:
            raise TypeError(f"op '{self.name}' takes no constant argument")
        if not math.isfinite(arg):
            raise ValueError(f"op '{self.name}' needs a finite constant argument, got {arg!r}")
        bound = self._bound.get(arg)
        if bound is None:
            forward, local_grads = self.forward, self.local_grads
            assert forward is not None and local_grads is not None
            bound = Op(
                self.name,
                symbol=self.symbol.format(arg=_fmt(arg)),
                gate=self.gate,
                explain=self.explain,
                formula=self.formula.replace("{arg}", _fmt(arg)),
                arity=self.arity,
                forward=lambda m, *xs: forward(m, *xs, arg),
                local_grads=lambda m, *xs, out: local_grads(m, *xs, arg, out=out),
                fast=self._fast(arg) if self._fast else None,
                router=self.router,
                infix=self.infix,
                method=self.method,
                default=self.default,
                reference=self.reference,
            )
            bound.arg = arg
            self._bound[arg] = bound
        return bound

    def locals_on(self, m: Any, inputs: Sequence[Any], out: Any) -> tuple[Any, ...]:
        """The local gradients d out / d input_i on backend ``m``, checked for their count."""
        assert self.local_grads is not None
        local = tuple(self.local_grads(m, *inputs, out=out))
        if len(local) != len(inputs):
            raise ValueError(
                f"op '{self.name}': local_grads returned {len(local)} local gradient(s) for "
                f"{len(inputs)} input(s); it must return one per input"
            )
        return local

    def local_text(self, parents: Sequence[str], out: str) -> tuple[str, ...]:
        """Each edge's local gradient d out / d parent as formula text, from the rule itself.

        ``OPS["mul"].local_text(["a", "b"], "c") == ("b", "a")``;
        ``OPS["sigmoid"].local_text(["z"], "o") == ("o·(1 - o)",)``.
        """
        if self.local_grads is None:
            return ()
        syms = [Sym(p) for p in parents]
        if self.const is not None and self.arg is None:  # unbound: the constant by its name (k, slope)
            local = self.local_grads(SYMBOL, *syms, Sym(self.const), out=Sym(out))
            return tuple(str(sym(s)) for s in local)
        return tuple(str(sym(s)) for s in self.locals_on(SYMBOL, syms, Sym(out)))

    def forward_text(self, parents: Sequence[str]) -> str:
        """How the node is made, as text: ``'a × b'``, ``'x^2'``, ``'σ(z3)'``, ``'Σ(a, b, c)'``."""
        symbol = self.symbol.format(arg=self.const) if self.arg is None and self.const else self.symbol
        if self.infix and len(parents) == 2:
            return f"{parents[0]} {symbol} {parents[1]}"
        if self.infix and len(parents) == 1:
            return f"{parents[0]}{symbol}"
        return f"{symbol}({', '.join(parents)})"

    def __repr__(self) -> str:
        return f"Op({self.name!r}, gate={self.gate!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # pickles (and copies) as a reference to the table entry
        return (_lookup, (self.name, self.arg))


def method_for(op: Op, make: Callable[[Op, Any], Any]) -> Callable[..., Any]:
    """The ``Value`` / ``Tensor`` method that applies a unary ``op`` (``make(op, self)`` makes the node).

    Ops with a constant argument take it as the method's one argument
    (``x.leaky_relu(0.1)``, default ``op.default``).
    """
    if op.const is None:

        def method(self: Any) -> Any:
            return make(op, self)

    else:

        def method(self: Any, arg: Any = op.default) -> Any:
            if isinstance(arg, bool) or not isinstance(arg, Real):
                raise TypeError(f"{op.method} {op.const} must be a number, got {type(arg).__name__}")
            return make(op.bind(float(arg)), self)

    method.__name__ = method.__qualname__ = op.method or op.name
    method.__doc__ = f"{op.explain}.\n\n    {op.formula}"
    return method


def _scalar_rule(op: Op) -> Rule:
    """``fn(*floats) -> (out, locals)`` derived from the entry's rule on the floats backend."""
    forward = op.forward

    def rule(*xs: float) -> tuple[float, tuple[float, ...]]:
        out = float(forward(FLOAT, *xs))  # type: ignore[misc]
        return out, tuple(float(g) for g in op.locals_on(FLOAT, xs, out))

    return rule


def _array_rule(op: Op) -> Rule:
    """``array_fn(*arrays) -> (out, locals)`` derived from the entry's rule on the numpy backend."""
    forward = op.forward

    def rule(*xs: Any) -> tuple[Any, tuple[Any, ...]]:
        out = forward(ARRAY, *xs)  # type: ignore[misc]
        return out, op.locals_on(ARRAY, xs, out)

    return rule


def _fmt(x: float) -> str:
    return f"{x:g}"


def _lookup(name: str, arg: float | None) -> Op:
    op = OPS[name]
    return op if arg is None else op.bind(arg)


# ---------------------------------------------------------------- scalar hot path
# Hand-unrolled scalar rules for the built-in ops: one call gives the value and
# the locals.  Each is checked against its entry's rule for every op
# (tests/engine/test_ops.py).  They raise a plain ValueError / ZeroDivisionError /
# OverflowError on a domain error; the engine adds the node's labels.
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
    return a / b, (inv, -a * inv * inv)


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
        return out, (y * x ** (y - 1.0) if y != 0.0 else 0.0, out * math.log(x))
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
    return abs(x), (1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0 if x == 0.0 else x,)  # sign(NaN) is NaN


def _max(a: float, b: float) -> tuple[float, tuple[float, float]]:
    # a NaN wins (no silent NaN): a >= b is False for a NaN a, so ask a != a too
    return (a, (1.0, 0.0)) if a >= b or a != a else (b, (0.0, 1.0))


def _min(a: float, b: float) -> tuple[float, tuple[float, float]]:
    return (a, (1.0, 0.0)) if a <= b or a != a else (b, (0.0, 1.0))


def _max_shift(*xs: float) -> tuple[float, tuple[float, ...]]:
    """m = max(x1, ..., xn), every local 0: a stabilising shift that passes no gradient (NaN in, NaN out)."""
    zeros = _same_locals(len(xs), 0.0, "max_shift")
    m = max(xs)
    return (math.nan if any(x != x for x in xs) else m), zeros


# ---------------------------------------------------------------- the table
# Each entry: its words, its rule (forward, local_grads) once, and the
# scalar hot-path specialisation above (checked against the rule for every op).


def _ones(m: Any, *xs: Any, out: Any) -> tuple[float, ...]:
    return _same_locals(len(xs), 1.0, "sum")


def _zeros(m: Any, *xs: Any, out: Any) -> tuple[float, ...]:
    return _same_locals(len(xs), 0.0, "max_shift")


LEAF = Op(
    "",
    symbol="",
    gate="leaf",
    explain="an input or a parameter: gradients stop and accumulate here",
    formula="",
    arity=0,
)

_ENTRIES = [
    Op("add", symbol="+", gate="gradient distributor", arity=2, infix=True, reference="add",
       forward=lambda m, a, b: a + b, local_grads=lambda m, a, b, out: ONE_ONE, fast=_add,
       explain="add gate: hands the upstream gradient unchanged to every input",
       formula="d(a+b)/da = 1, d(a+b)/db = 1"),
    Op("sub", symbol="-", gate="gradient distributor", arity=2, infix=True, reference="subtract",
       forward=lambda m, a, b: a - b, local_grads=lambda m, a, b, out: ONE_MINUS_ONE, fast=_sub,
       explain="subtract gate: hands the upstream gradient to a, and its negative to b",
       formula="d(a-b)/da = 1, d(a-b)/db = -1"),
    Op("sum", symbol="Σ", gate="gradient distributor", arity=-1, reference="sum",
       forward=lambda m, *xs: m.sum(*xs), local_grads=_ones, fast=_sum,
       explain="sum gate: hands the upstream gradient unchanged to every input",
       formula="d(x1+...+xn)/dxi = 1"),
    Op("mul", symbol="×", gate="swap multiplier", arity=2, infix=True, reference="multiply",
       forward=lambda m, a, b: a * b, local_grads=lambda m, a, b, out: (b, a), fast=_mul,
       explain="multiply gate: each input gets the upstream gradient times the OTHER input",
       formula="d(a*b)/da = b, d(a*b)/db = a"),
    Op("div", symbol="÷", gate="scaled swap multiplier", arity=2, infix=True, reference="divide",
       forward=lambda m, a, b: m.div(a, b),
       local_grads=lambda m, a, b, out: (m.recip(b), -a * m.recip(b) * m.recip(b)), fast=_div,
       explain="divide gate: a gets upstream / b, b gets -upstream * a / b^2",
       formula="d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"),
    Op("neg", symbol="−", gate="sign flipper", arity=1, reference="negative",
       forward=lambda m, x: -x, local_grads=lambda m, x, out: (-1.0,), fast=_neg,
       explain="negate gate: passes the upstream gradient with its sign flipped",
       formula="d(-x)/dx = -1"),
    Op("pow", symbol="^{arg}", gate="power gate", arity=1, const="k", infix=True, reference="pow",
       forward=lambda m, x, k: m.pow(x, k),
       local_grads=lambda m, x, k, out: (m.mul_pow(k, x, k - 1.0),), fast=_make_pow,
       explain="power gate: scales the upstream gradient by k x^(k-1)",
       formula="d(x^{arg})/dx = {arg} x^({arg}-1)"),
    Op("pow_value", symbol="^", gate="power gate", arity=2, infix=True, reference="pow",
       forward=lambda m, x, y: m.rpow(x, y),
       local_grads=lambda m, x, y, out: (m.mul_pow(y, x, y - 1.0), out * m.log_or_zero(x)),
       fast=_pow_value,
       explain="power gate with a variable exponent: base gets y x^(y-1), exponent gets x^y ln x",
       formula="d(x^y)/dx = y x^(y-1), d(x^y)/dy = x^y ln x"),
    Op("exp", symbol="exp", gate="exp gate", arity=1, method="exp", reference="exp",
       forward=lambda m, x: m.exp(x), local_grads=lambda m, x, out: (out,), fast=_exp,
       explain="exp gate: the local gradient is the gate's own output",
       formula="d(e^x)/dx = e^x"),
    Op("log", symbol="log", gate="log gate", arity=1, method="log", reference="log",
       forward=lambda m, x: m.log(x), local_grads=lambda m, x, out: (m.recip(x),), fast=_log,
       explain="log gate: divides the upstream gradient by the input",
       formula="d(ln x)/dx = 1/x"),
    Op("tanh", symbol="tanh", gate="tanh gate", arity=1, method="tanh", reference="tanh",
       forward=lambda m, x: m.tanh(x), local_grads=lambda m, x, out: (1.0 - out * out,), fast=_tanh,
       explain="tanh gate: scales the upstream gradient by 1 - tanh^2, near 0 when saturated",
       formula="d tanh(x)/dx = 1 - tanh(x)^2"),
    Op("sigmoid", symbol="σ", gate="sigmoid gate", arity=1, method="sigmoid", reference="sigmoid",
       forward=lambda m, x: m.sigmoid(x), local_grads=lambda m, x, out: (out * (1.0 - out),), fast=_sigmoid,
       explain="sigmoid gate: scales the upstream gradient by σ(1-σ), at most 1/4",
       formula="dσ(x)/dx = σ(x)(1 - σ(x))"),
    Op("relu", symbol="ReLU", gate="gradient switch", arity=1, router=True, method="relu", reference="relu",
       forward=lambda m, x: m.relu(x), local_grads=lambda m, x, out: (m.step(x),), fast=_relu,
       explain="ReLU gate: a router against 0; passes the gradient where x > 0, blocks it elsewhere",
       formula="d relu(x)/dx = 1 if x > 0 else 0"),
    Op("leaky_relu", symbol="LReLU({arg})", gate="leaky gradient switch", arity=1, const="slope",
       router=True, method="leaky_relu", default=0.01, reference="leaky_relu",
       forward=lambda m, x, slope: x * m.select(m.step(x), 1.0, slope),
       local_grads=lambda m, x, slope, out: (m.select(m.step(x), 1.0, slope),), fast=_make_leaky_relu,
       explain="leaky ReLU gate: passes the gradient where x > 0, a trickle (slope) elsewhere",
       formula="d lrelu(x)/dx = 1 if x > 0 else {arg}"),
    Op("abs", symbol="|x|", gate="sign router", arity=1, router=True, method="abs", reference="abs",
       forward=lambda m, x: m.abs(x), local_grads=lambda m, x, out: (m.sign(x),), fast=_abs,
       explain="abs gate: passes the gradient times the sign of the input",
       formula="d|x|/dx = sign(x)"),
    Op("max", symbol="max", gate="gradient router", arity=2, router=True, reference="maximum",
       forward=lambda m, a, b: m.select(m.ge(a, b), a, b),
       local_grads=lambda m, a, b, out: (m.ge(a, b), 1.0 - m.ge(a, b)), fast=_max,
       explain="max gate: routes the whole upstream gradient to the larger input (ties and NaN: the first)",
       formula="d max(a,b)/da = 1 if a >= b else 0"),
    Op("min", symbol="min", gate="gradient router", arity=2, router=True, reference="minimum",
       forward=lambda m, a, b: m.select(m.le(a, b), a, b),
       local_grads=lambda m, a, b, out: (m.le(a, b), 1.0 - m.le(a, b)), fast=_min,
       explain="min gate: routes the whole upstream gradient to the smaller input (ties: the first)",
       formula="d min(a,b)/da = 1 if a <= b else 0"),
    Op("max_shift", symbol="shift", gate="stabiliser", arity=-1, router=True,
       forward=lambda m, *xs: m.maximum(*xs), local_grads=_zeros, fast=_max_shift,
       explain="stabiliser: max of the inputs, passes no gradient (the shift cancels in log-softmax)",
       formula="m = max(x1..xn), dm/dxi = 0"),
]

OPS: dict[str, Op] = {op.name: op for op in _ENTRIES}
OPS[""] = LEAF
BUILT_IN: frozenset[str] = frozenset(op.name for op in _ENTRIES)
"""The names tracegrad ships (``OPS`` also holds the ops ``define_op`` adds)."""

ADD, SUB, SUM, MUL, DIV, NEG = (OPS[k] for k in ("add", "sub", "sum", "mul", "div", "neg"))
POW, POW_VALUE, EXP, LOG = (OPS[k] for k in ("pow", "pow_value", "exp", "log"))
TANH, SIGMOID, RELU, LEAKY_RELU = (OPS[k] for k in ("tanh", "sigmoid", "relu", "leaky_relu"))
ABS, MAX, MIN = (OPS[k] for k in ("abs", "max", "min"))


def register(op: Op) -> Op:
    """Add ``op`` to the table (``ValueError`` if its name is taken)."""
    if op.name in OPS:
        raise ValueError(f"op name {op.name!r} is taken by {OPS[op.name]!r}")
    OPS[op.name] = op
    return op


def gate_rule(op: str) -> str:
    """The lecture's one-line rule for an op name (``''`` for a leaf)."""
    return OPS[op].explain if op in OPS else ""
