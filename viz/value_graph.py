"""The scalar adapter: a Value graph (or a trace's slot nodes) as a :class:`~viz.scene.Scene`.

Value boxes show label, data and grad; gates show the op symbol with the
gate rule and formula as tooltip; each edge carries its local gradient
d(node)/d(parent) and the gradient it carried back, ``local x upstream``.
Any node type with ``data``, ``grad``, ``parents``, ``local_grads``, ``op``,
``label`` and ``scope`` draws the same (a trace's slots do, see
:mod:`viz.trace_graph`).  :class:`Marks` lets the stepper highlight nodes
and edges on top of a style.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ..engine import backward_schedule
from .collapse import Collapse, assign_groups, count_boxes, group_boxes
from .core import draw_scene
from .dot import Diagram
from .limits import too_big
from .scene import Box, Gate, Scene, Wire
from .style import ROUND_GATE, VALUE_FILL, Style, box_fill
from .text import fmt, op_tooltip, record_text
from .walk import GraphIndex, grouped, is_constant


@dataclass(frozen=True)
class Marks:
    """Per-node decorations on top of a style (node index ``i``, edge ``(i, k)``).

    ``grad_text(i)`` replaces the grad shown in a box (``None``: no grad),
    ``node_class(i)`` adds CSS classes to its box and gate, ``node_fill(i)``
    replaces its fill (``None``: the usual one) and ``edge_attrs(i, k)``
    overrides attributes of the edge from its k-th parent.
    """

    grad_text: Callable[[int], str | None] | None = None
    node_class: Callable[[int], str] | None = None
    node_fill: Callable[[int], str | None] | None = None
    edge_attrs: Callable[[int, int], dict[str, str]] | None = None

    def extra_class(self, i: int) -> str:
        """`` <classes>`` to append for node ``i`` (empty when there are none)."""
        cls = self.node_class(i) if self.node_class is not None else ""
        return " " + cls if cls else ""


NO_MARKS = Marks()
NO_BACKWARD = "no backward yet: every grad is 0 (call root.backward() first, then draw)"


def flow_grads(gi: GraphIndex, grad: float = 1.0) -> list[float]:
    """Each node's gradient after one backward pass from ``gi.root`` (private replay)."""
    grads = [0.0] * len(gi.order)
    grads[-1] = float(grad)
    for step in backward_schedule(gi.root, grad):
        for e in step.edges:
            grads[gi.index[id(e.parent)]] = e.accumulated
    return grads


def draw_values(gi: GraphIndex, style: Style, *, grads: Sequence[float] | None = None,
                marks: Marks = NO_MARKS, rankdir: str = "LR", collapse: Collapse = None,
                max_nodes: int = 2000, name: str | None = None) -> Diagram:
    """The graph of ``gi`` in ``style``, collapsed by module if asked.

    ``grads`` default: a private backward pass when the style wants one
    (flow), else each node's ``.grad``; when every ``.grad`` is 0 the picture
    says no backward has run (:data:`NO_BACKWARD`).  More than ``max_nodes``
    boxes, or a layout that would take Graphviz long (:func:`viz.limits.layout_work`):
    :class:`~viz.limits.DiagramTooBigError` (a ``ValueError``) that suggests collapsing.
    """
    if collapse is None and len(gi.order) > max_nodes:
        raise too_big(len(gi.order), max_nodes, False)
    groups = assign_groups(gi, collapse)
    n_boxes = count_boxes(groups)
    if n_boxes > max_nodes:
        raise too_big(n_boxes, max_nodes, True)
    unrun = grads is None and not style.fresh_grads and style.shows_grad \
        and marks.grad_text is None and not any(n.grad for n in gi.order)
    if grads is None:
        grads = flow_grads(gi) if style.fresh_grads else [n.grad for n in gi.order]
    scene = value_scene(gi, style, grads, marks, groups)
    g = draw_scene(scene, style, name=name or style.name, rankdir=rankdir, max_nodes=max_nodes)
    if unrun:  # every .grad is 0.0: say why, or the boxes read as "the gradient is zero"
        g.attr(label=NO_BACKWARD, labelloc="t", labeljust="l", fontsize="14")
    return g


def value_scene(gi: GraphIndex, style: Style, grads: Sequence[float], marks: Marks = NO_MARKS,
                groups: Sequence[str | None] = ()) -> Scene:
    """Boxes, gates and wires of a scalar graph with the given per-node gradients."""
    wires = tuple(_wires(gi, grads, style, marks))
    scale = max((abs(w.flowed) for w in wires if w.flowed is not None), default=0.0)
    scale = max(scale, abs(grads[-1]) if grads else 0.0)
    boxes = tuple(_box(gi, i, grads, style, marks) for i in range(len(gi.order)))
    gates = tuple(_gate(gi, i, grads, marks) if n.parents else None for i, n in enumerate(gi.order))
    if not any(g is not None for g in groups):
        return Scene(boxes, gates, wires, scale, signed=True)
    collapsed = group_boxes(gi, groups, grads, style.shows_grad)
    return Scene(boxes, gates, wires, scale, signed=True, groups=tuple(groups),
                 group_boxes=collapsed)


def _box(gi: GraphIndex, i: int, grads: Sequence[float], style: Style, marks: Marks) -> Box:
    n, name = gi.order[i], gi.names[i]
    root, leaf = i == len(gi.order) - 1, not n.parents
    if is_constant(n) and not root:
        tip = f"constant {name}: a number in the formula, it takes no gradient (label a leaf to see its grad)"
        return Box((record_text(name),), "value leaf constant" + marks.extra_class(i), VALUE_FILL, tip)
    if marks.grad_text is not None:
        grad_text = marks.grad_text(i)
    else:
        grad_text = fmt(grads[i]) if style.shows_grad else None
    fields = [record_text(name), f"data {fmt(n.data)}"]
    if grad_text is not None:
        fields.append(f"grad {grad_text}")
    cls = ("value leaf" if leaf else "value interior") + (" root" if root else "")
    fill = marks.node_fill(i) if marks.node_fill is not None else None
    tip = f"{name}: data {fmt(n.data)}, grad {fmt(grads[i])}"
    if n.scope:
        tip += f" (made in {n.scope})"
    return Box(tuple(fields), cls + marks.extra_class(i), fill or box_fill(root, leaf), tip)


def _gate(gi: GraphIndex, i: int, grads: Sequence[float], marks: Marks) -> Gate:
    op = gi.order[i].op
    return Gate(op.symbol or "?", ROUND_GATE, f"op op-{op.name}" + marks.extra_class(i),
                op_tooltip(op), grads[i])


def _wires(gi: GraphIndex, grads: Sequence[float], style: Style, marks: Marks) -> Iterator[Wire]:
    for i, n in enumerate(gi.order):
        up = grads[i]
        for k, (p, local) in enumerate(zip(n.parents, n.local_grads)):
            pi = gi.index[id(p)]
            flowed = local * up
            tip = (f"{gi.names[pi]} -> {n.op.name} ({gi.names[i]}): local d{grouped(gi.names[i])}/"
                   f"d{grouped(gi.names[pi])} = {fmt(local)}; carried back {fmt(local)} x "
                   f"{fmt(up)} = {fmt(flowed)}")
            extra = marks.edge_attrs(i, k) if marks.edge_attrs is not None else {}
            yield Wire(pi, i, k, flowed, f"local {fmt(local)}" if style.shows_local else None,
                       f"carried {fmt(flowed)}", fmt(flowed), tip, extra)
