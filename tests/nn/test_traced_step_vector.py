"""TracedStep with an optimizer: the step runs on one parameter vector and writes each Value once.

The dynamic step (``make_step(..., trace=False)``) is the reference: over random
MLPs, losses, L2 (inside the per-sample program), SGD with momentum and weight
decay or Adam, several steps give the same loss, outputs, weights and
gradients (``.data`` and ``.grad`` of every parameter) to 1e-12.  Optimizers
over the parameters in another order, parameters a program never reads, and
targets baked into one program each keep the same numbers; an update the
optimizer refuses leaves every weight as it was.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracegrad import nn
from tracegrad.engine import Value, sum_values
from tracegrad.nn import TracedStep
from tracegrad.nn.loss_registry import LOSSES
from tracegrad.nn.step import make_step

EXACT = 1e-12


def optimizer(kind: str, params: list[Value]) -> nn.SGD | nn.Adam:
    if kind == "adam":
        return nn.Adam(params, lr=0.05, weight_decay=0.01)
    return nn.SGD(params, lr=lambda k: 0.1 / (1 + k), momentum=0.9 if kind == "momentum" else 0.0,
                  weight_decay=0.01 if kind == "momentum" else 0.0)


def assert_same_values(got: list[Value], want: list[Value]) -> None:
    np.testing.assert_allclose([p.data for p in got], [p.data for p in want], rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose([p.grad for p in got], [p.grad for p in want], rtol=EXACT, atol=EXACT)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    activation=st.sampled_from(["relu", "tanh", "sigmoid"]),
    hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    loss=st.sampled_from(["hinge", "mse", "binary_cross_entropy"]),
    l2=st.sampled_from([0.0, 1e-3]),
    kind=st.sampled_from(["sgd", "momentum", "adam"]),
    seed=st.integers(0, 2**16),
)
def test_a_vector_step_equals_the_dynamic_step(activation: str, hidden: list[int], loss: str, l2: float, kind: str,
                                               seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(7, 3)).tolist()
    y = [float(r[0] > 0) if loss == "binary_cross_entropy" else 1.0 if r[0] > 0 else -1.0 for r in X]
    out_act = "sigmoid" if loss == "binary_cross_entropy" else None
    models = [nn.MLP(3, [*hidden, 1], activation=activation, output_activation=out_act, seed=seed) for _ in "ab"]
    opts = [optimizer(kind, m.parameters()) for m in models]
    dynamic = make_step(models[0], LOSSES[loss], opts[0], l2=l2)
    traced = make_step(models[1], LOSSES[loss], opts[1], l2=l2, trace=True)
    assert isinstance(traced, TracedStep) and traced._vector
    for k in range(4):
        rows = slice(0, 7) if k % 2 else slice(2, 6)  # two batch sizes
        want, want_outs = dynamic(X[rows], y[rows])
        got, got_outs = traced(X[rows], y[rows])
        assert got == pytest.approx(want, rel=EXACT, abs=EXACT)
        np.testing.assert_allclose(got_outs, want_outs, rtol=EXACT, atol=EXACT)
        assert_same_values(models[1].parameters(), models[0].parameters())
    assert opts[1].steps == opts[0].steps == 4


@pytest.mark.parametrize("order", ["reversed", "unused"])
def test_an_optimizer_in_another_order_or_a_parameter_no_program_reads(order: str) -> None:
    X = [[0.5, -0.3], [0.1, 0.8], [-0.7, 0.2]]
    y = [1.0, -1.0, 1.0]
    steps, params = [], []
    for vector in (False, True):
        model = nn.MLP(2, [3, 1], activation="tanh", seed=4)
        ps = model.parameters()
        spare = Value(0.5)  # in the step's and the optimizer's parameters, read by no program: decay moves it
        ps = ps + [spare] if order == "unused" else ps
        opt = nn.SGD(ps[::-1] if order == "reversed" else ps, lr=0.1, momentum=0.5, weight_decay=0.1)
        if vector:
            step = TracedStep(model, "hinge", ps, optimizer=opt, l2=1e-3 if order == "reversed" else 0.0)
            assert step._vector
        else:
            step = TracedStep(model, "hinge", ps, zero_grad=opt.zero_grad, update=opt.step,
                              l2=1e-3 if order == "reversed" else 0.0)
            assert not step._vector
        steps.append(step)
        params.append(ps)
    for _ in range(3):
        for step in steps:
            step(X, y)
        assert_same_values(params[1], params[0])
    if order == "unused":
        assert params[1][-1].data != 0.5 and params[1][-1].grad == 0.0


def test_targets_baked_into_a_program_each_step_on_the_vector() -> None:
    def pick(outs: list[list[Value]], ys: list[Any]) -> Value:  # the target picks an output: baked in
        return sum_values([(o[int(t)] - 1.0) ** 2 for o, t in zip(outs, ys)]) * (1.0 / len(outs))

    X = [[0.5, -0.3], [0.1, 0.8], [-0.7, 0.2], [0.3, 0.3]]
    y = [0, 1, 1, 0]
    models = [nn.MLP(2, [3, 2], activation="relu", seed=2) for _ in "ab"]
    opts = [nn.Adam(m, lr=0.05) for m in models]
    dynamic = make_step(models[0], pick, opts[0], l2=1e-3)
    traced = TracedStep(models[1], pick, models[1].parameters(), optimizer=opts[1], l2=1e-3, targets="constant")
    for _ in range(3):
        want, _ = dynamic(X, y)
        got, _ = traced(X, y)
        assert got == pytest.approx(want, rel=EXACT)
        assert_same_values(models[1].parameters(), models[0].parameters())
    assert len(traced._traces) == 2  # one program per target


def test_an_update_the_optimizer_refuses_changes_no_weight() -> None:
    model = nn.MLP(2, [2, 1], seed=0)
    opt = nn.SGD(model, lr=1e308)
    step = TracedStep(model, "mse", model.parameters(), optimizer=opt)
    before = [p.data for p in model.parameters()]
    with pytest.raises(FloatingPointError, match="gives a non-finite value"):
        step([[1e5, -1e5]], [1e5])
    assert [p.data for p in model.parameters()] == before and opt.steps == 0
    assert any(p.grad != 0.0 for p in model.parameters())  # the step's gradients, as the dynamic step leaves them


def test_traced_step_needs_an_optimizer_or_both_callables() -> None:
    model = nn.MLP(2, [1], seed=0)
    ps = model.parameters()
    opt = nn.SGD(model, lr=0.1)
    with pytest.raises(TypeError, match="give an optimizer or zero_grad and update, not both"):
        TracedStep(model, "mse", ps, optimizer=opt, update=opt.step)
    with pytest.raises(TypeError, match=r"needs an optimizer=, or both zero_grad= and update= callables"):
        TracedStep(model, "mse", ps, zero_grad=opt.zero_grad)
    with pytest.raises(TypeError, match="optimizer must be an nn optimizer .* got method"):
        TracedStep(model, "mse", ps, optimizer=opt.step)  # type: ignore[arg-type]
