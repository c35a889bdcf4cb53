"""The tensor adapter: ``draw_graph`` / ``draw_flow`` on an ``engine.Tensor`` root.

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

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..engine import Tensor, topological_order
from .core import draw_scene
from .dot import Diagram
from .limits import check_reach
from .scene import Box, Gate, Scene, Wire
from .style import FlowStyle, GraphStyle, Style, box_fill, tensor_gate_shape
from .text import SMALL, array_text, fmt, op_tooltip, record_text, shape_text, summary
from .walk import GraphIndex, index_nodes


def norm(a: np.ndarray) -> float:
    """Frobenius norm sqrt(Σ a²) of any array."""
    return float(np.sqrt(np.sum(np.square(a, dtype=np.float64))))


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


def tensor_scene(gi: GraphIndex, style: Style, grads: Sequence[np.ndarray | None]) -> Scene:
    """Boxes, gates and wires of a Tensor graph; wires carry the norm of their vjp."""
    flows = _edge_flows(gi.order, grads)
    wires = tuple(_wires(gi, flows, style))
    norms = [norm(g) for g in grads if g is not None]
    scale = max([w.flowed for w in wires if w.flowed is not None] + norms, default=0.0)
    last = len(gi.order) - 1
    boxes = tuple(_box(gi, i, grads[i], style.shows_grad, i == last) for i in range(last + 1))
    gates = tuple(_gate(n, grads[i]) if n.parents else None for i, n in enumerate(gi.order))
    return Scene(boxes, gates, wires, scale, signed=False)


def _box(gi: GraphIndex, i: int, grad: np.ndarray | None, show_grad: bool, last: bool) -> Box:
    n, name = gi.order[i], gi.names[i]
    dtype = "" if n.data.dtype == np.float64 else f" {n.data.dtype}"
    fields = [record_text(name), f"shape {shape_text(n.shape)}{dtype}",
              record_text(f"data {summary(n.data)}")]
    if show_grad:
        fields.append(record_text("grad none" if grad is None else f"grad {summary(grad)}"))
    leaf = not n.parents
    cls = f"value tensor {'leaf' if leaf else 'interior'}" + (" root" if last else "")
    if leaf:
        cls += " param" if n.requires_grad else " const"
    tip = f"{name}: shape {shape_text(n.shape)}, data {summary(n.data)}"
    tip += ", grad none" if grad is None else f", grad {summary(grad)} (‖grad‖ {fmt(norm(grad))})"
    if n.scope:
        tip += f" (made in {n.scope})"
    return Box(tuple(fields), cls, box_fill(last, leaf), tip)


def _gate(n: Tensor, grad: np.ndarray | None) -> Gate:
    op = n.op
    symbol = op.symbol or op.name or "?"
    return Gate(symbol, tensor_gate_shape(symbol), f"op tensor-op op-{op.name}", op_tooltip(op),
                None if grad is None else norm(grad))


def _wires(gi: GraphIndex, flows: dict[tuple[int, int], Any], style: Style) -> Iterator[Wire]:
    for i, n in enumerate(gi.order):
        for k, p in enumerate(n.parents):
            pi = gi.index[id(p)]
            c = flows[(i, k)]
            size = None if c is None else norm(c)
            head = f"{gi.names[pi]} -> {n.op.name} ({gi.names[i]}): "
            if c is None:
                tip, grad = head + "no gradient flows back along this edge", "no grad"
            else:
                tip = head + f"carried back a gradient of shape {shape_text(c.shape)}, ‖g‖ = {fmt(size)}"
                grad = f"grad {shape_text(c.shape)} ‖g‖ {fmt(size)}"
            local = None
            if style.shows_local and n.local_grads and k < len(n.local_grads):
                local = f"local {summary(np.asarray(n.local_grads[k]))}"
            yield Wire(pi, i, k, size, local, grad, f"‖g‖ {fmt(size or 0.0)}", tip)


def draw_tensor(root: Tensor, style: Style, *, rankdir: str = "LR", max_nodes: int = 2000) -> Diagram:
    """The graph of a Tensor computation in ``style`` (a flow style replays backward privately)."""
    check_reach(root, max_nodes)
    gi = index_nodes(root)
    grads = replay_grads(root) if style.fresh_grads else [n.grad for n in gi.order]
    return draw_scene(tensor_scene(gi, style, grads), style, name=style.name, rankdir=rankdir,
                      max_nodes=max_nodes)


def draw_tensor_graph(root: Tensor, *, show_grad: bool = True, show_local: bool = True,
                      rankdir: str = "LR", max_nodes: int = 2000) -> Diagram:
    """The graph of a Tensor computation; edges carry the shape and ‖g‖ of what flowed back.

    Grads are the ``.grad`` from the last ``backward`` (``grad none`` before);
    the edge's gradient is the gate's vjp of that upstream.
    """
    return draw_tensor(root, GraphStyle(show_grad=show_grad, show_local=show_local),
                       rankdir=rankdir, max_nodes=max_nodes)


def draw_tensor_flow(root: Tensor, *, threshold: float = 1e-6, rankdir: str = "LR",
                     max_nodes: int = 2000) -> Diagram:
    """Gradient flow of one backward from a one-element Tensor (private replay, ``.grad`` untouched).

    Each edge's colour and width encode ‖vjp‖, the Frobenius norm of the
    gradient that flowed along it; ``‖g‖ <= threshold`` is dashed grey.
    """
    return draw_tensor(root, FlowStyle(threshold=threshold), rankdir=rankdir, max_nodes=max_nodes)


__all__ = ["SMALL", "array_text", "draw_tensor", "draw_tensor_flow", "draw_tensor_graph", "norm",
           "replay_grads", "shape_text", "summary", "tensor_scene"]
