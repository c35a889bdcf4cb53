"""matplotlib plots: decision boundary, training history, activations and their derivatives.

Needs matplotlib (the ``notebooks`` extra).  These functions never choose a
backend: in a notebook figures show inline; the ``tracegrad`` command line
selects the non-interactive Agg backend itself.

The decision boundary is evaluated on a grid without building one graph per
grid point: the model is called once on symbolic input leaves and that graph
is replayed on whole numpy arrays by the engine's public replay
(``Trace.inspect``: each op's ``array_fn`` from the op table, element-wise).

For slides, save at ``SLIDE_DPI``: ``fig.savefig("loss.png", dpi=SLIDE_DPI)``
gives 1280 px wide pictures from the default figure sizes (6.4 in wide), as
``tracegrad demo`` does; notebooks show the same figures at screen size.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import Tensor, Trace, Value, no_grad

HANGUL_FONT = "NanumGothic"  # shipped by koreanize-matplotlib (the notebooks extra): matplotlib's DejaVu has no Hangul
SLIDE_DPI = 200  # savefig dpi for slides: 6.4 in x 200 dpi = 1280 px wide
FIGSIZE = (6.4, 4.8)  # inches: the default plot size (matplotlib's own)


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "viz plots need matplotlib: pip install 'tracegrad[notebooks]'"
        ) from exc
    return plt


def has_hangul(text: str) -> bool:
    """Whether ``text`` has Hangul (syllables, jamo or compatibility jamo)."""
    return any("\uac00" <= c <= "\ud7a3" or "\u1100" <= c <= "\u11ff" or "\u3130" <= c <= "\u318f"
               for c in text)


def hangul_font_file() -> Path | None:
    """NanumGothic.ttf from the koreanize-matplotlib package, or ``None`` when it is not installed.

    Found without importing the package: its import changes matplotlib's
    global font settings for every plot.
    """
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / "NanumGothic.ttf"
    return path if path.is_file() else None


def use_hangul_font(fig: Any) -> Any:
    """Give every text of ``fig`` that has Hangul a font with its glyphs; returns ``fig``.

    The text keeps its own font for Latin letters and digits, and falls back
    to :data:`HANGUL_FONT` for the Korean ones.  The plots here call it
    themselves; call it after adding Korean labels of your own
    (``ax.set_xlabel("시간 t")``).  Without koreanize-matplotlib: a
    ``UserWarning`` that says how to get the font (the glyphs would be boxes).
    """
    from matplotlib import font_manager
    from matplotlib.text import Text

    texts = [t for t in fig.findobj(Text) if has_hangul(t.get_text())]
    if not texts:
        return fig
    path = hangul_font_file()
    if path is None:
        warnings.warn("Korean text in a plot needs a Hangul font: pip install 'tracegrad[notebooks]' "
                      "(its koreanize-matplotlib ships NanumGothic)", UserWarning, stacklevel=2)
        return fig
    if HANGUL_FONT not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(path))
    for t in texts:
        own = [f for f in t.get_fontfamily() if f != HANGUL_FONT]
        t.set_fontfamily([*own, HANGUL_FONT])
    return fig


# ---------------------------------------------------------------- batched replay


def replay(outputs: Sequence[Value], inputs: Sequence[Value],
           columns: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Evaluate the graph of ``outputs`` with ``inputs[k]`` replaced by ``columns[k]``.

    Every other leaf keeps its ``.data``; the graph is the engine's program
    (``Trace.from_graph``), replayed over the columns by ``Trace.inspect``:
    each gate applies its op table ``array_fn`` element-wise.
    """
    if len(inputs) != len(columns):
        raise ValueError(f"replay: {len(inputs)} inputs but {len(columns)} columns")
    if not outputs:
        return []
    g = Trace.from_graph(outputs[0], inputs, aux=list(outputs))
    return list(g.inspect(*columns, grad=None, batch=True).aux)


def is_tensor_model(model: Any) -> bool:
    """Whether ``model``'s parameters are ``engine.Tensor`` s (a tensor model such as ``nn.Sequential``)."""
    params = getattr(model, "parameters", None)
    return callable(params) and any(isinstance(p, Tensor) for p in params())


