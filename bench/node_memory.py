"""Bytes per node and microseconds per op: tracegrad vs micrograd vs plain floats (the floor).

Each form is built in a chain of 20,000 ops, every result kept; bytes are what
tracemalloc sees the chain keep alive, divided by the op count; time is the
median per op (collector on).

    python bench/node_memory.py [--quick]
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from statistics import median
from typing import Any

from _common import machine, quick_flag, table
from tracegrad.engine import Value

FORMS: dict[str, Callable[[Any, Any], Any]] = {
    "v * w (op node, two Values)": lambda v, w: v * w,
    "v + 1.0 (op node + constant)": lambda v, w: v + 1.0,
    "(v * w).relu() (two op nodes)": lambda v, w: (v * w).relu(),
}
OPS_PER_FORM = {"(v * w).relu() (two op nodes)": 2}


def build(V: Callable[[float], Any], form: Callable[[Any, Any], Any], n: int, keep: list[Any]) -> None:
    """Chain ``n`` ops, keeping every result in ``keep`` (pre-sized: storing costs no bytes)."""
    v, w = V(0.5), V(0.999)
    for i in range(n):
        v = keep[i] = form(v, w)


def bytes_per_op(V: Callable[[float], Any], form: Callable[[Any, Any], Any], n: int, ops: int) -> float:
    keep: list[Any] = [None] * n
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    build(V, form, n, keep)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / (n * ops)


def us_per_op(V: Callable[[float], Any], form: Callable[[Any, Any], Any], n: int, ops: int, reps: int) -> float:
    times = []
    for _ in range(reps):
        keep: list[Any] = [None] * n
        gc.collect()
        t = time.perf_counter()
        build(V, form, n, keep)
        times.append(time.perf_counter() - t)
        del keep
    return median(times) / (n * ops) * 1e6


def floor_form(form_name: str) -> Callable[[Any, Any], Any]:
    """The same arithmetic on plain floats (the floor): relu as max(x, 0.0)."""
    if "relu" in form_name:
        return lambda v, w: max(v * w, 0.0)
    return FORMS[form_name]


def main() -> None:
    quick = quick_flag()
    n, reps = (5_000, 3) if quick else (20_000, 7)
    engines: dict[str, Callable[[float], Any]] = {"tracegrad": Value, "plain float (floor)": float}
    try:
        from micrograd.engine import Value as MValue

        engines["micrograd"] = MValue
    except ImportError:
        pass
    rows = []
    figures: dict[tuple[str, str], tuple[float, float]] = {}
    for form_name, form in FORMS.items():
        ops = OPS_PER_FORM.get(form_name, 1)
        for engine_name, V in engines.items():
            f = floor_form(form_name) if engine_name.startswith("plain") else form
            b = bytes_per_op(V, f, n, ops)
            t = us_per_op(V, f, n, ops, reps)
            figures[(form_name, engine_name)] = (b, t)
            rows.append([form_name, engine_name, f"{b:.0f}", f"{t:.3f}"])
    print(f"node_memory: chains of {n:,} ops ({machine()})")
    print(table(["form", "engine", "bytes / op", "µs / op"], rows))
    key = "v * w (op node, two Values)"
    tg = figures[(key, "tracegrad")]
    mg = figures.get((key, "micrograd"))
    vs = f"micrograd {mg[0]:.0f} B ({mg[0] / tg[0]:.1f}x), {mg[1] / tg[1]:.1f}x the time" if mg else "no micrograd"
    print(f"SUMMARY node_memory: tracegrad op node {tg[0]:.0f} B, {tg[1]:.3f} µs; {vs}; "
          f"plain float {figures[(key, 'plain float (floor)')][0]:.0f} B")


if __name__ == "__main__":
    main()
