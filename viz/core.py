"""The drawing core: one code path from a :class:`~viz.scene.Scene` to DOT, for every graph.

Values, traces and Tensors reach here through their adapters
(:mod:`viz.value_graph`, :mod:`viz.tensor_graph`) as a scene; the core lays
it out (each node's box and gate, or its collapsed group; edges, or bundles
between groups) and asks the style (:mod:`viz.style`) how each edge looks.

Statements come out in a fixed order (boxes and gates in :func:`reading_order`,
then edges, then bundles, then the legend), so the same graph always gives
byte-identical DOT.  A top-down graph whose widest level fits a projector
writes each box on one row and each edge label on one line, so every rank
is one text line high (the seed 2-2-1 network: 1688 x 1032 px).  Each edge
is drawn in the forward direction (parent -> gate); the flow style turns its
arrow round (``dir=back``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from .dot import Diagram
from .limits import check_work
from .scene import Gate, Group, Scene, Wire
from .style import BUNDLE_LABELS, FONT, GROUP_FILL, OP_FILL, Style
from .text import fmt, record_label, tooltip_text, visible

# Pages and notebooks scroll down, not sideways: a graph runs left-right while that fits this
# width (px at 100 %), else top-down when that is narrower.
SCREEN_WIDTH = 1600.0
# Rough px per rank along a left-right layout (a stacked box or a gate, with its edge labels),
# and per box across a top-down one; only used to choose the direction.
_RANK_LR = 145.0
_BOX_TB = 190.0
# A top-down graph writes each value box on one row (label | data | grad: one text line high, so
# the graph is short) while its widest level fits a projector this wide (px at 100 %); else it
# stacks the fields (narrow boxes).  Estimated from 12 pt Helvetica: px per character, per field
# (its padding), and per box (the gap to the next box and its edges' labels).
ROW_WIDTH = 1920.0
_CHAR_PX = 7.6
_FIELD_PX = 12.0
_BOX_GAP_PX = 60.0


def check_layout(rankdir: str, max_nodes: int) -> None:
    """``ValueError`` unless ``rankdir`` is 'auto'/LR/RL/TB/BT and ``max_nodes`` a positive int."""
    if rankdir not in ("auto", "LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be one of 'auto', 'LR', 'RL', 'TB', 'BT', got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")


def levels(scene: Scene) -> list[int]:
    """Each box's depth: a gate's output one level past its deepest input; a leaf just before its first use."""
    depth = [0] * len(scene.boxes)
    inputs: dict[int, list[int]] = {}
    for w in scene.wires:
        inputs.setdefault(w.child, []).append(w.parent)
    for i in range(len(scene.boxes)):  # boxes come in topological order
        if i in inputs:
            depth[i] = 1 + max(depth[p] for p in inputs[i])
    first_use: dict[int, int] = {}
    for w in scene.wires:
        if w.parent not in inputs:  # a leaf sits beside the gate that uses it first
            first_use[w.parent] = min(first_use.get(w.parent, depth[w.child]), depth[w.child])
    for leaf, d in first_use.items():
        depth[leaf] = d - 1
    low = min(depth, default=0)
    return [d - low for d in depth]


def auto_rankdir(scene: Scene) -> str:
    """'LR' while a left-right layout fits :data:`SCREEN_WIDTH`, else 'TB' if that is narrower.

    A graph ``L`` levels deep (:func:`levels`) spans about ``2L`` ranks left
    to right (a box and its gate per level); top-down it is as wide as its
    widest level.
    """
    depth = levels(scene)
    lr_width = 2 * (max(depth, default=0) + 1) * _RANK_LR
    tb_width = max(Counter(depth).values(), default=1) * _BOX_TB
    return "LR" if lr_width <= SCREEN_WIDTH or lr_width <= tb_width else "TB"


def row_width(scene: Scene) -> float:
    """Estimated px width of the widest level (:func:`levels`) of a top-down graph whose boxes are one row each."""
    widths: dict[int, float] = {}
    for box, d in zip(scene.boxes, levels(scene)):
        text = sum(len(f) for f in box.fields)
        widths[d] = widths.get(d, 0.0) + _CHAR_PX * text + _FIELD_PX * len(box.fields) + _BOX_GAP_PX
    return max(widths.values(), default=0.0)


def stacks_fields(scene: Scene, style: Style, rankdir: str) -> bool:
    """Whether value boxes stack their fields: left-right always (narrow ranks), top-down only
    when one-row boxes would not fit :data:`ROW_WIDTH`; never for a style that keeps one row."""
    if not style.stack_fields:
        return False
    return rankdir in ("LR", "RL") or row_width(scene) > ROW_WIDTH


def new_diagram(name: str, rankdir: str) -> Diagram:
    """An empty diagram with tracegrad's graph, node and edge defaults (compact: projector-sized)."""
    g = Diagram(name)
    g.attr(rankdir=rankdir, fontname=FONT, bgcolor="white", nodesep="0.35", ranksep="0.12")
    g.attr("node", fontname=FONT, fontsize="12", height="0.1", width="0.1", margin="0.06,0.02")
    g.attr("edge", fontname=FONT, fontsize="10")
    return g


