"""``parse_expression``: a whitelist over Python's ``ast`` that builds Values, never ``eval``."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad.engine import Value
from tracegrad.viz.expression import (
    FUNCTIONS,
    ExpressionError,
    ValuesError,
    parse_expression,
    parse_values,
)


def test_names_become_labelled_leaves_and_the_root_is_out() -> None:
    out = parse_expression("x*w + b", {"x": 2, "w": -3, "b": 1})
    assert out.label == "out" and out.op == "add" and out.data == -5.0
    product, b = out.parents
    assert product.op == "mul" and [p.label for p in product.parents] == ["x", "w"]
    assert b.label == "b" and b.is_leaf()
    out.backward()
    assert [p.grad for p in product.parents] == [-3.0, 2.0]


def test_a_name_used_twice_is_one_leaf() -> None:
    out = parse_expression("x * x", {"x": 3.0})
    a, b = out.parents
    assert a is b and out.data == 9.0


def test_functions_come_from_the_op_table() -> None:
    assert set(FUNCTIONS) == {"exp", "log", "tanh", "sigmoid", "relu", "abs", "max", "min"}
    out = parse_expression("max(relu(x), 2) + tanh(y) + sigmoid(0)", {"x": 3.0, "y": 0.0})
    assert out.data == 3.5
    assert parse_expression("x ** 2", {"x": 3.0}).op == "pow"  # a number exponent: the power gate


@pytest.mark.parametrize(("text", "reason", "column", "snippet"), [
    ("x +", "syntax error", 1, ""),
    ("x * q", "name 'q' has no value", 5, "q"),
    ("x.real + 1", "attribute access is not allowed", 1, "x.real"),
    ("x + x.__class__", "attribute access is not allowed", 5, "x.__class__"),
    ("x[0]", "a subscript is not allowed", 1, "x[0]"),
    ("(lambda: 1)() + x", "only plain function names", 2, ""),
    ("x + (lambda: 1)", "a lambda is not allowed", 6, "lambda: 1"),
    ("exp(x, base=2)", "keyword arguments are not allowed", 8, "base=2"),
    ("2 * sin(x)", "function 'sin' is not allowed", 5, "sin"),
    ("__import__('os')", "function '__import__' is not allowed", 1, "__import__"),
    ("x + 'a'", "str 'a' is not a number", 5, "'a'"),
    ("x + True", "bool True is not a number", 5, "True"),
    ("x // 2", "operator // is not allowed", 1, "x // 2"),
    ("x if x else 1", "if/else is not allowed", 1, "x if x else 1"),
    ("x < 1", "a comparison is not allowed", 1, "x < 1"),
    ("max(x)", "max() takes 2 arguments, got 1", 1, "max(x)"),
    ("tanh(x, x)", "tanh() takes 1 argument, got 2", 1, "tanh(x, x)"),
    ("x + log(x - 2)", "cannot compute (log", 5, "log(x - 2)"),
    ("x / (x - 2)", "cannot compute", 1, "x / (x - 2)"),
    ("x * 10.0 ** 400", "too large", 5, "10.0 ** 400"),
])
def test_the_whitelist_refuses_each_bad_form_naming_the_part(text: str, reason: str, column: int,
                                                              snippet: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, {"x": 2.0})
    assert reason in str(info.value)
    assert info.value.column == column
    assert snippet in info.value.snippet and f"column {column}" in str(info.value)


def test_nothing_is_run_even_inside_refused_calls(tmp_path: object) -> None:
    with pytest.raises(ExpressionError, match="not allowed"):
        parse_expression("exp(__import__('os').system('false'))", {})


@pytest.mark.parametrize(("values", "match"), [
    ({"x": 2.0, "z": 1.0}, "values given for z, which the expression"),
    ({"x": "2"}, "the value of x must be a number"),
    ({"x": float("nan")}, "must be finite"),
])
def test_bad_values(values: dict[str, object], match: str) -> None:
    with pytest.raises(ValuesError, match=match):
        parse_expression("x + 1", values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "match"), [
    ("x", "has no '='"),
    ("x=two", "'two' is not a number"),
    ("x=inf", "not a finite number"),
    ("x=1,x=2", "x is given twice"),
    ("1x=2", "is not a name"),
])
def test_parse_values_names_the_bad_entry(text: str, match: str) -> None:
    with pytest.raises(ValuesError, match=match):
        parse_values(text)


def test_parse_values() -> None:
    assert parse_values("x=2, w=-3,b=1e-1,") == {"x": 2.0, "w": -3.0, "b": 0.1}


# ---------------------------------------------------------------- property: same numbers as Python


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


REFERENCE: dict[str, Callable[..., float]] = {
    "exp": math.exp, "log": math.log, "tanh": math.tanh, "sigmoid": _sigmoid,
    "relu": lambda x: max(x, 0.0), "abs": abs, "max": max, "min": min,
}
BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
          ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


def evaluate(node: ast.AST, env: dict[str, float]) -> float:
    """Plain float arithmetic over the same small ``ast`` (the test's own evaluator, no eval)."""
    out = _evaluate(node, env)
    if isinstance(out, complex):
        raise ValueError("complex")
    return out


def _evaluate(node: ast.AST, env: dict[str, float]) -> float:
    if isinstance(node, ast.Expression):
        return evaluate(node.body, env)
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        return -evaluate(node.operand, env)
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](evaluate(node.left, env), evaluate(node.right, env))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return REFERENCE[node.func.id](*(evaluate(a, env) for a in node.args))


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> str:
    """A random whitelisted expression over x, y, w1: brackets only where the drawing asks for them."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["x", "y", "w1", "0", "1", "2", "0.5", "3.25", "1e-3"]))
    kind = draw(st.sampled_from(["binary", "binary", "pow", "neg", "call", "max"]))
    a = draw(expressions(depth - 1))
    if kind == "binary":
        op, b = draw(st.sampled_from(["+", "-", "*", "/"])), draw(expressions(depth - 1))
        left, right = (draw(st.sampled_from(["({})", "{}"])).format(t) for t in (a, b))
        return f"{left} {op} {right}"
    if kind == "pow":
        return f"({a}) ** {draw(st.sampled_from(['2', '3', '-1']))}"
    if kind == "neg":
        return f"-({a})"
    if kind == "call":
        return f"{draw(st.sampled_from(['exp', 'log', 'tanh', 'sigmoid', 'relu', 'abs']))}({a})"
    return f"{draw(st.sampled_from(['max', 'min']))}({a}, {draw(expressions(depth - 1))})"


QUARTERS = st.integers(-12, 12).map(lambda k: k / 4)  # no subnormals: the engine refuses overflowing local grads


@settings(deadline=None, max_examples=200)
@given(text=expressions(), x=QUARTERS, y=QUARTERS, w1=QUARTERS)
def test_whitelisted_expressions_give_python_s_numbers(text: str, x: float, y: float, w1: float) -> None:
    tree = ast.parse(text, mode="eval")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    env = {k: v for k, v in {"x": x, "y": y, "w1": w1}.items() if k in names}
    try:
        want = evaluate(tree, env)
        ok = isinstance(want, float) and math.isfinite(want)
    except (ArithmeticError, ValueError):
        ok = False
    if not ok:  # a domain error, overflow or a complex power: refused with a column, never a silent NaN
        with pytest.raises(ExpressionError, match="column"):
            parse_expression(text, env)
        return
    got = parse_expression(text, env)
    assert isinstance(got, Value)
    assert math.isclose(got.data, want, rel_tol=1e-9, abs_tol=1e-12), (text, env, got.data, want)
