"""Losses on Tensors: one graph per batch, the same formulas as :mod:`nn.losses`.

=========================  ==================================================
``mse(out, y)``            mean((out - y)^2) over every number
``hinge(out, y)``          mean(relu(1 - y s)),  y in {-1, +1}
``binary_cross_entropy``   -mean(y log p + (1 - y) log(1 - p)),  y in [0, 1]
``l2(params, alpha)``      alpha sum_p sum(p * p)
=========================  ==================================================

Softmax cross-entropy on Tensors is the engine's fused gate,
``engine.cross_entropy(logits, class_indices)``.  Targets are reshaped to the
output's shape; the label rules come from :mod:`nn.labels`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine import Tensor
from ..engine.tensor import to_array
from .labels import PROBABILITIES, SIGNS, UNIT

TensorLoss = Callable[[Tensor, Any], Tensor]


def _targets_like(out: Tensor, target: Any, who: str) -> np.ndarray:
    t = to_array(target, out.dtype)
    if t.size != out.size:
        raise ValueError(f"{who}: targets of shape {t.shape} do not match outputs of shape {out.shape}")
    return t.reshape(out.shape)


def mse(out: Tensor, target: Any) -> Tensor:
    """Mean squared error ``mean((out - target)^2)`` over every number (targets reshaped to ``out``'s shape)."""
    return ((out - _targets_like(out, target, "mse")) ** 2).mean()


def hinge(out: Tensor, target: Any) -> Tensor:
    """micrograd's SVM loss ``mean(relu(1 - y s))`` over every score s, labels y in {-1, +1}."""
    t = _targets_like(out, target, "hinge")
    SIGNS.check_flat(t)
    return (1.0 - out * t).relu().mean()


def binary_cross_entropy(out: Tensor, target: Any, eps: float = 1e-12) -> Tensor:
    """``-mean(y log p + (1 - y) log(1 - p))`` for probabilities p (clipped to [eps, 1 - eps]), y in [0, 1]."""
    t = _targets_like(out, target, "binary_cross_entropy")
    UNIT.check_flat(t)
    PROBABILITIES.check_flat(out.data)
    q = out.maximum(eps).minimum(1.0 - eps)  # router gates keep log away from 0
    return -(t * q.log() + (1.0 - t) * (1.0 - q).log()).mean()


def l2(params: Iterable[Tensor], alpha: float) -> Tensor:
    """The L2 penalty ``alpha sum_p sum(p * p)`` over Tensor parameters (one element)."""
    squares = [(p * p).sum() for p in params]
    if not squares:
        raise ValueError("l2: no parameters given")
    penalty = squares[0]
    for s in squares[1:]:
        penalty = penalty + s
    return alpha * penalty


__all__ = ["TensorLoss", "binary_cross_entropy", "hinge", "l2", "mse"]
