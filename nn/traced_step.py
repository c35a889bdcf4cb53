"""``TracedStep``: one training step as replayed programs (what ``fit(..., trace=True)`` runs).

The lecture's step (zero_grad, feedforward, loss + l2 penalty, backward,
update), recorded once with ``engine.trace`` and replayed on every batch
without building Values.  It uses only the engine's public ``Trace`` API
(``trace(...)``, calling a trace, ``.batch``, ``.backward``, ``.validate``,
``.aux``); the loss and the L2 penalty come from ``nn.loss_registry``.

Given an ``optimizer`` (``nn.SGD``, ``nn.Adam``), a batched step keeps the
parameters as one vector for the step: their numbers are read once, the
programs replay from the vector (``g.batch(..., params=theta)``) and add their
gradients into another (``g.backward(into=grad)``), the optimizer updates the
vector (``optimizer.step_vector``), and each Value gets its new ``.data`` and
``.grad`` in one pass at the end: two passes over the Values per step instead
of one per phase (read, zero_grad, backward, update).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from numbers import Real
from operator import attrgetter
from typing import Any

import numpy as np

from ..engine import Trace, TraceMismatchError, Value, sum_values, trace
from .loss_registry import L2, LossFn, entry_of, resolve_loss
from .optim import Optimizer

Run = tuple[Trace, Sequence[int]]  # a trace and the batch rows it replays
Part = tuple[Callable[[float], Any], float, float]  # (backward(weight), the part's loss, its weight)
_DATA = attrgetter("data")  # a Value's number, read in one C call


class TracedStep:
    """One training step as replayed programs: what ``nn.fit(..., trace=True)`` runs.

    ``TracedStep(model, loss, params, optimizer=opt, l2=0.0)`` (or
    ``zero_grad=..., update=...`` callables instead of an optimizer) is
    called as ``step(xs, ys) -> (loss number, outputs)``, like ``nn``'s
    dynamic step: zero_grad, forward, loss (+ l2 * sum p^2), backward, update.
    ``loss`` is a name from ``nn.loss_registry`` (its scalar form) or a callable
    ``loss(outputs, targets) -> Value``.  With an ``optimizer`` whose
    parameters are ``params`` (``opt.vector_ready()``), a batched step runs on
    one parameter vector and writes each Value's ``.data`` and ``.grad`` once.

    ``batched=True`` (for a loss that is a mean - or with ``reduce="sum"`` a
    sum - over samples): the per-sample program ``loss([model(x)], [y])`` is
    traced once and replayed over the whole batch with ``Trace.batch``; for a
    mean, the L2 penalty is part of that program (``loss_i + l2 Σ p²``, whose
    mean is the batch's loss: the penalty is one product per batch).
    ``batched=False``: the whole batch's loss is traced (once per batch size)
    and replayed as one scalar program.  ``targets="constant"`` bakes each
    distinct target into its own trace (for targets that pick, rather than
    enter, the arithmetic - a class index for cross-entropy, or a loss that
    reads ``float(y)``); ``"input"`` feeds targets as numbers; ``"auto"`` (the
    default) feeds them as numbers if a re-trace with another target validates
    (``Trace.validate``; another row's target, or for a batch with one
    target, targets made from it), else bakes them.  A non-finite
    loss raises ``FloatingPointError`` before any weight changes.

    Baked traces are cached, at most ``max_traces`` of them: a batch whose
    baked trace would not fit (shuffled batches of a loss that reads
    ``float(y)`` make a new program almost every step) runs the step on Values
    without a trace, so memory stays flat however many steps you take.
    """

    def __init__(
        self,
        model: Callable[[Any], Any],
        loss: str | LossFn,
        params: Iterable[Value],
        *,
        zero_grad: Callable[[], None] | None = None,
        update: Callable[[], None] | None = None,
        optimizer: Optimizer | None = None,
        l2: float = 0.0,
        batched: bool = True,
        reduce: str = "mean",
        targets: str = "auto",
        max_traces: int = 16,
    ) -> None:
        if reduce not in ("mean", "sum"):
            raise ValueError(f"TracedStep: reduce must be 'mean' or 'sum', got {reduce!r}")
        if targets not in ("auto", "input", "constant"):
            raise ValueError(f"TracedStep: targets must be 'auto', 'input' or 'constant', got {targets!r}")
        if isinstance(l2, bool) or not isinstance(l2, Real) or not math.isfinite(l2) or l2 < 0:
            raise ValueError(f"TracedStep: l2 must be a finite number >= 0, got {l2!r}")
        self.model = model
        self.loss: LossFn = resolve_loss(loss).scalar  # type: ignore[assignment]
        self.entry = entry_of(loss)  # the loss's table entry: the checks it makes, run on every row
        self.params = list(params)
        self.optimizer = optimizer
        self.zero_grad, self.update = _update_of(zero_grad, update, optimizer)
        self.batched, self.reduce, self.targets = batched, reduce, targets
        self.l2 = float(l2)
        # a mean's per-sample program carries the penalty: mean(loss_i + l2 Σ p²) = mean loss + l2 Σ p²
        self._inside = bool(self.l2 and self.params and batched and reduce == "mean")
        # the programs a Trace keeps (as its fn) hold the model and the loss, not self: no reference cycle
        self._plain = partial(_sample, model, self.loss)
        self._sample = partial(_penalized, self._plain, self.params, self.l2) if self._inside else self._plain
        self._whole = partial(_whole, model, self.loss)
        self._vector = _vector_ready(optimizer, self.params)
        self._opt_pos = None if not self._vector else _positions(optimizer.params, self.params)  # type: ignore[union-attr]
        self._pos: dict[int, tuple[Trace, np.ndarray | None]] = {}  # each trace's params in self.params
        if isinstance(max_traces, bool) or not isinstance(max_traces, int) or max_traces < 0:
            raise ValueError(f"TracedStep: max_traces must be an int >= 0, got {max_traces!r}")
        self.max_traces = max_traces
        self._baked = 0  # how many cached traces have a target baked in
        self._traces: dict[Any, Trace] = {}
        self._undecided: set[Any] = set()  # targets whose made-up alternatives the loss refused
        self._penalty: Trace | None = None
        if self.l2 and self.params:
            alpha, ps = self.l2, self.params
            self._penalty = trace(lambda: L2.scalar(ps, alpha), params=ps)

    def _trace_for(self, key: Any, fn: Callable[..., Any], *example: Any) -> Trace:
        g = self._traces.get(key)
        if g is None:
            g = self._traces[key] = trace(fn, *example, params=self.params)
            self._baked += _is_baked(key)
        return g

    def _room_for(self, keys: Iterable[Any]) -> bool:
        """Whether the baked traces of ``keys`` are cached or fit in the cache (``max_traces``)."""
        new = sum(1 for key in set(keys) if key not in self._traces)
        return self._baked + new <= self.max_traces

    # ------------------------------------------------------------ one step
    def __call__(self, xs: Sequence[Any], ys: Sequence[Any]) -> tuple[float, list[Any]]:
        """One step on a batch: ``(loss, model outputs as numbers)``; weights updated."""
        if len(xs) != len(ys) or not len(xs):
            raise ValueError(f"TracedStep: need as many targets as rows (>0), got {len(xs)} and {len(ys)}")
        targets = self._targets(xs, ys)
        if targets == "constant" and not self._room_for(self._baked_keys(ys)):
            return self._dynamic(xs, ys)
        if not self.batched:
            return self._whole_batch(xs, ys, targets)
        return self._per_sample(self._runs(xs, ys, targets), xs, ys, targets)

    def _baked_keys(self, ys: Sequence[Any]) -> list[Any]:
        """The cache keys of the traces a batch with targets ``ys`` replays when its targets are baked in."""
        if not self.batched:
            return [("batch", len(ys), tuple(_key(y) for y in ys))]
        return [_key(y) for y in ys]

    def _dynamic(self, xs: Sequence[Any], ys: Sequence[Any]) -> tuple[float, list[Any]]:
        """The step on Values, without a trace (for a batch whose baked trace does not fit the cache)."""
        if self.batched:
            w = 1.0 / len(xs) if self.reduce == "mean" else 1.0
            pairs = [self._plain(x, y) for x, y in zip(xs, ys)]
            total, outs = sum_values([loss * w for loss, _ in pairs]), [out for _, out in pairs]
        else:
            total, outs = self._whole(xs, ys)
        if not isinstance(total, Value):
            raise TypeError(f"the loss must return a Value, got {type(total).__name__}")
        return self._finish([(lambda w: total.backward(), total.data, 1.0)], [_numbers(o) for o in outs], ys,
                            penalty=True)

    def _targets(self, xs: Sequence[Any], ys: Sequence[Any]) -> str:
        """How this batch's targets enter its program: ``"input"`` or ``"constant"``."""
        if self.targets != "auto":
            return self.targets
        decided = self._decide_targets(xs, ys)
        if decided is not None:
            self.targets = decided
        return decided or "constant"

    def _whole_batch(self, xs: Sequence[Any], ys: Sequence[Any], targets: str) -> tuple[float, list[Any]]:
        """``batched=False``: the batch's program, replayed once."""
        n = len(xs)
        if targets == "input":
            g = self._trace_for(("batch", n), self._whole, xs, ys)
            total = g(xs, ys)
        else:
            baked = list(ys)
            g = self._trace_for(("batch", n, tuple(_key(y) for y in ys)), partial(self._whole, ys=baked), xs)
            total = g(xs)
        return self._finish([(g.backward, total, 1.0)], list(g.aux), ys, penalty=True)

    def _runs(self, xs: Sequence[Any], ys: Sequence[Any], targets: str) -> list[Run]:
        """The per-sample traces this batch replays: one for every row, or one per distinct baked target."""
        if targets == "input":
            return [(self._trace_for("sample", self._sample, xs[0], ys[0]), range(len(xs)))]
        by_target: dict[Any, list[int]] = {}
        for i, y in enumerate(ys):
            by_target.setdefault(_key(y), []).append(i)
        runs = []
        for key, rows in by_target.items():
            y0 = ys[rows[0]]
            runs.append((self._trace_for(key, partial(self._sample, y=y0), xs[rows[0]]), rows))
        return runs

    def _per_sample(self, runs: list[Run], xs: Sequence[Any], ys: Sequence[Any],
                    targets: str) -> tuple[float, list[Any]]:
        """``batched=True``: each run's mean (or sum) over its rows, weighted into the batch's."""
        n = len(xs)
        parts = []
        outputs: list[Any] = [None] * n
        theta = np.fromiter(map(_DATA, self.params), dtype=float, count=len(self.params)) if self._vector else None
        grad = None if theta is None else np.zeros(len(theta))
        for g, rows in runs:
            every = len(runs) == 1  # one program for every row, in order: the batch as given
            bx = xs if every else [xs[i] for i in rows]
            args = (bx, ys if every else [ys[i] for i in rows]) if targets == "input" else (bx,)
            pos = None if theta is None else self._positions_of(g)
            try:
                value = g.batch(*args, reduce=self.reduce, params=None if theta is None else _at(theta, pos))
            except FloatingPointError:
                raise self._bad_row(g, rows, xs, ys) from None
            backward = g.backward if grad is None else partial(_backward_into, g, pos, grad)
            parts.append((backward, value, len(rows) / n if self.reduce == "mean" else 1.0))
            if every:
                outputs = _per_row(g.aux)
                if isinstance(g.aux, np.ndarray):  # one number per row: the checks read the array itself
                    return self._finish(parts, outputs, ys, penalty=not self._inside, vector=(theta, grad),
                                        checked=g.aux)
            else:
                for i, out in zip(rows, _per_row(g.aux)):
                    outputs[i] = out
        return self._finish(parts, outputs, ys, penalty=not self._inside, vector=(theta, grad))

    def _positions_of(self, g: Trace) -> np.ndarray | None:
        """Where each of ``g.params`` sits in ``self.params`` (None: the same list, in the same order)."""
        found = self._pos.get(id(g))
        if found is None:
            found = self._pos[id(g)] = (g, _positions(g.params, self.params))  # g kept: its id stays its own
        return found[1]

    def _bad_row(self, g: Trace, rows: Sequence[int], xs: Sequence[Any], ys: Sequence[Any]) -> FloatingPointError:
        """The error naming the first row whose loss is not finite."""
        bad = next(i for i in rows if not math.isfinite(self._one(g, xs[i], ys[i])))
        return FloatingPointError(
            f"the loss became {self._one(g, xs[bad], ys[bad])!r} on row {bad} of the batch; "
            "weights were not updated (lower the learning rate?)"
        )

    def _one(self, g: Trace, x: Any, y: Any) -> float:
        """One row's loss through the trace (to name the row that went non-finite)."""
        try:
            return g(x, y) if self.targets == "input" else g(x)
        except (ArithmeticError, ValueError):
            return math.nan

    def _finish(self, parts: list[Part], outputs: Any, ys: Sequence[Any], penalty: bool,
                vector: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
                checked: Any = None) -> tuple[float, list[Any]]:
        """The loss's checks on every row, the weighted total (+ the penalty program, if ``penalty``)
        checked finite; then zero_grad, backward, update (``vector``: the parameters' numbers and the
        gradient vector the parts' backward add into, updated by the optimizer as one vector;
        ``checked``: the outputs as the loss's checks read them, if not ``outputs``)."""
        self.entry.check_batch(outputs if checked is None else checked, ys)
        total = parts[0][2] * parts[0][1] if len(parts) == 1 else sum(w * v for _, v, w in parts)
        extra = self._penalty if penalty else None
        if extra is not None:
            total += extra()
        if not math.isfinite(total):
            raise FloatingPointError(
                f"the loss became {total!r}; weights were not updated (lower the learning rate?)"
            )
        theta, grad = vector
        if theta is None:
            self.zero_grad()
        for backward, _, w in parts:
            backward(w)
        if theta is not None and grad is not None:
            self._update_vector(theta, grad)
            return total, outputs
        if extra is not None:
            extra.backward()
        self.update()
        return total, outputs

    def _update_vector(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """The optimizer's update of the vector, then every Value's new ``.data`` and ``.grad`` in one pass.

        An update the optimizer refuses (``FloatingPointError``) leaves every
        ``.data`` as it was and every ``.grad`` the step's gradient, as the dynamic step does.
        """
        pos = self._opt_pos
        try:
            new = self.optimizer.step_vector(theta if pos is None else theta[pos],  # type: ignore[union-attr]
                                             grad if pos is None else grad[pos])
        except FloatingPointError:
            for p, g in zip(self.params, grad.tolist()):
                p.grad = g
            raise
        if pos is not None:
            theta = theta.copy()
            theta[pos] = new
            new = theta
        for p, d, g in zip(self.params, new.tolist(), grad.tolist()):
            p.data = d
            p.grad = g

    # ------------------------------------------------------------ targets: numbers or baked in
    def _decide_targets(self, xs: Sequence[Any], ys: Sequence[Any]) -> str | None:
        """'input' if the program takes targets as numbers, 'constant' to bake each one in, None: undecided.

        Checked by re-tracing (``Trace.validate``) with other targets.  A
        batch with two distinct targets decides: the same program with another
        row's target means 'input', anything else 'constant' (as before).  A
        batch whose rows share one target (batch size 1, say) tries targets made
        from it (its negation - 1 for 0 - and it plus 1), so regression targets
        do not make a new trace per step: the same program means 'input', another
        program 'constant'; an error (a loss that refuses such a target) leaves it
        undecided (None: this batch bakes its target; a later batch decides).
        """
        y0 = ys[0]
        row = next((i for i, y in enumerate(ys) if _key(y) != _key(y0)), None)
        if row is None and _key(y0) in self._undecided:
            return None
        key, fn, example, trials = self._trials(xs, ys, row)
        if not trials:
            return "constant"
        try:
            g = self._trace_for(key, fn, *example)
            for x, y in trials:
                g.validate(x, y)
        except TraceMismatchError:
            self._traces.pop(key, None)
            return "constant"
        except (TypeError, ValueError, IndexError, KeyError, ArithmeticError):
            self._traces.pop(key, None)
            if row is not None:
                return "constant"
            self._undecided.add(_key(y0))
            return None
        return "input"

    def _trials(self, xs: Sequence[Any], ys: Sequence[Any], row: int | None) -> tuple[Any, Callable[..., Any],
                                                                                     tuple[Any, Any], list[Any]]:
        """``(trace key, fn, example, trials)``: the program that takes targets, and the (x, y) to validate it on.

        ``row``: a row whose target differs from row 0's (None: every row shares it).
        """
        y0 = ys[0]
        if self.batched:
            if row is not None:
                return "sample", self._sample, (xs[0], y0), [(xs[row], ys[row])]
            return "sample", self._sample, (xs[0], y0), [(xs[0], y) for y in _alternatives(y0)]
        key = ("batch", len(xs))
        if row is not None:
            return key, self._whole, (xs, ys), [(xs, [*ys[1:], y0])]  # every row gets another row's target
        alts = [_alternatives(y) for y in ys]
        width = min(len(a) for a in alts)
        return key, self._whole, (xs, ys), [(xs, [a[k] for a in alts]) for k in range(width)]


def _sample(model: Callable[[Any], Any], loss: LossFn, x: Any, y: Any) -> tuple[Value, Any]:
    """One row's loss (``batched=True``): ``loss([model(x)], [y])``, and the output."""
    out = model(x)
    return loss([out], [y]), out


def _penalized(sample: Callable[[Any, Any], tuple[Value, Any]], params: list[Value], alpha: float, x: Any,
               y: Any) -> tuple[Value, Any]:
    """One row's loss plus the L2 penalty, ``loss_i + alpha Σ p²`` (their mean: the batch's loss), and the output."""
    loss, out = sample(x, y)
    return loss + L2.scalar(params, alpha), out


def _update_of(zero_grad: Callable[[], None] | None, update: Callable[[], None] | None,
               optimizer: Optimizer | None) -> tuple[Callable[[], None], Callable[[], None]]:
    """The step's zero_grad and update: the callables given, else the optimizer's (``TypeError`` if neither)."""
    if optimizer is not None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"TracedStep: optimizer must be an nn optimizer (SGD, Adam), got {type(optimizer).__name__}"
            )
        if zero_grad is not None or update is not None:
            raise TypeError("TracedStep: give an optimizer or zero_grad and update, not both")
        return optimizer.zero_grad, optimizer.step
    if zero_grad is None or update is None:
        raise TypeError("TracedStep: needs an optimizer=, or both zero_grad= and update= callables")
    return zero_grad, update


def _vector_ready(optimizer: Optimizer | None, params: list[Value]) -> bool:
    """Whether a step can update ``params`` as one vector: the optimizer has exactly these (distinct) scalar
    parameters and a rule with a vector form."""
    if optimizer is None or not optimizer.vector_ready():
        return False
    ids = {id(p) for p in params}
    return len(ids) == len(params) and ids == {id(p) for p in optimizer.params} and \
        all(type(p) is Value for p in params)


def _positions(values: Sequence[Value], params: list[Value]) -> np.ndarray | None:
    """Each of ``values``' index in ``params`` (None when ``values`` is ``params``, in the same order)."""
    if len(values) == len(params) and all(a is b for a, b in zip(values, params)):
        return None
    where = {id(p): i for i, p in enumerate(params)}
    return np.array([where[id(v)] for v in values], dtype=np.intp)


def _at(vector: np.ndarray, pos: np.ndarray | None) -> np.ndarray:
    """``vector[pos]`` (all of it when ``pos`` is None)."""
    return vector if pos is None else vector[pos]


def _backward_into(g: Trace, pos: np.ndarray | None, grad: np.ndarray, weight: float) -> None:
    """``g``'s gradients (seeded with ``weight``) added into ``grad``, the step's vector, at ``pos``."""
    if pos is None:
        g.backward(weight, into=grad)
        return
    part = np.zeros(len(pos))
    g.backward(weight, into=part)
    grad[pos] += part  # pos: distinct indices (each parameter once in a trace)


def _whole(model: Callable[[Any], Any], loss: LossFn, xs: Any, ys: Any) -> tuple[Value, Any]:
    """The whole batch's loss (``batched=False``): ``loss([model(x) ...], ys)``, and the outputs."""
    outs = [model(x) for x in xs]
    return loss(outs, list(ys)), outs


def _is_baked(key: Any) -> bool:
    """Whether a cache key names a trace with targets baked in (not ``"sample"`` or ``("batch", n)``)."""
    return key != "sample" and not (isinstance(key, tuple) and len(key) == 2 and key[0] == "batch")


def _numbers(out: Any) -> Any:
    """A model output as numbers: a float, or a list of floats."""
    return [v.data for v in out] if isinstance(out, (list, tuple)) else out.data


def _key(y: Any) -> Any:
    if isinstance(y, np.ndarray):
        return tuple(y.tolist())
    return tuple(y) if isinstance(y, list) else y


def _alternatives(y: Any) -> list[Any]:
    """Targets of ``y``'s kind with other numbers: ``-y`` (1 for 0) and ``y + 1``; [] for non-numbers."""
    if isinstance(y, (bool, np.bool_)):
        return []
    if isinstance(y, Real):
        kind = type(y)
        return [kind(-y) if y != 0 else kind(1), kind(y + 1)]
    if isinstance(y, np.ndarray) and y.dtype.kind in "iuf" and y.size:
        return [np.where(y != 0, -y, 1).astype(y.dtype), y + 1]
    if isinstance(y, (list, tuple)) and y and all(isinstance(v, Real) and not isinstance(v, bool) for v in y):
        return [type(y)(-v if v != 0 else 1 for v in y), type(y)(v + 1 for v in y)]
    return []


def _per_row(aux: Any) -> list[Any]:
    """Each sample's numbers out of batched aux results (an array per slot, in nested lists)."""
    if isinstance(aux, list):
        return [list(row) for row in zip(*(_per_row(a) for a in aux))]
    return np.asarray(aux, dtype=float).tolist()


__all__ = ["TracedStep"]
