"""Drawing a traced program (``engine.trace``): slots as value boxes, instructions as gates.

A :class:`engine.Trace` is an op list over numbered slots (inputs, parameters,
constants, op results).  To draw it, the program is replayed once here through
the op table (``op.fn`` gives each value and its local gradients; no rule is
written twice) on the inputs asked for, and backward is replayed on the
result (downstream = local x upstream, seed 1).  Each slot becomes a light
node object with the fields the Value drawing reads (``data``, ``grad``,
``parents``, ``local_grads``, ``op``, ``label``, ``scope``), so a trace gets
the same picture, ids, tooltips and collapse as a Value graph.  The trace
itself (its parameters' ``.grad``, its last replay) is not touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from ..engine import Trace, Value
from ..engine.ops import LEAF, Op


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


def _flatten(x: Any, out: list[float]) -> None:
    if type(x) is Value:
        out.append(x.data)
    elif isinstance(x, Real) and not isinstance(x, bool):
        out.append(float(x))
    elif isinstance(x, np.ndarray):
        for item in x.tolist() if x.ndim else [x.item()]:
            _flatten(item, out)
    elif isinstance(x, (list, tuple)):
        for item in x:
            _flatten(item, out)
    else:
        raise TypeError(
            f"draw_graph: trace inputs must be numbers, Values or lists of them, "
            f"got {type(x).__name__}"
        )


def input_numbers(g: Trace, inputs: Sequence[Any] | None) -> list[float]:
    """The flat input numbers to draw ``g`` with (``None``: those of its last ``g(...)``
    replay, else the example it was traced on)."""
    if inputs is None and g.last_inputs is not None:
        return list(g.last_inputs)
    if inputs is None:
        by_slot = {s.index: s.value for s in g.slots if s.kind == "input"}
        order = sorted(by_slot, key=lambda k: int(g.slots[k].name[1:]))  # x0, x1, ...
        return [by_slot[k] for k in order]
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(
            f"draw_graph: inputs= must be a tuple of the trace's arguments (as in g(*inputs)), "
            f"got {type(inputs).__name__}"
        )
    numbers: list[float] = []
    for x in inputs:
        _flatten(x, numbers)
    if len(numbers) != g.n_inputs:
        raise ValueError(
            f"draw_graph: inputs= gives {len(numbers)} numbers, the trace takes {g.n_inputs}"
        )
    return numbers


def trace_nodes(g: Trace, inputs: Sequence[Any] | None = None) -> SlotNode:
    """Replay ``g`` on ``inputs`` through the op table; return the output slot as a node.

    Values: inputs from ``inputs`` (default: the last ``g(...)`` replay, else the traced example), parameters'
    current ``.data``, constants as traced, op results from ``op.fn``.  Each
    node's ``grad`` is d(output)/d(slot) of this replay, seed 1.
    """
    if not isinstance(g, Trace):
        raise TypeError(f"expected an engine.Trace, got {type(g).__name__}")
    numbers = input_numbers(g, inputs)
    slots = g.slots
    values: list[float] = [s.value for s in slots]
    input_slots = sorted((int(s.name[1:]), s.index) for s in slots if s.kind == "input")
    for (_, k), x in zip(input_slots, numbers):
        values[k] = x
    param_slots = [s.index for s in slots if s.kind == "param"]
    for k, p in zip(param_slots, g.params):
        values[k] = p.data
    locals_: dict[int, tuple[float, ...]] = {}
    for ins in g.ops:
        try:
            out, loc = ins.op.fn(*(values[a] for a in ins.args))
        except (ArithmeticError, ValueError) as exc:
            args = ", ".join(f"{slots[a].name}={values[a]!r}" for a in ins.args)
            raise type(exc)(
                f"draw_graph: replaying {slots[ins.out].name} = {ins.op.name}({args}) failed: {exc}"
            ) from None
        if not math.isfinite(out):
            raise ValueError(
                f"draw_graph: {slots[ins.out].name} = {ins.op.name}(...) gives {out!r} on these "
                "inputs; nothing to draw"
            )
        values[ins.out] = out
        locals_[ins.out] = tuple(loc)
    grads = [0.0] * len(slots)
    grads[g.output] = 1.0
    for ins in reversed(g.ops):
        up = grads[ins.out]
        for a, local in zip(ins.args, locals_[ins.out]):
            grads[a] += local * up  # downstream = local x upstream; fan-out adds

    nodes: list[SlotNode | None] = [None] * len(slots)
    made = {ins.out: ins for ins in g.ops}
    for s in slots:
        ins = made.get(s.index)
        label = s.name if s.kind in ("input", "param") else s.label or s.name
        if ins is None:
            node = SlotNode(values[s.index], label, LEAF, (), (), s.scope, s.kind, s.name)
        else:
            parents = tuple(nodes[a] for a in ins.args)  # type: ignore[misc]
            node = SlotNode(values[s.index], label, ins.op, parents, locals_[s.index], s.scope,
                            s.kind, s.name)
        node.grad = grads[s.index]
        nodes[s.index] = node
    return nodes[g.output]  # type: ignore[return-value]
