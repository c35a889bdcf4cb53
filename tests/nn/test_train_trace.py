"""fit(trace=True): the traced, replayed step trains exactly like the dynamic engine."""

from __future__ import annotations

import math
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracegrad import nn
from tracegrad.nn import TracedStep
from tracegrad.nn.loss_registry import LOSSES
from tracegrad.nn.step import make_step

from tests.support import require

TOL = 1e-12


def weights(model: nn.Module) -> np.ndarray:
    return np.array([p.data for p in model.parameters()])


def assert_same(h0: nn.History, h1: nn.History, m0: nn.Module, m1: nn.Module) -> None:
    """Same History (loss, metrics, val_loss per epoch) and weights, to 1e-12."""
    assert h1.epochs == h0.epochs and h1.steps == h0.steps
    assert np.allclose(h1.loss, h0.loss, rtol=TOL, atol=TOL)
    assert h1.metrics.keys() == h0.metrics.keys()
    for name in h0.metrics:
        assert np.allclose(h1.metrics[name], h0.metrics[name], rtol=0, atol=TOL), name
    assert np.allclose(h1.val_loss, h0.val_loss, rtol=TOL, atol=TOL)
    assert h1.best_epoch == h0.best_epoch
    assert np.allclose(weights(m1), weights(m0), rtol=TOL, atol=TOL)


def both(make: Any, X: Any, y: Any, **kw: Any) -> tuple[nn.History, nn.History, nn.Module, nn.Module]:
    """Train two identical models on the same data, dynamic and traced."""
    runs = []
    for trace in (False, True):
        model, opt = make()
        runs.append((nn.fit(model, X, y, optimizer=opt, progress=False, trace=trace, **kw), model))
    (h0, m0), (h1, m1) = runs
    return h0, h1, m0, m1


def moons() -> tuple[list[list[float]], list[int]]:
    require("sklearn")
    X, y = nn.data.moons(100, noise=0.1, seed=1337)
    return X, [2 * t - 1 for t in y]


def moons_net() -> tuple[nn.MLP, nn.SGD]:
    model = nn.MLP(2, [16, 16, 1], seed=1337)
    return model, nn.SGD(model, lr=lambda k: 1.0 - 0.9 * k / 100)  # micrograd's demo


# ---------------------------------------------------------------- same numbers


def test_moons_hinge_l2_traced_equals_dynamic() -> None:
    X, y = moons()
    h0, h1, m0, m1 = both(moons_net, X, y, loss="hinge", l2=1e-4, epochs=4)
    assert_same(h0, h1, m0, m1)
    assert h1.loss[-1] < h1.loss[0]


def test_moons_minibatches_with_validation_traced_equals_dynamic() -> None:
    X, y = moons()
    h0, h1, m0, m1 = both(moons_net, X[:80], y[:80], loss="hinge", l2=1e-4, epochs=2, batch_size=32, seed=0,
                          validation=(X[80:], y[80:]))
    assert_same(h0, h1, m0, m1)  # the last batch (16 rows) is its own batch size: still one per-sample trace
    assert len(h1.val_loss) == 2


@pytest.mark.parametrize("onehot", [False, True])
def test_multiclass_cross_entropy_traced_equals_dynamic_with_one_trace(onehot: bool, monkeypatch) -> None:
    X, y = nn.data.digits5x5(flip=0.08, n_per_class=4, seed=0)
    if onehot:
        y = [[1.0 if k == t else 0.0 for k in range(10)] for t in y]
    steps: list[TracedStep] = []

    def recording(*args: Any, **kw: Any) -> TracedStep:
        steps.append(TracedStep(*args, **kw))
        return steps[-1]

    monkeypatch.setattr(nn.step, "TracedStep", recording)

    def make() -> tuple[nn.MLP, nn.Adam]:
        model = nn.MLP(25, [6, 10], activation="tanh", init="xavier", seed=1)
        return model, nn.Adam(model, lr=0.05)

    h0, h1, m0, m1 = both(make, X, y, loss="cross_entropy", epochs=3, batch_size=16, seed=2, l2=1e-3)
    assert_same(h0, h1, m0, m1)
    assert h1.metrics["accuracy"][-1] > h1.metrics["accuracy"][0]
    (step,) = steps
    assert step.targets == "input" and len(step._traces) == 1  # one program serves all ten classes
    (g,) = step._traces.values()
    assert sum(ins.op == "max_shift" for ins in g.ops) == 1


