"""The two compiled forms of a recorded program: straight-line Python and grouped numpy.

* :func:`compile_scalar`: Python source with one line per op (``v7, L7 =
  f2_mul(v3, v5)``) and one per edge (``g3 += L7[0] * g7``), compiled once;
  the forward returns the output, every op's local gradients and the aux
  results, the backward the parameters' and inputs' gradients.
* :func:`plan_batch` groups the ops by (depth, op, arity) (:func:`plan_groups`
  with their depths, for :mod:`engine.trace_fuse` to interleave its layers); :func:`run_groups`
  runs each group as one numpy call over a (slots x samples) matrix and
  :func:`backprop_groups` runs the edges of each group at once, in reverse.

Both apply the op table's rules (``op.fn``, ``op.array_fn``) and nothing
else: downstream = local x upstream.  They are the fast forms of the
reference replay (:mod:`engine.trace_replay`); the tests check both against
the dynamic engine for every op of the table.

Imports ``ops`` and ``trace_record`` (the :class:`Program` it compiles); no
other trace room.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .ops import Op
from .trace_record import Instr, Program, expr

__all__ = [
    "Group", "backprop_group", "backprop_groups", "check_array_rules", "compile_scalar", "op_depths",
    "plan_batch", "plan_groups", "reaches_params", "run_group", "run_groups", "slot_matrix",
]


# ---------------------------------------------------------------- straight-line Python


def compile_scalar(p: Program) -> tuple[Callable[..., Any], Callable[..., Any], str]:
    """Straight-line Python for forward (values, locals) and backward (the edges, reversed).

    ``forward(X, P) -> (output, locals, aux)`` takes the flat input numbers and
    the parameter Values; ``backward(locals, seed, P) -> (param grads, input
    grads)`` starts each parameter's sum from its ``.grad`` (leaves accumulate).
    """
    env: dict[str, Any] = {"__builtins__": {}}
    fn_name: dict[int, str] = {}
    for instr in p.ops:
        if id(instr.op) not in fn_name:
            fn_name[id(instr.op)] = name = f"f{len(fn_name)}_{instr.op.name}"
            env[name] = instr.op.fn
    for k in p.const_slots:
        env[f"c{k}"] = p.slots[k].value
    source = "\n".join(_forward_lines(p, fn_name)) + "\n\n" + "\n".join(_backward_lines(p)) + "\n"
    exec(compile(source, "<tracegrad trace>", "exec"), env)  # noqa: S102 - generated from the op list
    # taken out of their own globals: a function in the dict it reads would be a reference cycle
    return env.pop("forward"), env.pop("backward"), source


def _locals_tuple(p: Program) -> str:
    return "".join(f"L{ins.out}, " for ins in p.ops)


def _forward_lines(p: Program, fn_name: dict[int, str]) -> list[str]:
    fwd = ["def forward(X, P):"]
    if p.n_inputs:
        fwd.append(f"    {', '.join(f'v{k}' for k in p.input_slots)}, = X")
    if p.params:
        fwd.append(f"    {', '.join(f'q{k}' for k in p.param_slots)}, = P")
        fwd += [f"    v{k} = q{k}.data" for k in p.param_slots]
    fwd += [f"    v{k} = c{k}" for k in p.const_slots]
    for ins in p.ops:
        fwd.append(f"    v{ins.out}, L{ins.out} = {fn_name[id(ins.op)]}({', '.join(f'v{a}' for a in ins.args)})")
    aux = "".join(f"v{k}, " for k in p.aux_slots)
    fwd.append(f"    return v{p.output}, ({_locals_tuple(p)}), ({aux})")
    return fwd


def _backward_lines(p: Program) -> list[str]:
    bwd = ["def backward(Ls, seed, P):"]
    if p.ops:
        bwd.append(f"    {_locals_tuple(p)} = Ls")
    if p.params:
        bwd.append(f"    {', '.join(f'q{k}' for k in p.param_slots)}, = P")
    edges = _Edges(bwd, set(p.param_slots))
    edges.contribute(p.output, "seed")
    for ins in reversed(p.ops):
        if ins.out not in p.live:  # feeds only aux results: no gradient flows through it
            continue
        for j, a in enumerate(ins.args):
            edges.contribute(a, f"L{ins.out}[{j}] * g{ins.out}")
    started = edges.started
    grads_p = ", ".join(f"g{k}" if k in started else f"q{k}.grad" for k in p.param_slots)
    grads_x = ", ".join(f"g{k}" if k in started else "0.0" for k in p.input_slots)
    bwd.append(f"    return ({grads_p}{',' if p.params else ''}), ({grads_x}{',' if p.n_inputs else ''})")
    return bwd


class _Edges:
    """Backward lines, edge by edge: the first edge into a slot starts its sum, later ones add."""

    def __init__(self, lines: list[str], params: set[int]) -> None:
        self.lines = lines
        self.params = params
        self.started: set[int] = set()

    def contribute(self, k: int, expr: str) -> None:
        # a parameter's sum starts from its .grad: leaves accumulate, as in the dynamic engine
        if k in self.started:
            self.lines.append(f"    g{k} += {expr}")
        elif k in self.params:
            self.lines.append(f"    g{k} = q{k}.grad + {expr}")
        else:
            self.lines.append(f"    g{k} = {expr}")
        self.started.add(k)


# ---------------------------------------------------------------- grouped numpy


class Group(NamedTuple):
    """Ops of one kind at one depth, run as one numpy call."""

    op: Op
    rule: Callable[..., Any] | None  # the op's array form, (*args) -> (out, locals); None: no array form
    outs: np.ndarray  # (k,) slot rows written by this group
    args: np.ndarray  # (arity, k) slot rows read: args[j] is every op's j-th input
    scatter: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # rows read twice: (order, rows, starts)
    live: bool  # False: feeds aux results only, skipped by backward
    grad_to: tuple[int, ...] = ()  # the argument positions backward sends gradient to (not all constants)
    views: tuple[slice, ...] | None = None  # each argument position's rows as one run (views of V, G), if they are
    param_grad_to: tuple[int, ...] = ()  # those whose gradient reaches a parameter (a backward without inputs')


def plan_batch(p: Program) -> list[Group]:
    """Group ops by (depth, op, arity): each group is one numpy call over (ops x samples)."""
    return [g for _, g in plan_groups(p)]


def op_depths(p: Program) -> list[int]:
    """Each slot's depth: 0 for a leaf, 1 + the deepest argument for an op result."""
    depth = [0] * len(p.slots)
    for ins in p.ops:
        depth[ins.out] = 1 + max(depth[a] for a in ins.args)
    return depth


