"""``draw_network``: the lecture's layered picture of an MLP (inputs, hidden layers, outputs).

One circle per neuron, one edge per weight.  Edge colour is the sign (red
positive, blue negative) and width the magnitude of the weight, or of its
gradient with ``show_grad=True``.  Reads any MLP-like model with
``model.layers[i].neurons[j].w`` (a list of Values) and ``.b``, and an
``nn.Sequential`` of ``Linear`` and activation layers (row j of a (nout, nin)
weight is neuron j's weights).  Imports ``nn.layers`` (to read a Sequential),
:mod:`viz.dot`, :mod:`viz.style` and :mod:`viz.text`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..nn.layers import LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from .dot import Diagram
from .style import EDGE_LABEL_SIZE, FONT, GROUP_FILL, LEAF_FILL, ROOT_FILL, WEIGHT_WIDTHS, signed_colour, text_colour
from .text import fmt

EDGE_LABELS = 40  # at most this many weights: numbers on the edges (edge_labels=None)


def _colour(v: float, vmax: float) -> tuple[str, float]:
    return signed_colour(v, vmax, widths=WEIGHT_WIDTHS)


@dataclass
class _Neuron:
    """One neuron as drawn: weights and bias as (data, grad) pairs, and its names."""

    w: list[tuple[float, float]]
    b: tuple[float, float] | None
    name: str  # dotted name for tooltips: layers.1.neurons.3 / layers.2 neuron 3
    weight_names: list[str]


@dataclass
class _Layer:
    neurons: list[_Neuron]
    activation: str


def _layers(model: Any) -> list[_Layer]:
    seq = _sequential_layers(model)
    if seq is not None:
        return seq
    layers = getattr(model, "layers", None)
    if layers is None or not all(hasattr(layer, "neurons") for layer in layers):
        raise TypeError(
            "draw_network needs an MLP-like model with .layers[i].neurons[j].w and .b "
            f"(e.g. nn.MLP) or an nn.Sequential of Linear and activation layers, "
            f"got {type(model).__name__}"
        )
    if not layers or not all(layer.neurons for layer in layers):
        raise ValueError("draw_network: the model has an empty layer")
    out = []
    for i, layer in enumerate(layers):
        act = getattr(layer, "activation", None) or getattr(layer.neurons[0], "activation", "")
        neurons = [
            _Neuron([(w.data, w.grad) for w in n.w], (n.b.data, n.b.grad),
                    f"layers.{i}.neurons.{j}",
                    [f"layers.{i}.neurons.{j}.w.{k}" for k in range(len(n.w))])
            for j, n in enumerate(layer.neurons)
        ]
        out.append(_Layer(neurons, act))
    return out


def _activation_name(module: Any) -> str | None:
    if isinstance(module, LeakyReLU):
        return f"leaky_relu({fmt(module.slope)})"
    names = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh"}
    return next((name for cls, name in names.items() if isinstance(module, cls)), None)


def _sequential_layers(model: Any) -> list[_Layer] | None:
    """An nn.Sequential of Linear (+ activation) layers as drawn layers; None if not one."""
    if not isinstance(model, Sequential):
        return None
    out: list[_Layer] = []
    for li, module in enumerate(model.layers):
        act = _activation_name(module)
        if act is not None:
            if not out or out[-1].activation != "linear":
                raise ValueError(
                    f"draw_network: layers.{li} ({type(module).__name__}) must follow a Linear "
                    "layer (one activation per Linear)"
                )
            out[-1].activation = act
            continue
        _check_linear(module, li, out[-1].neurons if out else None)
        out.append(_Layer(_linear_neurons(module, li), "linear"))
    if not out:
        raise ValueError("draw_network: the Sequential has no Linear layer")
    return out


def _check_linear(module: Any, li: int, previous: list[_Neuron] | None) -> None:
    """``TypeError`` unless layers.li is a Linear; ``ValueError`` unless it fits the layer before."""
    if not isinstance(module, Linear):
        raise TypeError(
            f"draw_network draws a Sequential of Linear and activation layers (ReLU, "
            f"Sigmoid, Tanh, LeakyReLU); layers.{li} is a {type(module).__name__}. "
            "Draw its graph with viz.draw_graph instead"
        )
    if previous is not None and module.nin != len(previous):
        raise ValueError(
            f"draw_network: layers.{li} takes {module.nin} inputs but the layer before "
            f"gives {len(previous)}"
        )


def _linear_neurons(module: Linear, li: int) -> list[_Neuron]:
    """Row j of the (nout, nin) weight (and bias j) as neuron j, with (data, grad) pairs."""
    W = module.weight.data
    dW = module.weight.grad if module.weight.grad is not None else 0.0 * W
    bias = module.bias
    neurons = []
    for j in range(module.nout):
        b = None
        if bias is not None:
            gb = 0.0 if bias.grad is None else float(bias.grad[j])
            b = (float(bias.data[j]), gb)
        neurons.append(_Neuron(
            [(float(W[j, k]), float(dW[j, k])) for k in range(module.nin)], b,
            f"layers.{li} neuron {j}",
            [f"layers.{li}.weight[{j}, {k}]" for k in range(module.nin)],
        ))
    return neurons


def draw_network(model: Any, show_grad: bool = False, *, rankdir: str = "LR",
                 edge_labels: bool | None = None, max_edges: int = 5000) -> Diagram:
    """The neuron-level picture of an MLP as a ``graphviz.Digraph`` (a :class:`Diagram`).

    ``model``: an ``nn.MLP`` (or MLP-like), or an ``nn.Sequential`` of ``Linear``
    layers each optionally followed by an activation (``ReLU``, ``Sigmoid``,
    ``Tanh``, ``LeakyReLU``); weight row j of a (nout, nin) ``Linear`` is
    neuron j's incoming edges.

    Inputs ``x₁..xₙ`` on the left, then one column per layer, units in order
    from the top (``h¹₁, h¹₂, ...`` for hidden layer 1, ``o₁, ...`` for the
    outputs), placed explicitly (neato with pinned positions, so no renderer
    can reorder them), captions above and the legend below, where no edge
    runs (``rankdir`` TB/BT: rows, captions left, legend right).  Every weight is
    an edge coloured by sign and sized by |w| (``show_grad=True``: by
    |dL/dw|, the ``.grad`` from the last backward).  Neuron tooltips give the
    bias and activation; edge tooltips the parameter's dotted name, value and
    grad.  ``edge_labels`` (default: only when there are at most 40 weights)
    prints the numbers on the edges.  More than ``max_edges`` weights:
    ``ValueError`` (the picture would be a solid block).
    """
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be one of 'LR', 'RL', 'TB', 'BT', got {rankdir!r}")
    layers = _layers(model)
    n_edges = sum(len(n.w) for layer in layers for n in layer.neurons)
    if n_edges > max_edges:
        raise ValueError(
            f"the network has {n_edges} weights, more than max_edges={max_edges}: one edge per "
            "weight would be unreadable. Draw its graph with viz.draw_graph(..., collapse="
            "'layer') instead, or raise max_edges"
        )
    labels = n_edges <= EDGE_LABELS if edge_labels is None else bool(edge_labels)
    pick = 1 if show_grad else 0
    vmax = max((abs(w[pick]) for layer in layers for n in layer.neurons for w in n.w),
               default=0.0)
    g = _network_diagram()
    layout = _Layout(rankdir, [len(layers[0].neurons[0].w)] + [len(layer.neurons) for layer in layers],
                     _captions(layers))
    _draw_inputs(g, layout)
    _draw_layers(g, layers, layout)
    _draw_weights(g, layers, pick, vmax, layout if labels else None)
    legend = _legend(show_grad, vmax)
    g.node("legend", legend, id="legend", shape="plaintext", style="", fontsize="12", fixedsize="false",
           pos=layout.legend_pos(legend), **{"class": "legend"})
    return g


SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def unit_name(kind: str, layer: int, j: int) -> str:
    """The drawn name of unit j (from 0) of a column: ``x₁``, ``h²₃`` (hidden layer 2, unit 3), ``o₁``.

    Hidden units carry their layer number (from 1, as in the captions) as a
    superscript, so no two layers share a name.
    """
    sub = str(j + 1).translate(SUBSCRIPT)
    if kind == "hidden":
        return f"h{str(layer + 1).translate(SUPERSCRIPT)}{sub}"
    return ("x" if kind == "input" else "o") + sub


def _captions(layers: list[_Layer]) -> list[str]:
    """``inputs``, then ``layer 1 (hidden, relu)`` ... ``layer n (output, linear)``."""
    out = ["inputs"]
    for i, layer in enumerate(layers):
        kind = "output" if i == len(layers) - 1 else "hidden"
        act = f", {layer.activation}" if layer.activation else ""
        out.append(f"layer {i + 1} ({kind}{act})")
    return out


def _text_width(text: str, size: float = 12.0) -> float:
    """A generous estimate of a Helvetica line's width in inches (0.6 em per character)."""
    return len(text) * 0.6 * size / 72


