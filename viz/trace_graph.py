"""Drawing a traced program (``engine.trace``): slots as value boxes, instructions as gates.

A :class:`engine.Trace` is an op list over numbered slots (inputs, parameters,
constants, op results).  To draw it, the program is replayed once by the
engine's public replay, ``Trace.inspect`` (each value and its local gradients
from the op table, then backward: downstream = local x upstream, seed 1), on
the inputs asked for.  Each slot becomes a light
node object with the fields the Value drawing reads (``data``, ``grad``,
``parents``, ``local_grads``, ``op``, ``label``, ``scope``), so a trace gets
the same picture, ids, tooltips and collapse as a Value graph.  The trace
itself (its parameters' ``.grad``, its last replay) is not touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..engine import Trace
from ..engine.ops import LEAF, Op
from ..engine.trace_record import flatten_inputs
from ..engine.trace_replay import Replay


class SlotNode:
    """One slot of a trace as a drawable node (duck-typed like a ``Value``)."""

    __slots__ = ("data", "grad", "label", "op", "parents", "local_grads", "scope", "kind",
                 "name")

    def __init__(self, data: float, label: str, op: Op, parents: tuple[SlotNode, ...],
                 local_grads: tuple[float, ...], scope: str, kind: str, name: str) -> None:
        self.data = data
        self.grad = 0.0
        self.label = label
        self.op = op
        self.parents = parents
        self.local_grads = local_grads
        self.scope = scope
        self.kind = kind
        self.name = name


def input_numbers(g: Trace, inputs: Sequence[Any]) -> list[float]:
    """The flat input numbers of ``inputs`` (a tuple of ``g``'s arguments), as many as ``g`` takes."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(
            f"draw_graph: inputs= must be a tuple of the trace's arguments (as in g(*inputs)), "
            f"got {type(inputs).__name__}"
        )
    try:
        numbers, _ = flatten_inputs(inputs)
    except TypeError as exc:
        raise TypeError(f"draw_graph: trace inputs must be numbers, Values or lists of them ({exc})") from None
    if len(numbers) != g.n_inputs:
        raise ValueError(
            f"draw_graph: inputs= gives {len(numbers)} numbers, the trace takes {g.n_inputs}"
        )
    return numbers


def _replay(g: Trace, inputs: Sequence[Any] | None) -> Replay:
    """``g.inspect`` on ``inputs`` (default: the last ``g(...)`` replay, else the traced example)."""
    args = () if inputs is None else g.rebuild(input_numbers(g, inputs))
    try:
        r = g.inspect(*args)
    except (ArithmeticError, ValueError) as exc:
        raise type(exc)(f"draw_graph: {exc}") from None
    for ins in g.ops:
        out = r.values[ins.out]
        if not math.isfinite(out):
            raise ValueError(
                f"draw_graph: {g.slots[ins.out].name} = {ins.op.name}(...) gives {out!r} on these "
                "inputs; nothing to draw"
            )
    return r


def trace_nodes(g: Trace, inputs: Sequence[Any] | None = None) -> SlotNode:
    """Replay ``g`` on ``inputs`` (``Trace.inspect``); return the output slot as a node.

    Values: inputs from ``inputs`` (default: the last ``g(...)`` replay, else the traced example), parameters'
    current ``.data``, constants as traced, op results from ``op.fn``.  Each
    node's ``grad`` is d(output)/d(slot) of this replay, seed 1.
    """
    if not isinstance(g, Trace):
        raise TypeError(f"expected an engine.Trace, got {type(g).__name__}")
    r = _replay(g, inputs)
    made = {ins.out: (ins, local) for ins, local in zip(g.ops, r.local_grads)}
    nodes: list[SlotNode | None] = [None] * len(g.slots)
    for s in g.slots:
        label = s.name if s.kind in ("input", "param") else s.label or s.name
        if s.index not in made:
            node = SlotNode(r.values[s.index], label, LEAF, (), (), s.scope, s.kind, s.name)
        else:
            ins, local = made[s.index]
            parents = tuple(nodes[a] for a in ins.args)  # type: ignore[misc]
            node = SlotNode(r.values[s.index], label, ins.op, parents, tuple(local), s.scope,
                            s.kind, s.name)
        node.grad = r.grads[s.index]
        nodes[s.index] = node
    return nodes[g.output]  # type: ignore[return-value]
