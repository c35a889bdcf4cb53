"""Computation-graph diagrams: ``draw_graph`` and ``draw_flow`` for Values, Tensors and traces.

Both pick a style (:class:`~viz.style.GraphStyle` / :class:`~viz.style.FlowStyle`)
and hand the root to its adapter: :mod:`viz.value_graph` for a Value graph
and for a trace (its slots replayed into nodes by :mod:`viz.trace_graph`),
:mod:`viz.tensor_graph` for a Tensor.  All of them draw through
:mod:`viz.core`, so ids, tooltips and DOT order are the same everywhere.

Each edge is drawn in the forward direction (parent -> gate) and carries the
local gradient d(node)/d(parent); the gradient it carried backward is
``downstream = local x upstream``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine import Tensor, Trace, Value
from .collapse import Collapse, scope_group
from .core import check_layout
from .dot import Diagram
from .limits import check_reach
from .style import FlowStyle, GraphStyle, Style
from .tensor_graph import draw_tensor
from .text import fmt
from .trace_graph import trace_nodes
from .value_graph import Marks, draw_values, flow_grads
from .walk import GraphIndex, index_graph, index_nodes


def draw_graph(root: Value | Tensor | Trace, *, show_grad: bool = True,
               show_local: bool = True, rankdir: str = "auto", collapse: Collapse = None,
               max_nodes: int = 2000, inputs: Sequence[Any] | None = None) -> Diagram:
    """The computation graph of ``root`` as a ``graphviz.Digraph`` (a :class:`Diagram`).

    Value boxes show label, data and grad (``.grad`` as it stands: call
    ``backward`` first); gate circles show the op symbol, with the gate rule
    and formula as tooltip; each edge shows its local gradient and the
    gradient it carried back, ``local x upstream``.  Fan-out stays visible:
    ``x + x`` draws two edges from ``x`` and ``x``'s box shows their sum.

    ``rankdir='auto'`` (the default) runs the graph left to right while that
    fits 1,600 px at 100 %, else top to bottom when that is narrower;
    ``'LR'``/``'TB'``/... force a direction.  Left to right, value boxes stack
    label, data and grad; top to bottom, each box is one row and each edge
    label one line while the widest level fits 1,920 px (else they stack), so
    the seed 2-2-1 network fits a 1920 x 1080 projector (1688 x 1032 px).

    ``collapse='neuron'`` / ``'layer'`` (or a function scope -> group) draws
    one box per nn module.  Past ``max_nodes`` boxes (the walk stops there),
    or when the layout would take Graphviz long (cycles x placed nodes past
    ``250 x max_nodes``, see :mod:`viz.limits`): ``DiagramTooBigError``, a
    ``ValueError`` that suggests ``collapse=``.

    ``root`` may also be an ``engine.Trace`` (slots as value boxes, each
    instruction as its gate, values and grads of a replay on ``inputs``,
    default the last ``g(...)`` replay, else the traced example; see
    :mod:`viz.trace_graph`) or an
    ``engine.Tensor`` (boxes with shape and numbers or a summary, edges with
    the shape and norm of the gradient they carried; see :mod:`viz.tensor_graph`).
    """
    check_layout(rankdir, max_nodes)
    style = GraphStyle(show_grad=bool(show_grad), show_local=bool(show_local), show_legend=True)
    return _draw(root, style, inputs, rankdir=rankdir, collapse=collapse, max_nodes=max_nodes)


def draw_flow(root: Value | Tensor | Trace, *, threshold: float = 1e-6, rankdir: str = "auto",
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
    style = FlowStyle(threshold=float(threshold))
    return _draw(root, style, inputs, rankdir=rankdir, collapse=collapse, max_nodes=max_nodes)


def _draw(root: Value | Tensor | Trace, style: Style, inputs: Sequence[Any] | None, *,
          rankdir: str, collapse: Collapse, max_nodes: int) -> Diagram:
    """Send ``root`` to its adapter: a trace, a Tensor or (else) a Value graph."""
    if isinstance(root, Trace):
        return draw_trace(root, style, inputs, rankdir=rankdir, collapse=collapse,
                          max_nodes=max_nodes)
    _no_inputs(inputs)
    if isinstance(root, Tensor):
        _no_collapse(collapse)
        return draw_tensor(root, style, rankdir=rankdir, max_nodes=max_nodes)
    if collapse is None and isinstance(root, Value):
        check_reach(root, max_nodes)  # before the walk that names every node
    return draw_values(index_graph(root), style, rankdir=rankdir, collapse=collapse,
                       max_nodes=max_nodes)


def draw_trace(g: Trace, style: Style, inputs: Sequence[Any] | None = None, *,
               rankdir: str = "auto", collapse: Collapse = None, max_nodes: int = 2000) -> Diagram:
    """A traced program drawn like a Value graph: slots as boxes, instructions as gates.

    Values and grads are those of one replay on ``inputs`` (see
    :func:`viz.trace_graph.trace_nodes`); each box and gate has the class
    ``slot-<kind>`` (input, param, const, op).
    """
    root = trace_nodes(g, inputs)
    if collapse is None:
        check_reach(root, max_nodes)
    gi = index_nodes(root)
    kinds = [n.kind for n in gi.order]
    marks = Marks(node_class=lambda i: f"slot-{kinds[i]}")
    return draw_values(gi, style, grads=[n.grad for n in gi.order], marks=marks, rankdir=rankdir,
                       collapse=collapse, max_nodes=max_nodes, name=style.trace_name)


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


# Names other modules and notebooks imported from here before the drawing core existed.
__all__ = ["Collapse", "GraphIndex", "draw_flow", "draw_graph", "draw_trace", "flow_grads", "fmt",
           "index_graph", "scope_group"]
