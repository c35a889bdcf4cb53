"""The math backends ``m`` that every op rule is written against.

An op-table entry writes its rule once::

    forward(m, *xs)                 -> out
    local_grads(m, *xs, out=out)    -> (d out / d x1, d out / d x2, ...)

and the same two functions run on different kinds of number, one backend each:

* :data:`FLOAT`: Python floats (the scalar engine, the traced Python replay);
* :data:`ARRAY`: numpy arrays, element-wise (the tensor path, the batched replay);
* :data:`SYMBOL`: names, giving the formula text the stepper shows
  (``local_grads(SYMBOL, "a", "b", out="c") == ("b", "a")`` for mul);
* the node backends (:class:`NodeMath`: ``value.VALUE`` and ``tensor.TENSOR``):
  Values or Tensors, so that a local gradient becomes nodes and a gradient can
  be differentiated again.

What a rule may use of ``m``:

* the arithmetic operators ``+ - * / **`` and unary ``-`` on its arguments and
  on plain numbers (each backend's numbers support them);
* ``m.exp m.log m.tanh m.sigmoid m.relu m.abs m.recip`` (1/x), ``m.div(a, b)`` (a/b,
  correctly rounded; ``ZeroDivisionError`` at b = 0) and
  ``m.pow(x, k)`` (k a plain number); ``m.sum(*xs)`` and ``m.maximum(*xs)``;
* the **router** helpers, which answer with *constants* (a router's decision
  is not differentiated again): ``m.step(x)`` (1 where x > 0, else 0),
  ``m.sign(x)``, ``m.ge(a, b)`` (1 where a >= b), ``m.le(a, b)``, and
  ``m.select(mask, a, b)`` (a where the router constant ``mask`` is 1, else b);
* helpers that fix a power's edge cases once: ``m.rpow(x, y)`` is x ** y for a
  variable exponent (x >= 0), ``m.mul_pow(c, x, k)`` is ``c * x ** k`` taken
  as 0 where c is 0, and ``m.log_or_zero(x)`` is ln x, 0 at x = 0.

Domain errors are raised here, once per backend, with the lecture's words:
``ValueError`` (log of a non-positive number, a negative base with a
non-integer exponent), ``ZeroDivisionError``, ``OverflowError``.
"""

from __future__ import annotations

import math
from functools import reduce
from typing import Any

import numpy as np

# ---------------------------------------------------------------- floats


def real_float(x: Any, where: str) -> float:
    """``float(x)`` for a real number; one too large for a float raises ``OverflowError`` naming ``where``."""
    try:
        return float(x)
    except OverflowError:
        size = f"an integer of about 10**{int(x.bit_length() * 0.30103)}" if isinstance(x, int) else repr(x)[:40]
        raise OverflowError(f"{where} is {size}, too large for a float (|x| > 1.8e308)") from None


