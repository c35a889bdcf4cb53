"""The tensor path's gates that are not element-wise, each with its vector-Jacobian rule.

Element-wise gates come from the op table (:mod:`engine.ops`).  These are the
rest: matrix product (``dA = upstream B^T``, ``dB = A^T upstream``), the
fused linear layer (``dW = delta x^T``, the lecture's matrix form),
reductions, shape ops, indexing, joining, and the softmax family.  Each
rule is a plain module-level function ``vjp(node, upstream) -> downstream per
parent`` (``None`` where a parent needs no gradient): no closures, no cycles.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .ops import Op
from .tensor import Tensor, as_tensor, elementwise, make_node, needs_grad, operand, unbroadcast


def _op(name: str, symbol: str, gate: str, explain: str, formula: str, arity: int) -> Op:
    return Op(name, symbol=symbol, gate=gate, explain=explain, formula=formula, arity=arity)


MATMUL = _op("matmul", "@", "matrix swap multiplier",
             "matmul gate: each input gets the upstream times the OTHER input, transposed",
             "d(AB)/dA: upstream B^T, d(AB)/dB: A^T upstream", 2)
LINEAR = _op("linear", "Wx+b", "linear gate",
             "linear gate: W gets delta x^T, x gets W^T delta, b gets delta summed over the batch",
             "y = x W^T + b; dW = delta^T x, dx = delta W, db = Σ delta", 3)
SUM_T = _op("reduce_sum", "Σ", "gradient distributor",
            "sum gate: hands the upstream gradient unchanged to every element it summed",
            "d(Σ x_i)/dx_i = 1", 1)
MEAN = _op("mean", "mean", "gradient distributor",
           "mean gate: hands upstream / n to every element it averaged",
           "d(Σ x_i / n)/dx_i = 1/n", 1)
MAX_T = _op("reduce_max", "max", "gradient router",
            "max gate: routes the whole upstream gradient to the largest element (ties: the first)",
            "d max(x)/dx_i = 1 for the first largest x_i, else 0", 1)
RESHAPE = _op("reshape", "reshape", "reshaper",
              "reshape gate: the same numbers in a new shape; the gradient is reshaped back",
              "dy/dx = identity (reshaped)", 1)
TRANSPOSE = _op("transpose", "ᵀ", "transposer",
                "transpose gate: axes permuted; the gradient is permuted back",
                "dy/dx = identity (axes permuted back)", 1)
GETITEM = _op("getitem", "[ ]", "gradient scatter",
              "index gate: the picked elements get the upstream; repeated picks add up",
              "dy/dx_i = 1 for each time x_i was picked", 1)
CONCAT = _op("concatenate", "concat", "gradient splitter",
             "concatenate gate: each input gets its own slice of the upstream",
             "dy/dx_k = the k-th block of the upstream", -1)
STACK = _op("stack", "stack", "gradient splitter",
            "stack gate: each input gets its own slice of the upstream",
            "dy/dx_k = the k-th slice of the upstream", -1)
SOFTMAX = _op("softmax", "softmax", "softmax gate",
              "softmax gate: s_i (upstream_i - Σ_j upstream_j s_j)",
              "ds_i/dx_j = s_i (δ_ij - s_j)", 1)
LOG_SOFTMAX = _op("log_softmax", "log softmax", "log-softmax gate",
                  "log-softmax gate: upstream_i - s_i Σ_j upstream_j",
                  "d log s_i/dx_j = δ_ij - s_j", 1)
CROSS_ENTROPY = _op("cross_entropy", "CE", "softmax cross-entropy gate",
                    "cross-entropy gate (fused with softmax): the logits get (softmax - one-hot) / n",
                    "L = mean(-log softmax(z)[y]); dL/dz = (softmax(z) - onehot(y)) / n", 1)

SCATTER = _op("scatter", "scatter", "gradient gatherer",
              "scatter gate (the index gate's backward as a node): the upstream goes back to the picked elements",
              "dy/dg = pick the indexed elements", 1)

TENSOR_OPS: dict[str, Op] = {
    op.name: op
    for op in (MATMUL, LINEAR, SUM_T, MEAN, MAX_T, RESHAPE, TRANSPOSE, GETITEM, CONCAT, STACK,
               SOFTMAX, LOG_SOFTMAX, CROSS_ENTROPY, SCATTER)
}


def _val(t: Tensor, g: Any) -> Any:
    """What a rule reads of node ``t``: its array, or, when the upstream ``g`` is a Tensor
    (a gradient being made into a graph, ``engine.grad(..., create_graph=True)``), the node itself."""
    return t if type(g) is Tensor else t.data


def _swap_last(x: Any) -> Any:
    """x with its last two axes swapped (arrays and Tensors alike)."""
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return x.transpose(*perm)


def _pair(a: Any, b: Any, name: str) -> tuple[Tensor, Tensor]:
    like = a if type(a) is Tensor else b if type(b) is Tensor else None
    if like is None:
        raise TypeError(f"{name}: needs at least one Tensor")
    return operand(a, like), operand(b, like)


# ---------------------------------------------------------------- routers


def maximum(a: Any, b: Any) -> Tensor:
    """Element-wise larger of ``a`` and ``b`` (the router: upstream goes to the winner, ties: a)."""
    return elementwise(ops.MAX, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Element-wise smaller of ``a`` and ``b`` (the router: upstream goes to the winner, ties: a)."""
    return elementwise(ops.MIN, a, b)


