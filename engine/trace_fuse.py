"""Dense structure in a traced program: layers of neurons replayed as matrix products.

A *neuron*, as the program spells it, is an n-ary ``sum`` (or a chain of binary
``+``, each inner one read once, by the chain) whose terms are products
``w × x`` (a parameter operand, the weight; each product read by that sum only;
a parameter squared, ``w ** 2``, is ``w × w``) plus at most one other term, the bias.  Neurons at the same
depth whose products read the same input slots in the same order, with the same
kind of bias and the same element-wise gate after them (or none), form a
*layer*; over a batch of n samples it is one matrix product::

    Z = W X + b          W: (m neurons x k inputs), X: (k inputs x n samples)
    A = phi(Z)           the gate's array rule from the op table, on the whole block

and its backward the matching transposed products (downstream = local x
upstream, for every edge of the layer at once)::

    dZ = phi'(Z) * dA    dW = dZ Xᵀ    db = Σ_samples dZ    dX = Wᵀ dZ

A layer whose inputs are parameters too (a penalty ``Σ p·p``) runs once per
batch: its one column ``X`` is the same for every sample, so ``dW = (Σ dZ) Xᵀ``
and ``dX = Wᵀ Σ dZ`` go straight to the parameters.  The plan lays its memory out
for views instead of gathers: each layer's weights (row-major) and biases are one
run of the plan's parameter vector, each layer's output rows one run of V in the
order the next layer reads them, and a group whose rows are runs reads slices.

Every other op keeps the grouped replay (:func:`engine.trace_compile.plan_groups`).
The pass reads only the program and the op table (``sum``, ``mul`` and each
gate's ``array_fn``), never the model's class: a hand-written neuron loop
(``sum_values([w * x for ...] + [b])``, or micrograd's ``sum((w * x ...), b)``)
compiles as ``nn.MLP`` does.  The product's rounding is numpy's (BLAS), not the
``sum`` gate's left-to-right order: equal to about 1e-16 relative.

Imports ``ops``, ``trace_compile`` and ``trace_record``.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any, NamedTuple

import numpy as np

from .ops import ADD, MUL, SUM, Op
from .trace_compile import (
    Group,
    backprop_group,
    op_depths,
    plan_groups,
    reaches_params,
    run_group,
)
from .trace_record import Instr, Program

__all__ = ["Dense", "FusedPlan", "backprop_fused", "fusion_text", "plan_fused", "run_fused"]

_DATA = attrgetter("data")  # a parameter's number, read in one C call per Value


class Dense(NamedTuple):
    """One layer of neurons as one matrix product: ``Z = W X + b``, then the gate (if any)."""

    depth: int
    outs: np.ndarray  # (m,) the neurons' sum slots
    inputs: np.ndarray  # (k,) the input slots every neuron reads, in order
    weights: np.ndarray  # (m, k) positions in p.params
    bias: np.ndarray | None  # (m,) positions in p.params, or slot rows (bias_param False); None: no bias
    bias_param: bool
    gate: Op | None  # the element-wise gate after every neuron (None: the sums are the layer's output)
    gate_outs: np.ndarray | None  # (m,) the gates' slots
    unique_w: bool  # every weight a different parameter (else gradients scatter-add)
    unique_b: bool  # every bias a different parameter / slot
    unique_x: bool  # every input a different slot
    folded: tuple[int, ...]  # the slots the product replaces: w × x products, inner + of a chain
    x_params: bool = False  # every input is a parameter (a penalty Σ p·p): read from and summed into
    # the parameters' vector, the same column for every sample, with no rows of V or G (in a plan's steps,
    # ``inputs`` are then positions in the plan's parameter vector)
    w_span: slice | None = None  # in a plan's steps: the weights as one run of the parameter vector, row-major
    x_wanted: bool = True  # the inputs' gradient reaches a parameter (else a backward without inputs' skips dX)
    b_wanted: bool = True  # the same for bias slots (a parameter bias always is)
    square: bool = False  # one neuron Σ w·w over parameters (w² each): dW and dX are the same vector


class FusedPlan(NamedTuple):
    """The batched replay with dense layers: steps (``Group`` or ``Dense``) in depth order.

    The replay's matrices hold one row per slot it fills (``filled``), not one
    per slot: the folded products, a gated layer's sums and the parameters no
    grouped op reads get none.  ``steps`` index those rows; ``layers`` keep the
    slots (for the view).
    """

    steps: tuple[Group | Dense, ...]
    layers: tuple[Dense, ...]
    fused_ops: int  # how many of the program's ops the layers replace
    params: np.ndarray  # plan positions of the parameters read from V (by grouped ops, as a layer's input)
    param_rows: np.ndarray  # their rows
    leaf_rows: np.ndarray  # the inputs' rows, then the constants'
    consts: np.ndarray  # (constants, 1) their values
    missing: tuple[str, ...]  # grouped ops without an array rule (the batch replay refuses them)
    filled: np.ndarray  # the slot of each row
    output: int  # the output's row
    aux: list[int]  # the aux results' rows
    inputs: list[int]  # the inputs' rows
    values: tuple[Any, ...] = ()  # the parameter Values in plan order: each layer's weights, then biases, in a run
    at: np.ndarray | None = None  # each of p.params' position in the plan's parameter vector
    order: np.ndarray | None = None  # the p.params position of each entry of the plan's vector (``at`` inverted)
    input_span: slice | None = None  # the inputs' rows as one run (they come first: 0 … inputs - 1)
    const_span: slice | None = None  # the constants' rows as one run (right after the inputs')


class _Neuron(NamedTuple):
    out: int
    weights: tuple[int, ...]
    inputs: tuple[int, ...]
    bias: int | None  # a param position (bias_param) or a slot
    bias_param: bool
    gate: Instr | None
    folded: tuple[int, ...]


# ---------------------------------------------------------------- finding the layers


class _Reader:
    """What the pass needs to know about each slot: who reads it, who made it."""

    def __init__(self, p: Program) -> None:
        self.p = p
        self.reads = [0] * len(p.slots)
        self.reader: dict[int, Instr] = {}
        for ins in p.ops:
            for a in ins.args:
                self.reads[a] += 1
                self.reader[a] = ins
        for k in (p.output, *p.aux_slots):  # a result the caller reads is never folded away
            self.reads[k] += 1
        self.made_by = {ins.out: ins for ins in p.ops}
        self.param_pos = {k: i for i, k in enumerate(p.param_slots)}

    def product(self, k: int) -> tuple[int, int] | None:
        """``(param position, input slot)`` if slot k is ``w × x`` read once, else None.

        The weight is the parameter operand (the first, if both are: ``p × p``);
        a parameter squared, ``p ** 2``, is the product ``p × p``.
        """
        ins = self.made_by.get(k)
        if ins is None or self.reads[k] != 1:
            return None
        pos = self.param_pos
        if _is_square(ins.op):  # w² = w × w (a penalty Σ p²): the weight is also the input
            (a,) = ins.args
            return (pos[a], a) if a in pos else None
        if ins.op is not MUL:
            return None
        a, b = ins.args
        if a in pos:
            return pos[a], b
        if b in pos:
            return pos[b], a
        return None

    def gate(self, k: int) -> Instr | None:
        """The one element-wise gate reading slot k (a unary op with an array rule), else None."""
        ins = self.reader.get(k)
        if self.reads[k] != 1 or ins is None or len(ins.args) != 1 or ins.op.array_fn is None:
            return None
        return ins if ins.out in self.p.live else None

    def summands(self, ins: Instr) -> tuple[list[int], list[int]] | None:
        """The terms ``ins`` adds up and the inner ``+`` it folds, or None if it is no (top of a) sum.

        An n-ary ``sum``; or the top of a chain of binary ``+`` (micrograd's
        ``sum(w*x ..., b)``), whose inner ``+`` are each read once, by the chain.
        """
        if ins.op is SUM:
            return list(ins.args), []
        reader = self.reader.get(ins.out)
        if ins.op is not ADD or (self.reads[ins.out] == 1 and reader is not None and reader.op is ADD):
            return None
        terms: list[int] = []
        inner: list[int] = []
        stack = list(reversed(ins.args))
        while stack:  # left to right, without recursion (a chain can be 784 long)
            k = stack.pop()
            made = self.made_by.get(k)
            if made is not None and made.op is ADD and self.reads[k] == 1:
                inner.append(k)
                stack.extend(reversed(made.args))
            else:
                terms.append(k)
        return terms, inner

    def neuron(self, ins: Instr) -> _Neuron | None:
        """``ins`` as a neuron (products + at most one bias term), or None."""
        found = self.summands(ins) if ins.out in self.p.live else None
        if found is None:
            return None
        terms, inner = found
        products, rest = [], []
        for a in terms:
            pr = self.product(a)
            if pr is None:
                rest.append(a)
            else:
                products.append((a, pr))
        if not products or len(rest) > 1:
            return None
        bias = rest[0] if rest else None
        bias_param = bias in self.param_pos
        return _Neuron(
            ins.out, tuple(w for _, (w, _) in products), tuple(x for _, (_, x) in products),
            self.param_pos[bias] if bias_param else bias, bias_param, self.gate(ins.out),
            (*(a for a, _ in products), *inner),
        )


def plan_fused(p: Program) -> FusedPlan:
    """Find the layers of ``p`` (neurons sharing inputs) and plan the batch replay around them."""
    reader = _Reader(p)
    depth = op_depths(p)
    by_key: dict[tuple[Any, ...], list[_Neuron]] = {}
    for ins in p.ops:
        n = reader.neuron(ins)
        if n is not None:
            key = (depth[n.out], n.inputs, n.bias is None, n.bias_param, None if n.gate is None else id(n.gate.op))
            by_key.setdefault(key, []).append(n)
    ppos = np.full(len(p.slots), -1, dtype=np.intp)  # each slot's position in p.params (-1: not a parameter)
    ppos[list(p.param_slots)] = np.arange(len(p.params))
    reach = reaches_params(p)
    layers = [_dense(depth[ns[0].out], ns, ppos, reach) for ns in by_key.values()]
    skip = _folded(layers)
    groups = plan_groups(p, frozenset(skip))
    aligned = _aligned(layers)
    steps = sorted([*groups, *((d.depth, d) for d in aligned)], key=lambda s: s[0])
    read = {a for _, g in groups for a in g.args.ravel().tolist()}
    read.update(k for d in layers if not d.x_params for k in d.inputs.tolist())  # a layer's input: a row
    params = [i for i, k in enumerate(p.param_slots) if k in read or k in p.aux_slots or k == p.output]
    rows = [p.param_slots[i] for i in params]
    unfilled = skip.union(p.param_slots).difference(rows)
    unfilled.difference_update(k for d in layers for k in (d.outs if d.gate_outs is None else d.gate_outs).tolist())
    leaves = [*p.input_slots, *p.const_slots]  # first, in order: one run for the inputs, one for the constants
    first = frozenset(leaves)
    filled = _row_order([*leaves, *(k for k in range(len(p.slots)) if k not in unfilled and k not in first)], aligned)
    row = np.full(len(p.slots), -1, dtype=np.intp)  # -1: no row (never read by this replay)
    row[filled] = np.arange(len(filled))
    order = _param_order(aligned, len(p.params))
    at = np.empty_like(order)
    at[order] = np.arange(len(order))
    slot_at = np.full(len(p.slots), -1, dtype=np.intp)  # each parameter slot's plan position
    slot_at[list(p.param_slots)] = at
    consts = np.array([p.slots[k].value for k in p.const_slots], dtype=float).reshape(-1, 1)
    missing = tuple(sorted({g.op.name for _, g in groups if g.rule is None}))
    return FusedPlan(
        tuple(_on_rows(s, row, slot_at, at) for _, s in steps), tuple(layers), len(skip),
        at[np.array(params, dtype=np.intp)], row[np.array(rows, dtype=np.intp)],
        row[np.array([*p.input_slots, *p.const_slots], dtype=np.intp)],
        consts, missing, filled, int(row[p.output]), row[list(p.aux_slots)].tolist(),
        row[list(p.input_slots)].tolist(), tuple(p.params[i] for i in order.tolist()), at, order,
        _run_slice(row[np.array(p.input_slots, dtype=np.intp)]),
        _run_slice(row[np.array(p.const_slots, dtype=np.intp)]),
    )


def _layer_outs(d: Dense) -> np.ndarray:
    """The slots a layer leaves for its readers: the gates', else the sums'."""
    return d.outs if d.gate_outs is None else d.gate_outs


def _aligned(layers: Sequence[Dense]) -> list[Dense]:
    """The layers with their neurons in the order the next layer reads them (its ``X`` then one run of rows)."""
    out = list(layers)
    by_outs = {frozenset(_layer_outs(d).tolist()): i for i, d in enumerate(layers)}
    for c in layers:
        i = by_outs.get(frozenset(c.inputs.tolist())) if c.unique_x and not c.x_params else None
        if i is None:
            continue
        d = out[i]
        where = {k: j for j, k in enumerate(_layer_outs(d).tolist())}
        perm = np.array([where[k] for k in c.inputs.tolist()], dtype=np.intp)
        out[i] = d._replace(
            outs=d.outs[perm], weights=d.weights[perm], bias=None if d.bias is None else d.bias[perm],
            gate_outs=None if d.gate_outs is None else d.gate_outs[perm],
        )
    return out


def _row_order(filled: list[int], layers: Sequence[Dense]) -> np.ndarray:
    """The filled slots in the order given (the inputs and constants first, then slot order), except that
    each layer's outputs are one run of rows, in neuron order."""
    block: dict[int, tuple[int, ...]] = {}
    for d in layers:
        ks = tuple(_layer_outs(d).tolist())
        block.update((k, ks) for k in ks)
    order: list[int] = []
    placed: set[tuple[int, ...]] = set()
    for k in filled:
        ks = block.get(k)
        if ks is None:
            order.append(k)
        elif ks not in placed:  # the whole run, where its first slot would be
            order.extend(ks)
            placed.add(ks)
    return np.array(order, dtype=np.intp)


