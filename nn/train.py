"""The training loop: ``fit``, ``evaluate``, ``accuracy``, and ``History``, the per-epoch record.

``fit`` trains both kinds of model with the same loop: it checks its
arguments and the data (``nn.prepare``, the labels by the loss's entry in
``nn.loss_registry``), builds the step once (``nn.step.make_step``: the
lecture's feedforward, loss, backpropagation, weight update), then runs
epochs of batches, recording loss, accuracy (``nn.metrics``) and validation
numbers, keeping the best epoch's weights for Ctrl-C, and showing a progress
bar in a terminal or a notebook.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np

from ..engine import no_grad
from .loss_registry import Loss, LossFn, custom_loss, resolve_loss
from .metrics import Counter, make_counter
from .module import Module
from .optim import SGD, Optimizer
from .prepare import Batches, is_tensor_model, prepare
from .step import Step, make_step, numbers

__all__ = ["History", "accuracy", "evaluate", "fit"]


@dataclass
class History:
    """What ``fit`` measured, one entry per completed epoch.

    ``loss``: mean training loss of the epoch's batches; ``metrics``: e.g.
    ``{"accuracy": [...]}`` on the training batches as they were seen (and
    ``"val_accuracy"`` with validation data); ``val_loss``: loss on the
    validation data after each epoch; ``best_epoch`` / ``best_loss``: the epoch
    with the lowest val_loss (or training loss); ``interrupted``: Ctrl-C
    stopped training and the best epoch's weights were restored.
    """

    loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = math.inf
    interrupted: bool = False
    steps: int = 0
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.loss)

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for plotting or JSON)."""
        return {
            "loss": list(self.loss),
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "val_loss": list(self.val_loss),
            "lr": list(self.lr),
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "best_loss": self.best_loss,
            "interrupted": self.interrupted,
            "steps": self.steps,
            "seconds": self.seconds,
        }

    def __repr__(self) -> str:
        last = f", loss={self.loss[-1]:.4g}" if self.loss else ""
        extra = "".join(f", {k}={v[-1]:.4g}" for k, v in self.metrics.items() if v)
        flag = ", interrupted" if self.interrupted else ""
        return f"History(epochs={self.epochs}{last}{extra}, best_epoch={self.best_epoch}{flag})"


# ---------------------------------------------------------------- fit


