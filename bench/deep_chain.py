"""Backward through long chains ``v = v + 1.0``: time and peak memory per node, 1e3 ... 1e6.

tracegrad's topological order and backward loop are iterative, so depth is
limited only by memory; micrograd's recursive ``build_topo`` raises
RecursionError past Python's recursion limit - its failure point is recorded.

    python bench/deep_chain.py [--quick]
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from _common import collector, fmt_s, machine, quick_flag, table
from tracegrad.engine import Value


def chain(V: Callable[[float], Any], n: int) -> tuple[Any, Any]:
    x = v = V(1.0)
    for _ in range(n):
        v = v + 1.0
    return x, v


def timed(V: Callable[[float], Any], n: int, gc_on: bool) -> tuple[float, float]:
    """(build seconds, backward seconds), best of a few runs (fewer for long chains)."""
    best = (float("inf"), float("inf"))
    for _ in range(max(1, min(5, 1_000_000 // n // 10))):
        gc.collect()
        with collector(gc_on):
            t = time.perf_counter()
            x, v = chain(V, n)
            t1 = time.perf_counter()
            v.backward()
            t2 = time.perf_counter()
            assert x.grad == 1.0
            del x, v
        best = min(best, (t1 - t, t2 - t1), key=sum)
    return best


def peak_bytes(V: Callable[[float], Any], n: int) -> int:
    """Peak traced memory of building the chain and running backward."""
    gc.collect()
    tracemalloc.start()
    x, v = chain(V, n)
    v.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del x, v
    return peak


def micrograd_failure_depth() -> int:
    """Smallest chain length (in steps of 50) whose backward raises RecursionError in micrograd."""
    from micrograd.engine import Value as MValue

    n = 50
    while n < 100_000:
        _, v = chain(MValue, n)
        try:
            v.backward()
        except RecursionError:
            return n
        n += 50
    return -1


def main() -> None:
    quick = quick_flag()
    sizes = [1_000, 10_000, 100_000] + ([] if quick else [1_000_000])
    rows = []
    per_node = []
    for n in sizes:
        build, back = timed(Value, n, gc_on=True)
        build_off, back_off = timed(Value, n, gc_on=False)
        peak = peak_bytes(Value, n)
        per_node.append((n, (build_off + back_off) / n))
        rows.append([
            f"{n:,}", fmt_s(build), fmt_s(back), f"{(build + back) / n * 1e9:.0f} ns",
            f"{(build_off + back_off) / n * 1e9:.0f} ns", f"{peak / n:.0f} B",
        ])
    try:
        fail = micrograd_failure_depth()
        limit = sys.getrecursionlimit()
        mg = f"micrograd: RecursionError at a {fail}-step chain (recursion limit {limit})"
    except ImportError:
        fail, mg = -1, "micrograd not installed"
    print(f"deep_chain: v = v + 1.0, then backward; best of repeats ({machine()})")
    print(table(["chain length", "build (GC on)", "backward (GC on)", "time / node (GC on)",
                 "time / node (GC off)", "peak memory / node"], rows))
    print(mg)
    first, last = per_node[0][1], per_node[-1][1]
    print(f"SUMMARY deep_chain: {per_node[-1][0]:,} nodes at {last * 1e9:.0f} ns/node with GC off "
          f"(1e3: {first * 1e9:.0f} ns/node; ratio {last / first:.2f}); micrograd fails at {fail}")


if __name__ == "__main__":
    main()
