"""Trace and replay: record a computation once, run it many times without Values.

``g = trace(fn, *example_inputs, params=...)`` runs ``fn`` once on fresh leaf
Values and turns the graph it built into a static program: an op list in
topological order over numbered *slots* (inputs, parameters, constants, op
results).  Then::

    loss = g(*inputs)        # forward on new numbers, current parameter .data
    g.backward()             # downstream = local x upstream, into every p.grad
    loss = g.batch(*inputs)  # the same program over a batch (numpy), mean or sum
    g.backward()             # ... the batch's summed / averaged gradients
    print(g)                 # three-address code;  g.ops / g.slots to inspect
    r = g.inspect(*inputs)   # one private replay: r.values, r.local_grads, r.grads per slot

Every forward value and local gradient comes from the op table (``op.fn`` for
the scalar replay, ``op.array_fn`` for the batch); the tracer writes no rule of
its own.  The scalar replay is compiled to straight-line Python source (one line
per op, one per edge); the batch replay groups ops of the same kind and depth
and runs each group as one numpy call over a (slots x batch) matrix.

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
* :mod:`engine.trace_replay`: the reference replay, op by op, every slot kept
  (``Replay``);
* :mod:`engine.trace_program`: ``Trace`` and ``trace`` (call, validate,
  backward, batch, inspect).

This module re-exports them and holds ``TracedStep``, the traced training step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from .trace_program import Trace, TraceMismatchError, trace
from .trace_record import Instr, Slot
from .trace_record import param_list as _param_list
from .trace_replay import Replay
from .value import Value

__all__ = ["Instr", "Replay", "Slot", "Trace", "TraceMismatchError", "TracedStep", "trace"]


# ---------------------------------------------------------------- training


class TracedStep:
    """One training step as replayed programs: what ``nn.fit(..., trace=True)`` runs.

    ``TracedStep(model, loss, params, zero_grad=..., update=..., l2=0.0)`` is
    called as ``step(xs, ys) -> (loss number, outputs)``, like ``nn``'s
    dynamic step: zero_grad, forward, loss (+ l2 * sum p^2), backward, update.

    ``batched=True`` (for a loss that is a mean - or with ``reduce="sum"`` a
    sum - over samples): the per-sample program ``loss([model(x)], [y])`` is
    traced once and replayed over the whole batch with :meth:`Trace.batch`.
    ``batched=False``: the whole batch's loss is traced (once per batch size)
    and replayed as one scalar program.  ``targets="constant"`` bakes each
    distinct target into its own trace (for targets that pick, rather than
    enter, the arithmetic - a class index for cross-entropy, or a loss that
    reads ``float(y)``); ``"input"`` feeds targets as numbers; ``"auto"`` (the
    default) feeds them as numbers if a re-trace with another target validates
    (:meth:`Trace.validate`; another row's target, or for a batch with one
    target, targets made from it), else bakes them.  A non-finite
    loss raises ``FloatingPointError`` before any weight changes.
    """

    def __init__(
        self,
        model: Callable[[Any], Any],
        loss: Callable[[Any, Any], Value],
        params: Iterable[Value],
        *,
        zero_grad: Callable[[], None],
        update: Callable[[], None],
        l2: float = 0.0,
        batched: bool = True,
        reduce: str = "mean",
        targets: str = "auto",
    ) -> None:
        if reduce not in ("mean", "sum"):
            raise ValueError(f"TracedStep: reduce must be 'mean' or 'sum', got {reduce!r}")
        if targets not in ("auto", "input", "constant"):
            raise ValueError(f"TracedStep: targets must be 'auto', 'input' or 'constant', got {targets!r}")
        if isinstance(l2, bool) or not isinstance(l2, Real) or not math.isfinite(l2) or l2 < 0:
            raise ValueError(f"TracedStep: l2 must be a finite number >= 0, got {l2!r}")
        self.model, self.loss = model, loss
        self.params = _param_list(params)
        self.zero_grad, self.update = zero_grad, update
        self.batched, self.reduce, self.targets = batched, reduce, targets
        self.l2 = float(l2)
        self._traces: dict[Any, Trace] = {}
        self._undecided: set[Any] = set()  # targets whose made-up alternatives the loss refused
        self._penalty: Trace | None = None
        if self.l2 and self.params:
            alpha, ps = self.l2, self.params
            self._penalty = trace(lambda: alpha * _sum_squares(ps), params=ps)

    def _sample(self, x: Any, y: Any) -> tuple[Value, Any]:
        out = self.model(x)
        return self.loss([out], [y]), out

    def _trace_for(self, key: Any, fn: Callable[..., Any], *example: Any) -> Trace:
        g = self._traces.get(key)
        if g is None:
            g = self._traces[key] = trace(fn, *example, params=self.params)
        return g

    def __call__(self, xs: Sequence[Any], ys: Sequence[Any]) -> tuple[float, list[Any]]:
        """One step on a batch: ``(loss, model outputs as numbers)``; weights updated."""
        if len(xs) != len(ys) or not len(xs):
            raise ValueError(f"TracedStep: need as many targets as rows (>0), got {len(xs)} and {len(ys)}")
        runs: list[tuple[Trace, list[int]]] = []
        targets = self.targets
        if targets == "auto":
            decided = self._decide_targets(xs, ys)
            if decided is not None:
                self.targets = decided
            targets = decided or "constant"
        if self.batched:
            if targets == "input":
                runs.append((self._trace_for("sample", self._sample, xs[0], ys[0]), list(range(len(xs)))))
            else:
                by_target: dict[Any, list[int]] = {}
                for i, y in enumerate(ys):
                    by_target.setdefault(_key(y), []).append(i)
                for key, rows in by_target.items():
                    y0 = ys[rows[0]]
                    runs.append((self._trace_for(key, lambda x, y0=y0: self._sample(x, y0), xs[rows[0]]), rows))
        else:
            n = len(xs)
            if targets == "input":
                g = self._trace_for(("batch", n), self._whole, xs, ys)
                total = g(xs, ys)
            else:
                baked = list(ys)
                g = self._trace_for(("batch", n, tuple(_key(y) for y in ys)),
                                    lambda bx: self._whole(bx, baked), xs)
                total = g(xs)
            return self._finish([(g, total, 1.0)], g.aux)
        # batched: each group's mean (or sum) weighted into the batch's
        n = len(xs)
        parts = []
        outputs: list[Any] = [None] * n
        for g, rows in runs:
            bx = [xs[i] for i in rows]
            args = (bx, [ys[i] for i in rows]) if targets == "input" else (bx,)
            try:
                value = g.batch(*args, reduce=self.reduce)
            except FloatingPointError:
                bad = next(i for i in rows if not math.isfinite(self._one(g, xs[i], ys[i])))
                raise FloatingPointError(
                    f"the loss became {self._one(g, xs[bad], ys[bad])!r} on row {bad} of the batch; "
                    "weights were not updated (lower the learning rate?)"
                ) from None
            weight = len(rows) / n if self.reduce == "mean" else 1.0
            parts.append((g, value, weight))
            for j, i in enumerate(rows):
                outputs[i] = _pick(g.aux, j)
        return self._finish(parts, outputs)

    def _one(self, g: Trace, x: Any, y: Any) -> float:
        """One row's loss through the trace (to name the row that went non-finite)."""
        try:
            return g(x, y) if self.targets == "input" else g(x)
        except (ArithmeticError, ValueError):
            return math.nan

    def _whole(self, xs: Any, ys: Any) -> tuple[Value, Any]:
        """The whole batch's loss (``batched=False``): ``loss([model(x) ...], ys)``."""
        outs = [self.model(x) for x in xs]
        return self.loss(outs, list(ys)), outs

    def _decide_targets(self, xs: Sequence[Any], ys: Sequence[Any]) -> str | None:
        """'input' if the program takes targets as numbers, 'constant' to bake each one in, None: undecided.

        Checked by re-tracing (:meth:`Trace.validate`) with other targets.  A
        batch with two distinct targets decides: the same program with another
        row's target means 'input', anything else 'constant' (as before).  A
        batch whose rows share one target (batch size 1, say) tries targets made
        from it (its negation - 1 for 0 - and it plus 1), so regression targets
        do not make a new trace per step: the same program means 'input', another
        program 'constant'; an error (a loss that refuses such a target) leaves it
        undecided (None: this batch bakes its target; a later batch decides).
        """
        y0 = ys[0]
        row = next((i for i, y in enumerate(ys) if _key(y) != _key(y0)), None)
        if row is None and _key(y0) in self._undecided:
            return None
        if self.batched:
            key: Any = "sample"
            fn: Callable[..., Any] = self._sample
            example: tuple[Any, Any] = (xs[0], y0)
            if row is not None:
                trials = [(xs[row], ys[row])]
            else:
                trials = [(xs[0], y) for y in _alternatives(y0)]
        else:
            key, fn, example = ("batch", len(xs)), self._whole, (xs, ys)
            if row is not None:
                trials = [(xs, [*ys[1:], y0])]  # every row gets another row's target
            else:
                alts = [_alternatives(y) for y in ys]
                width = min(len(a) for a in alts)
                trials = [(xs, [a[k] for a in alts]) for k in range(width)]
        if not trials:
            return "constant"
        try:
            g = self._trace_for(key, fn, *example)
            for x, y in trials:
                g.validate(x, y)
        except TraceMismatchError:
            self._traces.pop(key, None)
            return "constant"
        except (TypeError, ValueError, IndexError, KeyError, ArithmeticError):
            self._traces.pop(key, None)
            if row is not None:
                return "constant"
            self._undecided.add(_key(y0))
            return None
        return "input"

    def _finish(self, parts: list[tuple[Trace, float, float]], outputs: Any) -> tuple[float, list[Any]]:
        total = sum(w * v for _, v, w in parts)
        penalty = self._penalty() if self._penalty is not None else 0.0
        total += penalty
        if not math.isfinite(total):
            raise FloatingPointError(
                f"the loss became {total!r}; weights were not updated (lower the learning rate?)"
            )
        self.zero_grad()
        for g, _, w in parts:
            g.backward(w)
        if self._penalty is not None:
            self._penalty.backward()
        self.update()
        return total, list(outputs)


