"""No reference cycles: with the collector off, whatever the engine's public entry points make is freed on drop.

Each case runs once to warm up (first calls fill caches that live for the
process: bound ops, numpy's lazy imports), then again with ``gc`` disabled;
after it drops everything, ``gc.collect()`` must find nothing, and a weak
reference to the graph's root (or the Trace) must already be dead.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tracegrad import engine
from tracegrad.engine import Tensor, Trace, Value, grad, trace


def _freed(make: Callable[[], Any]) -> None:
    """``make()`` returns an object to watch; once it is dropped, it is dead and the collector finds nothing.

    (A ``Value`` has no weak-reference slot - 176 bytes a node - so for Values
    the collector's count alone is the check.)
    """
    make()  # warm-up
    gc.collect()
    root = make()
    ref = None if type(root) is Value else weakref.ref(root)
    del root
    assert ref is None or ref() is None, "dropped, but still alive: something holds it in a cycle"
    assert gc.collect() == 0


def _value_graph() -> Any:
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    with engine.scope("layer"):
        L = ((a * b + 1.0).tanh() / (b.exp() + 2.0) - a.relu() ** 2 + a.max(b)).sigmoid()
    L.backward()
    engine.backward_schedule(L)
    engine.topological_order(L)
    with engine.no_grad():
        a * b
    with engine.detect_anomaly():
        (a * b).backward()
    return L


def _tensor_graph() -> Any:
    W = Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
    x = Tensor(np.array([[1.0, 2.0]]))
    h = engine.linear(x, W).tanh()
    z = engine.concatenate([h, engine.softmax(h, axis=1)], axis=1)
    loss = engine.cross_entropy(z, np.array([1])) + (engine.matmul(h, W) ** 2).sum()
    loss.backward()
    return loss


def _grad_of_grad() -> Any:
    x = Value(1.0, "x")
    dy = grad(x.tanh() * x, x, create_graph=True)
    d2y = grad(dy, x, create_graph=True)
    grad(d2y, x)
    W = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    gW = grad((W.sigmoid() * W).sum(), W, create_graph=True)
    grad((gW * gW).sum(), W)
    return d2y


def _checks() -> Any:
    w = Value(0.5)
    engine.gradcheck(lambda x: (x * w).tanh(), [Value(0.3)])
    engine.gradcheck(lambda t: (t * t).sum(), [np.array([0.5, 2.0])])
    engine.numerical_grad(lambda x: x.exp(), [1.0])
    return w


def _trace_everything(mode: str) -> Callable[[], Trace]:
    def make() -> Trace:
        w = Value(0.5, "w")
        g = trace(lambda x, y: ((x * w + y).tanh() / 2.0, [x * y]), 1.0, 2.0, params=[w], replay=mode)
        g(1.0, 3.0, validate=True)
        g.backward(inputs=True)
        g.batch(np.ones(4), np.arange(4.0))
        g.backward()
        g.inspect(1.0, 2.0)
        g.inspect(np.ones(3), np.ones(3), batch=True)
        str(g), repr(g), g.source
        with pytest.raises(ZeroDivisionError):  # an error on the way: its traceback frames are let go too
            trace(lambda x: 1.0 / x, 1.0)(0.0)
        return g

    return make


def _from_graph() -> Trace:
    x = Value(1.0, "x")
    out = (x * 3.0).relu()
    g = Trace.from_graph(out, [x])
    g(2.0)
    g.backward()
    return g


@pytest.mark.parametrize("make", [
    pytest.param(_value_graph, id="Value graph, backward, schedule, no_grad, anomaly"),
    pytest.param(_tensor_graph, id="Tensor graph"),
    pytest.param(_grad_of_grad, id="grad(create_graph=True)"),
    pytest.param(_checks, id="gradcheck"),
    pytest.param(_trace_everything("python"), id="trace python: call, validate, backward, batch, inspect"),
    pytest.param(_trace_everything("numpy"), id="trace numpy"),
    pytest.param(_from_graph, id="Trace.from_graph"),
])
def test_dropped_objects_are_freed_without_the_collector(make: Callable[[], Any], collector_off: None) -> None:
    _freed(make)


def test_many_dropped_traces_leave_nothing_for_the_collector(collector_off: None) -> None:
    refs = []
    for k in range(20):
        g = trace(lambda x, k=k: (x * float(k)).sigmoid(), 1.0)
        g(2.0)
        g.backward()
        refs.append(weakref.ref(g))
        del g
    assert all(r() is None for r in refs)
    assert gc.collect() == 0
