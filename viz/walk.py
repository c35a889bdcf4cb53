"""Walking a graph: its nodes in topological order, with stable names and consumer lists.

Every picture is a pure function of the graph: a node's index in the
topological order (leaves first, root last) names it in the DOT source, so
the same graph always gives byte-identical output.  Imports ``engine`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import Value, topological_order
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
_INFIX = {"add": "+", "sum": "+", "sub": "-", "mul": "·", "div": "/"}
_SUPERSCRIPT = {2.0: "²", 3.0: "³"}
_OPERATORS = frozenset("+-·/−")


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


def _expression(node: Any, operands: list[str]) -> str | None:
    """What ``node`` computes from its operands' names (``w1·x1``), or None for an op without a form."""
    op = node.op
    name = op.name
    if name in _INFIX:
        if name in ("add", "sum"):  # a sum needs no brackets around products or calls
            parts = [f"({o})" if _top_level(o, "+-/−") else o for o in operands]
        else:
            parts = [grouped(o) for o in operands]
        return _INFIX[name].join(parts)
    if len(operands) != 1:
        return None
    (a,) = operands
    if name == "neg":
        return "-" + grouped(a)
    if name == "pow" and isinstance(getattr(op, "arg", None), float):
        return grouped(a) + _SUPERSCRIPT.get(op.arg, f"^{fmt(op.arg)}")
    symbol = {"sigmoid": "σ"}.get(name, name if name.isidentifier() else None)
    return f"{symbol}({a})" if symbol else None


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
    for n in order:
        if n.label or is_constant(n):
            names.append(n.label or fmt(n.data))
            continue
        short = _expression(n, [names[index[id(p)]] for p in n.parents]) if n.parents else None
        if short is not None and len(short) <= SHORT_NAME and short not in taken:
            taken.add(short)
            names.append(short)
            continue
        base = n.op.name or "leaf"
        k = counts.get(base, 0) + 1
        while f"{base}{k}" in taken:
            k += 1
        counts[base] = k
        taken.add(f"{base}{k}")
        names.append(f"{base}{k}")
    return names
