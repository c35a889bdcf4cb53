"""The backward pass: one topological order, one loop.

For each node in reverse topological order and each of its edges::

    parent.grad += downstream          # downstream = local x upstream

Fan-out adds up (the copy gate is a gradient adder).  No recursion, no
per-node closures: a 1,000,000-node chain is fine.

:func:`backprop` is THE loop.  It walks any node with ``parents`` (a scalar
``Value``, a ``Tensor``, a traced program's node) and asks a ``downstream``
function for each node's contributions, so the same loop serves the scalar
engine, the tensor path, :func:`engine.grad` (floats, arrays, or Values when a
gradient is to be differentiated again), the stepper's schedule and the
anomaly checks.  This module knows no node type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from numbers import Real
from typing import Any, NamedTuple

Downstream = Callable[[Any, Any], Iterable[Any]]
"""``downstream(node, upstream)``: one contribution per parent (``None``: nothing flows)."""
OnEdge = Callable[[Any, int, Any, Any, Any], None]
"""``on_edge(node, k, parent, contribution, accumulated)``, called after each edge."""


def topological_order(root: Any) -> list[Any]:
    """Every node ``root`` depends on, each after all of its parents (leaves first).

    Iterative depth-first search over ``.parents``; works for any node type
    with a ``parents`` tuple (scalar ``Value``, ``Tensor``, a program node).
    """
    return walk(root, leaves=True)


def walk(root: Any, leaves: bool) -> list[Any]:
    """Post-order DFS without recursion; ``leaves=False`` keeps only nodes with parents.

    The stack holds nodes; a ``None`` above a node means "all its parents are
    done: emit it".  Nodes are their own set keys when they hash by identity,
    else their ``id()`` is.
    """
    kind = type(root)
    by_identity = kind.__hash__ is object.__hash__ and kind.__eq__ is object.__eq__
    order: list[Any] = []
    seen: set[Any] = set()
    stack: list[Any] = [root]
    push, pop, extend, emit, mark = stack.append, stack.pop, stack.extend, order.append, seen.add
    while stack:
        node = pop()
        if node is None:
            emit(pop())
            continue
        key = node if by_identity else id(node)
        if key in seen:
            continue
        mark(key)
        parents = node.parents
        if parents:
            push(node)
            push(None)
            extend(parents)
        elif leaves:
            emit(node)
    return order


def backprop(
    root: Any,
    seed: Any,
    downstream: Downstream,
    *,
    order: list[Any] | None = None,
    on_edge: OnEdge | None = None,
) -> dict[int, Any]:
    """THE backward loop: d root / d node for every node ``root`` depends on.

    Walks ``order`` (default: :func:`topological_order`) in reverse; each
    node's ``upstream`` is what has flowed into it; ``downstream(node,
    upstream)`` gives one contribution per parent (``None``: nothing flows),
    and each is added to that parent's total (fan-out: the adder).  Returns
    ``{id(node): gradient}`` for every node something flowed into; changes
    no ``.grad``.  ``on_edge`` watches each edge (the stepper, anomaly checks).
    """
    grads: dict[int, Any] = {id(root): seed}
    get = grads.get
    for node in reversed(topological_order(root) if order is None else order):
        upstream = get(id(node))
        if upstream is None or not node.parents:
            continue
        for k, (parent, contribution) in enumerate(zip(node.parents, downstream(node, upstream))):
            if contribution is None:
                continue
            previous = get(id(parent))
            total = contribution if previous is None else previous + contribution
            grads[id(parent)] = total
            if on_edge is not None:
                on_edge(node, k, parent, contribution, total)
    return grads


def local_times_upstream(node: Any, upstream: Any) -> list[Any]:
    """The scalar rule: each parent gets ``local x upstream`` (the node's stored locals)."""
    return [local * upstream for local in node.local_grads]


def seed_of(grad: Any) -> float:
    """The seed d(root)/d(root) of a scalar root as a float (1.0 by default)."""
    if grad is None:
        return 1.0
    if isinstance(grad, bool) or not isinstance(grad, Real):
        raise TypeError(f"backward: the seed gradient of a scalar root must be a number, got {type(grad).__name__}")
    return float(grad)


def backward(root: Any, grad: Any = None) -> None:
    """Reverse-mode sweep from ``root``: fill ``.grad`` of everything it depends on.

    Semantics (as in PyTorch): the gradients of interior (non-leaf) nodes are
    recomputed from zero on every call; leaf gradients *accumulate* across
    calls, so a second ``backward()`` gives each leaf exactly twice its
    gradient.  Call :func:`zero_grad` on the leaves (or an optimizer's
    ``zero_grad``) between steps.  ``grad`` is the seed, d(root)/d(root)
    (a scalar root: a number, default 1.0; a ``Tensor`` root: an array of
    its shape, optional for one element).  Each node type runs its own
    ``backward`` method, and each of those runs :func:`backprop`.
    """
    method = getattr(type(root), "backward", None)
    if method is None or not hasattr(root, "parents"):
        raise TypeError(f"backward needs a Value or a Tensor, got {type(root).__name__}")
    method(root, grad)


def zero_grad(values: Iterable[Any]) -> None:
    """Forget the gradients of ``values`` (e.g. a model's parameters).

    Each node forgets in its own way: a scalar ``Value``'s ``.grad`` becomes
    0.0, an ``engine.Tensor``'s becomes ``None`` (its next backward writes a
    fresh array, as if zeroed).
    """
    for v in values:
        v.zero_grad()


class Edge(NamedTuple):
    """One edge of one backward step: what flowed from a node into one parent."""

    parent: Any
    index: int  # position among the node's parents
    local: float  # d node / d parent
    contribution: float  # local x upstream
    accumulated: float  # the parent's grad after this edge


class Step(NamedTuple):
    """One node of the backward schedule, in the engine's own order."""

    index: int
    node: Any
    upstream: float
    edges: tuple[Edge, ...]


def backward_schedule(root: Any, grad: float = 1.0) -> list[Step]:
    """The backward pass as a list of steps: :func:`backprop` watched edge by edge.

    Runs the same loop as ``backward`` (same order, same arithmetic) without
    touching any ``.grad``, so the schedule shows one backward pass.  Steps
    are only made for nodes with parents (leaves receive, they do not send).
    """
    seed = seed_of(grad)
    opened: list[tuple[Any, Any, list[Edge]]] = []  # (node, upstream, edges) in the loop's order

    def downstream(node: Any, upstream: Any) -> list[Any]:
        opened.append((node, upstream, []))
        return local_times_upstream(node, upstream)

    def on_edge(node: Any, k: int, parent: Any, contribution: Any, total: Any) -> None:
        opened[-1][2].append(Edge(parent, k, node.local_grads[k], contribution, total))

    backprop(root, seed, downstream, on_edge=on_edge)
    return [Step(i, node, upstream, tuple(edges)) for i, (node, upstream, edges) in enumerate(opened)]
