"""The backward pass: one topological order, one tight loop.

For each node in reverse topological order and each of its edges::

    parent.grad += local_grad * node.grad      # downstream = local x upstream

Fan-out adds up (the copy gate is a gradient adder).  No recursion, no
per-node closures: a 1,000,000-node chain is fine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any, NamedTuple

from .state import STATE
from .value import _MANY, Value


def topological_order(root: Any) -> list[Any]:
    """Every node ``root`` depends on, each after all of its parents (leaves first).

    Iterative depth-first search over ``.parents``; works for any node type
    with a ``parents`` tuple (scalar ``Value`` or ``Tensor``).
    """
    return _walk(root, leaves=True)


def _walk(root: Any, leaves: bool) -> list[Any]:
    """Post-order DFS without recursion; ``leaves=False`` keeps only nodes with parents."""
    if type(root) is Value:
        return _walk_values(root, leaves, _MANY)
    return _walk_any(root, leaves)


def _walk_values(root: Any, leaves: bool, many: Any) -> list[Any]:
    """:func:`_walk_any` reading a Value's two parent slots directly (no tuple per node)."""
    order: list[Any] = []
    seen: set[Any] = set()
    stack: list[Any] = [root]
    push, pop, extend, emit, mark = stack.append, stack.pop, stack.extend, order.append, seen.add
    while stack:
        node = pop()
        if node is None:
            emit(pop())
            continue
        if node in seen:
            continue
        mark(node)
        a, b = node._a, node._b
        if a is None:
            if leaves:
                emit(node)
            continue
        push(node)
        push(None)
        if b is None:
            push(a)
        elif b is many:
            extend(a)
        else:
            push(a)
            push(b)
    return order


def _walk_any(root: Any, leaves: bool) -> list[Any]:
    """Post-order DFS without recursion; ``leaves=False`` keeps only nodes with parents.

    The stack holds nodes; a ``None`` above a node means "all its parents are
    done: emit it".  Nodes are their own set keys when they hash by identity
    (``Value``: no per-node int from ``id()``), else their ``id()`` is.
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


def backward(root: Any, grad: Any = None) -> None:
    """Reverse-mode sweep from ``root``: fill ``.grad`` of everything it depends on.

    Semantics (as in PyTorch): the gradients of interior (non-leaf) nodes are
    recomputed from zero on every call; leaf gradients *accumulate* across
    calls, so a second ``backward()`` gives each leaf exactly twice its
    gradient.  Call :func:`zero_grad` on the leaves (or an optimizer's
    ``zero_grad``) between steps.

    ``grad`` is the seed, d(root)/d(root) by default.  A scalar root takes a
    number (default 1.0).  An ``engine.Tensor`` root goes to the tensor
    backward (:func:`engine.tensor_backward`): its seed is an array of the
    root's shape, optional (ones) for a one-element root.
    """
    if type(root) is not Value:
        from .tensor import Tensor, tensor_backward  # tensor imports this module: import late

        if type(root) is Tensor:
            tensor_backward(root, grad)
            return
        if not hasattr(root, "parents"):
            raise TypeError(f"backward needs a Value or a Tensor, got {type(root).__name__}")
    grad = _seed(grad)
    if STATE.anomaly:
        _checked_backward(topological_order(root), root, float(grad))
        return
    interior = _walk(root, leaves=False)  # leaves only receive: no work of their own
    for node in interior:
        node.grad = 0.0
    root.grad = grad if root.parents else root.grad + grad
    # downstream = local x upstream, edge by edge; unary and binary gates unrolled
    if type(root) is Value:
        _sweep_values(interior)
        return
    for node in reversed(interior):
        upstream = node.grad
        for parent, local in zip(node.parents, node.local_grads):
            parent.grad += local * upstream


def _seed(grad: Any) -> float:
    """The seed d(root)/d(root) of a scalar root as a float (1.0 by default)."""
    if grad is None:
        return 1.0
    if isinstance(grad, bool) or not isinstance(grad, Real):
        raise TypeError(f"backward: the seed gradient of a scalar root must be a number, got {type(grad).__name__}")
    return float(grad)


def _sweep_values(interior: list[Any]) -> None:
    """The backward loop over Values, reading the two parent slots directly."""
    for node in reversed(interior):
        upstream = node.grad
        b = node._b
        if b is None:
            node._a.grad += node.local_grads[0] * upstream
        elif b is _MANY:
            for parent, local in zip(node._a, node.local_grads):
                parent.grad += local * upstream
        else:
            local_a, local_b = node.local_grads
            node._a.grad += local_a * upstream
            b.grad += local_b * upstream


def _checked_backward(order: list[Any], root: Any, grad: float) -> None:
    """The same loop with every contribution and every sum checked, committed only if all are finite."""
    if not math.isfinite(grad):
        raise FloatingPointError(f"detect_anomaly: the seed gradient is {grad!r}")
    grads = {id(n): (0.0 if n.parents else n.grad) for n in order}
    grads[id(root)] = grad if root.parents else root.grad + grad
    for node in reversed(order):
        upstream = grads[id(node)]
        for parent, local in zip(node.parents, node.local_grads):
            contribution = local * upstream
            if not math.isfinite(contribution):
                raise FloatingPointError(
                    f"detect_anomaly: backward through op '{node.op.name}' "
                    f"(node {node.label or 'unnamed'}, data={node.data!r}) gave "
                    f"{contribution!r} = local {local!r} x upstream {upstream!r} "
                    f"for input {parent.label or 'unnamed'}={parent.data!r}"
                )
            total = grads[id(parent)] + contribution
            if not math.isfinite(total):
                raise FloatingPointError(
                    f"detect_anomaly: the gradient of {parent.label or 'unnamed'}={parent.data!r} "
                    f"overflowed to {total!r} adding {contribution!r} from op '{node.op.name}' "
                    f"(node {node.label or 'unnamed'}) to {grads[id(parent)]!r} (fan-out: the adder)"
                )
            grads[id(parent)] = total
    for node in order:
        node.grad = grads[id(node)]


def zero_grad(values: Iterable[Any]) -> None:
    """Forget the gradients of ``values`` (e.g. a model's parameters).

    A scalar ``Value``'s ``.grad`` becomes 0.0; an ``engine.Tensor``'s becomes
    ``None`` (its next backward writes a fresh array, as if zeroed).
    """
    from .tensor import Tensor  # tensor imports this module: import late

    for v in values:
        v.grad = None if type(v) is Tensor else 0.0


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
    """The backward pass as a list of steps, computed on a private copy.

    Replays the same loop as :func:`backward` (same order, same arithmetic)
    without touching any ``.grad``; every gradient starts from 0, so the
    schedule shows one backward pass.  Steps are only made for nodes with
    parents (leaves receive, they do not send).
    """
    grad = _seed(grad)
    order = topological_order(root)
    grads = {id(n): 0.0 for n in order}
    grads[id(root)] = grad
    steps: list[Step] = []
    for node in reversed(order):
        if not node.parents:
            continue
        upstream = grads[id(node)]
        edges = []
        for i, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            contribution = local * upstream
            grads[id(parent)] += contribution
            edges.append(Edge(parent, i, local, contribution, grads[id(parent)]))
        steps.append(Step(len(steps), node, upstream, tuple(edges)))
    return steps
