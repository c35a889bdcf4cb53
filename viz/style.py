"""How the pictures look: colours, sizes, gate shapes, and the diagram styles as objects.

A style (:class:`GraphStyle` or :class:`FlowStyle`) is a frozen object that
says what a value box shows and how each edge of a :class:`~viz.scene.Scene`
looks; :mod:`viz.core` asks it and never branches on a kind of diagram.
Imports :mod:`viz.text` and :mod:`viz.scene` only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from .scene import Gate, Scene, Wire
from .text import fmt, html_text

FONT = "Helvetica"
LEAF_FILL = "#e8f1fb"
ROOT_FILL = "#fff3d6"
VALUE_FILL = "#ffffff"
OP_FILL = "#f2f2f2"
GROUP_FILL = "#eef7ee"
CLUSTER_LINE = "#bbbbbb"  # the frame around a layer of draw_network
POSITIVE = (214, 39, 40)  # red: the gradient pushes the root up
NEGATIVE = (31, 119, 180)  # blue: it pushes the root down
FAINT = (204, 204, 204)
DEAD = "#9e9e9e"
# Numbers printed on coloured edges: the sign's colour at full strength, dark enough to read
# (WCAG contrast with white >= 4.5:1; the pale edge colours are 1.8-2.9:1) and at least 12 pt.
POSITIVE_TEXT = "#b2182b"  # 6.9:1
NEGATIVE_TEXT = "#1a5e91"  # 6.9:1
DEAD_TEXT = "#616161"  # 6.2:1
EDGE_LABEL_SIZE = "12"
CURRENT_FILL = "#ffe08a"  # the stepper's current gate
DONE_FILL = "#d9f2d9"  # the stepper's finished gradients
CURRENT_EDGE = "#d62728"
FLOW_WIDTHS = (1.0, 6.0)  # pen widths of the faintest and the strongest gradient edge
WEIGHT_WIDTHS = (0.5, 5.0)  # the same for draw_network's weight edges
BUNDLE_LABELS = 60  # more edges than this between collapsed boxes: no edge labels

# Gate shapes.  A scalar gate is always a circle; a tensor gate is a circle
# when its symbol is short and a rounded box otherwise.
ROUND_GATE: dict[str, str | None] = {"shape": "circle", "style": "filled", "fixedsize": "false"}
_TENSOR_CIRCLE: dict[str, str | None] = {"shape": "circle", "style": "filled"}
_TENSOR_BOX: dict[str, str | None] = {"shape": "box", "style": "rounded,filled"}


def tensor_gate_shape(symbol: str) -> dict[str, str | None]:
    """The node shape of a tensor gate: a circle for ``×``, a rounded box for ``Wx+b``."""
    return dict(_TENSOR_CIRCLE if len(symbol) <= 2 else _TENSOR_BOX)


def box_fill(root: bool, leaf: bool) -> str:
    """The fill of a value box: the root, a leaf (input or parameter) or an interior value."""
    return ROOT_FILL if root else LEAF_FILL if leaf else VALUE_FILL


def flow_arrowsize(width: float) -> str:
    """A flow edge's ``arrowsize``: Graphviz grows arrowheads with the pen width, so a 6 pt edge's
    head would reach over its own number; 1 / sqrt(width) keeps heads about as long as a thin edge's."""
    return f"{1.0 / math.sqrt(max(width, 1.0)):.2f}"


def text_colour(v: float | None) -> str:
    """The colour of a number printed on an edge: dark red for +, dark blue for -, dark grey for 0/None."""
    return DEAD_TEXT if not v else POSITIVE_TEXT if v > 0 else NEGATIVE_TEXT


def signed_colour(v: float, vmax: float, widths: tuple[float, float] = FLOW_WIDTHS) -> tuple[str, float]:
    """Colour and pen width for a signed magnitude: red for +, blue for -, fainter and thinner near 0."""
    t = math.sqrt(min(abs(v) / vmax, 1.0)) if vmax > 0 else 0.0
    base = POSITIVE if v > 0 else NEGATIVE
    rgb = tuple(round(f + (b - f) * t) for f, b in zip(FAINT, base))
    return "#{:02x}{:02x}{:02x}".format(*rgb), widths[0] + (widths[1] - widths[0]) * t


