"""Rosenblatt's perceptron: a threshold logic unit and its learning rule.

    y_hat = 1 if w . x >= threshold else 0          (step function, seed 000)
    w <- w + eta (y - y_hat) x                      (perceptron rule, seed 001 eq. 5)

No gradients: the rule only uses the error y - y_hat.  On the lecture's
weather table (``nn.data.weather()``) with w = [0.3, 0.2], threshold 0.5 and
eta = 0.01 the first update ``step([0.8, 0.6], 1)`` gives w = [0.308, 0.206].
A single unit draws one straight line, so it cannot learn XOR; ``fit``
reports that instead of hiding it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from .init import make_draw
from .module import check_size


class ConvergenceWarning(UserWarning):
    """Training stopped before every example was classified correctly."""


@dataclass
class PerceptronHistory:
    """Per-epoch record of :meth:`Perceptron.fit`.

    ``errors[e]``: how many examples epoch e misclassified (before their update);
    ``weights[e]``: the weights after epoch e; ``converged``: an epoch made no
    mistake; ``message``: a one-line verdict.
    """

    errors: list[int] = field(default_factory=list)
    weights: list[list[float]] = field(default_factory=list)
    converged: bool = False
    message: str = ""

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.errors)


def _number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{what} must be a number, got {type(x).__name__}: {x!r:.60}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x!r}")
    return x


def _label(y: Any, where: str = "") -> None:
    """A perceptron label is the number 0 or 1 (``ValueError`` otherwise, naming what came)."""
    if isinstance(y, (bool, Real)) and y in (0, 1):
        return
    raise ValueError(f"Perceptron labels must be 0 or 1, got {y!r:.60}{where}")


class Perceptron:
    """A threshold logic unit: ``Perceptron(nin, threshold=0.5, lr=0.01, weights=None, seed=None)``.

    ``weights`` (list of ``nin`` floats) default to draws from U(-1, 1)
    (reproducible with ``seed``); the threshold is fixed, as on the slides.
    """

    def __init__(
        self,
        nin: int,
        threshold: float = 0.5,
        lr: float = 0.01,
        weights: Sequence[float] | None = None,
        seed: int | None = None,
    ) -> None:
        self.nin = check_size("nin", nin)
        self.threshold = _number(threshold, "threshold")
        self.lr = _number(lr, "lr")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if weights is None:
            draw = make_draw(seed)
            self.weights = [draw.uniform(-1.0, 1.0) for _ in range(nin)]
        else:
            if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
                kind = type(weights).__name__
                raise TypeError(f"weights must be a list of {nin} numbers, got {kind}: {weights!r:.60}")
            if len(weights) != nin:
                raise ValueError(f"Perceptron expects {nin} weights, got {len(weights)}")
            self.weights = [_number(w, f"weights[{i}]") for i, w in enumerate(weights)]

    def _inputs(self, x: Sequence[Any]) -> list[float]:
        if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
            raise TypeError(f"Perceptron expects a list of {self.nin} numbers, got {type(x).__name__}")
        if len(x) != self.nin:
            raise ValueError(f"Perceptron expects {self.nin} inputs, got {len(x)}")
        return [_number(xi, f"input {i}") for i, xi in enumerate(x)]

    def net(self, x: Sequence[Any]) -> float:
        """The weighted sum w . x (compared with the threshold)."""
        return sum(w * xi for w, xi in zip(self.weights, self._inputs(x)))

    def predict(self, x: Sequence[Any]) -> int:
        """The step output: 1 if w . x >= threshold else 0."""
        return 1 if self.net(x) >= self.threshold else 0

    def step(self, x: Sequence[Any], y: int) -> int:
        """One update w <- w + eta (y - y_hat) x; returns the error y - y_hat (-1, 0 or 1)."""
        xs = self._inputs(x)
        _label(y)
        y_hat = 1 if sum(w * xi for w, xi in zip(self.weights, xs)) >= self.threshold else 0
        error = int(y) - y_hat
        if error:
            self.weights = [w + self.lr * error * xi for w, xi in zip(self.weights, xs)]
        return error

    def fit(
        self, X: Sequence[Sequence[Any]], y: Sequence[int], epochs: int = 100, warn: bool = True
    ) -> PerceptronHistory:
        """Apply :meth:`step` to every row, epoch after epoch, until an epoch makes no mistake.

        Returns a :class:`PerceptronHistory`.  If ``epochs`` run out first
        (e.g. on XOR, which no single line separates), ``converged`` is False,
        ``message`` says so, and a :class:`ConvergenceWarning` is issued (``warn=False`` silences it).
        """
        for name, data in (("X", X), ("y", y)):
            if isinstance(data, (str, bytes)) or not hasattr(data, "__len__"):
                raise TypeError(f"Perceptron.fit: {name} must be a list, got {type(data).__name__}: {data!r:.60}")
        if len(X) == 0:
            raise ValueError("Perceptron.fit needs at least one example, got empty data")
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        rows = [self._inputs(x) for x in X]
        for i, label in enumerate(y):
            _label(label, f" at row {i}")
        history = PerceptronHistory()
        for _ in range(epochs):
            mistakes = sum(1 for xs, label in zip(rows, y) if self.step(xs, label) != 0)
            history.errors.append(mistakes)
            history.weights.append(list(self.weights))
            if mistakes == 0:
                history.converged = True
                history.message = f"converged after {history.epochs} epochs: every example is classified correctly"
                return history
        history.message = (
            f"did not converge in {epochs} epochs: {history.errors[-1]} of {len(rows)} examples still "
            "misclassified (a single perceptron can only separate classes with a straight line)"
        )
        if warn:
            warnings.warn(f"Perceptron {history.message}", ConvergenceWarning, stacklevel=2)
        return history

    def __repr__(self) -> str:
        w = ", ".join(f"{w:.4g}" for w in self.weights)
        return f"Perceptron(weights=[{w}], threshold={self.threshold:g}, lr={self.lr:g})"