def fit(
    model: Module,
    X: Any,
    y: Any,
    loss: str | LossFn = "mse",
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    metrics: Sequence[str] = ("accuracy",),
    progress: bool = True,
    seed: int | None = None,
    l2: float = 0.0,
    validation: tuple[Any, Any] | None = None,
    callback: Callable[[History], bool | None] | None = None,
    trace: bool = False,
) -> History:
    """Train ``model`` on ``(X, y)`` and return its :class:`History`.

    ``model``: a scalar ``nn.MLP`` (rows are lists, one graph per sample) or a
    tensor model such as ``nn.Sequential`` (``X``, ``y`` numpy arrays, one
    graph per batch).  ``loss``: ``"mse"``, ``"hinge"`` (labels -1/+1),
    ``"binary_cross_entropy"`` (probabilities vs 0/1), ``"cross_entropy"``
    (logits vs class index or one-hot), or a callable ``loss(outputs,
    targets)`` returning a Value (scalar) or a one-element Tensor (tensor);
    ``l2`` adds l2 * sum p^2.  ``optimizer`` defaults to
    ``SGD(model.parameters(), lr=0.1)``.  ``batch_size=None`` is full batch
    (one step per epoch); otherwise rows are shuffled each epoch (``seed``
    makes it reproducible, and gives both paths the same batches).
    ``validation=(Xv, yv)`` adds ``val_loss`` and ``val_accuracy``.
    ``callback(history)`` runs after each epoch; if it returns True, training
    stops there (early stopping).

    ``trace=True`` (scalar models): each step is a traced program
    (``nn.TracedStep``), recorded on the first batch and replayed after
    that without building Values; with a named loss (a mean over samples) the
    whole batch runs at once as numpy arrays.  Same losses, accuracies and
    weights as ``trace=False`` (to rounding, ~1e-15), many times faster.  The
    model must compute the same graph for every row (no Python ``if`` on
    ``.data``; relu/max routers are fine).  A tensor model raises ``ValueError``.

    Ctrl-C stops cleanly: the weights of the best epoch so far (the initial
    weights if none finished) are restored and the history comes back with
    ``interrupted=True``.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit needs an nn.Module, got {type(model).__name__}")
    tensor = is_tensor_model(model)
    spec = resolve_loss(loss)
    _check_schedule(epochs, batch_size, metrics)
    data = prepare(model, X, y, spec.labels, tensor)  # the arguments first, then the data
    count = _accuracy_counter(model, spec, data, metrics)
    val = _validation_data(model, validation, spec, tensor)
    optimizer = _checked_optimizer(model, optimizer)
    _check_l2(l2)
    # the one per-batch place: the dynamic engine, or a traced program replayed per batch
    step = make_step(model, spec.form(tensor), optimizer, float(l2), trace=trace, batched=spec.mean)
    loop = _Loop(model, step, optimizer, data, val, spec.form(tensor), count, callback)
    return loop.run(_new_history(metrics, val is not None), epochs, batch_size, seed, progress)


# ---------------------------------------------------------------- fit's arguments


def _positive_int(n: Any) -> bool:
    return not isinstance(n, bool) and isinstance(n, int) and n >= 1


def _check_schedule(epochs: Any, batch_size: Any, metrics: Any) -> None:
    if not _positive_int(epochs):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if batch_size is not None and not _positive_int(batch_size):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, Sequence):
        raise TypeError(f"metrics must be a list of names such as ('accuracy',), got {metrics!r:.60}")
    for name in metrics:
        if name != "accuracy":
            raise ValueError(f"unknown metric {name!r}; available: accuracy")


def _accuracy_counter(model: Module, spec: Loss, data: Batches, metrics: Sequence[str]) -> Counter | None:
    """The accuracy counter when ``metrics`` asks for accuracy (``ValueError`` if the labels are not classes)."""
    if not metrics:
        return None
    count = make_counter(spec.accuracy, data.y, getattr(model, "nout", None), data.tensor)
    if count is None:
        raise ValueError("accuracy needs class labels (0/1, -1/+1 or class indices); pass metrics=() for regression")
    return count


def _validation_data(model: Module, validation: Any, spec: Loss, tensor: bool) -> Batches | None:
    if validation is None:
        return None
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise TypeError(f"validation must be a pair (X_val, y_val), got {type(validation).__name__} {validation!r:.60}")
    return prepare(model, validation[0], validation[1], spec.labels, tensor)


def _checked_optimizer(model: Module, optimizer: Any) -> Optimizer:
    """``optimizer``, or ``SGD(lr=0.1)`` for None.  ``TypeError`` unless it is an ``nn.optim.Optimizer``;
    ``ValueError`` if it updates none of ``model``'s parameters (it was built for another model, so
    training would change nothing)."""
    if optimizer is None:
        return SGD(model.parameters(), lr=0.1)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be an nn.optim Optimizer such as nn.SGD(model, lr=0.1), got {type(optimizer).__name__}"
        )
    mine = {id(p) for p in model.parameters()}
    if mine and not any(id(p) in mine for p in optimizer.params):
        raise ValueError(
            f"the optimizer updates none of this {type(model).__name__}'s parameters "
            "(was it built for another model?): pass optimizer=nn.SGD(model, lr=...)"
        )
    return optimizer


def _check_l2(l2: Any) -> None:
    if isinstance(l2, bool) or not isinstance(l2, Real) or not 0 <= l2 < math.inf:
        raise ValueError(f"l2 must be a number >= 0, got {l2!r}")


def _new_history(metrics: Sequence[str], validation: bool) -> History:
    history = History(metrics={name: [] for name in metrics})
    if validation:
        history.metrics.update({f"val_{name}": [] for name in metrics})
    return history


# ---------------------------------------------------------------- the loop


@dataclass
class _Loop:
    """What one ``fit`` call trains with; :meth:`run` is the epoch loop."""

    model: Module
    step: Step
    optimizer: Optimizer
    data: Batches
    val: Batches | None
    loss: LossFn | None
    count: Counter | None
    callback: Callable[[History], bool | None] | None

    def run(self, history: History, epochs: int, batch_size: int | None, seed: int | None,
            progress: bool) -> History:
        """Train for ``epochs`` epochs (or until the callback says stop, or Ctrl-C); fill ``history``."""
        best_state = self.model.state_dict()
        n = len(self.data)
        size = n if batch_size is None else min(batch_size, n)
        order = list(range(n))
        shuffle = random.Random(seed).shuffle  # the same permutations on both paths
        bar = _bar(epochs, _show_progress(progress))
        start = time.perf_counter()
        try:
            for _ in range(epochs):
                if size < n:
                    shuffle(order)
                self._epoch(history, order, size)
                if self._improved(history):
                    best_state = self.model.state_dict()
                _show(bar, history)
                if self.callback is not None and self.callback(history):
                    break
        except KeyboardInterrupt:
            history.interrupted = True
            self.model.load_state_dict(best_state)
        finally:
            history.seconds = time.perf_counter() - start
            if bar is not None:
                bar.close()
        return history

    def _epoch(self, history: History, order: list[int], size: int) -> None:
        """One pass over the data, one step per batch of ``size`` rows; appends loss, lr and accuracy."""
        data, n = self.data, len(self.data)
        perm: Any = np.asarray(order) if data.tensor else order
        lr = self.optimizer.current_lr()
        total, correct = 0.0, 0
        for b in range(0, n, size):
            xs, ys = (data.X, data.y) if size == n else data.take(perm[b : b + size])
            value, outs = self.step(xs, ys)
            history.steps += 1
            total += value * len(ys)
            if self.count is not None:
                correct += self.count(outs, ys)
        history.loss.append(total / n)
        history.lr.append(lr)
        if self.count is not None:
            history.metrics["accuracy"].append(correct / n)

    def _improved(self, history: History) -> bool:
        """Score the epoch (validation loss if any, else training loss); True if it is the best so far."""
        score = history.loss[-1]
        if self.val is not None:
            score, val_acc = _evaluate(self.model, self.val, self.loss, self.count)
            history.val_loss.append(score)
            if self.count is not None:
                history.metrics["val_accuracy"].append(val_acc)
        if score < history.best_loss:
            history.best_loss, history.best_epoch = score, history.epochs - 1
            return True
        return False


# ---------------------------------------------------------------- progress


def _show_progress(progress: bool) -> bool:
    if not progress:
        return False
    try:
        shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
        if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
            return True
    except Exception:  # pragma: no cover - exotic shells
        pass
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def _bar(epochs: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is cosmetic: train without it
        return None
    return tqdm(total=epochs, unit="epoch", leave=True)


def _show(bar: Any, history: History) -> None:
    if bar is not None:
        bar.update(1)
        shown = {k: f"{v[-1]:.3g}" for k, v in history.metrics.items() if v}
        bar.set_postfix({"loss": f"{history.loss[-1]:.4g}", **shown})


# ---------------------------------------------------------------- evaluate, accuracy


def _evaluate(model: Any, data: Batches, loss: LossFn | None, count: Counter | None) -> tuple[float, float]:
    with no_grad():
        if data.tensor:
            out = model(data.X)  # the whole set as one batch
            value = loss(out, data.y).item() if loss is not None else math.nan
            outs: Any = out.data
        else:
            outputs = [model(x) for x in data.X]
            value = loss(outputs, data.y).data if loss is not None else math.nan
            outs = [numbers(o) for o in outputs]
    if count is None:
        return value, math.nan
    return value, count(outs, data.y) / len(data)


def _measure(model: Module, X: Any, y: Any, loss: str | LossFn | None) -> tuple[Batches, Loss, Counter | None]:
    """The checked data, the loss's entry (no loss: a custom entry without a function) and its counter."""
    tensor = is_tensor_model(model)
    spec = resolve_loss(loss) if loss is not None else custom_loss(None)
    data = prepare(model, X, y, spec.labels, tensor)
    return data, spec, make_counter(spec.accuracy, data.y, getattr(model, "nout", None), tensor)


def evaluate(model: Module, X: Any, y: Any, loss: str | LossFn | None = None) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``model`` on ``(X, y)`` without recording a graph (either path).

    The loss is NaN when ``loss`` is None; the accuracy is NaN when the labels are not classes.
    """
    data, spec, count = _measure(model, X, y, loss)
    return _evaluate(model, data, spec.form(data.tensor), count)


def accuracy(model: Module, X: Any, y: Any, loss: str | None = None) -> float:
    """Fraction of rows ``model`` classifies correctly (either path).

    Several outputs: argmax; one output: sign for -1/+1 labels (or ``loss="hinge"``),
    threshold 0.5 for 0/1 labels.  NaN when the labels are not classes.
    """
    data, _, count = _measure(model, X, y, loss)
    return _evaluate(model, data, None, count)[1]