@dataclass(frozen=True)
class Style:
    """How one kind of diagram draws a scene (subclasses: :class:`GraphStyle`, :class:`FlowStyle`).

    ``name`` / ``trace_name`` name the DOT graph; ``fresh_grads`` says
    whether the picture needs a private backward pass from the root (rather
    than the ``.grad`` the graph holds).
    """

    name: ClassVar[str] = "graph"
    trace_name: ClassVar[str] = "trace"
    fresh_grads: ClassVar[bool] = False
    stack_fields: bool = True  # value boxes stack label / data / grad; the stepper keeps one row (a wide
    # strip its page scrolls along, starting at the root end)

    @property
    def shows_grad(self) -> bool:
        """Whether value boxes show their gradient."""
        return True

    @property
    def shows_local(self) -> bool:
        """Whether edges show their local gradient."""
        return False

    def wire_attrs(self, wire: Wire, scene: Scene) -> dict[str, str]:
        """The DOT attributes of one parent -> gate edge."""
        raise NotImplementedError

    def bundle_attrs(self, wires: Sequence[Wire], total: float, scene: Scene) -> dict[str, str]:
        """The attributes of several edges drawn as one between collapsed boxes (``total``: their sum)."""
        raise NotImplementedError

    def out_attrs(self, gate: Gate, scene: Scene) -> dict[str, str]:
        """Extra attributes of the gate -> value edge."""
        return {}

    def legend(self, scene: Scene, across: bool = False) -> str | None:
        """The legend's HTML-like label (``None``: no legend); ``across``: one wide row (a top-down graph)."""
        return None


@dataclass(frozen=True)
class GraphStyle(Style):
    """The computation graph: boxes show data (and grad), edges their local and carried gradient."""

    show_grad: bool = True
    show_local: bool = True
    show_legend: bool = False  # draw_graph turns it on; the stepper's frames have their own legend

    @property
    def shows_grad(self) -> bool:
        return self.show_grad

    @property
    def shows_local(self) -> bool:
        return self.show_local

    def wire_attrs(self, wire: Wire, scene: Scene) -> dict[str, str]:
        lines = []
        if self.show_local and wire.local is not None:
            lines.append(wire.local)
        if self.show_grad:
            lines.append(wire.grad)
        attrs = {"class": "grad"}
        if lines:
            attrs["label"] = "\n".join(lines)
        return attrs

    def bundle_attrs(self, wires: Sequence[Wire], total: float, scene: Scene) -> dict[str, str]:
        carried = f"\ncarried Σ {fmt(total)}" if self.show_grad else ""
        return {"class": "grad", "label": f"{len(wires)} edges{carried}"}

    def legend(self, scene: Scene, across: bool = False) -> str | None:
        return box_legend(scene, self.show_local, self.show_grad, across) if self.show_legend else None


@dataclass(frozen=True)
class FlowStyle(Style):
    """Gradient flow: edge colour and width encode the gradient that flowed; ``|flow| <= threshold`` is dashed grey."""

    name: ClassVar[str] = "flow"
    trace_name: ClassVar[str] = "trace_flow"
    fresh_grads: ClassVar[bool] = True

    threshold: float = 1e-6

    def _flow(self, flowed: float | None, label: str, scene: Scene) -> dict[str, str]:
        if flowed is None or abs(flowed) <= self.threshold:
            return {"color": DEAD, "style": "dashed", "penwidth": "1", "dir": "back",
                    "label": f" {label} ", "fontcolor": DEAD_TEXT, "fontsize": EDGE_LABEL_SIZE,
                    "class": "flow dead"}
        colour, width = signed_colour(flowed, scene.scale)
        cls = ("flow positive" if flowed > 0 else "flow negative") if scene.signed else "flow"
        return {"color": colour, "penwidth": f"{width:.2f}", "dir": "back", "label": f" {label} ",
                "fontcolor": text_colour(flowed), "fontsize": EDGE_LABEL_SIZE, "class": cls,
                "arrowsize": flow_arrowsize(width)}

    def wire_attrs(self, wire: Wire, scene: Scene) -> dict[str, str]:
        return self._flow(wire.flowed, wire.flow, scene)

    def bundle_attrs(self, wires: Sequence[Wire], total: float, scene: Scene) -> dict[str, str]:
        return self._flow(total, f"{len(wires)} edges, Σ {fmt(total)}", scene)

    def out_attrs(self, gate: Gate, scene: Scene) -> dict[str, str]:
        colour, width = (DEAD, 1.0) if gate.grad is None else signed_colour(gate.grad, scene.scale)
        return {"color": colour, "penwidth": f"{width:.2f}", "dir": "back", "arrowsize": flow_arrowsize(width)}

    def legend(self, scene: Scene, across: bool = False) -> str:
        return _signed_legend(scene.scale, self.threshold, across) if scene.signed \
            else _norm_legend(scene.scale, self.threshold, across)


ACROSS = 3  # entries a row in a legend laid across (a top-down graph's): 4 entries make 2 rows of 2