class FloatMath:
    """The backend for Python floats: every function takes and returns floats."""

    name = "float"

    @staticmethod
    def exp(x: float) -> float:
        """e^x; ``OverflowError`` above 709.78."""
        try:
            return math.exp(x)
        except OverflowError:
            raise OverflowError(f"exp({x!r}) overflows a float (exp(x) > 1.8e308 for x > 709.78)") from None

    @staticmethod
    def log(x: float) -> float:
        """ln x for x > 0 (``ValueError`` otherwise)."""
        if x <= 0.0:
            raise ValueError(f"log of a non-positive number: log({x!r})")
        return math.log(x)

    @staticmethod
    def log_or_zero(x: float) -> float:
        """ln x for x > 0, 0 at x = 0."""
        return 0.0 if x == 0.0 else FloatMath.log(x)

    tanh = staticmethod(math.tanh)

    @staticmethod
    def sigmoid(x: float) -> float:
        """σ(x) = 1 / (1 + e^-x), stable for large |x| (never exponentiates a positive number)."""
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    @staticmethod
    def relu(x: float) -> float:
        """max(0, x); NaN stays NaN (no silent NaN)."""
        return x if x > 0.0 or x != x else 0.0

    abs = staticmethod(abs)

    @staticmethod
    def recip(x: float) -> float:
        """1 / x (``ZeroDivisionError`` at 0)."""
        if x == 0.0:
            raise ZeroDivisionError(f"division by zero: 1 / {x!r}")
        return 1.0 / x

    @staticmethod
    def div(a: float, b: float) -> float:
        """a / b, correctly rounded (``ZeroDivisionError`` at b = 0)."""
        if b == 0.0:
            raise ZeroDivisionError(f"division by zero: {a!r} / {b!r}")
        return a / b

    @staticmethod
    def pow(x: float, k: Any) -> float:
        """x ** k for a plain k; refuses what has no real value or overflows."""
        if x < 0.0 and not float(k).is_integer():
            raise ValueError(f"negative base with a non-integer exponent: ({x!r}) ** {k!r}")
        if x == 0.0 and k < 0.0:
            raise ZeroDivisionError(f"0.0 ** {k!r} is infinite")
        try:
            return float(x**k)
        except OverflowError:
            raise OverflowError(f"({x!r}) ** {k!r} overflows a float") from None

    @staticmethod
    def rpow(x: float, y: float) -> float:
        """x ** y for a variable exponent: x >= 0 (the exponent's gradient needs ln x)."""
        if x < 0.0:
            raise ValueError(
                f"negative base with a Value exponent: ({x!r}) ** {y!r} has no real gradient "
                "with respect to the exponent (it needs log(base))"
            )
        if x == 0.0 and y < 1.0 and y != 0.0:
            raise ZeroDivisionError(f"0.0 ** {y!r}: the local gradient with respect to the base is infinite")
        return FloatMath.pow(x, y)

    @staticmethod
    def mul_pow(c: float, x: float, k: float) -> float:
        """c x^k, taken as 0 where c = 0 (a power gate's local gradient at its edge cases)."""
        return 0.0 if c == 0.0 else c * FloatMath.pow(x, k)

    @staticmethod
    def sum(*xs: float) -> float:
        """x1 + ... + xn left to right (exactly rounded ``math.fsum`` past 64 inputs)."""
        return math.fsum(xs) if len(xs) > 64 else sum(xs, 0.0)

    @staticmethod
    def maximum(*xs: float) -> float:
        """The largest input; NaN in, NaN out."""
        if not xs:
            raise ValueError("max of no inputs: the gate needs at least one")
        return math.nan if any(x != x for x in xs) else max(xs)

    # routers: constants
    @staticmethod
    def step(x: float) -> float:
        """1 where x > 0, else 0 (a router constant)."""
        return 1.0 if x > 0.0 else 0.0

    @staticmethod
    def sign(x: float) -> float:
        """+1, -1 or 0 (a router constant); NaN stays NaN."""
        return 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0 if x == 0.0 else x

    @staticmethod
    def ge(a: float, b: float) -> float:
        """1 where a >= b or a is NaN (a NaN wins: no silent NaN), else 0 (a router constant)."""
        return 1.0 if a >= b or a != a else 0.0

    @staticmethod
    def le(a: float, b: float) -> float:
        """1 where a <= b or a is NaN, else 0 (a router constant)."""
        return 1.0 if a <= b or a != a else 0.0

    @staticmethod
    def select(mask: float, a: Any, b: Any) -> Any:
        """``a`` where the router constant ``mask`` is 1, else ``b``."""
        return a if mask else b


FLOAT = FloatMath()


# ---------------------------------------------------------------- numpy arrays


def float_type(x: Any) -> Any:
    """The float dtype results of ``x`` take (float32 stays float32)."""
    return x.dtype if isinstance(x, np.ndarray) and x.dtype.kind == "f" else np.result_type(x, 1.0)


def _first(x: Any, mask: Any) -> float:
    """The first element of ``x`` where ``mask`` holds (for error messages)."""
    return float(np.broadcast_to(x, np.shape(mask))[mask].flat[0])


