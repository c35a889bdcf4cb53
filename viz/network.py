"""``draw_network``: the lecture's layered picture of an MLP (inputs, hidden layers, outputs).

One circle per neuron, one edge per weight.  Edge colour is the sign (red
positive, blue negative) and width the magnitude of the weight, or of its
gradient with ``show_grad=True``.  Reads any MLP-like model with
``model.layers[i].neurons[j].w`` (a list of Values) and ``.b``; it does not
import ``nn``.
"""

from __future__ import annotations

import math
from typing import Any

from .dot import Diagram
from .graph import FONT, GROUP_FILL, LEAF_FILL, fmt

POSITIVE = (214, 39, 40)
NEGATIVE = (31, 119, 180)
FAINT = (220, 220, 220)


def _colour(v: float, vmax: float) -> tuple[str, float]:
    t = math.sqrt(min(abs(v) / vmax, 1.0)) if vmax > 0 else 0.0
    base = POSITIVE if v > 0 else NEGATIVE
    rgb = tuple(round(f + (b - f) * t) for f, b in zip(FAINT, base))
    return "#{:02x}{:02x}{:02x}".format(*rgb), 0.5 + 4.5 * t


def _layers(model: Any) -> list[Any]:
    layers = getattr(model, "layers", None)
    if layers is None or not all(hasattr(layer, "neurons") for layer in layers):
        raise TypeError(
            "draw_network needs an MLP-like model with .layers[i].neurons[j].w and .b "
            f"(e.g. nn.MLP), got {type(model).__name__}"
        )
    if not layers or not all(layer.neurons for layer in layers):
        raise ValueError("draw_network: the model has an empty layer")
    return list(layers)


def draw_network(model: Any, show_grad: bool = False, *, rankdir: str = "LR",
                 edge_labels: bool | None = None, max_edges: int = 5000) -> Diagram:
    """The neuron-level picture of an MLP as a ``graphviz.Digraph`` (a :class:`Diagram`).

    Inputs ``x1..xn`` on the left, then each layer in a box; every weight is
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
    nin = len(layers[0].neurons[0].w)
    n_edges = sum(len(n.w) for layer in layers for n in layer.neurons)
    if n_edges > max_edges:
        raise ValueError(
            f"the network has {n_edges} weights, more than max_edges={max_edges}: one edge per "
            "weight would be unreadable. Draw its graph with viz.draw_graph(..., collapse="
            "'layer') instead, or raise max_edges"
        )
    labels = n_edges <= 40 if edge_labels is None else bool(edge_labels)
    what = "grad" if show_grad else "data"
    vmax = max((abs(getattr(w, what)) for layer in layers for n in layer.neurons for w in n.w),
               default=0.0)

    g = Diagram("network")
    g.attr(rankdir=rankdir, fontname=FONT, nodesep="0.12", ranksep="1.2", splines="line",
           ordering="out")
    g.attr("node", fontname=FONT, fontsize="11", shape="circle", style="filled")
    g.attr("edge", fontname=FONT, fontsize="9", arrowsize="0.5")

    with g.subgraph(name="cluster_inputs") as c:
        c.attr(label="inputs", id="inputs", color="#bbbbbb", **{"class": "layer inputs"})
        for k in range(nin):
            c.node(f"in{k}", f"x{k + 1}", id=f"in{k}", fillcolor=LEAF_FILL,
                   **{"class": "input"})
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        act = getattr(layer, "activation", None) or getattr(layer.neurons[0], "activation", "")
        kind = "output" if i == last else "hidden"
        title = f"layer {i} ({kind}, {act})" if act else f"layer {i} ({kind})"
        with g.subgraph(name=f"cluster_layer{i}") as c:
            c.attr(label=title, id=f"layer{i}", color="#bbbbbb", **{"class": f"layer {kind}"})
            for j, neuron in enumerate(layer.neurons):
                b = neuron.b
                tip = (f"layers.{i}.neurons.{j}: {act or 'neuron'}, bias {fmt(b.data)}"
                       f" (grad {fmt(b.grad)}), {len(neuron.w)} weights")
                name = f"o{j + 1}" if i == last else f"h{j + 1}"
                fill = "#fff3d6" if i == last else GROUP_FILL
                c.node(f"L{i}N{j}", name, id=f"L{i}N{j}", fillcolor=fill, tooltip=tip,
                       **{"class": f"neuron {kind}"})
    for i, layer in enumerate(layers):
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.w):
                src = f"in{k}" if i == 0 else f"L{i - 1}N{k}"
                v = getattr(w, what)
                colour, width = _colour(v, vmax)
                sign = "positive" if v > 0 else "negative" if v < 0 else "zero"
                attrs = {"color": colour, "penwidth": f"{width:.2f}",
                         "class": f"weight {sign}",
                         "tooltip": f"layers.{i}.neurons.{j}.w.{k} = {fmt(w.data)}, "
                                    f"grad {fmt(w.grad)}"}
                if labels:
                    attrs["label"] = fmt(v)
                    attrs["fontcolor"] = colour
                g.edge(src, f"L{i}N{j}", id=f"w{i}_{j}_{k}", **attrs)
    pos, _ = _colour(vmax, vmax)
    neg, _ = _colour(-vmax, vmax)
    legend = (
        '<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
        f'<tr><td colspan="2"><b>edges: {"gradient dL/dw" if show_grad else "weight w"}</b>'
        "</td></tr>"
        f'<tr><td bgcolor="{pos}" width="24"></td><td align="left">positive (largest |{what}| '
        f"{fmt(vmax)})</td></tr>"
        f'<tr><td bgcolor="{neg}" width="24"></td><td align="left">negative</td></tr>'
        '<tr><td colspan="2">width grows with magnitude</td></tr></table>>'
    )
    g.node("legend", legend, id="legend", shape="plaintext", style="", **{"class": "legend"})
    return g
