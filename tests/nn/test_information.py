"""nn.entropy and nn.kl_divergence: the closed forms, H(P, Q) = H(P) + KL(P‖Q), gradients, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracegrad import engine, nn
from tracegrad.engine import Tensor, Value
from tracegrad.nn.losses import softmax

from tests.support import require

logits = st.lists(st.floats(-4.0, 4.0), min_size=2, max_size=6)


def _probs(zs: list[float]) -> list[float]:
    e = np.exp(np.array(zs) - max(zs))
    return (e / e.sum()).tolist()


def test_entropy_of_a_fair_coin_is_ln_2_and_of_a_certain_outcome_is_0() -> None:
    assert nn.entropy([0.5, 0.5]).data == pytest.approx(math.log(2.0), rel=1e-15)
    assert nn.entropy([1.0, 0.0, 0.0]).data == 0.0  # 0 ln 0 = 0
    assert nn.entropy([0.25] * 4).data == pytest.approx(math.log(4.0), rel=1e-15)


@settings(max_examples=60, deadline=None)
@given(logits, logits)
def test_cross_entropy_is_entropy_plus_kl(zp: list[float], zq: list[float]) -> None:
    n = min(len(zp), len(zq))
    p, q = _probs(zp[:n]), _probs(zq[:n])
    cross = -sum(pi * math.log(qi) for pi, qi in zip(p, q))
    kl = nn.kl_divergence(p, q).data
    assert cross == pytest.approx(nn.entropy(p).data + kl, rel=1e-9, abs=1e-12)
    assert kl >= -1e-15  # Gibbs' inequality: KL >= 0
    assert nn.kl_divergence(p, p).data == pytest.approx(0.0, abs=1e-15)


def test_kl_is_not_symmetric() -> None:
    p, q = [0.9, 0.1], [0.5, 0.5]
    assert nn.kl_divergence(p, q).data != pytest.approx(nn.kl_divergence(q, p).data, rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(logits)
def test_gradients_through_softmax_pass_gradcheck(zs: list[float]) -> None:
    target = _probs([0.3 * k for k in range(len(zs))])
    engine.gradcheck(lambda *v: nn.entropy(softmax(list(v))), zs, rtol=1e-5, atol=1e-7)
    engine.gradcheck(lambda *v: nn.kl_divergence(target, softmax(list(v))), zs, rtol=1e-5, atol=1e-7)


def test_tensor_forms_match_the_scalar_forms_and_torch() -> None:
    torch = require("torch")
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(4, 5))
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    Qz = Tensor(rng.normal(size=(4, 5)), requires_grad=True)
    Q = Qz.softmax(axis=-1)
    h, kl = nn.entropy(P), nn.kl_divergence(P, Q)
    assert h.shape == (4,) and kl.shape == (4,)
    for i in range(4):
        assert h.data[i] == pytest.approx(nn.entropy(P[i].tolist()).data, rel=1e-12)
        assert kl.data[i] == pytest.approx(nn.kl_divergence(P[i].tolist(), Q.data[i].tolist()).data, rel=1e-12)
    kl.sum().backward()
    tz = torch.tensor(Qz.data, requires_grad=True)
    tkl = torch.nn.functional.kl_div(torch.log_softmax(tz, dim=-1), torch.tensor(P), reduction="sum")
    tkl.backward()
    assert kl.data.sum() == pytest.approx(tkl.item(), rel=1e-12)
    np.testing.assert_allclose(Qz.grad, tz.grad.numpy(), rtol=1e-10, atol=1e-12)
    th = torch.special.entr(torch.tensor(P)).sum(dim=-1).numpy()
    np.testing.assert_allclose(h.data, th, rtol=1e-12)


def test_a_zero_probability_contributes_nothing_on_the_tensor_path() -> None:
    P = Tensor(np.array([[1.0, 0.0], [0.5, 0.5]]), requires_grad=True)
    h = nn.entropy(P)
    np.testing.assert_allclose(h.data, [0.0, math.log(2.0)], rtol=1e-15)
    h.sum().backward()
    assert np.all(np.isfinite(P.grad))


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: nn.entropy([0.5, 0.6]), ValueError, "sum to 1"),
    (lambda: nn.entropy([1.5, -0.5]), ValueError, r"probabilities in \[0, 1\]"),
    (lambda: nn.entropy([]), TypeError, "non-empty"),
    (lambda: nn.entropy("ab"), TypeError, "non-empty list"),
    (lambda: nn.entropy([0.5, "x"]), TypeError, r"p\[1\]"),
    (lambda: nn.kl_divergence([0.5, 0.5], [1.0, 0.0]), ValueError, "infinite"),
    (lambda: nn.kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5]), ValueError, "3"),
    (lambda: nn.kl_divergence(np.array([[0.5, 0.5]]), np.array([0.5, 0.5])), ValueError, "shape"),
    (lambda: nn.entropy(np.array(1.0)), ValueError, "last axis"),
    (lambda: nn.entropy([Value(math.nan), Value(1.0)]), ValueError, "probabilities"),
])
def test_bad_distributions_are_refused_with_a_clear_error(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()