class ArrayMath:
    """The backend for numpy arrays, element-wise; float32 stays float32."""

    name = "array"

    @staticmethod
    def exp(x: Any) -> Any:
        """e^x element-wise; ``OverflowError`` where a finite input overflows."""
        with np.errstate(over="ignore"):
            out = np.exp(x)
        if np.isposinf(out).any() and not np.isposinf(x).any():
            limit = np.log(np.finfo(float_type(x)).max)
            raise OverflowError(f"exp overflows a float for inputs above {limit:.2f}")
        return out

    @staticmethod
    def log(x: Any) -> Any:
        """ln x element-wise (``ValueError`` naming the first x <= 0)."""
        if np.any(x <= 0):
            raise ValueError(f"log of a non-positive number: log({_first(x, x <= 0)!r})")
        return np.log(x)

    @staticmethod
    def log_or_zero(x: Any) -> Any:
        """ln x element-wise, 0 where x = 0."""
        zero = x == 0
        if not np.any(zero):
            return ArrayMath.log(x)
        return np.where(zero, 0.0, ArrayMath.log(np.where(zero, 1.0, x))).astype(float_type(x), copy=False)

    tanh = staticmethod(np.tanh)

    @staticmethod
    def sigmoid(x: Any) -> Any:
        """σ(x) element-wise, stable: never exponentiates a positive number."""
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    @staticmethod
    def relu(x: Any) -> Any:
        """max(0, x) element-wise (NaN stays NaN)."""
        return np.maximum(x, 0.0)

    abs = staticmethod(np.abs)

    @staticmethod
    def recip(x: Any) -> Any:
        """1 / x element-wise (``ZeroDivisionError`` if any element is 0)."""
        if np.any(x == 0):
            raise ZeroDivisionError("division by zero: the divisor has a zero element")
        return 1.0 / x

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        """a / b element-wise, correctly rounded (``ZeroDivisionError`` if any element of b is 0)."""
        if np.any(b == 0):
            raise ZeroDivisionError("division by zero: the divisor has a zero element")
        return a / b

    @staticmethod
    def pow(x: Any, k: Any) -> Any:
        """x ** k element-wise for a plain k; refuses what has no real value or overflows."""
        if not float(k).is_integer() and np.any(x < 0):
            raise ValueError(f"negative base with a non-integer exponent: ({_first(x, x < 0)!r}) ** {k!r}")
        if k < 0 and np.any(x == 0):
            raise ZeroDivisionError(f"0.0 ** {k!r} is infinite")
        with np.errstate(over="ignore"):
            out = x**k
        _check_overflow(np.isfinite(x), out, f"x ** {k!r}")
        return out

    @staticmethod
    def rpow(x: Any, y: Any) -> Any:
        """x ** y element-wise for a variable exponent: x >= 0 (the exponent's gradient needs ln x)."""
        if np.any(x < 0):
            raise ValueError(
                f"negative base with a Value exponent: ({_first(x, x < 0)!r}) ** y has no real gradient "
                "with respect to the exponent (it needs log(base))"
            )
        if np.any((x == 0) & (y < 1.0) & (y != 0.0)):
            raise ZeroDivisionError(
                "0.0 ** y with y < 1, y != 0: the local gradient with respect to the base is infinite"
            )
        return ArrayMath.mul_pow(1.0, x, y)

    @staticmethod
    def mul_pow(c: Any, x: Any, k: Any) -> Any:
        """c x^k element-wise, 0 where c = 0; k may be an array (a variable exponent)."""
        if np.ndim(k) == 0 and np.ndim(c) == 0:
            return np.zeros_like(x, dtype=float_type(x)) if c == 0 else c * ArrayMath.pow(x, k)
        x, k = np.asarray(x), np.asarray(k)
        if np.any((x < 0) & (np.mod(k, 1) != 0)):
            raise ValueError(f"negative base with a non-integer exponent: ({_first(x, x < 0)!r}) ** k")
        live = np.asarray(c) != 0
        if np.any(live & (x == 0) & (k < 0)):
            raise ZeroDivisionError("0.0 ** k with k < 0 is infinite")
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            power = x**k
            out = np.where(live, c * power, 0.0)
        _check_overflow(np.isfinite(x) & np.isfinite(k), np.where(live, power, 0.0), "x ** k")
        return out

    @staticmethod
    def sum(*xs: Any) -> Any:
        """Element-wise x1 + ... + xn, rounded as the float backend rounds.

        Up to 64 inputs: the same left-to-right sum (bit for bit); more:
        ``math.fsum`` per element when there are few elements, else a
        compensated (Neumaier) sum, as close to it as numpy gets.
        """
        if not xs:
            raise ValueError("sum of no inputs: the gate needs at least one")
        total = xs[0] + 0.0
        if len(xs) <= 64:
            for x in xs[1:]:
                total = total + x
            return total
        stacked = np.stack(np.broadcast_arrays(*xs)).astype(np.result_type(*xs, 1.0))
        if stacked[0].size <= 256:
            columns = stacked.reshape(len(xs), -1).T
            exact = np.array([math.fsum(c) for c in columns.tolist()], dtype=stacked.dtype)
            return exact.reshape(stacked.shape[1:])
        carry = np.zeros_like(total)
        for x in xs[1:]:
            t = total + x
            carry += np.where(np.abs(total) >= np.abs(x), (total - t) + x, (x - t) + total)
            total = t
        return total + carry

    @staticmethod
    def maximum(*xs: Any) -> Any:
        """Element-wise max of the inputs (NaN propagates)."""
        if not xs:
            raise ValueError("max of no inputs: the gate needs at least one")
        out = xs[0] + 0.0
        for x in xs[1:]:
            out = np.maximum(out, x)
        return out

    @staticmethod
    def step(x: Any) -> Any:
        """1 where x > 0, else 0, in x's float dtype (a router constant)."""
        return (x > 0).astype(float_type(x))

    @staticmethod
    def sign(x: Any) -> Any:
        """sign(x) element-wise (a router constant)."""
        return np.sign(x)

    @staticmethod
    def ge(a: Any, b: Any) -> Any:
        """1 where a >= b or a is NaN, else 0 (a router constant; ties and NaN go to the first input)."""
        return ((a >= b) | np.isnan(a)).astype(np.result_type(float_type(a), float_type(b)))

    @staticmethod
    def le(a: Any, b: Any) -> Any:
        """1 where a <= b or a is NaN, else 0 (a router constant)."""
        return ((a <= b) | np.isnan(a)).astype(np.result_type(float_type(a), float_type(b)))

    @staticmethod
    def select(mask: Any, a: Any, b: Any) -> Any:
        """``a`` where ``mask`` is 1, else ``b``, in the mask's float dtype."""
        out = np.where(mask != 0, a, b)
        dtype = float_type(mask)
        return out if out.dtype == dtype else out.astype(dtype)


