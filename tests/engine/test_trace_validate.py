"""``validate=True``: a replay either answers as the dynamic engine does, or raises TraceMismatchError.

A data-dependent branch can change the program in ways the op list alone does
not show: swapping which input feeds an op builds the same ops over other
slots.  The re-trace signature compares the wiring too (which slot feeds which
argument of which op, which input lands in which slot), and a fuzz of random
programs with branch flips and wiring changes checks the promise both ways.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracegrad.engine import TraceMismatchError, Value, sum_values, trace

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_validate_refuses_a_branch_that_swaps_which_input_goes_where() -> None:
    g = trace(lambda x, y: (x if x.data > y.data else y) * 2.0, 3.0, 1.0)
    assert g(4.0, 2.0, validate=True) == 8.0  # the same path: fine
    with pytest.raises(TraceMismatchError, match=r"input slots differ \(input number 0 feeds slot"):
        g(1.0, 5.0, validate=True)


def test_validate_refuses_a_branch_that_swaps_the_arguments_of_an_op() -> None:
    def f(x: Value, y: Value) -> Value:
        a, b = x * 1.0, y * 1.0
        return sum_values([a, b, a - b if x.data > y.data else b - a])

    g = trace(f, 3.0, 1.0)
    with pytest.raises(TraceMismatchError, match=r"wiring differ \(op \d+ reads slots"):
        g(1.0, 5.0, validate=True)


def test_validate_refuses_a_branch_that_swaps_two_parameters() -> None:
    w0, w1 = Value(2.0, "w0"), Value(3.0, "w1")
    g = trace(lambda x: x * (w0 if x.data > 0 else w1), 1.0, params=[w0, w1])
    with pytest.raises(TraceMismatchError, match="parameters differ"):
        g(-1.0, validate=True)


def test_validate_names_the_constant_that_changed() -> None:
    g = trace(lambda x: x * (2.0 if x.data > 0 else 3.0), 1.0, params=[])
    with pytest.raises(TraceMismatchError, match=r"constants differ \(constant 0 is 2\.0 in the trace, 3\.0"):
        g(-1.0, validate=True)


# ---------------------------------------------------------------- the fuzz

Step = Callable[[list[Value], list[Value]], Value]


def _random_program(rng: random.Random, n_inputs: int) -> Callable[..., Value]:
    """A random fn of ``n_inputs`` Values whose graph depends on the numbers: branch flips and rewiring."""
    steps: list[tuple[str, int, int, float]] = []
    for k in range(rng.randint(2, 7)):
        kind = rng.choice(("op", "pick", "swap", "const", "opflip", "param"))
        steps.append((kind, rng.randrange(n_inputs + k), rng.randrange(n_inputs + k), rng.choice((-1.5, 0.5, 2.0))))

    def fn(*xs: Value, params: list[Value]) -> Value:
        pool = list(xs)
        for kind, i, j, c in steps:
            a, b = pool[i], pool[j]
            if kind == "op":
                v = a * b + c
            elif kind == "pick":  # which input goes where
                v = (a if a.data > b.data else b) * c
            elif kind == "swap":  # which argument of the op it feeds
                v = a - b if a.data > c else b - a
            elif kind == "const":  # which constant
                v = a * (c if b.data > 0 else 1.0 - c)
            elif kind == "opflip":  # which op
                v = (a * b if a.data < b.data else a + b).tanh()
            else:  # which parameter
                v = a * params[0] + b * params[1] if a.data > 0 else a * params[1] + b * params[0]
            pool.append(v)
        return pool[-1]  # inputs it does not read are appended last: a pick moves them

    return fn


NUMBER = st.sampled_from((-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), first=st.lists(NUMBER, min_size=3, max_size=3),
       second=st.lists(NUMBER, min_size=3, max_size=3), mode=st.sampled_from(("python", "numpy")))
def test_a_validated_replay_answers_as_the_dynamic_engine_or_raises(seed: int, first: list[float],
                                                                     second: list[float], mode: str) -> None:
    rng = random.Random(seed)
    fn = _random_program(rng, 3)
    params = [Value(0.7, "p0"), Value(-1.3, "p1")]
    g = trace(lambda *xs: fn(*xs, params=params), *first, params=params, replay=mode)
    try:
        got = g(*second, validate=True)
    except TraceMismatchError:
        return
    for p in params:
        p.grad = 0.0
    g.backward()
    replay_grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    leaves = [Value(x) for x in second]
    want = fn(*leaves, params=params)
    want.backward()
    assert got == pytest.approx(want.data, rel=1e-12, abs=1e-12)
    assert replay_grads == pytest.approx([p.grad for p in params], rel=1e-12, abs=1e-12)


def test_the_fuzz_sees_both_outcomes() -> None:
    """The generator makes programs that validate and programs that flip (so the fuzz tests something)."""
    outcomes: dict[str, int] = {"same": 0, "mismatch": 0}
    rng = random.Random(13)
    for _ in range(200):
        fn = _random_program(rng, 3)
        params = [Value(0.7), Value(-1.3)]
        xs: list[Any] = [rng.choice((-1.0, 0.5, 2.0)) for _ in range(6)]
        g = trace(lambda *v, fn=fn, params=params: fn(*v, params=params), *xs[:3], params=params)
        try:
            g.validate(*xs[3:])
            outcomes["same"] += 1
        except TraceMismatchError:
            outcomes["mismatch"] += 1
    assert outcomes["same"] > 20 and outcomes["mismatch"] > 20, outcomes
