"""Accuracy: how an output becomes a decision, and counting the correct ones in a batch.

==============  ==========================================================
``"argmax"``    several outputs: the class with the largest output
                (labels: class indices, or one-hot rows)
``"sign"``      one output, labels -1 / +1: correct when sign(out) = sign(y)
``"threshold"`` one output, labels 0 / 1: correct when (out >= 0.5) = (y >= 0.5)
==============  ==========================================================

A named loss says which rule its labels mean (``nn.loss_registry``:
cross-entropy argmax, hinge sign, binary cross-entropy threshold); for mse
and custom losses the labels decide.  A counter takes a batch's output
numbers and labels (lists on the scalar path, arrays on the tensor path) and
returns how many rows were classified correctly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Counter = Callable[[Any, Any], int]  # (output numbers, targets) -> correct predictions in the batch


def _argmax(xs: Sequence[float]) -> int:
    return max(range(len(xs)), key=xs.__getitem__)


def label_set(y: Any) -> set[Any] | None:
    """The distinct labels, or None when they are rows (one-hot, several outputs)."""
    if isinstance(y, np.ndarray):
        return set(np.unique(y).tolist()) if y.ndim == 1 else None
    try:
        return set(y)
    except TypeError:  # unhashable: one-hot rows
        return None


def decision_rule(preferred: str | None, y: Any, nout: int | None) -> str | None:
    """The rule that turns an output into a class for labels ``y``, or None when they are not classes.

    ``preferred`` is the loss's own rule (None: read it from the labels:
    -1/+1 means sign, 0/1 threshold).  Several outputs, or label rows, mean argmax.
    """
    labels = label_set(y)
    if preferred == "argmax" or labels is None or (nout or 1) > 1:
        return "argmax"
    if preferred == "sign" or (preferred is None and labels <= {-1, 1} and -1 in labels):
        return "sign"
    if labels <= {0, 1}:
        return "threshold"
    return None


def scalar_counter(rule: str) -> Counter:
    """Counts correct rows for lists: an output is a number or a list of numbers per row."""

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


def array_counter(rule: str) -> Counter:
    """Counts correct rows for arrays: outputs (n, k), labels (n,) or (n, k)."""

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


def make_counter(preferred: str | None, y: Any, nout: int | None, tensor: bool) -> Counter | None:
    """A counter of correct predictions for labels ``y`` (either path), or None when the labels are not classes."""
    rule = decision_rule(preferred, y, nout)
    if rule is None:
        return None
    return array_counter(rule) if tensor else scalar_counter(rule)