def reaches_params(p: Program) -> list[bool]:
    """Each slot: whether its gradient flows on to a parameter (a parameter, or an op result that reads one).

    A backward that wants the parameters' gradients only can skip every edge into the other slots
    (inputs, constants, and what is computed from them alone).
    """
    reach = [False] * len(p.slots)
    for k in p.param_slots:
        reach[k] = True
    for ins in p.ops:
        reach[ins.out] = any(reach[a] for a in ins.args)
    return reach


def plan_groups(p: Program, skip: frozenset[int] = frozenset()) -> list[tuple[int, Group]]:
    """``(depth, group)`` in depth order, for every op except those writing a slot in ``skip``."""
    depth = op_depths(p)
    reach = reaches_params(p)
    consts = frozenset(p.const_slots)
    buckets: dict[tuple[int, int, int, bool], list[Instr]] = {}
    keep: dict[int, Op] = {}
    for ins in p.ops:
        if ins.out in skip:
            continue
        keep[id(ins.op)] = ins.op
        live = ins.out in p.live
        buckets.setdefault((depth[ins.out], id(ins.op), len(ins.args), not live), []).append(ins)
    groups = []
    for (d, op_id, _arity, dead), instrs in sorted(buckets.items()):
        args = np.array([i.args for i in instrs], dtype=np.intp).T
        flat = args.ravel()
        scatter = None
        if len(np.unique(flat)) != len(flat):  # a slot read twice: sum its edges first
            order = np.argsort(flat, kind="stable")
            rows, starts = np.unique(flat[order], return_index=True)
            scatter = (order, rows, starts)
        outs = np.array([i.out for i in instrs], dtype=np.intp)
        rows_of = args.tolist()
        grad_to = tuple(j for j, row in enumerate(rows_of) if not consts.issuperset(row))
        to_params = tuple(j for j in grad_to if any(reach[k] for k in rows_of[j]))
        groups.append((d, Group(keep[op_id], keep[op_id].array_fn, outs, args, scatter, not dead, grad_to,
                                param_grad_to=to_params)))
    return groups


def run_groups(groups: Sequence[Group], p: Program, columns: np.ndarray,
               pvals: np.ndarray | None = None) -> tuple[np.ndarray, list[Any]]:
    """Forward over a (slots x samples) matrix, one numpy call per group of like ops.

    ``columns``: the input numbers (inputs x samples); ``pvals``: the parameters'
    numbers in ``p.params`` order (None: each one's ``.data``).  Returns the matrix
    of every slot's values and each group's local gradients.
    """
    check_array_rules(groups)
    V = slot_matrix(p, columns, pvals)
    with np.errstate(all="ignore"):
        saved = [run_group(g, V, p) for g in groups]
    return V, saved


