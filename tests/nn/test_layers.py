"""nn.layers: Linear, Sequential, activations, Embedding as nn.Modules on engine.Tensor."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tracegrad import engine, nn
from tracegrad.engine import Tensor, Value
from tracegrad.nn.layers import (
    Embedding,
    Flatten,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    mse,
)
from tracegrad.nn.module import Module
from tracegrad.nn.optim import SGD, Adam
from tracegrad.nn.train import fit, make_step


def _net(seed: int = 0) -> Sequential:
    return Sequential(Linear(4, 8, init="he", seed=seed), ReLU(), Linear(8, 3, seed=seed + 1))


def test_linear_is_x_wt_plus_b_with_the_torch_layout() -> None:
    lin = Linear(3, 2, seed=0)
    assert lin.weight.shape == (2, 3) and lin.bias is not None and lin.bias.shape == (2,)
    assert lin.weight.requires_grad and lin.bias.requires_grad
    np.testing.assert_array_equal(lin.bias.data, 0.0)
    x = np.random.default_rng(0).normal(size=(5, 3))
    lin.bias.data[:] = [1.0, -1.0]
    np.testing.assert_allclose(lin(x).data, x @ lin.weight.data.T + lin.bias.data)
    assert lin(x).op == "linear"
    assert Linear(3, 2, bias=False).bias is None
    assert Linear(3, 2, dtype="float32").weight.dtype == np.float32


def test_init_schemes_and_reproducibility() -> None:
    a, b = Linear(50, 40, seed=3), Linear(50, 40, seed=3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert np.abs(a.weight.data).max() <= np.sqrt(6 / 90)  # xavier bound
    assert np.abs(Linear(50, 40, init="uniform", seed=1).weight.data).max() <= 1.0
    he = Linear(400, 300, init="he", seed=1).weight.data
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.005
    random.seed(7)
    c = Linear(5, 5)
    random.seed(7)
    np.testing.assert_array_equal(c.weight.data, Linear(5, 5).weight.data)
    d = Linear(5, 5, rng=np.random.default_rng(1))
    assert d.weight.shape == (5, 5)


def test_constructor_errors_are_specific() -> None:
    with pytest.raises(TypeError, match="nin must be an int"):
        Linear(2.0, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nout must be at least 1"):
        Linear(2, 0)
    with pytest.raises(ValueError, match="unknown init"):
        Linear(2, 2, init="zeros")
    with pytest.raises(ValueError, match="dtype"):
        Linear(2, 2, dtype="int32")
    with pytest.raises(ValueError, match="seed= or rng="):
        Linear(2, 2, seed=1, rng=random.Random(1))
    with pytest.raises(TypeError, match="not an nn.Module"):
        Sequential(Linear(2, 2), lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one layer"):
        Sequential()
    with pytest.raises(ValueError, match=r"linear: input shape \(5, 3\) does not match weight shape \(2, 4\)"):
        Linear(4, 2)(np.ones((5, 3)))


def test_sequential_is_a_module_with_stable_names_and_scopes() -> None:
    net = _net()
    assert isinstance(net, Module)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert net.num_parameters() == 4 * 8 + 8 + 8 * 3 + 3
    assert net.nin == 4 and net.nout == 3 and len(net) == 3 and isinstance(net[1], ReLU)
    out = net(np.ones((2, 4)))
    assert out.shape == (2, 3)
    assert out.scope == "layers.2" and out.parents[0].scope == "layers.1"
    assert "Linear(4 -> 8" in repr(net)


def test_activations_match_the_tensor_ops() -> None:
    x = Tensor(np.linspace(-3, 3, 7))
    np.testing.assert_array_equal(ReLU()(x).data, np.maximum(x.data, 0))
    np.testing.assert_allclose(Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)))
    np.testing.assert_allclose(Tanh()(x).data, np.tanh(x.data))
    np.testing.assert_allclose(LeakyReLU(0.2)(x).data, np.where(x.data > 0, x.data, 0.2 * x.data))
    assert Flatten()(Tensor(np.ones((2, 3, 4)))).shape == (2, 12)


def test_optimizers_train_tensor_parameters_and_zero_grad_forgets() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    net = _net()
    opt = Adam(net.parameters(), lr=0.05)
    step = make_step(net, engine.cross_entropy, opt)
    first, _ = step(X, y)
    for _ in range(100):
        last, out = step(X, y)
    assert last < 0.3 * first
    assert (out.argmax(axis=1) == y).mean() > 0.9
    assert isinstance(net.layers[0].weight.grad, np.ndarray)
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())  # forgotten, as PyTorch; backward writes fresh ones


def test_backward_accumulates_into_zeroed_grads_like_a_fresh_one() -> None:
    net = _net()
    X, y = np.random.default_rng(1).normal(size=(8, 4)), np.arange(8) % 3
    engine.cross_entropy(net(X), y).backward()
    fresh = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    engine.cross_entropy(net(X), y).backward()
    for p, g in zip(net.parameters(), fresh):
        np.testing.assert_array_equal(p.grad, g)


def test_step_refuses_a_non_finite_loss_before_updating() -> None:
    net = _net()
    before = net.state_dict()
    step = make_step(net, lambda out, t: out.sum() * np.inf, SGD(net.parameters(), lr=0.1))
    with pytest.raises(FloatingPointError, match="loss became"):
        step(np.ones((2, 4)), [0, 1])
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        fit(net, np.ones((2, 4)), [0, 1], loss="l1", progress=False)


def test_mse_regression_fits_a_line() -> None:
    X = np.linspace(-1, 1, 32)[:, None]
    y = 3 * X[:, 0] - 0.5
    lin = Sequential(Linear(1, 1, seed=0))
    history = fit(lin, X, y, loss="mse", optimizer=SGD(lin.parameters(), lr=0.1), epochs=200, batch_size=32,
                  metrics=(), progress=False)
    assert history.loss[-1] < 1e-6
    np.testing.assert_allclose(lin.layers[0].weight.data, [[3.0]], atol=1e-3)
    with pytest.raises(ValueError, match="mse: targets"):
        mse(Tensor(np.ones((3, 1))), np.ones(4))


def test_save_and_load_roundtrip(tmp_path: Path) -> None:
    net = Sequential(Linear(4, 5, seed=0), Tanh(), Linear(5, 2, seed=1, bias=False), LeakyReLU(0.3))
    path = net.save(tmp_path / "net.json")
    back = Sequential.load(path)
    assert isinstance(back, Sequential) and isinstance(back.layers[3], LeakyReLU) and back.layers[3].slope == 0.3
    assert back.layers[2].bias is None
    X = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_array_equal(back(X).data, net(X).data)
    emb = Sequential(Embedding(10, 3, seed=0), Flatten(), Linear(6, 2, seed=0, dtype="float32"))
    back = Module.load(emb.save(tmp_path / "emb.json"))
    assert back.layers[2].weight.dtype == np.float32
    np.testing.assert_array_equal(back(np.array([[1, 2]])).data, emb(np.array([[1, 2]])).data)


def test_embedding_looks_up_rows_and_scatters_gradients() -> None:
    emb = Embedding(6, 3, seed=0)
    ids = np.array([[1, 4], [1, 1]])
    out = emb(ids)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.data[0, 1], emb.weight.data[4])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad[:, 0], [0, 3, 0, 0, 1, 0])  # word 1 used three times
    with pytest.raises(IndexError, match=r"id 6 is out of range \[0, 6\)"):
        emb([0, 6])
    with pytest.raises(TypeError, match="integer ids"):
        emb(np.array([0.5]))


def test_window_classifier_learns_the_centre_word() -> None:
    """Seed 002: classify the centre word of a 5-word window from concatenated word vectors."""
    rng = np.random.default_rng(0)
    vocab, window = 20, 5
    places = {3, 7, 11}  # "Paris"-like words: the label is whether the centre word is a place
    ids = rng.integers(0, vocab, size=(400, window))
    labels = np.array([int(row[2] in places) for row in ids])
    net = Sequential(Embedding(vocab, 4, seed=0), Flatten(), Linear(window * 4, 8, seed=1), Tanh(),
                     Linear(8, 2, seed=2))
    history = fit(net, ids, labels, loss="cross_entropy", optimizer=Adam(net.parameters(), lr=0.05), epochs=30,
                  batch_size=50, seed=0, progress=False)
    assert (net.predict(ids) == labels).mean() > 0.97
    assert history.metrics["accuracy"][-1] > 0.97 and history.steps == 30 * 8


def test_layer_argument_errors_are_specific() -> None:
    with pytest.raises(ValueError, match="slope must be finite, got nan"):
        nn.LeakyReLU(float("nan"))
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32', got \\[1\\]"):
        nn.Linear(2, 3, dtype=[1])
    seq = nn.Sequential(nn.Linear(2, 3, seed=0), nn.ReLU(), nn.Linear(3, 2, seed=1))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        seq.predict(np.zeros((4, 2)), batch_size=0)
    assert seq.predict(np.zeros((5, 2)), batch_size=2).shape == (5,)


# ---------------------------------------------------------------- scopes: through engine.scope, never engine state


class _Probe(Module):
    """A layer that makes Value nodes (as a custom layer may), recording them."""

    made: list[Value] = []

    def __call__(self, x: Any) -> Any:
        self.made.append(Value(1.0) * Value(2.0))
        return x

    def config(self) -> dict[str, Any]:
        return {}


class _QuietProbe(_Probe):
    """A layer that switches grad mode inside (the engine refreshes its fast-path flag on the way out)."""

    def __call__(self, x: Any) -> Any:
        with engine.no_grad():
            pass
        return super().__call__(x)


def test_sequential_records_each_layers_scope_on_every_node() -> None:
    """Sequential enters engine.scope per layer: a node made inside layer i carries scope layers.i (Values read
    the engine's fast-path flag, which only engine.scope keeps in step), and nothing leaks out of the call."""
    made = _Probe.made
    made.clear()
    net = Sequential(_Probe(), ReLU(), _Probe())
    out = net(np.ones((1, 2)))
    assert [v.scope for v in made] == ["layers.0", "layers.2"] and out.scope == "layers.1"
    assert all(len(v.parents) == 2 for v in made)
    with engine.scope("outer"):
        net(np.ones((1, 2)))
    assert [v.scope for v in made[2:]] == ["outer.layers.0", "outer.layers.2"]
    Sequential(_QuietProbe(), _Probe())(np.ones((1, 2)))
    assert [v.scope for v in made[4:]] == ["layers.0", "layers.1"]
    after = Value(1.0) * Value(2.0)
    assert after.scope == "" and engine.current_scope() == ""


def test_sequential_under_no_grad_records_no_parents() -> None:
    made = _Probe.made
    made.clear()
    net = Sequential(_QuietProbe(), Linear(2, 2, seed=0), _Probe())
    with engine.no_grad():
        out = net(np.ones((1, 2)))
    assert [v.scope for v in made] == ["layers.0", "layers.2"]
    assert all(not v.parents for v in made) and not out.parents
    assert len((Value(1.0) * Value(2.0)).parents) == 2  # recording again after the block