def test_class_index_batches_with_one_class_each_still_share_one_trace() -> None:
    X, y = nn.data.digits5x5(flip=0.0, n_per_class=1, seed=0)
    model = nn.MLP(25, [4, 10], seed=0)
    twin = nn.MLP(25, [4, 10], seed=0)
    step = make_step(model, LOSSES["cross_entropy"], nn.SGD(model, lr=0.1), trace=True)
    dynamic = make_step(twin, LOSSES["cross_entropy"], nn.SGD(twin, lr=0.1))
    for i in range(len(X)):  # batch size 1: made-up targets (-c, c + 1) are refused until a batch decides
        got, _ = step([X[i]], [y[i]])
        want, _ = dynamic([X[i]], [y[i]])
        assert got == pytest.approx(want, rel=TOL, abs=TOL)
    got, _ = step(X[:4], y[:4])  # two distinct classes decide: the targets enter as numbers
    want, _ = dynamic(X[:4], y[:4])
    assert got == pytest.approx(want, rel=TOL, abs=TOL)
    assert step.targets == "input"
    step(X, y)
    dynamic(X, y)
    assert np.allclose(weights(model), weights(twin), rtol=TOL, atol=TOL)
    assert len([k for k in step._traces if k == "sample"]) == 1


def test_binary_cross_entropy_and_mse_traced_equal_dynamic() -> None:
    X, y = nn.data.weather()

    def make() -> tuple[nn.MLP, nn.Adam]:
        model = nn.MLP(2, [3, 1], output_activation="sigmoid", seed=2)
        return model, nn.Adam(model, lr=0.05)

    assert_same(*both(make, X, y, loss="binary_cross_entropy", epochs=6, batch_size=3, seed=0))
    X, y = nn.data.xor()
    assert_same(*both(make, X, y, loss="mse", epochs=20))


def test_custom_loss_is_traced_as_a_whole_batch() -> None:
    X, y = nn.data.xor()

    def loss(outs: list[Any], ts: list[Any]) -> Any:  # not a mean over samples: the batch's program is traced
        return nn.losses.mse(outs, ts) * 3.0 + (outs[0] - outs[1]) ** 2

    def make() -> tuple[nn.MLP, nn.SGD]:
        model = nn.MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=4)
        return model, nn.SGD(model, lr=0.5)

    assert_same(*both(make, X, y, loss=loss, epochs=10, l2=1e-3))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu"]),
    hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    loss=st.sampled_from(["hinge", "mse"]),
    batch_size=st.sampled_from([None, 3, 5]),
    seed=st.integers(0, 2**16),
)
def test_random_mlps_traced_equal_dynamic(activation: str, hidden: list[int], loss: str,
                                          batch_size: int | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(12, 3)).tolist()
    y = [1 if sum(r) > 0 else -1 for r in X]

    def make() -> tuple[nn.MLP, nn.SGD]:
        model = nn.MLP(3, [*hidden, 1], activation=activation, seed=seed)
        return model, nn.SGD(model, lr=0.05)

    h0, h1, m0, m1 = both(make, X, y, loss=loss, epochs=3, batch_size=batch_size, seed=seed, l2=1e-3)
    if any(abs(m0(x).data) < 1e-9 for x in X):
        # a dead ReLU net can leave an output at its bias, ~1e-18 from the decision threshold 0: its sign,
        # and so the accuracy, is decided by rounding (the traced replay's matrix products round as BLAS does)
        h0.metrics, h1.metrics = {}, {}
    assert_same(h0, h1, m0, m1)


# ---------------------------------------------------------------- one trace for every target


@pytest.mark.parametrize("loss, labels", [("hinge", [1, -1]), ("mse", [0, 1]), ("binary_cross_entropy", [0, 1]),
                                          ("cross_entropy", [[1.0, 0.0], [0.0, 1.0]])])
def test_targets_enter_one_trace(loss: str, labels: list[Any]) -> None:
    model = nn.MLP(2, [3, 2 if loss == "cross_entropy" else 1], output_activation="sigmoid", seed=0)
    step = make_step(model, LOSSES[loss], nn.SGD(model, lr=0.1), trace=True)
    X = [[0.5, 0.3], [-0.2, 0.8], [0.9, -0.4], [-0.6, -0.1]]
    step(X, [labels[i % 2] for i in range(4)])
    assert step.targets == "input"  # softmax's shift is a stabiliser node, recomputed for every sample
    assert len(step._traces) == 1


