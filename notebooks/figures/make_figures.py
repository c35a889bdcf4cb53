"""Draw the README's figures from the engine (run: python notebooks/figures/make_figures.py).

tests/package/test_readme.py checks that each committed figure is what this code draws now.
"""

from __future__ import annotations

from pathlib import Path

from tracegrad import viz
from tracegrad.engine import Value, grad
from tracegrad.viz.cli import lecture_network

HERE = Path(__file__).resolve().parent


def tanh_second_derivative() -> viz.Diagram:
    """d²tanh(x)/dx² at x = 1 as a graph: tanh's gate, then the gates of its gradient's gradient."""
    x = Value(1.0, "x")
    y = x.tanh()
    y.label = "y"
    dy = grad(y, x, create_graph=True)
    dy.label = "dy/dx"
    d2y = grad(dy, x, create_graph=True)
    d2y.label = "d2y/dx2"
    return viz.draw_graph(d2y, show_grad=False)  # the structure: data and local gradients, no backward run


def lecture_flow() -> viz.Diagram:
    """The gradient flow through the seed 2-2-1 network's loss: what flowed back along every edge."""
    C = lecture_network()
    C.backward()
    return viz.draw_flow(C)


def lecture_step() -> viz.Diagram:
    """The stepper on the seed 2-2-1 network at step 3: o1's sigmoid gate, grads known so far filled in."""
    return viz.BackpropStepper(lecture_network()).render(2)


FIGURES = {
    "tanh_second_derivative.svg": tanh_second_derivative,
    "lecture_flow.svg": lecture_flow,
    "lecture_step.svg": lecture_step,
}


def main() -> None:
    for name, make in FIGURES.items():
        (HERE / name).write_text(make().svg(), encoding="utf-8")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
