"""Trace and replay: record a computation once, run it many times without Values.

``g = trace(fn, *example_inputs, params=...)`` runs ``fn`` once on fresh leaf
Values and turns the graph it built into a static program: an op list in
topological order over numbered *slots* (inputs, parameters, constants, op
results).  Then::

    loss = g(*inputs)        # forward on new numbers, current parameter .data
    g.backward()             # downstream = local x upstream, into every p.grad
    loss = g.batch(*inputs)  # the same program over a batch (numpy), mean or sum
    print(g.fusion())        # which layers of neurons the batch replays as matrix products
    g.backward()             # ... the batch's summed / averaged gradients
    g.batch(*inputs, params=theta); g.backward(into=grad)   # the parameters as two vectors
                             # (g.params order): no .data read, no .grad written
    print(g)                 # three-address code;  g.ops / g.slots to inspect
    r = g.inspect(*inputs)   # one private replay: r.values, r.local_grads, r.grads per slot

Every forward value and local gradient comes from the op table (``op.fn`` for
the scalar replay, ``op.array_fn`` for the batch); the tracer writes no rule of
its own.  The scalar replay is compiled to straight-line Python source (one line
per op, one per edge); the batch replay groups ops of the same kind and depth
and runs each group as one numpy call over a (slots x batch) matrix; a layer
of neurons (an n-ary sum of parameter x input products over shared inputs,
then a gate) runs as one matrix product and its transposes (``fuse=True``,
the default; ``g.fusion()`` shows what was fused into what).

Slots.  ``inputs`` are the example inputs (numbers, Values, or nested lists of
them, flattened in order).  ``params``: the leaf Values listed in ``params=``;
their current ``.data`` is read at every replay and ``backward`` accumulates
into their ``.grad`` (as the dynamic engine does).  Every other leaf is a
*constant*, frozen at trace time.  With ``params=None`` every leaf that is not
an input is a parameter (safe, but constants then get gradients too).

Routers re-decide: ``max``/``min``/``relu``/``abs`` compute their locals from
the new numbers.  The limitation: Python control flow that reads ``.data``
(``if x.data > 0: ...``) or builds leaves from numbers (``Value(x.data)``) is
recorded for the example only.  ``g(*inputs, validate=True)`` (or
``g.validate(*inputs)``) re-traces ``fn`` on the new inputs and raises
:class:`TraceMismatchError` if the program differs (op sequence, wiring,
parameter identity or constants), instead of giving a silently wrong answer.

The tracer lives in rooms, one job each (no room imports this module):

* :mod:`engine.trace_record`: recording ``fn``'s graph as a ``Program`` (slots,
  instructions), flattening inputs, the signature a re-trace must match;
* :mod:`engine.trace_compile`: the compiled forms, straight-line Python and
  grouped numpy (plan, forward, backward);
* :mod:`engine.trace_fuse`: the layers of neurons found in a program, replayed
  as matrix products (``Z = W X + b``; ``dW = dZ Xᵀ``, ``dX = Wᵀ dZ``);
* :mod:`engine.trace_replay`: the reference replay, op by op, every slot kept
  (``Replay``);
* :mod:`engine.trace_program`: ``Trace`` and ``trace`` (call, validate,
  backward, batch, inspect).

This module re-exports them.  The traced training step (``TracedStep``) is
training policy and lives in ``nn``.
"""


from __future__ import annotations

from .trace_program import Trace, TraceMismatchError, trace
from .trace_record import Instr, Slot
from .trace_replay import Replay

__all__ = ["Instr", "Replay", "Slot", "Trace", "TraceMismatchError", "trace"]
