"""Training data in the form each path trains on, checked before the first step.

* scalar models (``nn.MLP``: parameters are ``engine.Value`` s): ``X`` becomes
  a list of rows of floats (``nn.data.as_dataset``), ``y`` a list of labels;
* tensor models (``nn.Sequential`` or any module whose parameters are
  ``engine.Tensor`` s): numpy arrays (:func:`as_arrays`), one-hot rows turned
  into class indices for cross-entropy.

The labels are checked for the loss (its ``nn.labels`` check, from
``nn.loss_registry``), so a bad label names its row before any weight changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import Tensor
from ..engine.tensor import to_array
from .data import as_dataset
from .labels import ANY, Labels
from .layers import Sequential, takes_ids
from .module import Module


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


def as_arrays(model: Module, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert ``(X, y)`` for a tensor model: numpy arrays, one label (row) per row of X.

    ``X`` becomes floats of the model's dtype (integer ids when the model
    starts with an ``Embedding``).  ``TypeError`` for non-numeric data;
    ``ValueError`` for empty data, a length mismatch, a non-finite input or
    rows of the wrong size (expected vs got).
    """
    Xa = _input_array(model, X.data if isinstance(X, Tensor) else X)
    ya = np.asarray(y.data if isinstance(y, Tensor) else y)
    if ya.dtype.kind not in "biuf":
        raise TypeError(f"y must hold numeric labels, got {ya.dtype} data")
    if Xa.ndim == 0 or len(Xa) == 0:
        raise ValueError("empty data: X has no rows")
    if ya.ndim == 0 or len(Xa) != len(ya):
        raise ValueError(f"X has {len(Xa)} rows but y has {len(ya) if ya.ndim else 'no list of'} labels")
    _check_finite(Xa)
    nin = getattr(model, "nin", None)
    if nin is not None and not takes_ids(model) and (Xa.ndim != 2 or Xa.shape[1] != nin):
        got = f"rows of {Xa.shape[1]} values" if Xa.ndim == 2 else f"shape {Xa.shape}"
        raise ValueError(f"X has {got}; the model expects {nin} inputs per row")
    return Xa, ya


def _input_array(model: Module, X: Any) -> np.ndarray:
    """X as the model reads it: integer ids for an Embedding, else floats of the parameters' dtype."""
    if not takes_ids(model):
        params = model.parameters()
        return to_array(X, params[0].data.dtype if params else None)
    Xa = np.asarray(X)
    if Xa.dtype.kind == "f" and np.isfinite(Xa).all() and np.all(Xa == np.round(Xa)):
        Xa = Xa.astype(np.intp)
    if Xa.dtype.kind not in "iu":
        raise TypeError(f"X must hold integer ids (the model starts with an Embedding), got {Xa.dtype} data")
    return Xa


def _check_finite(Xa: np.ndarray) -> None:
    if Xa.dtype.kind == "f":
        bad = ~np.isfinite(Xa)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"X{list(where)} is {Xa[where].item()!r}; inputs must be finite")


def prepare(model: Module, X: Any, y: Any, labels: Labels = ANY, tensor: bool | None = None) -> Batches:
    """``(X, y)`` checked for ``model`` (and its labels by ``labels``), in the form its path trains on."""
    if tensor is None:
        tensor = is_tensor_model(model)
    nout = getattr(model, "nout", None)
    if tensor:
        Xa, ya = as_arrays(model, X, y)
        return Batches(Xa, labels.check_array(ya, nout), True)
    rows, targets = as_dataset(X, y, getattr(model, "nin", None))
    labels.check_list(targets, nout)
    return Batches(rows, targets, False)
