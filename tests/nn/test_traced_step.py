"""nn.TracedStep: one training step as replayed programs (moved here from engine: training is nn's job).

The dynamic engine is the reference: a traced step gives the same loss, outputs and weights, decides
whether targets enter its program as numbers, and reads named losses and the L2 penalty from
nn.loss_registry.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from tracegrad import engine, nn
from tracegrad.engine import Value, sum_values
from tracegrad.nn import TracedStep
from tracegrad.nn.loss_registry import L2, REGISTRY

from tests.engine.test_trace import TinyMLP  # one test model for the tracer and the step


def close(a: list[float], b: list[float], tol: float) -> bool:
    return all(abs(x - y) <= tol * max(1.0, abs(x), abs(y)) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- the same numbers as the dynamic engine


def test_traced_step_trains_like_the_dynamic_engine() -> None:
    X = [[0.5, 0.3], [-0.2, 0.8], [0.9, -0.4], [-0.6, -0.1]]
    y = [1.0, -1.0, 1.0, -1.0]

    def loss(outs: list[Value], ys: list[Any]) -> Value:
        return sum_values([(1.0 - t * o).relu() for o, t in zip(outs, ys)]) * (1.0 / len(outs))

    models = [TinyMLP(2, [4, 1], "tanh", 3) for _ in range(3)]
    steps = []
    for m, batched in zip(models[1:], (True, False)):
        ps = m.parameters()

        def update(ps: list[Value] = ps) -> None:
            for p in ps:
                p.data -= 0.1 * p.grad

        steps.append(TracedStep(m, loss, ps, zero_grad=lambda ps=ps: engine.zero_grad(ps),
                                update=update, l2=1e-3, batched=batched))
    ref = models[0].parameters()
    for _ in range(5):
        engine.zero_grad(ref)
        outs = [models[0]([Value(a), Value(b)]) for a, b in X]
        total = loss(outs, y) + 1e-3 * sum_values([p * p for p in ref])
        total.backward()
        for p in ref:
            p.data -= 0.1 * p.grad
        for step in steps:
            got, got_outs = step(X, y)
            assert got == pytest.approx(total.data, rel=1e-12)
            assert close(got_outs, [o.data for o in outs], 1e-12)
    for m in models[1:]:
        assert close([p.data for p in m.parameters()], [p.data for p in ref], 1e-12)


def test_traced_step_with_targets_that_pick() -> None:
    m = TinyMLP(2, [3, 2], "relu", 5)
    out2 = [lambda x, m=m: [sum_values([w * xi for w, xi in zip(ws, x)] + [b]) for ws, b in m.layers[0]]]

    def model(x: list[Value]) -> list[Value]:
        return out2[0](x)[:2]

    def pick(outs: list[list[Value]], ys: list[Any]) -> Value:  # the class index selects
        return sum_values([-o[int(t)] for o, t in zip(outs, ys)]) * (1.0 / len(outs))

    ps = m.parameters()[: 3 * 3]
    step = TracedStep(model, pick, ps, zero_grad=lambda: engine.zero_grad(ps), update=lambda: None,
                      targets="constant")
    X, y = [[0.5, 0.3], [0.1, 0.2], [0.4, -0.3]], [0, 1, 0]
    got, _ = step(X, y)
    engine.zero_grad(ps)
    want = pick([model([Value(a), Value(b)]) for a, b in X], y)
    want.backward()
    assert got == pytest.approx(want.data, rel=1e-12)
    grads = [p.grad for p in ps]
    step(X, y)
    assert close([p.grad for p in ps], grads, 1e-12)
    with pytest.raises(ValueError, match="targets"):
        TracedStep(model, pick, ps, zero_grad=lambda: None, update=lambda: None, targets="x")


def test_traced_step_auto_bakes_targets_that_loss_reads_as_numbers() -> None:
    w = Value(0.5, "w")

    def frozen(outs: list[Value], ys: list[Any]) -> Value:  # float(y): the target leaves the graph
        t = ys[0].data if isinstance(ys[0], Value) else float(ys[0])
        return (outs[0] - t) ** 2

    def arithmetic(outs: list[Value], ys: list[Any]) -> Value:
        return (outs[0] - ys[0]) ** 2

    X, y = [[1.0], [2.0], [3.0]], [1.0, -1.0, 1.0]
    want = sum((0.5 * x[0] - t) ** 2 for x, t in zip(X, y)) / 3
    for loss, mode in ((frozen, "constant"), (arithmetic, "input")):
        step = TracedStep(lambda x: w * x[0], loss, [w], zero_grad=lambda: engine.zero_grad([w]),
                          update=lambda: None)
        got, outs = step(X, y)
        assert step.targets == mode and got == pytest.approx(want, rel=1e-12)
        assert outs == [0.5, 1.0, 1.5]


@pytest.mark.parametrize("batched", [True, False])
def test_auto_targets_decide_with_one_target_per_batch(batched: bool) -> None:
    """Batch size 1 (or a batch that shares one target): regression targets must not trace per step."""
    w = Value(0.5, "w")
    rng = random.Random(0)

    def sq(outs: list[Value], ys: list[Any]) -> Value:
        return sum_values([(o - t) ** 2 for o, t in zip(outs, ys)]) * (1.0 / len(outs))

    step = TracedStep(lambda x: w * x[0], sq, [w], zero_grad=lambda: engine.zero_grad([w]),
                      update=lambda: None, batched=batched)
    for _ in range(30):
        x, t = rng.uniform(-1, 1), rng.uniform(-1, 1)
        got, _ = step([[x]], [t])
        assert got == pytest.approx((0.5 * x - t) ** 2, rel=1e-12)
        assert w.grad == pytest.approx(2 * (0.5 * x - t) * x, rel=1e-12)
    assert step.targets == "input" and len(step._traces) == 1


def test_auto_targets_stay_undecided_while_the_loss_refuses_made_up_targets() -> None:
    w = Value(0.5, "w")

    def pm1(outs: list[Value], ys: list[Any]) -> Value:  # accepts +-1 only, as a hinge loss would
        if any(abs(abs(t if type(t) is not Value else t.data) - 1.0) > 0 for t in ys):
            raise ValueError("labels must be -1 or 1")
        return sum_values([(1.0 - t * o).relu() for o, t in zip(outs, ys)]) * (1.0 / len(outs))

    step = TracedStep(lambda x: w * x[0], pm1, [w], zero_grad=lambda: engine.zero_grad([w]), update=lambda: None)
    for _ in range(3):  # one target per batch: -1 -> 1 works, 1 -> 2 is refused: undecided, baked
        step([[0.3]], [1.0])
    assert step.targets == "auto" and set(step._traces) == {1.0}
    got, _ = step([[0.3], [0.2]], [1.0, -1.0])  # two targets: decided for good
    assert step.targets == "input"
    assert got == pytest.approx(((1 - 0.15) + (1 + 0.1)) / 2, rel=1e-12)



# ---------------------------------------------------------------- the loss registry


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_loss_name_means_the_registrys_scalar_form(name: str) -> None:
    model = nn.MLP(2, [3, 2 if name == "cross_entropy" else 1], output_activation="sigmoid", seed=0)
    twin = nn.MLP(2, [3, 2 if name == "cross_entropy" else 1], output_activation="sigmoid", seed=0)
    X = [[0.5, 0.3], [-0.2, 0.8], [0.9, -0.4]]
    y = {"hinge": [1, -1, 1], "cross_entropy": [0, 1, 0]}.get(name, [1, 0, 1])
    by_name = TracedStep(model, name, model.parameters(), zero_grad=model.zero_grad, update=lambda: None, l2=1e-3)
    by_fn = TracedStep(twin, REGISTRY[name].scalar, twin.parameters(), zero_grad=twin.zero_grad,
                       update=lambda: None, l2=1e-3)
    assert by_name.loss is REGISTRY[name].scalar
    assert by_name(X, y)[0] == by_fn(X, y)[0]
    assert [p.grad for p in model.parameters()] == [p.grad for p in twin.parameters()]
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        TracedStep(model, "l1", model.parameters(), zero_grad=model.zero_grad, update=lambda: None)


def test_the_traced_penalty_is_the_registrys_l2() -> None:
    """The traced step's penalty is L2.scalar (losses.l2) itself: the same value and gradients as the dynamic one."""
    model = TinyMLP(2, [3, 1], "tanh", 0)
    ps = model.parameters()
    step = TracedStep(model, lambda o, t: o[0] * 0.0, ps, zero_grad=lambda: engine.zero_grad(ps),
                      update=lambda: None, l2=0.25)
    got, _ = step([[0.5, 0.3]], [1.0])
    traced_grads = [p.grad for p in ps]
    engine.zero_grad(ps)
    want = L2.scalar(ps, 0.25)
    want.backward()
    assert got == want.data and traced_grads == [p.grad for p in ps]


def test_training_policy_lives_in_nn_not_in_the_engine() -> None:
    assert not hasattr(engine, "TracedStep") and "TracedStep" not in engine.__all__
    assert nn.TracedStep is nn.traced_step.TracedStep and nn.step.TracedStep is nn.TracedStep
