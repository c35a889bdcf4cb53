"""Per-thread recording state: ``no_grad``, ``detect_anomaly`` and ``scope``.

Node creation reads one attribute (``recording``) to know whether it may take
the common path (record parents, no anomaly checks) and under which scope:
``recording`` is the current scope string when gradients are recorded and
anomaly detection is off, and ``None`` otherwise.  One thread-local read per
node is the whole cost of this state on the fast path.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any


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


class _Block:
    """A ``with`` block that sets one field of this thread's state, and puts the old value back after.

    A small class rather than a ``@contextmanager`` generator: a model enters
    one per layer per call, and this costs a third as much.  A ``scope``
    block nests: its name is dotted under the scope it is entered in.
    """

    __slots__ = ("field", "value", "previous")

    def __init__(self, field: str, value: Any) -> None:
        self.field, self.value = field, value

    def __enter__(self) -> Any:
        self.previous = previous = getattr(STATE, self.field)
        value = self.value
        if self.field == "scope":
            value = f"{previous}.{value}" if previous else value
        setattr(STATE, self.field, value)
        _refresh()
        return value if self.field == "scope" else None

    def __exit__(self, *exc: object) -> None:
        setattr(STATE, self.field, self.previous)
        _refresh()


def no_grad() -> AbstractContextManager[None]:
    """Within this block (this thread only), new results record no parents.

    Use it for evaluation and for weight updates: nothing is kept for backward.
    """
    return _Block("grad_enabled", False)


def is_grad_enabled() -> bool:
    """Whether new results record their parents (False inside ``no_grad``)."""
    return STATE.grad_enabled


def detect_anomaly() -> AbstractContextManager[None]:
    """Within this block, the first NaN or inf made in forward or backward raises.

    The ``FloatingPointError`` names the op, its inputs and the node's label.
    """
    return _Block("anomaly", True)


def is_anomaly_enabled() -> bool:
    """Whether ``detect_anomaly`` is active in this thread."""
    return STATE.anomaly


def scope(name: str) -> AbstractContextManager[str]:
    """Record ``name`` on every node made inside this block (nested: dotted); ``with`` gives the dotted name.

    ``nn`` modules enter a scope when called (``layers.0.neurons.3``), so the
    diagrams can collapse a neuron or a layer into one box without the
    engine knowing anything about ``nn``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"scope name must be a non-empty str, got {name!r}")
    return _Block("scope", name)


def current_scope() -> str:
    """The dotted scope new nodes are recorded under ('' at top level)."""
    return STATE.scope
