"""The drawing core: one code path from a :class:`~viz.scene.Scene` to DOT, for every graph.

Values, traces and Tensors reach here through their adapters
(:mod:`viz.value_graph`, :mod:`viz.tensor_graph`) as a scene; the core lays
it out (each node's box and gate, or its collapsed group; edges, or bundles
between groups) and asks the style (:mod:`viz.style`) how each edge looks.

Statements come out in a fixed order (boxes and gates in topological order,
then edges, then bundles, then the legend), so the same graph always gives
byte-identical DOT.  Each edge is drawn in the forward direction (parent ->
gate); the flow style turns its arrow round (``dir=back``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .dot import Diagram
from .limits import check_work
from .scene import Gate, Group, Scene, Wire
from .style import BUNDLE_LABELS, FONT, GROUP_FILL, OP_FILL, Style
from .text import fmt, record_label, tooltip_text, visible


def check_layout(rankdir: str, max_nodes: int) -> None:
    """``ValueError`` unless ``rankdir`` is LR/RL/TB/BT and ``max_nodes`` a positive int."""
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be one of 'LR', 'RL', 'TB', 'BT', got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")


def new_diagram(name: str, rankdir: str) -> Diagram:
    """An empty diagram with tracegrad's graph, node and edge defaults."""
    g = Diagram(name)
    g.attr(rankdir=rankdir, fontname=FONT, bgcolor="white")
    g.attr("node", fontname=FONT, fontsize="12")
    g.attr("edge", fontname=FONT, fontsize="10")
    return g


def draw_scene(scene: Scene, style: Style, *, name: str, rankdir: str, max_nodes: int) -> Diagram:
    """The scene as a diagram named ``name``, drawn in ``style``.

    :class:`~viz.limits.DiagramTooBigError` when its layout work passes the
    limit for ``max_nodes`` (see :func:`viz.limits.layout_work`): checked before any DOT is written.
    """
    check_work(scene, max_nodes)
    g = new_diagram(name, rankdir)
    _draw_nodes(g, scene, style, rankdir)
    _draw_wires(g, scene, style)
    legend = style.legend(scene)
    if legend is not None:
        g.node("legend", legend, id="legend", shape="plaintext", **{"class": "legend"})
    return g


def _draw_nodes(g: Diagram, scene: Scene, style: Style, rankdir: str) -> None:
    """Each node's box and gate in topological order; a collapsed group where it first appears."""
    drawn: set[str] = set()
    for i, box in enumerate(scene.boxes):
        grp = scene.group(i)
        if grp is not None:
            if grp not in drawn:
                drawn.add(grp)
                _draw_group(g, scene.group_boxes[grp])
            continue
        g.node(f"n{i}", record_label(box.fields, rankdir), id=f"n{i}", shape="record",
               style="filled", fillcolor=box.fill, tooltip=tooltip_text(box.tooltip),
               **{"class": box.cls})
        gate = scene.gates[i]
        if gate is not None:
            _draw_gate(g, i, gate, scene, style)


def _draw_gate(g: Diagram, i: int, gate: Gate, scene: Scene, style: Style) -> None:
    g.node(f"op{i}", visible(gate.symbol), id=f"op{i}", fillcolor=OP_FILL, margin="0.04",
           tooltip=tooltip_text(gate.tooltip), **gate.shape, **{"class": gate.cls})
    attrs = {"id": f"o{i}", "class": "out"}
    attrs.update(style.out_attrs(gate, scene))
    g.edge(f"op{i}", f"n{i}", **attrs)


def _draw_group(g: Diagram, group: Group) -> None:
    g.node(group.id, group.label, id=group.id, shape="box3d", style="filled",
           fillcolor=GROUP_FILL, tooltip=tooltip_text(group.tooltip),
           **{"class": "group"})


def _draw_wires(g: Diagram, scene: Scene, style: Style) -> None:
    """Edges parent -> gate; those touching a collapsed group are bundled per (source, target)."""
    bundles: dict[tuple[str, str], list[Wire]] = {}
    for w in scene.wires:
        src_group, dst_group = scene.group(w.parent), scene.group(w.child)
        if src_group is None and dst_group is None:
            attrs = style.wire_attrs(w, scene)
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
    tip = f"{len(wires)} edges from {src} to {dst}, carried Σ {fmt(total)}"
    g.edge(src, dst, id=f"b_{src}_{dst}", tooltip=tip, **attrs)
