"""Labels: what each named loss accepts as a target, each rule written once.

=========================  =================================================
hinge                      y in {-1, +1}  (2*y - 1 maps 0/1 labels)
binary_cross_entropy       y in [0, 1]
cross_entropy              a class index 0..K-1, or a one-hot row
mse                        finite numbers, one per model output
=========================  =================================================

The losses read these rules for their own arguments (``losses.hinge([0.5],
[0])``: "hinge: label 0 is 0; labels must be -1 or +1"); ``fit``, ``evaluate``
and ``accuracy`` read them, through ``nn.loss_registry``, to check a whole
data set before training, naming the first bad row ("hinge loss needs labels
-1 or +1, got 0 at row 0").  The scalar path's labels are a list (a number or
a list per row, :meth:`Labels.check_list`); the tensor path's a numpy array
(:meth:`Labels.check_array`, which also returns the form the tensor loss takes:
one-hot rows become class indices).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np


def first_row(bad: np.ndarray) -> int:
    """The first row where ``bad`` (one flag per element) holds."""
    return int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])


class Allowed(NamedTuple):
    """The numbers a loss accepts as labels, and the words its errors use.

    ``valid(y)`` works on one number or element-wise on an array.  The loss's
    own error reads "{loss}: {noun} i is y; {noun}s must {verb} {allowed}",
    a data set's "{title} needs labels {allowed}, got y at row i".
    """

    loss: str
    title: str
    noun: str
    verb: str
    allowed: str
    valid: Callable[[Any], Any]
    hint: str = ""

    def holds(self, t: Any) -> bool:
        """Whether ``t`` is one allowed number."""
        return isinstance(t, Real) and bool(self.valid(t))

    def in_loss(self, i: int, t: Any) -> ValueError:
        """The error for the loss's target ``i``."""
        return ValueError(f"{self.loss}: {self.noun} {i} is {t!r}; {self.noun}s must {self.verb} {self.allowed}"
                          f"{self.hint}")

    def at_row(self, i: int, t: Any) -> ValueError:
        """The error for row ``i`` of a data set."""
        return ValueError(f"{self.title} needs labels {self.allowed}, got {t!r} at row {i}{self.hint}")

    def first_bad(self, values: np.ndarray) -> int | None:
        """The flat index of the first number of ``values`` outside the rule (None: all allowed)."""
        ok = self.valid(values)
        if ok.all():
            return None
        return int(np.flatnonzero(~np.asarray(ok, dtype=bool).reshape(-1))[0])

    def check_flat(self, values: np.ndarray) -> None:
        """The loss's own error (:meth:`in_loss`) for the first number of ``values`` (flat index) outside the rule."""
        i = self.first_bad(values)
        if i is not None:
            raise self.in_loss(i, values.flat[i].item())


SIGNS = Allowed("hinge", "hinge loss", "label", "be", "-1 or +1", lambda y: (y == 1) | (y == -1),
                " (use 2*y - 1 for 0/1 labels)")
"""The hinge loss's labels: y = -1 or +1."""

UNIT = Allowed("binary_cross_entropy", "binary_cross_entropy", "target", "lie", "in [0, 1]",
               lambda y: (y >= 0) & (y <= 1))
"""Binary cross-entropy's targets: 0 <= y <= 1."""


PROBABILITIES = Allowed("binary_cross_entropy", "binary_cross_entropy", "prediction", "lie", "in [0, 1]",
                        lambda p: (p >= 0) & (p <= 1), " (not a probability: use a sigmoid output)")
"""Binary cross-entropy's predictions (without ``from_logits``): probabilities, 0 <= p <= 1."""


def is_distribution(t: Sequence[float]) -> bool:
    """A one-hot vector or a probability distribution: every t_k >= 0 and sum_k t_k = 1 (to 1e-6)."""
    return all(v >= 0 for v in t) and abs(math.fsum(t) - 1.0) <= 1e-6


def is_class_index(t: Any) -> bool:
    """A whole number (an int, a numpy int, or an integral float such as ``2.0``), not a bool."""
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, Real):
        return False
    return isinstance(t, Integral) or (math.isfinite(t) and float(t).is_integer())


def classes(nout: int | None) -> str:
    """The class indices in words: ``0..K-1``, or "non-negative ints" when K is unknown."""
    return f"0..{nout - 1}" if nout else "non-negative ints"


def _outside(t: Any, i: int, nout: int | None) -> ValueError:
    return ValueError(f"label {t!r} at row {i} is outside the classes {classes(nout)}")


def _check_number(t: Any, i: int, where: str) -> None:
    """A regression target: a finite number (``TypeError`` / ``ValueError`` naming the row)."""
    if isinstance(t, bool) or not isinstance(t, Real):
        raise TypeError(f"{where} at row {i} is not a number: {type(t).__name__} {t!r:.60}")
    if not math.isfinite(t):
        raise ValueError(f"{where} at row {i} is {t!r}; labels must be finite")


