"""Computation-graph diagrams: ``draw_graph``, ``draw_flow`` and collapse by module.

Every picture is a pure function of the graph: node ids come from the
topological order (``n{i}`` for the Value with topological index ``i``,
``op{i}`` for the gate that made it, ``e{i}_{k}`` for the edge from its k-th
parent), so the same graph always gives byte-identical DOT source.

Each edge is drawn in the forward direction (parent -> gate) and carries the
local gradient d(node)/d(parent); the gradient it carried backward is
``downstream = local x upstream``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine import Tensor, Trace, Value, backward_schedule, topological_order
from .dot import Diagram

Collapse = str | Callable[[str], str | None] | None

FONT = "Helvetica"
LEAF_FILL = "#e8f1fb"
ROOT_FILL = "#fff3d6"
VALUE_FILL = "#ffffff"
OP_FILL = "#f2f2f2"
GROUP_FILL = "#eef7ee"
POSITIVE = (214, 39, 40)  # red: the gradient pushes the root up
NEGATIVE = (31, 119, 180)  # blue: it pushes the root down
FAINT = (204, 204, 204)
DEAD = "#9e9e9e"
BUNDLE_LABELS = 60  # more edges than this between collapsed boxes: no edge labels


# ---------------------------------------------------------------- numbers and names


def fmt(x: float) -> str:
    """A number as the lectures write it: 4 significant digits, ``-3.0`` not ``-3``; never ``-0.0``."""
    x = x + 0.0  # -0.0 + 0.0 == +0.0
    if math.isfinite(x) and x == int(x) and abs(x) < 1e6:
        return f"{x:.1f}"
    return f"{x:.4g}"


@dataclass
class GraphIndex:
    """The nodes of ``root``'s graph in topological order, with stable names.

    ``order[i]`` is the node with index ``i`` (leaves first, root last);
    ``names[i]`` is its label, or ``'<op>#<i>'`` (``'mul#3'``) / ``'leaf#<i>'``
    when it has none; ``consumers[i]`` lists ``(child index, edge index)``.
    """

    root: Any
    order: list[Any]
    index: dict[int, int]
    names: list[str]
    consumers: list[list[tuple[int, int]]] = field(repr=False)

    def of(self, node: Any) -> int:
        """The topological index of ``node`` (``KeyError`` if not in the graph)."""
        return self.index[id(node)]

    def name(self, node: Any) -> str:
        """The display name of ``node``."""
        return self.names[self.index[id(node)]]


def index_graph(root: Any) -> GraphIndex:
    """Topological order, names and consumer lists of ``root``'s graph."""
    if not isinstance(root, Value):
        raise TypeError(f"expected an engine.Value as the root, got {type(root).__name__}")
    return index_nodes(root)


def index_nodes(root: Any) -> GraphIndex:
    """:func:`index_graph` for any node type with ``.parents``, ``.label`` and ``.op``."""
    order = topological_order(root)
    index = {id(n): i for i, n in enumerate(order)}
    names = [n.label or f"{n.op.name or 'leaf'}#{i}" for i, n in enumerate(order)]
    consumers: list[list[tuple[int, int]]] = [[] for _ in order]
    for i, n in enumerate(order):
        for k, p in enumerate(n.parents):
            consumers[index[id(p)]].append((i, k))
    return GraphIndex(root, order, index, names, consumers)


def _rec(text: str) -> str:
    """Escape a string for a Graphviz record field."""
    out = text.replace("\\", "\\\\")
    for c in "{}|<>\"":
        out = out.replace(c, "\\" + c)
    return out.replace("\n", " ")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tip(text: str) -> str:
    return text.replace("\\", "/").replace("\n", " ")


def value_label(name: str, node: Any, grad_text: str | None, rankdir: str) -> str:
    """The record label of a Value box: ``label | data .. | grad ..``."""
    fields = [_rec(name), f"data {fmt(node.data)}"]
    if grad_text is not None:
        fields.append(f"grad {grad_text}")
    body = " | ".join(fields)
    return "{ " + body + " }" if rankdir in ("LR", "RL") else body


def op_tooltip(op: Any) -> str:
    """The gate rule and formula of an op, for its node's tooltip."""
    return _tip(f"{op.name}: {op.gate}. {op.explain}. {op.formula}")


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


# ---------------------------------------------------------------- collapse


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


def _group_fn(collapse: Collapse) -> Callable[[str], str | None] | None:
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
    fn = _group_fn(collapse)
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


