"""Weight initialisation: reproducible draws for "uniform", "xavier" and "he".

* ``"uniform"``: w ~ U(-1, 1), as micrograd (biases 0);
* ``"xavier"`` (Glorot): w ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)), for sigmoid / tanh;
* ``"he"`` (Kaiming): w ~ N(0, sqrt(2 / fan_in)), for ReLU.

Randomness comes from ``seed=`` (a new ``random.Random(seed)``), or an ``rng``
(a ``random.Random`` or a numpy ``Generator`` / ``RandomState``), or, with
neither, Python's global ``random`` module, so ``random.seed(1337)`` gives
exactly micrograd's weights.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

INITS = ("uniform", "xavier", "he")


class Draw:
    """One source of random numbers with ``uniform(a, b)`` and ``normal(mu, sigma)``."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self._numpy = isinstance(source, (np.random.Generator, np.random.RandomState))

    def uniform(self, a: float, b: float) -> float:
        """One draw from U(a, b)."""
        return float(self.source.uniform(a, b))

    def normal(self, mu: float, sigma: float) -> float:
        """One draw from N(mu, sigma^2)."""
        if self._numpy:
            return float(self.source.normal(mu, sigma))
        return float(self.source.gauss(mu, sigma))


def make_draw(seed: int | None = None, rng: Any = None) -> Draw:
    """The random source for a constructor's ``seed=`` / ``rng=`` arguments."""
    if seed is not None and rng is not None:
        raise ValueError("give seed= or rng=, not both")
    if rng is not None:
        if isinstance(rng, Draw):
            return rng
        if not isinstance(rng, (random.Random, np.random.Generator, np.random.RandomState)):
            raise TypeError(
                f"rng must be a random.Random or a numpy Generator/RandomState, got {type(rng).__name__}"
            )
        return Draw(rng)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}: {seed!r}")
        return Draw(random.Random(seed))
    return Draw(random._inst)  # type: ignore[attr-defined]  # the global stream, like micrograd


def check_init(init: str) -> str:
    """``init`` if it names a scheme, else ValueError listing the choices."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    return init


def draw_weights(draw: Draw, init: str, fan_in: int, fan_out: int) -> list[float]:
    """``fan_in`` weights for one neuron under scheme ``init``."""
    if init == "uniform":
        return [draw.uniform(-1.0, 1.0) for _ in range(fan_in)]
    if init == "xavier":
        a = math.sqrt(6.0 / (fan_in + fan_out))
        return [draw.uniform(-a, a) for _ in range(fan_in)]
    if init == "he":
        sigma = math.sqrt(2.0 / fan_in)
        return [draw.normal(0.0, sigma) for _ in range(fan_in)]
    raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
