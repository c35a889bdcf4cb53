"""The :class:`Trace` program: replay a recorded computation, validate it, differentiate it.

``trace(fn, *example_inputs, params=...)`` records ``fn`` (:mod:`engine.trace_record`)
and returns a :class:`Trace`; calling it replays the program with the
straight-line Python or the grouped numpy form (:mod:`engine.trace_compile`),
``backward`` differentiates the last replay into the parameters' ``.grad``,
``batch`` replays it over a batch, ``validate`` re-traces to catch a program
that depends on the numbers, and ``inspect`` gives every slot's value, local
gradients and gradient of one replay (:mod:`engine.trace_replay`; an op that
fails is named by it) without touching any ``.grad``.

``batch`` (and a one-sample numpy replay) runs the layers of neurons that
:mod:`engine.trace_fuse` finds as matrix products unless ``g.fuse`` is False;
``fusion`` shows them.  ``batch(..., params=theta)`` reads the parameters'
numbers from one vector and ``backward(into=grad)`` adds their gradients into
another, without a pass over the Values (a training step that keeps them as
vectors); a batch's ``backward`` skips the edges into the inputs unless
``inputs=True`` asks for their gradients.

Imports ``trace_record``, ``trace_compile``, ``trace_fuse``, ``trace_replay`` and ``value``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from .trace_compile import Group, backprop_groups, compile_scalar, plan_batch, run_groups
from .trace_fuse import FusedPlan, backprop_fused, fusion_text, plan_fused, run_fused
from .trace_record import (
    Instr,
    Program,
    Slot,
    batch_columns,
    input_numbers,
    mismatch,
    param_list,
    program_of,
    program_text,
    rebuild,
    rebuild_numbers,
    record,
)
from .trace_replay import Replay, forward_values
from .trace_replay import replay as replay_program
from .value import Value

__all__ = ["Trace", "TraceMismatchError", "trace"]


class TraceMismatchError(RuntimeError):
    """A replay's inputs make ``fn`` build a different program than the trace."""


def trace(
    fn: Callable[..., Any],
    *example_inputs: Any,
    params: Iterable[Value] | None = None,
    replay: str = "auto",
    fuse: bool = True,
) -> Trace:
    """Run ``fn(*example_inputs)`` once on Values and record it as a replayable :class:`Trace`.

    ``example_inputs``: numbers, Values or (nested) lists/tuples/arrays of them;
    ``fn`` receives fresh leaf Values in the same structure and must return a
    Value.  ``params``: the leaves whose current ``.data`` is read at replay and
    whose ``.grad`` ``backward`` fills (``None``: every non-input leaf).
    ``replay``: ``"python"`` (straight-line code), ``"numpy"`` (grouped array
    ops) or ``"auto"`` (numpy when the program has ~100+ ops per group).
    ``fuse``: let ``batch`` replay each layer of neurons (an n-ary sum of
    parameter × input products, shared inputs) as one matrix product
    (:mod:`engine.trace_fuse`; ``g.fusion()`` shows what); ``False``: every op
    grouped.  Same numbers either way, to rounding; ``g.fuse`` can be changed later.
    """
    if not callable(fn):
        raise TypeError(f"trace: fn must be callable, got {type(fn).__name__}")
    param_spec = None if params is None else param_list(params)
    return Trace(fn, example_inputs, param_spec, replay=replay, fuse=fuse)


class _NoGrad:
    """A stand-in parameter whose ``.grad`` is 0: the compiled backward's sums then start from 0."""

    __slots__ = ()
    grad = 0.0


_NO_GRAD = _NoGrad()


def _check_vector(vector: Any, n: int, what: str) -> None:
    """``vector``: a 1-d float64 array with ``n`` entries, one per parameter (else ``TypeError`` / ``ValueError``)."""
    if not isinstance(vector, np.ndarray) or vector.dtype != np.float64:
        got = vector.dtype if isinstance(vector, np.ndarray) else type(vector).__name__
        raise TypeError(f"{what} must be a float64 numpy array (one entry per parameter), got {got}")
    if vector.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), one entry per parameter of the trace; got {vector.shape}")


