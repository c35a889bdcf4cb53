"""The reference replay: a recorded program run op by op through the op table, every slot kept.

:func:`replay` returns a :class:`Replay`: each slot's value, each
instruction's local gradients (both from the op's rule: ``op.fn`` on
numbers, or ``op.array_fn`` element-wise on one array per input number for
a batch) and, for a seed, each slot's gradient d output / d slot by the one
backward rule, downstream = local x upstream (fan-out adds).  It is what
:meth:`Trace.inspect` returns, what ``viz`` draws, and what names the op
that failed when a compiled replay raises.  The compiled forms
(:mod:`engine.trace_compile`) are its fast versions.

Imports ``trace_record`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .backward import backprop, local_times_upstream
from .trace_record import Instr, Program, expr, rebuild_numbers

__all__ = ["Replay", "backward_grads", "forward_values", "replay"]


class Replay(NamedTuple):
    """One replay of a traced program, slot by slot (what :meth:`Trace.inspect` returns).

    ``inputs``: the flat input numbers replayed.  ``values[k]``: slot ``k``'s
    value (an input, a parameter's ``.data``, a constant, an op result).
    ``local_grads[i]``: d out / d arg of instruction ``g.ops[i]``, one per
    argument.  ``grads[k]``: d output / d slot ``k`` for the seed, from this
    replay alone (``None`` when replayed without a seed).  ``output``:
    ``values[g.output]``; ``aux``: the aux results, as ``g.aux``.  A batch
    replay holds an array over the samples wherever a number depends on the
    sample (``inputs``, ``output`` and ``aux`` always); the rest stay numbers.
    """

    inputs: list[Any]
    values: list[Any]
    local_grads: list[tuple[Any, ...]]
    grads: list[Any] | None
    output: Any
    aux: Any


def replay(p: Program, numbers: Sequence[Any], grad: float | None = 1.0, batch: bool = False) -> Replay:
    """Run ``p`` on the flat input ``numbers`` op by op; with a seed ``grad``, backward too.

    ``batch=True``: ``numbers`` holds one array per input number (the
    samples), and each op applies its ``array_fn`` element-wise.
    """
    with np.errstate(all="ignore"):  # as the grouped form: a non-finite batch value is the caller's to judge
        values, local_grads = forward_values(p, numbers, batch)
        grads = None if grad is None else backward_grads(p, local_grads, grad)
    output, aux = values[p.output], [values[k] for k in p.aux_slots]
    if batch:  # every sample's output and aux, as g.batch gives them
        n = len(numbers[0]) if len(numbers) else 1
        output, aux = np.broadcast_to(output, (n,)), [np.broadcast_to(a, (n,)) for a in aux]
    return Replay(list(numbers), values, local_grads, grads, output, rebuild_numbers(p.aux_shape, aux))


def forward_values(p: Program, numbers: Sequence[Any], batch: bool = False) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """Every slot's value and every instruction's local gradients.

    Inputs from ``numbers``, parameters' current ``.data``, constants as
    traced.  An op that fails raises its error again, naming the instruction
    (``div: ... (replay of t3 = x0 ÷ x1; inputs: x0=1.0, x1=0.0)``).
    """
    leaf = np.float64 if batch else float  # numpy scalars: a batch rule may read .astype, .dtype
    values: list[Any] = [leaf(s.value) for s in p.slots]
    for k, x in zip(p.input_slots, numbers):
        values[k] = np.asarray(x, dtype=float) if batch else x
    for k, v in zip(p.param_slots, p.params):
        values[k] = leaf(v.data)
    local_grads: list[tuple[Any, ...]] = []
    for ins in p.ops:
        rule = ins.op.array_fn if batch else ins.op.fn
        if rule is None:
            raise TypeError(f"trace: op(s) {ins.op.name} have no array form in the op table")
        try:
            out, local = rule(*[values[a] for a in ins.args])
        except (ArithmeticError, ValueError) as exc:
            raise _located(exc, p, ins, values, batch) from None
        values[ins.out] = out
        local_grads.append(local)
    return values, local_grads


def _located(exc: Exception, p: Program, ins: Instr, values: list[Any], batch: bool) -> Exception:
    """``exc`` again, naming the instruction and its input numbers (over a batch: the first sample that fails)."""
    names = [s.name for s in p.slots]
    where = f"replay of {names[ins.out]} = {expr(ins, names)}"
    if batch:
        return type(exc)(f"{ins.op.name}: {exc} ({where}, over a batch{_failing_sample(ins, values)})")
    args = ", ".join(f"{names[a]}={values[a]!r}" for a in ins.args)
    return type(exc)(f"{ins.op.name}: {exc} ({where}; inputs: {args})")


def _failing_sample(ins: Instr, values: list[Any]) -> str:
    """``", sample 3"``: the first sample on which ``ins`` fails alone (empty if none does)."""
    args = [np.asarray(values[a]) for a in ins.args]
    for j in range(max((a.size for a in args), default=0)):
        try:
            ins.op.array_fn(*[a if a.ndim == 0 else a[j:j + 1] for a in args])  # type: ignore[misc]
        except (ArithmeticError, ValueError):
            return f", sample {j}"
    return ""


class ProgramNode(NamedTuple):
    """One slot of a program as a graph node (the node protocol the backward loop walks)."""

    parents: tuple[Any, ...]
    local_grads: tuple[Any, ...]


def backward_grads(p: Program, local_grads: Sequence[tuple[Any, ...]], grad: float) -> list[Any]:
    """d output / d slot for every slot, seed ``grad``: the one backward loop over the program's nodes.

    Each slot becomes a :class:`ProgramNode` (an op's result: its argument
    slots as parents, its locals; any other slot: a leaf), and
    :func:`engine.backward.backprop` applies downstream = local x upstream.
    Fan-out adds; ops that feed only aux results pass nothing (as in the
    compiled forms).  Parameters' ``.grad`` is neither read nor written.
    """
    nodes: list[Any] = [ProgramNode((), ()) for _ in p.slots]
    for ins, local in zip(p.ops, local_grads):  # in program order: parents exist before children
        nodes[ins.out] = ProgramNode(tuple(nodes[a] for a in ins.args), local)
    order = [nodes[k] for k in range(len(p.slots)) if not nodes[k].parents] + [nodes[ins.out] for ins in p.ops]
    found = backprop(nodes[p.output], float(grad), local_times_upstream, order=order)
    return [found.get(id(node), 0.0) for node in nodes]
