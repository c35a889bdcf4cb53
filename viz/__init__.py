"""Pictures of backprop: computation graphs, gradient flow, a step-through, the chain rule.

    downstream gradient = local gradient x upstream gradient

``draw_graph`` / ``draw_flow`` / ``draw_network`` return a ``graphviz.Digraph``
(Jupyter shows it inline; ``.render()`` / ``.pipe()`` give SVG or PNG through
the Graphviz program :func:`find_dot` resolves).  ``BackpropStepper`` narrates
the engine's backward pass step by step, and ``chain_rule`` writes out the
chain rule with numbers.  The plots need matplotlib (the ``notebooks`` extra).
``viz`` imports ``engine`` (and reads ``nn`` models only to draw networks).
"""

from .chain import ChainPath, ChainRule, Factor, chain_rule
from .dot import Diagram, GraphvizNotFoundError, PdfUnavailableError, RenderTimeoutError, find_dot
from .graph import draw_flow, draw_graph
from .limits import DiagramTooBigError
from .network import draw_network
from .plots import plot_activations, plot_decision_boundary, plot_history, use_hangul_font
from .stepper import BackpropStepper, BackwardTable, StepInfo

__all__ = [
    "BackpropStepper",
    "BackwardTable",
    "ChainPath",
    "ChainRule",
    "Diagram",
    "DiagramTooBigError",
    "Factor",
    "GraphvizNotFoundError",
    "PdfUnavailableError",
    "RenderTimeoutError",
    "StepInfo",
    "chain_rule",
    "draw_flow",
    "draw_graph",
    "draw_network",
    "find_dot",
    "plot_activations",
    "plot_decision_boundary",
    "plot_history",
    "use_hangul_font",
]
