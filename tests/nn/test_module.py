"""Module: names, state dicts (validated, all-or-nothing), save/load (exact, atomic, damage-aware)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from tracegrad import nn
from tracegrad.engine import Value
from tracegrad.nn.module import Module, read_document


class FakeTensor:
    """A tensor-path parameter: .data is an ndarray, .grad an ndarray."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.asarray(data, dtype=float)
        self.grad = np.zeros_like(self.data)


class FakeAffine(Module):
    """A tensor-like module, to check the Module base is not scalar-only."""

    def __init__(self, nin: int, nout: int) -> None:
        self.nin, self.nout = nin, nout
        self.weight = FakeTensor(np.arange(nin * nout, dtype=float).reshape(nout, nin) / 10)
        self.bias = FakeTensor(np.zeros(nout))

    def config(self) -> dict:
        return {"nin": self.nin, "nout": self.nout}


class FakeStack(Module):
    """A container whose config holds modules (like a Sequential)."""

    def __init__(self, layers: list) -> None:
        self.layers = list(layers)

    def config(self) -> dict:
        return {"layers": self.layers}


def weights(model: Module) -> list:
    return [p.data.copy() if isinstance(p.data, np.ndarray) else p.data for p in model.parameters()]


def test_mlp_parameter_count_and_names() -> None:
    model = nn.MLP(2, [16, 16, 1], seed=0)
    assert len(model.parameters()) == 337 == model.num_parameters()
    names = [n for n, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert "layers.0.neurons.3.w.1" in names
    assert names[-1] == "layers.2.neurons.0.b"
    assert len(set(names)) == len(names)
    params = dict(model.named_parameters())
    assert params["layers.0.neurons.3.w.1"] is model.layers[0].neurons[3].w[1]


def test_repr_shows_architecture_and_count() -> None:
    text = repr(nn.MLP(2, [16, 16, 1], seed=0))
    assert "2 -> 16 -> 16 -> 1" in text and "337 parameters" in text
    assert "relu" in text and "linear" in text
    assert "3 parameters" in repr(nn.Neuron(2, seed=0))


def test_shared_parameters_listed_once() -> None:
    a = nn.Neuron(2, seed=0)
    b = nn.Neuron(2, seed=1)
    b.w = a.w  # share weights
    stack = FakeStack([a, b])
    assert len(stack.parameters()) == 4  # a.w (2), a.b, b.b


def test_zero_grad_scalar_and_array() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    model([1.0, 2.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())
    aff = FakeAffine(2, 3)
    aff.weight.grad += 1.0
    aff.zero_grad()
    assert aff.weight.grad is None and aff.bias.grad is None  # array gradients are forgotten, as PyTorch


def test_state_dict_round_trip_in_place() -> None:
    src, dst = nn.MLP(3, [4, 2], seed=1), nn.MLP(3, [4, 2], seed=2)
    params_before = dst.parameters()
    dst.load_state_dict(src.state_dict())
    assert weights(dst) == weights(src)
    assert all(a is b for a, b in zip(params_before, dst.parameters()))  # in place
    sd = src.state_dict()
    assert all(type(v) is float for v in sd.values())
    sd["layers.0.neurons.0.b"] = 99.0  # a copy: changing it leaves the model alone
    assert src.layers[0].neurons[0].b.data != 99.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda sd: sd.pop("layers.1.neurons.0.w.2"), "missing parameter 'layers.1.neurons.0.w.2'"),
        (lambda sd: sd.__setitem__("layers.9.neurons.0.b", 1.0), "unexpected parameter 'layers.9.neurons.0.b'"),
        (lambda sd: sd.__setitem__("layers.1.neurons.1.b", np.ones(3)), "expected one number"),
        (lambda sd: sd.__setitem__("layers.1.neurons.1.b", "x"), "expected one number"),
        (lambda sd: sd.__setitem__("layers.1.neurons.1.b", math.nan), "finite"),
    ],
)
def test_load_state_dict_validates_everything_first(edit, message: str) -> None:
    model = nn.MLP(3, [4, 2], seed=1)
    before = weights(model)
    sd = nn.MLP(3, [4, 2], seed=2).state_dict()
    edit(sd)
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(sd)
    assert weights(model) == before


def test_load_state_dict_type_error_for_non_mapping() -> None:
    with pytest.raises(TypeError, match="mapping"):
        nn.MLP(2, [1], seed=0).load_state_dict([1.0, 2.0, 3.0])


def test_array_parameters_state_dict_and_shape_check() -> None:
    aff = FakeAffine(2, 3)
    names = [n for n, _ in aff.named_parameters()]
    assert names == ["weight", "bias"]
    assert aff.num_parameters() == 9
    sd = aff.state_dict()
    assert isinstance(sd["weight"], np.ndarray) and sd["weight"] is not aff.weight.data
    before = weights(aff)
    bad = dict(sd, weight=np.zeros((2, 3)))
    bad["bias"] = np.full(3, 7.0)
    with pytest.raises(ValueError, match=r"'weight': expected shape \(3, 2\), got \(2, 3\)"):
        aff.load_state_dict(bad)
    assert all(np.array_equal(a, b) for a, b in zip(weights(aff), before))
    good = {"weight": np.ones((3, 2)), "bias": [1.0, 2.0, 3.0]}
    data = aff.weight.data
    aff.load_state_dict(good)
    assert aff.weight.data is data and np.array_equal(data, np.ones((3, 2)))
    assert np.array_equal(aff.bias.data, [1.0, 2.0, 3.0])


