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

    def legend(self, scene: Scene) -> str | None:
        """The legend's HTML-like label (``None``: no legend)."""
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

    def legend(self, scene: Scene) -> str | None:
        return box_legend(scene, self.show_local, self.show_grad) if self.show_legend else None


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
                    "label": label, "fontcolor": DEAD_TEXT, "fontsize": EDGE_LABEL_SIZE,
                    "class": "flow dead"}
        colour, width = signed_colour(flowed, scene.scale)
        cls = ("flow positive" if flowed > 0 else "flow negative") if scene.signed else "flow"
        return {"color": colour, "penwidth": f"{width:.2f}", "dir": "back", "label": label,
                "fontcolor": text_colour(flowed), "fontsize": EDGE_LABEL_SIZE, "class": cls}

    def wire_attrs(self, wire: Wire, scene: Scene) -> dict[str, str]:
        return self._flow(wire.flowed, wire.flow, scene)

    def bundle_attrs(self, wires: Sequence[Wire], total: float, scene: Scene) -> dict[str, str]:
        return self._flow(total, f"{len(wires)} edges, Σ {fmt(total)}", scene)

    def out_attrs(self, gate: Gate, scene: Scene) -> dict[str, str]:
        colour, width = (DEAD, 1.0) if gate.grad is None else signed_colour(gate.grad, scene.scale)
        return {"color": colour, "penwidth": f"{width:.2f}", "dir": "back"}

    def legend(self, scene: Scene) -> str:
        return _signed_legend(scene.scale, self.threshold) if scene.signed \
            else _norm_legend(scene.scale, self.threshold)


_TABLE = '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'


def _signed_legend(gmax: float, threshold: float) -> str:
    pos, _ = signed_colour(gmax, gmax)
    neg, _ = signed_colour(-gmax, gmax)
    return (
        _TABLE +
        '<tr><td colspan="2"><b>gradient flow (local x upstream)</b></td></tr>'
        f'<tr><td bgcolor="{pos}" width="30"></td><td align="left">positive; widest = '
        f"{fmt(gmax)}</td></tr>"
        f'<tr><td bgcolor="{neg}" width="30"></td><td align="left">negative</td></tr>'
        f'<tr><td><font color="{DEAD_TEXT}">- - -</font></td><td align="left">zero: '
        f"|flow| &lt;= {fmt(threshold)} (router loser, dead ReLU, saturated)</td></tr>"
        "<tr><td colspan=\"2\">colour and width grow with |gradient|</td></tr>"
        "</table>>"
    )


def _norm_legend(gmax: float, threshold: float) -> str:
    strong, _ = signed_colour(gmax, gmax)
    return (
        _TABLE +
        '<tr><td colspan="2"><b>gradient flow: ‖local x upstream‖ (Frobenius)</b></td></tr>'
        f'<tr><td bgcolor="{strong}" width="30"></td><td align="left">widest = '
        f"{html_text(fmt(gmax))}</td></tr>"
        f'<tr><td><font color="{DEAD_TEXT}">- - -</font></td><td align="left">zero: '
        f"‖g‖ &lt;= {html_text(fmt(threshold))} (dead ReLU, saturated, constant)</td></tr>"
        "<tr><td colspan=\"2\">colour and width grow with ‖g‖</td></tr>"
        "</table>>"
    )


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


def box_legend(scene: Scene, show_local: bool, show_grad: bool) -> str:
    """The graph's legend: one swatch per kind of box it draws (its real fill), the gate, the edges."""
    fills: dict[str, str] = {}
    for box in scene.boxes:
        fills.setdefault(_box_kind(box.cls), box.fill)
    rows = [f'<tr><td bgcolor="{fills[kind]}" width="24">{sample}</td><td align="left">{text}</td></tr>'
            for kind, sample, text in _BOX_KINDS if kind in fills]
    if scene.group_boxes:
        rows.append(f'<tr><td bgcolor="{GROUP_FILL}" width="30"></td><td align="left">'
                    "a module's nodes, collapsed into one box</td></tr>")
    if any(g is not None for g in scene.gates):
        rows.append(f'<tr><td bgcolor="{OP_FILL}" width="30">×</td><td align="left">'
                    "gate: the op making the next box</td></tr>")
    edge = [t for t, on in (("local = d out / d in", show_local),
                            ("carried = local × upstream", show_grad)) if on]
    if edge:
        rows.append(f'<tr><td colspan="2">edges: {html_text(", ".join(edge))}</td></tr>')
    return ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="2">'
            '<tr><td colspan="2"><b>legend</b></td></tr>' + "".join(rows) + "</table>>")
