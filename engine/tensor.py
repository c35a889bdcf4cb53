"""``Tensor``: the tensor path, numpy arrays with the same backprop rule.

    downstream gradient = local gradient x upstream gradient

A ``Tensor`` is one node over a whole numpy array.  Element-wise ops take the
op table's ``array_fn`` (the very rules the scalar ``Value`` uses) and store
the local gradients; backward multiplies them by the upstream gradient and
sums the product back over the axes numpy broadcast.  Matrix product,
reductions, shape ops and the softmax family are gates too, each with a small
vector-Jacobian rule in :mod:`engine.tensor_ops` (``dW = delta x^T``).

Backward walks :func:`engine.topological_order` (the same one the scalar path
uses) once, in reverse.  ``no_grad`` and ``detect_anomaly`` apply here too.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np

from . import ops
from .backends import ARRAY, NodeMath, real_float
from .backward import backprop, topological_order
from .ops import Op
from .state import STATE

_new = object.__new__
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))

Vjp = Callable[["Tensor", np.ndarray], tuple[Any, ...]]


class Tensor:
    """A numpy array that remembers how it was computed.

    ``Tensor(data, requires_grad=False, label="", dtype=None)``: ``data`` is
    an array, a (nested) list or a number; it becomes a float64 array
    (float32 stays float32; ints and bools become float64; ``dtype`` forces
    float32 or float64).  Object, string and complex data raise ``TypeError``.

    Attributes: ``data`` (the array), ``grad`` (an array of ``data``'s shape
    after ``backward``, ``None`` before), ``requires_grad``, ``label``,
    ``op`` ('' for a leaf, else an :class:`engine.ops.Op`), ``parents``,
    ``local_grads`` (element-wise ops: d out / d parent, one per parent),
    ``scope``.  Results require a gradient when any input does; results that
    do not record no parents (a constant needs no graph).  ``==`` is identity
    (Tensors hash by identity, as graph nodes), not an element-wise op.
    """

    __slots__ = (
        "data", "grad", "requires_grad", "label", "op", "parents", "local_grads",
        "vjp", "ctx", "scope", "__weakref__",
    )
    __array_ufunc__ = None  # ndarray <op> Tensor defers to the Tensor's reflected operator

    data: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    label: str
    op: Op
    parents: tuple[Tensor, ...]
    local_grads: tuple[Any, ...]
    vjp: Vjp | None
    ctx: Any
    scope: str

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        label: str = "",
        dtype: Any = None,
    ) -> None:
        if not isinstance(label, str):
            raise TypeError(f"Tensor label must be a str, got {type(label).__name__}")
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad must be a bool, got {type(requires_grad).__name__}")
        array = to_array(data, dtype)
        if STATE.anomaly and not np.isfinite(array).all():
            raise FloatingPointError(
                f"detect_anomaly: leaf {label or 'Tensor'} of shape {array.shape} holds NaN or inf"
            )
        self.data = array
        self.grad = None
        self.requires_grad = requires_grad
        self.label = label
        self.op = ops.LEAF
        self.parents = ()
        self.local_grads = ()
        self.vjp = None
        self.ctx = None
        self.scope = STATE.scope

    # ------------------------------------------------------------ array facts
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """float64 or float32."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    def __len__(self) -> int:
        if not self.data.ndim:
            raise TypeError("len() of a 0-d Tensor")
        return len(self.data)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a Tensor of shape {self.shape} is ambiguous")
        return bool(self.data.reshape(()))

    def item(self) -> float:
        """The one number of a size-1 Tensor (``ValueError`` otherwise)."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a Tensor with one element, got shape {self.shape}")
        return float(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data as a new leaf that records nothing (shares memory)."""
        return Tensor(self.data, label=self.label)

    def is_leaf(self) -> bool:
        """True for inputs, parameters and constants (no parents)."""
        return not self.parents

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad = None``)."""
        self.grad = None

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, threshold=8, edgeitems=2)
        parts = [body]
        if self.op:
            parts.append(f"op={self.op.name!r}")
        if self.requires_grad:
            parts.append("requires_grad=True")
        if self.label:
            parts.append(f"label={self.label!r}")
        if self.data.dtype != np.float64:
            parts.append(f"dtype={self.data.dtype}")
        return f"Tensor({', '.join(parts)})"

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other: Any) -> Tensor:
        return elementwise(ops.ADD, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return elementwise(ops.ADD, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return elementwise(ops.SUB, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return elementwise(ops.SUB, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return elementwise(ops.MUL, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return elementwise(ops.MUL, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return elementwise(ops.DIV, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return elementwise(ops.DIV, other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        """``x ** k`` (k a number: local k x^(k-1)) or ``x ** y`` (y a Tensor or array)."""
        if isinstance(exponent, Real) and not isinstance(exponent, bool):
            return elementwise(ops.POW.bind(float(exponent)), self)
        return elementwise(ops.POW_VALUE, self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return elementwise(ops.POW_VALUE, base, self)

    def __neg__(self) -> Tensor:
        return elementwise(ops.NEG, self)

    def __pos__(self) -> Tensor:
        return self

    # ------------------------------------------------------------ functions
    # exp, log, tanh, sigmoid, relu, leaky_relu, abs: made from the op table below;
    # @, [], sum, mean, max, reshape, transpose, T, softmax, log_softmax: given by engine.tensor_ops.

    def maximum(self, other: Any) -> Tensor:
        """Element-wise larger of two, the router (ties: self)."""
        return elementwise(ops.MAX, self, other)

    def minimum(self, other: Any) -> Tensor:
        """Element-wise smaller of two, the router (ties: self)."""
        return elementwise(ops.MIN, self, other)

    # ------------------------------------------------------------ backward
    def backward(self, grad: Any = None) -> None:
        """Fill ``.grad`` of every Tensor this one depends on (see :func:`tensor_backward`)."""
        tensor_backward(self, grad)


# ---------------------------------------------------------------- conversion


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """``data`` as a float64 (or float32) numpy array, without copying when it already is one."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        want = np.dtype(dtype)
        if want not in _FLOATS:
            raise TypeError(f"Tensor dtype must be float64 or float32, got {want}")
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"Tensor data must be numeric (array, list or number): {exc}") from None
    kind = array.dtype.kind
    if kind == "O":
        _check_big_ints(array)
    if kind not in "fiub":
        raise TypeError(
            f"Tensor data must be real numbers, got a {array.dtype} array"
            + (" (ragged or non-numeric entries?)" if kind == "O" else "")
        )
    if dtype is None:
        want = array.dtype if array.dtype in _FLOATS else np.dtype(np.float64)
    return array if array.dtype == want else array.astype(want)


