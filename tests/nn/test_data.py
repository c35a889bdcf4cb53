"""Shipped data sets and splitting."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from tracegrad import nn
from tracegrad.nn.data import as_dataset, glyph, train_test_split

from tests.support import require


def test_weather_is_seed_000s_table() -> None:
    X, y = nn.data.weather()
    assert X == [[0.8, 0.6], [0.6, 0.9], [0.1, 0.2], [0.3, 0.1], [0.6, 0.6], [0.4, 0.3], [0.1, 0.2]]
    assert y == [1, 1, 0, 0, 1, 0, 0]


def test_xor_truth_table() -> None:
    X, y = nn.data.xor()
    assert y == [int(a) ^ int(b) for a, b in X]


def test_digits_shapes_labels_and_reproducibility() -> None:
    X, y = nn.data.digits5x5(flip=0.08, n_per_class=3, seed=5)
    assert len(X) == 30 and all(len(r) == 25 for r in X)
    assert sorted(y) == sorted(list(range(10)) * 3)
    assert (X, y) == nn.data.digits5x5(flip=0.08, n_per_class=3, seed=5)
    assert X != nn.data.digits5x5(flip=0.08, n_per_class=3, seed=6)[0]
    clean, labels = nn.data.digits5x5(flip=0, n_per_class=1, seed=0)
    assert all(row == glyph(d) for row, d in zip(clean, labels))
    assert len({tuple(glyph(d)) for d in range(10)}) == 10
    assert glyph(1)[:5] == [0.0, 0.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="flip"):
        nn.data.digits5x5(flip=-0.1)
    with pytest.raises(ValueError, match="flip"):
        nn.data.digits5x5(flip=1.5)
    with pytest.raises(ValueError, match="n_per_class"):
        nn.data.digits5x5(n_per_class=0)


def test_moons_matches_scikit_learn() -> None:
    datasets = require("sklearn.datasets")
    X, y = nn.data.moons(50, noise=0.1, seed=3)
    ref_X, ref_y = datasets.make_moons(n_samples=50, noise=0.1, random_state=3)
    assert np.array_equal(np.array(X), ref_X) and y == ref_y.tolist()
    assert isinstance(X[0][0], float) and isinstance(y[0], int)


def test_moons_without_scikit_learn_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install tracegrad\[notebooks\]"):
        nn.data.moons(10)


def test_train_test_split() -> None:
    X = [[float(i)] for i in range(20)]
    y = list(range(20))
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, seed=1)
    assert len(Xte) == 5 and len(Xtr) == 15
    assert sorted(ytr + yte) == y
    assert all(row == [float(t)] for row, t in zip(Xtr + Xte, ytr + yte))
    assert (Xtr, Xte, ytr, yte) == train_test_split(X, y, test_size=0.25, seed=1)
    assert len(train_test_split(X, y, test_size=3)[1]) == 3
    with pytest.raises(ValueError, match="20 rows but y has 19"):
        train_test_split(X, y[:-1])
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(X, y, test_size=1.5)
    with pytest.raises(ValueError, match="both parts"):
        train_test_split(X, y, test_size=20)


def test_as_dataset_validation() -> None:
    rows, labels = as_dataset(np.array([[1, 2], [3, 4]]), np.array([0, 1]), nin=2)
    assert rows == [[1.0, 2.0], [3.0, 4.0]] and labels == [0, 1]
    with pytest.raises(ValueError, match="empty data"):
        as_dataset([], [])
    with pytest.raises(ValueError, match="row 1 of X has 3 values; the model expects 2 inputs"):
        as_dataset([[1, 2], [1, 2, 3]], [0, 1], nin=2)
    with pytest.raises(TypeError, match=r"X\[0\]\[1\] is not a number: str"):
        as_dataset([[1, "2"]], [0])
    with pytest.raises(ValueError, match=r"X\[0\]\[0\] is inf"):
        as_dataset([[math.inf, 1]], [0])
    with pytest.raises(ValueError, match="2 rows but y has 1"):
        as_dataset([[1], [2]], [0])


def test_digits_flip_pixels_at_the_stated_rate_and_are_all_distinct() -> None:
    # digits5x5 used to add Gaussian noise N(0, 0.02^2): every image was within 0.06 of a training image
    X, y = nn.data.digits5x5(flip=0.1, n_per_class=40, seed=0)
    assert {p for row in X for p in row} == {0.0, 1.0}  # pixels stay 0 or 1: a flip, not a blur
    flipped = sum(p != q for row, d in zip(X, y) for p, q in zip(row, glyph(d)))
    rate = flipped / (len(X) * 25)
    assert abs(rate - 0.1) < 0.015, rate  # a little above: a copy that repeats an earlier image is redrawn
    assert len({tuple(row) for row in X}) == len(X)  # no image twice: a split tests on unseen images
    with pytest.raises(ValueError, match="too small"):
        nn.data.digits5x5(flip=1e-9, n_per_class=5, seed=0)
