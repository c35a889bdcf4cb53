"""``grad(output, inputs, create_graph=False)``: gradients as values, and gradients of gradients.

    d output / d input = Σ over paths of the product of local gradients

:func:`grad` runs the one backward loop (:func:`engine.backward.backprop`)
from ``output`` and returns d output / d input for each input, leaving every
``.grad`` untouched.  With ``create_graph=True`` each local gradient is
computed by its op's rule on the node backend (:mod:`engine.backends`), so a
sigmoid's local gradient becomes the nodes ``out * (1 - out)`` and every
``local x upstream`` is a mul node: the gradient is itself a graph of the same
gates, which can be differentiated again, drawn and stepped through.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .backward import backprop, local_times_upstream, topological_order
from .tensor import Tensor, tensor_vjp
from .value import VALUE, Value


def grad(output: Any, inputs: Any, create_graph: bool = False) -> Any:
    """d ``output`` / d each of ``inputs``, as new nodes; no ``.grad`` changes.

    ``output`` is a ``Value`` or a one-element ``Tensor``; ``inputs`` one node
    or a sequence of them (the result mirrors it: one node, or a tuple).  An
    input ``output`` does not depend on gets 0.  With ``create_graph=False``
    the results are constants (leaves); with ``create_graph=True`` they are
    graphs over the same nodes, so ``grad(grad(y, x, True), x)`` is the
    second derivative.  Router gates (relu, max, min, abs) pass their
    decision on as a constant: their second derivative is 0, as in PyTorch.
    """
    if not isinstance(create_graph, bool):
        raise TypeError(f"grad: create_graph must be a bool, got {type(create_graph).__name__}")
    single = isinstance(inputs, (Value, Tensor))
    xs = [inputs] if single else _input_list(inputs)
    if type(output) is Value:
        results = _value_grads(output, xs, create_graph)
    elif type(output) is Tensor:
        results = _tensor_grads(output, xs, create_graph)
    else:
        raise TypeError(f"grad: output must be a Value or a Tensor, got {type(output).__name__}")
    return results[0] if single else tuple(results)


def _input_list(inputs: Any) -> list[Any]:
    if not isinstance(inputs, Sequence) or isinstance(inputs, str):
        raise TypeError(f"grad: inputs must be a Value, a Tensor or a sequence of them, got {type(inputs).__name__}")
    xs = list(inputs)
    if not xs:
        raise ValueError("grad: no inputs given")
    return xs


def _check_kinds(xs: list[Any], kind: type, output: str) -> None:
    for i, x in enumerate(xs):
        if type(x) is not kind:
            raise TypeError(f"grad: input {i} is a {type(x).__name__}, but the output is a {output}: "
                            f"pass {kind.__name__}s")


def _times(local: Any, upstream: Any) -> Any:
    """downstream = local x upstream as a node, with no gate for a constant factor of 0, 1 or -1.

    A constant 0 sends nothing, 1 hands the upstream on (the distributor), -1 flips its sign;
    a constant upstream of 1 (the seed) or -1 passes the local on, or its negative.
    """
    if isinstance(local, int | float):
        if local == 0.0:
            return None
        if local == 1.0:
            return upstream
        if local == -1.0:
            return -upstream
    if isinstance(upstream, int | float):
        if upstream == 1.0:
            return local
        if upstream == -1.0:
            return -local
    return local * upstream


# ---------------------------------------------------------------- scalars


def _value_downstream(node: Value, upstream: Any) -> list[Any]:
    """The locals as nodes, from the op's rule on the Value backend, times the upstream node."""
    return [_times(local, upstream) for local in node.op.locals_on(VALUE, node.parents, node)]


def _value_grads(output: Value, xs: list[Any], create_graph: bool) -> list[Value]:
    _check_kinds(xs, Value, "Value")
    if create_graph:
        order = topological_order(output)
        grads = backprop(output, 1.0, _value_downstream, order=order)  # a plain seed: no gate multiplies by it
        forward = {id(n) for n in order}
        return [_fresh(_as_node(grads.get(id(x))), forward) for x in xs]
    grads = backprop(output, 1.0, local_times_upstream)
    return [Value(grads.get(id(x), 0.0)) for x in xs]


def _fresh(g: Value, forward: set[int]) -> Value:
    """A result that is a node of the forward graph itself (d(x*y)/dx is y) as a new node ``y + 0``."""
    return g + 0.0 if id(g) in forward else g


def _as_node(g: Any) -> Value:
    return Value(0.0) if g is None else g if type(g) is Value else Value(g)


# ---------------------------------------------------------------- tensors


def _tensor_grads(output: Tensor, xs: list[Any], create_graph: bool) -> list[Tensor]:
    _check_kinds(xs, Tensor, "Tensor")
    if output.data.size != 1:
        raise ValueError(f"grad: the output must have one element, got shape {output.shape} "
                         "(sum it, or pick one element)")
    if not output.requires_grad:
        raise ValueError("grad: the output does not require grad (no input with requires_grad=True reaches it)")
    ones = np.ones_like(output.data)
    # the gate's vector-Jacobian rule; a Tensor upstream makes it build nodes (create_graph)
    grads = backprop(output, Tensor(ones) if create_graph else ones, tensor_vjp)
    out = []
    for x in xs:
        g = grads.get(id(x))
        if g is None:
            out.append(Tensor(np.zeros_like(x.data)))
        elif type(g) is Tensor:
            out.append(g)
        else:  # a copy: backward's arrays may be views of the seed or of each other
            out.append(Tensor(np.array(g, dtype=x.data.dtype)))
    return out

