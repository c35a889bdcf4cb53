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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from numbers import Real
from typing import Any, NamedTuple

import numpy as np

from .backward import topological_order
from .ops import Op
from .state import is_grad_enabled
from .value import Value

__all__ = ["Instr", "Slot", "Trace", "TraceMismatchError", "trace"]


class TraceMismatchError(RuntimeError):
    """A replay's inputs make ``fn`` build a different program than the trace."""


class Slot(NamedTuple):
    """One numbered value of the program: an input, a parameter, a constant or an op result."""

    index: int
    kind: str  # "input" | "param" | "const" | "op"
    name: str  # display name in print(g): x0, w1 (a param's label), c0, t0
    label: str  # the traced Value's label
    scope: str  # the engine.scope the traced Value was made in
    value: float  # value at trace time (constants keep it forever)


class Instr(NamedTuple):
    """One op of the program: ``slots[out] = op(*slots[args])``."""

    out: int
    op: Op
    args: tuple[int, ...]


_KINDS = ("input", "param", "const")


def trace(
    fn: Callable[..., Any],
    *example_inputs: Any,
    params: Iterable[Value] | None = None,
    replay: str = "auto",
) -> Trace:
    """Run ``fn(*example_inputs)`` once on Values and record it as a replayable :class:`Trace`.

    ``example_inputs``: numbers, Values or (nested) lists/tuples/arrays of them;
    ``fn`` receives fresh leaf Values in the same structure and must return a
    Value.  ``params``: the leaves whose current ``.data`` is read at replay and
    whose ``.grad`` ``backward`` fills (``None``: every non-input leaf).
    ``replay``: ``"python"`` (straight-line code), ``"numpy"`` (grouped array
    ops) or ``"auto"`` (numpy when the program has ~100+ ops per group).
    """
    if not callable(fn):
        raise TypeError(f"trace: fn must be callable, got {type(fn).__name__}")
    param_list = None if params is None else _param_list(params)
    return Trace(fn, example_inputs, param_list, replay=replay)


def _param_list(params: Iterable[Value]) -> list[Value]:
    out = list(params)
    for i, p in enumerate(out):
        if type(p) is not Value:
            raise TypeError(f"trace: params[{i}] must be a Value, got {type(p).__name__}")
        if p.parents:
            raise ValueError(
                f"trace: params[{i}] ({p.label or 'unnamed'}={p.data!r}) is not a leaf: "
                f"it was made by op '{p.op.name}'"
            )
    return out


# ---------------------------------------------------------------- inputs


def _flatten(x: Any, where: str, out: list[float]) -> Any:
    """Numbers and Values -> floats in ``out``; returns the structure (counts per level)."""
    kind = type(x)
    if kind is float or kind is int:
        out.append(float(x))
        return None
    if kind is Value:
        out.append(x.data)
        return None
    if isinstance(x, Real) and not isinstance(x, bool):
        out.append(float(x))
        return None
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return tuple(_flatten(item, f"{where}[{i}]", out) for i, item in enumerate(x))
    raise TypeError(
        f"trace: {where} must be a number, a Value or a list of them, got {type(x).__name__}"
    )


def _rebuild(shape: Any, leaves: Iterable[Any]) -> Any:
    """The flat ``leaves`` put back into ``shape`` (None: one item; a tuple: a list)."""
    return _build(shape, iter(leaves))


def _build(shape: Any, it: Iterator[Any]) -> Any:
    # a plain recursive function, not a closure: no reference cycle per call
    return next(it) if shape is None else [_build(s, it) for s in shape]


# ---------------------------------------------------------------- recording


class _Program(NamedTuple):
    slots: tuple[Slot, ...]
    ops: tuple[Instr, ...]
    output: int
    params: tuple[Value, ...]  # one per param slot, in slot order
    param_slots: tuple[int, ...]
    input_slots: tuple[int, ...]
    const_slots: tuple[int, ...]
    shapes: tuple[Any, ...]
    n_inputs: int
    aux_slots: tuple[int, ...]  # extra results reported after a replay (fn returned (out, aux))
    aux_shape: Any
    live: frozenset[int]  # op slots the output depends on (aux-only ops get no gradient)