def draw_scene(scene: Scene, style: Style, *, name: str, rankdir: str, max_nodes: int) -> Diagram:
    """The scene as a diagram named ``name``, drawn in ``style`` (``rankdir='auto'``: :func:`auto_rankdir`).

    :class:`~viz.limits.DiagramTooBigError` when its layout work passes the
    limit for ``max_nodes`` (see :func:`viz.limits.layout_work`): checked before any DOT is written.
    """
    check_work(scene, max_nodes)
    if rankdir == "auto":
        rankdir = auto_rankdir(scene)
    g = new_diagram(name, rankdir)
    stack = stacks_fields(scene, style, rankdir)
    flat = style.stack_fields and rankdir in ("TB", "BT") and not stack  # one text line per rank
    _draw_nodes(g, scene, style, rankdir, stack)
    _draw_wires(g, scene, style, one_line=flat)
    legend = style.legend(scene, across=flat)
    if legend is not None:
        _draw_legend(g, scene, legend)
    return g


def stacked_label(fields: Sequence[str], rankdir: str) -> str:
    """A value box's fields one above the other (label, data, grad), whichever way the graph runs.

    Rows keep a box as narrow as its longest field, so a level of many boxes
    (a layer's weights) fits across a screen.
    """
    across = "TB" if rankdir in ("LR", "RL") else "LR"  # record_label stacks across the rank direction
    return record_label(tuple(fields), across)


def _draw_legend(g: Diagram, scene: Scene, legend: str) -> None:
    """The legend on the root's rank, beside it: the root is the graph's last rank, so no edge
    runs past the legend, and a top-down graph (one box wide at the bottom) gets no wider."""
    last = len(scene.boxes) - 1
    grp = scene.group(last)
    root = f"n{last}" if grp is None else scene.group_boxes[grp].id
    with g.subgraph(name="legend_rank") as key:
        key.attr(rank="same")
        key.node(root)
        key.node("legend", legend, id="legend", shape="plaintext", **{"class": "legend"})


def reading_order(scene: Scene) -> list[int]:
    """The boxes in the order a reader meets them: depth first from the root, each node's inputs
    in their own order (``w1 * x1``: w1, then x1), every node after its inputs.

    Graphviz places a rank's nodes in the order it first meets them, so
    writing them in this order draws x1 before x2 and z1 before z2.
    """
    inputs: dict[int, list[tuple[int, int]]] = {}
    for w in scene.wires:
        inputs.setdefault(w.child, []).append((w.k, w.parent))
    order: list[int] = []
    seen: set[int] = set()
    stack: list[tuple[int, bool]] = [(len(scene.boxes) - 1, False)] if scene.boxes else []
    while stack:
        i, done = stack.pop()
        if done:
            order.append(i)
            continue
        if i in seen:
            continue
        seen.add(i)
        stack.append((i, True))
        stack.extend((p, False) for _, p in sorted(inputs.get(i, []), reverse=True))
    return order + [i for i in range(len(scene.boxes)) if i not in seen]


def _draw_nodes(g: Diagram, scene: Scene, style: Style, rankdir: str, stack: bool) -> None:
    """Each node's box and gate in :func:`reading_order`; a collapsed group where it first appears."""
    drawn: set[str] = set()
    in_order = in_order_gates(scene)
    for i in reading_order(scene):
        box = scene.boxes[i]
        grp = scene.group(i)
        if grp is not None:
            if grp not in drawn:
                drawn.add(grp)
                _draw_group(g, scene.group_boxes[grp])
            continue
        fields = stacked_label(box.fields, rankdir) if stack else record_label(tuple(box.fields), rankdir)
        g.node(f"n{i}", fields, id=f"n{i}", shape="record",
               style="filled", fillcolor=box.fill, tooltip=tooltip_text(box.tooltip),
               **{"class": box.cls})
        gate = scene.gates[i]
        if gate is not None:
            _draw_gate(g, i, gate, scene, style, i in in_order)


