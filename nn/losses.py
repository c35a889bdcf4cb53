"""Losses on scalar Values (lists in, one Value out), built from the engine's gates.

=========================  ==================================================
``squared_error(y, o)``    C = (y - o)^2, the lecture's single-sample loss
``mse(pred, target)``      (1/n) sum_i (pred_i - target_i)^2
``binary_cross_entropy``   -(1/n) sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)]
``softmax(logits)``        e^(s_k - m) / sum_j e^(s_j - m),  m = max_j s_j
``log_softmax(logits)``    (s_k - m) - log sum_j e^(s_j - m)   (stable log-sum-exp)
``cross_entropy``          -sum_k t_k log softmax(s)_k  (class index or one-hot t)
``hinge(scores, y)``       (1/n) sum_i max(0, 1 - y_i s_i),  y_i in {-1, +1}
``max_margin(s, s_c)``     max(0, margin + s_c - s)  (seed 002, corrupted window s_c)
``l2(params, alpha)``      alpha sum_p p^2
=========================  ==================================================

Batch forms (lists of samples) return the mean over samples, so the same
functions serve ``nn.fit``, whose losses are called as ``loss(outputs, targets)``;
``nn.loss_registry`` names them, beside their tensor forms (``nn.tensor_losses``).
What a target may be (hinge: -1 or +1, ...) is read from ``nn.labels``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from ..engine import Value, apply, sum_values
from .labels import PROBABILITIES, SIGNS, UNIT, is_class_index, is_distribution


def _value(x: Any, what: str) -> Value:
    """A Value passes through (a NaN in it came from upstream: ``fit`` and ``detect_anomaly`` catch it);
    a plain number must be finite."""
    if type(x) is Value:
        return x
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{what} must be a Value or a number, got {type(x).__name__}: {x!r:.60}")
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x!r}")
    return Value(float(x))


def _target(t: Any, what: str) -> float | Value:
    """A target: numbers are checked and become floats; a Value passes through unchanged.

    A Value target stays in the graph (as a leaf), so one trace of a loss
    covers every target (``engine.trace`` feeds it as an input); the
    arithmetic, and so every number, is the same as with the float.
    """
    if isinstance(t, Value):
        if not math.isfinite(t.data):
            raise ValueError(f"{what} must be finite, got {t.data!r}")
        return t
    if not isinstance(t, Real):
        raise TypeError(f"{what} must be a number, got {type(t).__name__}: {t!r:.60}")
    t = float(t)
    if not math.isfinite(t):
        raise ValueError(f"{what} must be finite, got {t!r}")
    return t


def _number(t: float | Value) -> float:
    """The number a target holds (for checks and decisions, never for the arithmetic)."""
    return t.data if isinstance(t, Value) else t


def _is_seq(x: Any) -> bool:
    return isinstance(x, (list, tuple, np.ndarray))


def _mean(terms: list[Value]) -> Value:
    if not terms:
        raise ValueError("a loss needs at least one sample, got none")
    total = sum_values(terms)
    return total if len(terms) == 1 else total * (1.0 / len(terms))


def _pairs(pred: Any, target: Any, out: list[tuple[Value, float | Value]], where: str) -> None:
    if _is_seq(pred):
        if not _is_seq(target) or len(target) != len(pred):
            got = f"{len(target)} values" if _is_seq(target) else repr(target)
            raise ValueError(f"{where}: prediction has {len(pred)} values but the target has {got}")
        for i, (p, t) in enumerate(zip(pred, target)):
            _pairs(p, t, out, f"{where}[{i}]")
    else:
        if _is_seq(target):
            raise ValueError(f"{where}: prediction is one value but the target has {len(target)} values")
        out.append((_value(pred, f"prediction {where}"), _target(target, f"target {where}")))


def squared_error(y: Any, o: Any) -> Value:
    """The lecture's C = (y - o)^2 for one target y and one output o; dC/do = -2 (y - o)."""
    return (_target(y, "target y") - _value(o, "output o")) ** 2


