"""``Value``: one scalar node of a computation graph.

A node records, the moment it is made, its op and the local gradient of its
output with respect to each parent (``local_grads``).  The backward pass then
only applies ``downstream = local x upstream`` edge by edge.  Every operator
is a thin call into the op table (:mod:`engine.ops`).

Nodes hold no closures and no reference cycles: a graph is freed by reference
counting the moment the user drops it, even with the garbage collector off.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

from . import ops
from .backends import FLOAT, NodeMath, real_float
from .backward import backprop, local_times_upstream, seed_of, topological_order
from .ops import Op
from .state import STATE

_new = object.__new__


class _Many:
    """``Value._b`` marker: ``_a`` holds a tuple of three or more parents."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_MANY"  # copies and pickles as this very object


_MANY = _Many()
_LEAF, _ADD, _SUB, _MUL, _DIV = ops.LEAF, ops.ADD, ops.SUB, ops.MUL, ops.DIV


class Value:
    """A scalar that remembers how it was computed.

    ``Value(data, label="")``: ``data`` becomes a Python float (ints, bools and
    numpy scalars are converted; anything else raises ``TypeError``).

    Attributes: ``data``, ``grad`` (d root / d self after ``backward``),
    ``label``, ``op`` ('' for a leaf; an :class:`engine.ops.Op`, so
    ``v.op.gate`` names its gate rule), ``parents`` (ordered, duplicates kept:
    ``x + x`` has two edges to ``x``), ``local_grads`` (d self / d parent, one
    per edge) and ``scope`` (the ``engine.scope`` it was made in).
    """

    __slots__ = ("data", "grad", "label", "op", "_a", "_b", "local_grads", "scope")

    data: float
    grad: float
    label: str
    op: Op
    _a: Any  # the first parent (None for a leaf), or all of them when _b is _MANY
    _b: Any  # the second parent, None (fewer than two), or _MANY
    local_grads: tuple[float, ...]
    scope: str

    def __init__(self, data: Any, label: str = "") -> None:
        if type(data) is not float:
            data = _to_float(data)
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}")
        scope = STATE.recording
        if scope is None:  # off the fast path: no_grad or detect_anomaly
            if STATE.anomaly and not math.isfinite(data):
                raise FloatingPointError(f"detect_anomaly: leaf {label or 'Value'} was given {data!r}")
            scope = STATE.scope
        self.data = data
        self.grad = 0.0
        self.label = label
        self.op = _LEAF
        self._a = self._b = None
        self.local_grads = ()
        self.scope = scope

    # ------------------------------------------------------------ display
    def __repr__(self) -> str:
        parts = [f"data={self.data:.4g}", f"grad={self.grad:.4g}"]
        if self.op:
            parts.append(f"op={self.op.name!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "add")
            if other is None:
                return NotImplemented
        return _binary(_ADD, self, other)

    def __radd__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "add")
            if other is None:
                return NotImplemented
        return _binary(_ADD, other, self)

    def __sub__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "sub")
            if other is None:
                return NotImplemented
        return _binary(_SUB, self, other)

    def __rsub__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "sub")
            if other is None:
                return NotImplemented
        return _binary(_SUB, other, self)

    def __mul__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "mul")
            if other is None:
                return NotImplemented
        return _binary(_MUL, self, other)

    def __rmul__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "mul")
            if other is None:
                return NotImplemented
        return _binary(_MUL, other, self)

    def __truediv__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "div")
            if other is None:
                return NotImplemented
        return _binary(_DIV, self, other)

    def __rtruediv__(self, other: Any) -> Value:
        if type(other) is not Value:
            other = _operand(other, "div")
            if other is None:
                return NotImplemented
        return _binary(_DIV, other, self)

    def __pow__(self, exponent: Any) -> Value:
        """``x ** k`` (k a number: local k x^(k-1)) or ``x ** y`` (y a Value)."""
        if type(exponent) is Value:
            return _binary(ops.POW_VALUE, self, exponent)
        if isinstance(exponent, Real) and not isinstance(exponent, bool):
            return _unary(ops.POW.bind(float(exponent)), self)
        return NotImplemented

    def __rpow__(self, base: Any) -> Value:
        base = _operand(base, "pow_value")
        return NotImplemented if base is None else _binary(ops.POW_VALUE, base, self)

    def __neg__(self) -> Value:
        return _unary(ops.NEG, self)

    def __pos__(self) -> Value:
        return self

    # ------------------------------------------------------------ functions
    # exp, log, tanh, sigmoid, relu, leaky_relu, abs: made from the op table below.

    def max(self, other: Any) -> Value:
        """The larger of two; the router: all upstream goes to the winner (ties: self)."""
        other = _require_operand(other, "max")
        return _binary(ops.MAX, self, other)

    def min(self, other: Any) -> Value:
        """The smaller of two; the router: all upstream goes to the winner (ties: self)."""
        other = _require_operand(other, "min")
        return _binary(ops.MIN, self, other)

    # ------------------------------------------------------------ backward
    def backward(self, grad: float | None = None) -> None:
        """Fill ``.grad`` of every node this one depends on (see ``engine.backward``).

        Interior gradients are recomputed, leaf gradients accumulate; ``grad``
        is the seed d self / d self (1.0 by default).
        """
        value_backward(self, grad)

    def zero_grad(self) -> None:
        """Forget the gradient (``grad = 0.0``)."""
        self.grad = 0.0

    def is_leaf(self) -> bool:
        """True for inputs, parameters and constants (no parents)."""
        return self._a is None

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the op that made this node, in order (duplicates kept); () for a leaf.

        Kept in two slots (``_a``, ``_b``; three or more: ``_a`` is the tuple)
        rather than a tuple per node: one object less per node for memory and
        for the garbage collector to walk.
        """
        b = self._b
        if b is None:
            a = self._a
            return () if a is None else (a,)
        return self._a if b is _MANY else (self._a, b)

    @parents.setter
    def parents(self, parents: tuple[Value, ...]) -> None:
        n = len(parents)
        if n == 0:
            self._a = self._b = None
        elif n == 1:
            self._a, self._b = parents[0], None
        elif n == 2:
            self._a, self._b = parents
        else:
            self._a, self._b = tuple(parents), _MANY


# ---------------------------------------------------------------- helpers


def _to_float(data: Any) -> float:
    if isinstance(data, Real):
        return real_float(data, "Value data")
    raise TypeError(
        f"Value data must be a real number (int, float, bool or numpy scalar), "
        f"got {type(data).__name__}: {data!r:.60}"
    )


def _operand(other: Any, op: str = "") -> Value | None:
    """The other side of a binary operator ``op`` as a Value, or None (-> NotImplemented)."""
    kind = type(other)
    if kind is Value:
        return other
    if kind is float:
        return _constant(other)
    if kind is int or isinstance(other, Real):
        return _constant(real_float(other, f"{op}: the operand"))
    return None


def _constant(x: float) -> Value:
    """A plain number on one side of an operator, wrapped as a leaf (a constant)."""
    scope = STATE.recording
    if scope is None:
        return Value(x)  # checked path (detect_anomaly) / no_grad
    v = _new(Value)
    v.data = x
    v.grad = 0.0
    v.label = ""
    v.op = _LEAF
    v._a = v._b = None
    v.local_grads = ()
    v.scope = scope
    return v


def _require_operand(other: Any, op: str) -> Value:
    v = _operand(other, op)
    if v is None:
        raise TypeError(f"{op}() needs a number or a Value, got {type(other).__name__}")
    return v


def _describe(v: Value) -> str:
    return f"{v.label or 'unnamed'}={v.data!r}"


def _domain_error(exc: Exception, op: Op, parents: tuple[Value, ...]) -> Exception:
    inputs = ", ".join(_describe(p) for p in parents)
    return type(exc)(f"{op.name}: {exc} (inputs: {inputs})")


# The two hot paths below inline ``_node``'s fast case: one thread-local read
# (``STATE.recording``: the scope, or None off the fast path) and seven slot
# stores per node.


def _unary(op: Op, x: Value) -> Value:
    try:
        out, local = op.fn(x.data)
    except (ArithmeticError, ValueError) as exc:
        raise _domain_error(exc, op, (x,)) from None
    scope = STATE.recording
    if scope is None:
        return _node(out, op, (x,), local)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.label = ""
    node.op = op
    node._a = x
    node._b = None
    node.local_grads = local
    node.scope = scope
    return node


def _binary(op: Op, a: Value, b: Value) -> Value:
    try:
        out, local = op.fn(a.data, b.data)
    except (ArithmeticError, ValueError) as exc:
        raise _domain_error(exc, op, (a, b)) from None
    scope = STATE.recording
    if scope is None:
        return _node(out, op, (a, b), local)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.label = ""
    node.op = op
    node._a = a
    node._b = b
    node.local_grads = local
    node.scope = scope
    return node


def apply(op: Op | str, *parents: Any) -> Value:
    """Make the node ``op(*parents)`` through the op table (any arity).

    ``op`` is an :class:`Op` or its name in ``engine.OPS``; a bound op
    (``OPS["pow"].bind(3)``) for ops with a constant argument.  Numbers among
    ``parents`` are wrapped as constants.
    """
    if not isinstance(op, Op):
        if not isinstance(op, str):
            raise TypeError(f"apply: op must be an engine Op or an op name, got {type(op).__name__}")
        if op not in ops.OPS or not op:
            raise ValueError(f"apply: unknown op {op!r}; known: {', '.join(sorted(k for k in ops.OPS if k))}")
        op = ops.OPS[op]
    if op.fn is None:
        what = "is a leaf, not an op" if op is _LEAF else f"needs its constant argument: OPS[{op.name!r}].bind(k)"
        raise TypeError(f"apply: op {op.name!r} {what}")
    if op.arity >= 0 and len(parents) != op.arity or op.arity < 0 and not parents:
        want = f"{op.arity}" if op.arity >= 0 else "at least 1"
        raise ValueError(f"apply: op {op.name!r} takes {want} input(s), got {len(parents)}")
    return _apply(op, tuple([p if type(p) is Value else _require_operand(p, "apply") for p in parents]))


def _apply(op: Op, parents: tuple[Value, ...]) -> Value:
    try:
        out, local = op.fn(*[p.data for p in parents])
    except (ArithmeticError, ValueError) as exc:
        raise _domain_error(exc, op, parents) from None
    scope = STATE.recording
    if scope is None:
        return _node(out, op, parents, local)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.label = ""
    node.op = op
    node.parents = parents
    node.local_grads = local
    node.scope = scope
    return node


def _node(data: float, op: Op, parents: tuple[Value, ...], local: tuple[float, ...]) -> Value:
    state = STATE
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out.scope = state.scope
    if state.recording is not None:
        out.op = op
        out.parents = parents
        out.local_grads = local
        return out
    if state.anomaly:
        _check_forward(data, op, parents, local)
    if state.grad_enabled:
        out.op, out.parents, out.local_grads = op, parents, local
    else:
        out.op, out.parents, out.local_grads = ops.LEAF, (), ()
    return out


def _check_forward(data: float, op: Op, parents: tuple[Value, ...], local: tuple[float, ...]) -> None:
    if not math.isfinite(data) or not all(math.isfinite(g) for g in local):
        inputs = ", ".join(_describe(p) for p in parents)
        what = f"output {data!r}" if not math.isfinite(data) else f"local gradients {local!r}"
        raise FloatingPointError(f"detect_anomaly: op '{op.name}' produced {what} from inputs ({inputs})")


def sum_values(values: Any, start: float = 0.0) -> Value:
    """x1 + x2 + ... + xn as ONE n-ary add node (the distributor: every local is 1).

    Cheaper and flatter than a chain of ``+``; numbers are wrapped as constants.
    """
    parents = tuple([v if type(v) is Value else _require_operand(v, "sum_values") for v in values])
    if start != 0.0 or not parents:
        parents = (*parents, Value(start))
    if len(parents) == 1:
        return parents[0]
    return _apply(ops.SUM, parents)


for _op in list(ops.OPS.values()):
    if _op.method and _op.arity == 1:
        setattr(Value, _op.method, ops.method_for(_op, _unary))


# ---------------------------------------------------------------- backward
# The one loop is engine.backward.backprop.  The scalar engine runs a copy of
# it specialised to Value's two parent slots, with the gradients kept on the
# nodes (interior reset, leaves accumulate); tests/engine/test_backward.py
# checks it against backprop on random graphs of every op.


def value_backward(root: Value, grad: Any = None) -> None:
    """``root.backward(grad)``: backprop into ``.grad``, fast path unless ``detect_anomaly`` is on."""
    seed = seed_of(grad)
    if STATE.anomaly:
        _checked_backward(root, seed)
        return
    interior = _walk_values(root, _MANY)  # leaves only receive: no work of their own
    for node in interior:
        node.grad = 0.0
    root.grad = seed if root._a is not None else root.grad + seed
    _sweep_values(interior)


def _walk_values(root: Value, many: Any) -> list[Value]:
    """``backward.walk(root, leaves=False)`` reading a Value's two parent slots (no tuple per node)."""
    order: list[Any] = []
    seen: set[Any] = set()
    stack: list[Any] = [root]
    push, pop, extend, emit, mark = stack.append, stack.pop, stack.extend, order.append, seen.add
    while stack:
        node = pop()
        if node is None:
            emit(pop())
            continue
        if node in seen:
            continue
        mark(node)
        a, b = node._a, node._b
        if a is None:
            continue
        push(node)
        push(None)
        if b is None:
            push(a)
        elif b is many:
            extend(a)
        else:
            push(a)
            push(b)
    return order


