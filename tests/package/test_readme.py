"""The README's numbers and pictures for gradients of gradients come from code that checks them."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
from tracegrad.engine import Tensor, Value, define_op, grad, topological_order

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_tanh_numbers_and_graph_sizes() -> None:
    x = Value(1.0, "x")
    y = x.tanh()
    dy = grad(y, x, create_graph=True)
    d2y = grad(dy, x, create_graph=True)
    assert f"{dy.data:.6f}" == "0.419974" and f"{d2y.data:.6f}" == "-0.639700"
    assert "1 - tanh(1)^2 = 0.419974" in README and "= -0.639700" in README
    d, sizes = y, []
    for _ in range(5):
        d = grad(d, x, create_graph=True)
        sizes.append(len(topological_order(d)))
    assert sizes == [5, 9, 20, 47, 118]
    assert "5, 9, 20, 47, 118 nodes for n = 1..5" in README


def test_the_readme_newton_and_hessian() -> None:
    x, iterates = Value(2.0), []
    for _ in range(6):
        f = x**4 - 2 * x**2
        g = grad(f, x, create_graph=True)
        x = Value(x.data - g.data / grad(g, x).data)
        iterates.append(x.data)
    assert [f"{v:.4f}" for v in iterates[:4]] == ["1.4545", "1.1510", "1.0253", "1.0009"]
    assert f"{iterates[4]:.7f}" == "1.0000012" and iterates[5] == pytest.approx(1.0, abs=1e-11)
    assert "1.4545, 1.1510, 1.0253, 1.0009, 1.0000012, 1.0" in README
    a, b = Value(1.0), Value(2.0)
    ga, gb = grad(a**3 * b + a * b**2, [a, b], create_graph=True)
    H = [[h.data for h in grad(ga, [a, b])], [h.data for h in grad(gb, [a, b])]]
    assert H == [[12.0, 7.0], [7.0, 2.0]] and "[[12, 7], [7, 2]]" in README


def test_the_readme_softplus_gate() -> None:
    softplus = define_op("softplus_readme", forward=lambda m, x: m.log(1 + m.exp(x)),
                         local_grads=lambda m, x, out: (m.sigmoid(x),))
    x = Value(0.5, "x")
    y = softplus(x)
    y.backward()
    s = 1 / (1 + math.exp(-0.5))
    assert f"{x.grad:.4f}" == f"{s:.4f}" == "0.6225" and "σ(0.5) == 0.6225" in README
    assert f"{grad(grad(y, x, create_graph=True), x).data:.4f}" == "0.2350" and "σ(1 - σ) = 0.2350" in README
    assert softplus(Tensor([0.5, 2.0])).shape == (2,)


def test_the_committed_figures_are_what_the_code_draws() -> None:
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "notebooks" / "figures" / "make_figures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, make in module.FIGURES.items():
        assert f"notebooks/figures/{name}" in README
        committed = (ROOT / "notebooks" / "figures" / name).read_text(encoding="utf-8")
        assert make().svg() == committed, f"{name} is stale: run python notebooks/figures/make_figures.py"


def _python_blocks() -> list[str]:
    """The README's ```python blocks, dedented (some sit inside list items)."""
    import re
    import textwrap

    return [textwrap.dedent(b) for b in re.findall(r"^[ \t]*```python\n(.*?)^[ \t]*```", README, flags=re.S | re.M)]


def test_every_python_block_of_the_readme_runs_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # as a reader would paste them, one after another into one session (blocks may build on earlier ones)
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks()
    assert len(blocks) >= 10
    namespace: dict[str, object] = {}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"README python block {i + 1}", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # name the block that broke
            raise AssertionError(f"README python block {i + 1} fails: {type(exc).__name__}: {exc}\n{block}") from exc


def test_the_readme_stepper_text_is_what_the_stepper_prints() -> None:
    from tracegrad import viz
    from tracegrad.viz.cli import lecture_network

    shown = viz.BackpropStepper(lecture_network())[2].text
    commented = "\n".join(f"  # {line}" for line in shown.splitlines())
    assert commented in README, shown


def test_the_readme_opening_table_is_what_the_stepper_prints() -> None:
    from tracegrad import viz

    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = Value(10.0, "c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * Value(-2.0, "f")
    L.label = "L"
    L.backward()
    table = viz.BackpropStepper(L).table()
    assert "\n".join(f"# {line}".rstrip() for line in str(table).splitlines()) in README
