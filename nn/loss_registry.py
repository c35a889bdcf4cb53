"""The named losses, in one table: everything training needs to know about each.

    name                  scalar form (nn.losses)      tensor form            labels       accuracy
    mse                   (1/n) sum (o - y)^2          tensor_losses.mse      numbers      the labels decide
    binary_cross_entropy  -(1/n) sum [y log p + ...]   tensor_losses (same)   y in [0, 1]  threshold 0.5
    cross_entropy         -log softmax(s)_c            engine.cross_entropy   class index  argmax
    hinge                 (1/n) sum max(0, 1 - y s)    tensor_losses.hinge    y = -1 / +1  sign

Each :class:`Loss` entry holds the scalar form, the tensor form, the label
check (``nn.labels``), the accuracy rule (``nn.metrics``) and ``mean``: the
loss is a mean over samples, so a traced step may replay one sample's
program over the whole batch.  ``fit``, ``evaluate``, ``accuracy``,
``make_step`` and ``TracedStep`` read this table and nothing else for a loss
name; :func:`resolve_loss` turns a callable into a ``"custom"`` entry (any
labels, accuracy from the labels, not a per-sample mean).  :data:`L2` holds
the two forms of the penalty alpha sum_p p^2.

``LOSSES`` and ``TENSOR_LOSSES`` are read-only views: name -> scalar form,
name -> tensor form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ..engine import cross_entropy as tensor_cross_entropy
from . import losses, tensor_losses
from .labels import ANY, CLASSES, NUMBERS, PROBABILITIES, SIGNS, UNIT, Allowed, AllowedLabels, Labels

LossFn = Callable[[Any, Any], Any]  # scalar: (outputs, targets) -> Value; tensor: (out Tensor, targets) -> Tensor


@dataclass(frozen=True)
class Loss:
    """One loss: ``scalar(outputs, targets) -> Value``, ``tensor(out, targets) -> Tensor``, and its rules."""

    name: str
    scalar: LossFn | None
    tensor: LossFn | None
    labels: Labels  # checks a data set's labels before training (nn.labels)
    accuracy: str | None  # "argmax", "sign", "threshold", or None: the labels decide (nn.metrics)
    mean: bool  # a mean over samples (the traced step replays one sample's program over the batch)
    outputs: Allowed | None = None  # the numbers the loss accepts as predictions (nn.labels), None: any

    def check_batch(self, outputs: Any, targets: Any) -> None:
        """Every check the loss makes on a batch's numbers, as array checks over every row.

        The same ``ValueError`` as the scalar form: the first bad number (flat
        index over the batch), a target before its prediction.  A traced step
        runs this, since its program ran the loss's checks on its example rows only.
        """
        rules = [(rule, values) for rule, values in ((self.targets, targets), (self.outputs, outputs))
                 if rule is not None]
        found = []
        for rule, values in rules:
            try:
                flat = np.asarray(values, dtype=float).reshape(-1)
            except (TypeError, ValueError):  # ragged or not numbers: the loss itself says so
                continue
            i = rule.first_bad(flat)
            if i is not None:
                found.append((i, len(found), rule, flat[i].item()))
        if found:
            i, _, rule, value = min(found)
            raise rule.in_loss(i, value)

    @property
    def targets(self) -> Allowed | None:
        """The rule the loss's targets follow, if it is a fixed set of numbers (hinge, binary cross-entropy)."""
        return self.labels.rule if isinstance(self.labels, AllowedLabels) else None

    def form(self, tensor: bool) -> LossFn | None:
        """The loss function for the tensor path (``tensor=True``) or the scalar path."""
        return self.tensor if tensor else self.scalar


class Penalty(NamedTuple):
    """A weight penalty in its two forms: ``scalar(params, alpha) -> Value``, ``tensor(params, alpha) -> Tensor``."""

    scalar: Callable[[Any, float], Any]
    tensor: Callable[[Any, float], Any]


L2 = Penalty(losses.l2, tensor_losses.l2)
"""The L2 penalty alpha sum_p p^2, on Values and on Tensors."""

REGISTRY: Mapping[str, Loss] = MappingProxyType({
    entry.name: entry
    for entry in (
        Loss("mse", losses.mse, tensor_losses.mse, NUMBERS, None, mean=True),
        Loss("binary_cross_entropy", losses.binary_cross_entropy, tensor_losses.binary_cross_entropy,
             AllowedLabels(UNIT), "threshold", mean=True, outputs=PROBABILITIES),
        Loss("cross_entropy", losses.cross_entropy, tensor_cross_entropy, CLASSES, "argmax", mean=True),
        Loss("hinge", losses.hinge, tensor_losses.hinge, AllowedLabels(SIGNS), "sign", mean=True),
    )
})
"""Every named loss, by name."""

LOSSES: Mapping[str, LossFn] = MappingProxyType({name: e.scalar for name, e in REGISTRY.items()})
TENSOR_LOSSES: Mapping[str, LossFn] = MappingProxyType({name: e.tensor for name, e in REGISTRY.items()})


def custom_loss(fn: LossFn | None) -> Loss:
    """The entry for a loss given as a callable (the same function on either path), or for no loss (None)."""
    return Loss("custom", fn, fn, ANY, None, mean=False)


def entry_of(loss: str | LossFn) -> Loss:
    """The entry whose rules a loss follows: :func:`resolve_loss`, except that one of the table's own forms
    (``LOSSES["binary_cross_entropy"]``, which ``make_step`` is given) is its named entry, checks included."""
    if not isinstance(loss, str):
        for entry in REGISTRY.values():
            if loss is entry.scalar or loss is entry.tensor:
                return entry
    return resolve_loss(loss)


def resolve_loss(loss: str | LossFn) -> Loss:
    """The entry for a loss name, or a ``"custom"`` entry for a callable.

    ``ValueError`` for an unknown name (listing the names), ``TypeError`` for anything else.
    """
    if isinstance(loss, str):
        if loss not in REGISTRY:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(REGISTRY)} or pass a callable")
        return REGISTRY[loss]
    if callable(loss):
        return custom_loss(loss)
    raise TypeError(f"loss must be a name or a callable, got {type(loss).__name__}")


__all__ = ["L2", "LOSSES", "REGISTRY", "TENSOR_LOSSES", "Loss", "LossFn", "Penalty", "custom_loss", "entry_of",
           "resolve_loss"]