def _too_big(n: int, max_nodes: int, collapsed: bool) -> ValueError:
    if collapsed:
        return ValueError(
            f"the collapsed graph still has {n} nodes, more than max_nodes={max_nodes}; "
            "try collapse='layer', or raise max_nodes"
        )
    return ValueError(
        f"the graph has {n} nodes, more than max_nodes={max_nodes}: it would not be legible "
        "(and could take long to lay out). Pass collapse='neuron' or collapse='layer' to draw "
        "one box per nn module (nodes are grouped by engine.scope), or raise max_nodes"
    )


# ---------------------------------------------------------------- the drawing core


@dataclass
class EdgeInfo:
    """What one drawn edge carries: local gradient and the gradient that flowed."""

    local: float
    flowed: float
    upstream: float = 0.0


def signed_colour(v: float, vmax: float, widths: tuple[float, float] = (1.0, 6.0)) -> tuple[str, float]:
    """Colour and pen width for a signed magnitude: red for +, blue for -, fainter and thinner near 0."""
    t = math.sqrt(min(abs(v) / vmax, 1.0)) if vmax > 0 else 0.0
    base = POSITIVE if v > 0 else NEGATIVE
    rgb = tuple(round(f + (b - f) * t) for f, b in zip(FAINT, base))
    return "#{:02x}{:02x}{:02x}".format(*rgb), widths[0] + (widths[1] - widths[0]) * t


@dataclass
class _Style:
    """How one picture draws its nodes and edges (graph / flow / stepper)."""

    kind: str  # "graph" or "flow"
    show_grad: bool = True
    show_local: bool = True
    grads: Sequence[float] | None = None  # per node; None: node.grad
    grad_text: Callable[[int], str | None] | None = None
    node_class: Callable[[int], str] | None = None
    node_fill: Callable[[int], str | None] | None = None
    edge_attrs: Callable[[int, int], dict[str, str]] | None = None
    threshold: float = 0.0


def _build(gi: GraphIndex, style: _Style, *, rankdir: str, collapse: Collapse,
           max_nodes: int, name: str) -> Diagram:
    if collapse is None and len(gi.order) > max_nodes:
        raise _too_big(len(gi.order), max_nodes, False)
    groups = assign_groups(gi, collapse)
    n_boxes = sum(1 for g in groups if g is None) + len({g for g in groups if g is not None})
    if n_boxes > max_nodes:
        raise _too_big(n_boxes, max_nodes, True)

    grads = style.grads if style.grads is not None else [n.grad for n in gi.order]
    flows: dict[tuple[int, int], EdgeInfo] = {}
    for i, n in enumerate(gi.order):
        for k, local in enumerate(n.local_grads):
            flows[(i, k)] = EdgeInfo(local, local * grads[i], grads[i])
    gmax = max((abs(e.flowed) for e in flows.values()), default=0.0)
    gmax = max(gmax, abs(grads[-1]) if grads else 0.0)

    g = new_diagram(name, rankdir)
    group_ids: dict[str, str] = {}
    group_members: dict[str, list[int]] = {}
    for i, grp in enumerate(groups):
        if grp is not None:
            group_ids.setdefault(grp, f"g{len(group_ids)}")
            group_members.setdefault(grp, []).append(i)

    # nodes, in topological order
    drawn_groups: set[str] = set()
    for i, n in enumerate(gi.order):
        grp = groups[i]
        if grp is not None:
            if grp not in drawn_groups:
                drawn_groups.add(grp)
                _draw_group(g, gi, grp, group_ids[grp], group_members[grp], groups, grads,
                            style)
            continue
        _draw_value(g, gi, i, grads, style, rankdir)
        if n.parents:
            _draw_op(g, gi, i, grads, style, gmax)

    # edges: parent -> gate, aggregated between collapsed boxes
    def elem(i: int, as_target: bool) -> str:
        grp = groups[i]
        if grp is not None:
            return group_ids[grp]
        return f"op{i}" if as_target else f"n{i}"

    agg: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for i, n in enumerate(gi.order):
        for k, p in enumerate(n.parents):
            pi = gi.index[id(p)]
            src, dst = elem(pi, False), elem(i, True)
            if groups[pi] is not None and groups[pi] == groups[i]:
                continue
            if groups[pi] is None and groups[i] is None:
                _draw_edge(g, gi, i, k, pi, flows[(i, k)], style, gmax)
            else:
                agg.setdefault((src, dst), []).append((i, k))
    quiet = len(agg) > BUNDLE_LABELS
    for (src, dst), members in agg.items():
        _draw_bundle(g, src, dst, [flows[m] for m in members], style, gmax, quiet)

    if style.kind == "flow":
        _draw_legend(g, gmax, style.threshold)
    return g


