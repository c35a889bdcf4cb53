"""Stepping through backprop: the backward pass, one gate at a time, in the lecture's words.

``BackpropStepper(root)`` reads the engine's own schedule
(``engine.backward_schedule``: the same loop as ``backward``, replayed on a
private copy, so the graph's real ``.grad`` values are never touched).  Step
``i`` is one gate: its upstream gradient, its rule, and for every input
``input.grad += local x upstream`` with the numbers.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..engine import Tensor, Trace, Value, backward_schedule
from .core import check_layout
from .dot import Diagram
from .frames import apng, gif, pillow, same_size, write_file
from .limits import DiagramTooBigError
from .stepmath import (
    SLOTS,
    formula_mathml,
    mathml,
    mo,
    name_mathml,
    number_mathml,
    partial_mathml,
    prose_html,
    slot,
)
from .style import DONE_FILL, GraphStyle
from .text import fmt
from .value_graph import Marks, draw_values
from .walk import GraphIndex, grouped, index_graph, reaches_more_than

# the stepper's boxes show the grads known so far (through Marks), its edges the local gradient
STEP_STYLE = GraphStyle(show_grad=False, show_local=True, stack_fields=False)
# "current" is purple, never red or blue: red and blue mean a positive and a negative gradient
# in draw_flow.  Done is green (style.DONE_FILL), partial cream, pending white.
STEP_CURRENT_FILL = "#e4d7f5"  # pale lavender
STEP_CURRENT_EDGE = "#6a3d9a"  # purple (ColorBrewer Paired), 8.6:1 on white
# the widget's step text: the page's sizes for the maths (readable on a projector)
WIDGET_STYLE = ("<style>.tg-widget{font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222}"
                ".tg-widget .tg-head{font-weight:bold;color:#444}"
                ".tg-widget .tg-eq math{font-size:21px;margin:0.1em 0}"
                ".tg-widget .tg-eq msub>:nth-child(2),.tg-widget .tg-eq msup>:nth-child(2),"
                ".tg-widget .tg-eq msubsup>:nth-child(n+2){font-size:max(14px,0.72em)}"
                ".tg-widget .tg-sep,.tg-widget .tg-sum{font-size:16px;color:#444}"
                ".tg-widget .tg-note{font-size:13px;color:#555}</style>")

# ---------------------------------------------------------------- the op table's rules as text


def local_expressions(op: Any, parents: list[str], out: str) -> tuple[str, ...]:
    """Each input's local gradient d out / d parents[k] as text, from the op's own rule.

    ``op.local_text`` on the ``.data`` names: ``('b.data', 'a.data')`` for
    ``out = a × b``, ``('o1.data·(1 - o1.data)',)`` for ``o1 = σ(z3)``; a sum or
    difference is bracketed, ``(1 - o.data·o.data)``, as the step multiplies it
    by the upstream gradient.  An op without a symbolic rule reads ``dout/dp``.
    """
    texts = op.local_text([f"{p}.data" for p in parents], f"{out}.data")
    if len(texts) != len(parents):
        return tuple(f"d{out}/d{p}" for p in parents)
    return tuple(_factor(t) for t in texts)


def local_mathml(op: Any, parents: list[str], out: str) -> tuple[str, ...]:
    """Each input's local gradient as MathML: ``o₁·(1 − o₁)`` for ``o1 = σ(z3)``.

    The rule is read with stand-ins for the names (:func:`stepmath.slot`), so
    a label with any characters in it stays one name; bracketed as in
    :func:`local_expressions`.  An op without a symbolic rule reads ∂out/∂p.
    """
    if len(parents) < SLOTS:
        names = {slot(0): name_mathml(out)}
        names.update((slot(k + 1), name_mathml(p)) for k, p in enumerate(parents))
        texts = op.local_text([slot(k + 1) for k in range(len(parents))], slot(0))
        if len(texts) == len(parents):
            return tuple(formula_mathml(_factor(t), names) for t in texts)
    return tuple(partial_mathml(out, p) for p in parents)


def forward_mathml(op: Any, parents: list[str]) -> str:
    """How a node is made, as MathML: ``w₅ × h₁``, ``σ(z₃)``; ``parents`` are ready MathML."""
    if len(parents) >= SLOTS:
        return formula_mathml(op.forward_text(["…"]))
    names = {slot(k): p for k, p in enumerate(parents)}
    return formula_mathml(op.forward_text([slot(k) for k in range(len(parents))]), names)


def value_mathml(x: float) -> str:
    """A value inside a formula: ``0.55``; a negative one bracketed, (−0.3)."""
    n = number_mathml(fmt(x))
    return f"<mrow>{mo('(')}{n}{mo(')')}</mrow>" if x < 0 else n


def _factor(text: str) -> str:
    """``text`` bracketed when a ``+`` or ``-`` joins its terms at the top level."""
    depth = 0
    for i, c in enumerate(text):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif depth == 0 and c in "+-" and text[i - 1:i] == " " and text[i + 1:i + 2] == " ":
            return f"({text})"
    return text


def gate_title(op: Any) -> str:
    """``'mul gate (swap multiplier)'``; just ``'sigmoid gate'`` when the two agree."""
    plain = f"{op.name} gate"
    return plain if op.gate == plain else f"{plain} ({op.gate})"


# ---------------------------------------------------------------- steps


@dataclass(frozen=True)
class EdgeStep:
    """One input of one step: ``input.grad += local x upstream``."""

    input: str
    input_id: str
    edge_id: str
    expression: str  # the local gradient in words
    local: float
    contribution: float
    accumulated: float
    text: str


@dataclass(frozen=True)
class StepInfo:
    """One gate of the backward pass, in the engine's order."""

    index: int
    node: str  # display name
    node_id: str  # SVG id of its Value box (n{i}); the gate is op{i}
    op: str
    gate: str
    upstream: float
    edges: tuple[EdgeStep, ...]
    text: str


