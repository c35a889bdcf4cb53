"""Shared helpers for the benchmarks: timing (medians), tables, the machine, the workload.

Every benchmark measures tracegrad and its anchors side by side in one process,
on the same workload, and reports ratios: these machines are noisy.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python bench/NAME.py` from a checkout
    sys.path.insert(0, str(ROOT))


def quick_flag(argv: Sequence[str] | None = None) -> bool:
    """True when ``--quick`` was passed (a short run)."""
    args = sys.argv[1:] if argv is None else argv
    unknown = [a for a in args if a != "--quick"]
    if unknown:
        raise SystemExit(f"unknown arguments {unknown}; the only option is --quick")
    return "--quick" in args


def machine() -> str:
    """One line: CPU count, Python, platform, and whether OPENBLAS_CORETYPE is set."""
    blas = os.environ.get("OPENBLAS_CORETYPE")
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()} "
        f"{platform.system()}; OPENBLAS_CORETYPE={'set to ' + blas if blas else 'not set'}"
    )


@contextmanager
def collector(enabled: bool) -> Iterator[None]:
    """Run a block with the garbage collector on or off, restoring it afterwards."""
    was = gc.isenabled()
    gc.enable() if enabled else gc.disable()
    try:
        yield
    finally:
        gc.enable() if was else gc.disable()


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1, gc_on: bool = True) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs (after ``warmup``)."""
    with collector(gc_on):
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (pastes straight into the README)."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in cells])


def fmt_s(seconds: float) -> str:
    """Seconds in a readable unit."""
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def moons(n: int = 100, noise: float = 0.1, seed: int = 1) -> tuple[list[list[float]], list[float]]:
    """micrograd's demo data: sklearn's two moons, labels -1 / +1."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return X.tolist(), (y * 2 - 1).astype(float).tolist()


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, gc_on: bool = True,
                warmup: int = 1) -> dict[str, float]:
    """Median seconds of each ``fn``, run round-robin so load drift hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    with collector(gc_on):
        for fn in fns.values():
            for _ in range(warmup):
                fn()
        for _ in range(repeats):
            for name, fn in fns.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}