def _param_order(layers: Sequence[Dense], n: int) -> np.ndarray:
    """The plan's parameter vector: each layer's weights (row-major), then its biases, in one run; then the rest."""
    seen = np.zeros(n, dtype=bool)
    order: list[int] = []
    for d in sorted(layers, key=lambda d: d.x_params):  # the per-sample layers first
        for idx in (d.weights, d.bias if d.bias is not None and d.bias_param else None):
            if idx is not None and not seen[idx].any() and _unique(idx):
                order.extend(idx.ravel().tolist())
                seen[idx] = True
    order.extend(np.flatnonzero(~seen).tolist())
    return np.array(order, dtype=np.intp)


def _run(idx: np.ndarray) -> slice | np.ndarray:
    """``idx`` as a slice if it is one run ``a, a+1, …`` (a view instead of a copy), else ``idx``."""
    flat = idx.ravel()
    if flat.size and flat[-1] - flat[0] == flat.size - 1 and bool((np.diff(flat) == 1).all()):
        return slice(int(flat[0]), int(flat[-1]) + 1)
    return idx


def _run_slice(idx: np.ndarray) -> slice | None:
    """``idx`` as a slice if it is one run, else None."""
    run = _run(idx)
    return run if type(run) is slice else None


def _on_rows(step: Group | Dense, row: np.ndarray, ppos: np.ndarray, at: np.ndarray) -> Group | Dense:
    """``step`` reading and writing rows (``row[slot]``) instead of slots, parameters by plan position.

    ``ppos``: each slot's plan position (parameters); ``at``: each p.params position's.
    A run of rows or positions becomes a slice (a view of V, G or the parameter vector).
    """
    if type(step) is Group:
        scatter = step.scatter
        if scatter is not None:  # row is increasing on the filled slots: the sorted order holds
            scatter = (scatter[0], row[scatter[1]], scatter[2])
        args = row[step.args]
        views = [_run(rows) for rows in args]  # each position's rows one run: views, not gathers
        return step._replace(outs=_run(row[step.outs]), args=args, scatter=scatter,
                             views=tuple(views) if all(type(v) is slice for v in views) else None)
    d: Dense = step  # type: ignore[assignment]
    weights = at[d.weights]
    inputs = (ppos if d.x_params else row)[d.inputs]
    if d.square:  # Σ w·w in the vector's order (a sum in another order, the same to rounding): one view
        perm = np.argsort(weights[0], kind="stable")
        weights, inputs = weights[:, perm], inputs[perm]
    w_span = _run(weights)
    return d._replace(
        outs=_run(row[d.outs]), inputs=_run(inputs),
        gate_outs=None if d.gate_outs is None else _run(row[d.gate_outs]),
        bias=None if d.bias is None else _run((at if d.bias_param else row)[d.bias]),
        weights=weights, w_span=w_span if type(w_span) is slice else None,
    )


