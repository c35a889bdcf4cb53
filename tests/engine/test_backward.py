"""The backward pass: the lecture's 2-2-1 network, accumulation semantics, deep chains, schedules."""

from __future__ import annotations

import math

import pytest
from tracegrad.engine import Value, backward, backward_schedule, topological_order, zero_grad

X1, X2 = 0.5, 0.3
W = (0.7, 0.3, 0.4, 0.6, 0.55, 0.45)
TARGET = 1.0


def lecture_network() -> tuple[Value, dict[str, Value]]:
    """Seed 000's 2-2-1 sigmoid network, C = (y - o1)^2; w1, w3 feed h1 and w2, w4 feed h2."""
    x1, x2 = Value(X1, "x1"), Value(X2, "x2")
    w = {f"w{i + 1}": Value(v, f"w{i + 1}") for i, v in enumerate(W)}
    z1 = w["w1"] * x1 + w["w3"] * x2
    z2 = w["w2"] * x1 + w["w4"] * x2
    h1, h2 = z1.sigmoid(), z2.sigmoid()
    z3 = w["w5"] * h1 + w["w6"] * h2
    o1 = z3.sigmoid()
    c = (TARGET - o1) ** 2
    nodes = {"z1": z1, "z2": z2, "h1": h1, "h2": h2, "z3": z3, "o1": o1, "C": c, **w}
    return c, nodes


def reference_221() -> dict[str, float]:
    """The same network by hand with the chain rule (independent of the engine)."""

    def sig(z: float) -> float:
        return 1.0 / (1.0 + math.exp(-z))

    w1, w2, w3, w4, w5, w6 = W
    z1, z2 = w1 * X1 + w3 * X2, w2 * X1 + w4 * X2
    h1, h2 = sig(z1), sig(z2)
    z3 = w5 * h1 + w6 * h2
    o1 = sig(z3)
    c = (TARGET - o1) ** 2
    d_o1 = -2 * (TARGET - o1)
    d_z3 = d_o1 * o1 * (1 - o1)
    d_h1, d_h2 = d_z3 * w5, d_z3 * w6
    d_z1, d_z2 = d_h1 * h1 * (1 - h1), d_h2 * h2 * (1 - h2)
    return {
        "z1": z1, "z2": z2, "h1": h1, "h2": h2, "z3": z3, "o1": o1, "C": c,
        "dw1": d_z1 * X1, "dw2": d_z2 * X1, "dw3": d_z1 * X2, "dw4": d_z2 * X2,
        "dw5": d_z3 * h1, "dw6": d_z3 * h2,
    }


def test_lecture_221_forward_matches_the_slides_numbers() -> None:
    c, n = lecture_network()
    assert n["z1"].data == pytest.approx(0.47)
    assert n["z2"].data == pytest.approx(0.33)
    assert n["o1"].data == pytest.approx(0.645, abs=1e-3)
    assert c.data == pytest.approx(0.126, abs=1e-3)


def test_lecture_221_all_six_weight_gradients_match_the_chain_rule() -> None:
    c, n = lecture_network()
    c.backward()
    ref = reference_221()
    for key in ("z1", "z2", "h1", "h2", "z3", "o1", "C"):
        assert n[key].data == pytest.approx(ref[key], rel=1e-14)
    for i in range(1, 7):
        assert n[f"w{i}"].grad == pytest.approx(ref[f"dw{i}"], rel=1e-12), f"w{i}"


def test_second_backward_doubles_leaves_and_recomputes_interior() -> None:
    c, n = lecture_network()
    c.backward()
    first = {k: v.grad for k, v in n.items()}
    c.backward()
    for k, v in n.items():
        if v.is_leaf():
            assert v.grad == pytest.approx(2 * first[k], rel=1e-15), k
        else:
            assert v.grad == pytest.approx(first[k], rel=1e-15), k


def test_zero_grad_resets_leaves() -> None:
    c, n = lecture_network()
    c.backward()
    weights = [n[f"w{i}"] for i in range(1, 7)]
    zero_grad(weights)
    assert all(w.grad == 0.0 for w in weights)


def test_backward_from_a_leaf_accumulates() -> None:
    x = Value(1.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_backward_accepts_a_seed_gradient() -> None:
    x = Value(3.0)
    y = x * x
    y.backward(0.5)
    assert x.grad == 3.0
    with pytest.raises(TypeError, match="seed"):
        y.backward("1")  # type: ignore[arg-type]


def test_topological_order_puts_parents_first_and_visits_once() -> None:
    a, b = Value(1.0, "a"), Value(2.0, "b")
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    assert len(order) == len({id(n) for n in order}) == 5
    pos = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for p in node.parents:
            assert pos[id(p)] < pos[id(node)]
    assert order[-1] is e


def test_deep_chain_of_200k_nodes_needs_no_recursion() -> None:
    x = Value(1.0, "x")
    y = x
    for _ in range(200_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_wide_fan_out_adds_every_copy() -> None:
    x = Value(2.0)
    terms = [x * float(k) for k in range(100)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    total.backward()
    assert x.grad == sum(range(100))


def test_backward_schedule_replays_the_same_loop_without_touching_grads() -> None:
    c, n = lecture_network()
    steps = backward_schedule(c)
    assert all(v.grad == 0.0 for v in n.values())  # nothing disturbed
    c.backward()
    final: dict[int, float] = {}
    for step in steps:
        assert step.node.parents
        for e in step.edges:
            assert e.contribution == pytest.approx(e.local * step.upstream)
            final[id(e.parent)] = e.accumulated
    for i in range(1, 7):
        w = n[f"w{i}"]
        assert final[id(w)] == pytest.approx(w.grad, rel=1e-15)
    assert steps[0].node is c and steps[0].upstream == 1.0


def test_module_level_backward_equals_method() -> None:
    c1, n1 = lecture_network()
    c2, n2 = lecture_network()
    c1.backward()
    backward(c2)
    assert [n1[f"w{i}"].grad for i in range(1, 7)] == [n2[f"w{i}"].grad for i in range(1, 7)]