def _record(fn: Callable[..., Any], example_inputs: Sequence[Any], params: list[Value] | None) -> _Program:
    if not is_grad_enabled():
        raise RuntimeError("trace: gradient recording is off (called inside engine.no_grad())")
    numbers: list[float] = []
    shapes = tuple(_flatten(x, f"input {i}", numbers) for i, x in enumerate(example_inputs))
    leaves = [Value(v, label=f"x{i}") for i, v in enumerate(numbers)]
    args = _rebuild(shapes, leaves)
    out = fn(*args)
    aux: Any = None
    if isinstance(out, tuple) and len(out) == 2 and type(out[0]) is Value:
        out, aux = out
    if type(out) is not Value:
        raise TypeError(
            f"trace: fn must return a Value (or a pair (Value, aux Values)), got {type(out).__name__}"
        )
    aux_values: list[Any] = []
    aux_shape = None if aux is None else _aux_shape(aux, aux_values)
    order = topological_order(_Root((out, *aux_values)))[:-1] if aux_values else topological_order(out)
    input_ids = {id(v): i for i, v in enumerate(leaves)}
    param_ids = None if params is None else {id(p) for p in params}
    slot_of: dict[int, int] = {}
    slots: list[Slot] = []
    instrs: list[Instr] = []
    traced_params: list[Value] = []
    param_slots: list[int] = []
    const_slots: list[int] = []
    input_slot = [-1] * len(leaves)
    counts = {"param": 0, "const": 0, "op": 0}
    for node in order:
        k = len(slots)
        slot_of[id(node)] = k
        if node.parents:
            name = f"t{counts['op']}"
            counts["op"] += 1
            instrs.append(Instr(k, node.op, tuple(slot_of[id(p)] for p in node.parents)))
            slots.append(Slot(k, "op", name, node.label, node.scope, node.data))
        elif id(node) in input_ids:
            i = input_ids[id(node)]
            input_slot[i] = k
            slots.append(Slot(k, "input", f"x{i}", node.label, node.scope, node.data))
        elif param_ids is None or id(node) in param_ids:
            name = node.label if node.label.isidentifier() else f"p{counts['param']}"
            counts["param"] += 1
            traced_params.append(node)
            param_slots.append(k)
            slots.append(Slot(k, "param", name, node.label, node.scope, node.data))
        else:
            name = f"c{counts['const']}"
            counts["const"] += 1
            const_slots.append(k)
            slots.append(Slot(k, "const", name, node.label, node.scope, node.data))
    for i, v in enumerate(leaves):  # inputs fn did not use: a slot each, gradient 0
        if input_slot[i] < 0:
            input_slot[i] = len(slots)
            slots.append(Slot(len(slots), "input", f"x{i}", v.label, v.scope, v.data))
    return _Program(
        tuple(slots), tuple(instrs), slot_of[id(out)], tuple(traced_params), tuple(param_slots),
        tuple(input_slot), tuple(const_slots), shapes, len(leaves),
        tuple(slot_of[id(v)] for v in aux_values), aux_shape, _live(instrs, slot_of[id(out)]),
    )


class _Root:
    """A stand-in root whose parents are the output and the aux results (one walk for all)."""

    __slots__ = ("parents",)

    def __init__(self, parents: tuple[Value, ...]) -> None:
        self.parents = parents


def _live(instrs: list[Instr], output: int) -> frozenset[int]:
    """The slots the output depends on (itself included)."""
    live = {output}
    for ins in reversed(instrs):
        if ins.out in live:
            live.update(ins.args)
    return frozenset(live)


def _aux_shape(aux: Any, out: list[Value]) -> Any:
    if type(aux) is Value:
        out.append(aux)
        return None
    if isinstance(aux, (list, tuple)):
        return tuple(_aux_shape(a, out) for a in aux)
    raise TypeError(f"trace: aux results must be Values or lists of Values, got {type(aux).__name__}")


def _signature(p: _Program) -> tuple[Any, ...]:
    """What must not change between a trace and a re-trace on other inputs."""
    return (
        tuple((i.op.name, i.op.arg, i.args) for i in p.ops),
        tuple(s.kind for s in p.slots),
        len(p.params),
        tuple(p.slots[k].value for k in p.const_slots),
        p.output,
    )


# ---------------------------------------------------------------- scalar code


