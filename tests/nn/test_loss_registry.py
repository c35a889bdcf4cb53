"""nn.loss_registry: one table of named losses; each rule (labels, accuracy, L2) written once.

Every entry's scalar and tensor forms agree; every loss's label check raises,
with the same words on both paths; the accuracy rule and the mean flag are
the entry's; LOSSES / TENSOR_LOSSES are read-only views of the one table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import engine, nn
from tracegrad.engine import Tensor, Value
from tracegrad.nn import labels as rules
from tracegrad.nn.loss_registry import L2, LOSSES, REGISTRY, TENSOR_LOSSES, Loss, custom_loss, resolve_loss
from tracegrad.nn.metrics import decision_rule

# ---------------------------------------------------------------- the table


def test_every_entry_holds_both_forms_its_labels_its_accuracy_rule_and_the_mean_flag() -> None:
    assert list(REGISTRY) == ["mse", "binary_cross_entropy", "cross_entropy", "hinge"]
    for name, entry in REGISTRY.items():
        assert isinstance(entry, Loss) and entry.name == name
        assert callable(entry.scalar) and callable(entry.tensor)
        assert entry.form(False) is entry.scalar and entry.form(True) is entry.tensor
        assert isinstance(entry.labels, rules.Labels)
        assert entry.mean  # every named loss is a mean over samples
    assert {n: e.accuracy for n, e in REGISTRY.items()} == {
        "mse": None, "binary_cross_entropy": "threshold", "cross_entropy": "argmax", "hinge": "sign"}
    assert REGISTRY["cross_entropy"].tensor is engine.cross_entropy
    assert REGISTRY["hinge"].scalar is nn.losses.hinge and REGISTRY["hinge"].tensor is nn.tensor_losses.hinge


def test_losses_and_tensor_losses_are_read_only_views_of_the_registry() -> None:
    assert dict(LOSSES) == {n: e.scalar for n, e in REGISTRY.items()}
    assert dict(TENSOR_LOSSES) == {n: e.tensor for n, e in REGISTRY.items()}
    assert nn.TENSOR_LOSSES is TENSOR_LOSSES
    assert nn.layers.mse is nn.tensor_losses.mse  # the old import path still works
    for table in (REGISTRY, LOSSES, TENSOR_LOSSES):
        with pytest.raises(TypeError):
            table["l1"] = None  # type: ignore[index]


def test_resolve_loss_names_callables_and_errors() -> None:
    assert resolve_loss("hinge") is REGISTRY["hinge"]

    def mine(o: Any, t: Any) -> Any:
        return o

    custom = resolve_loss(mine)
    assert custom == custom_loss(mine) and custom.scalar is custom.tensor is mine
    assert custom.name == "custom" and not custom.mean and custom.accuracy is None and custom.labels is rules.ANY
    with pytest.raises(ValueError, match="unknown loss 'l1'; choose one of mse, binary_cross_entropy, "
                                         "cross_entropy, hinge or pass a callable"):
        resolve_loss("l1")
    with pytest.raises(TypeError, match="loss must be a name or a callable, got int"):
        resolve_loss(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the two forms agree


def _data(name: str, rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Outputs (n, k) and valid targets for loss ``name``."""
    if name == "binary_cross_entropy":
        return rng.uniform(0.01, 0.99, size=(n, k)), rng.uniform(0.0, 1.0, size=(n, k))
    out = rng.normal(size=(n, k))
    if name == "cross_entropy":
        return rng.normal(size=(n, k + 1)), rng.integers(0, k + 1, size=n)
    if name == "hinge":
        return out, rng.choice([-1.0, 1.0], size=(n, k))
    return out, rng.normal(size=(n, k))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(REGISTRY)), st.integers(1, 5), st.integers(1, 3), st.integers(0, 2**31))
