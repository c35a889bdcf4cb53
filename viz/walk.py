"""Walking a graph: its nodes in topological order, with stable names and consumer lists.

Every picture is a pure function of the graph: a node's index in the
topological order (leaves first, root last) names it in the DOT source, so
the same graph always gives byte-identical output.  Imports ``engine`` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..engine import Value, topological_order
from ..engine.backends import SYMBOL, Sym, sym
from .text import fmt


@dataclass
class GraphIndex:
    """The nodes of ``root``'s graph in topological order, with stable names.

    ``order[i]`` is the node with index ``i`` (leaves first, root last);
    ``names[i]`` is its label, else (see :func:`node_names`) its value for a
    constant (``'2.0'``) or its op and a small count (``'mul1'``, ``'mul2'``,
    ``'sub1'``); ``consumers[i]`` lists ``(child index, edge index)``.
    """

    root: Any
    order: list[Any]
    index: dict[int, int]
    names: list[str]
    consumers: list[list[tuple[int, int]]] = field(repr=False)

    def of(self, node: Any) -> int:
        """The topological index of ``node`` (``KeyError`` if not in the graph)."""
        return self.index[id(node)]

    def name(self, node: Any) -> str:
        """The display name of ``node``."""
        return self.names[self.index[id(node)]]


def index_graph(root: Any) -> GraphIndex:
    """Topological order, names and consumer lists of ``root``'s graph."""
    if not isinstance(root, Value):
        raise TypeError(f"expected an engine.Value as the root, got {type(root).__name__}")
    return index_nodes(root)


def index_nodes(root: Any) -> GraphIndex:
    """:func:`index_graph` for any node type with ``.parents``, ``.label`` and ``.op``."""
    order = topological_order(root)
    index = {id(n): i for i, n in enumerate(order)}
    names = node_names(order)
    consumers: list[list[tuple[int, int]]] = [[] for _ in order]
    for i, n in enumerate(order):
        for k, p in enumerate(n.parents):
            consumers[index[id(p)]].append((i, k))
    return GraphIndex(root, order, index, names, consumers)


def reaches_more_than(root: Any, limit: int) -> bool:
    """Whether ``root``'s graph has more than ``limit`` nodes; the walk stops at node ``limit + 1``."""
    seen = {id(root)}
    stack = [root]
    while stack:
        for p in stack.pop().parents:
            if id(p) not in seen:
                seen.add(id(p))
                if len(seen) > limit:
                    return True
                stack.append(p)
    return False



def is_constant(node: Any) -> bool:
    """An unlabelled scalar leaf: a number in the formula (``x * 2``), drawn as its value, no grad.

    Inputs and parameters carry labels (``nn`` labels its own); label a leaf
    to draw it with its gradient.
    """
    return not node.parents and not node.label and isinstance(node.data, float)


# an unlabelled gate is named by what it computes while that is short (``w1·x1``, ``σ(z1)``)
SHORT_NAME = 12
_OPERATORS = frozenset("+-·/−")
_SQUARE_CUBE = re.compile(r"\^([23])(?![\w.])")  # a^2 → a², a^3 → a³


def _top_level(name: str, operators: frozenset[str] | str) -> bool:
    """Whether ``name`` has one of ``operators`` outside brackets (``(a-b)²``: no; ``a-b``: yes)."""
    depth = 0
    for c in name:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0 and c in operators:
            return True
    return False


def grouped(name: str) -> str:
    """``name`` as an operand: bracketed when it is an expression (``w1·x1+b`` → ``(w1·x1+b)``)."""
    return f"({name})" if _top_level(name, _OPERATORS) else name


def _expression(node: Any, operands: list[Sym]) -> Sym | None:
    """What ``node`` computes, written by its op's own rule on the symbol backend (the stepper's
    formulas), spaces dropped: ``w1·x1``, ``y-o1``, ``(y-o1)²``, ``σ(z1)``.  None if the rule
    cannot be written as text.  Operands enter as placeholders, so their names stay as they are.
    """
    slots = [Sym(f"\x00{k}\x00", o.level) for k, o in enumerate(operands)]
    try:
        out = sym(node.op.forward(SYMBOL, *slots))
    except (TypeError, ValueError, ArithmeticError, AttributeError):  # a rule that needs numbers
        return None
    text = _SQUARE_CUBE.sub(lambda m: "²³"[int(m.group(1)) - 2], out.text.replace(" ", ""))
    for k, o in enumerate(operands):
        text = text.replace(f"\x00{k}\x00", o.text)
    return Sym(text, out.level)


def node_names(order: list[Any]) -> list[str]:
    """Display names in topological order: the label; a constant's value; what an unlabelled gate
    computes while that is short (``w1·x1``, ``σ(z1)``, ``(y-o1)²``); else op + count.

    Longer gates are counted per op in topological order (``mul1``, ``mul2``,
    ``sum1``; an unlabelled array leaf is ``leaf1``).  No two nodes share a
    name: a repeat, or a name a label uses, falls back to the count.
    """
    taken = {n.label for n in order if n.label}
    index = {id(n): i for i, n in enumerate(order)}
    counts: dict[str, int] = {}
    names: list[str] = []
    operands: list[Sym] = []  # each node as an operand: a name is an atom, an expression keeps its precedence
    for n in order:
        if n.label or is_constant(n):
            names.append(n.label or fmt(n.data))
            operands.append(Sym(grouped(names[-1])))
            continue
        short = _expression(n, [operands[index[id(p)]] for p in n.parents]) if n.parents else None
        if short is not None and len(short.text) <= SHORT_NAME and short.text not in taken:
            taken.add(short.text)
            names.append(short.text)
            operands.append(short)
            continue
        base = n.op.name or "leaf"
        k = counts.get(base, 0) + 1
        while f"{base}{k}" in taken:
            k += 1
        counts[base] = k
        taken.add(f"{base}{k}")
        names.append(f"{base}{k}")
        operands.append(Sym(names[-1]))
    return names