def _tensor_scores(model: Any, grid: np.ndarray) -> tuple[list[np.ndarray], bool]:
    """A tensor model's outputs on the grid rows (one column per output), and whether the last gate is a sigmoid.

    One row runs with the graph on (to read the output gate); the grid runs
    under ``no_grad`` in one batch.
    """
    dtype = model.parameters()[0].data.dtype
    probe = model(Tensor(grid[:1].astype(dtype)))
    if not isinstance(probe, Tensor):
        raise TypeError(f"a tensor model must return a Tensor, got {type(probe).__name__}")
    with no_grad():
        out = np.asarray(model(Tensor(grid.astype(dtype))).data, dtype=float)
    columns = out.reshape(len(grid), -1)
    return [columns[:, k] for k in range(columns.shape[1])], probe.op == "sigmoid"


def decision_zones(model: Any, points: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """The class ``model`` gives each row of ``points`` (n, 2), as floats.

    One output: output > ``threshold`` (default 0.5 after a sigmoid gate,
    else 0); several outputs: argmax.  Scalar models are replayed through
    their graph, tensor models run on the whole batch.
    """
    if is_tensor_model(model):
        scores, sigmoid = _tensor_scores(model, points)
    else:
        xs, outs = _model_fn(model, 2)
        scores = replay(outs, xs, [points[:, 0], points[:, 1]])
        sigmoid = outs[0].op == "sigmoid"
    if len(scores) == 1:
        cut = threshold if threshold is not None else (0.5 if sigmoid else 0.0)
        return (scores[0] > cut).astype(float)
    return np.argmax(np.stack(scores), axis=0).astype(float)


def _model_fn(model: Any, nin: int) -> tuple[list[Value], list[Value]]:
    xs = [Value(0.0, f"x{k + 1}") for k in range(nin)]
    out = model(xs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not all(isinstance(o, Value) for o in outs):
        raise TypeError("the model must return a Value or a list of Values")
    return xs, outs


# ---------------------------------------------------------------- plots


def plot_decision_boundary(model: Any, X: Any, y: Any, *, ax: Any = None,
                           resolution: int = 200, margin: float = 0.5,
                           threshold: float | None = None, title: str | None = None) -> Any:
    """The model's decision regions over the 2-D data, with the points on top.

    ``model``: a scalar model (``nn.MLP``: called once on symbolic inputs, that
    graph replayed on the grid) or a tensor model (``nn.Sequential``: the grid
    as one batch, without a graph).  One output: class = output > ``threshold``
    (default 0.5 after a sigmoid gate, else 0, as for hinge labels -1/+1);
    several outputs: argmax.  Returns the matplotlib Figure.
    """
    pts = np.asarray(X, dtype=float)
    labels = np.asarray(y)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points, X of shape (n, 2); "
                         f"got shape {pts.shape}")
    if len(labels) != len(pts):
        raise ValueError(f"X has {len(pts)} rows but y has {len(labels)} labels")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    plt = _pyplot()
    lo, hi = pts.min(axis=0) - margin, pts.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    zone = decision_zones(model, np.column_stack([gx.ravel(), gy.ravel()]), threshold)
    if ax is None:
        fig, ax = plt.subplots(figsize=FIGSIZE)
    else:
        fig = ax.figure
    ax.contourf(gx, gy, zone.reshape(gx.shape), alpha=0.35, cmap="coolwarm")
    classes = np.unique(labels)
    for c, colour in zip(classes, plt.get_cmap("coolwarm")(np.linspace(0, 1, len(classes)))):
        sel = labels == c
        ax.scatter(pts[sel, 0], pts[sel, 1], s=22, color=colour, edgecolors="k",
                   linewidths=0.5, label=f"class {c}")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="best", fontsize=9)
    ax.set_title(title or "decision boundary")
    return use_hangul_font(fig)