def _check_overflow(finite: Any, out: Any, what: str) -> None:
    """OverflowError, as the float backend raises, where finite inputs give an infinite result."""
    bad = np.broadcast_to(finite, np.shape(out)) & np.isinf(out)
    if np.any(bad):
        raise OverflowError(f"{what} overflows a float (first at element {int(np.argmax(bad.ravel()))})")


ARRAY = ArrayMath()


# ---------------------------------------------------------------- symbols


_ATOM, _POWER, _UNARY, _PRODUCT, _SUM = 0, 1, 2, 3, 4  # tighter binds lower


class Sym:
    """A formula as text with its precedence; arithmetic on Syms builds formulas.

    ``str(Sym)`` is the text: ``Sym("a") * Sym("b") + 1`` prints ``a·b + 1``.
    Plain numbers fold where the result is obvious (``1 * x`` is ``x``).
    """

    __slots__ = ("text", "level")

    def __init__(self, text: str, level: int = _ATOM) -> None:
        self.text, self.level = text, level

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Sym({self.text!r})"

    def wrap(self, level: int) -> str:
        """The text, in parentheses if it binds looser than ``level``."""
        return f"({self.text})" if self.level > level else self.text

    # arithmetic
    def __add__(self, o: Any) -> Sym:
        return _binary(self, o, "+", _SUM)

    def __radd__(self, o: Any) -> Sym:
        return _binary(o, self, "+", _SUM)

    def __sub__(self, o: Any) -> Sym:
        return _binary(self, o, "-", _SUM)

    def __rsub__(self, o: Any) -> Sym:
        return _binary(o, self, "-", _SUM)

    def __mul__(self, o: Any) -> Sym:
        return _binary(self, o, "·", _PRODUCT)

    def __rmul__(self, o: Any) -> Sym:
        return _binary(o, self, "·", _PRODUCT)

    def __truediv__(self, o: Any) -> Sym:
        return _binary(self, o, "/", _PRODUCT)

    def __rtruediv__(self, o: Any) -> Sym:
        return _binary(o, self, "/", _PRODUCT)

    def __pow__(self, o: Any) -> Sym:
        return _binary(self, o, "^", _POWER)

    def __rpow__(self, o: Any) -> Sym:
        return _binary(o, self, "^", _POWER)

    def __neg__(self) -> Sym:
        return Sym(f"-{self.wrap(_UNARY)}", _UNARY)


def sym(x: Any) -> Sym:
    """A Sym for a name, a Sym, or a plain number (``1.0`` prints ``1``)."""
    if isinstance(x, Sym):
        return x
    if isinstance(x, (int, float)):
        text = f"{x:g}"
        return Sym(text, _UNARY if text.startswith("-") else _ATOM)
    return Sym(str(x))


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) else None


