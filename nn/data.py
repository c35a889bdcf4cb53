"""Small shipped data sets (no downloads) and splitting.

The scalar path's loaders (``xor``, ``weather``, ``digits5x5``, ``moons``)
return ``(X, y)``: ``X`` a list of rows (lists of floats), ``y`` a list of
labels.  The tensor path's digits (``digits``, ``mnist``, ``read_idx``,
``split``, from :mod:`nn.mnist`) return numpy arrays.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from .mnist import digits, mnist, read_idx, split

__all__ = [
    "as_dataset", "digits", "digits5x5", "glyph", "mnist", "moons", "read_idx", "split",
    "train_test_split", "weather", "xor",
]


def xor() -> tuple[list[list[float]], list[int]]:
    """The XOR truth table (seed 004): y = x1 xor x2; no single line separates it."""
    return [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0]


def weather() -> tuple[list[list[float]], list[int]]:
    """Seed 000's 7-row weather table: (cloud x1, wind x2) -> sunny day y.

    Transcribed from the lecture notes /work/shared/seeds/000_e437d673b1628a51.txt
    (table "x1 x2 y"); the perceptron's first update on row 0 is w1' = 0.3 + 0.8 x 1 x 0.01 = 0.308.
    """
    X = [[0.8, 0.6], [0.6, 0.9], [0.1, 0.2], [0.3, 0.1], [0.6, 0.6], [0.4, 0.3], [0.1, 0.2]]
    y = [1, 1, 0, 0, 1, 0, 0]
    return X, y


# 5x5 bitmaps of the digits 0-9 (seed 003's 25-3-3-10 classifier), '#' = 1.
GLYPHS: dict[int, tuple[str, ...]] = {
    0: (".###.", "#...#", "#...#", "#...#", ".###."),
    1: ("..#..", ".##..", "..#..", "..#..", ".###."),
    2: (".###.", "#...#", "..##.", ".#...", "#####"),
    3: ("####.", "....#", ".###.", "....#", "####."),
    4: ("#..#.", "#..#.", "#####", "...#.", "...#."),
    5: ("#####", "#....", "####.", "....#", "####."),
    6: (".###.", "#....", "####.", "#...#", ".###."),
    7: ("#####", "....#", "...#.", "..#..", "..#.."),
    8: (".###.", "#...#", ".###.", "#...#", ".###."),
    9: (".###.", "#...#", ".####", "....#", ".###."),
}


def glyph(digit: int) -> list[float]:
    """The clean 25-pixel bitmap of ``digit`` (row by row, 1.0 = ink)."""
    if digit not in GLYPHS:
        raise ValueError(f"digit must be 0..9, got {digit!r}")
    return [1.0 if c == "#" else 0.0 for row in GLYPHS[digit] for c in row]


def digits5x5(
    flip: float = 0.08, n_per_class: int = 20, seed: int | None = 0
) -> tuple[list[list[float]], list[int]]:
    """``n_per_class`` noisy copies of each digit 0-9 as 25 pixels (0 or 1); labels are the digits.

    Each pixel of the clean bitmap flips (0 <-> 1) with probability ``flip``, on
    its own.  With ``flip > 0`` every image in the set is distinct (a copy that
    repeats an earlier image is drawn again), so any train/test split tests on
    images the network has not seen; ``flip=0`` gives exact copies.  Rows are
    shuffled; the same ``seed`` gives the same data.  ``ValueError`` if ``flip``
    is not a probability, or too small to draw that many distinct images.
    """
    if isinstance(flip, bool) or not isinstance(flip, Real) or not 0.0 <= flip <= 1.0:
        raise ValueError(f"flip must be a probability in [0, 1], got {flip!r}")
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, int) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive int, got {n_per_class!r}")
    rng = random.Random(seed)
    rows: list[tuple[list[float], int]] = []
    seen: set[tuple[float, ...]] = set()
    for d in range(10):
        clean = glyph(d)
        for _ in range(n_per_class):
            rows.append((_distinct_copy(clean, flip, rng, seen, d), d))
    rng.shuffle(rows)
    return [r for r, _ in rows], [d for _, d in rows]


def _distinct_copy(clean: list[float], flip: float, rng: random.Random, seen: set[tuple[float, ...]],
                   d: int) -> list[float]:
    """One copy of ``clean`` with each pixel flipped with probability ``flip``, not in ``seen`` (when flip > 0)."""
    for _ in range(10_000):
        image = [1.0 - p if rng.random() < flip else p for p in clean]
        key = tuple(image)
        if flip == 0.0 or key not in seen:
            seen.add(key)
            return image
    raise ValueError(f"flip={flip!r} is too small to draw that many distinct images of digit {d}")


def moons(n: int = 100, noise: float = 0.1, seed: int | None = None) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles (scikit-learn's ``make_moons``); labels 0 / 1.

    ``moons(100, noise=0.1, seed=1337)`` is exactly micrograd's demo data.
    Needs scikit-learn (``pip install tracegrad[notebooks]``).
    """
    try:
        from sklearn.datasets import make_moons
    except ImportError:
        raise ImportError(
            "nn.data.moons needs scikit-learn; install it with: pip install tracegrad[notebooks]"
        ) from None
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if isinstance(noise, bool) or not isinstance(noise, Real) or noise < 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    X, y = make_moons(n_samples=n, noise=float(noise), random_state=seed)
    return X.tolist(), [int(v) for v in y]


