"""One training step, the lecture's loop body: feedforward, loss, backpropagation, weight update.

:func:`make_step` builds it once for a model, in one place, for either kind:

* scalar models (``nn.MLP``): one graph of Values per sample (:func:`batch_loss`);
* tensor models (``nn.Sequential``, ...): the whole batch as one graph (:func:`tensor_batch_loss`);
* ``trace=True`` (scalar models): a traced program replayed per batch (``nn.traced_step``).

The loss (+ l2 * sum p^2, the penalty of ``nn.loss_registry.L2``) must be
finite: a NaN or inf raises ``FloatingPointError`` before any weight changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import Tensor, Value
from .loss_registry import L2, LossFn
from .module import Module
from .optim import Optimizer
from .prepare import is_tensor_model
from .traced_step import TracedStep

Step = Callable[[Any, Any], tuple[float, Any]]  # (X batch, y batch) -> (loss, output numbers)


def numbers(out: Any) -> Any:
    """A scalar model's output as numbers: a float, or a list of floats."""
    return [v.data for v in out] if isinstance(out, (list, tuple)) else out.data


def batch_loss(
    model: Any, xs: list[list[float]], ys: list[Any], loss: LossFn, l2: float = 0.0
) -> tuple[Value, list[Any]]:
    """Feedforward a batch and compute its loss (+ l2 * sum p^2): ``(loss Value, outputs)``."""
    outputs = [model(x) for x in xs]
    total = loss(outputs, ys)
    if not isinstance(total, Value):
        raise TypeError(f"the loss must return a Value, got {type(total).__name__}")
    if l2:
        total = total + L2.scalar(model, l2)
    return total, outputs


def tensor_batch_loss(model: Any, X: Any, y: Any, loss: LossFn, l2: float = 0.0) -> tuple[Tensor, Tensor]:
    """Feedforward a batch in one pass and compute its loss (+ l2 * sum p^2): ``(loss Tensor, output Tensor)``."""
    out = model(X)
    if type(out) is not Tensor:
        raise TypeError(f"a tensor model must return a Tensor, got {type(out).__name__}")
    total = loss(out, y)
    if type(total) is not Tensor or total.size != 1:
        got = f"a Tensor of shape {total.shape}" if type(total) is Tensor else type(total).__name__
        raise TypeError(f"the loss must return a one-element Tensor, got {got}")
    if l2:
        total = total + L2.tensor(model.parameters(), l2)
    return total, out


def finite_loss(value: float) -> float:
    """``value``, or ``FloatingPointError`` if it is NaN or inf (before any weight changes)."""
    if not math.isfinite(value):
        raise FloatingPointError(f"the loss became {value!r}; weights were not updated (lower the learning rate?)")
    return value


def make_step(
    model: Module,
    loss: LossFn,
    optimizer: Optimizer,
    l2: float = 0.0,
    trace: bool = False,
    batched: bool = True,
) -> Step:
    """One training step on a batch: zero_grad, feedforward, loss, backward, update.

    Returns ``step(X_batch, y_batch) -> (loss as float, output numbers)``:
    for a scalar model the batch is lists and the outputs a list (a number or
    a list per row); for a tensor model the batch is arrays, the whole batch
    is one graph, and the outputs an array.  A NaN or inf loss raises
    ``FloatingPointError`` before any weight changes.

    ``trace=True`` (scalar models only): the step is an ``nn.TracedStep``,
    recorded once and replayed without Value objects.  ``batched=True`` says
    the loss is the mean over samples, so the per-sample program is replayed
    over the whole batch at once (numpy); ``batched=False`` (any other loss)
    replays the whole batch's program.  ``ValueError`` for a tensor model.
    """
    if not isinstance(trace, bool):
        raise TypeError(f"trace must be True or False, got {type(trace).__name__}")
    tensor = is_tensor_model(model)
    if trace and tensor:
        raise ValueError(
            f"trace=True is for scalar models (Value parameters); {type(model).__name__} is a tensor "
            "model, already one vectorized graph per batch: train it with trace=False"
        )
    if trace:
        return TracedStep(
            model, loss, model.parameters(), optimizer=optimizer, l2=l2, batched=batched, reduce="mean",
        )
    return _tensor_step(model, loss, optimizer, l2) if tensor else _scalar_step(model, loss, optimizer, l2)


def _tensor_step(model: Module, loss: LossFn, optimizer: Optimizer, l2: float) -> Step:
    def tensor_step(X: Any, y: Any) -> tuple[float, np.ndarray]:
        optimizer.zero_grad()
        total, out = tensor_batch_loss(model, X, y, loss, l2)
        value = finite_loss(total.item())
        total.backward()
        optimizer.step()
        return value, out.data

    return tensor_step


def _scalar_step(model: Module, loss: LossFn, optimizer: Optimizer, l2: float) -> Step:
    def scalar_step(xs: list[list[float]], ys: list[Any]) -> tuple[float, list[Any]]:
        optimizer.zero_grad()
        total, outputs = batch_loss(model, xs, ys, loss, l2)
        value = finite_loss(total.data)
        total.backward()
        optimizer.step()
        return value, [numbers(o) for o in outputs]

    return scalar_step


__all__ = ["Step", "batch_loss", "finite_loss", "make_step", "numbers", "tensor_batch_loss"]
