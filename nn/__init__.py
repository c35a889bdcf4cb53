"""Small neural networks on the scalar engine, the lecture's way.

Build (``MLP``, ``Layer``, ``Neuron``, ``Perceptron``), train (``fit`` with a
loss from ``nn.losses`` and an optimizer from ``nn.optim``) and save
(``model.save(path)`` / ``MLP.load(path)``).  ``nn`` imports ``engine`` only.
"""

from . import data, losses, optim
from .init import INITS
from .mlp import ACTIVATIONS, MLP, Layer, Neuron
from .module import Module
from .optim import SGD, Adam, Optimizer
from .perceptron import ConvergenceWarning, Perceptron, PerceptronHistory
from .train import History, accuracy, evaluate, fit

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "MLP",
    "SGD",
    "Adam",
    "ConvergenceWarning",
    "History",
    "Layer",
    "Module",
    "Neuron",
    "Optimizer",
    "Perceptron",
    "PerceptronHistory",
    "accuracy",
    "data",
    "evaluate",
    "fit",
    "losses",
    "optim",
]
