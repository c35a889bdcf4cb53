"""The op table's rule texts as maths: ``o1.data·(1 - o1.data)`` reads o₁·(1 − o₁), in MathML.

The stepper shows each step as formulas, not code.  MathML is maths that
browsers (Chromium, Firefox, Safari) and Jupyter render natively, with no
script, font or CDN to fetch::

    ∂C/∂w₅ = h₁ · ∂C/∂z₃ = 0.6154 × −0.1621

In a rule text ``.data`` goes (a name stands for its value), ``*`` becomes
``·``, ``-`` a real minus ``−``, ``x^(k - 1)`` a superscript, ``a / b`` a
fraction, a trailing index in a name a subscript (``w5`` reads w₅, ``h1_2``
h₁,₂), and one-letter names are italic as in print.  Every function returns
a MathML fragment (no ``<math>`` around it) except :func:`mathml`, which wraps
fragments into one ``<math>`` element.  :func:`prose_html` turns an op's
explanation (words with a little maths) into plain HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .walk import grouped

MATHML_NS = "http://www.w3.org/1998/Math/MathML"

# a stand-in for a name (U+E000..U+F8FF, private use: never in an op's text); a name (letters,
# digits, _), optionally with .data / .grad; a number; spaces; or one other character
_TOKEN = re.compile(r"(?P<slot>[\ue000-\uf8ff])"
                    r"|(?P<name>[A-Za-z_\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\uac00-\ud7af]"
                    r"[\w#]*)(?P<attr>\.data|\.grad)?"
                    r"|(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<space>\s+)|(?P<other>.)")
_INDEX = re.compile(r"^(?P<base>.*?[^\d_#])_?(?P<index>\d+(?:_\d+)*)$")
_COMPOUND = re.compile(r"([+\-·/−()²³^|])")  # the operators and brackets of a computed name
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?(e[+-]?\d+)?|nan|inf)$")
_WORDS = {"exp", "log", "ln", "tanh", "sign", "max", "min", "ReLU", "LReLU", "shift", "slope"}
_TEXT_WORDS = {"if", "else"}
_OPERATORS = {"*": "·", "-": "−", "Σ": "Σ"}
_OPEN = {"(": ")", "[": "]"}
_ABS = re.compile(r"^\|x\|\((?P<arg>.*)\)$")  # the abs gate's forward text |x|(a): read |a|


SLOTS = 0xF8FF - 0xE000 + 1  # how many stand-ins there are


def slot(k: int) -> str:
    """The stand-in for name number ``k`` in a rule text (see :func:`formula_mathml`)."""
    if not 0 <= k < SLOTS:
        raise ValueError(f"slot index must be in 0..{SLOTS - 1}, got {k}")
    return chr(0xE000 + k)


def mathml(*fragments: str, display: bool = False) -> str:
    """One ``<math>`` element around ``fragments`` (display style: fractions full size)."""
    style = ' display="block"' if display else ""
    return f'<math xmlns="{MATHML_NS}" displaystyle="true"{style}>{"".join(fragments)}</math>'


def mo(op: str) -> str:
    """An operator: ``<mo>=</mo>``."""
    return f"<mo>{html.escape(op)}</mo>"


def mtext(text: str) -> str:
    """Words inside maths, with a space either side."""
    return f"<mtext>\u00a0{html.escape(text)}\u00a0</mtext>"


def number_mathml(text: str) -> str:
    """A printed number with a real minus sign: ``-0.1621`` → ``<mn>−0.1621</mn>``."""
    return f"<mn>{html.escape(text.replace('-', '−', 1) if text.startswith('-') else text)}</mn>"


def name_mathml(name: str) -> str:
    """A variable's name: ``w5`` → w₅, ``mul6`` → mul₆, ``h1_2`` (layer 1, neuron 2) → h₁,₂;
    a constant's name (its value, ``2.0``) is a number."""
    if _NUMBER.match(name):
        return number_mathml(name)
    if _COMPOUND.search(name):  # what an unlabelled gate computes (w1·x1, σ(z1)): each part as maths
        xml = "".join(f"<mo>{html.escape(part)}</mo>" if _COMPOUND.fullmatch(part) else name_mathml(part)
                      for part in (p.strip() for p in _COMPOUND.split(name)) if part)
        return f"<mrow><mo>(</mo>{xml}<mo>)</mo></mrow>" if grouped(name) != name else f"<mrow>{xml}</mrow>"
    m = _INDEX.match(name)
    if not m:
        return f"<mi>{html.escape(name)}</mi>"
    index = "<mo>,</mo>".join(f"<mn>{k}</mn>" for k in m.group("index").split("_"))
    if "_" in m.group("index"):
        index = f"<mrow>{index}</mrow>"
    return f"<msub><mi>{html.escape(m.group('base'))}</mi>{index}</msub>"


def partial_mathml(root: str, name: str) -> str:
    """∂C/∂w₅: the derivative of the root by one node, as a fraction."""
    return (f"<mfrac><mrow><mo>∂</mo>{name_mathml(root)}</mrow>"
            f"<mrow><mo>∂</mo>{name_mathml(name)}</mrow></mfrac>")


