"""``fit``: the training loop, and ``History``, its per-epoch record.

One step is the lecture's loop: feedforward, loss, backpropagation, weight
update.  ``fit`` trains both kinds of model with the same loop:

* scalar models (``nn.MLP``: parameters are ``engine.Value`` s): rows are
  lists of floats, one graph per sample, losses from :mod:`nn.losses`;
* tensor models (``nn.Sequential`` or any module whose parameters are
  ``engine.Tensor`` s): ``X`` and ``y`` stay numpy arrays, one graph per
  batch, losses from ``nn.layers.TENSOR_LOSSES`` (the same four names).

:func:`make_step` builds the per-batch step once, in one place, for either
kind.  ``fit(..., trace=True)`` makes it a traced program instead
(``nn.TracedStep``: the per-sample computation recorded once, then
replayed over the whole batch with numpy), with the same loop and numbers.
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

from ..engine import Tensor, Value, no_grad
from ..engine.tensor import to_array
from .data import as_dataset
from .layers import TENSOR_LOSSES, Sequential, takes_ids
from .losses import LOSSES
from .losses import l2 as l2_penalty
from .module import Module
from .optim import SGD, Optimizer
from .traced_step import TracedStep

LossFn = Callable[[Any, Any], Any]  # scalar: (outputs, targets) -> Value; tensor: (out Tensor, targets) -> Tensor
Step = Callable[[Any, Any], tuple[float, Any]]  # (X batch, y batch) -> (loss, output numbers)
Counter = Callable[[Any, Any], int]  # (output numbers, targets) -> correct predictions in the batch


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


# ---------------------------------------------------------------- which path


def is_tensor_model(model: Module) -> bool:
    """True when ``model``'s parameters are Tensors (the tensor path), False for scalar Values.

    A model mixing both raises ``TypeError``; one without parameters counts as
    a tensor model when it is an ``nn.Sequential``.
    """
    kinds = {isinstance(p, Tensor) for p in model.parameters()}
    if len(kinds) > 1:
        raise TypeError(
            f"{type(model).__name__} mixes Tensor and scalar Value parameters; fit trains one kind at a time"
        )
    return kinds.pop() if kinds else isinstance(model, Sequential)


def _resolve_loss(loss: str | LossFn, tensor: bool) -> tuple[str, LossFn]:
    """``(kind, loss function)`` for a loss name (from the path's table) or a callable (kind "custom")."""
    if isinstance(loss, str):
        table = TENSOR_LOSSES if tensor else LOSSES
        if loss not in table:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(table)} or pass a callable")
        return loss, table[loss]
    if callable(loss):
        return "custom", loss
    raise TypeError(f"loss must be a name or a callable, got {type(loss).__name__}")


# ---------------------------------------------------------------- data


@dataclass
class Batches:
    """Checked training data for one path: lists of rows / labels (scalar) or arrays (tensor)."""

    X: Any
    y: Any
    tensor: bool

    def __len__(self) -> int:
        return len(self.X)

    def take(self, idx: Sequence[int]) -> tuple[Any, Any]:
        """The rows and labels at positions ``idx`` (an index array on the tensor path)."""
        if self.tensor:
            return self.X[idx], self.y[idx]
        return [self.X[i] for i in idx], [self.y[i] for i in idx]


def _first(bad: np.ndarray) -> int:
    """The first row where ``bad`` (one flag per element) holds."""
    return int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])