def test_every_entrys_scalar_and_tensor_forms_agree_on_random_data(name: str, n: int, k: int, seed: int) -> None:
    entry = REGISTRY[name]
    out, target = _data(name, np.random.default_rng(seed), n, k)
    t_out = Tensor(out, requires_grad=True)
    tensor_loss = entry.tensor(t_out, target)
    tensor_loss.backward()
    v_out = [[Value(float(x)) for x in row] for row in out]
    scalar_loss = entry.scalar(v_out, target.tolist())
    scalar_loss.backward()
    assert tensor_loss.item() == pytest.approx(scalar_loss.data, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(t_out.grad, [[v.grad for v in row] for row in v_out], rtol=1e-10, atol=1e-14)


def test_the_l2_penalty_forms_agree() -> None:
    mlp = nn.MLP(3, [4, 2], seed=0)
    seq = mlp.to_sequential()
    scalar, tensor = L2.scalar(mlp, 1e-3), L2.tensor(seq.parameters(), 1e-3)
    scalar.backward()
    tensor.backward()
    assert tensor.item() == pytest.approx(scalar.data, rel=1e-14)
    layer = mlp.layers[0]
    np.testing.assert_allclose(seq.layers[0].weight.grad, [[w.grad for w in n.w] for n in layer.neurons], rtol=1e-14)
    with pytest.raises(ValueError, match="no parameters"):
        L2.tensor([], 1e-3)


# ---------------------------------------------------------------- label checks, each loss, both paths

# (loss, bad labels for a 4-row batch, model outputs, the data set's error)
BAD_LABELS = [
    ("hinge", [1, 0, -1, 1], 1, r"hinge loss needs labels -1 or \+1, got 0 at row 1 \(use 2\*y - 1"),
    ("binary_cross_entropy", [0, 1, 2, 0], 1, r"binary_cross_entropy needs labels in \[0, 1\], got 2 at row 2"),
    ("cross_entropy", [0, 3, 1, 2], 3, r"label 3 at row 1 is outside the classes 0\.\.2"),
    ("cross_entropy", [0, -1, 1, 2], 3, r"label -1 at row 1 is outside the classes 0\.\.2"),
    ("mse", [0.5, 1.0, float("nan"), 0.0], 1, r"label at row 2 is (nan; labels must be finite|not finite)"),
]


@pytest.mark.parametrize("loss, y, nout, message", BAD_LABELS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_LABELS)])
def test_each_losss_label_check_raises_on_both_paths(loss: str, y: list[Any], nout: int, message: str) -> None:
    labels = REGISTRY[loss].labels
    with pytest.raises(ValueError, match=message):
        labels.check_list(list(y), nout)
    with pytest.raises(ValueError, match=message):
        labels.check_array(np.array(y), nout)


@pytest.mark.parametrize("loss, y, nout, message", BAD_LABELS[:4], ids=[b[0] for b in BAD_LABELS[:4]])
def test_fit_says_the_same_about_a_bad_label_on_both_paths(loss: str, y: list[Any], nout: int, message: str) -> None:
    X = [[0.1, 0.2], [0.3, -0.1], [-0.5, 0.4], [0.0, 0.9]]
    mlp = nn.MLP(2, [3, nout], output_activation="sigmoid", seed=0)
    errors = []
    for model, data in ((mlp, (X, y)), (mlp.to_sequential(), (np.array(X), np.array(y)))):
        with pytest.raises(ValueError, match=message) as info:
            nn.fit(model, *data, loss=loss, epochs=1, progress=False)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


@pytest.mark.parametrize("rule, good, bad", [(rules.SIGNS, [-1.0, 1.0], [0.0, 0.5, 2.0, float("nan")]),
                                             (rules.UNIT, [0.0, 0.3, 1.0], [-0.1, 1.5, float("nan")])])
def test_a_rule_is_one_predicate_for_numbers_and_arrays(rule: rules.Allowed, good: list[float],
                                                        bad: list[float]) -> None:
    assert all(rule.holds(v) for v in good) and not any(rule.holds(v) for v in bad)
    assert rule.valid(np.array(good)).all() and not rule.valid(np.array(bad)).any()
    assert not rule.holds("1") and not rule.holds([1.0])


@pytest.mark.parametrize("name, form", [("hinge", "scalar"), ("hinge", "tensor"),
                                        ("binary_cross_entropy", "scalar"), ("binary_cross_entropy", "tensor")])
def test_the_losses_name_a_bad_target_in_the_rules_words(name: str, form: str) -> None:
    """losses.hinge and tensor_losses.hinge (and both BCEs) raise the one rule's error."""
    rule = {"hinge": rules.SIGNS, "binary_cross_entropy": rules.UNIT}[name]
    fn: Callable[[Any, Any], Any] = getattr(REGISTRY[name], form)
    out: Any = [Value(0.5), Value(0.5)] if form == "scalar" else Tensor(np.array([0.5, 0.5]))
    with pytest.raises(ValueError) as info:
        fn(out, [1.0, 3.0])
    assert str(info.value) == str(rule.in_loss(1, 3.0))
    assert re.search(f"{rule.noun}s must {rule.verb} {re.escape(rule.allowed)}", str(info.value))


