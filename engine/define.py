"""``define_op``: your own gate, in one place.

    softplus = define_op("softplus",
                         forward=lambda m, x: m.log(1 + m.exp(x)),
                         local_grads=lambda m, x, out: (m.sigmoid(x),),
                         symbol="softplus", gate="softplus gate", formula="log(1 + e^x)")
    y = softplus(Value(0.5))          # a Value node with op "softplus"
    Y = softplus(Tensor([0.5, 2.0]))  # element-wise on a Tensor

The rule is written once against the math backend ``m`` (see
:mod:`engine.backends` for what ``m`` offers) and joins the op table like the
built-in gates: the scalar engine, the tensor path, ``engine.trace`` (both
replays), every diagram, the stepper, ``gradcheck`` and ``engine.grad``
(gradients of gradients) all read it from there.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from . import ops
from .backends import FLOAT
from .ops import Op
from .tensor import Tensor, elementwise
from .tensor_ops import TENSOR_OPS
from .value import apply


class Gate:
    """A defined op, callable on Values, Tensors and numbers: ``gate(x)``, ``gate(a, b)``."""

    __slots__ = ("op",)

    def __init__(self, op: Op) -> None:
        self.op = op

    def __call__(self, *inputs: Any) -> Any:
        """Make the node: element-wise if any input is a Tensor, else a scalar Value."""
        if any(type(x) is Tensor for x in inputs):
            return elementwise(self.op, *inputs)
        return apply(self.op, *inputs)

    def __repr__(self) -> str:
        return f"Gate({self.op.name!r}, gate={self.op.gate!r}, formula={self.op.formula!r})"


def define_op(
    name: str,
    forward: Callable[..., Any],
    local_grads: Callable[..., Any],
    *,
    symbol: str | None = None,
    gate: str | None = None,
    formula: str | None = None,
    explain: str | None = None,
) -> Gate:
    """Add the op ``name`` to the op table and return it as a callable gate.

    ``forward(m, x1, ..., xn)`` gives the output; ``local_grads(m, x1, ...,
    xn, out)`` gives d out / d xi, one per input (``out`` is passed by keyword).
    Write both with ``m``'s functions and the arithmetic operators only, so
    that the same rule runs on floats, numpy arrays, Values and formula text.
    The number of inputs is read from ``forward``'s signature (``*xs``: any
    number).  ``formula`` defaults to the local gradients as text.

    Raises ``ValueError`` for a name that is taken (or not an identifier) and
    for a rule that returns the wrong number of local gradients; ``TypeError``
    for rules that are not callables or whose signatures do not agree.
    """
    _check_name(name)
    arity = _arity(name, forward, local_grads)
    op = Op(
        name,
        symbol=symbol or name,
        gate=gate or f"{name} gate",
        explain=explain or f"{gate or name + ' gate'}: scales the upstream gradient by its local gradient",
        formula=formula or "",
        arity=arity,
        forward=forward,
        local_grads=local_grads,
    )
    _probe(op)
    if not formula:
        names = ["x"] if arity == 1 else [f"x{i + 1}" for i in range(max(arity, 2))]
        op.formula = ", ".join(f"d{name}/d{x} = {t}" for x, t in zip(names, op.local_text(names, name)))
    ops.register(op)
    return Gate(op)


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"define_op: the name must be a str, got {type(name).__name__}")
    if not name.isidentifier():
        raise ValueError(f"define_op: the name must be an identifier like 'softplus', got {name!r}")
    if name in ops.OPS or name in TENSOR_OPS:
        raise ValueError(f"define_op: the op name {name!r} is taken (see engine.OPS and engine.TENSOR_OPS)")


def _arity(name: str, forward: Any, local_grads: Any) -> int:
    """The number of inputs from ``forward(m, x1, ..., xn)``; -1 for ``forward(m, *xs)``."""
    for what, fn in (("forward", forward), ("local_grads", local_grads)):
        if not callable(fn):
            raise TypeError(f"define_op {name!r}: {what} must be a function, got {type(fn).__name__}")
    params = list(inspect.signature(forward).parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise TypeError(f"define_op {name!r}: forward must take the backend m first: forward(m, x, ...)")
    rest = params[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in rest):
        arity = -1
    else:
        arity = sum(1 for p in rest if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    if arity == 0:
        raise TypeError(f"define_op {name!r}: forward takes no input after m")
    n = 2 if arity < 0 else arity
    try:
        inspect.signature(local_grads).bind(FLOAT, *([0.0] * n), out=0.0)
    except TypeError:
        raise TypeError(
            f"define_op {name!r}: local_grads must take (m, <the {n} input(s) of forward>, out), "
            f"got local_grads{inspect.signature(local_grads)}"
        ) from None
    return arity


def _probe(op: Op) -> None:
    """Run the rule on a few floats: a wrong number of local gradients is caught now, not in backward."""
    n = 2 if op.arity < 0 else op.arity
    for x in (0.5, 1.5, -0.5):
        try:
            xs = (x,) * n
            out = op.forward(FLOAT, *xs)  # type: ignore[misc]
            local = op.local_grads(FLOAT, *xs, out=out)  # type: ignore[misc]
        except (ArithmeticError, ValueError):
            continue  # outside the op's domain: try another point
        try:
            count = len(local)
        except TypeError:
            raise ValueError(
                f"define_op {op.name!r}: local_grads must return a tuple of {n} local gradient(s), "
                f"got {type(local).__name__}"
            ) from None
        if count != n:
            raise ValueError(
                f"define_op {op.name!r}: local_grads returned {count} local gradient(s) for {n} input(s)"
            )
        return
