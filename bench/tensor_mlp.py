"""Benchmark: the lecture's 784-100-10 MLP, one epoch on 60,000 MNIST-shaped samples.

Side by side in one run, from the same initial weights and the same batches:

* ``tracegrad``: ``nn.Sequential(Linear, ReLU, Linear)``, ``engine.cross_entropy``,
  ``backward()``, ``nn.optim.SGD`` (what a user writes);
* ``numpy``: a hand-written forward/backward/update in plain numpy (the floor);
* ``torch``: ``torch.nn`` + ``F.cross_entropy`` + ``torch.optim.SGD`` on CPU.

Each step: gather a shuffled batch, forward, softmax cross-entropy, backward,
SGD update.  Times are medians over repeated epochs; GFLOP/s counts the
matrix products (forward 2(784*100 + 100*10), backward dW1, dW2, dh: about
0.32 MFLOP per sample).  Run: ``python bench/tensor_mlp.py`` (``--quick`` for
a short run, ``--threads N`` for BLAS / torch threads, default 1).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NIN, NHID, NOUT = 784, 100, 10
FLOP_PER_SAMPLE = 2 * (NIN * NHID + NHID * NOUT) + 2 * (NIN * NHID + NHID * NOUT + NHID * NOUT)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short run: 12,000 samples, 3 repeats")
    p.add_argument("--samples", type=int, default=None, help="samples per epoch (default 60,000)")
    p.add_argument("--repeats", type=int, default=None, help="epochs timed per case (default 5)")
    p.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    p.add_argument("--lr", type=float, default=0.01)
    return p.parse_args()


ARGS = parse_args()
CORETYPE = os.environ.get("OPENBLAS_CORETYPE")
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)  # before numpy / torch start their pools
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tracegrad import engine  # noqa: E402
from tracegrad.nn.layers import Linear, ReLU, Sequential  # noqa: E402
from tracegrad.nn.optim import SGD  # noqa: E402

Step = Callable[[np.ndarray, np.ndarray], float]


def init_weights(dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.normal(0, np.sqrt(2 / NIN), (NHID, NIN)).astype(dtype), np.zeros(NHID, dtype),
        rng.normal(0, np.sqrt(2 / NHID), (NOUT, NHID)).astype(dtype), np.zeros(NOUT, dtype),
    ]


# ---------------------------------------------------------------- the three contenders


def make_tracegrad(weights: list[np.ndarray], lr: float) -> tuple[Step, Callable[[], list[np.ndarray]]]:
    dtype = weights[0].dtype.name
    net = Sequential(Linear(NIN, NHID, dtype=dtype), ReLU(), Linear(NHID, NOUT, dtype=dtype))
    for p, w in zip(net.parameters(), weights):
        p.data[...] = w
    opt = SGD(net.parameters(), lr=lr)

    def step(X: np.ndarray, y: np.ndarray) -> float:
        opt.zero_grad()
        loss = engine.cross_entropy(net(X), y)
        loss.backward()
        opt.step()
        return float(loss.data)

    return step, lambda: [p.data for p in net.parameters()]


def make_numpy(weights: list[np.ndarray], lr: float) -> tuple[Step, Callable[[], list[np.ndarray]]]:
    W1, b1, W2, b2 = (w.copy() for w in weights)

    def step(X: np.ndarray, y: np.ndarray) -> float:
        n = len(X)
        h = X @ W1.T
        h += b1
        a = np.maximum(h, 0.0)
        z = a @ W2.T
        z += b2
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = (np.log(s).sum() - z[rows, y].sum()) / n
        e /= s
        e[rows, y] -= 1.0
        e *= 1.0 / n  # dL/dz
        dW2 = e.T @ a
        db2 = e.sum(axis=0)
        da = e @ W2
        da *= h > 0
        dW1 = da.T @ X
        db1 = da.sum(axis=0)
        np.subtract(W1, lr * dW1, out=W1)  # in place, as the optimizers do
        np.subtract(b1, lr * db1, out=b1)
        np.subtract(W2, lr * dW2, out=W2)
        np.subtract(b2, lr * db2, out=b2)
        return float(loss)

    return step, lambda: [W1, b1, W2, b2]


def make_torch(weights: list[np.ndarray], lr: float) -> tuple[Step, Callable[[], list[np.ndarray]]]:
    import torch

    torch.set_num_threads(ARGS.threads)
    dtype = torch.float64 if weights[0].dtype == np.float64 else torch.float32
    net = torch.nn.Sequential(torch.nn.Linear(NIN, NHID), torch.nn.ReLU(), torch.nn.Linear(NHID, NOUT)).to(dtype)
    with torch.no_grad():
        for p, w in zip(net.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    F = torch.nn.functional

    def step(X: np.ndarray, y: np.ndarray) -> float:
        opt.zero_grad()
        loss = F.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step, lambda: [p.detach().numpy() for p in net.parameters()]


# ---------------------------------------------------------------- timing


def epoch(step: Step, X: np.ndarray, y: np.ndarray, order: np.ndarray, batch: int) -> float:
    start = time.perf_counter()
    for b in range(0, len(X), batch):
        idx = order[b : b + batch]
        step(X[idx], y[idx])
    return time.perf_counter() - start


def check_agreement(makers: dict[str, Any], X: np.ndarray, y: np.ndarray, dtype: str) -> float:
    """All contenders take the same 5 steps from the same weights: largest weight difference."""
    weights = init_weights(dtype)
    results = []
    for make in makers.values():
        step, params = make(weights, ARGS.lr)
        for b in range(5):
            step(X[b * 64 : (b + 1) * 64], y[b * 64 : (b + 1) * 64])
        results.append([np.array(p, dtype=np.float64) for p in params()])
    return max(float(np.abs(a - b).max()) for r in results[1:] for a, b in zip(results[0], r))


def main() -> None:
    samples = ARGS.samples or (12_000 if ARGS.quick else 60_000)
    repeats = ARGS.repeats or (3 if ARGS.quick else 5)
    makers: dict[str, Any] = {"tracegrad": make_tracegrad, "numpy (floor)": make_numpy}
    try:
        import torch

        makers["torch"] = make_torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    print(f"tracegrad tensor benchmark: 784-100-10 ReLU MLP, softmax cross-entropy, SGD, {samples:,} samples/epoch")
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch_version}, "
          f"{os.cpu_count()} CPUs, threads={ARGS.threads}, "
          f"OPENBLAS_CORETYPE={'set to ' + CORETYPE if CORETYPE else 'not set'}")
    print(f"median of {repeats} epochs per case (after one warm-up epoch, contenders interleaved); "
          f"{FLOP_PER_SAMPLE * samples / 1e9:.1f} GFLOP per epoch\n")
    gen = np.random.default_rng(1)
    header = f"{'dtype':8} {'batch':>5}  {'contender':22} {'s/epoch':>8} {'x numpy':>8} {'x torch':>8} {'GFLOP/s':>8}"
    print(header)
    print("-" * len(header))
    summary = []
    for dtype in ARGS.dtypes:
        X = gen.random((samples, NIN)).astype(dtype)
        y = gen.integers(0, NOUT, samples)
        agree = check_agreement(makers, X, y, dtype)
        for batch in ARGS.batches:
            times: dict[str, list[float]] = {k: [] for k in makers}
            steps = {k: make(init_weights(dtype), ARGS.lr)[0] for k, make in makers.items()}
            orders = [gen.permutation(samples) for _ in range(repeats + 1)]
            for r, order in enumerate(orders):  # interleaved, so drift hits every contender alike
                for k, step in steps.items():
                    t = epoch(step, X, y, order, batch)
                    if r:
                        times[k].append(t)
            med = {k: statistics.median(v) for k, v in times.items()}
            floor, ref = med["numpy (floor)"], med.get("torch", float("nan"))
            for k, t in med.items():
                gflops = FLOP_PER_SAMPLE * samples / t / 1e9
                print(f"{dtype:8} {batch:>5}  {k:22} {t:>8.3f} {t / floor:>8.2f} {t / ref:>8.2f} {gflops:>8.1f}")
            tg = med["tracegrad"]
            summary.append((dtype, batch, tg / floor, tg / ref, FLOP_PER_SAMPLE * samples / tg / 1e9))
            print(flush=True)
        print(f"{dtype}: the contenders' weights after 5 identical steps differ by at most {agree:.1e}\n")
    parts = [f"{d}/b{b}: {r:.2f}x numpy, {t:.2f}x torch, {g:.1f} GFLOP/s" for d, b, r, t, g in summary]
    worst_np = max(s[2] for s in summary)
    worst_t = max(s[3] for s in summary)
    verdict = "PASS" if worst_np <= 1.25 and not worst_t > 1.0 else "MISS"
    print(f"summary: {'; '.join(parts)}. worst: {worst_np:.2f}x the numpy floor (target <= 1.25), "
          f"{worst_t:.2f}x torch (target <= 1.00): {verdict}")


if __name__ == "__main__":
    main()
