"""Recording: a function's graph as a static program over numbered slots.

``record(fn, example_inputs, params)`` runs ``fn`` once on fresh leaf Values
and returns a :class:`Program`: every slot (inputs, parameters, constants, op
results, in topological order), the op list (:class:`Instr`), and what a
replay needs (the inputs' structure, the aux results, the slots the output
depends on).  Also here, because they describe a program: flattening replay
inputs (numbers, Values, nested lists; batch columns), the signature a
re-trace must reproduce, and the three-address text ``print(g)`` shows.

Imports ``backward`` (topological order), ``ops``, ``state`` and ``value``;
no other trace room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from numbers import Real
from typing import Any, NamedTuple

import numpy as np

from .backends import real_float
from .backward import topological_order
from .ops import Op
from .state import is_grad_enabled
from .value import Value

__all__ = [
    "KINDS", "Instr", "Program", "Slot", "batch_columns", "describe", "expr", "flatten_inputs",
    "input_numbers", "mismatch", "param_list", "program_of", "program_text", "rebuild", "record",
]


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


KINDS = ("input", "param", "const")


class Program(NamedTuple):
    """A recorded program: slots, ops in topological order, and the slots a replay reads and writes."""

    slots: tuple[Slot, ...]
    ops: tuple[Instr, ...]
    output: int
    params: tuple[Value, ...]  # one per param slot: in the order params= gave them, else slot order
    param_slots: tuple[int, ...]
    input_slots: tuple[int, ...]
    const_slots: tuple[int, ...]
    shapes: tuple[Any, ...]
    n_inputs: int
    aux_slots: tuple[int, ...]  # extra results reported after a replay (fn returned (out, aux))
    aux_shape: Any
    live: frozenset[int]  # op slots the output depends on (aux-only ops get no gradient)


def param_list(params: Iterable[Value]) -> list[Value]:
    """``params`` as a list, checked: leaf Values only."""
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


def flatten_inputs(inputs: Sequence[Any]) -> tuple[list[float], tuple[Any, ...]]:
    """The numbers of ``inputs`` in order, and each input's structure.

    Each input is a number, a Value (its ``.data``) or a nested list / tuple /
    array of them; its structure is ``None`` for a number, else a tuple of its
    items' structures.  Anything else raises ``TypeError`` naming the input.
    """
    numbers: list[float] = []
    shapes = tuple(_flatten(x, f"input {i}", numbers) for i, x in enumerate(inputs))
    return numbers, shapes


def _flatten(x: Any, where: str, out: list[float]) -> Any:
    """Numbers and Values -> floats in ``out``; returns the structure (counts per level)."""
    kind = type(x)
    if kind is float:
        out.append(x)
        return None
    if kind is Value:
        out.append(x.data)
        return None
    if kind is int or isinstance(x, Real) and not isinstance(x, bool):
        out.append(real_float(x, f"trace: {where}"))
        return None
    if isinstance(x, np.ndarray):
        return _flatten(x.tolist(), where, out)  # a 0-d array is its number
    if isinstance(x, (list, tuple)):
        return tuple(_flatten(item, f"{where}[{i}]", out) for i, item in enumerate(x))
    raise TypeError(
        f"trace: {where} must be a number, a Value or a list of them, got {type(x).__name__}"
    )


def input_numbers(p: Program, inputs: Sequence[Any]) -> list[float]:
    """The flat numbers of replay ``inputs``, which must have the traced structure (else ``ValueError``)."""
    numbers, shapes = flatten_inputs(inputs)
    if shapes != p.shapes:
        raise ValueError(
            f"trace: replay inputs have structure {describe(shapes)}, "
            f"the trace was made with {describe(p.shapes)}"
        )
    return numbers


def rebuild(shape: Any, leaves: Iterable[Any]) -> Any:
    """The flat ``leaves`` put back into ``shape`` (None: one item; a tuple: a list)."""
    return _build(shape, iter(leaves))


def _build(shape: Any, it: Iterator[Any]) -> Any:
    # a plain recursive function, not a closure: no reference cycle per call
    return next(it) if shape is None else [_build(s, it) for s in shape]


def rebuild_numbers(shape: Any, values: Sequence[Any]) -> Any:
    """Aux numbers in their structure (``None`` when there are none)."""
    return None if not len(values) and shape is None else _build(shape, iter(values))


@lru_cache(maxsize=256)
def count(shape: Any) -> int:
    """How many numbers an input of this structure holds (structures are tuples: remembered, a batch asks each step)."""
    return 1 if shape is None else sum(count(s) for s in shape)


def describe(shapes: tuple[Any, ...]) -> str:
    """Input structures as text: ``(number, [number, number])``."""
    def one(s: Any) -> str:
        return "number" if s is None else "[" + ", ".join(one(x) for x in s) + "]"

    return "(" + ", ".join(one(s) for s in shapes) + ")"


def batch_columns(p: Program, inputs: Sequence[Any]) -> np.ndarray:
    """Batch inputs (each with a leading sample axis) as an (input numbers x samples) matrix."""
    if len(inputs) != len(p.shapes):
        raise TypeError(f"trace.batch: expected {len(p.shapes)} inputs, got {len(inputs)}")
    cols = []
    n = None
    for i, (x, shape) in enumerate(zip(inputs, p.shapes)):
        arr = _batch_array(x, i, count(shape))
        if n is None:
            n = arr.shape[0]
        elif arr.shape[0] != n:
            raise ValueError(f"trace.batch: input {i} has {arr.shape[0]} samples, input 0 has {n}")
        cols.append(arr.reshape(n, -1).T)
    if n is None:
        raise ValueError("trace.batch: the program has no inputs to batch over")
    return np.concatenate(cols, axis=0)


def _batch_array(x: Any, i: int, width: int) -> np.ndarray:
    """Input ``i`` of a batch as a float array of shape (n, ...) with ``width`` numbers per sample."""
    try:
        arr = np.asarray(x.data if type(x) is Value else x, dtype=float)
    except OverflowError:
        raise OverflowError(f"trace.batch: input {i}, sample {_too_large(x)} holds a number too large "
                            "for a float (|x| > 1.8e308)") from None
    except (TypeError, ValueError):
        raise TypeError(
            f"trace.batch: input {i} must be numbers (an array or nested lists), got {type(x).__name__}"
        ) from None
    if arr.ndim and arr.shape[0] == 0:  # before any reshape: numpy cannot infer a width from 0 samples
        raise ValueError(f"trace.batch: the batch is empty (input {i} has 0 samples)")
    if arr.ndim == 0 or arr.reshape(arr.shape[0], -1).shape[1] != width:
        raise ValueError(
            f"trace.batch: input {i} must have shape (n, ...) with {width} numbers per "
            f"sample, got shape {arr.shape}"
        )
    return arr


def _too_large(x: Any) -> int:
    """The first sample of batch input ``x`` that does not fit a float."""
    for j, row in enumerate(x):
        try:
            np.asarray(row, dtype=float)
        except OverflowError:
            return j
    return 0


# ---------------------------------------------------------------- recording


def record(fn: Callable[..., Any], example_inputs: Sequence[Any], params: list[Value] | None) -> Program:
    """Run ``fn`` once on fresh leaf Values shaped like ``example_inputs``; its graph as a :class:`Program`."""
    if not is_grad_enabled():
        raise RuntimeError("trace: gradient recording is off (called inside engine.no_grad())")
    numbers, shapes = flatten_inputs(example_inputs)
    leaves = [Value(v, label=f"x{i}") for i, v in enumerate(numbers)]
    out = fn(*rebuild(shapes, leaves))
    aux: Any = None
    if isinstance(out, tuple) and len(out) == 2 and type(out[0]) is Value:
        out, aux = out
    if type(out) is not Value:
        raise TypeError(f"trace: fn must return a Value (or a pair (Value, aux Values)), {_returned(out)}")
    return program_of(out, aux, leaves, shapes, params)


def _returned(out: Any) -> str:
    """What fn returned instead of a Value, as text (a pair names its first item; a number says why)."""
    pair = isinstance(out, tuple) and len(out) == 2
    got = type(out[0] if pair else out).__name__
    text = f"it returned a pair whose first item is a {got}" if pair else f"got {got}"
    if isinstance(out[0] if pair else out, Real):
        text += " (a plain number has no graph to trace: return the Value, not float(v) or v.data)"
    return text


def program_of(out: Value, aux: Any, leaves: Sequence[Value], shapes: tuple[Any, ...],
               params: list[Value] | None) -> Program:
    """The program of a built graph: ``out`` (and the ``aux`` Values), with ``leaves`` as its inputs.

    ``params``: the leaves read at every replay (``None``: every leaf that is not an input);
    every other leaf is a constant.
    """
    aux_values: list[Value] = []
    aux_shape = None if aux is None else _aux_shape(aux, aux_values)
    order = topological_order(_Root((out, *aux_values)))[:-1] if aux_values else topological_order(out)
    slots = _Slots(leaves, params)
    for node in order:
        slots.add(node)
    input_slot = slots.inputs_appended(leaves)
    slot_of = slots.slot_of
    pairs = list(zip(slots.params, slots.param_slots))
    if params is not None:  # the parameters in the order given (a vector over them needs no reordering)
        given = {id(v): i for i, v in reversed(list(enumerate(params)))}
        pairs.sort(key=lambda pair: given[id(pair[0])])
    return Program(
        tuple(slots.slots), tuple(slots.instrs), slot_of[id(out)], tuple(v for v, _ in pairs),
        tuple(k for _, k in pairs), tuple(input_slot), tuple(slots.const_slots), shapes, len(leaves),
        tuple(slot_of[id(v)] for v in aux_values), aux_shape, _live(slots.instrs, slot_of[id(out)]),
    )


class _Slots:
    """The slot table as it is filled, node by node in topological order."""

    def __init__(self, leaves: Sequence[Value], params: list[Value] | None) -> None:
        self.input_ids = {id(v): i for i, v in enumerate(leaves)}
        self.param_ids = None if params is None else {id(p) for p in params}
        self.slot_of: dict[int, int] = {}
        self.slots: list[Slot] = []
        self.instrs: list[Instr] = []
        self.params: list[Value] = []
        self.param_slots: list[int] = []
        self.const_slots: list[int] = []
        self.input_slot = [-1] * len(leaves)
        self.counts = {"param": 0, "const": 0, "op": 0}

    def add(self, node: Value) -> None:
        """One node's slot: an op result, an input, a parameter or a constant."""
        k = len(self.slots)
        self.slot_of[id(node)] = k
        if node.parents:
            self.instrs.append(Instr(k, node.op, tuple(self.slot_of[id(p)] for p in node.parents)))
            self._slot(node, "op", f"t{self._next('op')}")
        elif id(node) in self.input_ids:
            i = self.input_ids[id(node)]
            self.input_slot[i] = k
            self._slot(node, "input", f"x{i}")
        elif self.param_ids is None or id(node) in self.param_ids:
            number = self._next("param")
            self.params.append(node)
            self.param_slots.append(k)
            self._slot(node, "param", node.label if node.label.isidentifier() else f"p{number}")
        else:
            self.const_slots.append(k)
            self._slot(node, "const", f"c{self._next('const')}")

    def inputs_appended(self, leaves: Sequence[Value]) -> list[int]:
        """Every input's slot; inputs fn did not use get a slot each (gradient 0)."""
        for i, v in enumerate(leaves):
            if self.input_slot[i] < 0:
                self.input_slot[i] = len(self.slots)
                self.slots.append(Slot(len(self.slots), "input", f"x{i}", v.label, v.scope, v.data))
        return self.input_slot

    def _next(self, kind: str) -> int:
        n = self.counts[kind]
        self.counts[kind] = n + 1
        return n

    def _slot(self, node: Value, kind: str, name: str) -> None:
        self.slots.append(Slot(len(self.slots), kind, name, node.label, node.scope, node.data))


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