def _draw_value(g: Diagram, gi: GraphIndex, i: int, grads: Sequence[float], style: _Style,
                rankdir: str) -> None:
    n = gi.order[i]
    name = gi.names[i]
    if style.grad_text is not None:
        grad_text = style.grad_text(i)
    else:
        grad_text = fmt(grads[i]) if style.show_grad else None
    if style.kind == "flow":
        grad_text = fmt(grads[i])
    kind = "leaf" if not n.parents else "interior"
    cls = f"value {kind}" + (" root" if i == len(gi.order) - 1 else "")
    if style.node_class is not None and style.node_class(i):
        cls += " " + style.node_class(i)
    fill = ROOT_FILL if i == len(gi.order) - 1 else LEAF_FILL if not n.parents else VALUE_FILL
    if style.node_fill is not None:
        fill = style.node_fill(i) or fill
    tip = f"{name}: data {fmt(n.data)}, grad {fmt(grads[i])}"
    if n.scope:
        tip += f" (made in {n.scope})"
    g.node(f"n{i}", value_label(name, n, grad_text, rankdir), id=f"n{i}", shape="record",
           style="filled", fillcolor=fill, tooltip=_tip(tip), **{"class": cls})


def _draw_op(g: Diagram, gi: GraphIndex, i: int, grads: Sequence[float], style: _Style,
             gmax: float) -> None:
    n = gi.order[i]
    op = n.op
    cls = f"op op-{op.name}"
    if style.node_class is not None and style.node_class(i):
        cls += " " + style.node_class(i)
    g.node(f"op{i}", _html_symbol(op.symbol), id=f"op{i}", shape="circle", style="filled",
           fillcolor=OP_FILL, fixedsize="false", margin="0.04", tooltip=op_tooltip(op),
           **{"class": cls})
    attrs: dict[str, str] = {"id": f"o{i}", "class": "out"}
    if style.kind == "flow":
        colour, width = signed_colour(grads[i], gmax)
        attrs.update(color=colour, penwidth=f"{width:.2f}", dir="back")
    g.edge(f"op{i}", f"n{i}", **attrs)


def _html_symbol(symbol: str) -> str:
    return symbol or "?"


def _edge_attrs(info: EdgeInfo, style: _Style, gmax: float) -> dict[str, str]:
    if style.kind == "flow":
        if abs(info.flowed) <= style.threshold:
            return {"color": DEAD, "style": "dashed", "penwidth": "1", "dir": "back",
                    "label": fmt(info.flowed), "fontcolor": DEAD, "class": "flow dead"}
        colour, width = signed_colour(info.flowed, gmax)
        sign = "positive" if info.flowed > 0 else "negative"
        return {"color": colour, "penwidth": f"{width:.2f}", "dir": "back",
                "label": fmt(info.flowed), "fontcolor": colour, "class": f"flow {sign}"}
    lines = []
    if style.show_local:
        lines.append(f"local {fmt(info.local)}")
    if style.show_grad:
        lines.append(f"carried {fmt(info.flowed)}")
    attrs = {"class": "grad"}
    if lines:
        attrs["label"] = "\n".join(lines)
    return attrs


def _draw_edge(g: Diagram, gi: GraphIndex, i: int, k: int, pi: int, info: EdgeInfo,
               style: _Style, gmax: float) -> None:
    node = gi.order[i]
    tip = (f"{gi.names[pi]} -> {node.op.name} ({gi.names[i]}): local d{gi.names[i]}/"
           f"d{gi.names[pi]} = {fmt(info.local)}; carried back {fmt(info.local)} x "
           f"{fmt(info.upstream)} = {fmt(info.flowed)}")
    attrs = _edge_attrs(info, style, gmax)
    if style.edge_attrs is not None:
        attrs.update(style.edge_attrs(i, k))
    g.edge(f"n{pi}", f"op{i}", id=f"e{i}_{k}", tooltip=_tip(tip), **attrs)


def _draw_bundle(g: Diagram, src: str, dst: str, infos: list[EdgeInfo], style: _Style,
                 gmax: float, quiet: bool) -> None:
    total = math.fsum(e.flowed for e in infos)
    if len(infos) == 1:
        attrs = _edge_attrs(infos[0], style, gmax)
    else:
        attrs = _edge_attrs(EdgeInfo(float("nan"), total), style, gmax)
        if style.kind == "flow":
            attrs["label"] = f"{len(infos)} edges, Σ {fmt(total)}"
        else:
            attrs["label"] = f"{len(infos)} edges" + (
                f"\ncarried Σ {fmt(total)}" if style.show_grad else "")
    attrs["class"] = attrs.get("class", "") + " bundle"
    tip = f"{len(infos)} edges from {src} to {dst}, carried Σ {fmt(total)}"
    if quiet:  # many bundles: labels would bury the picture; the tooltip keeps the numbers
        attrs.pop("label", None)
    g.edge(src, dst, id=f"b_{src}_{dst}", tooltip=tip, **attrs)