def _compile_scalar(p: _Program) -> tuple[Callable[..., Any], Callable[..., Any], str]:
    """Straight-line Python for forward (values, locals) and backward (the edges, reversed)."""
    env: dict[str, Any] = {"__builtins__": {}}
    fn_name: dict[int, str] = {}
    for instr in p.ops:
        if id(instr.op) not in fn_name:
            fn_name[id(instr.op)] = name = f"f{len(fn_name)}_{instr.op.name}"
            env[name] = instr.op.fn
    for k in p.const_slots:
        env[f"c{k}"] = p.slots[k].value

    fwd = ["def forward(X, P):"]
    if p.n_inputs:
        fwd.append(f"    {', '.join(f'v{k}' for k in p.input_slots)}, = X")
    if p.params:
        fwd.append(f"    {', '.join(f'q{k}' for k in p.param_slots)}, = P")
        fwd += [f"    v{k} = q{k}.data" for k in p.param_slots]
    fwd += [f"    v{k} = c{k}" for k in p.const_slots]
    for ins in p.ops:
        fwd.append(f"    v{ins.out}, L{ins.out} = {fn_name[id(ins.op)]}({', '.join(f'v{a}' for a in ins.args)})")
    locals_tuple = "".join(f"L{ins.out}, " for ins in p.ops)
    aux = "".join(f"v{k}, " for k in p.aux_slots)
    fwd.append(f"    return v{p.output}, ({locals_tuple}), ({aux})")

    bwd = ["def backward(Ls, seed, P):"]
    if p.ops:
        bwd.append(f"    {locals_tuple} = Ls")
    if p.params:
        bwd.append(f"    {', '.join(f'q{k}' for k in p.param_slots)}, = P")
    started: set[int] = set()
    params = set(p.param_slots)

    def contribute(k: int, expr: str) -> None:
        # the first edge into a slot starts its sum (a parameter's from its .grad:
        # leaves accumulate, as in the dynamic engine); later edges add to it
        if k in started:
            bwd.append(f"    g{k} += {expr}")
        elif k in params:
            bwd.append(f"    g{k} = q{k}.grad + {expr}")
        else:
            bwd.append(f"    g{k} = {expr}")
        started.add(k)

    contribute(p.output, "seed")
    for ins in reversed(p.ops):
        if ins.out not in p.live:  # feeds only aux results: no gradient flows through it
            continue
        for j, a in enumerate(ins.args):
            contribute(a, f"L{ins.out}[{j}] * g{ins.out}")
    grads_p = ", ".join(f"g{k}" if k in started else f"q{k}.grad" for k in p.param_slots)
    grads_x = ", ".join(f"g{k}" if k in started else "0.0" for k in p.input_slots)
    bwd.append(f"    return ({grads_p}{',' if p.params else ''}), ({grads_x}{',' if p.n_inputs else ''})")
    source = "\n".join(fwd) + "\n\n" + "\n".join(bwd) + "\n"
    exec(compile(source, "<tracegrad trace>", "exec"), env)  # noqa: S102 - generated from the op list
    return env["forward"], env["backward"], source


# ---------------------------------------------------------------- batch plan


class _Group(NamedTuple):
    op: Op
    rule: Callable[..., Any] | None  # (stacked args) -> (out, locals); None: no array form
    outs: np.ndarray  # (k,) slot rows written by this group
    args: np.ndarray  # (arity, k) slot rows read: args[j] is every op's j-th input
    scatter: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # rows read twice: (order, rows, starts)
    live: bool  # False: feeds aux results only, skipped by backward


def _plan_batch(p: _Program) -> list[_Group]:
    """Group ops by (depth, op, arity): each group is one numpy call over (ops x samples)."""
    depth = [0] * len(p.slots)
    buckets: dict[tuple[int, int, int, bool], list[Instr]] = {}
    keep: dict[int, Op] = {}
    for ins in p.ops:
        d = 1 + max(depth[a] for a in ins.args)
        depth[ins.out] = d
        keep[id(ins.op)] = ins.op
        live = ins.out in p.live
        buckets.setdefault((d, id(ins.op), len(ins.args), not live), []).append(ins)
    groups = []
    for (_, op_id, _arity, dead), instrs in sorted(buckets.items()):
        args = np.array([i.args for i in instrs], dtype=np.intp).T
        flat = args.ravel()
        scatter = None
        if len(np.unique(flat)) != len(flat):  # a slot read twice: sum its edges first
            order = np.argsort(flat, kind="stable")
            rows, starts = np.unique(flat[order], return_index=True)
            scatter = (order, rows, starts)
        outs = np.array([i.out for i in instrs], dtype=np.intp)
        groups.append(_Group(keep[op_id], _array_rule(keep[op_id]), outs, args, scatter, not dead))
    return groups