def in_order_gates(scene: Scene) -> set[int]:
    """Gates whose inputs Graphviz must keep in argument order (``a - b``: a first).

    Those whose every input feeds only this gate: ordering them costs no
    crossing.  An input used twice (``x1`` in ``w1*x1`` and ``w2*x1``) is left
    to Graphviz, which places it where its edges cross least.
    """
    uses = Counter(w.parent for w in scene.wires)
    inputs: dict[int, list[int]] = {}
    for w in scene.wires:
        inputs.setdefault(w.child, []).append(w.parent)
    return {i for i, ps in inputs.items() if len(ps) > 1 and all(uses[p] == 1 for p in ps)}


def _draw_gate(g: Diagram, i: int, gate: Gate, scene: Scene, style: Style, in_order: bool) -> None:
    order = {"ordering": "in"} if in_order else {}
    g.node(f"op{i}", visible(gate.symbol), id=f"op{i}", fillcolor=OP_FILL, margin="0.02",
           tooltip=tooltip_text(gate.tooltip), **gate.shape, **order, **{"class": gate.cls})
    attrs = {"id": f"o{i}", "class": "out"}
    attrs.update(style.out_attrs(gate, scene))
    g.edge(f"op{i}", f"n{i}", **attrs)


def _draw_group(g: Diagram, group: Group) -> None:
    g.node(group.id, group.label, id=group.id, shape="box3d", style="filled",
           fillcolor=GROUP_FILL, tooltip=tooltip_text(group.tooltip),
           **{"class": "group"})


def _draw_wires(g: Diagram, scene: Scene, style: Style, one_line: bool) -> None:
    """Edges parent -> gate; those touching a collapsed group are bundled per (source, target).

    ``one_line`` (a top-down graph of one-row boxes): an edge's label lines are written on one
    line, ``local 0.5, carried -0.01``, so each label rank is one text line high (a bundle keeps its lines).
    """
    bundles: dict[tuple[str, str], list[Wire]] = {}
    for w in scene.wires:
        src_group, dst_group = scene.group(w.parent), scene.group(w.child)
        if src_group is None and dst_group is None:
            attrs = _tied(style.wire_attrs(w, scene), one_line)
            attrs.update(w.extra)
            g.edge(f"n{w.parent}", f"op{w.child}", id=f"e{w.child}_{w.k}",
                   tooltip=tooltip_text(w.tooltip), **attrs)
        elif src_group != dst_group:
            src = f"n{w.parent}" if src_group is None else scene.group_boxes[src_group].id
            dst = f"op{w.child}" if dst_group is None else scene.group_boxes[dst_group].id
            bundles.setdefault((src, dst), []).append(w)
    quiet = len(bundles) > BUNDLE_LABELS
    for (src, dst), wires in bundles.items():
        _draw_bundle(g, src, dst, wires, scene, style, quiet)


def _tied(attrs: dict[str, str], one_line: bool = False) -> dict[str, str]:
    """A labelled edge's label underlined and tied to its own edge by a line (``decorate``).

    Graphviz places each edge's label beside that edge, so two edges into one
    gate have their labels side by side; the tie shows which number belongs
    to which edge.
    """
    if "label" in attrs:
        attrs["decorate"] = "true"
        if one_line:
            attrs["label"] = attrs["label"].replace("\n", ", ")
    return attrs


def _draw_bundle(g: Diagram, src: str, dst: str, wires: Sequence[Wire], scene: Scene,
                 style: Style, quiet: bool) -> None:
    total = math.fsum(0.0 if w.flowed is None else w.flowed for w in wires)
    if len(wires) == 1:
        attrs = style.wire_attrs(wires[0], scene)
    else:
        attrs = style.bundle_attrs(wires, total, scene)
    attrs["class"] = attrs.get("class", "") + " bundle"
    if quiet:  # many bundles: labels would bury the picture; the tooltip keeps the numbers
        attrs.pop("label", None)
    attrs = _tied(attrs)
    tip = f"{len(wires)} edges from {src} to {dst}, carried Σ {fmt(total)}"
    g.edge(src, dst, id=f"b_{src}_{dst}", tooltip=tip, **attrs)