def _sweep_values(interior: list[Any]) -> None:
    """``backprop``'s loop with the grads on the nodes: downstream = local x upstream, unrolled."""
    for node in reversed(interior):
        upstream = node.grad
        b = node._b
        if b is None:
            node._a.grad += node.local_grads[0] * upstream
        elif b is _MANY:
            for parent, local in zip(node._a, node.local_grads):
                parent.grad += local * upstream
        else:
            local_a, local_b = node.local_grads
            node._a.grad += local_a * upstream
            b.grad += local_b * upstream


def _checked_backward(root: Value, seed: float) -> None:
    """``backprop`` with every contribution and every sum checked; commits only if all are finite."""
    if not math.isfinite(seed):
        raise FloatingPointError(f"detect_anomaly: the seed gradient is {seed!r}")

    upstream = [seed]  # the upstream of the node whose edges are being checked

    def downstream(node: Value, up: float) -> list[float]:
        upstream[0] = up
        return local_times_upstream(node, up)

    def check(node: Value, k: int, parent: Value, contribution: float, total: float) -> None:
        if not math.isfinite(contribution):
            raise FloatingPointError(
                f"detect_anomaly: backward through op '{node.op.name}' "
                f"(node {node.label or 'unnamed'}, data={node.data!r}) gave "
                f"{contribution!r} = local {node.local_grads[k]!r} x upstream {upstream[0]!r} "
                f"for input {parent.label or 'unnamed'}={parent.data!r}"
            )
        if not math.isfinite(total):
            _overflow(parent, total, contribution, node)

    order = topological_order(root)
    grads = backprop(root, seed, downstream, order=order, on_edge=check)
    for node in order:  # leaves accumulate: check the sum they will hold
        g = grads.get(id(node), 0.0)
        if node._a is None and not math.isfinite(node.grad + g):
            _overflow(node, node.grad + g, g, root)
    for node in order:
        g = grads.get(id(node), 0.0)
        node.grad = g if node._a is not None else node.grad + g


def _overflow(parent: Value, total: float, contribution: float, node: Value) -> None:
    raise FloatingPointError(
        f"detect_anomaly: the gradient of {parent.label or 'unnamed'}={parent.data!r} "
        f"overflowed to {total!r} adding {contribution!r} from op '{node.op.name}' "
        f"(node {node.label or 'unnamed'}) (fan-out: the adder)"
    )


class ValueMath(NodeMath):
    """The backend for ``Value``s: an op's locals become scalar nodes (``engine.grad``)."""

    name = "value"
    plain = FLOAT

    def sum(self, *xs: Any) -> Any:
        return sum_values(xs)

    def select(self, mask: Any, a: Any, b: Any) -> Any:
        return a if mask else b


VALUE = ValueMath()