def _written(d: Dense) -> np.ndarray:
    return d.outs if d.gate_outs is None else np.concatenate([d.outs, d.gate_outs])


def _folded(layers: Sequence[Dense]) -> set[int]:
    """Every slot the layers write or fold away: the sums, the gates, the products, a chain's inner +."""
    skip: set[int] = set()
    for d in layers:
        skip.update(_written(d).tolist())
        skip.update(d.folded)
    return skip


def _is_square(op: Op) -> bool:
    """The power gate with exponent 2: ``x ** 2 = x × x`` (local 2x = x + x, the two edges of the product)."""
    return op.name == "pow" and op.arg == 2.0


def _dense(depth: int, neurons: list[_Neuron], ppos: np.ndarray, reach: list[bool]) -> Dense:
    first = neurons[0]
    weights = np.array([n.weights for n in neurons], dtype=np.intp)
    inputs = np.array(first.inputs, dtype=np.intp)
    bias = None if first.bias is None else np.array([n.bias for n in neurons], dtype=np.intp)
    gate = None if first.gate is None else first.gate.op
    gate_outs = None if gate is None else np.array([n.gate.out for n in neurons], dtype=np.intp)  # type: ignore[union-attr]
    x_params = bool((ppos[inputs] >= 0).all())
    return Dense(
        depth, np.array([n.out for n in neurons], dtype=np.intp), inputs, weights, bias, first.bias_param,
        gate, gate_outs, _unique(weights), bias is None or _unique(bias), _unique(inputs),
        tuple(k for n in neurons for k in n.folded), x_params,
        x_wanted=any(reach[k] for k in first.inputs),
        b_wanted=bias is None or first.bias_param or any(reach[k] for k in bias.tolist()),
        square=x_params and len(neurons) == 1 and bool((ppos[inputs] == weights[0]).all()),
    )


