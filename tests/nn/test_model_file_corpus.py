"""A corpus of malformed and hostile model files: each gets ``ValueError`` with a message naming the field.

Nothing else may escape ``load`` / ``load_weights`` (no KeyError, RecursionError, OverflowError, MemoryError or
numpy error), nothing is built before the whole file is checked, and the model you load into is left untouched.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tracegrad import nn
from tracegrad.nn.module import Module

Doc = dict[str, Any]


def mlp_doc() -> Doc:
    return nn.MLP(2, [2, 1], seed=0).to_document()


def seq_doc() -> Doc:
    return nn.Sequential(nn.Linear(2, 3, seed=0), nn.ReLU(), nn.Linear(3, 1, seed=1)).to_document()


def edited(make: Callable[[], Doc], change: Callable[[Doc], Any]) -> Callable[[], Doc]:
    def build() -> Doc:
        doc = copy.deepcopy(make())
        change(doc)
        return doc
    return build


def set_in(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


W0 = "layers.0.weight"
# (name, the file: a document or raw text, the message the ValueError must match)
CORPUS: list[tuple[str, Callable[[], Doc] | str, str]] = [
    ("no weights", edited(mlp_doc, lambda d: d.pop("weights")), r"no valid 'weights' entry"),
    ("sequential without layers", edited(seq_doc, set_in(["config"], {})),
     r"config\.layers must be a list of modules, got None"),
    ("sequential layers not a list", edited(seq_doc, set_in(["config", "layers"], 3)),
     r"config\.layers must be a list"),
    ("deeply nested JSON", "[" * 200_000 + "]" * 200_000, r"JSON nested too deeply"),
    ("config nested too deep", edited(mlp_doc, set_in(["config", "init"], nested(40))),
     r"config\.init(\[0\])+: nested more than 32 levels deep"),
    ("ragged array", edited(seq_doc, set_in(["weights", W0, "data"], [[1.0, 2.0], [3.0], [4.0, 5.0]])),
     r"weights\['layers\.0\.weight'\]\.data\[1\]: expected a list of 2 entries \(shape \[2\]\), got 1 entries"),
    ("array of strings", edited(seq_doc, set_in(["weights", W0, "data"], [["a", "b"]] * 3)),
     r"weights\['layers\.0\.weight'\]\.data\[0\]\[0\]: expected a number, got str"),
    ("data not a list", edited(seq_doc, set_in(["weights", W0, "data"], "xyz")),
     r"\.data: expected a list of 3 entries \(shape \[3, 2\]\), got str"),
    ("shape of strings", edited(seq_doc, set_in(["weights", W0, "shape"], ["3", 2])),
     r"\.shape: expected a list of sizes"),
    ("negative shape", edited(seq_doc, set_in(["weights", W0, "shape"], [-3, -2])),
     r"\.shape: expected a list of sizes"),
    ("huge shape", edited(seq_doc, set_in(["weights", W0, "shape"], [100_000, 100_000])),
     r"\.shape: \[100000, 100000\] holds 10,000,000,000 numbers, over the limit of 10,000,000"),
    ("10**400 weight", edited(mlp_doc, set_in(["weights", "layers.0.neurons.0.w.0"], 10**400)),
     r"weights\['layers\.0\.neurons\.0\.w\.0'\]: 1000\.\.\.000 \(401 digits\) is too large for a float"),
    ("10**400 in an array", edited(seq_doc, set_in(["weights", W0, "data", 0, 1], 10**400)),
     r"\.data\[0\]\[1\]: 1000\.\.\.000 \(401 digits\) is too large"),
    ("10**400 in the config", edited(mlp_doc, set_in(["config", "nin"], 10**400)),
     r"config\.nin: 1000\.\.\.000 \(401 digits\) is over the limit of 10,000,000"),
    ("an integer beyond Python's digit limit", '{"format": "tracegrad-model", "version": 1, "x": ' + "9" * 5000 + "}",
     r"corrupted model file: Exceeds the limit"),
    ("int8 overflow", edited(seq_doc, set_in(["weights", W0], {"shape": [3, 2], "dtype": "int8",
                                                               "data": [[300, 1], [1, 1], [1, 1]]})),
     r"weights\['layers\.0\.weight'\]\.dtype: expected one of float64, float32, got 'int8'"),
    ("float16 rounds", edited(seq_doc, set_in(["weights", W0, "dtype"], "float16")),
     r"\.dtype: expected one of float64, float32, got 'float16'"),
    ("complex dtype", edited(seq_doc, set_in(["weights", W0, "dtype"], "complex128")),
     r"\.dtype: expected one of float64, float32, got 'complex128'"),
    ("float32 that is not", edited(seq_doc, set_in(["weights", W0, "dtype"], "float32")),
     r"\.data\[0\]\[0\]: -?0\.\d+ is not exactly a float32 \(it would be rounded\)"),
    ("a tiny file asking for Linear(1e7, 1e7)", edited(seq_doc, set_in(["config", "layers", 0, "config", "nin"],
                                                                        10_000_000)),
     r"config: Sequential with this config has 30,000,007 parameters, but the file holds 13"),
    ("Linear(1e7, 1e7) as floats", edited(seq_doc, set_in(["config", "layers", 0, "config", "nin"], 1e7)),
     r"config\.nin must be a whole number >= 0, got 10000000\.0"),
    ("MLP of a billion", edited(mlp_doc, set_in(["config", "nouts"], [10_000_000, 10_000_000])),
     r"config: MLP with this config has 100,000,040,000,000 parameters, but the file holds 9"),
    ("nouts not a list", edited(mlp_doc, set_in(["config", "nouts"], 5)), r"config\.nouts must be a list"),
    ("NaN weight", '{"format": "tracegrad-model", "version": 1, "class": "MLP", "config": {}, '
                   '"weights": {"w": NaN}}', r"weights\['w'\]: expected a finite number, got nan"),
    ("inf in the config", edited(seq_doc, set_in(["config", "layers", 1, "config"], {"slope": 1e400})),
     r"config\.layers\[1\]\.config\.slope: inf is not a finite number"),
    ("bool weight", edited(mlp_doc, set_in(["weights", "layers.0.neurons.0.b"], True)),
     r"weights\['layers\.0\.neurons\.0\.b'\]: expected a number, got bool"),
    ("extra array key", edited(seq_doc, set_in(["weights", W0, "evil"], 1)),
     r"an array entry has exactly the keys 'shape', 'dtype' and 'data'"),
    ("version true", edited(mlp_doc, set_in(["version"], True)), r"unsupported tracegrad-model version True"),
    ("num_parameters a string", edited(mlp_doc, set_in(["num_parameters"], "9")),
     r"num_parameters must be a whole number in 0\.\.10,000,000, got '9'"),
    ("num_parameters wrong", edited(mlp_doc, set_in(["num_parameters"], 10)), r"says 10 parameters but holds 9"),
    ("unknown nested module", edited(seq_doc, set_in(["config", "layers", 1, "module"], "Evil")),
     r"unknown module class 'Evil'"),
    ("private class", edited(seq_doc, set_in(["class"], "tracegrad.nn.layers._Activation")),
     r"module class 'tracegrad\.nn\.layers\._Activation' is private"),
    ("private nested class", edited(seq_doc, set_in(["config", "layers", 1, "module"], "_Activation")),
     r"unknown module class '_Activation'"),
    ("nested module malformed", edited(seq_doc, set_in(["config", "layers", 1], {"module": "ReLU"})),
     r"expected a saved module"),
]


def write(tmp_path: Path, entry: Callable[[], Doc] | str) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(entry if isinstance(entry, str) else json.dumps(entry()))
    return path


@pytest.mark.parametrize("name, entry, message", CORPUS, ids=[c[0] for c in CORPUS])
def test_each_malformed_file_gets_a_value_error_naming_the_field(tmp_path: Path, name: str,
                                                                entry: Callable[[], Doc] | str, message: str) -> None:
    path = write(tmp_path, entry)
    with pytest.raises(ValueError, match=message):
        Module.load(path)
    for model in (nn.MLP(2, [2, 1], seed=3), nn.Sequential(nn.Linear(2, 3, seed=4), nn.ReLU(), nn.Linear(3, 1))):
        before = model.state_dict()
        with pytest.raises(ValueError):
            model.load_weights(path)
        after = model.state_dict()
        assert all(np.array_equal(before[k], after[k]) for k in before)  # untouched


def test_the_corpus_documents_are_valid_before_their_damage(tmp_path: Path) -> None:
    for make in (mlp_doc, seq_doc):
        path = write(tmp_path, make)
        assert Module.load(path).state_dict().keys() == make()["weights"].keys()


@pytest.mark.parametrize("bad, message", [
    (np.array([[1 + 2j, 0], [0, 0], [0, 0]]), r"expected real numbers, got complex numbers \(the imaginary part"),
    (np.array([[True, False]] * 3), r"expected real numbers, got booleans"),
    ([[10**400, 0.0]] * 3, r"expected real numbers, got objects"),
    ([[1.0, 2.0], [3.0]], r"expected numbers"),
    (np.full((3, 2), 0.1), r"its float64 values are not exactly float32 numbers \(they would be rounded\)"),
    (np.full((3, 2), 1e300), r"its float64 values are not exactly float32"),
])
def test_state_dicts_with_odd_arrays_are_refused_and_the_model_kept(bad: Any, message: str) -> None:
    net = nn.Sequential(nn.Linear(2, 3, seed=0, dtype="float32"), nn.ReLU(), nn.Linear(3, 1, seed=1))
    state = net.state_dict()
    with pytest.raises(ValueError, match=rf"parameter 'layers\.0\.weight': {message}"):
        net.load_state_dict({**state, W0: bad})
    assert all(np.array_equal(state[k], v) for k, v in net.state_dict().items())
    scalar = nn.MLP(1, [1], seed=0)
    with pytest.raises(ValueError, match=r"parameter 'layers\.0\.neurons\.0\.b': expected a finite number"):
        scalar.load_state_dict({**scalar.state_dict(), "layers.0.neurons.0.b": 10**400})