def plot_history(history: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Loss per epoch (left axis) and each metric, e.g. accuracy (right axis).

    ``history``: an ``nn.History`` (``.loss`` list, ``.metrics`` dict) or a
    dict with ``'loss'`` and optional ``'metrics'``.  Returns the Figure.
    """
    if isinstance(history, dict):
        loss, metrics = history.get("loss"), history.get("metrics", {})
    else:
        loss, metrics = getattr(history, "loss", None), getattr(history, "metrics", {})
    if loss is None:
        raise TypeError(f"plot_history needs a History (or dict) with a 'loss' list, "
                        f"got {type(history).__name__}")
    if len(loss) == 0:
        raise ValueError("plot_history: the history has no epochs")
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(FIGSIZE[0], 4.0))
    else:
        fig = ax.figure
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, color="tab:red", label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss", color="tab:red")
    top = ax
    if metrics:
        top = ax.twinx()
        for name, values in metrics.items():
            if len(values):
                top.plot(np.arange(1, len(values) + 1), values, label=name)
        top.set_ylabel("metric")
    # one legend for both axes: the loss line and every metric
    handles, names = ax.get_legend_handles_labels()
    if top is not ax:
        more = top.get_legend_handles_labels()
        handles, names = handles + more[0], names + more[1]
    top.legend(handles, names, loc="center right", fontsize=9)
    ax.set_title(title or "training history")
    return use_hangul_font(fig)


def _closed_form(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-x))
        return s, s * (1.0 - s)
    if name == "tanh":
        t = np.tanh(x)
        return t, 1.0 - t * t
    if name == "relu":
        return np.maximum(x, 0.0), (x > 0).astype(float)
    if name == "leaky_relu":
        return np.where(x > 0, x, 0.01 * x), np.where(x > 0, 1.0, 0.01)
    raise ValueError(f"unknown activation {name!r}")


FORMULAS = {
    "sigmoid": "σ'(z) = σ(z)(1 - σ(z))",
    "tanh": "tanh'(z) = 1 - tanh(z)²",
    "relu": "relu'(z) = 1 if z > 0 else 0",
    "leaky_relu": "lrelu'(z) = 1 if z > 0 else 0.01",
}


def activation_curves(name: str, xs: Sequence[float]) -> tuple[list[float], list[float]]:
    """f(x) and f'(x) for each x, computed through the engine (forward, then backward)."""
    method = {"sigmoid": Value.sigmoid, "tanh": Value.tanh, "relu": Value.relu,
              "leaky_relu": Value.leaky_relu}.get(name)
    if method is None:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(FORMULAS)}")
    ys, ds = [], []
    for x in xs:
        v = Value(float(x), "z")
        out = method(v)
        out.backward()
        ys.append(out.data)
        ds.append(v.grad)
    return ys, ds


def plot_activations(names: Sequence[str] = ("sigmoid", "tanh", "relu", "leaky_relu"), *,
                     lo: float = -5.0, hi: float = 5.0, points: int = 201) -> Any:
    """Each activation and its derivative through the engine, beside the closed form.

    Solid lines: the engine (``Value.sigmoid()`` etc., then ``backward``);
    dotted: the textbook formula.  Saturation is where the derivative goes
    to 0.  Returns the Figure.
    """
    if not names:
        raise ValueError("plot_activations needs at least one activation name")
    for n in names:
        if n not in FORMULAS:
            raise ValueError(f"unknown activation {n!r}; choose from {sorted(FORMULAS)}")
    for name, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{name} must be a number, got {type(v).__name__}: {v!r:.60}")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got lo={lo!r}, hi={hi!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise ValueError(f"points must be an int >= 2, got {points!r}")
    plt = _pyplot()
    x = np.linspace(lo, hi, points)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        ys, ds = activation_curves(name, x)
        cy, cd = _closed_form(name, x)
        ax.plot(x, ys, color="tab:blue", label=f"{name}(z) (engine)")
        ax.plot(x, ds, color="tab:red", label=f"{name}'(z) (engine backward)")
        ax.plot(x, cy, ":", color="k", linewidth=1.2, label="closed form")
        ax.plot(x, cd, ":", color="k", linewidth=1.2)
        ax.axhline(0, color="#999", linewidth=0.5)
        ax.set_title(f"{name}\n{FORMULAS[name]}", fontsize=9)
        ax.set_xlabel("z")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return use_hangul_font(fig)
