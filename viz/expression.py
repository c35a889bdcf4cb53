"""Expressions typed by a user (``"x*w + b"``) turned into a graph of Values, safely.

``parse_expression("x*w + b", {"x": 2, "w": -3, "b": 1})`` reads the text with
Python's ``ast`` and builds the graph from a whitelist, never ``eval``: numbers,
names that have a value, ``+ - * / **``, unary ``-`` and ``+``, brackets, and calls
of the op table's one-input functions (exp, log, tanh, sigmoid, relu, abs) and of
``max(a, b)`` / ``min(a, b)``.  Anything else raises :class:`ExpressionError`
naming the offending part and its column.  Each name becomes one labelled leaf
(``x * x`` has two edges into the leaf ``x``); the root is labelled ``out``.
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..engine import OPS, Value

Number = float | Value

FUNCTIONS: dict[str, tuple[int, Callable[..., Value]]] = {
    op.method: (1, getattr(Value, op.method))
    for op in OPS.values() if op.method and op.arity == 1 and op.const is None
}
"""Callable functions by name: (number of arguments, the ``Value`` method that applies it)."""
FUNCTIONS["max"] = (2, Value.max)
FUNCTIONS["min"] = (2, Value.min)

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a ** b,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: a,
}
# what a refused node is, in a user's words
_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "a lambda",
    ast.Compare: "a comparison", ast.BoolOp: "and/or", ast.IfExp: "if/else",
    ast.NamedExpr: "assignment (:=)", ast.Starred: "* unpacking", ast.Tuple: "a tuple",
    ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set", ast.JoinedStr: "an f-string",
    ast.ListComp: "a comprehension", ast.GeneratorExp: "a comprehension", ast.Await: "await",
}
_OPERATOR_TEXT: dict[type[ast.AST], str] = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Not: "not", ast.Invert: "~",
}
ALLOWED = "numbers, named values, + - * / **, unary -, brackets, " + ", ".join(
    f"{name}({'a, b' if n == 2 else 'x'})" for name, (n, _) in sorted(FUNCTIONS.items()))
"""What an expression may contain, for messages and help."""


class ExpressionError(ValueError):
    """An expression that cannot be built: ``reason``, and where (``column``, 1-based; ``snippet``)."""

    def __init__(self, reason: str, column: int | None = None, snippet: str = "") -> None:
        where = f"{snippet!r} at column {column}: " if column is not None else ""
        super().__init__(f"{where}{reason}")
        self.reason, self.column, self.snippet = reason, column, snippet


class ValuesError(ValueError):
    """The values given for an expression's names are malformed, missing or unused."""


def parse_values(text: str) -> dict[str, float]:
    """``"x=2,w=-3,b=1"`` -> ``{"x": 2.0, "w": -3.0, "b": 1.0}``; ``ValuesError`` names a bad entry."""
    values: dict[str, float] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        name, eq, number = (s.strip() for s in entry.partition("="))
        if not eq:
            raise ValuesError(f"value {entry!r} has no '=': write name=number, e.g. x=2,w=-3")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ValuesError(f"value {entry!r}: {name!r} is not a name (letters, digits, _)")
        if name in values:
            raise ValuesError(f"value {entry!r}: {name} is given twice")
        values[name] = _number(number, entry)
    return values