# ---------------------------------------------------------------- errors, Ctrl-C, memory


def test_nan_loss_raises_before_any_update_in_trace_mode() -> None:
    X, y = nn.data.xor()
    for loss in ("mse", lambda o, t: nn.losses.mse(o, t) * math.nan):
        model = nn.MLP(2, [2, 1], seed=0)
        before = model.state_dict()
        if callable(loss):
            with pytest.raises(FloatingPointError, match="the loss became nan"):
                nn.fit(model, X, y, loss=loss, epochs=2, progress=False, trace=True)
        else:
            model.layers[0].neurons[0].w[0].data = math.inf
            before = model.state_dict()
            with pytest.raises(FloatingPointError, match="the loss became nan on row 0 .*weights were not updated"):
                nn.fit(model, X, y, loss=loss, epochs=2, progress=False, trace=True)
        assert model.state_dict() == before


def test_trace_argument_errors() -> None:
    X, y = nn.data.xor()
    tensor_model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with pytest.raises(ValueError, match="trace=True is for scalar models.*Sequential is a tensor model"):
        nn.fit(tensor_model, np.array(X, dtype=float), np.array(y, dtype=float), epochs=1, progress=False,
               trace=True)
    with pytest.raises(TypeError, match="trace must be True or False, got str"):
        nn.fit(nn.MLP(2, [2, 1], seed=0), X, y, epochs=1, progress=False, trace="yes")


def test_ctrl_c_restores_the_best_weights_in_trace_mode() -> None:
    X, y = nn.data.xor()
    results = []
    for trace in (False, True):
        model = nn.MLP(2, [4, 1], activation="tanh", output_activation="sigmoid", seed=3)
        states: list[dict] = []

        def stop(h: nn.History, states: list[dict] = states, model: nn.MLP = model) -> None:
            states.append(model.state_dict())
            if h.epochs == 7:
                raise KeyboardInterrupt

        history = nn.fit(model, X, y, loss="mse", optimizer=nn.SGD(model, lr=2.0), epochs=50, progress=False,
                         callback=stop, trace=trace)
        assert history.interrupted and history.epochs == 7
        assert model.state_dict() == states[history.best_epoch]
        results.append((history, model))
    (h0, m0), (h1, m1) = results
    assert_same(h0, h1, m0, m1)


def memory_growth(step: Any, X: Any, y: Any, warmup: int, steps: int, batches: list[Any] | None = None) -> int:
    """Bytes still allocated after ``steps`` more training steps (after ``warmup`` and 50 settling steps).

    Every step trains on ``(X, y)``, or with ``batches`` on step k's batch ``batches[k % len(batches)]``.
    """
    def run(k: int) -> None:
        step(*batches[k % len(batches)]) if batches else step(X, y)

    for k in range(warmup):
        run(k)
    tracemalloc.start()
    try:
        for k in range(warmup, warmup + 50):
            run(k)
        middle = tracemalloc.get_traced_memory()[0]
        for k in range(warmup + 50, warmup + 50 + steps):
            run(k)
        return tracemalloc.get_traced_memory()[0] - middle
    finally:
        tracemalloc.stop()


def test_traced_training_memory_stays_flat() -> None:
    X, y = moons()
    model = nn.MLP(2, [8, 8, 1], seed=0)
    step = make_step(model, LOSSES["hinge"], nn.SGD(model, lr=0.01), l2=1e-4, trace=True)
    growth = memory_growth(step, X, y, warmup=30, steps=250)  # warm-up: the trace, caches, free lists
    # no graph kept alive: one leaked step graph is ~1 MB; the bound only allows interpreter noise
    assert growth < 65_536, growth


@pytest.mark.parametrize("mode", ["dynamic", "traced whole batch"])
def test_memory_stays_flat_in_the_other_modes(mode: str) -> None:
    # dynamic: a fresh graph per step, freed when the step returns; traced with a custom loss (not a
    # mean over samples): the whole batch's program is replayed.  Neither may grow with the steps.
    X, y = nn.data.xor()
    model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
    if mode == "dynamic":
        step = make_step(model, LOSSES["mse"], nn.SGD(model, lr=0.01), l2=1e-4)
    else:
        step = make_step(model, lambda o, t: nn.losses.mse(o, t) * 2.0, nn.SGD(model, lr=0.01), l2=1e-4,
                         trace=True, batched=False)
    # warm-up; the replay first fills CPython's tuple free lists (up to 2,000 per size: bounded, not a leak)
    growth = memory_growth(step, X, y, warmup=30 if mode == "dynamic" else 2_500, steps=2_000)
    assert growth < 65_536, growth  # < 33 B a step: noise; a leaked XOR graph is ~10 KB a step