def check_array_rules(groups: Sequence[Group]) -> None:
    """``TypeError`` naming the ops that have no array form (the batch replay needs one)."""
    missing = sorted({g.op.name for g in groups if g.rule is None})
    if missing:
        raise TypeError(f"trace: op(s) {', '.join(missing)} have no array form in the op table")


def slot_matrix(p: Program, columns: np.ndarray, pvals: np.ndarray | None = None) -> np.ndarray:
    """The (slots x samples) matrix with the inputs, parameters and constants filled in (op rows: not yet).

    ``pvals``: the parameters' numbers in ``p.params`` order (None: each one's ``.data``).
    """
    V = np.empty((len(p.slots), columns.shape[1]))
    V[list(p.input_slots)] = columns
    if pvals is None:
        pvals = np.array([v.data for v in p.params], dtype=float)
    V[list(p.param_slots)] = pvals.reshape(-1, 1)
    V[list(p.const_slots)] = np.array([p.slots[k].value for k in p.const_slots]).reshape(-1, 1)
    return V


def run_group(g: Group, V: np.ndarray, p: Program | None = None) -> Any:
    """One group's forward: its rows of ``V`` written, its local gradients returned.

    A failing op is named with the first sample it fails on when the program ``p`` is given.
    """
    try:
        out, locs = g.rule(*(V[g.args] if g.views is None else [V[s] for s in g.views]))  # type: ignore[misc]
    except (ArithmeticError, ValueError) as exc:
        where = _where(g, p, V) if p is not None else ""
        raise type(exc)(f"{g.op.name}: {exc} (replay over a batch{where})") from None
    V[g.outs] = out
    return locs


def _where(g: Group, p: Program, V: np.ndarray) -> str:
    """``"; sample 3, t2 = x0 ÷ x1"``: the first sample and op of group ``g`` that fail on their own."""
    names = [s.name for s in p.slots]
    for j in range(V.shape[1]):
        for k, out in enumerate(g.outs):
            try:
                g.rule(*V[g.args[:, k:k + 1], j:j + 1])  # type: ignore[misc]
            except (ArithmeticError, ValueError):
                ins = Instr(int(out), g.op, tuple(int(a) for a in g.args[:, k]))
                return f": sample {j}, {names[ins.out]} = {expr(ins, names)}"
    return ""


def backprop_groups(groups: Sequence[Group], saved: Sequence[Any], G: np.ndarray,
                    inputs: bool = True) -> np.ndarray:
    """Backward over a (slots x samples) gradient matrix seeded by the caller, groups in reverse.

    Every edge of a group at once: downstream = local x upstream, summed
    into ``G`` (a slot read twice in a group gets both edges).  ``inputs=False``:
    only the edges whose gradient reaches a parameter.  Returns ``G``.
    """
    with np.errstate(all="ignore"):
        for g, locs in zip(reversed(groups), reversed(saved)):
            backprop_group(g, locs, G, inputs)
    return G


def backprop_group(g: Group, locs: Any, G: np.ndarray, inputs: bool = True) -> None:
    """One group's edges at once: downstream = local x upstream, summed into ``G``.

    ``inputs=False``: only the edges whose gradient reaches a parameter (none: nothing to do).
    """
    to = g.grad_to if inputs else g.param_grad_to
    if not g.live or not to:
        return
    upstream = G[g.outs]  # (k, n)
    if g.scatter is None and len(locs) <= 2:  # slots read once, a unary or binary gate: no stacking
        for j in to:  # a constant's gradient is never read: its edges are skipped
            rows = g.args[j] if g.views is None else g.views[j]
            local = locs[j]
            if type(local) is float and (local == 1.0 or local == -1.0):  # an add / sub edge: 1 x upstream, exactly
                if local == 1.0:
                    G[rows] += upstream
                else:
                    G[rows] -= upstream
            else:
                G[rows] += local * upstream
        return
    if all(type(local) is float for local in locs):
        C = np.array(locs).reshape(-1, 1, 1) * upstream
    else:
        C = np.stack([np.broadcast_to(local * upstream, upstream.shape) for local in locs])
    if g.scatter is None:
        G[g.args] += C
    else:
        order, rows, starts = g.scatter
        G[rows] += np.add.reduceat(C.reshape(-1, G.shape[1])[order], starts, axis=0)
