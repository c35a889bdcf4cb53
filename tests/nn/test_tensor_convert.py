"""Scalar MLP <-> tensor Sequential <-> PyTorch: same weights, same outputs and gradients."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import engine
from tracegrad.engine import Tensor, Value
from tracegrad.nn.convert import from_torch, mlp_to_sequential, sequential_to_mlp, to_torch
from tracegrad.nn.layers import Embedding, Flatten, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from tracegrad.nn.mlp import MLP

from tests.support import require

ACTS = ["relu", "sigmoid", "tanh", "leaky_relu", "linear"]


def _mlp_outputs(mlp: MLP, X: np.ndarray) -> np.ndarray:
    return np.array([[v.data for v in mlp.forward([Value(float(x)) for x in row])] for row in X])


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.sampled_from(ACTS),
    st.sampled_from(ACTS),
    st.integers(0, 2**31),
)
def test_mlp_and_sequential_agree_on_outputs_and_gradients(
    nin: int, nouts: list[int], act: str, out_act: str, seed: int
) -> None:
    mlp = MLP(nin, nouts, activation=act, output_activation=out_act, seed=seed)
    seq = mlp_to_sequential(mlp)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, nin))
    W = rng.normal(size=(3, nouts[-1]))

    # scalar: loss = sum_n sum_k W[n,k] out[n,k], one graph over the three rows
    outs = [mlp.forward([Value(float(x)) for x in row]) for row in X]
    loss = engine.sum_values([o * float(w) for row, wrow in zip(outs, W) for o, w in zip(row, wrow)])
    loss.backward()
    out = seq(X)
    np.testing.assert_allclose(out.data, [[o.data for o in row] for row in outs], rtol=0, atol=1e-12)
    out.backward(W)
    for layer, lin in zip(mlp.layers, [m for m in seq.layers if isinstance(m, Linear)]):
        gW = [[w.grad for w in n.w] for n in layer.neurons]
        gb = [n.b.grad for n in layer.neurons]
        np.testing.assert_allclose(lin.weight.grad, gW, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lin.bias.grad, gb, rtol=0, atol=1e-12)

    back = sequential_to_mlp(seq)
    assert back.nouts == mlp.nouts and back.output_activation == mlp.output_activation
    np.testing.assert_array_equal(_mlp_outputs(back, X), _mlp_outputs(mlp, X))


def test_sequential_to_mlp_names_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="share one activation"):
        sequential_to_mlp(Sequential(Linear(2, 2), ReLU(), Linear(2, 2), Tanh(), Linear(2, 1)))
    with pytest.raises(ValueError, match="always has a bias"):
        sequential_to_mlp(Sequential(Linear(2, 2, bias=False)))
    with pytest.raises(ValueError, match="no scalar MLP equivalent"):
        sequential_to_mlp(Sequential(Linear(2, 2), LeakyReLU(0.3)))
    with pytest.raises(ValueError, match="must follow a Linear"):
        sequential_to_mlp(Sequential(ReLU(), Linear(2, 2)))
    with pytest.raises(TypeError, match="nn.MLP"):
        mlp_to_sequential(Sequential(Linear(2, 2)))  # type: ignore[arg-type]


def test_to_mlp_method_and_single_activation_network() -> None:
    seq = Sequential(Linear(3, 2, seed=0), Sigmoid())
    mlp = seq.to_mlp()
    X = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(_mlp_outputs(mlp, X), seq(X).data, atol=1e-15)


# ---------------------------------------------------------------- PyTorch


def _torch_grads(module: Any) -> list[np.ndarray]:
    return [p.grad.numpy() for p in module.parameters()]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.sampled_from(ACTS[:-1]), st.integers(0, 2**31))
def test_to_torch_and_back_agree_to_1e12_in_float64(sizes: list[int], act: str, seed: int) -> None:
    torch = require("torch")
    mlp = MLP(3, sizes, activation=act, seed=seed)
    tmod = mlp.to_torch()
    seq = mlp_to_sequential(mlp)
    X = np.random.default_rng(seed).normal(size=(6, 3))
    tX = torch.tensor(X)
    t_out = tmod(tX)
    assert t_out.dtype == torch.float64
    out = seq(X)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(_mlp_outputs(mlp, X), t_out.detach().numpy(), rtol=0, atol=1e-12)

    t_out.pow(2).sum().backward()
    (out**2).sum().backward()
    for p, g in zip(seq.parameters(), _torch_grads(tmod)):
        np.testing.assert_allclose(p.grad, g, rtol=0, atol=1e-12)

    again = Sequential.from_torch(tmod)
    np.testing.assert_array_equal(again(X).data, out.data)


def test_from_torch_imports_a_torch_stack() -> None:
    torch = require("torch")
    torch.manual_seed(0)
    tnn = torch.nn
    tmod = tnn.Sequential(tnn.Flatten(), tnn.Linear(6, 5), tnn.Tanh(),
                          tnn.Sequential(tnn.Linear(5, 4, bias=False), tnn.LeakyReLU(0.2)),
                          tnn.Identity(), tnn.Linear(4, 2), tnn.Sigmoid()).double()
    seq = from_torch(tmod)
    assert [type(m).__name__ for m in seq.layers] == [
        "Flatten", "Linear", "Tanh", "Linear", "LeakyReLU", "Linear", "Sigmoid"]
    X = np.random.default_rng(1).normal(size=(3, 2, 3))
    np.testing.assert_allclose(seq(X).data, tmod(torch.tensor(X)).detach().numpy(), rtol=0, atol=1e-12)
    assert np.shares_memory(seq.layers[1].weight.data, tmod[1].weight.detach().numpy()) is False

    f32 = from_torch(tnn.Linear(3, 2))  # torch's default float32 stays float32
    assert f32.layers[0].weight.dtype == np.float32
    assert from_torch(tnn.Linear(3, 2), dtype="float64").layers[0].weight.dtype == np.float64
    with pytest.raises(ValueError, match="layer 1 is a torch Conv1d"):
        from_torch(tnn.Sequential(tnn.Linear(2, 2), tnn.Conv1d(1, 1, 1)))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        from_torch(Linear(2, 2))
    with pytest.raises(ValueError, match="no converter"):
        to_torch(Sequential(Embedding(3, 2), Flatten()))


def test_without_torch_a_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_torch(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match="pip install torch"):
        Sequential(Linear(2, 2)).to_torch()
    with pytest.raises(ImportError, match="pip install torch"):
        MLP(2, [1], seed=0).to_torch()
    with pytest.raises(ImportError, match="pip install torch"):
        from_torch(object())


def test_tensor_inputs_are_not_copied_or_changed_by_conversion() -> None:
    mlp = MLP(2, [2], seed=0)
    seq = mlp_to_sequential(mlp)
    seq.layers[0].weight.data[0, 0] = 123.0
    assert mlp.layers[0].neurons[0].w[0].data != 123.0  # a copy of the weights
    assert isinstance(seq(Tensor([[1.0, 2.0]])), Tensor)


def test_mlp_methods_delegate_to_convert() -> None:
    mlp = MLP(3, [4, 2], activation="tanh", seed=5)
    seq = mlp.to_sequential()
    assert isinstance(seq, Sequential) and [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear"]
    X = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(seq(X).data, mlp_to_sequential(mlp)(X).data)
    assert mlp.to_sequential(dtype="float32").layers[0].weight.dtype == np.float32
    back = seq.to_mlp()
    assert [p.data for p in back.parameters()] == [p.data for p in mlp.parameters()]
