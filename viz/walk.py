"""Walking a graph: its nodes in topological order, with stable names and consumer lists.

Every picture is a pure function of the graph: a node's index in the
topological order (leaves first, root last) names it in the DOT source, so
the same graph always gives byte-identical output.  Imports ``engine`` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import Value, topological_order


@dataclass
class GraphIndex:
    """The nodes of ``root``'s graph in topological order, with stable names.

    ``order[i]`` is the node with index ``i`` (leaves first, root last);
    ``names[i]`` is its label, or ``'<op>#<i>'`` (``'mul#3'``) / ``'leaf#<i>'``
    when it has none; ``consumers[i]`` lists ``(child index, edge index)``.
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
    names = [n.label or f"{n.op.name or 'leaf'}#{i}" for i, n in enumerate(order)]
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