class BackwardTable:
    """The backward schedule as one table: aligned text in a terminal, HTML in Jupyter."""

    COLUMNS = ("step", "node", "op", "gate", "upstream", "input", "local", "contribution",
               "accumulated")

    def __init__(self, steps: list[StepInfo]) -> None:
        self.rows: list[tuple[str, ...]] = []
        self.row_steps: list[int] = []
        for s in steps:
            for j, e in enumerate(s.edges):
                head = (str(s.index + 1), s.node, s.op, s.gate, fmt(s.upstream)) if j == 0 \
                    else ("", "", "", "", "")
                self.rows.append((*head, e.input, fmt(e.local), fmt(e.contribution),
                                  fmt(e.accumulated)))
                self.row_steps.append(s.index)

    def __len__(self) -> int:
        return len(self.rows)

    def __str__(self) -> str:
        table = [self.COLUMNS, *self.rows]
        widths = [max(len(r[c]) for r in table) for c in range(len(self.COLUMNS))]
        numeric = {0, 4, 6, 7, 8}

        def line(r: tuple[str, ...]) -> str:
            cells = [r[c].rjust(widths[c]) if c in numeric else r[c].ljust(widths[c])
                     for c in range(len(r))]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(self.COLUMNS), rule, *(line(r) for r in self.rows)])

    __repr__ = __str__

    def to_html(self) -> str:
        """An HTML ``<table>`` (each row has ``data-step``, the 0-based step index)."""
        head = "".join(f"<th>{c}</th>" for c in self.COLUMNS)
        body = []
        for step, r in zip(self.row_steps, self.rows):
            cells = "".join(f"<td>{html.escape(c)}</td>" for c in r)
            body.append(f'<tr data-step="{step}">{cells}</tr>')
        return (f'<table class="tg-table"><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>")

    def _repr_html_(self) -> str:
        return self.to_html()


class BackpropStepper:
    """The backward pass from ``root`` as a sequence of steps (one per gate).

    ``stepper[i].text`` narrates step ``i``; ``render(i)`` draws the graph with
    that gate highlighted, finished gradients filled in, partial ones marked
    ``…`` and pending ones ``?``; ``table()`` is the whole schedule;
    ``to_html(path)`` writes a self-contained page: a legend of the states
    (done green, partial cream, current purple, pending white), each step as
    maths (∂C/∂z₃ += o₁·(1 − o₁) × ∂C/∂o₁ = …), prev/next, play/pause with a
    speed, a slider, arrow keys, zoom that keeps text ≥ 12 px, and a forward
    mode that steps through the values first; without JavaScript it lists
    every step and shows the graph at step 1.  ``widget()`` gives controls in
    Jupyter (ipywidgets).  For slides: ``save_frames(folder)`` writes one PNG
    per backward step (``frame_001.png`` …, one layout, one size) and
    ``save_animation('backprop.png')`` an animated PNG (``.gif`` with Pillow).
    The graph's real gradients are never touched.
    """

    def __init__(self, root: Value, grad: float = 1.0, *, rankdir: str = "auto",
                 max_nodes: int = 2000) -> None:
        if isinstance(root, (Tensor, Trace)):
            raise TypeError(
                f"BackpropStepper steps through scalar (engine.Value) graphs only, got an "
                f"engine.{type(root).__name__}: draw it with viz.draw_graph / viz.draw_flow, "
                "or step through the same computation built from Values"
            )
        if not isinstance(root, Value):
            raise TypeError(f"BackpropStepper needs an engine.Value, got {type(root).__name__}")
        if isinstance(grad, bool) or not isinstance(grad, (int, float)):
            raise TypeError(f"the seed gradient must be a number, got {type(grad).__name__}")
        if not math.isfinite(grad):
            raise ValueError(f"the seed gradient must be finite, got {grad!r}")
        check_layout(rankdir, max_nodes)
        self.root = root
        self.seed = float(grad)
        self.rankdir = rankdir
        self.max_nodes = max_nodes
        if reaches_more_than(root, max_nodes):  # stops walking at node max_nodes + 1
            raise DiagramTooBigError(
                f"the graph has more than max_nodes={max_nodes} nodes; "
                "step through a smaller graph (one neuron, one sample) or raise max_nodes"
            )
        self.graph: GraphIndex = index_graph(root)
        self._schedule = backward_schedule(root, self.seed)
        self.steps: list[StepInfo] = [self._describe(s) for s in self._schedule]
        self._events = self._grad_events()
        self._svg_cache: dict[int, str] = {}
        self._widths: dict[str, float] | None = None

    # ------------------------------------------------------------ the steps
    def _describe(self, step: Any) -> StepInfo:
        gi = self.graph
        i = gi.of(step.node)
        node = step.node
        out = gi.names[i]
        parents = [gi.name(p) for p in node.parents]
        # in formulas a name that is an expression (y-o1) is bracketed: (y-o1).grad, (y-o1)^2
        g_out, g_parents = grouped(out), [grouped(p) for p in parents]
        title = gate_title(node.op)
        exprs = local_expressions(node.op, g_parents, g_out)
        edges = []
        for e in step.edges:
            expr = exprs[e.index]
            p = g_parents[e.index]
            text = (f"{title}: {p}.grad += {expr} x {g_out}.grad = {fmt(e.local)} x "
                    f"{fmt(step.upstream)} = {fmt(e.contribution)}")
            if e.accumulated != e.contribution:
                text += f" (so {p}.grad is now {fmt(e.accumulated)})"
            edges.append(EdgeStep(parents[e.index], f"n{gi.of(e.parent)}", f"e{i}_{e.index}", expr, e.local,
                                  e.contribution, e.accumulated, text))
        n = len(self._schedule)
        header = (f"step {step.index + 1} of {n}: {out} = "
                  f"{node.op.forward_text(g_parents)} = {fmt(node.data)}, "
                  f"upstream {g_out}.grad = {fmt(step.upstream)}")
        rule = f"  {node.op.explain} [{node.op.formula}]"
        text = "\n".join([header, rule, *(f"  {e.text}" for e in edges)])
        return StepInfo(step.index, out, f"n{i}", node.op.name, node.op.gate, step.upstream,
                        tuple(edges), text)

    def _grad_events(self) -> list[list[tuple[int, float, bool]]]:
        """Per node: (step, accumulated grad, final?) each time it receives a gradient."""
        gi = self.graph
        remaining = [len(c) for c in gi.consumers]
        events: list[list[tuple[int, float, bool]]] = [[] for _ in gi.order]
        events[-1].append((-1, self.seed, True))
        for s in self._schedule:
            for e in s.edges:
                j = gi.of(e.parent)
                remaining[j] -= 1
                events[j].append((s.index, e.accumulated, remaining[j] == 0))
        return events

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> StepInfo:
        return self.steps[self._check(i)]

    def __iter__(self) -> Iterator[StepInfo]:
        return iter(self.steps)

    def _check(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"step index must be an int, got {type(i).__name__}")
        n = len(self.steps)
        if n == 0:
            raise IndexError(f"step {i} out of range: the root {self.graph.names[-1]!r} is a leaf, "
                             "so its backward pass has no steps")
        if not -n <= i < n:
            raise IndexError(f"step {i} out of range: this backward pass has {n} steps "
                             f"(0 to {n - 1})")
        return i % n

    def text(self, i: int) -> str:
        """The narration of step ``i``."""
        return self[i].text

    def grad_state(self, i: int, node_index: int) -> tuple[str, float | None]:
        """``('final'|'partial'|'pending', grad so far)`` of a node after step ``i``."""
        last = None
        for ev in self._events[node_index]:
            if ev[0] <= i:
                last = ev
        if last is None:
            return "pending", None
        return ("final" if last[2] else "partial"), last[1]

    # ------------------------------------------------------------ pictures
    def render(self, i: int) -> Diagram:
        """The graph after step ``i``: that gate highlighted, grads filled in as far as known."""
        i = self._check(i)
        g = draw_values(self.graph, STEP_STYLE, grads=flow_final(self), marks=self._marks(i),
                        rankdir=self.rankdir, max_nodes=self.max_nodes, name=f"step{i + 1}")
        j = self.steps[i].node_id[1:]  # the current gate and its box: purple outline, lavender gate
        g.node(f"n{j}", color=STEP_CURRENT_EDGE, penwidth="2.5")
        g.node(f"op{j}", color=STEP_CURRENT_EDGE, penwidth="2.5", fillcolor=STEP_CURRENT_FILL)
        return g

    def _marks(self, i: int, prefix: str = "") -> Marks:
        """Step ``i``'s decorations; CSS classes ``current``/``final``/``partial``/``pending``
        (each with ``prefix``, the page's ``tg-``)."""
        step = self.steps[i]
        current_edges = {e.edge_id for e in step.edges}

        def grad_text(j: int) -> str:
            state, g = self.grad_state(i, j)
            return "?" if g is None else fmt(g) + ("…" if state == "partial" else "")

        def node_class(j: int) -> str:
            state = "current" if f"n{j}" == step.node_id else self.grad_state(i, j)[0]
            return prefix + state

        def node_fill(j: int) -> str | None:
            if f"n{j}" == step.node_id:
                return STEP_CURRENT_FILL
            return DONE_FILL if self.grad_state(i, j)[0] == "final" else None

        def edge_attrs(j: int, k: int) -> dict[str, str]:
            if f"e{j}_{k}" in current_edges:
                return {"color": STEP_CURRENT_EDGE, "penwidth": "2.5", "class": f"grad {prefix}current"}
            return {}

        return Marks(grad_text=grad_text, node_class=node_class, node_fill=node_fill,
                     edge_attrs=edge_attrs)

    def table(self) -> BackwardTable:
        """The whole backward schedule: step, node, op, gate, upstream, input, local,
        contribution, accumulated grad."""
        return BackwardTable(self.steps)

    # ------------------------------------------------------------ the page
    def _widest(self) -> Diagram:
        """The graph at step 1, each box laid out with the longest grad text it ever shows."""
        final = flow_final(self)
        if not self.steps:
            marks = Marks(grad_text=lambda j: fmt(final[j]))
        else:
            step1 = self._marks(0, "tg-")
            marks = Marks(grad_text=lambda j: max(self._grad_texts(j), key=len),
                          node_class=step1.node_class, node_fill=step1.node_fill,
                          edge_attrs=step1.edge_attrs)
        return draw_values(self.graph, STEP_STYLE, grads=final, marks=marks, rankdir=self.rankdir,
                           max_nodes=self.max_nodes, name="backprop")

    def _page_svg(self) -> str:
        """The graph as it stands at step 1 (so the page shows it without JavaScript).

        Laid out with each box's longest grad text (the page's script rewrites
        them step by step), then the texts set back to step 1's.
        """
        svg = self._widest().pipe(format="svg", encoding="utf-8")
        svg = svg[max(svg.find("<svg"), 0):]
        if self.steps:
            first = self._marks(0).grad_text
            assert first is not None
            for j in range(len(self.graph.order)):
                svg = _set_grad_text(svg, f"n{j}", str(first(j)))
        return svg

    def _box_widths(self) -> dict[str, float]:
        """Each value box's width (inches) with its longest grad text: pinned in every frame."""
        if self._widths is None:
            self._widths = box_widths(self._widest().pipe(format="svg", encoding="utf-8"))
        return self._widths

    def frame(self, i: int) -> Diagram:
        """``render(i)`` with every box as wide as its longest grad text makes it, so all
        frames share one layout (nothing jumps between steps in an animation)."""
        g = self.render(i)
        for node_id, width in self._box_widths().items():
            g.node(node_id, width=f"{width:.4f}")
        return g

    def frame_pngs(self, *, scale: float = 1.0) -> list[bytes]:
        """Every backward step's frame as PNG (``scale`` × 96 dpi), all of one pixel size
        (padded with white, right and bottom, should layouts ever differ)."""
        return same_size([self.frame(i).png(scale=scale) for i in range(len(self._nonempty()))])

    def _nonempty(self) -> list[StepInfo]:
        if not self.steps:
            raise ValueError(f"nothing to draw: the root {self.graph.names[-1]!r} is a leaf, so its "
                             "backward pass has no steps")
        return self.steps

    def save_frames(self, folder: str | os.PathLike[str], *, scale: float = 1.0,
                    prefix: str = "frame_") -> list[Path]:
        """One PNG per backward step in ``folder``: ``frame_001.png`` (step 1), ``frame_002.png``, …

        All of one pixel size, at ``scale`` × 96 dpi (``scale=2`` for slides).
        Every frame is drawn before any file is written, and each file is
        written whole or not at all.  Returns the paths, in step order.
        """
        out = Path(folder)
        if not out.exists():
            raise FileNotFoundError(f"save_frames: the folder {out} does not exist (create it first)")
        if not out.is_dir():
            raise NotADirectoryError(f"save_frames needs a folder, got the file {out}")
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "/\\"):
            raise ValueError(f"save_frames: prefix must be a file-name start without slashes, "
                             f"got {prefix!r}")
        pngs = self.frame_pngs(scale=scale)
        width = max(3, len(str(len(pngs))))
        paths = [out / f"{prefix}{k + 1:0{width}d}.png" for k in range(len(pngs))]
        for path, data in zip(paths, pngs):
            write_file(path, data)
        return paths

    ANIMATIONS = (".png", ".apng", ".gif")

    def save_animation(self, path: str | os.PathLike[str], *, seconds_per_step: float = 1.0,
                       hold_last: float = 3.0, scale: float = 1.0, loops: int = 0) -> Path:
        """The backward pass as one animation for slides, its format from the suffix.

        ``.png`` / ``.apng``: an animated PNG (pure Python, full colour; a
        viewer without APNG shows step 1).  ``.gif``: a GIF (needs Pillow, the
        ``notebooks`` extra).  Each step shows ``seconds_per_step`` seconds,
        the last ``hold_last``; ``loops=0`` plays forever.  Written whole or
        not at all; returns the path.
        """
        out = Path(path)
        suffix = out.suffix.lower()
        if suffix not in self.ANIMATIONS:
            raise ValueError(f"save_animation: unknown suffix {out.suffix or '(none)'!r} in {out}; "
                             "use .png or .apng (animated PNG) or .gif")
        if out.is_dir():
            raise IsADirectoryError(f"save_animation needs a file path, got the directory {out}")
        if not out.parent.is_dir():
            raise FileNotFoundError(f"cannot write {out}: the folder {out.parent} does not exist")
        for name, seconds in (("seconds_per_step", seconds_per_step), ("hold_last", hold_last)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                    or not 0.01 <= seconds <= 600:
                raise ValueError(f"save_animation: {name} must be a number of seconds in "
                                 f"[0.01, 600], got {seconds!r}")
        if isinstance(loops, bool) or not isinstance(loops, int) or not 0 <= loops < 65536:
            raise ValueError(f"save_animation: loops must be an int in [0, 65535] (0: forever), "
                             f"got {loops!r}")
        if suffix == ".gif":
            pillow()  # before drawing: say at once when it is missing
        pngs = self.frame_pngs(scale=scale)
        delays = [float(seconds_per_step)] * (len(pngs) - 1) + [float(hold_last)]
        data = gif(pngs, delays, loops) if suffix == ".gif" else apng(pngs, delays, loops)
        write_file(out, data)
        return out

    def _grad_texts(self, j: int) -> list[str]:
        """Every grad text node ``j``'s box shows during the backward pass ('?', partial, final)."""
        return ["?", *(fmt(g) + ("" if final else "…") for _, g, final in self._events[j])]

    def forward_order(self) -> list[int]:
        """The gates of the forward pass: every computed node's index, inputs before outputs."""
        return [j for j, node in enumerate(self.graph.order) if node.parents]

    def forward_html(self, k: int) -> str:
        """Forward step ``k`` as maths (MathML): ``mul₆ = w₅ × h₁ = 0.55 × 0.6154 = 0.3385``."""
        order = self.forward_order()
        j = order[k]
        gi = self.graph
        node = gi.order[j]
        names = [name_mathml(gi.name(p)) for p in node.parents]
        values = [value_mathml(p.data) for p in node.parents]
        eq = mathml(name_mathml(gi.names[j]), mo("="), forward_mathml(node.op, names), mo("="),
                  forward_mathml(node.op, values), mo("="), number_mathml(fmt(node.data)))
        return (f'<div class="tg-head">forward step {k + 1} of {len(order)} · '
                f"{html.escape(gate_title(node.op))}</div>"
                f'<div class="tg-eq">{eq}</div>')

    def step_html(self, i: int) -> str:
        """Backward step ``i`` as maths (MathML): ``∂C/∂z₃ = o₁·(1 − o₁) · ∂C/∂o₁ = …``.

        An input with one consumer gets its whole gradient here (``=``); one
        that feeds several gates accumulates it (``+=``, and the sum so far).
        """
        s = self[i]
        gi = self.graph
        root = gi.names[-1]
        j = int(s.node_id[1:])
        node = gi.order[j]
        parents = [gi.name(p) for p in node.parents]
        locals_ = local_mathml(node.op, parents, s.node)
        d_out = partial_mathml(root, s.node)
        made = mathml(name_mathml(s.node), mo("="),
                    forward_mathml(node.op, [name_mathml(p) for p in parents]), mo("="),
                    number_mathml(fmt(node.data)))
        upstream = mathml(d_out, mo("="), number_mathml(fmt(s.upstream)))
        lines = [f'<div class="tg-head">backward step {s.index + 1} of {len(self.steps)} · '
                 f"{html.escape(gate_title(node.op))}</div>",
                 f'<div class="tg-eq">{made}<span class="tg-sep">, upstream</span> {upstream}</div>']
        for e in s.edges:
            k = int(e.edge_id.split("_")[1])
            accumulates = len(gi.consumers[gi.of(node.parents[k])]) > 1
            eq = mathml(partial_mathml(root, e.input), mo("+=" if accumulates else "="), locals_[k],
                      mo("·"), d_out, mo("="), number_mathml(fmt(e.local)), mo("×"),
                      number_mathml(fmt(s.upstream)), mo("="), number_mathml(fmt(e.contribution)))
            if e.accumulated != e.contribution:
                eq += f' <span class="tg-sum">(now {mathml(number_mathml(fmt(e.accumulated)))} in all)</span>'
            lines.append(f'<div class="tg-eq">{eq}</div>')
        lines.append(f'<div class="tg-note">{prose_html(node.op.explain)}</div>')
        return "".join(lines)

    def _page_data(self) -> dict[str, Any]:
        grads = {}
        for j, evs in enumerate(self._events):
            grads[f"n{j}"] = [[s, fmt(g), final] for s, g, final in evs]
        order = self.forward_order()
        computed = {f"n{j}": -1 for j in range(len(self.graph.order))}
        for k, j in enumerate(order):
            computed[f"n{j}"] = k
        return {
            "steps": [{"node": s.node_id, "op": "op" + s.node_id[1:],
                       "edges": [e.edge_id for e in s.edges], "text": s.text}
                      for s in self.steps],
            "forward": [{"node": f"n{j}", "op": f"op{j}", "edges": [
                f"e{j}_{k}" for k in range(len(self.graph.order[j].parents))] + [f"o{j}"]}
                for j in order],
            "computed": computed,
            "grads": grads,
        }

    def _sections(self) -> str:
        """Every step as static HTML (the page's script shows one at a time)."""
        fwd = "".join(f'<li class="tg-step" data-mode="forward" data-step="{k}">{self.forward_html(k)}</li>'
                      for k in range(len(self.forward_order())))
        bwd = "".join(f'<li class="tg-step" data-mode="backward" data-step="{i}">{self.step_html(i)}</li>'
                      for i in range(len(self.steps)))
        return (f'<ol class="tg-steps tg-backward-steps">{bwd}</ol>'
                f'<ol class="tg-steps tg-forward-steps">{fwd}</ol>')

    def html(self, *, full_page: bool = True) -> str:
        """The self-contained step-through page (``full_page=False``: a fragment to embed)."""
        data = self._page_data()
        svg = self._page_svg()
        digest = hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]
        rank = re.search(r"rankdir=(\w+)", self._widest().source)
        return build_page(uid=f"tg{digest}", svg=svg, data=data, steps=self._sections(),
                          table=self.table().to_html(), full_page=full_page,
                          rankdir=rank.group(1) if rank else "TB",
                          title=f"backprop through {self.graph.names[-1]}")

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (one file, no network access needed); return the path."""
        out = Path(path)
        if out.is_dir():
            raise IsADirectoryError(f"to_html needs a file path, got the directory {out}")
        if not out.parent.is_dir():
            raise FileNotFoundError(f"cannot write {out}: the folder {out.parent} does not exist")
        text = self.html()
        tmp = out.with_name(out.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return out

    def _repr_html_(self) -> str:
        return self.html(full_page=False)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """The page (text/html: it shows step 1 and every step's maths even where no script
        runs, as in a saved notebook) and the first steps as text (text/plain)."""
        return {"text/html": self.html(full_page=False), "text/plain": self.summary()}

    def summary(self, steps: int = 3) -> str:
        """The first ``steps`` steps as text, with how to open the page."""
        head = (f"BackpropStepper: backprop through {self.graph.names[-1]}, {len(self.steps)} "
                "backward steps (the interactive page: stepper.to_html('backprop.html'))")
        shown = [s.text for s in self.steps[:steps]]
        more = [f"... {len(self.steps) - steps} more steps"] if len(self.steps) > steps else []
        return "\n\n".join([head, *shown, *more])

    def show(self) -> StepperPage:
        """The page for a notebook cell: interactive in Jupyter, and its saved output still shows
        step 1's graph, every step's maths and the table where scripts do not run."""
        return StepperPage(self)

    def svg(self, i: int) -> str:
        """``frame(i)`` as an SVG string (cached): one layout for every step."""
        i = self._check(i)
        if i not in self._svg_cache:
            self._svg_cache[i] = self.frame(i).pipe(format="svg", encoding="utf-8")
        return self._svg_cache[i]

    def widget(self) -> Any:
        """Prev/next buttons and a slider in Jupyter (needs ipywidgets, the ``notebooks`` extra)."""
        try:
            import ipywidgets as w
        except ImportError as exc:
            raise ImportError(
                "stepper.widget() needs ipywidgets: pip install 'tracegrad[notebooks]' "
                "(or use stepper.show() / stepper.to_html(path), which need nothing)"
            ) from exc
        n = len(self.steps)
        if n == 0:
            raise ValueError("this graph has no gates to step through (the root is a leaf)")
        prev, nxt = w.Button(description="◀ prev"), w.Button(description="next ▶")
        slider = w.IntSlider(value=0, min=0, max=n - 1, description="step")
        picture, text = w.HTML(), w.HTML()

        def show(i: int) -> None:
            picture.value = self.svg(i)
            text.value = f'<div class="tg-widget">{WIDGET_STYLE}{self.step_html(i)}</div>'

        slider.observe(lambda change: show(change["new"]), names="value")
        prev.on_click(lambda _: setattr(slider, "value", max(0, slider.value - 1)))
        nxt.on_click(lambda _: setattr(slider, "value", min(n - 1, slider.value + 1)))
        show(0)
        page, summary = self.html(full_page=False), self.summary()

        class StepperBox(w.VBox):  # type: ignore[misc]
            """The controls, plus the static page for a saved notebook (no kernel, no widgets)."""

            def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
                bundle = super()._repr_mimebundle_(**kwargs) or {}
                return {**bundle, "text/html": page, "text/plain": summary}

        return StepperBox([w.HBox([prev, nxt, slider]), text, picture])


class StepperPage:
    """A stepper's page as a notebook output (what ``BackpropStepper.show()`` returns)."""

    def __init__(self, stepper: BackpropStepper) -> None:
        self.stepper = stepper
        self.data = stepper.html(full_page=False)  # as IPython.display.HTML's .data

    def _repr_html_(self) -> str:
        return self.data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self.data, "text/plain": self.stepper.summary()}

    def __repr__(self) -> str:
        return self.stepper.summary()