def _draw_group(g: Diagram, gi: GraphIndex, grp: str, gid: str, members: list[int],
                groups: list[str | None], grads: Sequence[float], style: _Style) -> None:
    ops = Counter(gi.order[i].op.symbol for i in members if gi.order[i].parents)
    leaves = sum(1 for i in members if not gi.order[i].parents)
    neurons = {scope_group(gi.order[i].scope, "neuron") for i in members if gi.order[i].parents}
    neurons.discard(None)
    outputs = [i for i in members
               if i == len(gi.order) - 1 or any(groups[c] != grp for c, _ in gi.consumers[i])]
    rows = [f"<b>{_html(grp)}</b>"]
    if len(neurons) > 1:
        rows.append(f"{len(neurons)} neurons")
    op_text = ", ".join(f"{c} {_html(s)}" for s, c in sorted(ops.items(), key=lambda t: -t[1]))
    rows.append(f"{sum(ops.values())} gates: {op_text}")
    if leaves:
        rows.append(f"{leaves} parameters / constants")
    if len(outputs) == 1:
        o = gi.order[outputs[0]]
        line = f"out data {fmt(o.data)}"
        if style.show_grad or style.kind == "flow":
            line += f" grad {fmt(grads[outputs[0]])}"
        rows.append(line)
    else:
        rows.append(f"{len(outputs)} outputs")
    label = "<" + "<br/>".join(rows) + ">"
    g.node(gid, label, id=gid, shape="box3d", style="filled", fillcolor=GROUP_FILL,
           tooltip=_tip(f"{grp}: {len(members)} nodes collapsed"), **{"class": "group"})


def _draw_legend(g: Diagram, gmax: float, threshold: float) -> None:
    pos, _ = signed_colour(gmax, gmax)
    neg, _ = signed_colour(-gmax, gmax)
    label = (
        '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
        '<tr><td colspan="2"><b>gradient flow (local x upstream)</b></td></tr>'
        f'<tr><td bgcolor="{pos}" width="30"></td><td align="left">positive; widest = '
        f"{fmt(gmax)}</td></tr>"
        f'<tr><td bgcolor="{neg}" width="30"></td><td align="left">negative</td></tr>'
        f'<tr><td><font color="{DEAD}">- - -</font></td><td align="left">zero: '
        f"|flow| &lt;= {fmt(threshold)} (router loser, dead ReLU, saturated)</td></tr>"
        "<tr><td colspan=\"2\">colour and width grow with |gradient|</td></tr>"
        "</table>>"
    )
    g.node("legend", label, id="legend", shape="plaintext", **{"class": "legend"})


# ---------------------------------------------------------------- public API


def draw_graph(root: Value | Tensor | Trace, *, show_grad: bool = True,
               show_local: bool = True, rankdir: str = "LR", collapse: Collapse = None,
               max_nodes: int = 2000, inputs: Sequence[Any] | None = None) -> Diagram:
    """The computation graph of ``root`` as a ``graphviz.Digraph`` (a :class:`Diagram`).

    Value boxes show label, data and grad (``.grad`` as it stands: call
    ``backward`` first); gate circles show the op symbol, with the gate rule
    and formula as tooltip; each edge shows its local gradient and the
    gradient it carried back, ``local x upstream``.  Fan-out stays visible:
    ``x + x`` draws two edges from ``x`` and ``x``'s box shows their sum.

    ``collapse='neuron'`` / ``'layer'`` (or a function scope -> group) draws
    one box per nn module.  Past ``max_nodes`` boxes: ``ValueError``.

    ``root`` may also be an ``engine.Trace`` (slots as value boxes, each
    instruction as its gate, values and grads of a replay on ``inputs``,
    default the last ``g(...)`` replay, else the traced example; see
    :mod:`viz.trace_graph`) or an
    ``engine.Tensor`` (boxes with shape and numbers or a summary, edges with
    the shape and norm of the gradient they carried; see :mod:`viz.tensor_graph`).
    """
    check_layout(rankdir, max_nodes)
    if isinstance(root, Trace):
        return _draw_trace(root, "graph", inputs, show_grad=bool(show_grad),
                           show_local=bool(show_local), rankdir=rankdir, collapse=collapse,
                           max_nodes=max_nodes)
    _no_inputs(inputs)
    if isinstance(root, Tensor):
        _no_collapse(collapse)
        from .tensor_graph import draw_tensor_graph

        return draw_tensor_graph(root, show_grad=bool(show_grad), show_local=bool(show_local),
                                 rankdir=rankdir, max_nodes=max_nodes)
    gi = index_graph(root)
    style = _Style("graph", show_grad=bool(show_grad), show_local=bool(show_local))
    return _build(gi, style, rankdir=rankdir, collapse=collapse, max_nodes=max_nodes,
                  name="graph")