def _number(text: str, entry: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValuesError(f"value {entry!r}: {text!r} is not a number") from None
    if not math.isfinite(x):
        raise ValuesError(f"value {entry!r}: {text} is not a finite number")
    return x


def parse_expression(text: str, values: Mapping[str, float], *, label: str = "out") -> Value:
    """The graph of ``text`` with each name a leaf ``Value(values[name], name)``; the root labelled ``label``.

    ``ExpressionError``: a syntax error or a refused form (see the module), a
    name without a value, a domain error (``log(-1)``) or a non-finite result,
    each with its column.  ``ValuesError``: a value that is not a finite number,
    or a value the expression does not use.
    """
    if not isinstance(text, str):
        raise TypeError(f"the expression must be a str, got {type(text).__name__}")
    leaves = {name: Value(_checked_value(name, x), name) for name, x in values.items()}
    tree = _parse(text)
    used: set[str] = set()
    try:
        out = _Builder(text, leaves, used).build(tree.body)
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply to build") from None
    unused = sorted(set(leaves) - used)
    if unused:
        raise ValuesError(f"values given for {', '.join(unused)}, which the expression {text.strip()!r} "
                          "does not use")
    if not isinstance(out, Value):
        out = Value(out)
    if not out.label or out.parents:  # a bare name keeps its own label
        out.label = label if label not in leaves else f"{label}_"
    return out


def _checked_value(name: str, x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValuesError(f"the value of {name} must be a number, got {type(x).__name__}: {x!r:.40}")
    if not math.isfinite(x):
        raise ValuesError(f"the value of {name} must be finite, got {x!r}")
    return float(x)


def _parse(text: str) -> ast.Expression:
    """``ast.parse`` in eval mode (parsing only: nothing is compiled or run)."""
    if not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        line = (exc.text or text).rstrip("\n")
        col = exc.offset or 1
        raise ExpressionError(f"syntax error ({exc.msg})", col, line[col - 1:col + 19] or line) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"the expression cannot be read: {exc}") from None


class _Builder:
    """Walks the whitelisted ``ast`` and makes the nodes; numbers stay floats, as in Python."""

    def __init__(self, text: str, leaves: dict[str, Value], used: set[str]) -> None:
        self.text, self.leaves, self.used = text.strip(), leaves, used

    def fail(self, reason: str, node: ast.AST) -> ExpressionError:
        snippet = ast.get_source_segment(self.text, node) or ""
        line = self.text.splitlines()[node.lineno - 1] if hasattr(node, "lineno") else ""
        column = len(line.encode()[:node.col_offset].decode(errors="ignore")) + 1 if line else None
        return ExpressionError(reason, column, snippet)

    def build(self, node: ast.AST) -> Number:
        kind = type(node)
        if kind is ast.Constant:
            return self.constant(node)  # type: ignore[arg-type]
        if kind is ast.Name:
            return self.name(node)  # type: ignore[arg-type]
        if kind is ast.BinOp:
            return self.binary(node)  # type: ignore[arg-type]
        if kind is ast.UnaryOp:
            return self.unary(node)  # type: ignore[arg-type]
        if kind is ast.Call:
            return self.call(node)  # type: ignore[arg-type]
        what = _REFUSED.get(kind, f"a {kind.__name__} expression")
        raise self.fail(f"{what} is not allowed (allowed: {ALLOWED})", node)

    def constant(self, node: ast.Constant) -> float:
        x = node.value
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise self.fail(f"{type(x).__name__} {x!r:.20} is not a number", node)
        return self.finite(float(x), node)

    def name(self, node: ast.Name) -> Value:
        if node.id not in self.leaves:
            known = ", ".join(sorted(self.leaves)) or "none"
            hint = " (a function: call it, e.g. exp(x))" if node.id in FUNCTIONS else ""
            raise self.fail(f"name {node.id!r} has no value{hint} (values given: {known})", node)
        self.used.add(node.id)
        return self.leaves[node.id]

    def binary(self, node: ast.BinOp) -> Number:
        rule = _BINARY.get(type(node.op))
        if rule is None:
            raise self.fail(f"operator {_OPERATOR_TEXT.get(type(node.op), '?')} is not allowed "
                            "(allowed: + - * / **)", node)
        a, b = self.build(node.left), self.build(node.right)
        return self.run(rule, node, a, b)

    def unary(self, node: ast.UnaryOp) -> Number:
        rule = _UNARY.get(type(node.op))
        if rule is None:
            raise self.fail(f"operator {_OPERATOR_TEXT.get(type(node.op), '?')} is not allowed "
                            "(allowed: unary - and +)", node)
        return self.run(rule, node, self.build(node.operand))

    def call(self, node: ast.Call) -> Value:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise self.fail("attribute access is not allowed (write exp(x), not x.exp())", func)
        if not isinstance(func, ast.Name):
            raise self.fail(f"only plain function names can be called ({', '.join(sorted(FUNCTIONS))})", func)
        if func.id not in FUNCTIONS:
            raise self.fail(f"function {func.id!r} is not allowed (allowed: {', '.join(sorted(FUNCTIONS))})",
                            func)
        if node.keywords:
            raise self.fail(f"keyword arguments are not allowed in {func.id}()", node.keywords[0])
        arity, method = FUNCTIONS[func.id]
        if len(node.args) != arity:
            raise self.fail(f"{func.id}() takes {arity} argument{'s' if arity > 1 else ''}, "
                            f"got {len(node.args)}", node)
        first, *rest = (self.build(a) for a in node.args)
        first = first if isinstance(first, Value) else Value(first)
        return self.run(method, node, first, *rest)  # type: ignore[no-any-return]

    def run(self, rule: Callable[..., Any], node: ast.AST, *args: Any) -> Number:
        """``rule(*args)`` with its domain errors and non-finite results pinned to ``node``."""
        try:
            out = rule(*args)
        except (ArithmeticError, ValueError) as exc:
            plain = isinstance(exc, OverflowError) and exc.args and isinstance(exc.args[0], int)  # (34, ...)
            detail = "the result is too large for a float" if plain else str(exc)
            raise self.fail(f"cannot compute ({detail})", node) from None
        return self.finite(out, node)

    def finite(self, out: Number, node: ast.AST) -> Number:
        x = out.data if isinstance(out, Value) else out
        if isinstance(x, complex):
            raise self.fail("gives a complex number (a negative number to a fractional power)", node)
        if not math.isfinite(x):
            raise self.fail(f"gives {x!r}, not a finite number", node)
        return out
