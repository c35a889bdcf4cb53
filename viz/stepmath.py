"""The op table's rule texts as maths in HTML: ``o1.data·(1 - o1.data)`` reads o₁·(1 − o₁).

The stepper page shows each step as formulas, not code: ``.data`` goes (a
name stands for its value), ``*`` becomes ``·``, ``-`` a real minus ``−``,
``x^(k - 1)`` a superscript, a trailing index in a name a subscript (``w5``
reads w₅), and one-letter names are italic as in print.  Plain HTML
(``<i>``, ``<sub>``, ``<sup>``) that every browser and notebook renders
without scripts or fonts to fetch.
"""

from __future__ import annotations

import html
import re

# a name (letters, digits, _), optionally with .data / .grad; a number; or one other character
_TOKEN = re.compile(r"(?P<name>[A-Za-z_\u0370-\u03ff][\w#]*)(?P<attr>\.data|\.grad)?"
                    r"|(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<space>\s+)|(?P<other>.)")
_INDEX = re.compile(r"^(?P<base>.*?[^\d_#])_?(?P<index>\d+(?:_\d+)*)$")
_WORDS = {"exp", "log", "ln", "tanh", "sign", "max", "min", "ReLU", "LReLU", "shift", "if", "else",
          "slope"}
_OPERATORS = {"*": "·", "-": "−"}


def name_html(name: str) -> str:
    """A variable's name: ``w5`` → ``<i>w</i><sub>5</sub>``, ``mul6`` → ``mul<sub>6</sub>``,
    ``h1_2`` (layer 1, neuron 2) → ``<i>h</i><sub>1,2</sub>``."""
    m = _INDEX.match(name)
    base, index = (m.group("base"), m.group("index").replace("_", ",")) if m else (name, "")
    body = html.escape(base)
    if len(base) == 1:
        body = f"<i>{body}</i>"
    return body + (f"<sub>{index}</sub>" if index else "")


def number_html(text: str) -> str:
    """A printed number with a real minus sign: ``-0.1621`` → ``−0.1621``."""
    return html.escape(text.replace("-", "−", 1) if text.startswith("-") else text)


def _atom_end(text: str, start: int) -> int:
    """Where the exponent starting at ``text[start]`` ends: a bracketed group or one token."""
    if text[start:start + 1] == "(":
        depth = 0
        for i in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                return i + 1
        return len(text)
    m = _TOKEN.match(text, start)
    return m.end() if m else start + 1


def formula_html(text: str) -> str:
    """A rule or forward text of the op table as HTML maths (see the module docstring)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "^":
            end = _atom_end(text, i + 1)
            inner = text[i + 1:end]
            if inner.startswith("(") and inner.endswith(")"):
                inner = inner[1:-1]
            out.append(f"<sup>{formula_html(inner)}</sup>")
            i = end
            continue
        m = _TOKEN.match(text, i)
        assert m is not None  # the pattern's last branch matches any character
        if m.group("name"):
            word = m.group("name")
            out.append(html.escape(word) if word in _WORDS else name_html(word))
        elif m.group("num"):
            out.append(html.escape(m.group("num")))
        elif m.group("space"):
            out.append(" ")
        else:
            c = m.group("other")
            out.append(html.escape(_OPERATORS.get(c, c)))
        i = m.end()
    return "".join(out)


def partial_html(root: str, name: str) -> str:
    """∂C/∂w₅: the derivative of the root by one node, as HTML."""
    return f"∂{name_html(root)}/∂{name_html(name)}"


_POWER = re.compile(r"\^(\([^()]*\)|[\w.]+)")


def prose_html(text: str) -> str:
    """An op's explanation (words with a little maths): ``k x^(k-1)`` → ``k x<sup>k−1</sup>``."""
    def sup(m: re.Match[str]) -> str:
        inner = m.group(1)[1:-1] if m.group(1).startswith("(") else m.group(1)
        return f"<sup>{inner.replace('-', '−')}</sup>"

    return _POWER.sub(sup, html.escape(text).replace("*", "·"))
