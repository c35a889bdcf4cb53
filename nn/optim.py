"""Optimizers: gradient descent steps on parameters' ``.data`` from their ``.grad``.

    SGD:   g = grad + wd p;  v = mu v + g (v = g at the first step);  p <- p - lr v
    Adam:  g = grad + wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
           p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

(PyTorch's conventions, so the numbers match ``torch.optim``.)  The same
arithmetic works whether ``.data``/``.grad`` are floats (scalar Values) or
numpy arrays (tensors); state is kept per parameter.  ``lr`` is a number or
a schedule ``lr(k)`` called with the step index k = 0, 1, 2, ...

Scalar parameters can also be updated as one vector: ``opt.step_vector(data,
grad)`` takes every parameter's number and gradient as two arrays and returns
the new numbers (the same rule, checks and state as ``step``, element-wise;
what a traced training step uses, ``nn.TracedStep``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from numbers import Real
from typing import Any

import numpy as np

from ..engine import no_grad
from .module import clear_grads

LearningRate = float | Callable[[int], float]


def _finite(x: Any) -> bool:
    """No NaN or inf in ``x`` (a number or an array).

    A float array is finite if its dot product with itself is: x.x = Σ x_i^2 is a
    sum of squares, so one NaN or inf element makes it NaN or +inf (a square is
    never negative: nothing cancels it).  The converse fails only by overflow
    (|x_i| past ~1e19 in float32), so a non-finite x.x is settled by ``np.isfinite``.
    One BLAS pass, no temporary.  (Call under ``np.errstate(all="ignore")``.)
    """
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            return math.isfinite(np.vdot(x, x)) or bool(np.isfinite(x).all())  # vdot: x.x over the flattened x
        return x.size == 0 or (math.isfinite(x.max()) and math.isfinite(x.min()))
    return math.isfinite(x)


def _all_finite(xs: list[Any]) -> bool:
    """No NaN or inf in any of ``xs``: for float arrays one sum of their dot products x.x says it
    (a sum of squares; see :func:`_finite`), each array looked at alone only when the sum is not finite."""
    total = 0.0
    for x in xs:
        if type(x) is not np.ndarray or x.dtype.kind != "f":
            if not _finite(x):
                return False
            continue
        total += np.vdot(x, x)
    return math.isfinite(total) or all(_finite(x) for x in xs)


def _number(x: Any, what: str, low: float = 0.0, high: float = math.inf, *, open_low: bool = False) -> float:
    """``x`` as a float in [low, high] (``(low, high]`` with ``open_low``); TypeError / ValueError naming ``what``."""
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{what} must be a number, got {type(x).__name__}: {x!r:.60}")
    x = float(x)
    if not (math.isfinite(x) and low <= x <= high) or (open_low and x == low):
        interval = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
        raise ValueError(f"{what} must be a finite number in {interval}, got {x!r}")
    return x


Proposal = tuple[Any, Any]  # (the parameter's new .data, the optimizer state that goes with it)


class Optimizer:
    """Base class: the parameter list, the learning rate (or schedule), ``zero_grad``."""

    def __init__(self, params: Iterable[Any], lr: LearningRate) -> None:
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()
        plist: list[Any] = []
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not (hasattr(p, "data") and hasattr(p, "grad")):
                raise TypeError(f"parameter {i} has no .data and .grad: {type(p).__name__}")
            if id(p) not in seen:
                seen.add(id(p))
                plist.append(p)
        if not plist:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not callable(lr):
            _number(lr, "lr")
        self.params = plist
        self.lr = lr
        self.steps = 0  # updates made so far (the schedule's k)
        self._buffers: dict[int, np.ndarray] = {}  # work arrays, see _scratch

    def current_lr(self) -> float:
        """The learning rate for the next step: ``lr`` or ``lr(k)``."""
        lr = self.lr(self.steps) if callable(self.lr) else self.lr
        if type(lr) is float and 0.0 <= lr < math.inf:  # the usual case, without building the error's text
            return lr
        return _number(lr, f"lr at step {self.steps}")

    def zero_grad(self) -> None:
        """Forget every gradient: a scalar Value's becomes 0.0, an array gradient ``None``.

        ``None`` (as PyTorch) costs no pass over memory; the next backward
        writes a fresh gradient, exactly as if it had been zeroed.
        """
        clear_grads(self.params)

    def step(self) -> None:
        """One update of every parameter that has a gradient, all or nothing.

        Every gradient is checked first (a NaN or inf raises
        ``FloatingPointError``, a gradient whose shape is not the parameter's
        ``ValueError``), then every new value is computed; only if all of them
        are finite are the weights and the optimizer's state written.  Otherwise
        ``FloatingPointError`` names the parameter, and nothing is updated.

        (SGD's and Adam's rules turn a NaN or inf gradient into a NaN or inf
        update, so there one finiteness check of the updates serves both, and
        the gradients are looked at only to name the culprit.)
        """
        lr = self.current_lr()
        live = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        one_check = self._one_check()
        with no_grad(), np.errstate(all="ignore"):
            for i, p in live:
                self._check_grad(i, p, finite=not one_check)
            proposals = [(i, p, self._proposal(i, p, lr)) for i, p in live]
            if not _all_finite([new for _i, _p, (new, _s) in proposals]):
                if one_check:  # a gradient's NaN or inf shows in its update: name the gradient first
                    for i, p in live:
                        self._check_grad(i, p)
                i, new = next((i, new) for i, _p, (new, _s) in proposals if not _finite(new))
                raise FloatingPointError(
                    f"{type(self).__name__}.step: the update of parameter {i} gives a non-finite value "
                    f"({_first_bad(new)!r}); nothing was updated (lower the learning rate?)"
                )
        for i, p, (new, state) in proposals:
            if isinstance(p.data, np.ndarray):
                p.data[...] = new
            else:
                p.data = new
            self._commit(i, state)
        self.steps += 1

    def _one_check(self) -> bool:
        """Whether a NaN or inf gradient always gives a NaN or inf update, so checking the updates
        checks the gradients too: SGD's and Adam's own rules (``mu v + g``, ``(1 - b1) g`` carry it
        whatever the state; then ``lr x`` it with lr >= 0: 0 x inf is NaN).  A subclass with
        another rule (``_rule`` or ``_propose`` of its own) has its gradients checked on their own."""
        cls = type(self)
        ok = self.__dict__.get("_one_checked")
        if ok is None:
            owner = _defined_by(cls, "_shows_bad_grads")
            ok = self._one_checked = (
                owner is not None and _defined_by(cls, "_rule") is owner and _defined_by(cls, "_propose") is owner
                and _defined_by(cls, "_proposal") is Optimizer and _defined_by(cls, "_check_grad") is Optimizer
            )
        return ok

    def _check_grad(self, i: int, p: Any, finite: bool = True) -> None:
        """The gradient of parameter ``i`` has the parameter's shape and (with ``finite``) no NaN or inf."""
        g, data = p.grad, p.data
        if type(g) is np.ndarray and type(data) is np.ndarray and g.shape == data.shape:
            if not finite or _finite(g):
                return  # the usual case: a tensor's gradient
        if np.shape(g) != np.shape(data):
            raise ValueError(
                f"{type(self).__name__}.step: parameter {i} has shape {np.shape(data)} but its gradient has "
                f"shape {np.shape(g)}; nothing was updated"
            )
        if isinstance(g, bool) or not isinstance(g, (Real, np.ndarray)) or (finite and not _finite(g)):
            raise FloatingPointError(
                f"{type(self).__name__}.step: parameter {i} has gradient {g!r:.60}; nothing was updated"
            )

    def _proposal(self, i: int, p: Any, lr: float) -> Proposal:
        """Parameter ``i``'s new value and state, computed without writing anything."""
        try:
            new, state = self._propose(i, p, lr)
            data = p.data
            if isinstance(data, np.ndarray) and not (type(new) is np.ndarray and new.dtype == data.dtype):
                new = np.asarray(new).astype(data.dtype, copy=False)  # float32 stays float32 (and may overflow)
            return new, state
        except ArithmeticError as exc:
            raise FloatingPointError(
                f"{type(self).__name__}.step: the update of parameter {i} failed ({exc}); nothing was updated"
            ) from None

    def _propose(self, i: int, p: Any, lr: float) -> Proposal:
        raise NotImplementedError

    def _commit(self, i: int, state: Any) -> None:
        raise NotImplementedError

    def _scratch(self, i: int, like: np.ndarray) -> np.ndarray:
        """A work array of ``like``'s shape and dtype kept for parameter ``i`` (reused every step).

        A proposal computed into it is copied into ``.data`` at commit, so it is
        never seen outside; reusing it spares allocating an array per step.
        """
        buf = self._buffers.get(i)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = self._buffers[i] = np.empty_like(like)
        return buf

    # ------------------------------------------------------------ every scalar parameter as one vector
    def vector_ready(self) -> bool:
        """Whether :meth:`step_vector` can update these parameters: each a scalar (a float ``.data``), and
        the optimizer's rule one with a vector form (a subclass that changes the rule, ``step`` or
        ``zero_grad`` has none: a training step then calls them)."""
        cls = type(self)
        same = all(_defined_by(cls, a) is _defined_by(cls, b)
                   for a, b in (("_propose", "_propose_vector"), ("_commit", "_commit_vector"),
                                ("step", "zero_grad"), ("step", "step_vector")))
        return same and all(type(p.data) is float for p in self.params)

    def step_vector(self, data: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """One update of every scalar parameter at once: returns their new numbers; writes no parameter.

        ``data``, ``grad``: float64 arrays, one entry per parameter in ``self.params``
        order.  The same rule, state and all-or-nothing checks as :meth:`step`,
        element-wise: a NaN or inf gradient, or an update that gives one, raises
        ``FloatingPointError`` naming the parameter, and no state changes.
        """
        if not self._vector_ok():
            raise TypeError(f"{type(self).__name__}.step_vector: needs scalar parameters and an optimizer "
                            "whose rule has a vector form; use step()")
        n = len(self.params)
        if type(data) is not np.ndarray or type(grad) is not np.ndarray or data.shape != (n,) or grad.shape != (n,):
            for name, arr in (("data", data), ("grad", grad)):
                got = arr.shape if isinstance(arr, np.ndarray) else type(arr).__name__
                if got != (n,):
                    raise ValueError(f"{type(self).__name__}.step_vector: {name} must be an array of shape ({n},), "
                                     f"one entry per parameter; got {got}")
        lr = self.current_lr()
        with np.errstate(all="ignore"):
            new, state = self._propose_vector(data, grad, lr)
            # a NaN or inf gradient gives a NaN or inf update: one check for both
            finite = math.isfinite(np.add.reduce(new))
        if not finite:
            _vector_check(grad, new, type(self).__name__)
        self.steps += 1
        self._commit_vector(state)
        return new

    def _vector_ok(self) -> bool:
        """``vector_ready()``, found once (the parameter list does not change)."""
        ok = self.__dict__.get("_vector_checked")
        if ok is None:
            ok = self._vector_checked = self.vector_ready()
        return ok

    def _propose_vector(self, data: np.ndarray, grad: np.ndarray, lr: float) -> Proposal:
        raise NotImplementedError

    def _commit_vector(self, state: Any) -> None:
        raise NotImplementedError


def _vector_check(grad: np.ndarray, new: np.ndarray, name: str) -> None:
    """``FloatingPointError`` naming the first parameter whose gradient, else whose update, is not finite."""
    bad = np.flatnonzero(~np.isfinite(grad))
    if bad.size:
        i = int(bad[0])
        raise FloatingPointError(f"{name}.step: parameter {i} has gradient {grad[i].item()!r}; nothing was updated")
    bad = np.flatnonzero(~np.isfinite(new))
    if bad.size:
        i = int(bad[0])
        raise FloatingPointError(
            f"{name}.step: the update of parameter {i} gives a non-finite value ({new[i].item()!r}); "
            "nothing was updated (lower the learning rate?)"
        )


def _defined_by(cls: type, name: str) -> type | None:
    """The class in ``cls``'s MRO whose body defines ``name``."""
    return next((k for k in cls.__mro__ if name in vars(k)), None)


def _first_bad(x: Any) -> Any:
    """The first non-finite number in ``x`` (a number or an array)."""
    if isinstance(x, np.ndarray):
        return x.flat[int(np.flatnonzero(~np.isfinite(x))[0])].item()
    return x


class SGD(Optimizer):
    """Stochastic gradient descent: ``SGD(params, lr, momentum=0, weight_decay=0)``.

    p <- p - lr v with v = mu v + (grad + wd p) (plain: v = grad + wd p).
    """

    def __init__(
        self, params: Iterable[Any], lr: LearningRate, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _number(momentum, "momentum", 0.0, 1.0)
        self.weight_decay = _number(weight_decay, "weight_decay")
        self.velocity: list[Any] = [None] * len(self.params)

    _shows_bad_grads = True  # a NaN or inf gradient gives a NaN or inf update (see Optimizer._one_check)

    def _propose(self, i: int, p: Any, lr: float) -> Proposal:
        data, g = p.data, p.grad
        if (type(data) is np.ndarray and type(g) is np.ndarray and g.dtype == data.dtype
                and not (self.momentum or self.weight_decay) and type(self)._rule is SGD._rule):
            # plain SGD on an array (this class's own rule): p - lr g in this parameter's work array,
            # no temporaries (the same two roundings as the rule: lr g, then p - lr g)
            buf = self._scratch(i, data)
            np.multiply(g, lr, out=buf)
            return np.subtract(data, buf, out=buf), None
        return self._rule(data, g, self.velocity[i], lr)

    def _rule(self, data: Any, g: Any, v: Any, lr: float) -> Proposal:
        """``(p - lr v, v)`` with ``v = mu v + (g + wd p)`` (``v = g + wd p`` when ``v`` is None or mu = 0)."""
        if self.weight_decay:
            g = g + self.weight_decay * data
        if self.momentum:
            v = g * 1.0 if v is None else self.momentum * v + g  # g * 1.0: a copy, never an alias of .grad
            g = v
        else:
            v = None
        return data - lr * g, v

    def _commit(self, i: int, state: Any) -> None:
        if self.momentum:
            self.velocity[i] = state

    def _propose_vector(self, data: np.ndarray, grad: np.ndarray, lr: float) -> Proposal:
        v = None
        vel = self.velocity
        if self.momentum and vel.count(None) != len(vel):
            # a parameter that has no velocity yet starts from 0: mu 0 + g = g, as g * 1.0
            v = np.array([0.0 if u is None else u for u in vel]) if None in vel else np.array(vel, dtype=float)
        return self._rule(data, grad, v, lr)

    def _commit_vector(self, state: Any) -> None:
        if self.momentum:
            self.velocity = state.tolist()


class Adam(Optimizer):
    """Adam: ``Adam(params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)``.

    m, v: running means of g and g^2; bias-corrected by 1 - b^t; p <- p - lr m_hat / (sqrt(v_hat) + eps).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: LearningRate = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (b1, b2), got {betas!r}")
        self.betas = (_number(betas[0], "betas[0]", 0.0, 0.999999999), _number(betas[1], "betas[1]", 0.0, 0.999999999))
        self.eps = _number(eps, "eps", open_low=True)  # eps > 0: a zero gradient must not divide 0 by 0
        self.weight_decay = _number(weight_decay, "weight_decay")
        self.m: list[Any] = [0.0] * len(self.params)
        self.v: list[Any] = [0.0] * len(self.params)
        self.t: list[int] = [0] * len(self.params)

    _shows_bad_grads = True  # a NaN or inf gradient gives a NaN or inf update (see Optimizer._one_check)

    def _propose(self, i: int, p: Any, lr: float) -> Proposal:
        return self._rule(p.data, p.grad, (self.t[i], self.m[i], self.v[i]), lr)

    def _rule(self, data: Any, g: Any, state: tuple[Any, Any, Any], lr: float) -> Proposal:
        """``(p - lr m_hat / (sqrt(v_hat) + eps), (t, m, v))`` from the state ``(t, m, v)`` before the step."""
        b1, b2 = self.betas
        t, m, v = state
        if self.weight_decay:
            g = g + self.weight_decay * data
        t = t + 1
        m = b1 * m + (1.0 - b1) * g
        v = b2 * v + (1.0 - b2) * (g * g)
        m_hat = m / (1.0 - b1**t)
        v_hat = v / (1.0 - b2**t)
        return data - lr * m_hat / (v_hat**0.5 + self.eps), (t, m, v)

    def _commit(self, i: int, state: Any) -> None:
        self.t[i], self.m[i], self.v[i] = state

    def _propose_vector(self, data: np.ndarray, grad: np.ndarray, lr: float) -> Proposal:
        t = self.t[0] if self.t.count(self.t[0]) == len(self.t) else np.array(self.t)  # one count for all: one b^t
        return self._rule(data, grad, (t, np.array(self.m, dtype=float), np.array(self.v, dtype=float)), lr)

    def _commit_vector(self, state: Any) -> None:
        t, m, v = state
        self.t = [t] * len(self.params) if isinstance(t, int) else t.tolist()
        self.m, self.v = m.tolist(), v.tolist()
