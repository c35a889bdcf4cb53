"""``nn.TracedStep`` and ``nn.fit(trace=True)`` make no reference cycles: freed on drop with the collector off.

A Trace keeps the function it re-traces; the step's programs hold the model
and the loss, never the step itself, so the step, its traces and the model go
the moment they are dropped.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest
from tracegrad import engine, nn
from tracegrad.engine import Value

X = np.random.default_rng(0).normal(size=(12, 2))
Y_SIGN = np.where(X[:, 0] > 0, 1.0, -1.0)
Y_CLASS = (X[:, 0] > 0).astype(int)


def _custom(outputs: list[Value], targets: list[Any]) -> Value:
    # reads float(y): each distinct batch of targets is baked into its own trace
    return engine.sum_values([(o - float(t)) ** 2 for o, t in zip(outputs, targets)]) * (1.0 / len(targets))


def _fit(loss: Any, y: np.ndarray, nout: int, **kw: Any) -> weakref.ref[Any]:
    model = nn.MLP(2, [4, nout], seed=0)
    nn.fit(model, X, y, loss=loss, epochs=3, batch_size=4, progress=False, seed=1, trace=True, **kw)
    return weakref.ref(model)


@pytest.mark.parametrize(("loss", "y", "nout", "kw"), [
    pytest.param("hinge", Y_SIGN, 1, {"l2": 1e-3}, id="hinge + l2"),
    pytest.param("mse", Y_SIGN, 1, {}, id="mse"),
    pytest.param("cross_entropy", Y_CLASS, 2, {}, id="cross_entropy"),
    pytest.param(_custom, Y_SIGN, 1, {}, id="custom loss with float(y)"),
])
def test_fit_with_trace_leaves_nothing_for_the_collector(loss: Any, y: np.ndarray, nout: int, kw: dict[str, Any],
                                                         collector_off: None) -> None:
    _fit(loss, y, nout, **kw)  # warm-up: first calls fill process-wide caches
    gc.collect()
    ref = _fit(loss, y, nout, **kw)
    assert ref() is None, "the model outlived fit: something holds it in a cycle"
    assert gc.collect() == 0


def test_a_dropped_traced_step_is_freed_with_its_traces(collector_off: None) -> None:
    def make() -> tuple[weakref.ref[Any], weakref.ref[Any]]:
        model = nn.MLP(2, [3, 1], seed=0)
        ps = model.parameters()
        step = nn.TracedStep(model, "mse", ps, zero_grad=model.zero_grad, update=lambda: None, l2=1e-3)
        step([[0.5, 1.0], [1.0, -1.0]], [1.0, -1.0])
        baked = nn.TracedStep(model, "mse", ps, zero_grad=model.zero_grad, update=lambda: None,
                              targets="constant", batched=False)
        baked([[0.5, 1.0]], [1.0])
        return weakref.ref(step), weakref.ref(baked)

    make()
    gc.collect()
    refs = make()
    assert all(r() is None for r in refs)
    assert gc.collect() == 0