def _array_rule(op: Op) -> Callable[..., Any] | None:
    """The op table's array form over stacked args (arity, k, n), or None if the op has none."""
    fn = op.array_fn
    if fn is None:
        return None
    return lambda stacked: fn(*stacked)


# ---------------------------------------------------------------- the program


class Trace:
    """A recorded computation: a static op list over slots, replayable without Values.

    Build one with :func:`trace`.  ``g.ops`` (``Instr(out, op, args)`` in
    topological order), ``g.slots`` (``Slot(index, kind, name, label, scope,
    value)``), ``g.output``, ``g.params``, ``g.source`` (the compiled Python).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        example_inputs: Sequence[Any],
        params: list[Value] | None,
        replay: str = "auto",
    ) -> None:
        if replay not in ("auto", "python", "numpy"):
            raise ValueError(f"trace: replay must be 'auto', 'python' or 'numpy', got {replay!r}")
        self._fn = fn
        self._param_spec = params
        program = _record(fn, example_inputs, params)
        self._p = program
        self._groups = _plan_batch(program)
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
            self._compiled = _compile_scalar(self._p)
        return self._compiled

    @property
    def source(self) -> str:
        """The straight-line Python the scalar replay compiles to (forward and backward)."""
        return self._python()[2]

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
        """The parameter Values, in slot order (their ``.data`` is read at every replay)."""
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
        p = self._p
        names = [s.name for s in p.slots]
        lines = [repr(self)]
        position = {k: i for i, k in enumerate(p.input_slots)}  # inputs in argument order,
        given = {id(v): i for i, v in enumerate(self._param_spec or ())}  # params as listed
        position.update({k: given.get(id(v), k) for k, v in zip(p.param_slots, p.params)})
        leaves = [s for s in p.slots if s.kind != "op"]
        for s in sorted(leaves, key=lambda s: (_KINDS.index(s.kind), position.get(s.index, s.index))):
            if s.kind == "input":
                lines.append(f"  {s.name} = input")
            elif s.kind == "param":
                lines.append(f"  {s.name} = param  # {s.value:.6g} at trace time")
            else:
                lines.append(f"  {s.name} = {s.value!r}")
        for ins in p.ops:
            lines.append(f"  {names[ins.out]} = {_expr(ins, names)}".ljust(36) + f"# {ins.op.gate}")
        lines.append(f"  return {names[p.output]}")
        return "\n".join(lines)

    # ------------------------------------------------------------ replay
    def _inputs(self, inputs: Sequence[Any]) -> list[float]:
        numbers: list[float] = []
        shapes = tuple(_flatten(x, f"input {i}", numbers) for i, x in enumerate(inputs))
        if shapes != self._p.shapes:
            raise ValueError(
                f"trace: replay inputs have structure {_describe(shapes)}, "
                f"the trace was made with {_describe(self._p.shapes)}"
            )
        return numbers

    def __call__(self, *inputs: Any, validate: bool = False) -> float:
        """Forward on new input numbers and the parameters' current ``.data``; returns the output.

        ``validate=True`` first re-traces ``fn`` on these inputs and raises
        :class:`TraceMismatchError` if it would build a different program.
        """
        numbers = self._inputs(inputs)
        if validate:
            self.validate(*inputs)
        if self.replay == "numpy":
            try:
                V, saved = self._grouped(np.array(numbers, dtype=float).reshape(-1, 1))
            except (ArithmeticError, ValueError):
                V = np.array([np.nan])  # the straight-line path below raises the exact error
            if np.isfinite(V).all():
                self._last = ("grouped", saved, 1, "sum")
                self.last_inputs = list(numbers)
                self.aux = _rebuild_numbers(self._p.aux_shape, V[list(self._p.aux_slots), 0].tolist())
                return float(V[self._p.output, 0])
            # a NaN/inf somewhere: the straight-line path gives the exact scalar semantics
        forward = self._python()[0]
        try:
            out, locals_, aux = forward(numbers, self._p.params)
        except (ArithmeticError, ValueError) as exc:
            raise self._locate(exc, numbers) from None
        self._last = ("scalar", locals_)
        self.last_inputs = list(numbers)
        self.aux = _rebuild_numbers(self._p.aux_shape, aux)
        return out

    def validate(self, *inputs: Any) -> None:
        """Re-trace ``fn`` on ``inputs``; raise :class:`TraceMismatchError` if the program differs."""
        self._inputs(inputs)
        other = _record(self._fn, inputs, self._param_spec)
        mine, theirs = _signature(self._p), _signature(other)
        # a parameter must be the same Value - or, for a leaf fn makes itself (a
        # number wrapped when params=None), one with the same number
        same_params = mine[2] == theirs[2] and all(
            a is b or (not a.parents and a.data == b.data) for a, b in zip(self._p.params, other.params)
        )
        if mine == theirs and same_params:
            return
        if mine == theirs:
            mine, theirs = (*mine[:2], 0, *mine[3:]), (*theirs[:2], 1, *theirs[3:])
        what = ("op sequence", "slot kinds", "parameters", "constants", "output")
        diff = next(w for w, a, b in zip(what, mine, theirs) if a != b)
        detail = ""
        if diff == "op sequence":
            a, b = mine[0], theirs[0]
            i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            detail = f" (first at op {i}; {len(a)} ops traced, {len(b)} on these inputs)"
        raise TraceMismatchError(
            f"trace: on these inputs fn builds a different program: the {diff} differ{detail}. "
            "fn has Python control flow or leaves that depend on the numbers (.data); "
            "a trace replays the example's path only - re-trace, or use the dynamic engine"
        )

    def _locate(self, exc: Exception, numbers: list[float]) -> Exception:
        """Re-run the forward op by op to name the op that failed."""
        p = self._p
        vals: list[Any] = [0.0] * len(p.slots)
        for k, x in zip(p.input_slots, numbers):
            vals[k] = x
        for k, v in zip(p.param_slots, p.params):
            vals[k] = v.data
        for k in p.const_slots:
            vals[k] = p.slots[k].value
        names = [s.name for s in p.slots]
        for ins in p.ops:
            try:
                vals[ins.out] = ins.op.fn(*(vals[a] for a in ins.args))[0]
            except (ArithmeticError, ValueError) as inner:
                args = ", ".join(f"{names[a]}={vals[a]!r}" for a in ins.args)
                return type(inner)(f"{ins.op.name}: {inner} (replay of {names[ins.out]} = "
                                   f"{_expr(ins, names)}; inputs: {args})")
        return exc

    def backward(self, grad: float = 1.0, inputs: bool = False) -> Any:
        """Backward through the last replay: accumulate into every parameter's ``.grad``.

        After ``g(*x)``: the scalar gradients.  After ``g.batch(...)``: the
        gradients of the batch's mean (or sum).  ``inputs=True`` also returns the
        inputs' gradients (a list of floats; per-sample arrays after a batch),
        kept in ``g.input_grads`` too.
        """
        if isinstance(grad, bool) or not isinstance(grad, Real):
            raise TypeError(f"trace.backward: the seed gradient must be a number, got {type(grad).__name__}")
        if self._last is None:
            raise RuntimeError("trace.backward: run the program first (g(*inputs) or g.batch(...))")
        if self._last[0] == "scalar":
            grads_p, grads_x = self._python()[1](self._last[1], float(grad), self._p.params)
        else:
            grads_p, grads_x = self._batch_backward(float(grad))
        for v, g in zip(self._p.params, grads_p):
            v.grad = g
        self.input_grads = list(grads_x)
        return self.input_grads if inputs else None

    # ------------------------------------------------------------ batch
    def batch(self, *inputs: Any, reduce: str = "mean") -> float:
        """Run the program over a batch: each input with a leading sample axis.

        ``inputs`` mirror the example inputs with one more leading axis (e.g.
        ``X`` of shape (n, 2) for an example ``[x1, x2]``, ``y`` of shape (n,)
        for a number).  Returns the mean (``reduce="mean"``) or sum of the
        per-sample outputs; ``backward()`` then gives that reduction's gradients.
        """
        if reduce not in ("mean", "sum"):
            raise ValueError(f"trace.batch: reduce must be 'mean' or 'sum', got {reduce!r}")
        p = self._p
        V, saved = self._grouped(self._batch_columns(inputs))
        result = V[p.output]
        if not np.all(np.isfinite(result)):  # nothing changes: aux and backward keep the last good replay
            bad = int(np.argmax(~np.isfinite(result)))
            raise FloatingPointError(f"trace.batch: sample {bad} gives output {float(result[bad])!r}")
        self.aux = _rebuild_numbers(p.aux_shape, list(V[list(p.aux_slots)]))
        n = V.shape[1]
        self._last = ("grouped", saved, n, reduce)
        self.last_inputs = None
        total = float(result.sum())
        return total / n if reduce == "mean" else total

    def _grouped(self, columns: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """Forward over a (slots x samples) matrix, one numpy call per group of like ops."""
        p = self._p
        missing = sorted({g.op.name for g in self._groups if g.rule is None})
        if missing:
            raise TypeError(f"trace: op(s) {', '.join(missing)} have no array form in the op table")
        V = np.empty((len(p.slots), columns.shape[1]))
        V[list(p.input_slots)] = columns
        V[list(p.param_slots)] = np.array([v.data for v in p.params], dtype=float).reshape(-1, 1)
        V[list(p.const_slots)] = np.array([p.slots[k].value for k in p.const_slots]).reshape(-1, 1)
        saved = []
        with np.errstate(all="ignore"):
            for g in self._groups:
                try:
                    out, locs = g.rule(V[g.args])  # type: ignore[misc]
                except (ArithmeticError, ValueError) as exc:
                    raise type(exc)(f"{g.op.name}: {exc} (replay over a batch)") from None
                V[g.outs] = out
                saved.append(locs)
        return V, saved

    def _batch_columns(self, inputs: Sequence[Any]) -> np.ndarray:
        p = self._p
        if len(inputs) != len(p.shapes):
            raise TypeError(f"trace.batch: expected {len(p.shapes)} inputs, got {len(inputs)}")
        cols = []
        n = None
        for i, (x, shape) in enumerate(zip(inputs, p.shapes)):
            try:
                arr = np.asarray(x.data if type(x) is Value else x, dtype=float)
            except (TypeError, ValueError):
                raise TypeError(
                    f"trace.batch: input {i} must be numbers (an array or nested lists), got {type(x).__name__}"
                ) from None
            width = _count(shape)
            if arr.ndim == 0 or arr.reshape(arr.shape[0], -1).shape[1] != width:
                raise ValueError(
                    f"trace.batch: input {i} must have shape (n, ...) with {width} numbers per "
                    f"sample, got shape {arr.shape}"
                )
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"trace.batch: input {i} has {arr.shape[0]} samples, input 0 has {n}")
            cols.append(arr.reshape(n, width).T)
        if n == 0:
            raise ValueError("trace.batch: the batch is empty")
        if n is None:
            raise ValueError("trace.batch: the program has no inputs to batch over")
        return np.concatenate(cols, axis=0)

    def _batch_backward(self, seed: float) -> tuple[list[float], list[Any]]:
        p = self._p
        _, saved, n, reduce = self._last  # type: ignore[misc]
        G = np.zeros((len(p.slots), n))
        G[p.output] = seed / n if reduce == "mean" else seed
        with np.errstate(all="ignore"):
            for g, locs in zip(reversed(self._groups), reversed(saved)):
                if not g.live:
                    continue
                upstream = G[g.outs]  # (k, n)
                # downstream = local x upstream, for every edge of the group at once
                if all(type(local) is float for local in locs):
                    C = np.array(locs).reshape(-1, 1, 1) * upstream
                else:
                    C = np.stack([np.broadcast_to(local * upstream, upstream.shape) for local in locs])
                if g.scatter is None:
                    G[g.args] += C
                else:
                    order, rows, starts = g.scatter
                    G[rows] += np.add.reduceat(C.reshape(-1, n)[order], starts, axis=0)
        sums = G[list(p.param_slots)].sum(axis=1)
        grads_p = [v.grad + s for v, s in zip(p.params, sums.tolist())]
        grads_x = [G[k] for k in p.input_slots]
        return grads_p, grads_x


def _rebuild_numbers(shape: Any, values: Sequence[Any]) -> Any:
    return None if not len(values) and shape is None else _build(shape, iter(values))


def _count(shape: Any) -> int:
    return 1 if shape is None else sum(_count(s) for s in shape)


def _describe(shapes: tuple[Any, ...]) -> str:
    def one(s: Any) -> str:
        return "number" if s is None else "[" + ", ".join(one(x) for x in s) + "]"

    return "(" + ", ".join(one(s) for s in shapes) + ")"


_INFIX = {"add", "sub", "mul", "div", "pow_value"}


def _expr(ins: Instr, names: list[str]) -> str:
    """``a × b`` for the infix gates, ``x^2`` for powers, ``σ(x)`` otherwise."""
    a = [names[k] for k in ins.args]
    op = ins.op
    if op.name in _INFIX:
        return f"{a[0]} {op.symbol} {a[1]}"
    if op.name == "pow":
        return f"{a[0]}{op.symbol}"
    return f"{op.symbol}({', '.join(a)})"