def shuffled_batches(X: np.ndarray, y: np.ndarray, size: int, epochs: int, seed: int) -> list[tuple[Any, Any]]:
    """Mini-batches of ``size`` rows, reshuffled every epoch (almost every batch a new set of targets)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        out += [(X[order[i:i + size]], y[order[i:i + size]]) for i in range(0, len(X), size)]
    return out


def float_targets_loss(outs: list[Any], ts: list[Any]) -> Any:
    """A custom loss that reads its targets as numbers (``float(y)``): each batch's targets are baked into its trace."""
    return nn.losses.mse(outs, [float(t) for t in ts]) * 0.5


@pytest.mark.parametrize("mode", ["dynamic", "traced named loss", "traced float(y) loss", "tensor"])
def test_memory_stays_flat_over_2000_shuffled_steps_in_every_mode(mode: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = X.sum(axis=1) * 0.5  # 40 distinct regression targets
    batches = shuffled_batches(X, y, size=4, epochs=500, seed=1)  # 5,000 batches, made before measuring
    if mode == "tensor":
        net = nn.Sequential(nn.Linear(2, 3, seed=0), nn.Tanh(), nn.Linear(3, 1, seed=1))
        step = make_step(net, nn.loss_registry.TENSOR_LOSSES["mse"], nn.SGD(net, lr=0.01), l2=1e-4)
    else:
        model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
        batches = [(xb.tolist(), yb.tolist()) for xb, yb in batches]
        loss = float_targets_loss if mode == "traced float(y) loss" else LOSSES["mse"]
        step = make_step(model, loss, nn.SGD(model, lr=0.01), l2=1e-4, trace=mode != "dynamic",
                         batched=mode == "traced named loss")
    # warm-up: the traces (a bounded cache of baked ones) and CPython's free lists
    growth = memory_growth(step, None, None, warmup=2_500, steps=2_000, batches=batches)
    assert growth < 65_536, growth  # a baked trace per step used to add ~20 KB a step here (+1.77 MiB on moons)


def test_traced_float_targets_keep_a_bounded_cache_and_train_as_the_dynamic_step() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X.sum(axis=1)
    batches = [(xb.tolist(), yb.tolist()) for xb, yb in shuffled_batches(X, y, size=3, epochs=10, seed=2)]
    results = []
    for trace in (False, True):
        model = nn.MLP(2, [3, 1], activation="tanh", seed=0)
        step = make_step(model, float_targets_loss, nn.SGD(model, lr=0.05), trace=trace, batched=False)
        losses = [step(xb, yb)[0] for xb, yb in batches]
        results.append((losses, weights(model)))
        if trace:
            assert len(step._traces) <= step.max_traces  # 40 distinct batches, at most 16 traces kept
    (l0, w0), (l1, w1) = results
    np.testing.assert_allclose(l1, l0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w1, w0, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("batch_size", [None, 2])
def test_traced_bce_checks_every_rows_prediction_as_the_dynamic_step_does(batch_size: int | None) -> None:
    # a linear output is no probability: rows 0..2 give 0.5..0.9, row 3 gives 2.5; the trace's example is another row
    X, y = [[0.0], [0.1], [0.2], [1.0]], [0, 1, 0, 1]
    errors = []
    for trace in (False, True):
        model = nn.MLP(1, [1], seed=0)
        model.load_state_dict({"layers.0.neurons.0.w.0": 2.0, "layers.0.neurons.0.b": 0.5})
        before = weights(model)
        with pytest.raises(ValueError, match=r"binary_cross_entropy: prediction \d is [\d.]+; predictions must lie "
                                             r"in \[0, 1\] \(not a probability") as info:
            nn.fit(model, X, y, loss="binary_cross_entropy", epochs=1, batch_size=batch_size, trace=trace,
                   progress=False, seed=0)
        if batch_size is None:
            np.testing.assert_array_equal(weights(model), before)  # no step was taken
        errors.append((str(info.value), weights(model).tolist()))
    assert errors[0] == errors[1]  # the same error, after the same steps on the good batches
