"""micrograd's demo step, side by side: micrograd, tracegrad (dynamic, traced, batched), PyTorch, numpy by hand.

Workload (micrograd's demo): MLP(2, [16, 16, 1]) with ReLU, 100 two-moons
points (noise 0.1), hinge loss averaged + 1e-4 * sum p^2, one SGD update.
Seconds per training step (forward + backward + update), medians of repeats.
The floor is the same step written by hand in numpy (three matrix products
forward, their transposes backward, float64).  The batched replay runs twice:
compiled (``trace(..., fuse=True)``, the default: each layer one matrix product)
and grouped (``fuse=False``: one numpy call per depth and op), each with the L2
penalty as a second program replayed once per step; and compiled as one program,
the penalty written into the per-sample loss (``hinge + α Σ p²``, whose batch mean
is the same loss: the penalty is a layer over parameters, one product per batch),
with the parameters read and written per phase (zero_grad, backward, SGD: a loop
over the Values each), or as one vector (read once, ``batch(params=theta)``,
``backward(into=grad)``, SGD on the vector, written once); and ``nn.TracedStep``
with ``nn.SGD``, which is what ``nn.fit(..., trace=True)`` runs (the same vector
path, plus the loss's label checks and the outputs per row).  Then the
compile time (trace + finding the layers) for MLPs of growing size, up to
784-100-10 traced from scalar code.

    python bench/scalar_mlp.py [--quick]
"""

from __future__ import annotations

import gc
import random
import sys
import time
from typing import Any

import numpy as np
from _common import fmt_s, interleaved, machine, median_time, moons, quick_flag, table
from tracegrad import engine
from tracegrad.engine import Value, sum_values, trace
from tracegrad.nn import SGD, TracedStep

LR = 0.05
ALPHA = 1e-4
VECTOR_ROW = "tracegrad batched replay, compiled, one program, parameters as one vector"
TRACED_STEP_ROW = "tracegrad TracedStep (fit(trace=True)'s step: one program, nn.SGD on the vector)"


# ---------------------------------------------------------------- micrograd (its demo, verbatim)