# ---------------------------------------------------------------- matmul


def matmul(a: Any, b: Any) -> Tensor:
    """``a @ b`` (numpy rules: 1-D operands, batched stacks broadcast).

    Backward, the swap multiplier for matrices: ``dA = upstream B^T``, ``dB = A^T upstream``.
    """
    a, b = _pair(a, b, "matmul")
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 axis, got shapes {a.shape} and {b.shape}")
    try:
        out = np.matmul(a.data, b.data)
    except ValueError:
        k1 = a.shape[-1]
        k2 = b.shape[-2] if b.ndim > 1 else b.shape[0]
        why = f"inner dimensions {k1} and {k2} differ" if k1 != k2 else "batch axes do not broadcast"
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match ({why})") from None
    return make_node(np.asarray(out), MATMUL, (a, b), _vjp_matmul)


def _vjp_matmul(node: Tensor, g: np.ndarray) -> tuple[Any, Any]:
    a, b = node.parents
    A, B = _val(a, g), _val(b, g)
    if A.ndim == 2 and B.ndim == 2:
        return (g @ B.T if a.requires_grad else None, A.T @ g if b.requires_grad else None)
    A2 = A if A.ndim > 1 else A.reshape(1, -1)
    B2 = B if B.ndim > 1 else B.reshape(-1, 1)
    batch = np.broadcast_shapes(A2.shape[:-2], B2.shape[:-2])
    G = g.reshape(batch + (A2.shape[-2], B2.shape[-1]))
    da = db = None
    if a.requires_grad:
        da = unbroadcast(G @ _swap_last(B2), A2.shape).reshape(A.shape)
    if b.requires_grad:
        db = unbroadcast(_swap_last(A2) @ G, B2.shape).reshape(B.shape)
    return da, db


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x W^T + b`` for ``x`` of shape (..., nin), ``W`` (nout, nin), ``b`` (nout,).

    One fused gate (as ``torch.nn.functional.linear``); backward is the
    lecture's matrix form: ``dW = delta^T x`` (delta x^T per sample), ``dx = delta W``,
    ``db = Σ delta`` over the batch.
    """
    x = as_tensor(x)
    if type(weight) is not Tensor:
        raise TypeError(f"linear: weight must be a Tensor, got {type(weight).__name__}")
    if bias is not None and type(bias) is not Tensor:
        raise TypeError(f"linear: bias must be a Tensor or None, got {type(bias).__name__}")
    W = weight.data
    if W.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (nout, nin), got shape {weight.shape}")
    if x.data.ndim == 0 or x.data.shape[-1] != W.shape[1]:
        raise ValueError(
            f"linear: input shape {x.shape} does not match weight shape {weight.shape} "
            f"(the input's last axis must be nin = {W.shape[1]})"
        )
    out = x.data @ W.T
    if bias is None:
        return make_node(out, LINEAR, (x, weight), _vjp_linear)
    if bias.data.shape != (W.shape[0],):
        raise ValueError(
            f"linear: bias shape {bias.shape} does not match weight shape {weight.shape} "
            f"(expected ({W.shape[0]},))"
        )
    if out.dtype == bias.data.dtype or out.dtype == np.result_type(out, bias.data):
        out += bias.data
    else:
        out = out + bias.data
    return make_node(out, LINEAR, (x, weight, bias), _vjp_linear)


def _vjp_linear(node: Tensor, g: np.ndarray) -> tuple[Any, ...]:
    x, w = node.parents[0], node.parents[1]
    X, W = _val(x, g), _val(w, g)
    g2 = g if g.ndim == 2 else g.reshape(-1, W.shape[0])
    dx = (g @ W) if x.requires_grad else None
    dw = None
    if w.requires_grad:
        dw = g2.T @ (X if X.ndim == 2 else X.reshape(-1, W.shape[1]))
    if len(node.parents) == 2:
        return dx, dw
    db = g2.sum(axis=0) if node.parents[2].requires_grad else None
    return dx, dw, db


# ---------------------------------------------------------------- reductions


def _axes(axis: Any, ndim: int, name: str) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{name}: axis must be an int, a tuple of ints or None, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} is out of range for a Tensor with {ndim} axes")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def sum(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Σ over ``axis`` (all by default); the distributor: each element gets the upstream."""
    axes = _axes(axis, x.ndim, "sum")
    out = np.asarray(x.data.sum(axis=axes, keepdims=keepdims))
    return make_node(out, SUM_T, (x,), _vjp_sum, (axes, keepdims, 1.0))


