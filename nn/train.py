"""``fit``: the training loop, and ``History``, its per-epoch record.

One step is the lecture's loop: feedforward, loss, backpropagation, weight
update.  ``make_step`` builds that step once, in one place, so another
way of computing it (e.g. a traced, compiled program) can replace it
without touching the loop.
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

from engine import Value, no_grad

from .data import as_dataset
from .losses import LOSSES
from .losses import l2 as l2_penalty
from .module import Module
from .optim import SGD, Optimizer

LossFn = Callable[[list[Any], list[Any]], Value]
Step = Callable[[list[list[float]], list[Any]], tuple[float, list[Any]]]


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


# ---------------------------------------------------------------- decisions


def _data(out: Any) -> Any:
    return [v.data for v in out] if isinstance(out, (list, tuple)) else out.data


def _argmax(xs: Sequence[float]) -> int:
    return max(range(len(xs)), key=xs.__getitem__)


def _label_set(y: list[Any]) -> set[Any] | None:
    try:
        return set(y)
    except TypeError:  # unhashable: one-hot rows
        return None


def _decider(kind: str, y: list[Any], nout: int | None) -> Callable[[Any, Any], bool] | None:
    """How to tell a correct prediction for accuracy, or None if the labels are not classes.

    Several outputs: argmax vs the class index (or the one-hot's argmax); one
    output: sign vs -1/+1 labels (hinge), threshold 0.5 vs 0/1 labels.
    """
    labels = _label_set(y)

    def argmax_rule(out: Any, t: Any) -> bool:
        if not isinstance(out, list):
            return False
        return _argmax(out) == (_argmax(t) if isinstance(t, (list, tuple)) else t)

    if kind == "cross_entropy" or labels is None or (nout or 1) > 1:
        return argmax_rule
    if kind == "hinge" or (kind != "binary_cross_entropy" and labels <= {-1, 1} and -1 in labels):
        return lambda out, t: (out > 0) == (t > 0)
    if labels <= {0, 1}:
        return lambda out, t: (out >= 0.5) == (t >= 0.5)
    return None


def _check_labels(kind: str, y: list[Any], nout: int | None) -> None:
    for i, t in enumerate(y):
        if kind == "hinge" and t not in (-1, 1):
            raise ValueError(f"hinge loss needs labels -1 or +1, got {t!r} at row {i} (use 2*y - 1 for 0/1 labels)")
        if kind == "binary_cross_entropy" and not (isinstance(t, Real) and 0 <= t <= 1):
            raise ValueError(f"binary_cross_entropy needs labels in [0, 1], got {t!r} at row {i}")
        if kind == "cross_entropy":
            if isinstance(t, (list, tuple)):
                if nout is not None and len(t) != nout:
                    raise ValueError(f"one-hot label at row {i} has {len(t)} entries; the model has {nout} outputs")
            elif isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < (nout or math.inf):
                classes = f"0..{nout - 1}" if nout else "non-negative ints"
                raise ValueError(f"label {t!r} at row {i} is outside the classes {classes}")


# ---------------------------------------------------------------- the step


def batch_loss(
    model: Any, xs: list[list[float]], ys: list[Any], loss: LossFn, l2: float = 0.0
) -> tuple[Value, list[Any]]:
    """Feedforward a batch and compute its loss (+ l2 * sum p^2): ``(loss Value, outputs)``."""
    outputs = [model(x) for x in xs]
    total = loss(outputs, ys)
    if not isinstance(total, Value):
        raise TypeError(f"the loss must return a Value, got {type(total).__name__}")
    if l2:
        total = total + l2_penalty(model, l2)
    return total, outputs


def make_step(model: Any, loss: LossFn, optimizer: Optimizer, l2: float = 0.0) -> Step:
    """One training step on a batch: zero_grad, feedforward, loss, backward, update.

    Returns ``step(xs, ys) -> (loss as float, output numbers)``.  A NaN or
    inf loss raises ``FloatingPointError`` before any weight changes.
    """

    def step(xs: list[list[float]], ys: list[Any]) -> tuple[float, list[Any]]:
        optimizer.zero_grad()
        total, outputs = batch_loss(model, xs, ys, loss, l2)
        if not math.isfinite(total.data):
            raise FloatingPointError(
                f"the loss became {total.data!r}; weights were not updated (lower the learning rate?)"
            )
        total.backward()
        optimizer.step()
        return total.data, [_data(o) for o in outputs]

    return step


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
) -> History:
    """Train ``model`` on ``(X, y)`` and return its :class:`History`.

    ``loss``: ``"mse"``, ``"hinge"`` (labels -1/+1), ``"binary_cross_entropy"``
    (probabilities vs 0/1), ``"cross_entropy"`` (logits vs class index or
    one-hot), or a callable ``loss(outputs, targets) -> Value``; ``l2`` adds
    l2 * sum p^2.  ``optimizer`` defaults to ``SGD(model.parameters(), lr=0.1)``.
    ``batch_size=None`` is full batch (one step per epoch); otherwise rows are
    shuffled each epoch (``seed`` makes it reproducible).  ``validation=(Xv, yv)``
    adds ``val_loss`` and ``val_accuracy``.  ``callback(history)`` runs after each
    epoch; if it returns True, training stops there (early stopping).

    Ctrl-C stops cleanly: the weights of the best epoch so far (the initial
    weights if none finished) are restored and the history comes back with
    ``interrupted=True``.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit needs an nn.Module, got {type(model).__name__}")
    nin, nout = getattr(model, "nin", None), getattr(model, "nout", None)
    rows, labels = as_dataset(X, y, nin)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)} or pass a callable")
        kind, loss_fn = loss, LOSSES[loss]
    elif callable(loss):
        kind, loss_fn = "custom", loss
    else:
        raise TypeError(f"loss must be a name or a callable, got {type(loss).__name__}")
    _check_labels(kind, labels, nout)
    for name in metrics:
        if name != "accuracy":
            raise ValueError(f"unknown metric {name!r}; available: accuracy")
    decide = _decider(kind, labels, nout) if metrics else None
    if metrics and decide is None:
        raise ValueError("accuracy needs class labels (0/1, -1/+1 or class indices); pass metrics=() for regression")
    if validation is not None:
        val_rows, val_labels = as_dataset(*validation, nin)
        _check_labels(kind, val_labels, nout)
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=0.1)
    if isinstance(l2, bool) or not isinstance(l2, Real) or not 0 <= l2 < math.inf:
        raise ValueError(f"l2 must be a number >= 0, got {l2!r}")

    step = make_step(model, loss_fn, optimizer, float(l2))
    history = History(metrics={name: [] for name in metrics})
    if validation is not None:
        history.metrics.update({f"val_{name}": [] for name in metrics})
    best_state = model.state_dict()
    n = len(rows)
    size = n if batch_size is None else min(batch_size, n)
    order = list(range(n))
    shuffle = random.Random(seed).shuffle
    bar = _bar(epochs, _show_progress(progress))
    start = time.perf_counter()
    try:
        for _ in range(epochs):
            if size < n:
                shuffle(order)
            lr = optimizer.current_lr()
            total, correct = 0.0, 0
            for b in range(0, n, size):
                idx = order[b : b + size]
                xs, ys = [rows[i] for i in idx], [labels[i] for i in idx]
                value, outs = step(xs, ys)
                history.steps += 1
                total += value * len(idx)
                if decide is not None:
                    correct += sum(1 for o, t in zip(outs, ys) if decide(o, t))
            history.loss.append(total / n)
            history.lr.append(lr)
            if decide is not None:
                history.metrics["accuracy"].append(correct / n)
            score = history.loss[-1]
            if validation is not None:
                val_loss, val_acc = evaluate(model, val_rows, val_labels, loss_fn, decide)
                history.val_loss.append(val_loss)
                if decide is not None:
                    history.metrics["val_accuracy"].append(val_acc)
                score = val_loss
            if score < history.best_loss:
                history.best_loss, history.best_epoch = score, history.epochs - 1
                best_state = model.state_dict()
            if bar is not None:
                bar.update(1)
                shown = {k: f"{v[-1]:.3g}" for k, v in history.metrics.items() if v}
                bar.set_postfix({"loss": f"{history.loss[-1]:.4g}", **shown})
            if callback is not None and callback(history):
                break
    except KeyboardInterrupt:
        history.interrupted = True
        model.load_state_dict(best_state)
    finally:
        history.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
    return history


