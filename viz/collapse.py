"""Collapse by module: one box per nn module call, grouped by ``engine.scope``.

``collapse='neuron'`` / ``'layer'`` (or a function scope -> group name)
assigns each node of a :class:`~viz.walk.GraphIndex` to a group; each group
becomes one :class:`~viz.scene.Group` box summarising its gates, parameters
and output.  Imports :mod:`viz.scene`, :mod:`viz.text` and :mod:`viz.walk`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from .scene import Group
from .text import fmt, html_text
from .walk import GraphIndex

Collapse = str | Callable[[str], str | None] | None


def scope_group(scope: str, level: str) -> str | None:
    """The module a node's scope belongs to at ``level`` ('neuron' or 'layer').

    ``'layers.1.neurons.3'`` -> ``'layers.1'`` (layer) or ``'layers.1.neurons.3'``
    (neuron); any prefix before ``layers`` is kept.  ``None`` when the scope
    has no such part (the node is drawn on its own).
    """
    key = "layers" if level == "layer" else "neurons"
    parts = scope.split(".") if scope else []
    for k in range(len(parts) - 1):
        if parts[k] == key and parts[k + 1].isdigit():
            return ".".join(parts[: k + 2])
    return None


def group_function(collapse: Collapse) -> Callable[[str], str | None] | None:
    """``collapse`` as a function scope -> group name (``None``: nothing collapses)."""
    if collapse is None:
        return None
    if callable(collapse):
        return collapse
    if collapse in ("neuron", "layer"):
        level = collapse
        return lambda scope: scope_group(scope, level)
    raise ValueError(
        f"collapse must be None, 'neuron', 'layer' or a function scope -> group name, "
        f"got {collapse!r}"
    )


def assign_groups(gi: GraphIndex, collapse: Collapse) -> list[str | None]:
    """The group of each node (``None``: drawn on its own).

    Nodes are grouped by the ``engine.scope`` they were made in; a leaf (a
    parameter or constant) whose consumers all lie in one group joins it.
    """
    fn = group_function(collapse)
    groups: list[str | None] = [None] * len(gi.order)
    if fn is None:
        return groups
    for i, n in enumerate(gi.order):
        if n.parents and n.scope:
            g = fn(n.scope)
            if g is not None and not isinstance(g, str):
                raise TypeError(f"collapse function must return a str or None, got {g!r}")
            groups[i] = g
    for i, n in enumerate(gi.order):
        if not n.parents and n is not gi.root and gi.consumers[i]:
            # a parameter is used inside one module call; an input feeds many neurons
            scopes = {gi.order[c].scope for c, _ in gi.consumers[i]}
            owners = {groups[c] for c, _ in gi.consumers[i]}
            if len(scopes) == 1 and len(owners) == 1:
                groups[i] = owners.pop()
    return groups


def count_boxes(groups: Sequence[str | None]) -> int:
    """How many boxes a collapsed graph draws: one per group and one per ungrouped node."""
    return sum(1 for g in groups if g is None) + len({g for g in groups if g is not None})


def group_boxes(gi: GraphIndex, groups: Sequence[str | None], grads: Sequence[float],
                show_grad: bool) -> dict[str, Group]:
    """One box per group, ids ``g0, g1, ...`` in topological order of first appearance."""
    members: dict[str, list[int]] = {}
    for i, grp in enumerate(groups):
        if grp is not None:
            members.setdefault(grp, []).append(i)
    return {grp: Group(f"g{k}", _group_label(gi, grp, idx, groups, grads, show_grad),
                       f"{grp}: {len(idx)} nodes collapsed")
            for k, (grp, idx) in enumerate(members.items())}


def _group_label(gi: GraphIndex, grp: str, members: list[int], groups: Sequence[str | None],
                 grads: Sequence[float], show_grad: bool) -> str:
    ops = Counter(gi.order[i].op.symbol for i in members if gi.order[i].parents)
    leaves = sum(1 for i in members if not gi.order[i].parents)
    neurons = {scope_group(gi.order[i].scope, "neuron") for i in members if gi.order[i].parents}
    neurons.discard(None)
    outputs = [i for i in members
               if i == len(gi.order) - 1 or any(groups[c] != grp for c, _ in gi.consumers[i])]
    rows = [f"<b>{html_text(grp)}</b>"]
    if len(neurons) > 1:
        rows.append(f"{len(neurons)} neurons")
    op_text = ", ".join(f"{c} {html_text(s)}" for s, c in sorted(ops.items(), key=lambda t: -t[1]))
    rows.append(f"{sum(ops.values())} gates: {op_text}")
    if leaves:
        rows.append(f"{leaves} parameters / constants")
    if len(outputs) == 1:
        line = f"out data {fmt(gi.order[outputs[0]].data)}"
        if show_grad:
            line += f" grad {fmt(grads[outputs[0]])}"
        rows.append(line)
    else:
        rows.append(f"{len(outputs)} outputs")
    return "<" + "<br/>".join(rows) + ">"