def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``; each element gets upstream / n."""
    axes = _axes(axis, x.ndim, "mean")
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    if n == 0:
        raise ValueError(f"mean: no elements to average over axis {axis!r} of shape {x.shape}")
    out = np.asarray(x.data.mean(axis=axes, keepdims=keepdims))
    return make_node(out, MEAN, (x,), _vjp_sum, (axes, keepdims, 1.0 / n))


def _vjp_sum(node: Tensor, g: np.ndarray) -> tuple[Any]:
    axes, keepdims, scale = node.ctx
    (x,) = node.parents
    if scale != 1.0:
        g = g * scale
    if not keepdims:
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.data.shape)))
    if type(g) is Tensor:  # the distributor as a node: broadcast by adding constant zeros
        return (g + np.zeros(x.data.shape, dtype=x.data.dtype),)
    return (np.broadcast_to(g, x.data.shape),)


def max(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Largest element over ``axis``; the router: upstream goes to the first largest."""
    axes = _axes(axis, x.ndim, "max")
    if x.data.size == 0:
        raise ValueError(f"max: an empty Tensor of shape {x.shape} has no maximum")
    out = np.asarray(x.data.max(axis=axes, keepdims=keepdims))
    return make_node(out, MAX_T, (x,), _vjp_max, (axes, keepdims))


def _vjp_max(node: Tensor, g: np.ndarray) -> tuple[Any]:
    axes, keepdims = node.ctx
    X = node.parents[0].data
    if not keepdims:
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(X.shape)))
    mask = _max_mask(X, axes)
    if type(g) is Tensor:  # the router as a node: upstream times a constant one-hot mask
        return (g * mask,)
    return (np.where(mask != 0, g, 0.0).astype(np.result_type(X, g), copy=False),)  # upstream to the winner only


