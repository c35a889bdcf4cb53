"""Losses: values against torch float64, gradients against central differences (engine.gradcheck)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad.engine import Value, gradcheck, sum_values, topological_order
from tracegrad.nn import losses

from tests.support import require

finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
probs = st.floats(0.02, 0.98, allow_nan=False)


def torch():
    return require("torch")


def grads(vals: list[Value]) -> list[float]:
    return [v.grad for v in vals]


# ---------------------------------------------------------------- gradcheck, every loss


@settings(max_examples=25, deadline=None)
@given(st.lists(finite, min_size=2, max_size=5), st.data())
def test_gradcheck_mse(preds: list[float], data) -> None:
    targets = data.draw(st.lists(finite, min_size=len(preds), max_size=len(preds)))
    gradcheck(lambda *p: losses.mse(list(p), targets), preds, rtol=1e-5, atol=1e-7)
    gradcheck(lambda o: losses.squared_error(targets[0], o), preds[:1])


@settings(max_examples=25, deadline=None)
@given(st.lists(probs, min_size=1, max_size=4), st.data())
def test_gradcheck_binary_cross_entropy(ps: list[float], data) -> None:
    ys = data.draw(st.lists(st.sampled_from([0.0, 1.0, 0.3]), min_size=len(ps), max_size=len(ps)))
    gradcheck(lambda *p: losses.binary_cross_entropy(list(p), ys), ps, rtol=1e-5, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-30, 30, allow_nan=False), min_size=1, max_size=4), st.data())
def test_gradcheck_binary_cross_entropy_from_logits(zs: list[float], data) -> None:
    ys = data.draw(st.lists(st.sampled_from([0.0, 1.0, 0.5]), min_size=len(zs), max_size=len(zs)))
    gradcheck(lambda *z: losses.binary_cross_entropy(list(z), ys, from_logits=True), zs, rtol=1e-5, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.lists(finite, min_size=2, max_size=6), st.data())
def test_gradcheck_softmax_and_cross_entropy(logits: list[float], data) -> None:
    c = data.draw(st.integers(0, len(logits) - 1))
    gradcheck(lambda *s: losses.cross_entropy(list(s), c), logits, rtol=1e-5, atol=1e-7)
    one_hot = [1.0 if k == c else 0.0 for k in range(len(logits))]
    gradcheck(lambda *s: losses.cross_entropy(list(s), one_hot), logits, rtol=1e-5, atol=1e-7)
    gradcheck(lambda *s: losses.softmax(list(s))[c], logits, rtol=1e-5, atol=1e-7)
    gradcheck(lambda *s: losses.log_softmax(list(s))[c], logits, rtol=1e-5, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.lists(finite, min_size=1, max_size=5), st.data())
def test_gradcheck_hinge_and_max_margin(scores: list[float], data) -> None:
    labels = data.draw(st.lists(st.sampled_from([-1, 1]), min_size=len(scores), max_size=len(scores)))
    # keep away from the kink at y*s = 1, where the derivative jumps
    scores = [s if abs(1 - y * s) > 1e-3 else s + 0.01 for s, y in zip(scores, labels)]
    gradcheck(lambda *s: losses.hinge(list(s), labels), scores, rtol=1e-5, atol=1e-7)
    s, s_c = scores[0], scores[-1] + 0.37
    if abs(1 + s_c - s) > 1e-3:
        gradcheck(lambda a, b: losses.max_margin(a, b), [s, s_c], rtol=1e-5, atol=1e-7)


@settings(max_examples=15, deadline=None)
@given(st.lists(finite, min_size=1, max_size=5), st.floats(1e-5, 1.0))
def test_gradcheck_l2(params: list[float], alpha: float) -> None:
    gradcheck(lambda *p: losses.l2(list(p), alpha), params, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- values vs torch float64


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.floats(-20, 20, allow_nan=False), min_size=3, max_size=3), min_size=1, max_size=4),
       st.data())
def test_cross_entropy_batch_matches_torch(batch: list[list[float]], data) -> None:
    t = torch()
    targets = data.draw(st.lists(st.integers(0, 2), min_size=len(batch), max_size=len(batch)))
    leaves = [[Value(v) for v in row] for row in batch]
    loss = losses.cross_entropy(leaves, targets)
    loss.backward()
    ref_in = t.tensor(batch, dtype=t.float64, requires_grad=True)
    ref = t.nn.functional.cross_entropy(ref_in, t.tensor(targets))
    ref.backward()
    assert loss.data == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    for row, ref_row in zip(leaves, ref_in.grad.tolist()):
        assert [v.grad for v in row] == pytest.approx(ref_row, rel=1e-10, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=5), st.data())
def test_softmax_matches_torch(logits: list[float], data) -> None:
    t = torch()
    out = losses.softmax(logits)
    ref = t.softmax(t.tensor(logits, dtype=t.float64), dim=0).tolist()
    assert [v.data for v in out] == pytest.approx(ref, rel=1e-12, abs=1e-15)
    assert math.fsum(v.data for v in out) == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-40, 40, allow_nan=False), min_size=1, max_size=5), st.data())
def test_bce_matches_torch(zs: list[float], data) -> None:
    t = torch()
    ys = data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=len(zs), max_size=len(zs)))
    leaves = [Value(z) for z in zs]
    loss = losses.binary_cross_entropy(leaves, ys, from_logits=True)
    loss.backward()
    ref_in = t.tensor(zs, dtype=t.float64, requires_grad=True)
    ref = t.nn.functional.binary_cross_entropy_with_logits(ref_in, t.tensor(ys, dtype=t.float64))
    ref.backward()
    assert loss.data == pytest.approx(ref.item(), rel=1e-10, abs=1e-12)
    assert grads(leaves) == pytest.approx(ref_in.grad.tolist(), rel=1e-9, abs=1e-12)
    # probability form agrees where the probabilities are not clipped
    ps = [1 / (1 + math.exp(-z)) for z in zs if abs(z) < 20]
    if ps:
        ys2 = ys[: len(ps)]
        prob_loss = losses.binary_cross_entropy(ps, ys2).data
        ref2 = t.nn.functional.binary_cross_entropy(t.tensor(ps, dtype=t.float64), t.tensor(ys2, dtype=t.float64))
        assert prob_loss == pytest.approx(ref2.item(), rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(finite, min_size=1, max_size=5), st.data())
def test_mse_and_hinge_match_torch(preds: list[float], data) -> None:
    t = torch()
    targets = data.draw(st.lists(finite, min_size=len(preds), max_size=len(preds)))
    ref = t.nn.functional.mse_loss(t.tensor(preds, dtype=t.float64), t.tensor(targets, dtype=t.float64))
    assert losses.mse(preds, targets).data == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
    labels = [1.0 if v >= 0 else -1.0 for v in targets]
    ref_h = t.relu(1 - t.tensor(labels, dtype=t.float64) * t.tensor(preds, dtype=t.float64)).mean()
    assert losses.hinge(preds, labels).data == pytest.approx(ref_h.item(), rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------- the lecture, stability, errors


def test_lecture_values() -> None:
    assert losses.squared_error(1.0, 0.645).data == pytest.approx(0.126, abs=1e-3)
    assert losses.max_margin(3.0, 1.0).data == 0.0  # true window wins by 2 > margin
    assert losses.max_margin(1.0, 0.5).data == pytest.approx(0.5)
    s, s_c = Value(1.0), Value(0.5)
    losses.max_margin(s, s_c).backward()
    assert (s.grad, s_c.grad) == (-1.0, 1.0)  # the router sends the gradient through the margin term
    assert losses.l2([Value(1.0), Value(-2.0)], alpha=0.5).data == pytest.approx(2.5)


def test_huge_logits_are_stable() -> None:
    logits = [Value(1000.0), Value(0.0), Value(-1000.0)]
    loss = losses.cross_entropy(logits, 1)
    assert loss.data == pytest.approx(1000.0)
    loss.backward()
    assert [v.grad for v in logits] == pytest.approx([1.0, -1.0, 0.0])
    assert [v.data for v in losses.softmax([800.0, 800.0])] == [0.5, 0.5]
    z = Value(-800.0)
    bce = losses.binary_cross_entropy(z, 1.0, from_logits=True)
    bce.backward()
    assert bce.data == pytest.approx(800.0) and z.grad == pytest.approx(-1.0)
    p = Value(1.0)
    assert math.isfinite(losses.binary_cross_entropy(p, 0.0).data)  # clipped, not log(0)


def test_loss_errors() -> None:
    with pytest.raises(ValueError, match="class index 3 is outside the 3 classes 0..2"):
        losses.cross_entropy([1.0, 2.0, 3.0], 3)
    with pytest.raises(ValueError, match="target has 2 entries but there are 3 logits"):
        losses.cross_entropy([1.0, 2.0, 3.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="not a one-hot"):
        losses.cross_entropy([1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="2 samples of logits but 1 targets"):
        losses.cross_entropy([[1.0, 2.0], [3.0, 4.0]], [0])
    with pytest.raises(ValueError, match="labels must be -1 or \\+1"):
        losses.hinge([0.5], [0])
    with pytest.raises(ValueError, match="targets must lie in \\[0, 1\\]"):
        losses.binary_cross_entropy([0.5], [2.0])
    with pytest.raises(ValueError, match="not a probability"):
        losses.binary_cross_entropy([1.5], [1.0])
    with pytest.raises(ValueError, match="prediction has 2 values but the target has 3"):
        losses.mse([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="must be a Value or a number, got str"):
        losses.mse(["a"], [1.0])
    with pytest.raises(ValueError, match="at least one sample"):
        losses.mse([], [])
    with pytest.raises(ValueError, match="non-empty list of logits"):
        losses.softmax([])


# ---------------------------------------------------------------- Value targets stay in the graph


def _run(loss, preds: list[float], targets: list, as_values: bool) -> tuple[float, list[float], list[Value]]:
    p = [Value(x) for x in preds]
    t = [Value(float(x)) for x in targets] if as_values else targets
    out = loss(p, t)
    out.backward()
    return out.data, grads(p), t if as_values else []


@settings(max_examples=30, deadline=None)
@given(st.lists(finite, min_size=1, max_size=5), st.lists(probs, min_size=5, max_size=5), st.data())
def test_value_targets_give_the_same_numbers_and_their_own_gradient(preds, ps, data) -> None:
    t = torch()
    n = len(preds)
    real = data.draw(st.lists(finite, min_size=n, max_size=n))
    signs = data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n))
    bits = data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n))
    # keep the hinge away from its kink y*p = 1 (hypothesis likes p = +-1.0): there relu'(0) is 0 here and
    # clamp's 1 in torch, two valid subgradients that differ
    off_kink = [p if abs(1.0 - y * p) > 1e-6 else p + 0.5 for p, y in zip(preds, signs)]
    cases = [
        (losses.mse, preds, real, lambda p, y: ((p - y) ** 2).mean()),
        (losses.hinge, off_kink, signs, lambda p, y: (1 - y * p).clamp(min=0).mean()),
        (losses.binary_cross_entropy, ps[:n], bits,
         lambda p, y: t.nn.functional.binary_cross_entropy(p, y)),
    ]
    for loss, xs, ys, ref in cases:
        value, g, _ = _run(loss, xs, ys, as_values=False)
        value_v, g_v, tv = _run(loss, xs, ys, as_values=True)
        assert value_v == pytest.approx(value, rel=1e-15, abs=1e-15)  # the same arithmetic
        assert g_v == pytest.approx(g, rel=1e-15, abs=1e-15)
        # the targets are leaves of the graph now: their gradients match torch's
        pt = t.tensor(xs, dtype=t.float64)
        yt = t.tensor(ys, dtype=t.float64, requires_grad=True)
        ref(pt, yt).backward()
        if loss is not losses.binary_cross_entropy:  # torch gives no gradient for BCE's target
            assert [v.grad for v in tv] == pytest.approx(yt.grad.tolist(), rel=1e-9, abs=1e-12)


def test_value_targets_in_squared_error_one_hot_and_margin() -> None:
    y, o = Value(1.0), Value(0.645)
    c = losses.squared_error(y, o)
    c.backward()
    assert c.data == losses.squared_error(1.0, Value(0.645)).data
    assert y.grad == pytest.approx(2 * (1.0 - 0.645)) and o.grad == pytest.approx(-2 * (1.0 - 0.645))
    logits = [0.3, -1.2, 2.0]
    for target in ([0.0, 1.0, 0.0], [0.2, 0.3, 0.5]):
        value, g, _ = _run(losses.cross_entropy, logits, target, as_values=False)
        value_v, g_v, tv = _run(losses.cross_entropy, logits, target, as_values=True)
        assert value_v == pytest.approx(value, rel=1e-15) and g_v == pytest.approx(g, rel=1e-15, abs=1e-15)
        assert all(v.grad != 0.0 for v in tv)  # d/dt_k = -log softmax_k: zero terms stay in the graph
    margin = Value(1.0)
    j = losses.max_margin(2.0, 1.5, margin)
    j.backward()
    assert j.data == 0.5 and margin.grad == 1.0
    with pytest.raises(ValueError, match="hinge: label 0 is 0.5"):
        losses.hinge([Value(1.0)], [Value(0.5)])
    with pytest.raises(ValueError, match="target 0 is 2.0; targets must lie in"):
        losses.binary_cross_entropy([Value(0.5)], [Value(2.0)])
    with pytest.raises(ValueError, match="must be finite, got nan"):
        losses.mse([Value(0.5)], [Value(math.nan)])
    with pytest.raises(ValueError, match="not a one-hot vector"):
        losses.cross_entropy([0.1, 0.2], [Value(0.5), Value(0.6)])


def test_one_trace_covers_every_target() -> None:
    from tracegrad.engine import trace

    w = Value(0.7, "w")
    for loss, example, other in ((losses.hinge, 1.0, -1.0), (losses.binary_cross_entropy, 1.0, 0.0),
                                 (losses.mse, 0.3, -2.0)):
        def fn(x: Value, y: Value, loss=loss) -> Value:
            out = (w * x).sigmoid()
            return loss([out], [y])

        g = trace(fn, 0.5, example, params=[w])
        g.validate(0.9, other)  # the same program for another target: no TraceMismatchError
        want = fn(Value(0.9), other)
        assert g(0.9, other) == pytest.approx(want.data, rel=1e-15)


def test_l2_rejects_a_negative_alpha_and_raw_numbers_must_be_finite() -> None:
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        losses.l2([Value(1.0)], -1e-4)
    assert losses.l2([Value(3.0)], 0.0).data == 0.0
    with pytest.raises(ValueError, match="logit 1 must be finite, got nan"):
        losses.cross_entropy([1.0, math.nan], 0)
    with pytest.raises(ValueError, match="prediction mse\\[0\\] must be finite, got inf"):
        losses.mse([math.inf], [1.0])


# ---------------------------------------------------------------- the in-graph shift and traced class indices


def _log_softmax_with_a_constant_shift(s: list[Value]) -> list[Value]:
    """The previous formula: m taken from .data as a constant leaf (the reference for bit-for-bit checks)."""
    m = max(v.data for v in s)
    shifted = [v - m for v in s]
    log_z = sum_values([v.exp() for v in shifted]).log()
    return [v - log_z for v in shifted]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-700, 700, allow_nan=False), min_size=1, max_size=6), st.data())
def test_in_graph_shift_gives_the_constant_shift_numbers_bit_for_bit(logits: list[float], data) -> None:
    c = data.draw(st.integers(0, len(logits) - 1))
    got_in, want_in = [Value(v) for v in logits], [Value(v) for v in logits]
    got = losses.cross_entropy(got_in, c)
    want = -_log_softmax_with_a_constant_shift(want_in)[c]
    got.backward()
    want.backward()
    assert got.data == want.data
    assert grads(got_in) == grads(want_in)
    shift = [n for n in topological_order(got) if n.op == "max_shift"]
    assert len(shift) == 1 and shift[0].data == max(logits) and shift[0].op.gate == "stabiliser"
    m = max(logits)
    exps = [(Value(v) - m).exp() for v in logits]  # the previous softmax: a constant shift
    z = sum_values(exps)
    assert [p.data for p in losses.softmax(logits)] == [(e / z).data for e in exps]


@settings(max_examples=30, deadline=None)
@given(st.lists(finite, min_size=2, max_size=6), st.data())
def test_a_value_class_index_enters_the_arithmetic_with_the_same_numbers(logits: list[float], data) -> None:
    c = data.draw(st.integers(0, len(logits) - 1))
    a, b = [Value(v) for v in logits], [Value(v) for v in logits]
    by_index, by_value = losses.cross_entropy(a, c), losses.cross_entropy(b, Value(float(c)))
    by_index.backward()
    by_value.backward()
    assert by_value.data == by_index.data
    assert grads(b) == grads(a)


def test_one_trace_covers_every_class_index() -> None:
    from tracegrad.engine import trace

    w = [Value(0.3 * k - 0.5, f"w{k}") for k in range(4)]

    def fn(x: Value, c: Value) -> Value:
        return losses.cross_entropy([(wk * x).tanh() * 5.0 for wk in w], c)

    g = trace(fn, 0.5, 0, params=w)
    for x, c in ((0.9, 3), (-2.0, 1), (40.0, 2)):
        g.validate(x, c)  # the same program for every class and every sample's max
        want = fn(Value(x), c)
        assert g(x, c) == want.data
    with pytest.raises(ValueError, match=r"class index 2\.5 is not one of the 4 classes 0\.\.3"):
        fn(Value(0.5), Value(2.5))
    with pytest.raises(ValueError, match=r"class index 4\.0 is not one of the 4 classes"):
        fn(Value(0.5), Value(4.0))
