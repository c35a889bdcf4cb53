"""Small neural networks on the engine, the lecture's way.

Build (scalar path: ``MLP``, ``Layer``, ``Neuron``, ``Perceptron``; tensor path:
``Sequential`` of ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``LeakyReLU``,
``Flatten``, ``Embedding``), train either with ``fit`` (a loss from
``nn.losses`` / ``nn.layers.TENSOR_LOSSES`` by name, an optimizer from
``nn.optim``), save (``model.save(path)`` / ``MLP.load(path)`` /
``Sequential.load(path)``) and convert (``nn.convert``: MLP <-> Sequential <->
PyTorch).  ``nn`` imports ``engine`` only.
"""

from . import convert, data, layers, losses, mnist, optim
from .init import INITS
from .layers import TENSOR_LOSSES, Embedding, Flatten, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from .mlp import ACTIVATIONS, MLP, Layer, Neuron
from .module import Module
from .optim import SGD, Adam, Optimizer
from .perceptron import ConvergenceWarning, Perceptron, PerceptronHistory
from .traced_step import TracedStep
from .train import History, accuracy, evaluate, fit, is_tensor_model, make_step

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "MLP",
    "SGD",
    "TENSOR_LOSSES",
    "Adam",
    "ConvergenceWarning",
    "Embedding",
    "Flatten",
    "History",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Module",
    "Neuron",
    "Optimizer",
    "Perceptron",
    "PerceptronHistory",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "TracedStep",
    "accuracy",
    "convert",
    "data",
    "evaluate",
    "fit",
    "is_tensor_model",
    "layers",
    "losses",
    "make_step",
    "mnist",
    "optim",
]
