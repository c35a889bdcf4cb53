"""Text on the pictures: numbers as the lectures write them, arrays, and escaping for DOT.

Imports nothing from ``viz`` (only numpy): every drawing module reads its
numbers and label text from here.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

import numpy as np

SMALL = 6  # arrays with at most this many elements show their numbers, larger ones a summary


def fmt(x: float) -> str:
    """A number as the lectures write it: 4 significant digits, ``-3.0`` not ``-3``; never ``-0.0``."""
    x = x + 0.0  # -0.0 + 0.0 == +0.0
    if math.isfinite(x) and x == int(x) and abs(x) < 1e6:
        return f"{x:.1f}"
    return f"{x:.4g}"


def shape_text(shape: tuple[int, ...]) -> str:
    """``(2, 3)``; a 0-d tensor is ``()``."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def array_text(a: np.ndarray) -> str:
    """The numbers of a small array, nested like the array: ``[[1.0, 2.0], [3.0, 4.0]]``."""
    if a.ndim == 0:
        return fmt(float(a))
    return "[" + ", ".join(array_text(row) for row in a) + "]"


def summary(a: np.ndarray) -> str:
    """``mean m min a max b`` of an array (the numbers when it is small)."""
    if a.size <= SMALL:
        return array_text(a)
    return f"mean {fmt(float(a.mean()))} min {fmt(float(a.min()))} max {fmt(float(a.max()))}"


# Control characters (C0 and DEL) are not allowed in XML (so not in SVG), and NUL ends a C string
# in the renderer: each is drawn as its Unicode "control picture" (U+2400 + code: NUL -> ␀).
_CONTROL_PICTURES = {c: 0x2400 + c for c in range(0x20)} | {0x7F: 0x2421}


def visible(text: str) -> str:
    """``text`` with each control character (``\\x00``-``\\x1f``, DEL) shown as its control picture."""
    return text.translate(_CONTROL_PICTURES)


# graphviz-pure measures a character it has no width for (any non-ASCII one) as one space per
# UTF-8 byte: a Hangul syllable or CJK ideograph (3 bytes) as 0.83 em, where fonts draw it
# 0.92-1.0 em wide.  Text with such wide characters gets padding worth WIDE_PAD spaces (0.17 em)
# per wide character, half on each side so it stays centred: a Korean label's box is as wide as
# its text.  The padding is no-break spaces (a record field keeps them; graphviz-pure measures
# each, 2 bytes, as 2 spaces).
WIDE_PAD = 0.6
NBSP = "\u00a0"


def wide_padding(text: str) -> tuple[int, int]:
    """No-break spaces to put before and after ``text`` so Graphviz makes its box wide enough."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text)
    n = math.ceil(WIDE_PAD * wide / 2)
    return n // 2, n - n // 2


def pad_wide(text: str) -> str:
    """``text`` with the padding of :func:`wide_padding` (unchanged when it has no wide characters)."""
    before, after = wide_padding(text)
    return NBSP * before + text + NBSP * after


def record_text(text: str) -> str:
    """Escape a string for a Graphviz record field (a newline becomes a space, see :func:`visible`).

    East-Asian wide text (Korean) is padded, see :func:`wide_padding`.
    """
    out = visible(text.replace("\n", " ")).replace("\\", "\\\\")
    for c in "{}|<>\"":
        out = out.replace(c, "\\" + c)
    return pad_wide(out)


def html_text(text: str) -> str:
    """Escape a string for a Graphviz HTML-like label (control characters: see :func:`visible`;
    East-Asian wide text is padded, see :func:`wide_padding`)."""
    return pad_wide(visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def tooltip_text(text: str) -> str:
    """A tooltip on one line, without backslashes (Graphviz would read them as escapes)."""
    return visible(text.replace("\\", "/").replace("\n", " "))


def record_label(fields: list[str] | tuple[str, ...], rankdir: str) -> str:
    """Record fields stacked in a box: ``{ a | b }`` across a left-right layout, ``a | b`` down one."""
    body = " | ".join(fields)
    return "{ " + body + " }" if rankdir in ("LR", "RL") else body


def op_tooltip(op: Any) -> str:
    """The gate rule and formula of an op, for its node's tooltip."""
    return f"{op.name}: {op.gate}. {op.explain}. {op.formula}"
