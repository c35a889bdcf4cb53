"""Value: construction, conversion, display, graph bookkeeping and memory hygiene."""

from __future__ import annotations

import gc
import threading
from fractions import Fraction

import numpy as np
import pytest
from tracegrad.engine import Value, current_scope, no_grad, scope


@pytest.mark.parametrize("data", [3, True, np.float32(1.5), np.int64(7), np.float64(2.5), Fraction(1, 4)])
def test_numbers_are_converted_to_python_floats(data) -> None:
    v = Value(data)
    assert type(v.data) is float and v.data == float(data)


@pytest.mark.parametrize("data", ["1.0", None, [1.0], 1 + 2j, np.array([1.0, 2.0]), {"a": 1}])
def test_non_numbers_are_refused_with_their_type_named(data) -> None:
    with pytest.raises(TypeError, match=type(data).__name__):
        Value(data)


def test_label_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)  # type: ignore[arg-type]


def test_new_value_is_a_leaf_with_zero_grad() -> None:
    v = Value(2.0, label="x")
    assert (v.data, v.grad, v.label, v.op, v.parents, v.local_grads) == (2.0, 0.0, "x", "", (), ())
    assert v.is_leaf()


def test_value_uses_slots() -> None:
    v = Value(1.0)
    assert not hasattr(v, "__dict__")
    with pytest.raises(AttributeError):
        v.something = 1  # type: ignore[attr-defined]


def test_repr_shows_data_grad_op_and_label() -> None:
    o = Value(0.47).sigmoid()
    o.label = "o1"
    o.grad = -0.70862
    assert repr(o) == "Value(data=0.6154, grad=-0.7086, op='sigmoid', label='o1')"
    assert repr(Value(2.0)) == "Value(data=2, grad=0)"


def test_fan_out_keeps_both_edges() -> None:
    x = Value(3.0, "x")
    y = x + x
    assert y.parents == (x, x) and y.local_grads == (1.0, 1.0)
    y.backward()
    assert x.grad == 2.0  # the copy gate adds


def test_unsupported_operand_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        Value(1.0) + "a"  # type: ignore[operator]
    with pytest.raises(TypeError):
        Value(1.0) * [1.0]  # type: ignore[operator]
    with pytest.raises(TypeError):
        Value(1.0) ** "2"  # type: ignore[operator]
    with pytest.raises(TypeError, match="max"):
        Value(1.0).max("2")
    with pytest.raises(TypeError, match="slope"):
        Value(1.0).leaky_relu("0.1")  # type: ignore[arg-type]


def test_graph_is_freed_by_reference_counting_with_gc_off() -> None:
    def live_values() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is Value)

    gc.collect()
    gc.disable()
    try:
        before = live_values()
        x = Value(2.0)
        y = (x * 3 + 1).tanh() * x
        y.backward()
        assert live_values() == before + 7
        del x, y
        assert live_values() == before  # no cycle kept any node alive
    finally:
        gc.enable()


def test_nodes_hold_no_reference_cycles() -> None:
    gc.collect()  # earlier tests' garbage must not count against this graph
    gc.disable()
    try:
        x = Value(1.0)
        for _ in range(200):
            x = (x * 1.0001 + 0.5).relu()
        x.backward()
        del x
        assert gc.collect() == 0, "the graph left garbage only the cycle collector could free"
    finally:
        gc.enable()


def test_no_grad_records_no_parents() -> None:
    x = Value(2.0)
    with no_grad():
        y = x * x
    assert y.parents == () and y.op == "" and y.data == 4.0
    z = x * x
    assert z.parents == (x, x)


def test_no_grad_is_thread_local() -> None:
    seen = {}

    def worker() -> None:
        x = Value(1.0)
        seen["parents"] = (x + x).parents

    with no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert len(seen["parents"]) == 2


def test_scope_is_recorded_on_every_node_made_inside() -> None:
    x = Value(1.0)
    with scope("layers"), scope("0"):
        assert current_scope() == "layers.0"
        y = x * 2
        with scope("neurons"), scope("3"):
            z = y.relu()
    w = z + 1
    assert (x.scope, y.scope, z.scope, w.scope) == ("", "layers.0", "layers.0.neurons.3", "")
    with pytest.raises(TypeError):
        with scope(""):
            pass
