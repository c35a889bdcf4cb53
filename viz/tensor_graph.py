"""Drawing the tensor path: ``draw_graph`` / ``draw_flow`` on an ``engine.Tensor`` root.

Same ids as the scalar pictures (``n{i}`` value boxes in topological order,
``op{i}`` gates, ``e{i}_{k}`` edges, ``o{i}`` gate -> result), so DOT is
deterministic.  A box shows label, shape and the numbers when the tensor is
small (at most :data:`SMALL` elements), else a summary (mean / min / max) of
data and grad.  Gates take their symbol and rule from the node's op: the op
table for element-wise ops, ``engine.TENSOR_OPS`` for matmul, linear, sum,
mean, reshape, cross-entropy, ...

Each edge carries a whole array: the gradient that flowed along it is the
gate's vector-Jacobian product ``vjp(node, upstream)[k]`` (for element-wise
gates: local x upstream, summed over broadcast axes).  Edges are labelled
with its shape and Frobenius norm ``‖g‖ = sqrt(Σ g_ij²)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import Tensor, topological_order
from .dot import Diagram
from .graph import (
    DEAD,
    LEAF_FILL,
    OP_FILL,
    ROOT_FILL,
    VALUE_FILL,
    _html,
    _rec,
    _tip,
    _too_big,
    fmt,
    new_diagram,
    op_tooltip,
    signed_colour,
)

SMALL = 6  # tensors with at most this many elements show their numbers


def shape_text(shape: tuple[int, ...]) -> str:
    """``(2, 3)``; a 0-d tensor is ``()``."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def array_text(a: np.ndarray) -> str:
    """The numbers of a small array, nested like the array: ``[[1.0, 2.0], [3.0, 4.0]]``."""
    if a.ndim == 0:
        return fmt(float(a))
    return "[" + ", ".join(array_text(row) for row in a) + "]"


def summary(a: np.ndarray) -> str:
    """``mean m min a max b`` of an array (the numbers when it is small)."""
    if a.size <= SMALL:
        return array_text(a)
    return f"mean {fmt(float(a.mean()))} min {fmt(float(a.min()))} max {fmt(float(a.max()))}"


def norm(a: np.ndarray) -> float:
    """Frobenius norm sqrt(Σ a²) of any array."""
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


def _index(root: Tensor) -> tuple[list[Tensor], dict[int, int], list[str]]:
    order = topological_order(root)
    index = {id(n): i for i, n in enumerate(order)}
    names = [n.label or f"{n.op.name or 'leaf'}#{i}" for i, n in enumerate(order)]
    return order, index, names


def _edge_flows(order: list[Tensor], grads: Sequence[np.ndarray | None]) -> dict[tuple[int, int], Any]:
    """What flowed along each edge: ``vjp(node, upstream)[k]`` (None: nothing flowed)."""
    flows: dict[tuple[int, int], Any] = {}
    for i, n in enumerate(order):
        up = grads[i]
        if not n.parents:
            continue
        if up is None or n.vjp is None:
            for k in range(len(n.parents)):
                flows[(i, k)] = None
            continue
        for k, c in enumerate(n.vjp(n, up)):
            flows[(i, k)] = None if c is None else np.asarray(c)
    return flows


def replay_grads(root: Tensor) -> list[np.ndarray | None]:
    """Each node's gradient after one backward from ``root`` (seed 1), on a private replay."""
    if root.data.size != 1:
        raise ValueError(
            f"draw_flow needs a one-element root (a loss), got a Tensor of shape {root.shape}"
        )
    if not root.requires_grad:
        raise ValueError(
            f"draw_flow: Tensor {root.label or 'unnamed'} {root.shape} does not require grad: "
            "no gradient flows through it"
        )
    order = topological_order(root)
    index = {id(n): i for i, n in enumerate(order)}
    grads: list[np.ndarray | None] = [None] * len(order)
    grads[-1] = np.ones_like(root.data)
    for i in range(len(order) - 1, -1, -1):
        n, up = order[i], grads[i]
        if up is None or not n.parents or n.vjp is None:
            continue
        for p, c in zip(n.parents, n.vjp(n, up)):
            if c is None:
                continue
            j = index[id(p)]
            grads[j] = np.asarray(c) if grads[j] is None else grads[j] + c  # the adder
    return grads


def _value_node(g: Diagram, i: int, n: Tensor, name: str, grad: np.ndarray | None,
                show_grad: bool, last: bool, rankdir: str) -> None:
    dtype = "" if n.data.dtype == np.float64 else f" {n.data.dtype}"
    fields = [_rec(name), f"shape {shape_text(n.shape)}{dtype}", _rec(f"data {summary(n.data)}")]
    if show_grad:
        fields.append(_rec("grad none" if grad is None else f"grad {summary(grad)}"))
    body = " | ".join(fields)
    label = "{ " + body + " }" if rankdir in ("LR", "RL") else body
    kind = "leaf" if not n.parents else "interior"
    cls = f"value tensor {kind}" + (" root" if last else "")
    if not n.parents:
        cls += " param" if n.requires_grad else " const"
    fill = ROOT_FILL if last else LEAF_FILL if not n.parents else VALUE_FILL
    tip = f"{name}: shape {shape_text(n.shape)}, data {summary(n.data)}"
    tip += ", grad none" if grad is None else f", grad {summary(grad)} (‖grad‖ {fmt(norm(grad))})"
    if n.scope:
        tip += f" (made in {n.scope})"
    g.node(f"n{i}", label, id=f"n{i}", shape="record", style="filled", fillcolor=fill,
           tooltip=_tip(tip), **{"class": cls})


