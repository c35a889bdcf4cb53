"""One import name: tracegrad.engine, tracegrad.nn, tracegrad.viz; never top-level engine/nn/viz."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
import tracegrad

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_clean_folder_does_not_find_top_level_engine_nn_or_viz(tmp_path: Path) -> None:
    for name in ("engine", "nn", "viz"):
        proc = _run(f"import {name}", tmp_path)
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr, (name, proc.stderr)
    proc = _run(f"import sys; print([p for p in sys.path if p.rstrip('/') == {str(ROOT)!r}])", tmp_path)
    assert proc.stdout.strip() == "[]", "the editable install put the repository root on sys.path"


def test_tracegrad_works_next_to_a_students_own_engine_nn_and_viz(tmp_path: Path) -> None:
    # the micrograd lecture leaves an engine.py in the working folder
    (tmp_path / "engine.py").write_text("class Value:\n    mine = True\n")
    (tmp_path / "nn.py").write_text("MINE = 'nn'\n")
    (tmp_path / "viz.py").write_text("MINE = 'viz'\n")
    code = (
        "import engine, nn, viz\n"
        "from tracegrad.engine import Value, Tensor\n"
        "from tracegrad import nn as tnn\n"
        "import tracegrad.viz as tviz\n"
        "assert engine.Value.mine and nn.MINE == 'nn' and viz.MINE == 'viz'\n"
        "x = Value(2.0); y = (x * x).tanh(); y.backward()\n"
        "m = tnn.MLP(2, [3, 1], seed=0)\n"
        "g = tviz.draw_graph(y)\n"
        "print('ok', round(x.grad, 6), type(g).__name__)\n"
    )
    proc = _run(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok ")


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_version_is_the_project_version() -> None:
    assert tracegrad.__version__ == _project_version()
    script = Path(sys.executable).with_name("tracegrad")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"tracegrad {_project_version()}"


def test_the_wheel_holds_only_tracegrad_and_its_dist_info(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("engine", "nn", "viz"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("tracegrad-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"tracegrad", f"tracegrad-{_project_version()}.dist-info"}, tops
    for needed in ("tracegrad/__init__.py", "tracegrad/engine/__init__.py", "tracegrad/engine/ops.py",
                   "tracegrad/nn/__init__.py", "tracegrad/viz/__init__.py", "tracegrad/viz/templates/stepper.html",
                   "tracegrad/engine/py.typed"):
        assert needed in names, needed
    assert not any("_tracegrad" in n for n in names)
