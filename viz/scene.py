"""What a diagram is made of, before it is drawn: boxes, gates, wires and collapsed groups.

An adapter (:mod:`viz.value_graph` for Values and traces,
:mod:`viz.tensor_graph` for Tensors) turns a graph into a :class:`Scene`;
:mod:`viz.core` lays the scene out and writes DOT, asking a style
(:mod:`viz.style`) how each edge looks.  Plain data: imports nothing from ``viz``.

Ids follow the topological index ``i`` of each node: ``n{i}`` its value box,
``op{i}`` the gate that made it, ``o{i}`` the gate -> box edge and ``e{i}_{k}``
the edge from its k-th parent into the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Box:
    """A value box: record fields (already escaped), CSS classes, fill colour and tooltip."""

    fields: tuple[str, ...]
    cls: str
    fill: str
    tooltip: str


@dataclass(frozen=True)
class Gate:
    """The gate that made a node: symbol, shape attributes, classes, tooltip.

    ``grad`` is the gradient magnitude at the gate's output (signed for a
    scalar graph, a norm for a tensor; ``None`` when nothing flowed); the
    flow style colours the gate -> box edge with it.
    """

    symbol: str
    shape: Mapping[str, str | None]
    cls: str
    tooltip: str
    grad: float | None


@dataclass(frozen=True)
class Wire:
    """The edge from parent ``parent`` into the gate of node ``child`` (its ``k``-th input).

    ``flowed`` is the gradient that flowed back along it (signed, or a norm;
    ``None``: nothing flowed).  The texts are what a style may print:
    ``local`` (``None``: no local gradient to show), ``grad`` (what it
    carried, for the graph style) and ``flow`` (for the flow style).
    """

    parent: int
    child: int
    k: int
    flowed: float | None
    local: str | None
    grad: str
    flow: str
    tooltip: str
    extra: Mapping[str, str] = field(default_factory=dict)  # attributes that override the style's


@dataclass(frozen=True)
class Group:
    """One box standing for the collapsed nodes of a module (``id`` ``g{k}``)."""

    id: str
    label: str  # an HTML-like label, ``<...>``
    tooltip: str


@dataclass(frozen=True)
class Scene:
    """A graph ready to draw: one box (and gate, if made by one) per node, one wire per edge.

    ``scale`` is the largest gradient magnitude (flow colours and widths are
    relative to it); ``signed`` says whether wires carry signed gradients
    (scalar graphs) or their norms (tensors).  ``groups`` gives each node's
    collapsed group (``None``: drawn on its own; empty: nothing collapsed).
    """

    boxes: tuple[Box, ...]
    gates: tuple[Gate | None, ...]
    wires: tuple[Wire, ...]
    scale: float
    signed: bool
    groups: tuple[str | None, ...] = ()
    group_boxes: Mapping[str, Group] = field(default_factory=dict)

    def group(self, i: int) -> str | None:
        """The group node ``i`` is drawn in (``None``: its own box)."""
        return self.groups[i] if self.groups else None