# ---------------------------------------------------------------- signature


_WHAT = ("op sequence", "wiring", "input slots", "slot kinds", "parameters", "parameter slots", "constants", "output",
         "aux results")


def _signature(p: Program) -> tuple[Any, ...]:
    """What must not change between a trace and a re-trace on other inputs (one entry per name in ``_WHAT``).

    The wiring is part of it: which slot feeds which argument of which op,
    which input number lands in which slot and which slot each parameter is (a
    branch that swaps two inputs, or two parameters, builds the same ops over other slots).
    """
    return (
        tuple((i.op.name, i.op.arg) for i in p.ops),
        tuple(i.args for i in p.ops),
        p.input_slots,
        tuple(s.kind for s in p.slots),
        len(p.params),
        p.param_slots,  # which slot each parameter feeds (a branch that swaps two parameters)
        tuple(p.slots[k].value for k in p.const_slots),
        p.output,
        p.aux_slots,
    )


def mismatch(p: Program, other: Program) -> str | None:
    """How a re-trace ``other`` differs from ``p`` (``"the wiring differ (...)"``), or None."""
    mine, theirs = _signature(p), _signature(other)
    # a parameter must be the same Value - or, for a leaf fn makes itself (a
    # number wrapped when params=None), one with the same number
    same_params = mine[4] == theirs[4] and all(
        a is b or (not a.parents and a.data == b.data) for a, b in zip(p.params, other.params)
    )
    if mine == theirs and same_params:
        return None
    if mine == theirs:
        return "the parameters differ (a parameter is another Value on these inputs)"
    diff = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b)
    return f"the {_WHAT[diff]} differ{_detail(_WHAT[diff], mine[diff], theirs[diff])}"