class Frac(Sym):
    """A quotient kept as numerator and denominator, so that ``a·(1/b)·(1/b)`` prints ``a / b^2``."""

    __slots__ = ("num", "den")

    def __init__(self, num: Any, den: Any) -> None:
        self.num, self.den = num, den  # plain numbers stay numbers (so 1·x folds)
        d = sym(den)
        text = f"{sym(num).wrap(_PRODUCT)} / {d.wrap(_POWER if d.level == _POWER else _ATOM)}"
        super().__init__(text, _PRODUCT)

    def __neg__(self) -> Sym:
        return Frac(-sym(self.num) if _num(self.num) is None else -self.num, self.den)


def _times(a: Any, b: Any) -> Sym | None:
    """``a · b`` when one side is a quotient: multiply numerators, and denominators (x·x is x^2)."""
    if not isinstance(a, Frac) and not isinstance(b, Frac):
        return None
    na, da = (a.num, a.den) if isinstance(a, Frac) else (a, None)
    nb, db = (b.num, b.den) if isinstance(b, Frac) else (b, None)
    num = _binary(na, nb, "·", _PRODUCT)
    if da is not None and db is not None:
        same = str(sym(da)) == str(sym(db))
        den = Sym(f"{sym(da).wrap(_ATOM)}^2", _POWER) if same else _binary(da, db, "·", _PRODUCT)
    else:
        den = da if da is not None else db
    return Frac(num, den)


def _binary(a: Any, b: Any, op: str, level: int) -> Sym:
    if op == "·":
        quotient = _times(a, b)
        if quotient is not None:
            return quotient
    na, nb = _num(a), _num(b)
    if op == "·" and (na == 1.0 or nb == 1.0):
        return sym(b if na == 1.0 else a)
    if op == "·" and (na == -1.0 or nb == -1.0):
        return -sym(b if na == -1.0 else a)
    if op in "+-" and nb == 0.0:
        return sym(a)
    a, b = sym(a), sym(b)
    if op == "^":  # x^k: both sides atoms (parenthesised otherwise)
        return Sym(f"{a.wrap(_ATOM)}^{b.wrap(_ATOM)}", level)
    right = level if op in "+·" else level - 1  # a - (b + c), a / (b·c)
    space = "" if op == "·" else " "
    return Sym(f"{a.wrap(level)}{space}{op}{space}{b.wrap(right)}", level)


def _call(name: str, *xs: Any) -> Sym:
    return Sym(f"{name}({', '.join(str(sym(x)) for x in xs)})")


class SymbolMath:
    """The backend for formula text: each function answers a :class:`Sym`."""

    name = "symbol"

    @staticmethod
    def exp(x: Any) -> Sym:
        return Sym(f"e^{sym(x).wrap(_ATOM)}", _POWER)

    @staticmethod
    def log(x: Any) -> Sym:
        return _call("ln", x)

    log_or_zero = log

    @staticmethod
    def tanh(x: Any) -> Sym:
        return _call("tanh", x)

    @staticmethod
    def sigmoid(x: Any) -> Sym:
        return _call("σ", x)

    @staticmethod
    def relu(x: Any) -> Sym:
        return _call("max", 0, x)

    @staticmethod
    def abs(x: Any) -> Sym:
        return Sym(f"|{sym(x)}|")

    @staticmethod
    def recip(x: Any) -> Sym:
        return Frac(1, x)

    @staticmethod
    def div(a: Any, b: Any) -> Sym:
        return Frac(a, b)

    @staticmethod
    def pow(x: Any, k: Any) -> Sym:
        return sym(x) ** k

    @staticmethod
    def rpow(x: Any, y: Any) -> Sym:
        return sym(x) ** y

    @staticmethod
    def mul_pow(c: Any, x: Any, k: Any) -> Sym:
        return c * sym(x) ** k

    @staticmethod
    def sum(*xs: Any) -> Sym:
        if len(xs) > 4:
            return Sym(f"{sym(xs[0])} + ... + {sym(xs[-1])}", _SUM)
        total = sym(xs[0])
        for x in xs[1:]:
            total = total + x
        return total

    @staticmethod
    def maximum(*xs: Any) -> Sym:
        return _call("max", *xs)

    @staticmethod
    def step(x: Any) -> Sym:
        return Sym(f"[{sym(x)} > 0]")

    @staticmethod
    def sign(x: Any) -> Sym:
        return _call("sign", x)

    @staticmethod
    def ge(a: Any, b: Any) -> Sym:
        return Sym(f"[{sym(a)} ≥ {sym(b)}]")

    @staticmethod
    def le(a: Any, b: Any) -> Sym:
        return Sym(f"[{sym(a)} ≤ {sym(b)}]")

    @staticmethod
    def select(mask: Any, a: Any, b: Any) -> Sym:
        if _num(a) == 1.0 and _num(b) == 0.0:
            return sym(mask)
        if _num(a) == 0.0 and _num(b) == 1.0:
            return 1 - sym(mask)
        return Sym(f"({sym(a)} if {str(sym(mask)).strip('[]')} else {sym(b)})")


