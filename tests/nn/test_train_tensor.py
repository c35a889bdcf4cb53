"""fit, evaluate and accuracy on tensor models: the same loop, History and Ctrl-C as the scalar path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import engine, nn
from tracegrad.engine import Tensor, Value
from tracegrad.nn import layers as tl
from tracegrad.nn.loss_registry import LOSSES, TENSOR_LOSSES

from tests.support import require


def _digits(n_per_class: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = nn.data.digits5x5(flip=0.08, n_per_class=n_per_class, seed=seed)
    return np.array(X), np.array(y)


def _weights(model: nn.Module) -> list[np.ndarray]:
    return [np.array(v, dtype=float) for v in model.state_dict().values()]


def _as_arrays(mlp: nn.MLP) -> list[np.ndarray]:
    """The scalar MLP's weights in the Sequential's layout: [W0, b0, W1, b1, ...]."""
    return [a for layer in mlp.layers
            for a in (np.array([[w.data for w in n.w] for n in layer.neurons]),
                      np.array([n.b.data for n in layer.neurons]))]


# ---------------------------------------------------------------- the two paths agree

CASES = {
    # loss: (mlp builder, labels from digit classes)
    "cross_entropy": (lambda: nn.MLP(25, [6, 10], activation="tanh", init="xavier", seed=0), lambda y: y),
    "hinge": (lambda: nn.MLP(25, [6, 1], activation="relu", seed=1), lambda y: np.where(y < 5, -1, 1)),
    "binary_cross_entropy": (lambda: nn.MLP(25, [6, 1], activation="tanh", output_activation="sigmoid", seed=2),
                             lambda y: (y % 2).astype(float)),
    "mse": (lambda: nn.MLP(25, [6, 1], activation="sigmoid", output_activation="sigmoid", seed=3),
            lambda y: (y >= 5).astype(int)),
}


@pytest.mark.parametrize("loss", sorted(CASES))
def test_fit_on_a_sequential_matches_fit_on_the_same_mlp(loss: str) -> None:
    """MLP and its Sequential twin, same seed and batches: the same History and weights (to rounding)."""
    build, labels = CASES[loss]
    X, y = _digits()
    Xv, yv = _digits(seed=1)
    y, yv = labels(y), labels(yv)
    mlp = build()
    seq = mlp.to_sequential()
    kw: dict[str, Any] = dict(loss=loss, epochs=4, batch_size=7, seed=3, l2=1e-3, progress=False)
    hs = nn.fit(mlp, X, y, optimizer=nn.SGD(mlp, lr=0.3, momentum=0.9), validation=(Xv, yv), **kw)
    ht = nn.fit(seq, X, y, optimizer=nn.SGD(seq, lr=0.3, momentum=0.9), validation=(Xv, yv), **kw)
    assert ht.steps == hs.steps == 4 * 5  # 30 rows in batches of 7
    assert ht.loss == pytest.approx(hs.loss, rel=1e-10, abs=1e-12)
    assert ht.val_loss == pytest.approx(hs.val_loss, rel=1e-10, abs=1e-12)
    assert ht.metrics == hs.metrics and ht.best_epoch == hs.best_epoch and ht.lr == hs.lr
    for a, b in zip(_weights(seq), _as_arrays(mlp)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert nn.accuracy(seq, Xv, yv, loss=loss) == nn.accuracy(mlp, Xv, yv, loss=loss)
    vs, vt = nn.evaluate(mlp, Xv, yv, loss), nn.evaluate(seq, Xv, yv, loss)
    assert vt[0] == pytest.approx(vs[0], rel=1e-10) and vt[1] == vs[1]


def test_one_hot_labels_train_exactly_like_class_indices() -> None:
    X, y = _digits()
    a, b = nn.MLP(25, [5, 10], seed=4).to_sequential(), nn.MLP(25, [5, 10], seed=4).to_sequential()
    kw: dict[str, Any] = dict(loss="cross_entropy", epochs=3, batch_size=8, seed=0, progress=False)
    ha = nn.fit(a, X, y, optimizer=nn.Adam(a, lr=0.01), **kw)
    hb = nn.fit(b, X, np.eye(10)[y], optimizer=nn.Adam(b, lr=0.01), **kw)
    assert ha.loss == hb.loss and ha.metrics == hb.metrics
    for p, q in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(p, q)


# ---------------------------------------------------------------- Ctrl-C, NaN


def test_ctrl_c_restores_the_best_tensor_weights() -> None:
    X, y = _digits(n_per_class=4)
    net = nn.Sequential(nn.Linear(25, 16, seed=0), nn.Tanh(), nn.Linear(16, 10, seed=1))
    states: list[dict[str, np.ndarray]] = []

    class Interrupting(nn.SGD):
        def step(self) -> None:
            super().step()
            if self.steps == 23:  # in the 6th epoch (4 steps an epoch), after a weight update
                raise KeyboardInterrupt

    history = nn.fit(net, X, y, loss="cross_entropy", optimizer=Interrupting(net, lr=2.0), epochs=50, batch_size=10,
                     seed=0, progress=False, callback=lambda h: states.append(net.state_dict()))
    assert history.interrupted and history.epochs == 5 and len(history.metrics["accuracy"]) == 5
    assert history.best_loss == min(history.loss) and history.best_epoch == history.loss.index(history.best_loss)
    best = states[history.best_epoch]
    restored = net.state_dict()
    assert restored.keys() == best.keys()
    for name in best:
        np.testing.assert_array_equal(restored[name], best[name])
    assert all(restored[k] is not best[k] for k in best)  # copies, not the live arrays


def test_ctrl_c_in_the_first_epoch_restores_the_initial_tensor_weights() -> None:
    X, y = _digits()
    net = nn.Sequential(nn.Linear(25, 10, seed=0))
    start = net.state_dict()

    class Interrupting(nn.SGD):
        def step(self) -> None:
            super().step()
            raise KeyboardInterrupt

    history = nn.fit(net, X, y, loss="cross_entropy", optimizer=Interrupting(net, lr=0.5), epochs=5, progress=False)
    assert history.interrupted and history.epochs == 0 and history.best_epoch == -1
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, start[name])


def test_a_nan_loss_raises_and_leaves_the_weights() -> None:
    X, y = _digits()
    net = nn.Sequential(nn.Linear(25, 10, seed=0))
    before = net.state_dict()
    with pytest.raises(FloatingPointError, match="the loss became nan"):
        nn.fit(net, X, y, loss=lambda out, t: engine.cross_entropy(out, t) * math.nan, epochs=2, progress=False)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


# ---------------------------------------------------------------- kinds of model and data


def test_float32_models_and_custom_losses() -> None:
    X, y = _digits()
    net = nn.Sequential(nn.Linear(25, 12, seed=0, dtype="float32"), nn.ReLU(), nn.Linear(12, 10, seed=1,
                                                                                         dtype="float32"))
    history = nn.fit(net, X, y, loss=lambda out, t: engine.cross_entropy(out, t, reduction="sum") / len(t),
                     optimizer=nn.Adam(net, lr=0.05), epochs=40, progress=False)
    assert all(p.data.dtype == np.float32 for p in net.parameters())
    assert history.loss[-1] < 0.2 * history.loss[0] and history.metrics["accuracy"][-1] == 1.0
    assert nn.accuracy(net, X.tolist(), y.tolist()) == 1.0  # lists work too


def test_regression_without_metrics_and_evaluate_without_a_loss() -> None:
    X = np.linspace(-1, 1, 20)[:, None]
    Y = np.hstack([3 * X - 1, -X])  # two outputs
    net = nn.Sequential(nn.Linear(1, 2, seed=0))
    history = nn.fit(net, X, Y, loss="mse", optimizer=nn.SGD(net, lr=0.5), epochs=100, metrics=(), progress=False)
    assert history.metrics == {} and history.loss[-1] < 1e-10
    np.testing.assert_allclose(net[0].weight.data, [[3.0], [-1.0]], atol=1e-5)
    loss, acc = nn.evaluate(net, X, Y, "mse")
    assert loss == pytest.approx(history.loss[-1], abs=1e-10)
    assert acc == 1.0  # labels that are not classes: the argmax of outputs vs targets (they agree here)
    assert math.isnan(nn.evaluate(net, X, Y)[0])
    with pytest.raises(ValueError, match="accuracy needs class labels"):
        nn.fit(nn.Sequential(nn.Linear(1, 1, seed=0)), X, Y[:, 0], loss="mse", epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"mse: targets of shape \(20,\) do not match outputs of shape \(20, 2\)"):
        nn.fit(net, X, Y[:, 0], loss="mse", epochs=1, metrics=(), progress=False)


def test_bad_data_for_a_tensor_model() -> None:
    net = nn.Sequential(nn.Linear(2, 3, seed=0))
    X, y = np.zeros((4, 2)), np.array([0, 1, 2, 1])
    with pytest.raises(ValueError, match="X has rows of 3 values; the model expects 2 inputs per row"):
        nn.fit(net, np.zeros((4, 3)), y, progress=False)
    with pytest.raises(ValueError, match="empty data"):
        nn.fit(net, np.zeros((0, 2)), [], progress=False)
    with pytest.raises(ValueError, match="X has 4 rows but y has 3 labels"):
        nn.fit(net, X, y[:3], progress=False)
    with pytest.raises(TypeError, match="Tensor data must be"):
        nn.fit(net, [["a", "b"]], [0], progress=False)
    with pytest.raises(ValueError, match=r"X\[1, 0\] is nan; inputs must be finite"):
        nn.fit(net, [[0, 0], [math.nan, 1]], [0, 1], progress=False)
    with pytest.raises(TypeError, match="numeric labels"):
        nn.fit(net, X, ["a", "b", "c", "d"], progress=False)
    with pytest.raises(ValueError, match="label 3 at row 1 is outside the classes 0..2"):
        nn.fit(net, X, [0, 3, 1, 2], loss="cross_entropy", progress=False)
    with pytest.raises(ValueError, match="label 1.5 at row 2 is not a class index"):
        nn.fit(net, X, [0, 1, 1.5, 2], loss="cross_entropy", progress=False)
    with pytest.raises(ValueError, match="label at row 0 is not one-hot"):
        nn.fit(net, X, np.full((4, 3), 1 / 3), loss="cross_entropy", progress=False)
    with pytest.raises(ValueError, match="one-hot labels have 2 entries; the model has 3 outputs"):
        nn.fit(net, X, np.eye(2)[[0, 1, 0, 1]], loss="cross_entropy", progress=False)
    one = nn.Sequential(nn.Linear(2, 1, seed=0))
    with pytest.raises(ValueError, match=r"hinge loss needs labels -1 or \+1, got 0 at row 0"):
        nn.fit(one, X, [0, 1, 1, 0], loss="hinge", progress=False)
    with pytest.raises(ValueError, match="binary_cross_entropy needs labels in \\[0, 1\\], got 2"):
        nn.fit(one, X, [0, 1, 2, 0], loss="binary_cross_entropy", progress=False)
    with pytest.raises(ValueError, match="not a probability"):  # a linear output is no probability
        nn.fit(nn.Sequential(nn.Linear(2, 1, seed=0)), np.eye(2) * 9, [0, 1], loss="binary_cross_entropy",
               progress=False)
    with pytest.raises(TypeError, match="one-element Tensor, got a Tensor of shape \\(4, 3\\)"):
        nn.fit(net, X, y, loss=lambda out, t: out, progress=False)
    with pytest.raises(TypeError, match="one-element Tensor, got float"):
        nn.fit(net, X, y, loss=lambda out, t: 1.0, progress=False)
    with pytest.raises(ValueError, match="unknown loss 'l1'; choose one of mse"):
        nn.evaluate(net, X, y, "l1")
    with pytest.raises(ValueError, match="label 5 at row 0 is outside"):
        nn.fit(net, X, y, loss="cross_entropy", validation=(X, [5, 0, 0, 0]), progress=False)


def test_a_model_mixing_values_and_tensors_is_refused() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            self.w = Value(1.0)
            self.t = Tensor([1.0], requires_grad=True)

    with pytest.raises(TypeError, match="mixes Tensor and scalar Value parameters"):
        nn.fit(Mixed(), [[1.0]], [0], progress=False)


def test_embedding_models_take_integer_ids() -> None:
    ids = np.array([[0, 1], [2, 3], [1, 1], [3, 0]])
    net = nn.Sequential(nn.Embedding(4, 2, seed=0), nn.Flatten(), nn.Linear(4, 2, seed=1))
    history = nn.fit(net, ids.astype(float), [0, 1, 0, 1], loss="cross_entropy", optimizer=nn.Adam(net, lr=0.1),
                     epochs=30, progress=False)
    assert history.metrics["accuracy"][-1] == 1.0
    with pytest.raises(TypeError, match="integer ids"):
        nn.fit(net, ids + 0.5, [0, 1, 0, 1], progress=False)


# ---------------------------------------------------------------- save / load


def test_sequential_save_load_is_a_classmethod_like_mlp_load(tmp_path: Path) -> None:
    X, y = _digits()
    net = nn.Sequential(nn.Linear(25, 8, seed=0), nn.Sigmoid(), nn.Linear(8, 10, seed=1))
    nn.fit(net, X, y, loss="cross_entropy", optimizer=nn.Adam(net, lr=0.05), epochs=3, progress=False)
    path = net.save(tmp_path / "net.json")
    back = nn.Sequential.load(path)
    assert isinstance(back, nn.Sequential) and repr(back) == repr(net)
    np.testing.assert_array_equal(back(X).data, net(X).data)
    assert isinstance(nn.Module.load(path), nn.Sequential)
    mlp_path = nn.MLP(2, [1], seed=0).save(tmp_path / "mlp.json")
    with pytest.raises(ValueError, match="holds a Sequential, not a MLP"):
        nn.MLP.load(path)
    with pytest.raises(ValueError, match="holds a MLP, not a Sequential"):
        nn.Sequential.load(mlp_path)
    other = nn.Sequential(nn.Linear(25, 8, seed=5), nn.Sigmoid(), nn.Linear(8, 10, seed=6))
    other.load_weights(path)
    np.testing.assert_array_equal(other(X).data, net(X).data)
    path.write_text(path.read_text()[:-40])
    before = _weights(other)
    with pytest.raises(ValueError, match="truncated"):
        other.load_weights(path)
    for a, b in zip(_weights(other), before):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- tensor losses vs references


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.sampled_from(["mse", "hinge", "binary_cross_entropy"]),
       st.integers(0, 2**31))
def test_tensor_losses_match_the_scalar_losses_and_torch(n: int, k: int, loss: str, seed: int) -> None:
    torch = require("torch")
    rng = np.random.default_rng(seed)
    out = rng.uniform(0.01, 0.99, size=(n, k)) if loss == "binary_cross_entropy" else rng.normal(size=(n, k))
    target = {"mse": rng.normal(size=(n, k)), "hinge": rng.choice([-1.0, 1.0], size=(n, k)),
              "binary_cross_entropy": rng.uniform(0, 1, size=(n, k))}[loss]
    t_out = Tensor(out, requires_grad=True)
    value = TENSOR_LOSSES[loss](t_out, target)
    value.backward()
    # the scalar path's loss on the same numbers
    v_out = [[Value(float(x)) for x in row] for row in out]
    scalar = LOSSES[loss](v_out, target.tolist())
    scalar.backward()
    assert value.item() == pytest.approx(scalar.data, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(t_out.grad, [[v.grad for v in row] for row in v_out], rtol=1e-12, atol=1e-15)
    # torch float64
    o = torch.tensor(out, requires_grad=True)
    tt = torch.tensor(target)
    ref = {"mse": lambda: torch.nn.functional.mse_loss(o, tt),
           "hinge": lambda: torch.relu(1 - tt * o).mean(),
           "binary_cross_entropy": lambda: torch.nn.functional.binary_cross_entropy(o, tt)}[loss]()
    ref.backward()
    assert value.item() == pytest.approx(ref.item(), rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(t_out.grad, o.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_tensor_losses_pass_gradcheck() -> None:
    rng = np.random.default_rng(0)
    out = rng.uniform(0.1, 0.9, size=(4, 2))
    for name, target in (("mse", rng.normal(size=(4, 2))), ("hinge", np.where(out > 0.5, -1.0, 1.0)),
                         ("binary_cross_entropy", rng.uniform(0, 1, size=(4, 2)))):
        report = engine.gradcheck(lambda o, f=TENSOR_LOSSES[name], t=target: f(o, t), [out])
        assert all(r.ok for r in report), name


# ---------------------------------------------------------------- the package's names


def test_nn_exports_the_tensor_path() -> None:
    assert nn.Linear is tl.Linear and nn.Sequential is tl.Sequential and nn.Embedding is tl.Embedding
    assert all(getattr(tl, c.__name__) is c for c in (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.Flatten))
    assert nn.data.digits is nn.mnist.digits and nn.data.mnist is nn.mnist.mnist
    assert nn.data.read_idx is nn.mnist.read_idx and nn.data.split is nn.mnist.split
    assert nn.convert.to_torch is not None and nn.layers is tl
    assert nn.is_tensor_model(nn.Sequential(nn.ReLU())) and not nn.is_tensor_model(nn.MLP(1, [1], seed=0))
    assert not hasattr(tl, "train_epochs") and not hasattr(tl, "make_tensor_step")  # one training loop: nn.fit