@dataclass
class _Item:
    """One piece of a formula while it is read: an operand (``atom``) or an operator."""

    xml: str
    atom: bool
    inner: str = ""  # a bracketed group's content without its brackets
    slash: bool = False  # the ``/`` of a fraction, joined in a second pass


def formula_mathml(text: str, names: Mapping[str, str] | None = None) -> str:
    """A rule or forward text of the op table as MathML (see the module docstring).

    ``names`` maps stand-ins (:func:`slot`) to ready MathML, so a label with
    any characters in it (``x + y``, ``나는``) stays one name: ``op.local_text
    ([slot(0)], slot(1))`` gives the rule with stand-ins, and ``names={slot(0):
    name_mathml('z3'), ...}`` fills them in.
    """
    m = _ABS.match(text)
    if m:
        text = f"|{m.group('arg')}|"
    items, _ = _read(text, 0, "", names or {})
    return _mrow(_join(items))


def _read(text: str, i: int, close: str, names: Mapping[str, str]) -> tuple[list[_Item], int]:
    """The items of ``text`` from ``i`` up to the bracket ``close`` (or the end), and where it ended."""
    items: list[_Item] = []
    while i < len(text):
        c = text[i]
        if c == close:
            return items, i + 1
        if c == "^" and items and items[-1].atom:
            i += 1
            while i < len(text) and text[i].isspace():
                i += 1
            power, i = _operand(text, i, names)
            base = items.pop()
            exponent = power.inner or power.xml
            if base.xml.startswith("<msub>") and base.xml.endswith("</msub>") and not base.inner:
                items.append(_Item(f"<msubsup>{base.xml[6:-7]}{exponent}</msubsup>", True))
            else:
                items.append(_Item(f"<msup>{base.xml}{exponent}</msup>", True))
            continue
        if c == "/":
            items.append(_Item(mo("/"), False, slash=True))
            i += 1
            continue
        item, i = _operand(text, i, names, sign=False)
        if item.xml:
            items.append(item)
    return items, i


def _operand(text: str, i: int, names: Mapping[str, str], sign: bool = True) -> tuple[_Item, int]:
    """One token or bracketed group from ``text[i]`` (``sign``: with a leading minus, as in x^-1)."""
    if i >= len(text):
        return _Item("", False), i
    c = text[i]
    if c in _OPEN:
        inner, end = _read(text, i + 1, _OPEN[c], names)
        body = _mrow(_join(inner))
        return _Item(f"<mrow>{mo(c)}{body}{mo(_OPEN[c])}</mrow>", True, inner=body), end
    if c == "|":  # |x|: the fences around an absolute value
        inner, end = _read(text, i + 1, "|", names)
        return _Item(f"<mrow>{mo('|')}{_mrow(_join(inner))}{mo('|')}</mrow>", True), end
    if sign and c in "-−":
        rest, end = _operand(text, i + 1, names)
        return _Item(f"<mrow>{mo('−')}{rest.xml}</mrow>", True), end
    m = _TOKEN.match(text, i)
    assert m is not None  # the pattern's last branch matches any character
    end = m.end()
    if m.group("slot"):
        return _Item(names.get(m.group("slot"), "<mi>?</mi>"), True), end
    if m.group("name"):
        word = m.group("name")
        if word in _TEXT_WORDS:
            return _Item(mtext(word), False), end
        return _Item(f"<mi>{word}</mi>" if word in _WORDS else name_mathml(word), True), end
    if m.group("num"):
        return _Item(f"<mn>{m.group('num')}</mn>", True), end
    if m.group("space"):
        return _Item("", False), end
    other = m.group("other")
    return _Item(mo(_OPERATORS.get(other, other)), False), end


def _join(items: list[_Item]) -> list[str]:
    """The items as MathML, each ``a / b`` between two operands made a fraction."""
    out: list[_Item] = []
    k = 0
    while k < len(items):
        it = items[k]
        if it.slash and out and out[-1].atom and k + 1 < len(items) and items[k + 1].atom:
            num, den = out.pop(), items[k + 1]
            out.append(_Item(f"<mfrac>{num.inner or num.xml}{den.inner or den.xml}</mfrac>", True))
            k += 2
            continue
        out.append(it)
        k += 1
    return [it.xml for it in out]


def _mrow(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"<mrow>{''.join(parts)}</mrow>"


_POWER = re.compile(r"\^(\([^()]*\)|[\w.]+)")


def prose_html(text: str) -> str:
    """An op's explanation (words with a little maths): ``k x^(k-1)`` → ``k x<sup>k−1</sup>``."""
    def sup(m: re.Match[str]) -> str:
        inner = m.group(1)[1:-1] if m.group(1).startswith("(") else m.group(1)
        return f"<sup>{inner.replace('-', '−')}</sup>"

    return _POWER.sub(sup, html.escape(text).replace("*", "·"))
