"""Per-thread recording state: ``no_grad``, ``detect_anomaly`` and ``scope``.

Node creation reads one attribute (``recording``) to know whether it may take
the common path (record parents, no anomaly checks) and under which scope:
``recording`` is the current scope string when gradients are recorded and
anomaly detection is off, and ``None`` otherwise.  One thread-local read per
node is the whole cost of this state on the fast path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _State(threading.local):
    grad_enabled: bool = True
    anomaly: bool = False
    fast: bool = True  # grad_enabled and not anomaly
    scope: str = ""
    recording: str | None = ""  # scope if fast else None


STATE = _State()


def _refresh() -> None:
    STATE.fast = fast = STATE.grad_enabled and not STATE.anomaly
    STATE.recording = STATE.scope if fast else None


@contextmanager
def no_grad() -> Iterator[None]:
    """Within this block (this thread only), new results record no parents.

    Use it for evaluation and for weight updates: nothing is kept for backward.
    """
    previous = STATE.grad_enabled
    STATE.grad_enabled = False
    _refresh()
    try:
        yield
    finally:
        STATE.grad_enabled = previous
        _refresh()


def is_grad_enabled() -> bool:
    """Whether new results record their parents (False inside ``no_grad``)."""
    return STATE.grad_enabled


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Within this block, the first NaN or inf made in forward or backward raises.

    The ``FloatingPointError`` names the op, its inputs and the node's label.
    """
    previous = STATE.anomaly
    STATE.anomaly = True
    _refresh()
    try:
        yield
    finally:
        STATE.anomaly = previous
        _refresh()


def is_anomaly_enabled() -> bool:
    """Whether ``detect_anomaly`` is active in this thread."""
    return STATE.anomaly


@contextmanager
def scope(name: str) -> Iterator[str]:
    """Record ``name`` on every node made inside this block (nested: dotted).

    ``nn`` modules enter a scope when called (``layers.0.neurons.3``), so the
    diagrams can collapse a neuron or a layer into one box without the
    engine knowing anything about ``nn``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"scope name must be a non-empty str, got {name!r}")
    previous = STATE.scope
    STATE.scope = f"{previous}.{name}" if previous else name
    _refresh()
    try:
        yield STATE.scope
    finally:
        STATE.scope = previous
        _refresh()


def current_scope() -> str:
    """The dotted scope new nodes are recorded under ('' at top level)."""
    return STATE.scope