def _op_node(g: Diagram, i: int, n: Tensor, flow: tuple[str, float] | None) -> None:
    op = n.op
    symbol = op.symbol or op.name or "?"
    shape = "circle" if len(symbol) <= 2 else "box"
    extra = {"style": "rounded,filled"} if shape == "box" else {"style": "filled"}
    g.node(f"op{i}", symbol, id=f"op{i}", shape=shape, fillcolor=OP_FILL, margin="0.04",
           tooltip=op_tooltip(op), **extra, **{"class": f"op tensor-op op-{op.name}"})
    attrs: dict[str, str] = {"id": f"o{i}", "class": "out"}
    if flow is not None:
        attrs.update(color=flow[0], penwidth=f"{flow[1]:.2f}", dir="back")
    g.edge(f"op{i}", f"n{i}", **attrs)


def _draw(root: Tensor, *, kind: str, show_grad: bool, show_local: bool, threshold: float,
          rankdir: str, max_nodes: int) -> Diagram:
    order, index, names = _index(root)
    if len(order) > max_nodes:
        raise _too_big(len(order), max_nodes, False)
    grads = replay_grads(root) if kind == "flow" else [n.grad for n in order]
    flows = _edge_flows(order, grads)
    norms = {e: (None if c is None else norm(c)) for e, c in flows.items()}
    node_norms = [norm(gr) for gr in grads if gr is not None]
    gmax = max([v for v in norms.values() if v is not None] + node_norms, default=0.0)

    g = new_diagram("flow" if kind == "flow" else "graph", rankdir)
    last = len(order) - 1
    for i, n in enumerate(order):
        _value_node(g, i, n, names[i], grads[i], show_grad or kind == "flow", i == last, rankdir)
        if n.parents:
            out = None
            if kind == "flow":
                gi = grads[i]
                out = signed_colour(norm(gi), gmax) if gi is not None else (DEAD, 1.0)
            _op_node(g, i, n, out)
    for i, n in enumerate(order):
        for k, p in enumerate(n.parents):
            pi = index[id(p)]
            c, size = flows[(i, k)], norms[(i, k)]
            tip = f"{names[pi]} -> {n.op.name} ({names[i]}): "
            if c is None:
                tip += "no gradient flows back along this edge"
            else:
                tip += f"carried back a gradient of shape {shape_text(c.shape)}, ‖g‖ = {fmt(size or 0.0)}"
            attrs = {"tooltip": _tip(tip)}
            if kind == "flow":
                if size is None or size <= threshold:
                    attrs.update(color=DEAD, style="dashed", penwidth="1", dir="back",
                                 fontcolor=DEAD, label=f"‖g‖ {fmt(size or 0.0)}",
                                 **{"class": "flow dead"})
                else:
                    colour, width = signed_colour(size, gmax)
                    attrs.update(color=colour, penwidth=f"{width:.2f}", dir="back",
                                 fontcolor=colour, label=f"‖g‖ {fmt(size)}", **{"class": "flow"})
            else:
                lines = []
                if show_local and n.local_grads and k < len(n.local_grads):
                    local = np.asarray(n.local_grads[k])
                    lines.append(f"local {summary(local)}")
                if show_grad:
                    lines.append("no grad" if c is None
                                 else f"grad {shape_text(c.shape)} ‖g‖ {fmt(size or 0.0)}")
                attrs["class"] = "grad"
                if lines:
                    attrs["label"] = "\n".join(lines)
            g.edge(f"n{pi}", f"op{i}", id=f"e{i}_{k}", **attrs)
    if kind == "flow":
        _legend(g, gmax, threshold)
    return g


def _legend(g: Diagram, gmax: float, threshold: float) -> None:
    strong, _ = signed_colour(gmax, gmax)
    label = (
        '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
        '<tr><td colspan="2"><b>gradient flow: ‖local x upstream‖ (Frobenius)</b></td></tr>'
        f'<tr><td bgcolor="{strong}" width="30"></td><td align="left">widest = '
        f"{_html(fmt(gmax))}</td></tr>"
        f'<tr><td><font color="{DEAD}">- - -</font></td><td align="left">zero: '
        f"‖g‖ &lt;= {_html(fmt(threshold))} (dead ReLU, saturated, constant)</td></tr>"
        "<tr><td colspan=\"2\">colour and width grow with ‖g‖</td></tr>"
        "</table>>"
    )
    g.node("legend", label, id="legend", shape="plaintext", **{"class": "legend"})


def draw_tensor_graph(root: Tensor, *, show_grad: bool = True, show_local: bool = True,
                      rankdir: str = "LR", max_nodes: int = 2000) -> Diagram:
    """The graph of a Tensor computation; edges carry the shape and ‖g‖ of what flowed back.

    Grads are the ``.grad`` from the last ``backward`` (``grad none`` before);
    the edge's gradient is the gate's vjp of that upstream.
    """
    return _draw(root, kind="graph", show_grad=show_grad, show_local=show_local, threshold=0.0,
                 rankdir=rankdir, max_nodes=max_nodes)


def draw_tensor_flow(root: Tensor, *, threshold: float = 1e-6, rankdir: str = "LR",
                     max_nodes: int = 2000) -> Diagram:
    """Gradient flow of one backward from a one-element Tensor (private replay, ``.grad`` untouched).

    Each edge's colour and width encode ‖vjp‖, the Frobenius norm of the
    gradient that flowed along it; ``‖g‖ <= threshold`` is dashed grey.
    """
    return _draw(root, kind="flow", show_grad=True, show_local=False, threshold=threshold,
                 rankdir=rankdir, max_nodes=max_nodes)


__all__ = ["array_text", "draw_tensor_flow", "draw_tensor_graph", "norm", "replay_grads",
           "shape_text", "summary"]