def _sum_squares(ps: Sequence[Value]) -> Value:
    from .value import sum_values

    return sum_values([p * p for p in ps])


def _key(y: Any) -> Any:
    if isinstance(y, np.ndarray):
        return tuple(y.tolist())
    return tuple(y) if isinstance(y, list) else y


def _alternatives(y: Any) -> list[Any]:
    """Targets of ``y``'s kind with other numbers: ``-y`` (1 for 0) and ``y + 1``; [] for non-numbers."""
    if isinstance(y, (bool, np.bool_)):
        return []
    if isinstance(y, Real):
        kind = type(y)
        return [kind(-y) if y != 0 else kind(1), kind(y + 1)]
    if isinstance(y, np.ndarray) and y.dtype.kind in "iuf" and y.size:
        return [np.where(y != 0, -y, 1).astype(y.dtype), y + 1]
    if isinstance(y, (list, tuple)) and y and all(isinstance(v, Real) and not isinstance(v, bool) for v in y):
        return [type(y)(-v if v != 0 else 1 for v in y), type(y)(v + 1 for v in y)]
    return []


def _pick(aux: Any, j: int) -> Any:
    """Sample j's numbers out of batched aux results (arrays per slot)."""
    if isinstance(aux, list):
        return [_pick(a, j) for a in aux]
    return float(aux[j])