def _max_mask(X: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """1 at the first largest element over ``axes``, 0 elsewhere (the router's decision)."""
    k = len(axes)
    ends = tuple(range(X.ndim - k, X.ndim))
    moved = np.moveaxis(X, axes, ends)
    flat = moved.reshape(moved.shape[: X.ndim - k] + (-1,))
    mask = np.zeros(flat.shape, dtype=X.dtype)
    np.put_along_axis(mask, flat.argmax(axis=-1)[..., None], 1.0, axis=-1)
    return np.moveaxis(mask.reshape(moved.shape), ends, axes)


# ---------------------------------------------------------------- shape ops


def reshape(x: Tensor, shape: Any) -> Tensor:
    """The same elements in ``shape`` (one axis may be -1); the gradient is reshaped back."""
    try:
        out = x.data.reshape(shape)
    except TypeError:
        raise TypeError(f"reshape: the new shape must be ints, got {shape!r}") from None
    except ValueError as exc:
        raise ValueError(f"reshape: cannot reshape shape {x.shape} into {shape!r}: {exc}") from None
    return make_node(out, RESHAPE, (x,), _vjp_reshape)


def _vjp_reshape(node: Tensor, g: np.ndarray) -> tuple[Any]:
    return (g.reshape(node.parents[0].data.shape),)


def transpose(x: Tensor, axes: Any = None) -> Tensor:
    """Axes permuted (reversed when ``axes`` is None); the gradient is permuted back."""
    if axes is not None:
        try:
            axes = tuple(operator.index(a) for a in axes)
        except TypeError:
            raise TypeError(f"transpose: axes must be ints, got {axes!r}") from None
        n = x.ndim
        if len(axes) != n or any(not -n <= a < n for a in axes) or len({a % n for a in axes}) != n:
            raise ValueError(
                f"transpose: axes {axes} are not a permutation of the {n} axes of shape {x.shape}"
            )
        axes = tuple(a % n for a in axes)
    out = x.data.transpose(axes)
    return make_node(out, TRANSPOSE, (x,), _vjp_transpose, axes)


def _vjp_transpose(node: Tensor, g: np.ndarray) -> tuple[Any]:
    axes = node.ctx
    return (g.transpose() if axes is None else g.transpose(*(int(a) for a in np.argsort(axes))),)


def _plain_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return _int_array(index)
    if isinstance(index, tuple):
        return tuple(_int_array(i) if isinstance(i, Tensor) else i for i in index)
    return index


def _int_array(t: Tensor) -> np.ndarray:
    d = t.data
    if not np.all(d == np.round(d)):
        raise TypeError(f"index Tensor {t.label or 'unnamed'} {t.shape} holds non-integer values")
    return d.astype(np.intp)


def _is_basic(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) and not isinstance(i, bool)
        for i in items
    )


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` (numpy indexing); the gradient is scattered back, repeated picks add up."""
    index = _plain_index(index)
    out = x.data[index]
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    return make_node(out, GETITEM, (x,), _vjp_getitem, (index, _is_basic(index)))


def _vjp_getitem(node: Tensor, g: np.ndarray) -> tuple[Any]:
    index, basic = node.ctx
    x = node.parents[0]
    if type(g) is Tensor:
        return (_scatter(g, index, basic, x.data.shape),)
    out = np.zeros(x.data.shape, dtype=np.result_type(x.data, g))
    if basic:
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated indices: the adder
    return (out,)


def _scatter(g: Tensor, index: Any, basic: bool, shape: tuple[int, ...]) -> Tensor:
    """The index gate's backward as a node: ``g`` placed at ``index`` in zeros (repeats add).

    Its own backward picks ``index`` again (a getitem), so a gradient that went
    through indexing can be differentiated again.
    """
    out = np.zeros(shape, dtype=g.data.dtype)
    if basic:
        out[index] = g.data
    else:
        np.add.at(out, index, g.data)
    return make_node(out, SCATTER, (g,), _vjp_scatter, (index, basic))


def _vjp_scatter(node: Tensor, g: Any) -> tuple[Any]:
    index, basic = node.ctx
    return (getitem(g, index) if type(g) is Tensor else g[index],)


def _tensors(items: Sequence[Any], name: str) -> tuple[Tensor, ...]:
    if isinstance(items, (Tensor, np.ndarray)) or not isinstance(items, Sequence) or not items:
        raise TypeError(f"{name}: needs a non-empty list or tuple of Tensors")
    like = next((t for t in items if type(t) is Tensor), None)
    if like is None:
        raise TypeError(f"{name}: needs at least one Tensor in the list")
    return tuple(operand(t, like) for t in items)


def _join_axis(axis: Any, name: str) -> None:
    """``TypeError`` unless ``axis`` is an int (numpy's ``axis=None`` would flatten: not a join)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r} (to join flattened Tensors, reshape them to 1-D)")


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along an existing ``axis``; each input gets its own block of the upstream."""
    parents = _tensors(tensors, "concatenate")
    _join_axis(axis, "concatenate")
    try:
        out = np.concatenate([p.data for p in parents], axis=axis)
    except (ValueError, np.exceptions.AxisError):
        shapes = ", ".join(str(p.shape) for p in parents)
        raise ValueError(f"concatenate: shapes {shapes} cannot be joined along axis {axis}") from None
    ax = axis % out.ndim
    cuts = np.cumsum([p.shape[ax] for p in parents])[:-1]
    return make_node(out, CONCAT, parents, _vjp_concat, (ax, cuts))


def _vjp_concat(node: Tensor, g: np.ndarray) -> tuple[Any, ...]:
    ax, cuts = node.ctx
    if type(g) is Tensor:
        bounds = [0, *cuts, g.shape[ax]]
        lead = (slice(None),) * ax
        parts = [g[(*lead, slice(lo, hi))] for lo, hi in zip(bounds, bounds[1:])]
    else:
        parts = np.split(g, cuts, axis=ax)
    return tuple(part if p.requires_grad else None for p, part in zip(node.parents, parts))


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along a new ``axis``; each input gets its own slice of the upstream."""
    parents = _tensors(tensors, "stack")
    _join_axis(axis, "stack")
    try:
        out = np.stack([p.data for p in parents], axis=axis)
    except (ValueError, np.exceptions.AxisError):
        shapes = ", ".join(str(p.shape) for p in parents)
        raise ValueError(f"stack: shapes {shapes} cannot be stacked along axis {axis}") from None
    return make_node(out, STACK, parents, _vjp_stack, axis % out.ndim)


def _vjp_stack(node: Tensor, g: np.ndarray) -> tuple[Any, ...]:
    ax = node.ctx
    lead = (slice(None),) * ax
    return tuple(g[(*lead, i)] if p.requires_grad else None for i, p in enumerate(node.parents))


# ---------------------------------------------------------------- softmax family


def _check_axis(x: Tensor, axis: int, name: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for shape {x.shape}")
    if x.shape[axis] == 0:
        raise ValueError(f"{name}: axis {axis} of shape {x.shape} is empty; it needs at least one entry")
    return int(axis)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """s_i = exp(x_i - max x) / Σ_j exp(x_j - max x) along ``axis`` (stable for any size of x)."""
    axis = _check_axis(x, axis, "softmax")
    e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return make_node(e, SOFTMAX, (x,), _vjp_softmax, axis)


def _vjp_softmax(node: Tensor, g: np.ndarray) -> tuple[Any]:
    s = _val(node, g)
    return (s * (g - (g * s).sum(axis=node.ctx, keepdims=True)),)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x_i - max x - log Σ_j exp(x_j - max x) along ``axis`` (stable)."""
    axis = _check_axis(x, axis, "log_softmax")
    z = x.data - x.data.max(axis=axis, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return make_node(z, LOG_SOFTMAX, (x,), _vjp_log_softmax, axis)


def _vjp_log_softmax(node: Tensor, g: np.ndarray) -> tuple[Any]:
    softmax_ = node.exp() if type(g) is Tensor else np.exp(node.data)
    return (g - softmax_ * g.sum(axis=node.ctx, keepdims=True),)


def _targets(targets: Any, n: int, classes: int) -> np.ndarray:
    if isinstance(targets, Tensor):
        t = targets.data
        if not np.all(t == np.round(t)):
            raise TypeError("cross_entropy: targets must be integer class indices")
        t = t.astype(np.intp)
    else:
        t = np.asarray(targets)
        if t.dtype.kind not in "iu":
            raise TypeError(f"cross_entropy: targets must be integer class indices, got {t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"cross_entropy: targets shape {t.shape} does not match logits rows ({n},)")
    wrapped = t.view(np.uint64) if t.dtype == np.int64 else t.astype(np.uint64)  # negatives wrap to huge
    if n and np.maximum.reduce(wrapped) >= classes:
        bad = t[(t < 0) | (t >= classes)][0]
        raise ValueError(f"cross_entropy: target class {int(bad)} is out of range [0, {classes})")
    return t


def cross_entropy(logits: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy, fused and stable: ``L = mean_n(log Σ_j e^{z_nj} - z_{n,y_n})``.

    ``logits`` (n, classes); ``targets`` n integer classes.  ``reduction`` is
    ``'mean'`` or ``'sum'``.  Backward: ``dL/dz = (softmax(z) - onehot(y)) / n``.
    """
    if type(logits) is not Tensor:
        raise TypeError(f"cross_entropy: logits must be a Tensor, got {type(logits).__name__}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"cross_entropy: reduction must be 'mean' or 'sum', got {reduction!r}")
    Z = logits.data
    if Z.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be 2-D (n, classes), got shape {Z.shape}")
    n, classes = Z.shape
    if n == 0 or classes == 0:
        raise ValueError(f"cross_entropy: empty logits of shape {Z.shape}")
    t = _targets(targets, n, classes)
    # the ufuncs' reduce directly (what .max() / .sum() call, without their Python wrappers)
    z = Z - np.maximum.reduce(Z, axis=1, keepdims=True)
    e = np.exp(z)
    s = np.add.reduce(e, axis=1, keepdims=True)
    rows = np.arange(n)
    total = np.add.reduce(np.log(s), axis=None) - np.add.reduce(z[rows, t], axis=None)
    scale = 1.0 / n if reduction == "mean" else 1.0
    out = np.asarray(total * scale, dtype=logits.dtype)
    ctx = None
    if needs_grad(logits):
        e /= s  # the softmax, kept for backward
        ctx = (e, rows, t, scale)
    return make_node(out, CROSS_ENTROPY, (logits,), _vjp_cross_entropy, ctx)


def _vjp_cross_entropy(node: Tensor, g: np.ndarray) -> tuple[Any]:
    p, rows, t, scale = node.ctx
    if type(g) is Tensor:  # (softmax(z) - onehot) x upstream / n, as nodes
        logits = node.parents[0]
        onehot = np.zeros(p.shape, dtype=p.dtype)
        onehot[rows, t] = 1.0
        return ((softmax(logits, axis=-1) - onehot) * (g * scale),)
    k = float(g) * scale
    d = p * k
    d[rows, t] -= k
    return (d,)


# ---------------------------------------------------------------- Tensor methods
# This module builds on engine.tensor, so it gives Tensor the methods of its gates.


def _method_sum(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all by default); the distributor: every element gets upstream."""
    return sum(self, axis, keepdims)


def _method_mean(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``; every element gets upstream / n."""
    return mean(self, axis, keepdims)


def _method_max(self: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Max over ``axis``; the router: upstream goes to the (first) largest element."""
    return max(self, axis, keepdims)


def _method_reshape(self: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape; the gradient is reshaped back."""
    return reshape(self, shape[0] if len(shape) == 1 else shape)


def _method_transpose(self: Tensor, *axes: Any) -> Tensor:
    """Axes permuted (reversed by default); the gradient is permuted back."""
    return transpose(self, axes[0] if len(axes) == 1 else (axes or None))


def _method_T(self: Tensor) -> Tensor:
    """The transpose (axes reversed)."""
    return transpose(self, None)


def _method_softmax(self: Tensor, axis: int = -1) -> Tensor:
    """exp(x_i - max) / Σ exp(x_j - max) along ``axis`` (stable)."""
    return softmax(self, axis)


def _method_log_softmax(self: Tensor, axis: int = -1) -> Tensor:
    """x_i - max - log Σ exp(x_j - max) along ``axis`` (stable)."""
    return log_softmax(self, axis)


def _method_matmul(self: Tensor, other: Any) -> Tensor:
    """``self @ other``: the matrix swap multiplier."""
    return matmul(self, other)


def _method_rmatmul(self: Tensor, other: Any) -> Tensor:
    """``other @ self``."""
    return matmul(other, self)


def _method_getitem(self: Tensor, index: Any) -> Tensor:
    """``self[index]``: the index gate (repeated picks add up in backward)."""
    return getitem(self, index)


for _name, _fn in {
    "sum": _method_sum, "mean": _method_mean, "max": _method_max, "reshape": _method_reshape,
    "transpose": _method_transpose, "T": property(_method_T), "softmax": _method_softmax,
    "log_softmax": _method_log_softmax, "__matmul__": _method_matmul, "__rmatmul__": _method_rmatmul,
    "__getitem__": _method_getitem,
}.items():
    setattr(Tensor, _name, _fn)