def mse(pred: Any, target: Any) -> Value:
    """Mean squared error (1/n) sum (pred - target)^2 over every number in ``pred``.

    ``pred`` is a Value, a list of Values, or a list of such lists (a batch of
    multi-output predictions); ``target`` has the same structure with numbers.
    """
    pairs: list[tuple[Value, float | Value]] = []
    _pairs(pred, target, pairs, "mse")
    return _mean([(p - t) ** 2 for p, t in pairs])


def _bce_term(p: Value, y: float | Value, from_logits: bool, eps: float) -> Value:
    if from_logits:
        # stable on both sides: never exponentiates a positive number
        z = p
        if z.data >= 0:
            return z * (1.0 - y) + ((-z).exp() + 1.0).log()
        return -z * y + (z.exp() + 1.0).log()
    q = p.max(eps).min(1.0 - eps)  # router gates keep log away from 0
    if type(y) is Value:  # the general form for every target: one program (equal numbers for 0 and 1)
        return -(y * q.log() + (1.0 - y) * (1.0 - q).log())
    if y == 1.0:
        return -q.log()
    if y == 0.0:
        return -(1.0 - q).log()
    return -(y * q.log() + (1.0 - y) * (1.0 - q).log())


def binary_cross_entropy(p: Any, y: Any, from_logits: bool = False, eps: float = 1e-12) -> Value:
    """-(1/n) sum [y log p + (1 - y) log(1 - p)] for probabilities ``p`` and targets y in [0, 1].

    ``p`` is one Value or a list.  Probabilities are clipped to [eps, 1 - eps]
    (no log(0)); with ``from_logits=True`` ``p`` holds logits z and the loss
    is computed stably as max(z, 0) - z y + log(1 + e^-|z|).
    """
    pairs: list[tuple[Value, float | Value]] = []
    _pairs(p, y, pairs, "binary_cross_entropy")
    terms = []
    for i, (q, t) in enumerate(pairs):
        if not UNIT.holds(_number(t)):
            raise UNIT.in_loss(i, _number(t))
        if not from_logits and not PROBABILITIES.holds(q.data):
            raise PROBABILITIES.in_loss(i, q.data)
        terms.append(_bce_term(q, t, from_logits, eps))
    return _mean(terms)


def _logits(logits: Any) -> list[Value]:
    if not _is_seq(logits) or len(logits) == 0:
        raise ValueError(f"expected a non-empty list of logits, got {logits!r:.60}")
    return [_value(s, f"logit {k}") for k, s in enumerate(logits)]


def _shift(s: list[Value]) -> Value:
    """m = max_j s_j as a 'max_shift' stabiliser node: in the graph (a trace recomputes it for every
    sample) but passing no gradient, so numbers and gradients are those of a constant shift."""
    return apply("max_shift", *s)


def log_softmax(logits: Sequence[Any]) -> list[Value]:
    """log softmax(s)_k = (s_k - m) - log sum_j e^(s_j - m), m = max s (stable log-sum-exp)."""
    s = _logits(logits)
    m = _shift(s)
    shifted = [v - m for v in s]
    log_z = sum_values([v.exp() for v in shifted]).log()
    return [v - log_z for v in shifted]


def softmax(logits: Sequence[Any]) -> list[Value]:
    """softmax(s)_k = e^(s_k - m) / sum_j e^(s_j - m); subtracting m = max s changes nothing but overflow."""
    s = _logits(logits)
    m = _shift(s)
    exps = [(v - m).exp() for v in s]
    z = sum_values(exps)
    return [e / z for e in exps]