def flow_grads(gi: GraphIndex, grad: float = 1.0) -> list[float]:
    """Each node's gradient after one backward pass from ``gi.root`` (private replay)."""
    grads = [0.0] * len(gi.order)
    grads[-1] = float(grad)
    for step in backward_schedule(gi.root, grad):
        for e in step.edges:
            grads[gi.index[id(e.parent)]] = e.accumulated
    return grads


def draw_flow(root: Value | Tensor | Trace, *, threshold: float = 1e-6, rankdir: str = "LR",
              collapse: Collapse = None, max_nodes: int = 2000,
              inputs: Sequence[Any] | None = None) -> Diagram:
    """A gradient-flow diagram of one backward pass from ``root``.

    Each edge's colour (red positive, blue negative) and width encode the
    gradient that flowed along it, ``local x upstream``; arrows point the way
    the gradient flows (towards the inputs).  Edges with
    ``|flow| <= threshold`` (the router's losing branch, a dead ReLU, a
    saturated sigmoid) are dashed and grey.  Computed on a private replay
    (``engine.backward_schedule``): the graph's ``.grad`` values are untouched.
    """
    check_layout(rankdir, max_nodes)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not threshold >= 0.0:
        raise ValueError(f"threshold must be a number >= 0, got {threshold!r}")
    if isinstance(root, Trace):
        return _draw_trace(root, "flow", inputs, threshold=float(threshold), rankdir=rankdir,
                           collapse=collapse, max_nodes=max_nodes)
    _no_inputs(inputs)
    if isinstance(root, Tensor):
        _no_collapse(collapse)
        from .tensor_graph import draw_tensor_flow

        return draw_tensor_flow(root, threshold=float(threshold), rankdir=rankdir,
                                max_nodes=max_nodes)
    gi = index_graph(root)
    style = _Style("flow", grads=flow_grads(gi), threshold=float(threshold))
    return _build(gi, style, rankdir=rankdir, collapse=collapse, max_nodes=max_nodes,
                  name="flow")


def _no_inputs(inputs: Any) -> None:
    if inputs is not None:
        raise TypeError("inputs= applies to an engine.Trace only (a Value or Tensor graph "
                        "already holds its numbers)")


def _no_collapse(collapse: Collapse) -> None:
    if collapse is not None:
        raise ValueError(
            "collapse applies to scalar (Value) graphs and traces; a Tensor graph already has "
            f"one gate per layer op, so draw it with collapse=None (got {collapse!r})"
        )


def _draw_trace(g: Trace, kind: str, inputs: Sequence[Any] | None, *, show_grad: bool = True,
                show_local: bool = True, threshold: float = 0.0, rankdir: str,
                collapse: Collapse, max_nodes: int) -> Diagram:
    """A traced program drawn like a Value graph: slots as boxes, instructions as gates."""
    from .trace_graph import trace_nodes

    gi = index_nodes(trace_nodes(g, inputs))
    kinds = [n.kind for n in gi.order]
    style = _Style(kind, show_grad=show_grad, show_local=show_local, threshold=threshold,
                   grads=[n.grad for n in gi.order], node_class=lambda i: f"slot-{kinds[i]}")
    return _build(gi, style, rankdir=rankdir, collapse=collapse, max_nodes=max_nodes,
                  name="trace" if kind == "graph" else "trace_flow")


def draw_nodes(gi: GraphIndex, *, grad_text: Callable[[int], str | None],
               node_class: Callable[[int], str], node_fill: Callable[[int], str | None],
               grads: Sequence[float],
               edge_attrs: Callable[[int, int], dict[str, str]] | None = None,
               rankdir: str = "LR", max_nodes: int = 2000,
               name: str = "backprop") -> Diagram:
    """The graph with per-node grad text, classes and fills (used by the stepper)."""
    check_layout(rankdir, max_nodes)
    style = _Style("graph", show_grad=False, show_local=True, grads=grads, grad_text=grad_text,
                   node_class=node_class, node_fill=node_fill, edge_attrs=edge_attrs)
    return _build(gi, style, rankdir=rankdir, collapse=None, max_nodes=max_nodes, name=name)
