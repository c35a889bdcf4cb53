"""``Optimizer.step_vector``: every scalar parameter updated as one vector, the same numbers as ``step``.

Hypothesis over sizes, gradient sequences, learning rates (and a schedule),
momentum, weight decay and Adam's settings, mixing vector and per-Value steps
on one optimizer: the weights and the optimizer's state agree with ``step`` to
1e-12.  A NaN or inf gradient or update names the parameter and changes nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad.engine import Value
from tracegrad.nn.optim import SGD, Adam

from tests.nn.test_optim import grad_sequences

EXACT = 1e-12


def make(kind: str, params: list[Value], kw: dict[str, Any]) -> SGD | Adam:
    return SGD(params, **kw) if kind == "sgd" else Adam(params, **kw)


def state(opt: SGD | Adam) -> Any:
    if isinstance(opt, Adam):
        return opt.steps, list(opt.t), list(opt.m), list(opt.v)
    return opt.steps, list(opt.velocity)


def vector_step(opt: SGD | Adam, params: list[Value], grads: list[float]) -> None:
    new = opt.step_vector(np.array([p.data for p in params]), np.array(grads))
    for p, v in zip(params, new.tolist()):
        p.data = v


@settings(max_examples=60, deadline=None)
@given(grad_sequences(5), st.sampled_from(["sgd", "adam"]), st.floats(1e-3, 0.5), st.booleans(),
       st.sampled_from([0.0, 0.5, 0.9]), st.sampled_from([0.0, 0.01]), st.lists(st.booleans(), min_size=5, max_size=5))
def test_a_vector_step_equals_the_per_value_step(case: Any, kind: str, lr: float, schedule: bool, momentum: float,
                                                 weight_decay: float, vector_at: list[bool]) -> None:
    init, grad_seq = case
    kw: dict[str, Any] = {"lr": (lambda k: lr / (1 + k)) if schedule else lr, "weight_decay": weight_decay}
    if kind == "sgd":
        kw["momentum"] = momentum
    ref = [Value(v) for v in init]
    got = [Value(v) for v in init]
    want_opt, got_opt = make(kind, ref, kw), make(kind, got, kw)
    assert got_opt.vector_ready()
    for grads, vector in zip(grad_seq, vector_at):
        for p, g in zip(ref, grads):
            p.grad = g
        want_opt.step()
        if vector:  # a vector step after per-Value steps (and back) carries the same state
            vector_step(got_opt, got, grads)
        else:
            for p, g in zip(got, grads):
                p.grad = g
            got_opt.step()
    np.testing.assert_allclose([p.data for p in got], [p.data for p in ref], rtol=EXACT, atol=EXACT)
    want, have = state(want_opt), state(got_opt)
    assert have[0] == want[0]
    for a, b in zip(have[1:], want[1:]):
        np.testing.assert_allclose(np.array(a, dtype=float), np.array(b, dtype=float), rtol=EXACT, atol=EXACT)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("bad", ["grad", "update"])
def test_a_non_finite_vector_step_names_the_parameter_and_changes_nothing(kind: str, bad: str) -> None:
    params = [Value(1.0) for _ in range(6)]
    kw: dict[str, Any] = {"lr": (lambda k: 0.1 if k == 0 else 1e308) if bad == "update" else 0.1}
    if kind == "sgd":
        kw["momentum"] = 0.9
    opt = make(kind, params, kw)
    vector_step(opt, params, [0.1] * 6)
    before = state(opt)
    data = np.array([p.data for p in params])
    grads = np.full(6, 1.0)
    if bad == "grad":
        grads[4] = math.nan
        match = "parameter 4 has gradient nan; nothing was updated"
    else:
        data[3] = -1e308
        match = "the update of parameter 3 gives a non-finite value"
    with pytest.raises(FloatingPointError, match=match):
        opt.step_vector(data, grads)
    assert state(opt) == before


class Clipped(SGD):
    """A subclass that changes the rule: it has no vector form."""

    def _propose(self, i: int, p: Any, lr: float) -> Any:
        return p.data - lr * max(-1.0, min(1.0, p.grad)), None


def test_step_vector_needs_scalar_parameters_and_a_rule_with_a_vector_form() -> None:
    ps = [Value(1.0), Value(2.0)]
    opt = Clipped(ps, lr=0.1)
    assert not opt.vector_ready()
    with pytest.raises(TypeError, match="Clipped.step_vector: needs scalar parameters"):
        opt.step_vector(np.ones(2), np.ones(2))

    class ArrayParam:
        def __init__(self) -> None:
            self.data, self.grad = np.ones(3), np.zeros(3)

    assert not SGD([ArrayParam()], lr=0.1).vector_ready()

    class Logged(SGD):  # a step of its own: a training step must call it
        def step(self) -> None:
            super().step()

    assert not Logged(ps, lr=0.1).vector_ready() and SGD(ps, lr=0.1).vector_ready()
    with pytest.raises(ValueError, match=r"SGD.step_vector: grad must be an array of shape \(2,\).* got \(3,\)"):
        SGD(ps, lr=0.1).step_vector(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="data must be an array of shape .* got list"):
        SGD(ps, lr=0.1).step_vector([1.0, 2.0], np.ones(2))  # type: ignore[arg-type]