def _unique(rows: np.ndarray) -> bool:
    return len(np.unique(rows)) == rows.size


# ---------------------------------------------------------------- running it


def run_fused(plan: FusedPlan, p: Program, columns: np.ndarray,
              params: np.ndarray | None = None) -> tuple[np.ndarray, list[Any]]:
    """Forward over a (slots x samples) matrix: each layer one matrix product, the rest grouped.

    ``params``: the parameters' numbers in ``p.params`` order (None: each one's ``.data``).
    Returns the (rows x samples) matrix (one row per slot of ``plan.filled``) and
    what each step saved for backward.
    """
    if plan.missing:
        raise TypeError(f"trace: op(s) {', '.join(plan.missing)} have no array form in the op table")
    if params is None:  # in plan order
        pvals = np.fromiter(map(_DATA, plan.values), dtype=float, count=len(plan.values))
    else:
        pvals = params[plan.order]
    V = np.empty((len(plan.filled), columns.shape[1]))
    k = columns.shape[0]
    V[plan.leaf_rows[:k] if plan.input_span is None else plan.input_span] = columns
    V[plan.leaf_rows[k:] if plan.const_span is None else plan.const_span] = plan.consts  # (constants, 1): every column
    if len(plan.params):
        V[plan.param_rows] = pvals[plan.params, None]
    saved: list[Any] = []
    with np.errstate(all="ignore"):
        for step in plan.steps:
            saved.append(run_group(step, V) if type(step) is Group else _dense_forward(step, V, pvals))  # type: ignore[arg-type]
    return V, saved


