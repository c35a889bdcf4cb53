"""Neuron, Layer, MLP: the lecture's arithmetic, visible gates, scopes, init and bad input."""

from __future__ import annotations

import math
import random
import re
import statistics

import numpy as np
import pytest
from tracegrad import nn
from tracegrad.engine import Value, numerical_grad, topological_order

from tests.support import require


def lecture_221() -> nn.MLP:
    """Seed 000's 2-2-1 sigmoid network with w1..w6 = 0.7, 0.3, 0.4, 0.6, 0.55, 0.45, no biases."""
    model = nn.MLP(2, [2, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    # z1 = w1 x1 + w3 x2 (hidden neuron 0), z2 = w2 x1 + w4 x2 (hidden neuron 1), z3 = w5 h1 + w6 h2
    sd = {name: 0.0 for name in model.state_dict()}
    sd.update({
        "layers.0.neurons.0.w.0": 0.7, "layers.0.neurons.0.w.1": 0.4,
        "layers.0.neurons.1.w.0": 0.3, "layers.0.neurons.1.w.1": 0.6,
        "layers.1.neurons.0.w.0": 0.55, "layers.1.neurons.0.w.1": 0.45,
    })
    model.load_state_dict(sd)
    return model


def test_lecture_221_network_numbers() -> None:
    model = lecture_221()
    x = [0.5, 0.3]
    hidden = model.layers[0](x)
    z1, z2 = (h.parents[0].data for h in hidden)
    assert z1 == pytest.approx(0.47) and z2 == pytest.approx(0.33)
    o1 = model(x)
    assert o1.data == pytest.approx(0.645, abs=1e-3)  # 0.64571; the slide truncates
    cost = nn.losses.squared_error(1.0, o1)
    assert cost.data == pytest.approx(0.126, abs=5e-4)
    cost.backward()
    w = dict(model.named_parameters())
    # dC/dw5 = -2(y - o1) * o1(1 - o1) * h1 ~ -0.71 * 0.229 * 0.615 (the slide rounds to -0.01)
    h1 = hidden[0].data
    expected = -2 * (1 - o1.data) * o1.data * (1 - o1.data) * h1
    assert w["layers.1.neurons.0.w.0"].grad == pytest.approx(expected, rel=1e-12)
    assert w["layers.1.neurons.0.w.0"].grad == pytest.approx(-0.0999, abs=5e-4)


def test_neuron_keeps_gates_visible() -> None:
    neuron = nn.Neuron(3, activation="tanh", seed=0)
    out = neuron([1.0, 2.0, 3.0])
    assert out.op == "tanh"
    (adder,) = out.parents
    assert adder.op == "sum" and len(adder.parents) == 4
    assert [p.op for p in adder.parents[:3]] == ["mul"] * 3
    assert adder.parents[3] is neuron.b
    expected = math.tanh(sum(w.data * x for w, x in zip(neuron.w, [1.0, 2.0, 3.0])) + neuron.b.data)
    assert out.data == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu", "linear", None])
def test_activations(activation) -> None:
    neuron = nn.Neuron(2, activation=activation, seed=4)
    neuron.w[0].data, neuron.w[1].data, neuron.b.data = -1.0, 0.5, 0.25
    z = -1.0 * 2.0 + 0.5 * 1.0 + 0.25
    expected = {
        "relu": max(0.0, z), "sigmoid": 1 / (1 + math.exp(-z)), "tanh": math.tanh(z),
        "leaky_relu": 0.01 * z, "linear": z, None: z,
    }[activation]
    assert neuron([2.0, 1.0]).data == pytest.approx(expected, rel=1e-14)


def test_scopes_match_parameter_names() -> None:
    model = nn.MLP(2, [4, 3, 1], seed=0)
    out = model([0.5, -0.5])
    scopes = {node.scope for node in topological_order(out) if node.parents}
    assert "layers.0.neurons.3" in scopes and "layers.2.neurons.0" in scopes
    prefixes = {re.match(r"layers\.\d+\.neurons\.\d+", name).group() for name, _ in model.named_parameters()}
    assert scopes == prefixes
    mul = next(n for n in topological_order(out) if n.op == "mul" and n.scope == "layers.1.neurons.2")
    assert any(mul.parents[0] is w for w in model.layers[1].neurons[2].w)


def test_outputs_single_value_or_list() -> None:
    assert isinstance(nn.MLP(2, [3, 1], seed=0)([1, 2]), Value)
    out = nn.MLP(2, [3, 4], seed=0)([1, 2])
    assert isinstance(out, list) and len(out) == 4
    assert isinstance(nn.Layer(2, 1, seed=0)([1, 2]), Value)
    assert len(nn.Layer(2, 5, seed=0)([1, 2])) == 5


def test_inputs_may_be_values_and_share_one_leaf_per_input() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    x = [Value(1.0, "a"), Value(2.0, "b")]
    model(x).backward()
    numeric = numerical_grad(lambda a, b: model([a, b]), x)
    assert [v.grad for v in x] == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    out = model([1.0, 2.0])
    leaves = [n for n in topological_order(out) if not n.parents and n.label == "x1"]
    assert len(leaves) == 1  # x1 fans out to all 3 neurons from one node (gradient adder)


def test_same_seed_same_weights_and_rng_kinds() -> None:
    def ws(m: nn.MLP) -> list[float]:
        return [p.data for p in m.parameters()]

    assert ws(nn.MLP(3, [4, 2], seed=7)) == ws(nn.MLP(3, [4, 2], seed=7))
    assert ws(nn.MLP(3, [4, 2], seed=7)) != ws(nn.MLP(3, [4, 2], seed=8))
    assert ws(nn.MLP(3, [4, 2], rng=random.Random(7))) == ws(nn.MLP(3, [4, 2], seed=7))
    a = ws(nn.MLP(3, [4, 2], init="he", rng=np.random.default_rng(1)))
    b = ws(nn.MLP(3, [4, 2], init="he", rng=np.random.default_rng(1)))
    assert a == b
    random.seed(123)
    c = ws(nn.MLP(3, [4, 2]))
    random.seed(123)
    assert ws(nn.MLP(3, [4, 2])) == c  # no seed: the global stream, like micrograd
    with pytest.raises(ValueError, match="seed= or rng="):
        nn.MLP(2, [1], seed=1, rng=random.Random(1))
    with pytest.raises(TypeError, match="rng must be"):
        nn.MLP(2, [1], rng=42)
    with pytest.raises(TypeError, match="seed must be an int"):
        nn.MLP(2, [1], seed="1")


def test_same_weights_as_micrograd_under_the_same_seed() -> None:
    mg = require("micrograd.nn")
    random.seed(1337)
    theirs = mg.MLP(2, [16, 16, 1])
    ours = nn.MLP(2, [16, 16, 1], seed=1337)
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    x = [0.3, -0.8]
    assert ours(x).data == pytest.approx(theirs(x).data, rel=1e-12)


def test_init_schemes_have_the_right_spread() -> None:
    uni = [w.data for n in nn.Layer(200, 50, init="uniform", seed=0).neurons for w in n.w]
    assert -1 <= min(uni) and max(uni) <= 1 and max(uni) > 0.99
    xav = [w.data for n in nn.Layer(200, 50, init="xavier", seed=0).neurons for w in n.w]
    bound = math.sqrt(6 / 250)
    assert max(abs(w) for w in xav) <= bound and max(abs(w) for w in xav) > 0.99 * bound
    he = [w.data for n in nn.Layer(200, 50, init="he", seed=0).neurons for w in n.w]
    assert statistics.pstdev(he) == pytest.approx(math.sqrt(2 / 200), rel=0.03)
    assert all(n.b.data == 0.0 for n in nn.Layer(5, 5, seed=0).neurons)


def test_bad_input_errors() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="MLP expects 2 inputs, got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="input 1 is not a number: str"):
        model([1.0, "a"])
    with pytest.raises(TypeError, match="list of 2 numbers"):
        model(3.0)
    with pytest.raises(ValueError, match="input 0 is nan"):
        model([math.nan, 1.0])
    with pytest.raises(ValueError, match="Layer expects 4 inputs, got 2"):
        nn.Layer(4, 2, seed=0)([1, 2])
    with pytest.raises(ValueError, match="Neuron expects 3 inputs, got 1"):
        nn.Neuron(3, seed=0)([1])


def test_bad_construction_errors() -> None:
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        nn.MLP(2, [1], activation="softplus")
    with pytest.raises(ValueError, match="unknown init 'glorot'"):
        nn.Neuron(2, init="glorot")
    with pytest.raises(ValueError, match="nin must be at least 1"):
        nn.Layer(0, 2)
    with pytest.raises(TypeError, match=r"nouts\[1\] must be an int"):
        nn.MLP(2, [3, 2.5])
    with pytest.raises(ValueError, match="at least one layer"):
        nn.MLP(2, [])
    with pytest.raises(TypeError, match="nouts must be a list"):
        nn.MLP(2, 3)


def test_numpy_ints_are_sizes_and_mappings_are_not_inputs() -> None:
    model = nn.MLP(np.int64(2), [np.int32(3), 1], seed=0)
    assert model.nin == 2 and model.nouts == [3, 1] and type(model.nin) is int
    assert model.config() == nn.MLP(2, [3, 1]).config()
    with pytest.raises(TypeError, match="expects a list of 2 numbers, got dict"):
        model({0: 5.0, 1: 7.0})  # a dict's keys are no input vector