def _one_cross_entropy(logits: Sequence[Any], target: Any, where: str) -> Value:
    ls = log_softmax(logits)
    k = len(ls)
    if is_class_index(target):
        c = int(target)
        if not 0 <= c < k:
            raise ValueError(f"{where}: class index {c} is outside the {k} classes 0..{k - 1}")
        return -ls[c]
    if type(target) is Value:  # a class index entering as a number (a traced target): one program for every class
        c_num = target.data
        if not (float(c_num).is_integer() and 0 <= c_num < k):
            raise ValueError(f"{where}: class index {c_num!r} is not one of the {k} classes 0..{k - 1}")
        # onehot_j = relu(1 - |c - j|): exactly 1 for j = c and 0 elsewhere, so the sum below has the
        # numbers (and every gradient) of -ls[c]; the index enters the arithmetic instead of picking
        onehot = [(1.0 - (target - float(j)).abs()).relu() for j in range(k)]
        return -sum_values([tj * lj for tj, lj in zip(onehot, ls)])
    if _is_seq(target):
        if len(target) != k:
            raise ValueError(f"{where}: target has {len(target)} entries but there are {k} logits")
        t = [_target(v, f"{where} target[{j}]") for j, v in enumerate(target)]
        numbers = [_number(v) for v in t]
        if not is_distribution(numbers):
            raise ValueError(
                f"{where}: target {numbers!r} is not a one-hot vector or a distribution (>= 0, sums to 1)"
            )
        # float targets skip the zero terms; Value targets keep them all (one program for every
        # target; a zero term adds exactly 0 to the value and to every gradient)
        return -sum_values([tj * lj for tj, lj in zip(t, ls) if type(tj) is Value or tj != 0.0])
    raise TypeError(
        f"{where}: target must be a class index or a one-hot list, got {type(target).__name__}: {target!r:.60}"
    )


def cross_entropy(logits: Any, target: Any) -> Value:
    """-sum_k t_k log softmax(s)_k, i.e. -log softmax(s)_c for a class index c.

    One sample: ``logits`` a list of K Values, ``target`` a class index or a
    one-hot (or probability) list.  A batch: a list of such logit lists and
    a list of targets; the mean over samples.
    """
    if not _is_seq(logits) or len(logits) == 0:
        raise ValueError(f"cross_entropy expects a list of logits, got {logits!r:.60}")
    if _is_seq(logits[0]):
        if not _is_seq(target) or len(target) != len(logits):
            got = len(target) if _is_seq(target) else repr(target)
            raise ValueError(f"cross_entropy: {len(logits)} samples of logits but {got} targets")
        pairs = enumerate(zip(logits, target))
        return _mean([_one_cross_entropy(s, t, f"cross_entropy sample {i}") for i, (s, t) in pairs])
    return _one_cross_entropy(logits, target, "cross_entropy")


def hinge(scores: Any, labels: Any) -> Value:
    """micrograd's SVM loss: (1/n) sum_i relu(1 - y_i s_i), labels y_i in {-1, +1}."""
    pairs: list[tuple[Value, float | Value]] = []
    _pairs(scores, labels, pairs, "hinge")
    for i, (_, y) in enumerate(pairs):
        if not SIGNS.holds(_number(y)):
            raise SIGNS.in_loss(i, _number(y))
    return _mean([(1.0 - y * s).relu() for s, y in pairs])


def max_margin(s: Any, s_c: Any, margin: float = 1.0) -> Value:
    """J = max(0, margin + s_c - s): the true window's score s must beat the corrupted s_c by ``margin``."""
    return (_target(margin, "margin") + _value(s_c, "s_c") - _value(s, "s")).max(0.0)


def l2(params: Any, alpha: float = 1e-4) -> Value:
    """The L2 penalty alpha sum_p p^2 over ``params`` (a Module or an iterable of Values)."""
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    if not isinstance(params, Iterable):
        raise TypeError(f"l2 expects a module or a list of Values, got {type(params).__name__}")
    a = _target(alpha, "alpha")
    if _number(a) < 0:
        raise ValueError(f"l2: alpha must be >= 0 (a penalty, not a reward), got {_number(a)!r}")
    squares = [_value(p, "parameter") ** 2 for p in params]
    if not squares:
        raise ValueError("l2: no parameters given")
    return a * sum_values(squares)