def as_arrays(model: Module, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert ``(X, y)`` for a tensor model: numpy arrays, one label (row) per row of X.

    ``X`` becomes floats of the model's dtype (integer ids when the model
    starts with an ``Embedding``).  ``TypeError`` for non-numeric data;
    ``ValueError`` for empty data, a length mismatch, a non-finite input or
    rows of the wrong size (expected vs got).
    """
    if isinstance(X, Tensor):
        X = X.data
    params = model.parameters()
    if takes_ids(model):
        Xa = np.asarray(X)
        if Xa.dtype.kind == "f" and np.isfinite(Xa).all() and np.all(Xa == np.round(Xa)):
            Xa = Xa.astype(np.intp)
        if Xa.dtype.kind not in "iu":
            raise TypeError(f"X must hold integer ids (the model starts with an Embedding), got {Xa.dtype} data")
    else:
        Xa = to_array(X, params[0].data.dtype if params else None)
    ya = np.asarray(y.data if isinstance(y, Tensor) else y)
    if ya.dtype.kind not in "biuf":
        raise TypeError(f"y must hold numeric labels, got {ya.dtype} data")
    if Xa.ndim == 0 or len(Xa) == 0:
        raise ValueError("empty data: X has no rows")
    if ya.ndim == 0 or len(Xa) != len(ya):
        raise ValueError(f"X has {len(Xa)} rows but y has {len(ya) if ya.ndim else 'no list of'} labels")
    if Xa.dtype.kind == "f":
        bad = ~np.isfinite(Xa)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"X{list(where)} is {Xa[where].item()!r}; inputs must be finite")
    nin = getattr(model, "nin", None)
    if nin is not None and not takes_ids(model) and (Xa.ndim != 2 or Xa.shape[1] != nin):
        got = f"rows of {Xa.shape[1]} values" if Xa.ndim == 2 else f"shape {Xa.shape}"
        raise ValueError(f"X has {got}; the model expects {nin} inputs per row")
    return Xa, ya


def _check_array_labels(kind: str, y: np.ndarray, nout: int | None) -> np.ndarray:
    """The labels for ``kind`` on the tensor path (one-hot rows become class indices).

    ``ValueError`` names the first bad row.
    """
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"label at row {_first(~np.isfinite(y))} is not finite")
    if kind == "cross_entropy":
        if y.ndim == 2:
            if nout is not None and y.shape[1] != nout:
                raise ValueError(f"one-hot labels have {y.shape[1]} entries; the model has {nout} outputs")
            onehot = ((y == 0) | (y == 1)).all(axis=1) & (y.sum(axis=1) == 1)
            if not onehot.all():
                i = _first(~onehot)
                raise ValueError(
                    f"label at row {i} is not one-hot: {y[i].tolist()!r:.60} "
                    "(the tensor path's cross_entropy takes class indices or one-hot rows)"
                )
            return y.argmax(axis=1)
        if y.ndim != 1:
            raise ValueError(f"cross_entropy needs one class index per row, got labels of shape {y.shape}")
        if y.dtype.kind in "bf":
            bad = (y != np.round(y)) | (y.dtype.kind == "b")
            if bad.any():
                i = _first(bad)
                raise ValueError(f"label {y[i].item()!r} at row {i} is not a class index")
            y = y.astype(np.int64)
        bad = (y < 0) | (y >= (nout if nout is not None else np.iinfo(np.int64).max))
        if bad.any():
            i = _first(bad)
            classes = f"0..{nout - 1}" if nout else "non-negative ints"
            raise ValueError(f"label {y[i].item()!r} at row {i} is outside the classes {classes}")
        return y
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if kind == "hinge":
        bad = (y != 1) & (y != -1)
        if bad.any():
            i = _first(bad)
            raise ValueError(
                f"hinge loss needs labels -1 or +1, got {y[i].tolist()!r} at row {i} (use 2*y - 1 for 0/1 labels)"
            )
    if kind == "binary_cross_entropy":
        bad = (y < 0) | (y > 1)
        if bad.any():
            i = _first(bad)
            raise ValueError(f"binary_cross_entropy needs labels in [0, 1], got {y[i].tolist()!r} at row {i}")
    return y


def _check_number_label(t: Any, i: int, where: str) -> None:
    """A regression target: a finite number (``TypeError`` / ``ValueError`` naming the row)."""
    if isinstance(t, bool) or not isinstance(t, Real):
        raise TypeError(f"{where} at row {i} is not a number: {type(t).__name__} {t!r:.60}")
    if not math.isfinite(t):
        raise ValueError(f"{where} at row {i} is {t!r}; labels must be finite")


def _check_label_vector(t: Sequence[Any], i: int, nout: int | None, what: str, unit: str) -> None:
    """A label given as a list: one finite number per model output."""
    if nout is not None and len(t) != nout:
        raise ValueError(f"{what} at row {i} has {len(t)} {unit}; the model has {nout} outputs")
    for j, v in enumerate(t):
        _check_number_label(v, i, f"label entry {j}")


def _check_labels(kind: str, y: list[Any], nout: int | None) -> None:
    """Labels for ``kind`` on the scalar path, checked before training starts (the first bad row is named)."""
    for i, t in enumerate(y):
        if kind == "mse":
            if isinstance(t, (list, tuple)):
                _check_label_vector(t, i, nout, "label", "values")
            else:
                _check_number_label(t, i, "label")
                if nout is not None and nout > 1:
                    raise ValueError(f"label at row {i} is one number; the model has {nout} outputs (give a list)")
            continue
        if kind == "hinge" and t not in (-1, 1):
            raise ValueError(f"hinge loss needs labels -1 or +1, got {t!r} at row {i} (use 2*y - 1 for 0/1 labels)")
        if kind == "binary_cross_entropy" and not (isinstance(t, Real) and 0 <= t <= 1):
            raise ValueError(f"binary_cross_entropy needs labels in [0, 1], got {t!r} at row {i}")
        if kind == "cross_entropy":
            if isinstance(t, (list, tuple)):
                _check_label_vector(t, i, nout, "one-hot label", "entries")
                if any(v < 0 for v in t) or abs(math.fsum(t) - 1.0) > 1e-6:
                    raise ValueError(
                        f"label at row {i} is not one-hot or a distribution (entries >= 0 summing to 1): "
                        f"{list(t)!r:.60}"
                    )
            elif isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < (nout or math.inf):
                classes = f"0..{nout - 1}" if nout else "non-negative ints"
                raise ValueError(f"label {t!r} at row {i} is outside the classes {classes}")


def prepare(model: Module, X: Any, y: Any, kind: str = "custom", tensor: bool | None = None) -> Batches:
    """``(X, y)`` checked for ``model`` and loss ``kind``, in the form its path trains on."""
    if tensor is None:
        tensor = is_tensor_model(model)
    nout = getattr(model, "nout", None)
    if tensor:
        Xa, ya = as_arrays(model, X, y)
        return Batches(Xa, _check_array_labels(kind, ya, nout), True)
    rows, labels = as_dataset(X, y, getattr(model, "nin", None))
    _check_labels(kind, labels, nout)
    return Batches(rows, labels, False)


# ---------------------------------------------------------------- decisions


def _data(out: Any) -> Any:
    return [v.data for v in out] if isinstance(out, (list, tuple)) else out.data


def _argmax(xs: Sequence[float]) -> int:
    return max(range(len(xs)), key=xs.__getitem__)


def _label_set(y: Any) -> set[Any] | None:
    if isinstance(y, np.ndarray):
        return set(np.unique(y).tolist()) if y.ndim == 1 else None
    try:
        return set(y)
    except TypeError:  # unhashable: one-hot rows
        return None


def _rule(kind: str, y: Any, nout: int | None) -> str | None:
    """How to tell a correct prediction: "argmax", "sign", "threshold", or None if the labels are not classes.

    Several outputs: argmax vs the class index (or the one-hot's argmax); one
    output: sign vs -1/+1 labels (hinge), threshold 0.5 vs 0/1 labels.
    """
    labels = _label_set(y)
    if kind == "cross_entropy" or labels is None or (nout or 1) > 1:
        return "argmax"
    if kind == "hinge" or (kind != "binary_cross_entropy" and labels <= {-1, 1} and -1 in labels):
        return "sign"
    if labels <= {0, 1}:
        return "threshold"
    return None


def _scalar_counter(rule: str) -> Counter:
    def argmax(out: Any, t: Any) -> bool:
        if not isinstance(out, list):
            return False
        return _argmax(out) == (_argmax(t) if isinstance(t, (list, tuple)) else t)

    decide: Callable[[Any, Any], bool] = {
        "argmax": argmax,
        "sign": lambda out, t: (out > 0) == (t > 0),
        "threshold": lambda out, t: (out >= 0.5) == (t >= 0.5),
    }[rule]
    return lambda outs, ys: sum(1 for o, t in zip(outs, ys) if decide(o, t))


def _array_counter(rule: str) -> Counter:
    def count(out: np.ndarray, t: np.ndarray) -> int:
        if rule == "argmax":
            if out.ndim != 2 or out.shape[1] < 2:
                return 0  # one output has no argmax to compare
            return int(np.count_nonzero(out.argmax(axis=1) == (t.argmax(axis=1) if t.ndim == 2 else t)))
        o = out.reshape(t.shape)
        if rule == "sign":
            return int(np.count_nonzero((o > 0) == (t > 0)))
        return int(np.count_nonzero((o >= 0.5) == (t >= 0.5)))

    return count


def make_counter(kind: str, data: Batches, nout: int | None) -> Counter | None:
    """Counts correct predictions in a batch for accuracy, or None when the labels are not classes."""
    rule = _rule(kind, data.y, nout)
    if rule is None:
        return None
    return _array_counter(rule) if data.tensor else _scalar_counter(rule)


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
        squares = [(p * p).sum() for p in model.parameters()]
        penalty = squares[0]
        for s in squares[1:]:
            penalty = penalty + s
        total = total + l2 * penalty
    return total, out


def _finite_loss(value: float) -> float:
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
    if trace:
        if is_tensor_model(model):
            raise ValueError(
                f"trace=True is for scalar models (Value parameters); {type(model).__name__} is a tensor "
                "model, already one vectorized graph per batch: train it with trace=False"
            )
        return TracedStep(
            model, loss, model.parameters(), zero_grad=optimizer.zero_grad, update=optimizer.step,
            l2=l2, batched=batched, reduce="mean",
        )
    if is_tensor_model(model):

        def tensor_step(X: Any, y: Any) -> tuple[float, np.ndarray]:
            optimizer.zero_grad()
            total, out = tensor_batch_loss(model, X, y, loss, l2)
            value = _finite_loss(total.item())
            total.backward()
            optimizer.step()
            return value, out.data

        return tensor_step

    def scalar_step(xs: list[list[float]], ys: list[Any]) -> tuple[float, list[Any]]:
        optimizer.zero_grad()
        total, outputs = batch_loss(model, xs, ys, loss, l2)
        value = _finite_loss(total.data)
        total.backward()
        optimizer.step()
        return value, [_data(o) for o in outputs]

    return scalar_step


def _check_optimizer(model: Module, optimizer: Any) -> None:
    """``TypeError`` unless ``optimizer`` is an ``nn.optim.Optimizer``; ``ValueError`` if it updates none of
    ``model``'s parameters (it was built for another model, so training would change nothing)."""
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
    kind, loss_fn = _resolve_loss(loss, tensor)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, Sequence):
        raise TypeError(f"metrics must be a list of names such as ('accuracy',), got {metrics!r:.60}")
    for name in metrics:
        if name != "accuracy":
            raise ValueError(f"unknown metric {name!r}; available: accuracy")
    data = prepare(model, X, y, kind, tensor)  # the arguments first, then the data
    nout = getattr(model, "nout", None)
    count = make_counter(kind, data, nout) if metrics else None
    if metrics and count is None:
        raise ValueError("accuracy needs class labels (0/1, -1/+1 or class indices); pass metrics=() for regression")
    if validation is not None and (not isinstance(validation, (tuple, list)) or len(validation) != 2):
        raise TypeError(f"validation must be a pair (X_val, y_val), got {type(validation).__name__} {validation!r:.60}")
    val = prepare(model, validation[0], validation[1], kind, tensor) if validation is not None else None
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=0.1)
    _check_optimizer(model, optimizer)
    if isinstance(l2, bool) or not isinstance(l2, Real) or not 0 <= l2 < math.inf:
        raise ValueError(f"l2 must be a number >= 0, got {l2!r}")

    # the one per-batch place: the dynamic engine, or a traced program replayed per batch
    step = make_step(model, loss_fn, optimizer, float(l2), trace=trace, batched=kind != "custom")
    history = History(metrics={name: [] for name in metrics})
    if val is not None:
        history.metrics.update({f"val_{name}": [] for name in metrics})
    best_state = model.state_dict()
    n = len(data)
    size = n if batch_size is None else min(batch_size, n)
    order = list(range(n))
    shuffle = random.Random(seed).shuffle  # the same permutations on both paths
    bar = _bar(epochs, _show_progress(progress))
    start = time.perf_counter()
    try:
        for _ in range(epochs):
            if size < n:
                shuffle(order)
            perm: Any = np.asarray(order) if data.tensor else order
            lr = optimizer.current_lr()
            total, correct = 0.0, 0
            for b in range(0, n, size):
                xs, ys = (data.X, data.y) if size == n else data.take(perm[b : b + size])
                value, outs = step(xs, ys)
                history.steps += 1
                total += value * len(ys)
                if count is not None:
                    correct += count(outs, ys)
            history.loss.append(total / n)
            history.lr.append(lr)
            if count is not None:
                history.metrics["accuracy"].append(correct / n)
            score = history.loss[-1]
            if val is not None:
                val_loss, val_acc = _evaluate(model, val, loss_fn, count)
                history.val_loss.append(val_loss)
                if count is not None:
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


