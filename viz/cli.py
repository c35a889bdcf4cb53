"""tracegrad: draw backprop, and step through it gate by gate in a browser.

tracegrad demo trains the moons MLP, then writes graph.svg (one neuron's
computation graph), flow.svg (its gradient flow), network.svg (the trained MLP,
edges by weight), boundary.png, loss.png and backprop.html (the step-through page).
tracegrad step "x*w + b" --values x=2,w=-3,b=1 writes the step-through page for
your own expression; tracegrad step --example 221 for a lecture example.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import __version__, nn
from ..engine import Value
from .expression import ALLOWED, ExpressionError, ValuesError, parse_expression, parse_values
from .graph import draw_flow, draw_graph
from .limits import DiagramTooBigError
from .network import draw_network
from .plots import SLIDE_DPI, plot_decision_boundary, plot_history
from .stepper import BackpropStepper

OUTPUTS = ("graph.svg", "flow.svg", "network.svg", "boundary.png", "loss.png", "backprop.html")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tracegrad", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"tracegrad {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train the moons MLP and write every diagram into --out")
    d.add_argument("--out", default="out", help="output folder (default: out)")
    d.add_argument("--epochs", type=int, default=100, help="training steps (default: 100)")
    d.add_argument("--samples", type=int, default=100, help="moons points (default: 100)")
    d.add_argument("--seed", type=int, default=1337, help="data and weight seed (default: 1337)")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    s = sub.add_parser("step", help="write the backprop step-through page for an expression or an example",
                       description="Write the step-through page (one HTML file) for an expression, "
                                   "e.g. tracegrad step \"x*w + b\" --values x=2,w=-3,b=1, "
                                   "or for a lecture example, e.g. tracegrad step --example 221.")
    s.add_argument("expression", nargs="?", help=f"the expression, quoted; it may use {ALLOWED}. "
                   "Put -- before one that starts with a minus: tracegrad step --values x=2 -- \"-x*x\"")
    s.add_argument("--values", default="", help="a value for every name, e.g. x=2,w=-3,b=1")
    s.add_argument("--example", choices=sorted(EXAMPLES), help="a lecture example instead of an expression: "
                   + "; ".join(f"{k}: {what}" for k, (what, _) in sorted(EXAMPLES.items())))
    s.add_argument("--out", default="step.html", help="the page to write (default: step.html)")
    return p


def demo(out: Path, *, epochs: int = 100, samples: int = 100, seed: int = 1337,
         progress: bool = True) -> list[Path]:
    """Train MLP(2, [16, 16, 1]) on moons with hinge loss + L2 (micrograd's demo); draw it all."""
    import matplotlib

    matplotlib.use("Agg")  # the command line never opens windows
    import matplotlib.pyplot as plt

    if epochs < 1 or samples < 2:
        raise ValueError(f"need --epochs >= 1 and --samples >= 2, got {epochs} and {samples}")
    out.mkdir(parents=True, exist_ok=True)
    X, y = nn.data.moons(samples, noise=0.1, seed=seed)
    labels = [2 * t - 1 for t in y]  # hinge loss wants -1 / +1
    model = nn.MLP(2, [16, 16, 1], seed=seed)
    print(f"training {model.__class__.__name__}(2, [16, 16, 1]) "
          f"({sum(1 for _ in model.parameters())} parameters) on {samples} moons points, "
          f"hinge loss + L2, {epochs} SGD steps")
    opt = nn.SGD(model.parameters(), lr=lambda k: 1.0 - 0.9 * k / epochs)
    history = nn.fit(model, X, labels, loss="hinge", optimizer=opt, epochs=epochs, l2=1e-4,
                     progress=progress)
    acc = history.metrics.get("accuracy", [float("nan")])[-1]
    print(f"final loss {history.loss[-1]:.4f}, training accuracy {acc:.0%}")

    written: list[Path] = []

    def wrote(path: Path, what: str) -> None:
        written.append(path)
        print(f"  wrote {path}  ({what})")

    # one live neuron of the trained net on one point: small enough to read every number
    j, k = live_neuron(model, X)
    act = _one_neuron(model, j, X[k])
    path = out / "graph.svg"
    draw_graph(act).render(outfile=path, cleanup=True)
    wrote(path, f"computation graph of neuron {j + 1} of layer 0 on point {k}: data, grad, "
                "local gradients")
    path = out / "flow.svg"
    draw_flow(act).render(outfile=path, cleanup=True)
    wrote(path, "gradient flow through that neuron")
    path = out / "network.svg"
    draw_network(model).render(outfile=path, cleanup=True)
    wrote(path, "the trained network, edges coloured by weight")
    fig = plot_decision_boundary(model, X, labels, title=f"moons, training accuracy {acc:.0%}")
    fig.savefig(out / "boundary.png", dpi=SLIDE_DPI)
    plt.close(fig)
    wrote(out / "boundary.png", "decision boundary")
    fig = plot_history(history)
    fig.savefig(out / "loss.png", dpi=SLIDE_DPI)
    plt.close(fig)
    wrote(out / "loss.png", "loss and accuracy per epoch")
    # the lecture's hand calculation (seed 000's 2-2-1 sigmoid net), step by step
    path = BackpropStepper(lecture_network()).to_html(out / "backprop.html")
    wrote(path, "step through backprop in a browser (arrow keys)")
    return written


def live_neuron(model: nn.MLP, X: Sequence[Sequence[float]]) -> tuple[int, int]:
    """``(j, k)``: the first neuron j of layer 0 (then the first point k) where every weight gets a gradient.

    A dead ReLU (input <= 0) or a zero input would draw edges that all read 0.0;
    ``RuntimeError`` if no neuron is live on any point.  Leaves the model's grads zeroed.
    """
    neurons = model.layers[0].neurons
    for j in range(len(neurons)):
        for k in range(len(X)):
            _one_neuron(model, j, X[k])
            live = all(w.grad != 0.0 for w in neurons[j].w)
            model.zero_grad()
            if live:
                return j, k
    raise RuntimeError("no neuron of the first layer passes a gradient on any point: "
                       "the trained network is dead, nothing to draw")


def _one_neuron(model: nn.MLP, j: int, x: Sequence[float]) -> Value:
    """Neuron j of layer 0 on point x, labelled ``out``, after zeroing grads and one backward."""
    xs = [Value(float(v), f"x{i + 1}") for i, v in enumerate(x)]
    act = model.layers[0].neurons[j](xs)
    act.label = "out"
    model.zero_grad()  # training leaves its last (L2) gradients on the weights
    act.backward()
    return act


def lecture_network() -> Value:
    """Seed 000's 2-2-1 sigmoid network and its loss C = (y - o1)^2, every named node labelled.

    x = (0.5, 0.3), w1..w6 = 0.7, 0.3, 0.4, 0.6, 0.55, 0.45, y = 1:
    z1 = 0.47, z2 = 0.33, o1 ~ 0.645, C ~ 0.126.
    """
    x1, x2 = Value(0.5, "x1"), Value(0.3, "x2")
    w1, w2, w3, w4, w5, w6 = (Value(v, f"w{i + 1}")
                              for i, v in enumerate((0.7, 0.3, 0.4, 0.6, 0.55, 0.45)))
    named = {}
    named["z1"] = w1 * x1 + w3 * x2
    named["z2"] = w2 * x1 + w4 * x2
    named["h1"], named["h2"] = named["z1"].sigmoid(), named["z2"].sigmoid()
    named["z3"] = w5 * named["h1"] + w6 * named["h2"]
    named["o1"] = named["z3"].sigmoid()
    named["C"] = (Value(1.0, "y") - named["o1"]) ** 2
    for name, v in named.items():
        v.label = name
    return named["C"]


def classic_neuron() -> Value:
    """The classic neuron o = tanh(x1*w1 + x2*w2 + b): x = (2, 0), w = (-3, 1), b = 6.8813735870195432, o ~ 0.7071."""
    return parse_expression("tanh(x1*w1 + x2*w2 + b)",
                            {"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.8813735870195432}, label="o")


EXAMPLES: dict[str, tuple[str, Callable[[], Value]]] = {
    "221": ("the lecture's 2-2-1 sigmoid network and its loss C (the lecture's hand calculation)", lecture_network),
    "neuron": ("the classic neuron tanh(x1*w1 + x2*w2 + b)", classic_neuron),
}
"""Named lecture examples for ``tracegrad step --example NAME``: (what it is, the function that builds its root)."""


def step_root(expression: str | None, values: str, example: str | None) -> Value:
    """The root that ``tracegrad step`` steps through: an example's, or the expression's with its values.

    ``ValuesError`` / ``ExpressionError`` (both ``ValueError``) name what is wrong.
    """
    if example is not None:
        if expression is not None or values:
            raise ValuesError(f"--example {example} takes no expression and no --values")
        return EXAMPLES[example][1]()
    if expression is None:
        raise ValuesError("give an expression (e.g. \"x*w + b\" --values x=2,w=-3,b=1) or --example NAME")
    root = parse_expression(expression, parse_values(values))
    if not root.parents:
        raise ExpressionError(f"{expression.strip()!r} is a single number or name: no gate to step through")
    return root


def step(out: Path, expression: str | None = None, values: str = "", example: str | None = None) -> Path:
    """Write the step-through page for an expression (or a named example) to ``out``; return the path."""
    root = step_root(expression, values, example)
    return BackpropStepper(root).to_html(out)


def out_folder_error(out: Path) -> str | None:
    """Why ``--out`` cannot be the output folder (``None``: it is one, or was just made).

    Creates the folder (and its parents) if needed; a path that is a file, or
    lies inside one, or cannot be created, gives a one-line reason.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        return None
    except OSError as exc:
        if out.exists() and not out.is_dir():
            return f"--out {out} is a file, not a folder; pass a folder (it is created if missing)"
        inside = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        if inside is not None:
            return f"--out {out} lies inside {inside}, which is a file, not a folder"
        return f"--out {out}: cannot create the folder ({exc.strerror or exc})"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tracegrad`` console script (exit 2: bad arguments; 1: a failed demo)."""
    args = _parser().parse_args(argv)
    if args.command == "step":
        return _step_command(args)
    if args.command == "demo":
        start = time.perf_counter()
        out = Path(args.out)
        problem = out_folder_error(out)
        if problem is not None:
            print(f"tracegrad demo: {problem}", file=sys.stderr)
            return 2
        try:
            demo(out, epochs=args.epochs, samples=args.samples, seed=args.seed,
                 progress=not args.no_progress)
        except (ValueError, ImportError, RuntimeError) as exc:
            print(f"tracegrad demo: {exc}", file=sys.stderr)
            return 1
        print(f"done in {time.perf_counter() - start:.1f} s. Open {out / 'backprop.html'} in a "
              f"browser to step through backprop; the .svg files open in any browser too.")
    return 0


def _step_command(args: argparse.Namespace) -> int:
    """``tracegrad step``: exit 2 on a bad expression, values or --out, each as one line on stderr."""
    out = Path(args.out)
    problem = out_folder_error(out.parent) if not out.is_dir() else f"--out {out} is a folder; pass a file name"
    if problem is None:
        try:
            path = step(out, args.expression, args.values, args.example)
        except (ValueError, DiagramTooBigError) as exc:
            problem = str(exc)
    if problem is not None:
        print(f"tracegrad step: {problem}", file=sys.stderr)
        return 2
    print(f"wrote {path}: open it in a browser to step through backprop (arrow keys)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