class _Layout:
    """Explicit positions (inches) for every node: columns in order, units top to bottom.

    Column ``c`` (0: inputs) sits at ``c * step`` along the rank direction;
    its units are centred across it, unit 1 first (top, or left when
    ``rankdir`` is TB/BT).  Edges only run between columns, inside the units'
    bounding box, so the captions (above the box; left of it for TB/BT) and
    the legend (below it; right of it for TB/BT) never meet an edge.
    """

    ACROSS = 0.7  # between units of a column
    MARGIN = 0.45  # between the units' box and a caption or the legend

    def __init__(self, rankdir: str, sizes: list[int], captions: list[str]) -> None:
        self.rankdir, self.sizes, self.captions = rankdir, sizes, captions
        self.vertical = rankdir in ("TB", "BT")
        widest = max(_text_width(c) for c in captions)
        self.step = 1.6 if self.vertical else max(2.4, widest + 0.4)
        self.half = (max(sizes) - 1) * self.ACROSS / 2 + UNIT_SIZE / 2  # half the box across

    def _xy(self, along: float, across: float) -> tuple[float, float]:
        sign = -1.0 if self.rankdir in ("RL", "TB") else 1.0
        return (across, sign * along) if self.vertical else (sign * along, -across)

    def unit(self, col: int, j: int) -> str:
        """``pos`` of unit j of column col (pinned with ``!``)."""
        x, y = self._xy(col * self.step, (j - (self.sizes[col] - 1) / 2) * self.ACROSS)
        return f"{x:.3f},{y:.3f}!"

    def caption(self, col: int) -> str:
        """``pos`` of column col's caption: above the box (left of it for TB/BT)."""
        if self.vertical:
            x, y = self._xy(col * self.step, 0.0)
            return f"{-self.half - self.MARGIN - _text_width(self.captions[col]) / 2:.3f},{y:.3f}!"
        x, _ = self._xy(col * self.step, 0.0)
        return f"{x:.3f},{self.half + self.MARGIN:.3f}!"

    def centre(self, col: int, j: int) -> tuple[float, float]:
        """The centre (inches) of unit j of column col."""
        return self._xy(col * self.step, (j - (self.sizes[col] - 1) / 2) * self.ACROSS)

    def place_numbers(self, edges: list[tuple[int, int, int, str]]) -> list[dict[str, str]]:
        """Where each edge's number sits: ``taillabel`` distance and angle, one dict per edge.

        ``edges``: (column i, unit j of column i+1, unit k of column i, text).
        Each number goes 9 pt to one side of its line (never on the stroke), at
        the first fraction of the edge (from the middle outwards) and side
        where its box meets no number placed before and no unit; failing
        that, where it overlaps them least.
        """
        placed: list[_Rect] = [_around(self.centre(c, j), UNIT_SIZE, UNIT_SIZE)
                               for c, n in enumerate(self.sizes) for j in range(n)]
        out = []
        for i, j, k, text in edges:
            tail, head = self.centre(i, k), self.centre(i + 1, j)
            spots = [_number_spot(tail, head, t, side, text) for t in NUMBER_FRACTIONS for side in (1, -1)]
            side, d, box = min(spots, key=lambda spot: sum(_overlap(spot[2], p) for p in placed))
            placed.append(box)
            angle = side * math.degrees(math.asin(NUMBER_OFFSET / d))
            out.append({"labeldistance": f"{d * 7.2:.3f}", "labelangle": f"{angle:.2f}"})  # tens of points
        return out

    def legend_pos(self, legend: str) -> str:
        """``pos`` of the legend: below the box, from its start (right of it for TB/BT)."""
        lines = [re.sub(r"<[^>]*>", "", row) for row in legend.split("</tr>")[:-1]]
        width = max(_text_width(line) for line in lines) + 0.5
        height = 0.3 * len(lines)
        ends = [self._xy(0.0, 0.0), self._xy((len(self.sizes) - 1) * self.step, 0.0)]
        if self.vertical:
            return f"{self.half + self.MARGIN + width / 2:.3f},{(ends[0][1] + ends[1][1]) / 2:.3f}!"
        left = min(x for x, _ in ends) - UNIT_SIZE / 2
        return f"{left + width / 2:.3f},{-self.half - self.MARGIN - height / 2:.3f}!"


