"""Small neural networks on the engine, the lecture's way.

Build (scalar path: ``MLP``, ``Layer``, ``Neuron``, ``Perceptron``; tensor path:
``Sequential`` of ``Linear``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``LeakyReLU``,
``Flatten``, ``Embedding``), train either with ``fit`` (a loss by name from
``nn.loss_registry``, which holds each loss's scalar form (``nn.losses``) and
tensor form (``nn.tensor_losses``), or a callable; an optimizer from
``nn.optim``), save (``model.save(path)`` / ``MLP.load(path)`` /
``Sequential.load(path)``) and convert (``nn.convert``: MLP <-> Sequential <->
PyTorch).  ``nn`` imports ``engine`` only, and inside ``nn`` every module
imports only the modules below it (``tests/nn/test_rooms.py``).
"""

from . import convert, data, labels, layers, loss_registry, losses, metrics, mnist, optim, tensor_losses
from .information import entropy, kl_divergence
from .init import INITS
from .layers import Embedding, Flatten, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from .loss_registry import TENSOR_LOSSES
from .mlp import ACTIVATIONS, MLP, Layer, Neuron
from .module import Module
from .optim import SGD, Adam, Optimizer
from .perceptron import ConvergenceWarning, Perceptron, PerceptronHistory
from .prepare import is_tensor_model
from .step import make_step
from .traced_step import TracedStep
from .train import History, accuracy, evaluate, fit

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
    "entropy",
    "evaluate",
    "fit",
    "is_tensor_model",
    "kl_divergence",
    "labels",
    "layers",
    "loss_registry",
    "losses",
    "make_step",
    "metrics",
    "mnist",
    "optim",
    "tensor_losses",
]