def _check_big_ints(array: np.ndarray) -> None:
    """``OverflowError`` naming the first element of an object array that is a number too large for a float."""
    for idx in np.ndindex(array.shape):
        x = array[idx]
        if isinstance(x, Real) and not isinstance(x, bool):
            real_float(x, f"Tensor data: element [{', '.join(map(str, idx))}]" if idx else "Tensor data")


def operand(x: Any, like: Tensor) -> Tensor:
    """The other side of an op as a constant Tensor (numbers take ``like``'s dtype)."""
    if type(x) is Tensor:
        return x
    if isinstance(x, Real) and not isinstance(x, bool):
        return _constant(np.asarray(real_float(x, "Tensor operand"), dtype=like.data.dtype))
    if isinstance(x, (np.ndarray, list, tuple)) or isinstance(x, (bool, np.bool_)):
        return _constant(to_array(x))
    raise TypeError(f"cannot combine a Tensor with {type(x).__name__}")


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else a constant Tensor of it."""
    return x if type(x) is Tensor else Tensor(x)


def _constant(array: np.ndarray) -> Tensor:
    out = _new(Tensor)
    out.data, out.grad, out.requires_grad, out.label = array, None, False, ""
    out.op, out.parents, out.local_grads, out.vjp, out.ctx = ops.LEAF, (), (), None, None
    out.scope = STATE.scope
    return out


def _describe(t: Tensor) -> str:
    return f"{t.label or 'unnamed'} {t.data.shape}"


# ---------------------------------------------------------------- making nodes


def make_node(
    data: np.ndarray,
    op: Op,
    parents: tuple[Tensor, ...],
    vjp: Vjp,
    ctx: Any = None,
    local_grads: tuple[Any, ...] = (),
) -> Tensor:
    """A new result node; records its parents only when one of them needs a gradient."""
    out = _new(Tensor)
    out.data = data
    out.grad = None
    out.label = ""
    scope = STATE.recording  # the scope when recording without anomaly checks (one read), else None
    if scope is None:
        out.scope = STATE.scope
        if STATE.anomaly:
            _check_forward(data, op, parents, local_grads)
    else:
        out.scope = scope
    if scope is not None or STATE.grad_enabled:
        for p in parents:
            if p.requires_grad:
                out.requires_grad = True
                out.op, out.parents, out.local_grads, out.vjp, out.ctx = (
                    op, parents, local_grads, vjp, ctx
                )
                return out
    out.requires_grad = False
    out.op, out.parents, out.local_grads, out.vjp, out.ctx = ops.LEAF, (), (), None, None
    return out


def needs_grad(*parents: Tensor) -> bool:
    """Whether a result of these parents will record a graph (cheap pre-check for ops)."""
    return STATE.grad_enabled and any(p.requires_grad for p in parents)


def _check_forward(data: Any, op: Op, parents: tuple[Tensor, ...], local: tuple[Any, ...]) -> None:
    inputs = ", ".join(_describe(p) for p in parents)
    if not np.isfinite(data).all():
        raise FloatingPointError(
            f"detect_anomaly: op '{op.name}' produced NaN or inf in its output {np.shape(data)} "
            f"from inputs ({inputs})"
        )
    for g in local:
        if not np.isfinite(g).all():
            raise FloatingPointError(
                f"detect_anomaly: op '{op.name}' produced NaN or inf local gradients "
                f"from inputs ({inputs})"
            )


def elementwise(op: Op, *args: Any) -> Tensor:
    """``op(*args)`` element-wise through the op table's ``array_fn`` (numpy broadcasting).

    Shapes that do not broadcast raise ``ValueError`` naming the op and every shape.
    """
    if len(args) == 1 and type(args[0]) is Tensor:
        parents: tuple[Tensor, ...] = args
    else:
        first = next((a for a in args if type(a) is Tensor), None)
        if first is None:
            raise TypeError(f"{op.name}: needs at least one Tensor")
        parents = tuple(operand(a, first) for a in args)
    if op.array_fn is None:
        raise TypeError(f"op '{op.name}' has no array form")
    try:
        out, local = op.array_fn(*[p.data for p in parents])
    except ValueError as exc:
        if len(parents) > 1 and "broadcast" in str(exc):
            shapes = " and ".join(str(p.data.shape) for p in parents)
            raise ValueError(f"{op.name}: shapes {shapes} do not broadcast") from None
        raise ValueError(f"{op.name}: {exc} (inputs: {_inputs(parents)})") from None
    except ArithmeticError as exc:
        raise type(exc)(f"{op.name}: {exc} (inputs: {_inputs(parents)})") from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    return make_node(out, op, parents, _vjp_elementwise, None, local)


def _inputs(parents: tuple[Tensor, ...]) -> str:
    return ", ".join(_describe(p) for p in parents)


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` back down to ``shape`` over the axes numpy broadcast (the adder)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g if g.shape == shape else g.reshape(shape)


def _vjp_elementwise(node: Tensor, g: np.ndarray) -> tuple[Any, ...]:
    """downstream = local x upstream, per parent, summed back over broadcast axes.

    ``g`` a Tensor (a gradient made into a graph): the locals are recomputed as
    nodes by the op's rule on the Tensor backend.
    """
    grads = []
    locals_ = node.op.locals_on(TENSOR, node.parents, node) if type(g) is Tensor else node.local_grads
    for parent, local in zip(node.parents, locals_):
        if not parent.requires_grad:
            grads.append(None)
            continue
        if type(local) is float:
            c = g if local == 1.0 else -g if local == -1.0 else local * g
        else:
            c = local * g
        grads.append(unbroadcast(c, parent.data.shape))
    return tuple(grads)


# ---------------------------------------------------------------- backward


def tensor_vjp(node: Tensor, upstream: Any) -> tuple[Any, ...]:
    """A Tensor node's downstream contributions: its gate's vector-Jacobian rule."""
    return node.vjp(node, upstream)  # type: ignore[misc]


def _check_edge(node: Tensor, k: int, parent: Tensor, contribution: Any, total: Any) -> None:
    """detect_anomaly on one edge of the tensor backward: the contribution and the sum stay finite."""
    if not np.isfinite(contribution).all():
        raise FloatingPointError(
            f"detect_anomaly: backward through op '{node.op.name}' (node "
            f"{node.label or 'unnamed'} {node.shape}) gave NaN or inf for input "
            f"{_describe(parent)}"
        )
    if total is not contribution and not np.isfinite(total).all():
        raise FloatingPointError(
            f"detect_anomaly: the gradient of {_describe(parent)} overflowed to NaN or inf "
            f"adding the contribution of op '{node.op.name}' (fan-out: the adder)"
        )


def tensor_backward(root: Tensor, grad: Any = None) -> None:
    """Reverse-mode sweep from ``root``: fill ``.grad`` of everything it depends on.

    ``grad`` is the seed (upstream of the root): optional for a one-element
    root (seed 1), required otherwise, and of the root's shape.  As in the
    scalar engine (and PyTorch), interior gradients are recomputed on each call
    and leaf gradients accumulate; ``zero_grad`` (or ``grad = None``) resets.
    With ``detect_anomaly`` on, the first non-finite contribution raises
    ``FloatingPointError`` and no ``.grad`` is changed.
    """
    if type(root) is not Tensor:
        raise TypeError(f"tensor_backward needs a Tensor, got {type(root).__name__}")
    if not root.requires_grad:
        raise ValueError(
            f"backward: Tensor {root.label or 'unnamed'} {root.shape} does not require grad "
            "(no input with requires_grad=True reaches it, or it was made under no_grad)"
        )
    seed = _seed(root, grad)
    anomaly = STATE.anomaly
    if anomaly and not np.isfinite(seed).all():
        raise FloatingPointError("detect_anomaly: the seed gradient holds NaN or inf")
    order = topological_order(root)
    grads = backprop(root, seed, tensor_vjp, order=order, on_edge=_check_edge if anomaly else None)
    interior: list[tuple[Tensor, Any]] = []
    leaves: list[tuple[Tensor, Any]] = []
    get = grads.get
    for n in order:  # one pass: interior nodes and leaves that need a gradient, each with what flowed in
        g = get(id(n))
        if g is not None and (n.parents or n.requires_grad):
            (interior if n.parents else leaves).append((n, g))
    if anomaly:
        for node, g in leaves:
            if node.grad is not None and not np.isfinite(node.grad + g).all():
                raise FloatingPointError(
                    f"detect_anomaly: the accumulated gradient of leaf {_describe(node)} overflows to NaN or inf"
                )
    _commit(interior, leaves, seed)  # only now: an error above leaves every .grad as it was


def _seed(root: Tensor, grad: Any) -> np.ndarray:
    """The seed gradient of ``root``: ones for a one-element root, else ``grad`` of the root's shape."""
    if grad is None:
        if root.data.size != 1:
            raise ValueError(
                f"backward() on a non-scalar Tensor of shape {root.shape} needs an explicit "
                f"gradient of that shape: root.backward(grad)"
            )
        return np.ones_like(root.data)
    seed = to_array(grad.data if isinstance(grad, Tensor) else grad, root.data.dtype)
    if seed.shape != root.data.shape:
        raise ValueError(
            f"backward: the gradient's shape {seed.shape} does not match the root's shape {root.data.shape}"
        )
    return seed


def _commit(interior: list[tuple[Tensor, Any]], leaves: list[tuple[Tensor, Any]], seed: np.ndarray) -> None:
    """Write the gradients: interior nodes get theirs, leaves accumulate (owning their arrays)."""
    shared = {id(u) for _, u in interior}
    shared.add(id(seed))
    for node, g in interior:
        node.grad = g
    for node, g in leaves:
        if node.grad is None:
            # a leaf owns its grad (accumulated in place later): copy views and arrays
            # that are also an interior node's grad or the caller's seed
            own = g.base is None and id(g) not in shared and g.dtype == node.data.dtype
            node.grad = g if own else g.astype(node.data.dtype, copy=True)
        else:
            node.grad += g


class TensorMath(NodeMath):
    """The backend for ``Tensor``s: an op's locals become tensor nodes; router masks are constant arrays."""

    name = "tensor"
    plain = ARRAY


TENSOR = TensorMath()

for _op in list(ops.OPS.values()):
    if _op.method and _op.arity == 1:
        setattr(Tensor, _op.method, ops.method_for(_op, elementwise))