def _check_mode(replay: str) -> None:
    if replay not in ("auto", "python", "numpy"):
        raise ValueError(f"trace: replay must be 'auto', 'python' or 'numpy', got {replay!r}")


def _seed(grad: Any, where: str) -> float:
    """The seed gradient as a float; else ``TypeError``."""
    if type(grad) is float:
        return grad
    if isinstance(grad, bool) or not isinstance(grad, Real):
        raise TypeError(f"{where}: the seed gradient must be a number, got {type(grad).__name__}")
    return float(grad)


class Trace:
    """A recorded computation: a static op list over slots, replayable without Values.

    Build one with :func:`trace` (or :meth:`from_graph`).  ``g.ops``
    (``Instr(out, op, args)`` in topological order), ``g.slots`` (``Slot(index,
    kind, name, label, scope, value)``), ``g.output``, ``g.params``,
    ``g.source`` (the compiled Python); ``g.inspect(*inputs)`` for every
    slot's numbers of one replay.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        example_inputs: Sequence[Any],
        params: list[Value] | None,
        replay: str = "auto",
        fuse: bool = True,
    ) -> None:
        _check_mode(replay)
        self._fn: Callable[..., Any] | None = fn
        self._param_spec = params
        self._setup(record(fn, example_inputs, params), replay, fuse)

    @classmethod
    def from_graph(
        cls,
        output: Value,
        inputs: Sequence[Value],
        *,
        aux: Any = None,
        params: Iterable[Value] | None = None,
        replay: str = "auto",
        fuse: bool = True,
    ) -> Trace:
        """The program of a graph already built: ``output`` (and ``aux`` Values) over the leaves ``inputs``.

        ``params``: the leaves whose ``.data`` each replay reads (``None``:
        every leaf that is not an input); every other leaf is a constant.
        There is no ``fn`` to re-trace, so :meth:`validate` raises ``TypeError``.
        """
        _check_mode(replay)
        if type(output) is not Value:
            raise TypeError(f"trace.from_graph: output must be a Value, got {type(output).__name__}")
        leaves = list(inputs)
        for i, v in enumerate(leaves):
            if type(v) is not Value or v.parents:
                raise TypeError(f"trace.from_graph: inputs[{i}] must be a leaf Value, got {v!r:.60}")
        g = cls.__new__(cls)
        g._fn = None
        g._param_spec = None if params is None else param_list(params)
        g._setup(program_of(output, aux, leaves, (None,) * len(leaves), g._param_spec), replay, fuse)
        return g

    def _setup(self, program: Program, replay: str, fuse: bool = True) -> None:
        self._p = program
        self.fuse = bool(fuse)  # batch replays layers as matrix products (engine.trace_fuse)
        self._fused: FusedPlan | None = None  # planned on first use
        self._groups: list[Group] = plan_batch(program)
        if replay == "auto":
            # one numpy call per group costs about what ~100 straight-line ops do
            vectorizable = all(g.rule is not None for g in self._groups)
            many = len(program.ops) > 100 * len(self._groups)
            replay = "numpy" if vectorizable and many else "python"
        self.replay = replay
        self._compiled: tuple[Callable[..., Any], Callable[..., Any], str] | None = None
        self._last: tuple[Any, ...] | None = None  # what backward() differentiates
        self.input_grads: Any = None
        self.aux: Any = None  # the aux results of the last replay (numbers; arrays after batch)
        self.last_inputs: list[float] | None = None  # flat input numbers of the last g(...) (None after batch)

    def _python(self) -> tuple[Callable[..., Any], Callable[..., Any], str]:
        if self._compiled is None:
            self._compiled = compile_scalar(self._p)
        return self._compiled

    @property
    def source(self) -> str:
        """The straight-line Python the scalar replay compiles to (forward and backward)."""
        return self._python()[2]

    def fused_plan(self) -> FusedPlan:
        """The batch replay's plan with its layers as matrix products (found once, on first use)."""
        if self._fused is None:
            self._fused = plan_fused(self._p)
        return self._fused

    def _plan(self) -> FusedPlan | None:
        """The fused plan if ``g.fuse`` and it found a layer; else None (the grouped replay)."""
        if not self.fuse:
            return None
        plan = self.fused_plan()
        return plan if plan.layers else None

    def _one_sample_plan(self) -> FusedPlan | None:
        """The fused plan for a one-sample replay, when it takes fewer numpy steps than the grouped one.

        One sample gives each matrix product a single column: fusing pays when it merges
        many groups (a penalty Σ p·p), not when a whole-batch program holds a layer per sample.
        """
        plan = self._plan()
        return plan if plan is not None and len(plan.steps) < len(self._groups) else None

    def _rows(self, plan: FusedPlan | None) -> tuple[int, list[int], list[int]]:
        """The rows of the output, the aux results and the inputs in a replay's matrices."""
        p = self._p
        if plan is None:
            return p.output, list(p.aux_slots), list(p.input_slots)
        return plan.output, plan.aux, plan.inputs

    def fusion(self) -> str:
        """What ``batch`` fuses into what, as text: one line per layer, then how many ops stay grouped.

        ``layer 1: 16 neurons × 2 inputs → one (n×2) @ (2×16) product + bias, then relu``
        (n: the last batch's size).  ``print(g)`` still shows every scalar op.
        """
        n = self._last[2] if self._last is not None and self._last[0] == "grouped" else None
        off = " (fuse=False: what would fuse; every op runs grouped)"
        title = f"{self!r}, batch replay" + ("" if self.fuse else off)
        return fusion_text(self._p, self.fused_plan(), title, n)

    # ------------------------------------------------------------ inspection
    @property
    def ops(self) -> tuple[Instr, ...]:
        """The op list, in topological order (each op after the ops it reads)."""
        return self._p.ops

    @property
    def slots(self) -> tuple[Slot, ...]:
        """Every slot: inputs, parameters, constants and op results, in topological order."""
        return self._p.slots

    @property
    def output(self) -> int:
        """The slot index of the traced function's result."""
        return self._p.output

    @property
    def params(self) -> tuple[Value, ...]:
        """The parameter Values the program reads, in the order ``params=`` listed them (``params=None``: slot order).

        Their ``.data`` is read at every replay; a vector for ``batch(params=)`` or
        ``backward(into=)`` has one entry per parameter, in this order.
        """
        return self._p.params

    @property
    def n_inputs(self) -> int:
        """How many input numbers a replay takes (after flattening)."""
        return self._p.n_inputs

    def __len__(self) -> int:
        return len(self._p.ops)

    def __repr__(self) -> str:
        p = self._p
        return (
            f"Trace({getattr(self._fn, '__name__', 'fn')}: {p.n_inputs} inputs, "
            f"{len(p.params)} params, {len(p.const_slots)} constants, {len(p.ops)} ops)"
        )

    def __str__(self) -> str:
        """Three-address code: one line per slot, ``t3 = t1 × w2``."""
        return program_text(self._p, repr(self), self._param_spec)

    # ------------------------------------------------------------ replay
    def __call__(self, *inputs: Any, validate: bool = False) -> float:
        """Forward on new input numbers and the parameters' current ``.data``; returns the output.

        ``validate=True`` first re-traces ``fn`` on these inputs and raises
        :class:`TraceMismatchError` if it would build a different program.
        """
        numbers = input_numbers(self._p, inputs)
        if validate:
            self.validate(*inputs)
        if self.replay == "numpy":
            out = self._call_grouped(numbers)
            if out is not None:
                return out
            # a NaN/inf or an error: the straight-line path gives the exact scalar semantics
        forward = self._python()[0]
        try:
            out, locals_, aux = forward(numbers, self._p.params)
        except (ArithmeticError, ValueError) as exc:
            raise self._located(exc, numbers) from None
        self._last = ("scalar", locals_)
        self.last_inputs = list(numbers)
        self.aux = rebuild_numbers(self._p.aux_shape, aux)
        return out

    def _call_grouped(self, numbers: list[float]) -> float | None:
        """One sample through the grouped numpy form (fused if ``g.fuse``); None if it fails or is not finite."""
        p = self._p
        plan = self._one_sample_plan()
        column = np.array(numbers, dtype=float).reshape(-1, 1)
        try:
            V, saved = run_groups(self._groups, p, column) if plan is None else run_fused(plan, p, column)
        except (ArithmeticError, ValueError):
            return None
        if not np.isfinite(V).all():
            return None
        self._last = ("one", saved, 1, "sum", plan)  # one sample through the grouped form: floats, as the scalar replay
        output, aux, _ = self._rows(plan)
        self.last_inputs = list(numbers)
        self.aux = rebuild_numbers(p.aux_shape, V[aux, 0].tolist())
        return float(V[output, 0])

    def _located(self, exc: Exception, numbers: list[float]) -> Exception:
        """The reference replay's error, naming the op that failed (else ``exc`` itself)."""
        try:
            forward_values(self._p, numbers)
        except (ArithmeticError, ValueError) as inner:
            return inner
        return exc

    def validate(self, *inputs: Any) -> None:
        """Re-trace ``fn`` on ``inputs``; raise :class:`TraceMismatchError` if the program differs."""
        input_numbers(self._p, inputs)
        if self._fn is None:
            raise TypeError("trace.validate: a Trace made by Trace.from_graph has no fn to re-trace")
        diff = mismatch(self._p, record(self._fn, inputs, self._param_spec))
        if diff is None:
            return
        raise TraceMismatchError(
            f"trace: on these inputs fn builds a different program: {diff}. "
            "fn has Python control flow or leaves that depend on the numbers (.data); "
            "a trace replays the example's path only - re-trace, or use the dynamic engine"
        )

    def backward(self, grad: float = 1.0, inputs: bool = False, into: np.ndarray | None = None) -> Any:
        """Backward through the last replay: accumulate into every parameter's ``.grad``.

        After ``g(*x)``: the scalar gradients.  After ``g.batch(...)``: the
        gradients of the batch's mean (or sum).  ``inputs=True`` also returns the
        inputs' gradients (a list of floats; per-sample arrays after a batch),
        kept in ``g.input_grads`` too (after a batch, only then: without it the
        edges into the inputs are skipped and ``g.input_grads`` is None).  ``into``: a float array with one entry per
        parameter (``g.params`` order) that the gradients are added to instead:
        no ``.grad`` is read or written (a training step that keeps its
        parameters as one vector, ``g.batch(..., params=vector)``).
        """
        seed = _seed(grad, "trace.backward")
        if self._last is None:
            raise RuntimeError("trace.backward: run the program first (g(*inputs) or g.batch(...))")
        if into is not None and (type(into) is not np.ndarray or into.shape != (len(self._p.params),)
                                 or into.dtype != np.float64):
            _check_vector(into, len(self._p.params), "trace.backward: into")
        if self._last[0] == "scalar":
            start = self._p.params if into is None else (_NO_GRAD,) * len(self._p.params)
            grads_p, grads_x = self._python()[1](self._last[1], seed, start)
            if into is not None:
                into += grads_p
            else:
                for v, g in zip(self._p.params, grads_p):
                    v.grad = g
        else:
            # one sample through the numpy form stands for the scalar replay: its inputs' gradients, as that one's
            sums, grads_x = self._batch_backward(seed, inputs or self._last[0] == "one")
            if into is not None:
                into += sums
            else:
                for v, s in zip(self._p.params, sums.tolist()):  # leaves accumulate
                    v.grad += s
            if grads_x is None:  # not asked for: the edges into the inputs were skipped
                self.input_grads = None
                return None
            if self._last[0] == "one":
                grads_x = [float(g[0]) for g in grads_x]
        self.input_grads = list(grads_x)
        return self.input_grads if inputs else None

    # ------------------------------------------------------------ batch
    def batch(self, *inputs: Any, reduce: str = "mean", params: np.ndarray | None = None) -> float:
        """Run the program over a batch: each input with a leading sample axis.

        ``inputs`` mirror the example inputs with one more leading axis (e.g.
        ``X`` of shape (n, 2) for an example ``[x1, x2]``, ``y`` of shape (n,)
        for a number).  Returns the mean (``reduce="mean"``) or sum of the
        per-sample outputs; ``backward()`` then gives that reduction's gradients.
        ``params``: a float array with every parameter's number (``g.params``
        order), read instead of their ``.data`` (one vector, no pass over the Values).
        """
        if reduce not in ("mean", "sum"):
            raise ValueError(f"trace.batch: reduce must be 'mean' or 'sum', got {reduce!r}")
        p = self._p
        if params is not None and (type(params) is not np.ndarray or params.shape != (len(p.params),)
                                   or params.dtype != np.float64):
            _check_vector(params, len(p.params), "trace.batch: params")
        plan = self._plan()
        columns = batch_columns(p, inputs)
        V, saved = run_groups(self._groups, p, columns, params) if plan is None else \
            run_fused(plan, p, columns, params)
        output, aux, _ = self._rows(plan)
        result = V[output]
        total = float(np.add.reduce(result))
        if not math.isfinite(total) and not np.isfinite(result).all():  # aux and backward keep the last replay
            bad = int(np.argmax(~np.isfinite(result)))
            raise FloatingPointError(f"trace.batch: sample {bad} gives output {float(result[bad])!r}")
        self.aux = rebuild_numbers(p.aux_shape, [V[k] for k in aux])
        n = V.shape[1]
        self._last = ("grouped", saved, n, reduce, plan)
        self.last_inputs = None
        return total / n if reduce == "mean" else total

    def _batch_backward(self, seed: float, inputs: bool) -> tuple[np.ndarray, list[Any] | None]:
        """Each parameter's gradient of the last grouped replay (to add to ``.grad``); the inputs' if ``inputs``."""
        p = self._p
        _, saved, n, reduce, plan = self._last  # type: ignore[misc]
        output, _, rows = self._rows(plan)
        G = np.zeros((len(p.slots) if plan is None else len(plan.filled), n))
        G[output] = seed / n if reduce == "mean" else seed
        if plan is None:
            backprop_groups(self._groups, saved, G, inputs)
            sums = G[list(p.param_slots)].sum(axis=1)
        else:
            sums = backprop_fused(plan, saved, G, len(p.params), inputs)
        return sums, list(G[rows]) if inputs else None

    # ------------------------------------------------------------ the public replay
    def inspect(self, *inputs: Any, grad: float | None = 1.0, batch: bool = False) -> Replay:
        """One replay with every slot's numbers: values, local gradients, gradients.

        ``inputs`` as for ``g(*inputs)``; none: those of the last ``g(...)``
        replay, else the traced example.  The reference replay runs the
        program op by op through the op table, then backward (downstream =
        local x upstream, seed ``grad``; ``None``: values only), and returns a
        :class:`Replay`.  ``batch=True``: ``inputs`` as for :meth:`batch`, each
        op's ``array_fn`` element-wise, each sample seeded with ``grad``.
        Private: no parameter's ``.grad``, nor ``g.aux`` or what ``backward``
        differentiates, changes.  An op that fails raises its error, naming it.
        """
        seed = None if grad is None else _seed(grad, "trace.inspect")
        p = self._p
        if batch:
            return replay_program(p, list(batch_columns(p, inputs)), seed, batch=True)
        if inputs:
            numbers = input_numbers(p, inputs)
        elif self.last_inputs is not None:
            numbers = self.last_inputs
        else:
            numbers = [p.slots[k].value for k in p.input_slots]
        return replay_program(p, numbers, seed)

    def rebuild(self, numbers: Sequence[Any]) -> list[Any]:
        """Flat input numbers (``n_inputs`` of them) as the traced arguments: ``g(*g.rebuild(flat))``."""
        if len(numbers) != self._p.n_inputs:
            raise ValueError(f"trace.rebuild: got {len(numbers)} numbers, the trace takes {self._p.n_inputs}")
        return rebuild(self._p.shapes, numbers)
