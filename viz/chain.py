"""The chain rule, written out: every path from the root down to one input, with numbers.

    dC/dw1 = dC/do1 . do1/dz3 . dz3/dh1 . dh1/dz1 . dz1/dw1

Each factor is a local gradient stored on the graph (or, by default, the
product of the locals through unlabelled intermediate nodes, so the chain
reads in the names the user gave).  The sum over all paths is d root / d wrt,
which is what ``backward`` puts in ``wrt.grad``.

Path counts grow exponentially with depth; past ``max_paths`` the result
says how many paths there are and lists only the largest contributions
(found by a k-best search over the DAG, never by enumerating).
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, replace
from typing import Any

from ..engine import Value
from .text import fmt
from .walk import GraphIndex, grouped, index_graph


@dataclass(frozen=True)
class Factor:
    """One link of a chain: d upper / d lower (a local gradient or a product of them)."""

    upper: str
    lower: str
    value: float


@dataclass(frozen=True)
class ChainPath:
    """One path from the root to ``wrt``: its factors and their product."""

    factors: tuple[Factor, ...]
    product: float

    def text(self) -> str:
        """``dC/do1 . do1/dz3 = (-0.71) . (0.229) = -0.162``."""
        if not self.factors:
            return "1 (the root is wrt itself)"
        symbols = " . ".join(f"d{grouped(f.upper)}/d{grouped(f.lower)}" for f in self.factors)
        numbers = " . ".join(f"({fmt(f.value)})" for f in self.factors)
        return f"{symbols} = {numbers} = {fmt(self.product)}"


@dataclass
class ChainRule:
    """``d root / d wrt`` as a sum over paths.

    ``paths`` are the paths shown (all of them when ``count <= max_paths``,
    otherwise the ``max_paths`` largest by |product|); ``count`` is the number
    of paths; ``total`` is the exact sum over all paths (= ``wrt.grad`` after
    one ``backward`` from root).
    """

    root: str
    wrt: str
    paths: list[ChainPath]
    count: int
    total: float
    complete: bool

    @property
    def shown_sum(self) -> float:
        """The sum over the paths shown (``== total`` when ``complete``)."""
        return math.fsum(p.product for p in self.paths)

    def text(self) -> str:
        """The chain rule as plain text, one path per line."""
        head = f"d{grouped(self.root)}/d{grouped(self.wrt)}"
        if self.count == 0:
            return f"{head} = 0 ({self.wrt} does not feed {self.root}: no path)"
        lines = []
        if self.count == 1:
            only = self.paths[0].factors
            if len(only) == 1:  # one edge: the chain is the local gradient itself
                return f"{head} = {fmt(self.total)} (one edge: the local gradient)"
            return f"{head} = {self.paths[0].text()}"
        lines.append(f"{head} = sum over {self.count} paths = {fmt(self.total)}")
        if not self.complete:
            lines.append(f"  (too many paths to list: showing the {len(self.paths)} largest, "
                         f"which add up to {fmt(self.shown_sum)})")
        for k, p in enumerate(self.paths, 1):
            lines.append(f"  path {k}: {p.text()}")
        return "\n".join(lines)

    def latex(self) -> str:
        """The chain rule in LaTeX (the largest paths only when incomplete)."""
        head = _frac(self.root, self.wrt)
        if self.count == 0:
            return f"{head} = 0"
        terms = []
        for p in self.paths:
            sym = r" \cdot ".join(_frac(f.upper, f.lower) for f in p.factors) or "1"
            num = r" \cdot ".join(f"({fmt(f.value)})" for f in p.factors) or "1"
            terms.append((sym, num))
        if self.count == 1:
            sym, num = terms[0]
            return f"{head} = {sym} = {num} = {fmt(self.total)}"
        body = r" \\ & + ".join(sym for sym, _ in terms)
        more = "" if self.complete else rf" \\ & + \ldots\ (\text{{{self.count - len(terms)} more}})"
        return (r"\begin{aligned} " + f"{head} &= {body}{more}" + r" \\ " +
                f"&= {fmt(self.total)}" + r" \end{aligned}")

    def __str__(self) -> str:
        return self.text()

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"


_TRAILING_DIGITS = re.compile(r"^([A-Za-z]+)(\d+)$")


def _tex_name(name: str) -> str:
    m = _TRAILING_DIGITS.match(name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    safe = re.sub(r"([#_%&$])", r"\\\1", name)
    return rf"\mathrm{{{safe}}}"


def _frac(upper: str, lower: str) -> str:
    return rf"\frac{{\partial {_tex_name(upper)}}}{{\partial {_tex_name(lower)}}}"


def _derivative(gi: GraphIndex, target: int) -> list[float]:
    """d node / d target for every node (forward-mode sweep over the DAG)."""
    d = [0.0] * len(gi.order)
    d[target] = 1.0
    for i, node in enumerate(gi.order):
        if i != target and node.parents:
            d[i] = math.fsum(local * d[gi.index[id(p)]]
                             for p, local in zip(node.parents, node.local_grads))
    return d


# A path is kept as a linked list of (node index, rest): cheap prefix sharing.
_Link = tuple[int, Any]


def _links_to_nodes(link: _Link | None) -> list[int]:
    out = []
    while link is not None:
        out.append(link[0])
        link = link[1]
    return out


def _factors(gi: GraphIndex, nodes: list[int], merge_unlabelled: bool) -> list[Factor]:
    """Edge locals along a node path, merged through unlabelled interior nodes."""
    factors: list[Factor] = []
    upper, value = nodes[0], 1.0
    for a, b in zip(nodes, nodes[1:]):
        node, parent = gi.order[a], gi.order[b]
        # which edge: the path keeps node indices; with duplicate parents (x*x) the
        # edges are summed, as they are one factor d node / d parent
        value *= math.fsum(loc for p, loc in zip(node.parents, node.local_grads)
                           if p is parent)
        keep = (not merge_unlabelled) or bool(parent.label) or b == nodes[-1]
        if keep:
            factors.append(Factor(gi.names[upper], gi.names[b], value))
            upper, value = b, 1.0
    return factors


def chain_rule(root: Value, wrt: Value, *, max_paths: int = 64,
               merge_unlabelled: bool = True) -> ChainRule:
    """``d root / d wrt`` written as the chain rule, one product per path, with numbers.

    ``merge_unlabelled=True`` multiplies the locals through unlabelled
    intermediate nodes into one factor (dC/do1 rather than dC/dsub1 .
    dsub1/do1), except where that would leave the bare d root / d wrt: then
    every edge is its own factor.  An unlabelled ``wrt`` is called ``wrt``.
    Past ``max_paths`` paths: the count, the exact total and the
    ``max_paths`` largest contributions.
    """
    if not isinstance(root, Value) or not isinstance(wrt, Value):
        bad = root if not isinstance(root, Value) else wrt
        raise TypeError(f"chain_rule needs two engine.Values, got {type(bad).__name__}")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise ValueError(f"max_paths must be a positive int, got {max_paths!r}")
    gi = index_graph(root)
    if id(wrt) not in gi.index:
        return ChainRule(gi.names[-1], wrt.label or "wrt", [], 0, 0.0, True)
    target = gi.of(wrt)
    if not wrt.label:  # an unlabelled leaf would read as its value: d out/d2.0
        gi = replace(gi, names=gi.names[:target] + ["wrt"] + gi.names[target + 1:])
    # duplicate edges (x * x) are merged into one path step: count distinct parents
    counts = _count_distinct(gi, target)
    count = counts[-1]
    total = _derivative(gi, target)[-1]
    complete = count <= max_paths
    raw = _all_paths_distinct(gi, target, counts) if complete else \
        _best_distinct(gi, target, max_paths, counts)
    paths = []
    for _, link in raw:
        nodes = _links_to_nodes(link)
        factors = _factors(gi, nodes, merge_unlabelled)
        if len(factors) == 1 < len(nodes) - 1:  # merged into d root/d wrt itself: show every edge
            factors = _factors(gi, nodes, False)
        product = math.prod(f.value for f in factors) if factors else 1.0
        paths.append(ChainPath(tuple(factors), product))
    if not complete:
        paths.sort(key=lambda p: -abs(p.product))
    return ChainRule(gi.names[-1], gi.names[target], paths, count, total, complete)


def _distinct_edges(gi: GraphIndex, node: Any) -> list[tuple[int, float]]:
    """(parent index, summed local) per distinct parent: x * x is one factor 2x."""
    merged: dict[int, float] = {}
    for p, local in zip(node.parents, node.local_grads):
        j = gi.index[id(p)]
        merged[j] = merged.get(j, 0.0) + local
    return list(merged.items())


def _count_distinct(gi: GraphIndex, target: int) -> list[int]:
    paths = [0] * len(gi.order)
    paths[target] = 1
    for i, node in enumerate(gi.order):
        if i != target and node.parents:
            paths[i] = sum(paths[j] for j, _ in _distinct_edges(gi, node))
    return paths


def _all_paths_distinct(gi: GraphIndex, target: int,
                        counts: list[int]) -> list[tuple[float, _Link]]:
    memo: dict[int, list[tuple[float, _Link]]] = {target: [(1.0, (target, None))]}
    for i, node in enumerate(gi.order):
        if i == target or counts[i] == 0:
            continue
        memo[i] = [(local * prod, (i, link))
                   for j, local in _distinct_edges(gi, node)
                   for prod, link in memo.get(j, [])]
    return memo.get(len(gi.order) - 1, [])


def _best_distinct(gi: GraphIndex, target: int, k: int,
                   counts: list[int]) -> list[tuple[float, _Link]]:
    best: dict[int, list[tuple[float, _Link]]] = {target: [(1.0, (target, None))]}
    for i, node in enumerate(gi.order):
        if i == target or counts[i] == 0:
            continue
        cands = [(local * prod, (i, link))
                 for j, local in _distinct_edges(gi, node)
                 for prod, link in best.get(j, [])]
        best[i] = heapq.nlargest(k, cands, key=lambda t: abs(t[0]))
    return best.get(len(gi.order) - 1, [])