def micrograd_step(X: list[list[float]], y: list[float]) -> tuple[Any, Any]:
    from micrograd.engine import Value as MValue
    from micrograd.nn import MLP as MMLP

    random.seed(1337)
    model = MMLP(2, [16, 16, 1])

    def step() -> float:
        inputs = [list(map(MValue, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        return total.data

    return step, model


# ---------------------------------------------------------------- numpy by hand (the floor)


def numpy_weights(params: list[Value], sizes: tuple[int, ...] = (2, 16, 16, 1)) -> list[np.ndarray]:
    """The MLP's parameters (neuron by neuron: weights, then bias) as [W1, b1, W2, b2, ...] arrays."""
    flat = np.array([p.data for p in params])
    out, at = [], 0
    for nin, nout in zip(sizes, sizes[1:]):
        block = flat[at:at + nout * (nin + 1)].reshape(nout, nin + 1)
        out += [block[:, :nin].copy(), block[:, nin].copy()]
        at += nout * (nin + 1)
    return out


def numpy_step(X: list[list[float]], y: list[float], weights: list[np.ndarray]) -> Any:
    """micrograd's demo step by hand: relu MLP, mean hinge + ALPHA * sum p^2, backward, SGD (in place)."""
    Xa, ya = np.array(X), np.array(y)
    n = len(ya)
    W1, b1, W2, b2, W3, b3 = weights

    def step() -> float:
        z1 = Xa @ W1.T + b1
        h1 = np.maximum(z1, 0.0)
        z2 = h1 @ W2.T + b2
        h2 = np.maximum(z2, 0.0)
        s = h2 @ W3[0] + b3[0]
        margin = 1.0 - ya * s
        total = np.maximum(margin, 0.0).mean() + ALPHA * sum((w * w).sum() for w in weights)
        ds = np.where(margin > 0.0, -ya / n, 0.0)
        dz2 = np.outer(ds, W3[0]) * (z2 > 0.0)
        dz1 = (dz2 @ W2) * (z1 > 0.0)
        grads = (dz1.T @ Xa, dz1.sum(0), dz2.T @ h1, dz2.sum(0), (ds @ h2)[None, :], ds.sum(keepdims=True))
        for w, g in zip(weights, grads):
            w -= LR * (g + 2.0 * ALPHA * w)
        return float(total)

    return step


# ---------------------------------------------------------------- tracegrad


def tracegrad_model(use_nn: bool = True) -> tuple[Any, list[Value], str]:
    """nn.MLP when the nn package is there (and wanted), else the same structure from engine Values."""
    try:
        if not use_nn:
            raise ImportError
        from tracegrad.nn import MLP

        model = MLP(2, [16, 16, 1], seed=1337)
        return model, model.parameters(), "nn.MLP"
    except ImportError:
        rng = random.Random(1337)
        sizes = (2, 16, 16, 1)
        params = [Value(rng.uniform(-1, 1)) if k < nin else Value(0.0)  # each neuron: weights, then bias
                  for nin, nout in zip(sizes, sizes[1:]) for _ in range(nout) for k in range(nin + 1)]
        model = _model_of(params, sizes)
        return model, params, "engine Values"


def loss_of(model: Any, params: list[Value], xs: list[list[Any]], ys: list[Any]) -> Value:
    scores = [model(x) for x in xs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
    data_loss = sum_values(losses) * (1.0 / len(losses))
    return data_loss + ALPHA * sum_values([p * p for p in params])


def batched_replay_step(params: list[Value], Xa: np.ndarray, ya: np.ndarray, sample: Any,
                        penalty: Any = None) -> Any:
    """One SGD step: ``sample`` replayed over the batch (mean), plus the ``penalty`` program if given."""

    def step() -> float:
        out = sample.batch(Xa, ya, reduce="mean") + (penalty() if penalty is not None else 0.0)
        engine.zero_grad(params)
        sample.backward()
        if penalty is not None:
            penalty.backward()
        sgd(params)
        return out

    return step


def vector_replay_step(params: list[Value], Xa: np.ndarray, ya: np.ndarray, sample: Any) -> Any:
    """One SGD step with the parameters as one vector: read once, replay, backward into a vector, write once."""
    ps = list(sample.params)  # the program's own order (the penalty inside: every parameter)
    assert len(ps) == len(params)

    def step() -> float:
        theta = np.array([p.data for p in ps])
        out = sample.batch(Xa, ya, reduce="mean", params=theta)
        grad = np.zeros(len(theta))
        sample.backward(into=grad)
        theta -= LR * grad
        for p, d, g in zip(ps, theta.tolist(), grad.tolist()):
            p.data = d
            p.grad = g
        return out

    return step


def sgd(params: list[Value]) -> None:
    for p in params:
        p.data -= LR * p.grad


def main() -> None:
    quick = quick_flag()
    reps = 3 if quick else 7
    X, y = moons()
    results: dict[str, float] = {}
    notes: list[str] = []

    mg_step, mg_model = micrograd_step(X, y)
    nodes = _count_micrograd_nodes(mg_model, X, y)
    steps: dict[str, Any] = {"micrograd": mg_step}
    for use_nn in (False, True):
        model, params, built = tracegrad_model(use_nn)

        def dyn_step(model: Any = model, params: list[Value] = params) -> float:
            total = loss_of(model, params, [[Value(a), Value(b)] for a, b in X], y)
            engine.zero_grad(params)
            total.backward()
            sgd(params)
            return total.data

        steps[f"tracegrad dynamic ({built})"] = dyn_step
    # collector on (as users run it): each in its own block, since a collection run
    # during one engine's step would also sweep up the other's garbage
    for name, fn in steps.items():
        gc.collect()
        results[f"{name}, GC on"] = median_time(fn, max(3, reps // 2) if name == "micrograd" else reps)
    # collector off (the engines' own work): one step of each in turn, so load drift hits all alike
    for name, t in interleaved(steps, reps, gc_on=False).items():
        results[f"{name}, GC off"] = t
    tg_nodes = len(engine.topological_order(loss_of(model, params, [[Value(a), Value(b)] for a, b in X], y)))

    # traced replay: the whole step's loss, traced once, replayed each step
    g = trace(lambda xs, ys: loss_of(model, params, xs, ys), X, y, params=params)

    def traced_step() -> float:
        out = g(X, y)
        engine.zero_grad(params)
        g.backward()
        sgd(params)
        return out

    results[f"tracegrad traced replay ({g.replay})"] = median_time(traced_step, reps * 3, gc_on=True)

    # batched replay: the per-sample program over the batch + the penalty program
    sample = trace(lambda x, t: (1 + -t * model(x)).relu(), X[0], y[0], params=params)
    penalty = trace(lambda: ALPHA * sum_values([p * p for p in params]), params=params)

    Xa, ya = np.array(X), np.array(y)  # as the floor: the data as arrays once, before the steps

    batched_step = batched_replay_step(params, Xa, ya, sample, penalty)
    one = trace(lambda x, t: (1 + -t * model(x)).relu() + ALPHA * sum_values([p * p for p in params]),
                X[0], y[0], params=params)

    one_program_step = batched_replay_step(params, Xa, ya, one)
    vector_step = vector_replay_step(params, Xa, ya, one)
    traced_step_nn = TracedStep(model, "hinge", params, optimizer=SGD(params, lr=LR), l2=ALPHA)
    traced_step_nn(Xa, ya)  # the first call traces (and decides how targets enter the program)
    floor = numpy_step(X, y, numpy_weights(params))
    grouped = trace(lambda x, t: (1 + -t * model(x)).relu(), X[0], y[0], params=params, fuse=False)

    grouped_step = batched_replay_step(params, Xa, ya, grouped, penalty)

    # side by side, round-robin: the floor, the compiled and the grouped batched replays
    side = interleaved({"numpy by hand, float64 (the floor)": floor,
                        "tracegrad batched replay, compiled (fuse=True)": batched_step,
                        "tracegrad batched replay, compiled, one program (penalty inside)": one_program_step,
                        VECTOR_ROW: vector_step,
                        TRACED_STEP_ROW: lambda: traced_step_nn(Xa, ya),
                        "tracegrad batched replay, grouped (fuse=False)": grouped_step}, reps * 30)
    results.update(side)

    # identical numbers: one more step each from the same weights
    diffs = _agreement(model, params, X, y, g, sample, penalty, one)
    floor_diff = _floor_agreement(params, X, y)
    step_diff = _step_agreement(model, params, X, y)

    torch_rows = _torch_steps(X, y, reps)
    results.update(torch_rows)

    mg_on = results["micrograd, GC on"]
    mg_off = results["micrograd, GC off"]
    torch_ref = results.get("PyTorch CPU, float32 (batch)")
    numpy_ref = results["numpy by hand, float64 (the floor)"]
    rows = []
    for name, t in results.items():
        ratio = mg_off / t if "GC off" in name else mg_on / t
        vs_torch = f"{t / torch_ref:.1f}x" if torch_ref else "-"
        rows.append([name, fmt_s(t), f"{ratio:.1f}x", vs_torch, f"{t / numpy_ref:.2f}x"])
    print(f"scalar_mlp: MLP(2, [16, 16, 1]) on moons(100), hinge + 1e-4 L2, SGD ({machine()})")
    print(f"micrograd builds {nodes:,} nodes per step; tracegrad ({built}) builds {tg_nodes:,}; "
          f"the traced program has {len(g.ops):,} ops, the per-sample program {len(sample.ops)}")
    print(table(["step", "seconds / step", "speed-up vs micrograd (same GC)", "time / PyTorch", "time / numpy"],
                rows))
    print(f"traced vs dynamic: |loss diff| {diffs[0]:.1e}, max |grad diff| {diffs[1]:.1e}; "
          f"batched (compiled) vs dynamic: {diffs[2]:.1e}, {diffs[3]:.1e}; "
          f"one program vs dynamic: {diffs[4]:.1e}, {diffs[5]:.1e}; "
          f"numpy by hand vs dynamic, one step's weights: {floor_diff:.1e}; "
          f"TracedStep (nn.SGD on the vector) vs dynamic, one step's weights and grads: {step_diff:.1e}")
    print(sample.fusion())
    notes.append(f"micrograd GC on {fmt_s(mg_on)}")
    dyn_on = mg_on / results["tracegrad dynamic (engine Values), GC on"]
    dyn_off = mg_off / results["tracegrad dynamic (engine Values), GC off"]
    nn_rows = [k for k in results if k.startswith("tracegrad dynamic (nn.MLP)")]
    nn_part = (f" (with nn.MLP: {mg_on / results[nn_rows[0]]:.1f}x, {mg_off / results[nn_rows[1]]:.1f}x)"
               if nn_rows else "")
    traced = mg_on / next(v for k, v in results.items() if k.startswith("tracegrad traced"))
    batched = results["tracegrad batched replay, compiled (fuse=True)"] / torch_ref if torch_ref else float("nan")
    compiled = results["tracegrad batched replay, compiled (fuse=True)"]
    one_t = results["tracegrad batched replay, compiled, one program (penalty inside)"]
    print(f"SUMMARY scalar_mlp: dynamic {dyn_on:.1f}x micrograd (GC on), {dyn_off:.1f}x (GC off){nn_part}; "
          f"traced replay {traced:.0f}x; batched replay {batched:.1f}x PyTorch CPU time; compiled batched "
          f"replay {compiled / numpy_ref:.2f}x numpy by hand (one program {one_t / numpy_ref:.2f}x; "
          f"parameters as one vector {results[VECTOR_ROW] / numpy_ref:.2f}x; TracedStep "
          f"{results[TRACED_STEP_ROW] / numpy_ref:.2f}x; grouped "
          f"{results['tracegrad batched replay, grouped (fuse=False)'] / numpy_ref:.2f}x)")
    compile_times(quick)


# ---------------------------------------------------------------- compile time


def compile_times(quick: bool) -> None:
    """Seconds to trace one sample's hinge loss and find its layers, for MLPs of growing size."""
    shapes = [(2, [16, 16, 1]), (2, [64, 64, 1]), (10, [100, 100, 10]), (784, [100, 10])]
    from tracegrad.nn import MLP

    rows = []
    for nin, sizes in shapes[:3] if quick else shapes:
        model = MLP(nin, sizes, seed=0)
        params = model.parameters()
        x = [0.1] * nin
        best = (float("inf"), float("inf"))
        for _ in range(3 if len(params) < 20_000 else 1):  # the best of three: the first pays for warm-up
            t0 = time.perf_counter()
            g = trace(lambda x, t, model=model: (1 + -t * _total(model(x))).relu(), x, 1.0, params=params)
            t1 = time.perf_counter()
            plan = g.fused_plan()
            t2 = time.perf_counter()
            best = min(best, (t1 - t0, t2 - t1), key=sum)
        rows.append([f"{nin}-{'-'.join(map(str, sizes))}", f"{len(params):,}", f"{len(g.ops):,}",
                     fmt_s(best[0]), fmt_s(best[1]), fmt_s(sum(best)), f"{len(plan.layers)}",
                     f"{plan.fused_ops:,} / {len(g.ops):,}"])
        del g, model, params
        gc.collect()
    print(table(["MLP", "params", "ops", "trace", "find layers", "compile total", "layers", "ops fused"], rows))



def _count_micrograd_nodes(model: Any, X: list[list[float]], y: list[float]) -> int:
    from micrograd.engine import Value as MValue

    scores = [model(list(map(MValue, r))) for r in X]
    total = sum((1 + -yi * s).relu() for yi, s in zip(y, scores)) * (1.0 / len(X))
    total = total + ALPHA * sum(p * p for p in model.parameters())
    seen: set[int] = set()
    stack = [total]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            stack.extend(v._prev)
    del total, scores
    gc.collect()
    return len(seen)


def _agreement(model: Any, params: list[Value], X: Any, y: Any, g: Any, sample: Any, penalty: Any,
               one: Any) -> list[float]:
    engine.zero_grad(params)
    ref = loss_of(model, params, [[Value(a), Value(b)] for a, b in X], y)
    ref.backward()
    want = [p.grad for p in params]
    engine.zero_grad(params)
    got = g(X, y)
    g.backward()
    traced = [p.grad for p in params]
    engine.zero_grad(params)
    batched = sample.batch(X, y) + penalty()
    sample.backward()
    penalty.backward()
    batched_grads = [p.grad for p in params]
    engine.zero_grad(params)
    single = one.batch(X, y)
    one.backward()
    out = [
        abs(got - ref.data), max(abs(a - b) for a, b in zip(traced, want)),
        abs(batched - ref.data), max(abs(a - b) for a, b in zip(batched_grads, want)),
        abs(single - ref.data), max(abs(p.grad - b) for p, b in zip(params, want)),
    ]
    engine.zero_grad(params)
    return out


def _step_agreement(model: Any, params: list[Value], X: Any, y: Any) -> float:
    """Max |diff| of the weights and gradients after one step: TracedStep (nn.SGD on the vector) against the
    dynamic engine's step, from the same weights."""
    before = [p.data for p in params]
    step = TracedStep(model, "hinge", params, optimizer=SGD(params, lr=LR), l2=ALPHA)
    step(np.array(X), np.array(y))
    got = [(p.data, p.grad) for p in params]
    for p, v in zip(params, before):
        p.data = v
    engine.zero_grad(params)
    total = loss_of(model, params, [[Value(a), Value(b)] for a, b in X], y)
    total.backward()
    sgd(params)
    diff = max(max(abs(p.data - d), abs(p.grad - g)) for p, (d, g) in zip(params, got))
    for p, v in zip(params, before):
        p.data = v
    engine.zero_grad(params)
    return diff


def _total(out: Any) -> Value:
    """A model's one output, or the sum of its outputs (a score for the hinge in the compile-time runs)."""
    return out if type(out) is Value else sum_values(out)


def _floor_agreement(params: list[Value], X: Any, y: Any) -> float:
    """Max |weight diff| after one step: numpy by hand against the dynamic engine, from the same weights."""
    before = [p.data for p in params]
    weights = numpy_weights(params)
    numpy_step(X, y, weights)()
    engine.zero_grad(params)
    total = loss_of(_model_of(params), params, [[Value(a), Value(b)] for a, b in X], y)
    total.backward()
    sgd(params)
    after = numpy_weights(params)
    for p, v in zip(params, before):
        p.data = v
    engine.zero_grad(params)
    return max(float(np.abs(a - b).max()) for a, b in zip(after, weights))


def _model_of(params: list[Value], sizes: tuple[int, ...] = (2, 16, 16, 1)) -> Any:
    """The relu MLP over ``params`` (neuron by neuron: weights, then bias), from engine Values."""
    layers, at = [], 0
    for nin, nout in zip(sizes, sizes[1:]):
        layers.append([(params[at + j * (nin + 1):at + j * (nin + 1) + nin], params[at + j * (nin + 1) + nin])
                       for j in range(nout)])
        at += nout * (nin + 1)

    def model(x: list[Any]) -> Value:
        for i, layer in enumerate(layers):
            x = [sum_values([w * xi for w, xi in zip(ws, x)] + [b]) for ws, b in layer]
            if i < len(layers) - 1:
                x = [v.relu() for v in x]
        return x[0]

    return model


def _torch_steps(X: list[list[float]], y: list[float], reps: int) -> dict[str, float]:
    try:
        import torch
    except ImportError:
        print("(torch not installed: PyTorch rows skipped)", file=sys.stderr)
        return {}
    torch.set_num_threads(1)
    out = {}
    for dtype, name in ((torch.float32, "float32"), (torch.float64, "float64")):
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
            torch.nn.Linear(16, 1),
        ).to(dtype)
        Xt = torch.tensor(X, dtype=dtype)
        yt = torch.tensor(y, dtype=dtype)
        opt = torch.optim.SGD(net.parameters(), lr=LR)

        def step(net: Any = net, Xt: Any = Xt, yt: Any = yt, opt: Any = opt) -> float:
            scores = net(Xt).squeeze(1)
            loss = torch.relu(1 - yt * scores).mean() + ALPHA * sum((p * p).sum() for p in net.parameters())
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        out[f"PyTorch CPU, {name} (batch)"] = median_time(step, reps * 30, warmup=5, gc_on=True)
    return out


if __name__ == "__main__":
    main()
