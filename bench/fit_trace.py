"""nn.fit on micrograd's demo, dynamic against traced (`python bench/fit_trace.py [--quick]`).

MLP(2, [16, 16, 1]) with micrograd's weights (seed 1337), 100 two-moons points, mean hinge loss
+ 1e-4 L2, SGD with micrograd's schedule, full batch: ``fit(trace=False)`` builds a graph of
Values at every step; ``fit(trace=True)`` traces one sample's program on the first step and then
replays it over the batch (layers as matrix products, the parameters as one vector). Both run in
this process, from the same weights; the table gives the time per step, the ratio, and the
largest difference in any epoch's loss and in any final weight.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from _common import fmt_s, machine, quick_flag, table
from tracegrad import nn


def run(trace: bool, epochs: int) -> tuple[float, Any, list[float]]:
    """Seconds for ``epochs`` full-batch steps, the history, and the final weights."""
    X, y = nn.data.moons(100, noise=0.1, seed=1337)
    y = [2 * t - 1 for t in y]
    model = nn.MLP(2, [16, 16, 1], seed=1337)
    sgd = nn.SGD(model, lr=lambda k: 1.0 - 0.9 * k / 100)
    start = time.perf_counter()
    history = nn.fit(model, X, y, loss="hinge", l2=1e-4, optimizer=sgd, epochs=epochs,
                     trace=trace, progress=False)
    seconds = time.perf_counter() - start
    return seconds, history, [p.data for p in model.parameters()]


def main() -> None:
    quick = quick_flag()
    epochs = 20 if quick else 100
    dyn_runs = [run(False, epochs) for _ in range(1 if quick else 3)]
    traced_runs = [run(True, epochs) for _ in range(3 if quick else 5)]
    dyn = statistics.median(r[0] for r in dyn_runs) / epochs
    traced = statistics.median(r[0] for r in traced_runs) / epochs
    (_, h_dyn, w_dyn), (_, h_tr, w_tr) = dyn_runs[0], traced_runs[0]
    loss_diff = max(abs(a - b) for a, b in zip(h_dyn.loss, h_tr.loss))
    weight_diff = max(abs(a - b) for a, b in zip(w_dyn, w_tr))
    same_accuracy = h_dyn.metrics["accuracy"] == h_tr.metrics["accuracy"]
    print(f"# nn.fit on micrograd's demo, {epochs} full-batch steps; {machine()}")
    print(table(["fit", "time / step (median)", "speed-up"],
                [["trace=False (a graph of Values per step)", fmt_s(dyn), "1.0x"],
                 ["trace=True (tracing included)", fmt_s(traced), f"{dyn / traced:.0f}x"]]))
    print(f"largest difference: loss {loss_diff:.1e}, weight {weight_diff:.1e}; "
          f"per-epoch accuracies {'identical' if same_accuracy else 'DIFFER'}")
    print(f"SUMMARY fit_trace: trace=True {dyn / traced:.0f}x faster than trace=False "
          f"({fmt_s(traced)} vs {fmt_s(dyn)} per step), loss diff {loss_diff:.1e}")


if __name__ == "__main__":
    main()
