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


def node_names(order: list[Any]) -> list[str]:
    """Display names in topological order: the label; a constant's value; else op + count.

    Unlabelled gates are counted per op in topological order (``mul1``,
    ``mul2``, ``sum1``; an unlabelled array leaf is ``leaf1``), skipping
    names a label already uses.
    """
    taken = {n.label for n in order if n.label}
    counts: dict[str, int] = {}
    names = []
    for n in order:
        if n.label or is_constant(n):
            names.append(n.label or fmt(n.data))
            continue
        base = n.op.name or "leaf"
        k = counts.get(base, 0) + 1
        while f"{base}{k}" in taken:
            k += 1
        counts[base] = k
        taken.add(f"{base}{k}")
        names.append(f"{base}{k}")
    return names