def evaluate(
    model: Any,
    X: Any,
    y: Any,
    loss: str | LossFn | None = None,
    decide: Callable[[Any, Any], bool] | None = None,
) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``model`` on ``(X, y)`` without recording a graph.

    The loss is NaN when ``loss`` is None; the accuracy is NaN when the labels are not classes.
    """
    if isinstance(loss, str) and loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)} or pass a callable")
    loss_fn = LOSSES[loss] if isinstance(loss, str) else loss
    nout = getattr(model, "nout", None)
    rows, labels = as_dataset(X, y, getattr(model, "nin", None))
    if decide is None:
        decide = _decider(loss if isinstance(loss, str) else "custom", labels, nout)
    with no_grad():
        outputs = [model(x) for x in rows]
        value = loss_fn(outputs, labels).data if loss_fn is not None else math.nan
    if decide is None:
        return value, math.nan
    correct = sum(1 for o, t in zip(outputs, labels) if decide(_data(o), t))
    return value, correct / len(rows)


def accuracy(model: Any, X: Any, y: Any, loss: str | None = None) -> float:
    """Fraction of rows ``model`` classifies correctly.

    Several outputs: argmax; one output: sign for -1/+1 labels (or ``loss="hinge"``),
    threshold 0.5 for 0/1 labels.
    """
    return evaluate(model, X, y, None, _decider(loss or "custom", as_dataset(X, y)[1], getattr(model, "nout", None)))[1]
