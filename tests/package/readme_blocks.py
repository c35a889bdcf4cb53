"""Run a Markdown file's ```python blocks as a reader would paste them, and check what they show.

A block's shown output is checked two ways:

* a ``print(...)`` statement followed by whole-line comments: the comments are its output, line
  for line (``# step  node ...``);
* an expression statement with a trailing comment that is a value (``x.grad  # 0.6225``,
  ``history.loss[-1], acc  # (0.0110, 1.0)``, ``o  # Value(data=0.6154, ...)``): the value, to
  the digits shown.  A comment that is prose (``# the graph: data, grad, ...``) is not checked.
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import re
import textwrap
import tokenize
from pathlib import Path
from typing import Any

BLOCK = re.compile(r"^[ \t]*```python\n(.*?)^[ \t]*```", re.S | re.M)
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?")


def python_blocks(path: Path) -> list[str]:
    """The file's ```python blocks, dedented (some sit inside list items)."""
    return [textwrap.dedent(b) for b in BLOCK.findall(path.read_text(encoding="utf-8"))]


def _digits(text: str) -> float:
    """Half a unit in the last shown digit of a number's text: '0.0110' -> 5e-5."""
    mantissa = text.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(text.lower().split("e")[1]) if "e" in text.lower() else 0
    return 0.5 * 10.0 ** (exponent - decimals)


def _matches(value: Any, shown: Any, text: str) -> bool:
    """``value`` equals the literal ``shown`` to the digits of its text ``text``."""
    if isinstance(shown, (tuple, list)):
        parts = [p.strip() for p in text.strip()[1:-1].split(",") if p.strip()]
        return (isinstance(value, (tuple, list)) and len(value) == len(shown) == len(parts)
                and all(_matches(v, s, p) for v, s, p in zip(value, shown, parts)))
    if isinstance(shown, (int, float)) and not isinstance(shown, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        return math.isclose(number, shown, abs_tol=_digits(text) * 1.000001)
    return value == shown


def _leading_literal(text: str) -> str:
    """The bracketed group a comment starts with: '(0.0110, 1.0), as in ...' -> '(0.0110, 1.0)'."""
    depth = 0
    for i, c in enumerate(text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        if depth == 0:
            return text[:i + 1]
    return text


def check_shown(value: Any, comment: str) -> tuple[bool, str | None]:
    """(whether the comment shows a value, why ``value`` does not match it or None).

    A comment that is prose shows no value: (False, None).
    """
    shown_text = comment.split(";")[0].strip()
    if shown_text.startswith(type(value).__name__ + "("):
        return True, (None if repr(value) == shown_text else f"shows {shown_text}, is {value!r}")
    if shown_text[:1] in "([":
        shown_text = _leading_literal(shown_text)
    try:
        shown = ast.literal_eval(shown_text)
    except (ValueError, SyntaxError):
        m = NUMBER.match(shown_text)
        if m is None or isinstance(value, str):
            return False, None  # prose
        shown_text = m.group()
        shown = float(shown_text)
    return True, (None if _matches(value, shown, shown_text) else f"shows {shown_text}, is {value!r}")


def _trailing_comment(line: str) -> str | None:
    """The comment after the code on one source line (a '#' outside strings), if any."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line + "\n").readline))
    except (tokenize.TokenError, SyntaxError):  # the last line of a statement spanning lines
        return line.split("#", 1)[1].strip() if "#" in line else None
    comments = [t.string for t in tokens if t.type == tokenize.COMMENT]
    return comments[0][1:].strip() if comments else None


def _is_print(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "print")


def _check_print(printed: list[str], comment: str | None, following: list[str], where: str) -> bool:
    """Check what a print statement printed against what the block shows; True if it shows it."""
    if comment is not None:  # print(x)  # 0.978: one line, to the digits shown
        if len(printed) != 1:
            return False
        shows, problem = check_shown(float(printed[0]) if NUMBER.fullmatch(printed[0]) else printed[0], comment)
        assert problem is None, f"{where}: {problem}"
        return shows
    expected = []
    for follow in following:
        if not follow.startswith("#"):
            break
        expected.append(follow[2:] if follow.startswith("# ") else follow[1:])
    if not expected:
        return False
    assert [p.rstrip() for p in printed] == [e.rstrip() for e in expected], f"{where} prints:\n" + "\n".join(printed)
    return True


def run_block(block: str, namespace: dict[str, Any], name: str) -> int:
    """Run ``block`` statement by statement in ``namespace``; check every shown output.

    Returns the number of shown outputs checked; raises AssertionError naming the line.
    """
    lines = block.splitlines()
    checked = 0
    for stmt in ast.parse(block, name).body:
        out = io.StringIO()
        try:
            if isinstance(stmt, ast.Expr) and not _is_print(stmt):
                value = eval(compile(ast.Expression(stmt.value), name, "eval"), namespace)  # noqa: S307
            else:
                with contextlib.redirect_stdout(out):
                    exec(compile(ast.Module([stmt], []), name, "exec"), namespace)  # noqa: S102
        except Exception as exc:
            raise AssertionError(f"{name}, line {stmt.lineno} fails: {type(exc).__name__}: {exc}\n"
                                 f"{lines[stmt.lineno - 1]}") from exc
        end = stmt.end_lineno or stmt.lineno
        comment = _trailing_comment(lines[end - 1])
        where = f"{name}, line {end}"
        if _is_print(stmt):
            checked += _check_print(out.getvalue().rstrip("\n").splitlines(), comment, lines[end:], where)
        elif isinstance(stmt, ast.Expr) and comment is not None:
            shows, problem = check_shown(value, comment)
            assert problem is None, f"{where}: {problem}"
            checked += shows
    return checked