def legend_table(title: str, entries: Sequence[tuple[str, str]], footer: str | None, *,
                 across: bool, cellpadding: int = 2) -> str:
    """A legend as an HTML-like label: a bold title, ``(swatch cell, meaning)`` entries, a footer row.

    ``across=False`` puts one entry per row (a tall, narrow legend for a
    left-right graph); ``across=True`` puts the title beside rows of at most
    :data:`ACROSS` entries (a wide, short one for a top-down graph, whose last
    rank it shares with the root box).  Each swatch is a ready ``<td ...>...</td>``.
    """
    table = f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="{cellpadding}">'
    if across:
        lines = math.ceil(len(entries) / ACROSS)  # at most ACROSS entries a row, rows balanced
        per_row = math.ceil(len(entries) / lines) if entries else 0
        span = 1 + 2 * per_row
        chunks = [entries[k:k + per_row] for k in range(0, len(entries), per_row)] or [[]]
        rows = "".join(
            "<tr>" + (f'<td rowspan="{len(chunks)}"><b>{title}</b></td>' if k == 0 else "")
            + "".join(f'{cell}<td align="left">{text}</td>' for cell, text in chunk)
            + (f'<td colspan="{2 * (per_row - len(chunk))}"></td>' if len(chunk) < per_row else "") + "</tr>"
            for k, chunk in enumerate(chunks))
    else:
        span = 2
        rows = (f'<tr><td colspan="2"><b>{title}</b></td></tr>'
                + "".join(f'<tr>{cell}<td align="left">{text}</td></tr>' for cell, text in entries))
    if footer:
        rows += f'<tr><td colspan="{span}">{footer}</td></tr>'
    return table + rows + "</table>>"


def _swatch(fill: str, text: str = "", width: int = 30) -> str:
    return f'<td bgcolor="{fill}" width="{width}">{text}</td>'


def _dashes() -> str:
    return f'<td><font color="{DEAD_TEXT}">- - -</font></td>'


def _signed_legend(gmax: float, threshold: float, across: bool) -> str:
    pos, _ = signed_colour(gmax, gmax)
    neg, _ = signed_colour(-gmax, gmax)
    entries = [(_swatch(pos), f"positive; widest = {fmt(gmax)}"), (_swatch(neg), "negative"),
               (_dashes(), f"zero: |flow| &lt;= {fmt(threshold)} (router loser, dead ReLU, saturated)")]
    return legend_table("gradient flow (local x upstream)", entries,
                        "colour and width grow with |gradient|", across=across, cellpadding=4)


def _norm_legend(gmax: float, threshold: float, across: bool) -> str:
    strong, _ = signed_colour(gmax, gmax)
    entries = [(_swatch(strong), f"widest = {html_text(fmt(gmax))}"),
               (_dashes(), f"zero: ‖g‖ &lt;= {html_text(fmt(threshold))} (dead ReLU, saturated, constant)")]
    return legend_table("gradient flow: ‖local x upstream‖ (Frobenius)", entries,
                        "colour and width grow with ‖g‖", across=across, cellpadding=4)


# What each kind of value box is, for the legend: (kind, sample text, meaning), in reading order.
_BOX_KINDS = (
    ("input", "w", "input or parameter (a leaf)"),
    ("constant", "2.0", "constant: a number, no gradient"),
    ("interior", "z", "computed value"),
    ("root", "C", "output: backward starts here"),
)


def _box_kind(cls: str) -> str:
    tokens = cls.split()
    if "root" in tokens:
        return "root"
    if "constant" in tokens or "const" in tokens:
        return "constant"
    return "input" if "leaf" in tokens else "interior"


def box_legend(scene: Scene, show_local: bool, show_grad: bool, across: bool = False) -> str:
    """The graph's legend: one swatch per kind of box it draws (its real fill), the gate, the edges.

    ``across``: entries side by side (see :func:`legend_table`).
    """
    fills: dict[str, str] = {}
    for box in scene.boxes:
        fills.setdefault(_box_kind(box.cls), box.fill)
    entries = [(_swatch(fills[kind], sample, 24), text) for kind, sample, text in _BOX_KINDS if kind in fills]
    if scene.group_boxes:
        entries.append((_swatch(GROUP_FILL), "a module's nodes, collapsed into one box"))
    if any(g is not None for g in scene.gates):
        entries.append((_swatch(OP_FILL, "×"), "gate: the op making the next box"))
    edge = [t for t, on in (("local = d out / d in", show_local),
                            ("carried = local × upstream", show_grad)) if on]
    footer = f"edges: {html_text(', '.join(edge))}" if edge else None
    return legend_table("legend", entries, footer, across=across)