# how one entry of a signature reads where two traces differ (i: its number; a, b: the two values)
_ENTRY = {
    "wiring": "op {i} reads slots {a} in the trace, {b} on these inputs",
    "parameter slots": "parameter {i} is slot {a} in the trace, slot {b} on these inputs",
    "input slots": "input number {i} feeds slot {a} in the trace, slot {b} on these inputs",
    "aux results": "aux result {i} is slot {a} in the trace, slot {b} on these inputs",
    "constants": "constant {i} is {a!r} in the trace, {b!r} on these inputs",
}


def _detail(what: str, a: tuple[Any, ...] | Any, b: tuple[Any, ...] | Any) -> str:
    """Where two signature entries first differ, as text (empty for single numbers)."""
    if not isinstance(a, tuple):
        return f" (slot {a} in the trace, slot {b} on these inputs)" if what == "output" else ""
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    if what == "op sequence":
        return f" (first at op {i}; {len(a)} ops traced, {len(b)} on these inputs)"
    if i >= min(len(a), len(b)):
        return f" ({len(a)} in the trace, {len(b)} on these inputs)"
    entry = _ENTRY.get(what)
    if entry is not None:  # "parameter 2 is slot 7 in the trace, slot 9 on these inputs"
        return f" ({entry.format(i=i, a=a[i], b=b[i])})"
    return f" (first at slot {i}: {a[i]} in the trace, {b[i]} on these inputs)"