def _evaluate(model: Any, data: Batches, loss: LossFn | None, count: Counter | None) -> tuple[float, float]:
    with no_grad():
        if data.tensor:
            out = model(data.X)  # the whole set as one batch
            value = loss(out, data.y).item() if loss is not None else math.nan
            outs: Any = out.data
        else:
            outputs = [model(x) for x in data.X]
            value = loss(outputs, data.y).data if loss is not None else math.nan
            outs = [_data(o) for o in outputs]
    if count is None:
        return value, math.nan
    return value, count(outs, data.y) / len(data)


def evaluate(model: Module, X: Any, y: Any, loss: str | LossFn | None = None) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``model`` on ``(X, y)`` without recording a graph (either path).

    The loss is NaN when ``loss`` is None; the accuracy is NaN when the labels are not classes.
    """
    tensor = is_tensor_model(model)
    kind, loss_fn = _resolve_loss(loss, tensor) if loss is not None else ("custom", None)
    data = prepare(model, X, y, kind, tensor)
    return _evaluate(model, data, loss_fn, make_counter(kind, data, getattr(model, "nout", None)))


def accuracy(model: Module, X: Any, y: Any, loss: str | None = None) -> float:
    """Fraction of rows ``model`` classifies correctly (either path).

    Several outputs: argmax; one output: sign for -1/+1 labels (or ``loss="hinge"``),
    threshold 0.5 for 0/1 labels.  NaN when the labels are not classes.
    """
    tensor = is_tensor_model(model)
    kind = _resolve_loss(loss, tensor)[0] if loss is not None else "custom"
    data = prepare(model, X, y, kind, tensor)
    return _evaluate(model, data, None, make_counter(kind, data, getattr(model, "nout", None)))[1]
