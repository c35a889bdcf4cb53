"""The README files: short, pictures first, every link inside the repository, every number and
every Python block checked by running it (tests/package/readme_blocks.py)."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest
from tracegrad.engine import Tensor, Value, define_op, grad, topological_order

from tests.package.readme_blocks import python_blocks, run_block

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "engine" / "README.md", ROOT / "nn" / "README.md",
        ROOT / "viz" / "README.md", ROOT / "bench" / "README.md", ROOT / "notebooks" / "README.md"]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ALL_DOCS = "\n".join(d.read_text(encoding="utf-8") for d in DOCS)


def test_the_readme_is_short_and_opens_with_the_pictures_and_the_two_commands() -> None:
    lines = README.splitlines()
    assert len(lines) < 300, len(lines)
    first_screen = "\n".join(lines[:40])
    assert "notebooks/figures/lecture_flow.svg" in first_screen
    assert "notebooks/figures/lecture_step.svg" in first_screen
    assert "make demo" in first_screen and "make test" in first_screen


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_every_link_of_a_readme_points_inside_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text and "shared/" not in text
    for target in re.findall(r"\]\(([^)#\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name} links to {target}"


def test_the_readme_tanh_numbers_and_graph_sizes() -> None:
    x = Value(1.0, "x")
    y = x.tanh()
    dy = grad(y, x, create_graph=True)
    d2y = grad(dy, x, create_graph=True)
    assert f"{dy.data:.6f}" == "0.419974" and f"{d2y.data:.6f}" == "-0.639700"
    assert "1 - tanh(1)^2 = 0.419974" in ALL_DOCS and "= -0.639700" in ALL_DOCS
    d, sizes = y, []
    for _ in range(5):
        d = grad(d, x, create_graph=True)
        sizes.append(len(topological_order(d)))
    assert sizes == [5, 9, 20, 47, 118]
    assert "5, 9, 20, 47, 118 nodes for n = 1..5" in ALL_DOCS


def test_the_readme_newton_and_hessian() -> None:
    x, iterates = Value(2.0), []
    for _ in range(6):
        f = x**4 - 2 * x**2
        g = grad(f, x, create_graph=True)
        x = Value(x.data - g.data / grad(g, x).data)
        iterates.append(x.data)
    assert [f"{v:.4f}" for v in iterates[:4]] == ["1.4545", "1.1510", "1.0253", "1.0009"]
    assert f"{iterates[4]:.7f}" == "1.0000012" and iterates[5] == pytest.approx(1.0, abs=1e-11)
    assert "1.4545, 1.1510, 1.0253, 1.0009, 1.0000012, 1.0" in ALL_DOCS
    a, b = Value(1.0), Value(2.0)
    ga, gb = grad(a**3 * b + a * b**2, [a, b], create_graph=True)
    H = [[h.data for h in grad(ga, [a, b])], [h.data for h in grad(gb, [a, b])]]
    assert H == [[12.0, 7.0], [7.0, 2.0]] and "[[12, 7], [7, 2]]" in ALL_DOCS


def test_the_readme_softplus_gate() -> None:
    softplus = define_op("softplus_readme", forward=lambda m, x: m.log(1 + m.exp(x)),
                         local_grads=lambda m, x, out: (m.sigmoid(x),))
    x = Value(0.5, "x")
    y = softplus(x)
    y.backward()
    s = 1 / (1 + math.exp(-0.5))
    assert f"{x.grad:.4f}" == f"{s:.4f}" == "0.6225" and "σ(0.5) == 0.6225" in ALL_DOCS
    assert f"{grad(grad(y, x, create_graph=True), x).data:.4f}" == "0.2350" and "σ(1 - σ) = 0.2350" in ALL_DOCS
    assert softplus(Tensor([0.5, 2.0])).shape == (2,)


def test_the_committed_figures_are_what_the_code_draws() -> None:
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "notebooks" / "figures" / "make_figures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, make in module.FIGURES.items():
        assert f"notebooks/figures/{name}" in ALL_DOCS
        committed = (ROOT / "notebooks" / "figures" / name).read_text(encoding="utf-8")
        assert make().svg() == committed, f"{name} is stale: run python notebooks/figures/make_figures.py"


@pytest.mark.parametrize("doc", [d for d in DOCS if python_blocks(d)], ids=lambda d: str(d.relative_to(ROOT)))
def test_every_python_block_runs_in_order_and_shows_what_it_prints(
        doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # as a reader would paste them, one after another into one session (blocks build on earlier ones)
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    checked = 0
    for i, block in enumerate(python_blocks(doc)):
        checked += run_block(block, namespace, f"{doc.relative_to(ROOT)} python block {i + 1}")
    assert checked >= 1, "no shown output was checked"
