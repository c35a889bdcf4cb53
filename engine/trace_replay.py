"""The reference replay: a recorded program run op by op through the op table, every slot kept.

:func:`replay` returns a :class:`Replay`: each slot's value (op results from
``op.fn``), each instruction's local gradients and, for a seed, each slot's
gradient d output / d slot by the one backward rule, downstream = local x
upstream (fan-out adds).  It is what :meth:`Trace.inspect` returns for one
sample, what ``viz`` draws, and what names the op that failed when a
compiled replay raises.  The compiled forms (:mod:`engine.trace_compile`)
are its fast versions.

Imports ``trace_record`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

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
    replay holds arrays over the samples: ``inputs``, ``values`` and ``grads``
    are (rows x samples) matrices; a local that is the same for every sample
    stays a float.
    """

    inputs: Any
    values: Any
    local_grads: list[tuple[Any, ...]]
    grads: Any
    output: Any
    aux: Any


def replay(p: Program, numbers: Sequence[float], grad: float | None = 1.0) -> Replay:
    """Run ``p`` on the flat input ``numbers`` through ``op.fn``; with a seed ``grad``, backward too."""
    values, local_grads = forward_values(p, numbers)
    grads = None if grad is None else backward_grads(p, local_grads, grad)
    aux = rebuild_numbers(p.aux_shape, [values[k] for k in p.aux_slots])
    return Replay(list(numbers), values, local_grads, grads, values[p.output], aux)


def forward_values(p: Program, numbers: Sequence[float]) -> tuple[list[float], list[tuple[float, ...]]]:
    """Every slot's value and every instruction's local gradients.

    Inputs from ``numbers``, parameters' current ``.data``, constants as
    traced.  An op that fails raises its error again, naming the instruction
    and its inputs (``div: ... (replay of t3 = x0 ÷ x1; inputs: x0=1.0, x1=0.0)``).
    """
    values: list[float] = [s.value for s in p.slots]
    for k, x in zip(p.input_slots, numbers):
        values[k] = x
    for k, v in zip(p.param_slots, p.params):
        values[k] = v.data
    local_grads: list[tuple[float, ...]] = []
    for ins in p.ops:
        try:
            out, local = ins.op.fn(*[values[a] for a in ins.args])
        except (ArithmeticError, ValueError) as exc:
            raise _located(exc, p, ins, values) from None
        values[ins.out] = out
        local_grads.append(local)
    return values, local_grads


def _located(exc: Exception, p: Program, ins: Instr, values: list[float]) -> Exception:
    names = [s.name for s in p.slots]
    args = ", ".join(f"{names[a]}={values[a]!r}" for a in ins.args)
    return type(exc)(f"{ins.op.name}: {exc} (replay of {names[ins.out]} = "
                     f"{expr(ins, names)}; inputs: {args})")


def backward_grads(p: Program, local_grads: Sequence[tuple[float, ...]], grad: float) -> list[float]:
    """d output / d slot for every slot, seed ``grad``: ops in reverse, downstream = local x upstream.

    Fan-out adds; ops that feed only aux results pass nothing (as in the
    compiled forms).  Every gradient starts from 0: parameters' ``.grad`` is
    neither read nor written.
    """
    grads = [0.0] * len(p.slots)
    grads[p.output] = float(grad)
    live = p.live
    for ins, local in zip(reversed(p.ops), reversed(local_grads)):
        if ins.out not in live:
            continue
        upstream = grads[ins.out]
        for a, d in zip(ins.args, local):
            grads[a] += d * upstream  # downstream = local x upstream
    return grads