SYMBOL = SymbolMath()


# ---------------------------------------------------------------- nodes


def _is_node(x: Any) -> bool:
    return hasattr(type(x), "parents")


def _data(x: Any) -> Any:
    return x.data if _is_node(x) else x


class NodeMath:
    """The node backends' shared part: a node's own op makes the node; plain numbers go to ``plain``.

    ``value.VALUE`` (scalar ``Value``s) and ``tensor.TENSOR`` (``Tensor``s) are its two
    instances: an op's ``local_grads`` run on them gives local gradients that are nodes,
    so a gradient can be differentiated again.  Router decisions are read from the data
    and stay constants.
    """

    plain: Any = FLOAT  # the backend for plain numbers

    def _apply(self, method: str, x: Any) -> Any:
        return getattr(x, method)() if _is_node(x) else getattr(self.plain, method)(x)

    def exp(self, x: Any) -> Any:
        return self._apply("exp", x)

    def log(self, x: Any) -> Any:
        return self._apply("log", x)

    def tanh(self, x: Any) -> Any:
        return self._apply("tanh", x)

    def sigmoid(self, x: Any) -> Any:
        return self._apply("sigmoid", x)

    def relu(self, x: Any) -> Any:
        return self._apply("relu", x)

    def abs(self, x: Any) -> Any:
        return self._apply("abs", x)

    def recip(self, x: Any) -> Any:
        return 1.0 / x if _is_node(x) else self.plain.recip(x)

    def div(self, a: Any, b: Any) -> Any:
        return a / b if _is_node(a) or _is_node(b) else self.plain.div(a, b)

    def pow(self, x: Any, k: Any) -> Any:
        return x**k if _is_node(x) else self.plain.pow(x, k)

    def rpow(self, x: Any, y: Any) -> Any:
        return x**y

    def mul_pow(self, c: Any, x: Any, k: Any) -> Any:
        """c x^k, 0 where c = 0: no node for a constant 0, and no 0 ** negative where c and x are 0."""
        if not _is_node(c) and np.all(c == 0):
            return 0.0
        both_zero = (np.asarray(_data(c)) == 0) & (np.asarray(_data(x)) == 0)
        if np.any(both_zero):  # c = 0 there, so the product stays 0; shift x off 0 by a constant
            x = x + (1.0 if np.ndim(both_zero) == 0 else both_zero.astype(float))
        return c * x**k

    def log_or_zero(self, x: Any) -> Any:
        """ln x, 0 where x = 0 (the zeros masked as constants)."""
        zero = _data(x) == 0
        if not np.any(zero):
            return self.log(x)
        if np.ndim(zero) == 0:
            return 0.0
        mask = zero.astype(float)
        return (x + mask).log() * (1.0 - mask)

    def sum(self, *xs: Any) -> Any:
        return reduce(lambda a, b: a + b, xs)

    def maximum(self, *xs: Any) -> Any:
        return self.plain.maximum(*(_data(x) for x in xs))

    # routers: decisions read from the data, constants
    def step(self, x: Any) -> Any:
        return self.plain.step(_data(x))

    def sign(self, x: Any) -> Any:
        return self.plain.sign(_data(x))

    def ge(self, a: Any, b: Any) -> Any:
        return self.plain.ge(_data(a), _data(b))

    def le(self, a: Any, b: Any) -> Any:
        return self.plain.le(_data(a), _data(b))

    def select(self, mask: Any, a: Any, b: Any) -> Any:
        nodes = _is_node(a) or _is_node(b)
        if not nodes:
            return self.plain.select(mask, a, b)
        return a * mask + b * (1.0 - mask)  # both branches as nodes, the mask a constant