def train_test_split(
    X: Sequence[Any], y: Sequence[Any], test_size: float | int = 0.25, seed: int | None = None
) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Shuffle and split into ``X_train, X_test, y_train, y_test`` (scikit-learn's order).

    ``test_size`` is a fraction in (0, 1) or a number of rows; both parts are non-empty.
    """
    X, y = list(X), list(y)
    n = len(X)
    if n != len(y):
        raise ValueError(f"X has {n} rows but y has {len(y)} labels")
    if n < 2:
        raise ValueError(f"train_test_split needs at least 2 rows, got {n}")
    if isinstance(test_size, bool) or not isinstance(test_size, Real):
        raise TypeError(f"test_size must be a fraction or a count, got {type(test_size).__name__}")
    if isinstance(test_size, Integral):
        n_test = int(test_size)
    elif 0.0 < test_size < 1.0:
        n_test = math.ceil(test_size * n)
    else:
        raise ValueError(f"test_size must be in (0, 1) or a row count, got {test_size!r}")
    if not 1 <= n_test <= n - 1:
        raise ValueError(f"test_size {test_size!r} leaves {n_test} of {n} rows for testing; both parts need rows")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    test, train = order[:n_test], order[n_test:]
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]


def as_dataset(X: Any, y: Any, nin: int | None = None) -> tuple[list[list[float]], list[Any]]:
    """Check and convert ``(X, y)``: rows of ``nin`` finite numbers, one label per row.

    ``ValueError`` for empty data, a row of the wrong length (expected vs got),
    a non-finite number or a length mismatch; ``TypeError`` for a non-numeric entry.
    """
    X = _as_list(X, "X", "a list of rows")
    y = _as_list(y, "y", "a list of labels")
    if len(X) == 0:
        raise ValueError("empty data: X has no rows")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    return [_as_row(i, row, nin) for i, row in enumerate(X)], list(y)


def _as_list(data: Any, name: str, what: str) -> Sequence[Any]:
    if isinstance(data, np.ndarray):
        data = data.tolist()
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"{name} must be {what} (or a numpy array), got {type(data).__name__}")
    return data


def _as_row(i: int, row: Any, nin: int | None) -> list[float]:
    """Row ``i`` of X as floats: a list of ``nin`` finite numbers."""
    if isinstance(row, np.ndarray):
        row = row.tolist()
    if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
        raise TypeError(f"row {i} of X is not a list of numbers: {type(row).__name__} {row!r:.60}")
    if nin is not None and len(row) != nin:
        raise ValueError(f"row {i} of X has {len(row)} values; the model expects {nin} inputs")
    return [_as_input(v, i, j) for j, v in enumerate(row)]


def _as_input(v: Any, i: int, j: int) -> float:
    if isinstance(v, bool) or not isinstance(v, Real):
        raise TypeError(f"X[{i}][{j}] is not a number: {type(v).__name__} {v!r:.60}")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"X[{i}][{j}] is {v!r}; inputs must be finite")
    return v