def _check_vector(t: Sequence[Any], i: int, nout: int | None, what: str, unit: str) -> None:
    """A label given as a list: one finite number per model output."""
    if nout is not None and len(t) != nout:
        raise ValueError(f"{what} at row {i} has {len(t)} {unit}; the model has {nout} outputs")
    for j, v in enumerate(t):
        _check_number(v, i, f"label entry {j}")


class Labels:
    """The labels a custom loss takes: anything on the scalar path, finite numbers on the tensor path."""

    def check_list(self, y: list[Any], nout: int | None) -> None:
        """Check the scalar path's labels (one per row); ``ValueError`` / ``TypeError`` name the first bad row."""

    def check_array(self, y: np.ndarray, nout: int | None) -> np.ndarray:
        """Check the tensor path's labels and return them as the tensor loss takes them."""
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"label at row {first_row(~np.isfinite(y))} is not finite")
        return self.array_form(y, nout)

    def array_form(self, y: np.ndarray, nout: int | None) -> np.ndarray:
        """Finite labels as the loss takes them: an (n, 1) column becomes n numbers."""
        return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y


class Numbers(Labels):
    """Regression targets (mse): a finite number per row, or a list of one per model output."""

    def check_list(self, y: list[Any], nout: int | None) -> None:
        """Numbers, or lists of ``nout`` numbers; one number only for a one-output model."""
        for i, t in enumerate(y):
            if isinstance(t, (list, tuple)):
                _check_vector(t, i, nout, "label", "values")
                continue
            _check_number(t, i, "label")
            if nout is not None and nout > 1:
                raise ValueError(f"label at row {i} is one number; the model has {nout} outputs (give a list)")


class AllowedLabels(Labels):
    """Labels from a fixed set of numbers (:data:`SIGNS` for hinge, :data:`UNIT` for binary cross-entropy)."""

    def __init__(self, rule: Allowed) -> None:
        self.rule = rule

    def check_list(self, y: list[Any], nout: int | None) -> None:
        """Every label one allowed number."""
        for i, t in enumerate(y):
            if not self.rule.holds(t):
                raise self.rule.at_row(i, t)

    def array_form(self, y: np.ndarray, nout: int | None) -> np.ndarray:
        """Every entry an allowed number."""
        y = super().array_form(y, nout)
        bad = ~self.rule.valid(y)
        if bad.any():
            i = first_row(bad)
            raise self.rule.at_row(i, y[i].tolist())
        return y


class ClassLabels(Labels):
    """Cross-entropy's labels: a class index 0..K-1, or a one-hot row (a distribution on the scalar path)."""

    def check_list(self, y: list[Any], nout: int | None) -> None:
        """An int class index, or a list of ``nout`` entries >= 0 summing to 1, per row."""
        for i, t in enumerate(y):
            if isinstance(t, (list, tuple)):
                _check_vector(t, i, nout, "one-hot label", "entries")
                if not is_distribution(t):
                    raise ValueError(
                        f"label at row {i} is not one-hot or a distribution (entries >= 0 summing to 1): "
                        f"{list(t)!r:.60}"
                    )
            elif not is_class_index(t):
                raise ValueError(f"label {t!r} at row {i} is not a class index")
            elif not 0 <= t < (nout or math.inf):
                raise _outside(t, i, nout)

    def array_form(self, y: np.ndarray, nout: int | None) -> np.ndarray:
        """Class indices: one per row, or one-hot rows turned into their indices."""
        if y.ndim == 2:
            return _one_hot_indices(y, nout)
        if y.ndim != 1:
            raise ValueError(f"cross_entropy needs one class index per row, got labels of shape {y.shape}")
        return _class_indices(y, nout)


def _one_hot_indices(y: np.ndarray, nout: int | None) -> np.ndarray:
    if nout is not None and y.shape[1] != nout:
        raise ValueError(f"one-hot labels have {y.shape[1]} entries; the model has {nout} outputs")
    onehot = ((y == 0) | (y == 1)).all(axis=1) & (y.sum(axis=1) == 1)
    if not onehot.all():
        i = first_row(~onehot)
        raise ValueError(
            f"label at row {i} is not one-hot: {y[i].tolist()!r:.60} "
            "(the tensor path's cross_entropy takes class indices or one-hot rows)"
        )
    return y.argmax(axis=1)


def _class_indices(y: np.ndarray, nout: int | None) -> np.ndarray:
    if y.dtype.kind in "bf":
        bad = (y != np.round(y)) | (y.dtype.kind == "b")
        if bad.any():
            i = first_row(bad)
            raise ValueError(f"label {y[i].item()!r} at row {i} is not a class index")
        y = y.astype(np.int64)
    bad = (y < 0) | (y >= (nout if nout is not None else np.iinfo(np.int64).max))
    if bad.any():
        i = first_row(bad)
        raise _outside(y[i].item(), i, nout)
    return y


ANY = Labels()
NUMBERS = Numbers()
CLASSES = ClassLabels()