def test_class_labels_on_each_path() -> None:
    labels = REGISTRY["cross_entropy"].labels
    labels.check_list([0, 2, [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]], 3)  # indices, one-hot, distributions
    np.testing.assert_array_equal(labels.check_array(np.eye(3)[[2, 0]], 3), [2, 0])  # one-hot -> indices
    np.testing.assert_array_equal(labels.check_array(np.array([1.0, 2.0]), 3), [1, 2])
    with pytest.raises(ValueError, match="not one-hot or a distribution"):
        labels.check_list([[0.5, 0.6, 0.0]], 3)
    with pytest.raises(ValueError, match="label at row 0 is not one-hot"):
        labels.check_array(np.array([[0.2, 0.3, 0.5]]), 3)
    with pytest.raises(ValueError, match="label 1.5 at row 1 is not a class index"):
        labels.check_array(np.array([0.0, 1.5]), 3)
    with pytest.raises(ValueError, match="one-hot label at row 0 has 2 entries; the model has 3 outputs"):
        labels.check_list([[0, 1]], 3)
    assert rules.is_distribution([0.0, 1.0]) and not rules.is_distribution([0.5, 0.6])


def test_regression_labels_and_custom_losses() -> None:
    numbers = REGISTRY["mse"].labels
    numbers.check_list([[0.5, 1.0], [0.0, -2.0]], 2)
    with pytest.raises(TypeError, match="label at row 1 is not a number: str"):
        numbers.check_list([0.5, "a"], 1)
    with pytest.raises(ValueError, match="label at row 0 is one number; the model has 2 outputs"):
        numbers.check_list([0.5], 2)
    assert numbers.check_array(np.array([[1.0], [2.0]]), 1).shape == (2,)  # a column becomes n numbers
    rules.ANY.check_list([object()], None)  # a custom loss takes anything on the scalar path
    with pytest.raises(ValueError, match="label at row 1 is not finite"):
        rules.ANY.check_array(np.array([0.0, np.inf]), None)


# ---------------------------------------------------------------- accuracy rules


def test_the_accuracy_rule_is_the_entrys_or_the_labels() -> None:
    rule = {name: decision_rule(e.accuracy, [0, 1, 1], 1) for name, e in REGISTRY.items()}
    assert rule == {"mse": "threshold", "binary_cross_entropy": "threshold", "cross_entropy": "argmax",
                    "hinge": "sign"}
    assert decision_rule(None, [-1, 1], 1) == "sign"  # mse / custom: the labels decide
    assert decision_rule(REGISTRY["binary_cross_entropy"].accuracy, [-1, 1], 1) is None
    assert decision_rule(None, [0.5, 2.0], 1) is None
    assert decision_rule("sign", [-1, 1], 3) == "argmax"  # several outputs
    assert decision_rule(None, [[0, 1], [1, 0]], 2) == "argmax"  # label rows


def test_class_indices_may_be_numpy_ints_or_whole_floats_on_both_paths() -> None:
    labels = REGISTRY["cross_entropy"].labels
    y = [np.int64(2), 2.0, np.int32(0), 1]
    labels.check_list(y, 3)  # used to say "label 2 at row 0 is outside the classes 0..2"
    assert labels.check_array(np.array(y, dtype=float), 3).tolist() == [2, 2, 0, 1]
    assert nn.losses.cross_entropy([[0.0, 1.0, 2.0]], [np.int64(2)]).data == nn.losses.cross_entropy(
        [[0.0, 1.0, 2.0]], [2.0]).data == nn.losses.cross_entropy([[0.0, 1.0, 2.0]], [2]).data
    for bad in ([2.5], np.array([2.5])):
        with pytest.raises(ValueError, match=r"label 2\.5 at row 0 is not a class index"):
            labels.check_list(bad, 3) if isinstance(bad, list) else labels.check_array(bad, 3)
    with pytest.raises(ValueError, match=r"label 3\.0 at row 0 is outside the classes 0\.\.2"):
        labels.check_list([3.0], 3)
    model = nn.MLP(2, [3], seed=0)
    history = nn.fit(model, [[0.0, 1.0], [1.0, 0.0]], [np.int64(2), 1.0], loss="cross_entropy", progress=False,
                     epochs=2)
    assert len(history.loss) == 2
