"""The perceptron of seeds 000/001: the lecture's first update, convergence, and honest failure on XOR."""

from __future__ import annotations

import warnings

import pytest
from tracegrad import nn
from tracegrad.nn.perceptron import ConvergenceWarning


def lecture_perceptron() -> nn.Perceptron:
    return nn.Perceptron(2, threshold=0.5, lr=0.01, weights=[0.3, 0.2])


def test_first_update_is_the_lectures() -> None:
    p = lecture_perceptron()
    assert p.net([0.8, 0.6]) == pytest.approx(0.36)  # 0.24 + 0.12 < 0.5: predicts 0
    assert p.predict([0.8, 0.6]) == 0
    assert p.step([0.8, 0.6], 1) == 1
    assert p.weights == pytest.approx([0.308, 0.206], abs=1e-15)


def test_no_update_when_right() -> None:
    p = lecture_perceptron()
    assert p.step([0.1, 0.2], 0) == 0
    assert p.weights == [0.3, 0.2]
    assert p.step([2.0, 2.0], 0) == -1  # predicted 1, label 0: w <- w - eta x
    assert p.weights == pytest.approx([0.28, 0.18])


def test_fit_converges_on_the_weather_table() -> None:
    X, y = nn.data.weather()
    p = lecture_perceptron()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = p.fit(X, y, epochs=1000)
    assert history.converged and "converged" in history.message
    assert history.errors[-1] == 0 and history.errors[0] > 0
    assert history.weights[-1] == p.weights
    assert [p.predict(x) for x in X] == y


def test_fit_reports_failure_on_xor() -> None:
    X, y = nn.data.xor()
    p = nn.Perceptron(2, weights=[0.1, -0.2], threshold=0.5, lr=0.1)
    with pytest.warns(ConvergenceWarning, match="did not converge in 50 epochs"):
        history = p.fit(X, y, epochs=50)
    assert not history.converged and history.epochs == 50
    assert min(history.errors) > 0
    assert "straight line" in history.message
    assert sum(p.predict(x) == t for x, t in zip(X, y)) <= 3


def test_fit_can_be_quiet() -> None:
    X, y = nn.data.xor()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = nn.Perceptron(2, seed=0).fit(X, y, epochs=5, warn=False)
    assert not history.converged


def test_seeded_weights_reproducible() -> None:
    assert nn.Perceptron(3, seed=4).weights == nn.Perceptron(3, seed=4).weights


def test_bad_input() -> None:
    p = lecture_perceptron()
    with pytest.raises(ValueError, match="expects 2 inputs, got 3"):
        p.predict([1, 2, 3])
    with pytest.raises(TypeError, match="input 1 must be a number"):
        p.predict([1, "x"])
    with pytest.raises(ValueError, match="labels must be 0 or 1, got 2"):
        p.step([1, 2], 2)
    with pytest.raises(ValueError, match="empty data"):
        p.fit([], [])
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        p.fit([[0, 0]] * 3, [0, 1])
    with pytest.raises(ValueError, match="got 5 at row 1"):
        p.fit([[0, 0], [1, 1]], [0, 5])
    with pytest.raises(ValueError, match="expects 2 weights, got 1"):
        nn.Perceptron(2, weights=[0.1])
    with pytest.raises(ValueError, match="lr must be positive"):
        nn.Perceptron(2, lr=0)
    assert p.weights == [0.3, 0.2]


def test_wrong_kinds_raise_type_errors_and_leave_the_weights() -> None:
    p = lecture_perceptron()
    with pytest.raises(TypeError, match="nin must be an int, got str"):
        nn.Perceptron("2")
    with pytest.raises(ValueError, match="nin must be at least 1, got 0"):
        nn.Perceptron(0)
    with pytest.raises(TypeError, match="weights must be a list of 2 numbers, got float"):
        nn.Perceptron(2, weights=0.3)
    with pytest.raises(TypeError, match="y must be a list, got int"):
        p.fit([[0.8, 0.6]], 1)
    with pytest.raises(TypeError, match="X must be a list, got NoneType"):
        p.fit(None, [1])
    with pytest.raises(ValueError, match=r"labels must be 0 or 1, got array\(\[1, 0\]\)"):
        p.step([0.8, 0.6], __import__("numpy").array([1, 0]))
    with pytest.raises(TypeError, match="input 1 must be a number"):
        p.fit([[0.8, 0.6], [0.1, "x"]], [1, 0])  # checked before any update
    assert p.weights == [0.3, 0.2]
