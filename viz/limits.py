"""How big a diagram may get: the work Graphviz's layout would do, the limits, and the errors.

Node count alone does not say how long ``dot`` takes: a 2,100-node chain lays
out in 2 s, a random 560-node graph takes 37 s.  What it pays for is cycles.
``dot`` ranks the nodes (network simplex), adds a virtual node on each rank
a long edge crosses, then reorders every rank to cut crossings; a tree needs
no work beyond placing its nodes, and each edge beyond a tree (each
independent cycle, ``E - V + 1``) adds a round over all ``placed`` nodes.
Measured with graphviz-pure on random graphs, chains and MLPs (times from 0.3
to 39 s), the time follows

    work = cycles x placed        (placed = real nodes + virtual nodes)

within a factor of about 6: 500,000 took 1 to 5 s, 2,000,000 took 38 s.  :func:`layout_work`
computes it from a :class:`~viz.scene.Scene` before anything runs (ranks by
longest path; a leaf sits just before its first consumer, as ``dot`` puts
it); a diagram may cost at most ``WORK_PER_NODE x max_nodes``.
Imports :mod:`viz.scene` and :mod:`viz.walk`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from .scene import Scene
from .walk import reaches_more_than

WORK_PER_NODE = 250  # work allowed per unit of max_nodes: the default 2,000 allows 500,000 (1-5 s)


@dataclass(frozen=True)
class LayoutWork:
    """What laying a scene out costs: ``placed`` nodes (real + virtual), independent ``cycles``."""

    placed: int
    cycles: int

    @property
    def work(self) -> int:
        """``cycles x placed``: the rounds of ranking and crossing reduction times their size."""
        return self.cycles * self.placed


class DiagramTooBigError(ValueError):
    """A graph too big to draw legibly or to lay out quickly; the message suggests ``collapse=``."""


def too_big(n: int, max_nodes: int, collapsed: bool, *, at_least: bool = False) -> DiagramTooBigError:
    """The error for a graph with more than ``max_nodes`` boxes (it suggests collapsing).

    ``at_least``: the walk stopped as soon as the limit was passed, so ``n`` is a lower bound.
    """
    if collapsed:
        return DiagramTooBigError(
            f"the collapsed graph still has {n} nodes, more than max_nodes={max_nodes}; "
            "try collapse='layer', or raise max_nodes"
        )
    count = f"more than {max_nodes} nodes" if at_least else f"{n} nodes, more than max_nodes={max_nodes}"
    return DiagramTooBigError(
        f"the graph has {count}: it would not be legible (and could take long to lay out). "
        "Pass collapse='neuron' or collapse='layer' to draw one box per nn module (nodes are "
        "grouped by engine.scope), or raise max_nodes"
    )


def too_costly(cost: LayoutWork, boxes: int, max_nodes: int) -> DiagramTooBigError:
    """The error for a graph whose layout work passes the limit (see :func:`layout_work`)."""
    return DiagramTooBigError(
        f"the graph has {boxes} nodes, but {cost.cycles} cycles over {cost.placed} placed nodes: "
        f"its layout work {cost.work:,} is more than {WORK_PER_NODE} x max_nodes="
        f"{WORK_PER_NODE * max_nodes:,}, and Graphviz could take minutes. Pass collapse='neuron' "
        "or collapse='layer' to draw one box per nn module, draw a smaller part of the graph, "
        "or raise max_nodes"
    )


def check_reach(root: Any, max_nodes: int) -> None:
    """:class:`DiagramTooBigError` if ``root``'s graph has more than ``max_nodes`` nodes.

    The walk stops at node ``max_nodes + 1``: a graph of millions of nodes is refused at once.
    """
    if reaches_more_than(root, max_nodes):
        raise too_big(max_nodes + 1, max_nodes, False, at_least=True)


def _dot_graph(scene: Scene) -> tuple[list[str], set[tuple[str, str]]]:
    """The nodes (in drawing order) and edges Graphviz will see for ``scene``."""
    nodes: list[str] = []
    placed: set[str] = set()
    edges: set[tuple[str, str]] = set()

    def place(name: str) -> None:
        if name not in placed:
            placed.add(name)
            nodes.append(name)

    for i in range(len(scene.boxes)):
        grp = scene.group(i)
        if grp is not None:
            place(scene.group_boxes[grp].id)
        elif scene.gates[i] is not None:
            place(f"op{i}")
            place(f"n{i}")
            edges.add((f"op{i}", f"n{i}"))
        else:
            place(f"n{i}")
    for w in scene.wires:
        src, dst = _end(scene, w.parent, "n"), _end(scene, w.child, "op")
        if src != dst:
            edges.add((src, dst))
    return nodes, edges


def _end(scene: Scene, i: int, prefix: str) -> str:
    grp = scene.group(i)
    return f"{prefix}{i}" if grp is None else scene.group_boxes[grp].id


def ranks(nodes: list[str], edges: set[tuple[str, str]]) -> dict[str, int]:
    """Longest-path ranks over the forward edges; a node with none in sits just before its first consumer."""
    pos = {n: k for k, n in enumerate(nodes)}
    into: dict[str, list[str]] = {n: [] for n in nodes}
    out: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if pos[a] < pos[b]:  # a back edge (between collapsed groups) is reversed by dot: ignore it here
            into[b].append(a)
            out[a].append(b)
    rank: dict[str, int] = {}
    for n in nodes:
        inner = [rank[a] + 1 for a in into[n] if into[a]]
        rank[n] = max(inner, default=1) if into[n] else 0
    for n in nodes:
        if not into[n] and out[n]:
            rank[n] = min(rank[b] for b in out[n]) - 1
    return rank


def _widths(nodes: list[str], edges: set[tuple[str, str]]) -> Iterator[int]:
    rank = ranks(nodes, edges)
    if not rank:
        return iter(())
    lo = min(rank.values())
    width = [0] * (max(rank.values()) - lo + 2)
    for r in rank.values():
        width[r - lo] += 1
    crossing = [0] * len(width)  # one virtual node per rank an edge crosses: +1 after its top, -1 at its end
    for a, b in edges:
        ra, rb = sorted((rank[a] - lo, rank[b] - lo))
        if rb > ra + 1:
            crossing[ra + 1] += 1
            crossing[rb] -= 1
    return (w + c for w, c in zip(width, accumulate(crossing)))


def layout_work(scene: Scene) -> LayoutWork:
    """The layout work of ``scene``: ``placed`` = Σ rank widths (with virtual nodes), ``cycles`` = E - V + 1."""
    nodes, edges = _dot_graph(scene)
    return LayoutWork(sum(_widths(nodes, edges)), max(0, len(edges) - len(nodes) + 1))


def check_work(scene: Scene, max_nodes: int) -> None:
    """:class:`DiagramTooBigError` if laying ``scene`` out costs more than ``WORK_PER_NODE x max_nodes``."""
    cost = layout_work(scene)
    if cost.work > WORK_PER_NODE * max_nodes:
        raise too_costly(cost, len(scene.boxes), max_nodes)