def _dense_forward(d: Dense, V: np.ndarray, pvals: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    """``Z = W X + b`` into the sums' rows, ``phi(Z)`` into the gates'; saves (W, X, phi'(Z)).

    Parameter inputs: X is one column (k x 1), the same for every sample; Z broadcasts over them.
    """
    W = pvals[d.weights] if d.w_span is None else pvals[d.w_span].reshape(d.weights.shape)
    if d.square:  # Σ w·w: the input column is the weight row
        X = W.T
    else:
        X = pvals[d.inputs, None] if d.x_params else V[d.inputs]
    Z = W @ X
    if d.x_params and d.bias is not None and not d.bias_param:
        Z = np.broadcast_to(Z, (Z.shape[0], V.shape[1])).copy()
    if d.bias is not None:
        Z += pvals[d.bias][:, None] if d.bias_param else V[d.bias]
    if d.gate is None:
        V[d.outs] = Z
        return W, X, None
    # with a gate, the gate is the sums' one reader: their rows are not needed
    try:
        A, (local,) = d.gate.array_fn(Z)  # type: ignore[misc]
    except (ArithmeticError, ValueError) as exc:
        raise type(exc)(f"{d.gate.name}: {exc} (replay over a batch)") from None
    V[d.gate_outs] = A
    return W, X, local


def backprop_fused(plan: FusedPlan, saved: Sequence[Any], G: np.ndarray, n_params: int,
                   inputs: bool = True) -> np.ndarray:
    """Backward, steps in reverse, into ``G`` (slots x samples); returns every parameter's gradient.

    One entry per parameter (in ``p.params`` order), summed over the samples: the
    layers' ``dW`` and ``db`` plus what the grouped ops left in the parameters' rows of ``G``.
    ``inputs=False``: only the edges whose gradient reaches a parameter (the inputs' rows of ``G`` stay 0).
    """
    gp = np.zeros(n_params)
    with np.errstate(all="ignore"):
        for step, s in zip(reversed(plan.steps), reversed(saved)):
            if type(step) is Group:
                backprop_group(step, s, G, inputs)
            else:
                _dense_backward(step, s, G, gp, inputs)  # type: ignore[arg-type]
    if len(plan.params):  # only the parameters read from V have a row of G to sum
        gp[plan.params] += G[plan.param_rows].sum(axis=1)
    return gp[plan.at]


def _dense_backward(d: Dense, saved: tuple[np.ndarray, np.ndarray, Any], G: np.ndarray, gp: np.ndarray,
                    inputs: bool = True) -> None:
    """``dZ = phi'(Z) dA``; ``dW = dZ Xᵀ``, ``db = Σ dZ`` into ``gp``; ``dX = Wᵀ dZ`` into ``G``.

    Parameter inputs (one column X for every sample): ``dW = (Σ dZ) Xᵀ``, ``dX = Wᵀ Σ dZ`` into ``gp``.
    ``inputs=False``: no ``dX`` (nor a bias slot's) that reaches no parameter.
    """
    W, X, local = saved
    dZ = G[d.outs] if d.gate is None else local * G[d.gate_outs]  # the gate is the sums' one reader
    if d.x_params:
        _param_input_backward(d, W, X, dZ, G, gp)
        return
    _weights_grad(d, gp, dZ @ X.T)
    if d.bias is not None and (inputs or d.b_wanted):
        db = np.add.reduce(dZ, axis=1) if d.bias_param else dZ  # Σ over samples
        target = gp if d.bias_param else G
        if d.unique_b:
            target[d.bias] += db
        else:
            np.add.at(target, d.bias, db)
    if not (inputs or d.x_wanted):
        return
    # one neuron: Wᵀ dZ is an outer product, each entry one product w·dz (a broadcast, the same numbers)
    dX = W.T * dZ if W.shape[0] == 1 else W.T @ dZ
    if d.unique_x:
        G[d.inputs] += dX
    else:
        np.add.at(G, d.inputs, dX)


def _param_input_backward(d: Dense, W: np.ndarray, X: np.ndarray, dZ: np.ndarray, G: np.ndarray,
                          gp: np.ndarray) -> None:
    """A layer whose inputs are parameters: every gradient lands in ``gp`` (a bias slot's in ``G``)."""
    dz = np.add.reduce(dZ, axis=1, keepdims=True)  # X is the same column for every sample
    if d.square and d.bias is None:  # Σ w·w: dW = dz Xᵀ and dX = Wᵀ dz are one vector, added twice as 2×
        _into(gp, d.inputs, 2.0 * (dz[0, 0] * X[:, 0]), d.unique_x)
        return
    _weights_grad(d, gp, dz @ X.T)
    if d.bias is not None:
        _into(gp if d.bias_param else G, d.bias, dz[:, 0] if d.bias_param else dZ, d.unique_b)
    _into(gp, d.inputs, (W.T @ dz)[:, 0], d.unique_x)


def _weights_grad(d: Dense, gp: np.ndarray, dW: np.ndarray) -> None:
    """``dW`` into the weights' entries of ``gp`` (one run of it: a view)."""
    if d.w_span is not None:
        gp[d.w_span] += dW.ravel()
    else:
        _into(gp, d.weights, dW, d.unique_w)


def _into(target: np.ndarray, index: np.ndarray, values: np.ndarray, unique: bool) -> None:
    """``target[index] += values``, an index that repeats getting every one of its values."""
    if unique:
        target[index] += values
    else:
        np.add.at(target, index, values)


# ---------------------------------------------------------------- the view


def fusion_text(p: Program, plan: FusedPlan, title: str, n: int | None = None) -> str:
    """What was fused into what: one line per layer, then what stays grouped.

    ``layer 1: 16 neurons × 2 inputs → one (n×2) @ (2×16) product + bias, then relu``
    (row-major, as numpy writes it: samples x inputs times inputs x neurons).
    """
    names = [s.name for s in p.slots]
    rows = "n" if n is None else str(n)
    lines = [title]
    for i, d in enumerate(plan.layers, 1):
        m, k = d.weights.shape
        bias = "" if d.bias is None else " + bias"
        gate = "" if d.gate is None else f", then {d.gate.name}"
        # parameter inputs: the same column for every sample, one product per batch
        product = f"(1×{k}) @ ({k}×{m}) product of parameters, once per batch" if d.x_params else \
            f"({rows}×{k}) @ ({k}×{m}) product"
        lines.append(
            f"  layer {i}: {m} neuron{'s' if m != 1 else ''} × {k} input{'s' if k != 1 else ''} → "
            f"one {product}{bias}{gate}"
        )
        lines.append(f"    inputs {_span(names, d.inputs)}; sums {_span(names, d.outs)}"
                     + ("" if d.gate_outs is None else f"; {d.gate.name} {_span(names, d.gate_outs)}"))  # type: ignore[union-attr]
    rest = len(p.ops) - plan.fused_ops
    if not plan.layers:
        lines.append("  no layer found (no n-ary sum of parameter × input products): every op is grouped")
    if rest == 0:
        lines.append(f"  all {len(p.ops)} ops fused")
    else:
        lines.append(f"  {plan.fused_ops} of {len(p.ops)} ops fused; the other {rest} run grouped "
                     "(one numpy call per depth and op)")
    return "\n".join(lines)


def _span(names: Sequence[str], rows: np.ndarray) -> str:
    """``x0, x1`` for a few slots, ``t3 … t47 (16)`` for many."""
    ks = rows.tolist()
    if len(ks) <= 4:
        return ", ".join(names[k] for k in ks)
    return f"{names[ks[0]]} … {names[ks[-1]]} ({len(ks)})"
