"""Trace.inspect, the public replay: every slot's value, local gradients and gradient, privately."""

from __future__ import annotations

import numpy as np
import pytest
from tracegrad import engine
from tracegrad.engine import Trace, Value, trace
from tracegrad.engine.trace_replay import Replay


def lecture() -> tuple[Trace, Value, Value, object]:
    w, b = Value(0.7, "w"), Value(0.1, "b")

    def f(x: Value, y: Value) -> Value:
        return ((w * x + b).sigmoid() - y) ** 2

    return trace(f, 0.5, 1.0, params=[w, b]), w, b, f


def test_inspect_matches_the_dynamic_graph_node_by_node() -> None:
    g, w, b, f = lecture()
    x, y = Value(2.0), Value(0.0)
    loss = f(x, y)  # type: ignore[operator]
    loss.backward()
    nodes = [n for n in engine.topological_order(loss) if n.parents]  # the order the trace recorded
    want = {"w": w.grad, "b": b.grad, "x0": x.grad, "x1": y.grad}
    engine.zero_grad([w, b])
    r = g.inspect(2.0, 0.0)
    assert isinstance(r, Replay) and r.inputs == [2.0, 0.0]
    assert [r.values[ins.out] for ins in g.ops] == [n.data for n in nodes]
    assert r.local_grads == [n.local_grads for n in nodes]
    assert r.output == loss.data and r.grads[g.output] == 1.0
    slot = {s.name: s.index for s in g.slots}
    assert {name: r.grads[slot[name]] for name in want} == want
    assert g.inspect(2.0, 0.0, grad=3.0).grads[slot["w"]] == pytest.approx(3 * want["w"])
    assert g.inspect(2.0, 0.0, grad=None).grads is None


def test_inspect_is_private_and_defaults_to_the_last_replay() -> None:
    g, w, b, _ = lecture()
    assert g.inspect().inputs == [0.5, 1.0]  # the traced example
    g(2.0, 0.0)
    g.backward()
    before = (w.grad, b.grad, g.aux, g.last_inputs, g.input_grads)
    assert g.inspect().inputs == [2.0, 0.0]  # the last g(...) replay
    g.inspect(1.0, 1.0)
    g.inspect(np.array([1.0, 3.0]), np.array([0.0, 1.0]), batch=True)
    assert (w.grad, b.grad, g.aux, g.last_inputs, g.input_grads) == before
    g.backward()  # still differentiates g(2.0, 0.0)
    assert w.grad == pytest.approx(2 * before[0])
    g.batch([0.1, 0.2], [1.0, 0.0])
    assert g.inspect().inputs == [0.5, 1.0]  # after a batch: the example again


def test_inspect_batch_is_the_array_rules_per_sample() -> None:
    w = Value(0.5, "w")
    g = trace(lambda x: ((w * x).tanh() + (w * w).relu(), [w * x, w * w]), 1.0, params=[w])
    X = np.array([0.3, -2.0, 4.0])
    r = g.inspect(X, batch=True)
    assert len(r.values) == len(g.slots) and len(r.inputs) == 1 and r.inputs[0].tolist() == X.tolist()
    assert [a.tolist() for a in r.aux] == [(0.5 * X).tolist(), [0.25] * 3]  # per sample, as g.batch's
    for j, x in enumerate(X.tolist()):
        one = g.inspect(x)

        def at(v: object, j: int = j) -> float:
            return v if np.ndim(v) == 0 else v[j]  # type: ignore[index, return-value]

        assert r.output[j] == pytest.approx(one.output, rel=1e-15)
        assert [at(v) for v in r.grads] == pytest.approx(one.grads, rel=1e-15)
        assert [at(v) for v in r.values] == pytest.approx(one.values, rel=1e-15)
        for got, want in zip(r.local_grads, one.local_grads):
            assert [at(d) for d in got] == pytest.approx(list(want), rel=1e-15)
    with pytest.raises(ValueError, match=r"log: .*\(replay of t0 = log\(x0\), over a batch, sample \d+\)"):
        trace(lambda x: x.log(), 1.0).inspect([1.0, -1.0], batch=True)


def test_inspect_errors_name_the_instruction() -> None:
    g, *_ = lecture()
    with pytest.raises(ValueError, match="structure"):
        g.inspect(1.0)
    with pytest.raises(ValueError, match=r"log: .* \(replay of t0 = log\(x0\); inputs: x0=-1\.0\)"):
        trace(lambda x: x.log(), 1.0).inspect(-1.0)
    with pytest.raises(TypeError, match="seed gradient"):
        g.inspect(1.0, 1.0, grad="1")  # type: ignore[arg-type]


def test_rebuild_puts_flat_numbers_back_into_the_arguments() -> None:
    g = trace(lambda xs, y: xs[0][1] * y, [[1.0, 2.0], [3.0, 4.0]], 5.0)
    assert g.rebuild([1.0, 2.0, 3.0, 4.0, 5.0]) == [[[1.0, 2.0], [3.0, 4.0]], 5.0]
    assert g(*g.rebuild([0.0, 7.0, 0.0, 0.0, 2.0])) == 14.0
    with pytest.raises(ValueError, match="got 2 numbers, the trace takes 5"):
        g.rebuild([1.0, 2.0])
    h = trace(lambda x: x * 2.0, 1.0)
    assert h(np.array(3.0)) == 6.0  # a 0-d array is a number


def test_from_graph_replays_a_graph_already_built() -> None:
    w = Value(-0.4, "w")
    xs = [Value(0.0), Value(0.0)]
    outs = [(w * xs[0] + xs[1]).relu(), xs[0] * xs[1]]
    g = Trace.from_graph(outs[0], xs, aux=outs)
    assert g(2.0, 3.0) == pytest.approx(2.2) and g.aux == [pytest.approx(2.2), 6.0]
    w.data = 1.0  # every other leaf is a parameter: read at each replay
    r = g.inspect(np.array([1.0, -5.0]), np.array([1.0, 1.0]), batch=True, grad=None)
    assert [a.tolist() for a in r.aux] == [[2.0, 0.0], [1.0, -5.0]]
    with pytest.raises(TypeError, match="no fn to re-trace"):
        g.validate(1.0, 2.0)
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a leaf Value"):
        Trace.from_graph(outs[0], [outs[1]])
    with pytest.raises(TypeError, match="output must be a Value"):
        Trace.from_graph(1.0, xs)  # type: ignore[arg-type]