def test_save_load_round_trip_exact(tmp_path) -> None:
    model = nn.MLP(2, [5, 3], activation="tanh", output_activation="sigmoid", init="he", seed=3)
    path = model.save(tmp_path / "model.json")
    loaded = nn.MLP.load(path)
    assert type(loaded) is nn.MLP and loaded.config() == model.config()
    assert weights(loaded) == weights(model)  # bit for bit
    x = [0.3, -1.7]
    assert [v.data for v in loaded(x)] == [v.data for v in model(x)]
    doc = json.loads(path.read_text())
    assert doc["format"] == "tracegrad-model" and doc["version"] == 1 and doc["class"] == "MLP"
    assert doc["num_parameters"] == model.num_parameters() == len(doc["weights"])
    assert sorted(os.listdir(tmp_path)) == ["model.json"]  # no temp file left behind
    generic = Module.load(path)  # the registry picks the class
    assert type(generic) is nn.MLP


def test_save_load_nested_modules_and_arrays(tmp_path) -> None:
    stack = FakeStack([FakeAffine(2, 3), nn.Layer(3, 2, seed=0)])
    stack.layers[0].weight.data[...] = np.random.default_rng(0).normal(size=(3, 2))
    path = stack.save(tmp_path / "stack.json")
    loaded = FakeStack.load(path)
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in stack.named_parameters()]
    for a, b in zip(weights(loaded), weights(stack)):
        assert np.array_equal(a, b)


def test_load_rejects_another_class(tmp_path) -> None:
    path = nn.Layer(2, 3, seed=0).save(tmp_path / "layer.json")
    with pytest.raises(ValueError, match="holds a Layer, not a MLP"):
        nn.MLP.load(path)


def test_truncated_file_raises_and_model_unchanged(tmp_path) -> None:
    model = nn.MLP(2, [4, 1], seed=0)
    path = model.save(tmp_path / "m.json")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="truncated"):
        nn.MLP.load(path)
    target = nn.MLP(2, [4, 1], seed=9)
    before = weights(target)
    with pytest.raises(ValueError, match="truncated"):
        target.load_weights(path)
    assert weights(target) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff", "binary"),
        (b'{"format": "something-else", "version": 1}', "not a tracegrad model file"),
        (b"[1, 2, 3]", "not a tracegrad model file"),
        (b'{"format": "tracegrad-model", "version": 7}', "unsupported tracegrad-model version 7"),
        (b'{"format": "tracegrad-model", "version": 1, "class": "MLP", "config": {}}', "no valid 'weights'"),
        (b'{"format": "tracegrad-model", "version": 1, "class": "Nope", "config": {}, "weights": {}}',
         "unknown module"),
        (b'{"format": "tracegrad-model", "version": 1, "class": "MLP", "config": {"nin": 2}, "weights": {}}',
         "cannot rebuild MLP"),
    ],
)
def test_foreign_or_corrupted_files(tmp_path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        nn.MLP.load(path)


def test_damaged_weights_are_named(tmp_path) -> None:
    model = nn.MLP(2, [2, 1], seed=0)
    path = model.save(tmp_path / "m.json")
    doc = json.loads(path.read_text())
    del doc["weights"]["layers.1.neurons.0.w.1"]
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="says 9 parameters but holds 8"):
        nn.MLP.load(path)
    doc["num_parameters"] = 8
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="missing parameter 'layers.1.neurons.0.w.1'"):
        nn.MLP.load(path)
    assert read_document(model.save(tmp_path / "ok.json"))["class"] == "MLP"


def test_load_weights_mismatched_architecture_leaves_model(tmp_path) -> None:
    path = nn.MLP(2, [4, 1], seed=0).save(tmp_path / "small.json")
    model = nn.MLP(2, [16, 16, 1], seed=1)
    before = weights(model)
    with pytest.raises(ValueError, match=r"holds MLP\(nin=2, nouts=\[4, 1\]"):
        model.load_weights(path)
    assert weights(model) == before
    same = nn.MLP(2, [4, 1], seed=5)
    same.load_weights(path)
    assert weights(same) == weights(nn.MLP.load(path))


def test_save_refuses_nan(tmp_path) -> None:
    model = nn.Neuron(2, seed=0)
    model.b.data = math.nan
    with pytest.raises(ValueError, match="'b' is nan"):
        model.save(tmp_path / "n.json")
    assert not (tmp_path / "n.json").exists()


def test_save_keeps_old_file_when_writing_fails(tmp_path, monkeypatch) -> None:
    path = nn.Neuron(2, seed=0).save(tmp_path / "n.json")
    old = path.read_text()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        nn.Neuron(2, seed=1).save(path)
    assert path.read_text() == old
    assert sorted(os.listdir(tmp_path)) == ["n.json"]


def test_value_is_a_parameter_but_plain_attributes_are_not() -> None:
    neuron = nn.Neuron(3, seed=0)
    assert [n for n, _ in neuron.named_parameters()] == ["w.0", "w.1", "w.2", "b"]
    assert all(isinstance(p, Value) for p in neuron.parameters())


def test_save_into_a_missing_folder_or_onto_a_directory(tmp_path) -> None:
    model = nn.Neuron(2, seed=0)
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        model.save(tmp_path / "nowhere" / "n.json")
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        model.save(tmp_path)
    assert list(tmp_path.iterdir()) == []