_PLACEHOLDER = re.compile(r"__(UID|TITLE|MAX|SVG|RANK|STEPS|TABLE|DATA)__")


def build_page(*, uid: str, svg: str, data: dict[str, Any], table: str, title: str,
               steps: str = "", full_page: bool = True, rankdir: str = "LR") -> str:
    """Fill the stepper template (viz/templates/stepper.html): inline SVG, JS, table, data.

    ``rankdir`` (the graph's resolved direction) tells the page, without JavaScript, at which
    end of the graph step 1 lies (the root's end), so that end is shown first.
    """
    template = (resources.files(__package__) / "templates" / "stepper.html").read_text("utf-8")
    payload = json.dumps(data, ensure_ascii=True).replace("<", "\\u003c")
    values = {"UID": uid, "TITLE": html.escape(title), "MAX": str(max(len(data["steps"]) - 1, 0)),
              "SVG": svg, "RANK": rankdir, "STEPS": steps, "TABLE": table, "DATA": payload}
    body = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if not full_page:
        return body
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)} · tracegrad</title></head>\n<body>\n{body}</body></html>\n")


def _set_grad_text(svg: str, node_id: str, text: str) -> str:
    """``svg`` with the ``grad ...`` text in the box ``node_id`` replaced (boxes without one: as is)."""
    start = svg.find(f'<g id="{node_id}" ')
    if start < 0:
        return svg
    end = svg.find("<!--", start)
    end = len(svg) if end < 0 else end
    at = svg.find(">grad ", start, end)
    if at < 0:
        return svg
    close = svg.find("</text>", at, end)
    return svg[:at] + ">grad " + html.escape(text) + svg[close:]


def box_widths(svg: str) -> dict[str, float]:
    """Each value box's width in inches (``{'n3': 1.92, ...}``), read from Graphviz's SVG."""
    root = ET.fromstring(svg[max(svg.find("<svg"), 0):].encode("utf-8"))
    widths = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        node_id = g.get("id", "")
        if "node" not in g.get("class", "").split() or not re.fullmatch(r"n\d+", node_id):
            continue
        poly = next(g.iter("{http://www.w3.org/2000/svg}polygon"), None)
        if poly is None:
            continue
        xs = [float(p.split(",")[0]) for p in poly.get("points", "").split()]
        if xs:
            widths[node_id] = (max(xs) - min(xs)) / 72.0  # SVG points -> inches
    return widths


def flow_final(stepper: BackpropStepper) -> list[float]:
    """Every node's gradient at the end of the stepper's backward pass."""
    out = [0.0] * len(stepper.graph.order)
    for j, evs in enumerate(stepper._events):
        if evs:
            out[j] = evs[-1][1]
    return out
