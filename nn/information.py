"""Information measures between distributions: entropy and KL divergence, scalar and tensor.

=================================  ================================================
``entropy(p)``                     H(P) = -Σ_i p_i ln p_i                 (0 ln 0 = 0)
``kl_divergence(p, q)``            KL(P‖Q) = Σ_i p_i ln(p_i / q_i)        (≥ 0; 0 iff P = Q)
=================================  ================================================

Together with the cross-entropy H(P, Q) = -Σ_i p_i ln q_i they tell the lecture's
story of a classification loss: H(P, Q) = H(P) + KL(P‖Q), so with one-hot targets
(H(P) = 0) minimising the cross-entropy is minimising the KL divergence.

``p`` and ``q`` are probability vectors: a sequence of Values or numbers (the
scalar path: one Value out, built from the engine's gates), or Tensors / arrays
whose last axis is the distribution (the tensor path: one number per row, a
Tensor of shape ``p.shape[:-1]``).  Each must be non-negative and sum to 1
(to 1e-6); ``q`` must be positive wherever ``p`` is (else KL is infinite).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from ..engine import Tensor, Value, sum_values

TOLERANCE = 1e-6  # how far a probability vector's sum may be from 1


def entropy(p: Any) -> Any:
    """H(P) = -Σ_i p_i ln p_i, in nats; terms with p_i = 0 contribute 0."""
    if _is_tensor(p):
        P = _tensor(p, "entropy: p")
        logp = _safe_log(P)
        return 0.0 - (P * logp).sum(axis=-1)  # 0 - Σ, not -Σ: a certain outcome has H = 0.0, not -0.0
    ps = _probabilities(p, "entropy: p")
    return 0.0 - sum_values([pi * pi.log() for pi in ps if pi.data > 0.0])


def kl_divergence(p: Any, q: Any) -> Any:
    """KL(P‖Q) = Σ_i p_i ln(p_i / q_i), in nats; ≥ 0, and 0 only when P = Q (not symmetric)."""
    if _is_tensor(p) or _is_tensor(q):
        P, Q = _tensor(p, "kl_divergence: p"), _tensor(q, "kl_divergence: q")
        if P.shape != Q.shape:
            raise ValueError(f"kl_divergence: p has shape {P.shape} but q has shape {Q.shape}")
        _support(P.data, Q.data)
        return (P * (_safe_log(P) - _safe_log(Q))).sum(axis=-1)
    ps, qs = _probabilities(p, "kl_divergence: p"), _probabilities(q, "kl_divergence: q")
    if len(ps) != len(qs):
        raise ValueError(f"kl_divergence: p has {len(ps)} entries but q has {len(qs)}")
    _support(np.array([v.data for v in ps]), np.array([v.data for v in qs]))
    return sum_values([pi * (pi.log() - qi.log()) for pi, qi in zip(ps, qs) if pi.data > 0.0])


# ---------------------------------------------------------------- checks


def _is_tensor(x: Any) -> bool:
    return isinstance(x, (Tensor, np.ndarray))


def _probabilities(p: Any, what: str) -> list[Value]:
    """A probability vector as Values, checked: numbers in [0, 1] that sum to 1."""
    if isinstance(p, (str, bytes)) or not isinstance(p, Sequence) or not p:
        raise TypeError(f"{what} must be a non-empty list of Values or numbers, got {type(p).__name__}")
    out = []
    for i, v in enumerate(p):
        if type(v) is not Value:
            if isinstance(v, bool) or not isinstance(v, Real):
                raise TypeError(f"{what}[{i}] must be a Value or a number, got {type(v).__name__}")
            v = Value(float(v))
        out.append(v)
    _check(np.array([v.data for v in out]), what)
    return out


def _tensor(p: Any, what: str) -> Tensor:
    P = p if isinstance(p, Tensor) else Tensor(p)
    if P.ndim == 0 or P.shape[-1] == 0:
        raise ValueError(f"{what} needs a last axis holding the distribution, got shape {P.shape}")
    _check(P.data, what)
    return P


def _check(values: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(values)) or np.any(values < 0.0) or np.any(values > 1.0):
        raise ValueError(f"{what} must hold probabilities in [0, 1], got {values.ravel()[:6].tolist()}")
    sums = values.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > TOLERANCE):
        raise ValueError(f"{what} must sum to 1 (to {TOLERANCE:g}), got a sum of {float(np.ravel(sums)[0])!r}")


def _support(p: np.ndarray, q: np.ndarray) -> None:
    bad = (p > 0.0) & (q <= 0.0)
    if np.any(bad):
        i = int(np.argmax(bad.ravel()))
        raise ValueError(
            f"kl_divergence: q is 0 at entry {i} where p is {p.ravel()[i]!r}: KL(P‖Q) is infinite there"
        )


def _safe_log(P: Tensor) -> Tensor:
    """ln p where p > 0, and 0 where p = 0 (so that p ln p is 0 there, the limit)."""
    zero = (P.data == 0.0).astype(P.data.dtype)
    return (P + zero).log() * (1.0 - zero)