# ---------------------------------------------------------------- text

_INFIX = {"add", "sub", "mul", "div", "pow_value"}


def expr(ins: Instr, names: Sequence[str]) -> str:
    """``a × b`` for the infix gates, ``x^2`` for powers, ``σ(x)`` otherwise."""
    a = [names[k] for k in ins.args]
    op = ins.op
    if op.name in _INFIX:
        return f"{a[0]} {op.symbol} {a[1]}"
    if op.name == "pow":
        return f"{a[0]}{op.symbol}"
    return f"{op.symbol}({', '.join(a)})"


def program_text(p: Program, title: str, param_spec: Sequence[Value] | None) -> str:
    """Three-address code: one line per slot, ``t3 = t1 × w2``, under ``title``."""
    names = [s.name for s in p.slots]
    lines = [title]
    position = {k: i for i, k in enumerate(p.input_slots)}  # inputs in argument order,
    given = {id(v): i for i, v in enumerate(param_spec or ())}  # params as listed
    position.update({k: given.get(id(v), k) for k, v in zip(p.param_slots, p.params)})
    leaves = [s for s in p.slots if s.kind != "op"]
    for s in sorted(leaves, key=lambda s: (KINDS.index(s.kind), position.get(s.index, s.index))):
        if s.kind == "input":
            lines.append(f"  {s.name} = input")
        elif s.kind == "param":
            lines.append(f"  {s.name} = param  # {s.value:.6g} at trace time")
        else:
            lines.append(f"  {s.name} = {s.value!r}")
    for ins in p.ops:
        lines.append(f"  {names[ins.out]} = {expr(ins, names)}".ljust(36) + f"# {ins.op.gate}")
    lines.append(f"  return {names[p.output]}")
    return "\n".join(lines)