UNIT_SIZE = 0.55  # the diameter of a unit's circle, inches
NUMBER_FRACTIONS = (0.5, 0.3, 0.7, 0.2, 0.4, 0.6, 0.8, 0.12, 0.9)  # where along an edge, tried in turn
NUMBER_OFFSET = 0.125  # inches (9 pt) from the line to the number's centre
_Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in inches


def _around(c: tuple[float, float], w: float, h: float) -> _Rect:
    return (c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)


def _overlap(a: _Rect, b: _Rect) -> float:
    """The area two boxes share (0.0 when they are apart)."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _number_spot(tail: tuple[float, float], head: tuple[float, float], t: float, side: int,
                 text: str) -> tuple[int, float, _Rect]:
    """(side, distance from the tail's rim, box of the number) at fraction t of the edge's free length.

    ``side`` 1 puts the number left of the line (seen from the tail), -1 right.
    """
    length = math.hypot(head[0] - tail[0], head[1] - tail[1])
    ux, uy = (head[0] - tail[0]) / length, (head[1] - tail[1]) / length
    d = max(t * (length - UNIT_SIZE), NUMBER_OFFSET * 1.5)
    along, off = UNIT_SIZE / 2 + math.sqrt(d * d - NUMBER_OFFSET ** 2), side * NUMBER_OFFSET
    centre = (tail[0] + ux * along - uy * off, tail[1] + uy * along + ux * off)
    return side, d, _around(centre, _text_width(text) + 0.04, 12 / 72 + 0.04)


def _network_diagram() -> Diagram:
    g = Diagram("network", engine="neato")
    g.attr(layout="neato", fontname=FONT, splines="false", overlap="true", outputorder="edgesfirst")
    g.attr("node", fontname=FONT, fontsize="12", shape="circle", style="filled", fixedsize="true",
           width=str(UNIT_SIZE))
    g.attr("edge", fontname=FONT, fontsize=EDGE_LABEL_SIZE, arrowsize="0.5")
    return g


def _caption(g: Diagram, layout: _Layout, col: int, ident: str, kind: str) -> None:
    g.node(f"caption{col}", layout.captions[col], id=ident, shape="plaintext", style="",
           fixedsize="false", width="0", fontsize="13", pos=layout.caption(col),
           **{"class": f"layer caption {kind}"})


def _draw_inputs(g: Diagram, layout: _Layout) -> None:
    _caption(g, layout, 0, "inputs", "inputs")
    for k in range(layout.sizes[0]):
        g.node(f"in{k}", unit_name("input", 0, k), id=f"in{k}", fillcolor=LEAF_FILL,
               pos=layout.unit(0, k), tooltip=f"input {k + 1}", **{"class": "input"})


def _draw_layers(g: Diagram, layers: list[_Layer], layout: _Layout) -> None:
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        act = layer.activation
        kind = "output" if i == last else "hidden"
        _caption(g, layout, i + 1, f"layer{i}", kind)
        for j, neuron in enumerate(layer.neurons):
            b = neuron.b
            bias = "no bias" if b is None else f"bias {fmt(b[0])} (grad {fmt(b[1])})"
            name = unit_name(kind, i, j)
            tip = f"{name} = {neuron.name}: {act or 'neuron'}, {bias}, {len(neuron.w)} weights"
            fill = ROOT_FILL if i == last else GROUP_FILL
            g.node(f"L{i}N{j}", name, id=f"L{i}N{j}", fillcolor=fill, tooltip=tip,
                   pos=layout.unit(i + 1, j), **{"class": f"neuron {kind}"})


def _draw_weights(g: Diagram, layers: list[_Layer], pick: int, vmax: float,
                  labels: _Layout | None) -> None:
    """One edge per weight; ``labels``: print each number at its own place along its edge."""
    edges = [(i, j, k, fmt(w[pick])) for i, layer in enumerate(layers)
             for j, neuron in enumerate(layer.neurons) for k, w in enumerate(neuron.w)]
    spots = labels.place_numbers(edges) if labels is not None else [{} for _ in edges]
    for (i, j, k, text), spot in zip(edges, spots):
        neuron = layers[i].neurons[j]
        w = neuron.w[k]
        v = w[pick]
        colour, width = _colour(v, vmax)
        sign = "positive" if v > 0 else "negative" if v < 0 else "zero"
        attrs = {"color": colour, "penwidth": f"{width:.2f}", "class": f"weight {sign}",
                 "tooltip": f"{neuron.weight_names[k]} = {fmt(w[0])}, grad {fmt(w[1])}"}
        if spot:
            attrs.update(spot, taillabel=text, fontcolor=text_colour(v))
        src = f"in{k}" if i == 0 else f"L{i - 1}N{k}"
        g.edge(src, f"L{i}N{j}", id=f"w{i}_{j}_{k}", **attrs)


def _legend(show_grad: bool, vmax: float) -> str:
    what = "grad" if show_grad else "data"
    pos, _ = _colour(vmax, vmax)
    neg, _ = _colour(-vmax, vmax)
    return (
        '<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
        f'<tr><td colspan="2"><b>edges: {"gradient dL/dw" if show_grad else "weight w"}</b>'
        "</td></tr>"
        f'<tr><td bgcolor="{pos}" width="24"></td><td align="left">positive (largest |{what}| '
        f"{fmt(vmax)})</td></tr>"
        f'<tr><td bgcolor="{neg}" width="24"></td><td align="left">negative</td></tr>'
        '<tr><td colspan="2">width grows with magnitude</td></tr></table>>'
    )
