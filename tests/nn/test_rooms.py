"""nn's rooms: every module imports only the modules below it, at the top of the file.

The import graph inside ``nn`` is read from the source (``ast``), so a circle
cannot hide in a function body: no function imports from tracegrad, and no
module reaches into the engine's private state.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tracegrad.nn

NN = Path(tracegrad.nn.__file__).resolve().parent

# Bottom to top: a module may import only modules listed before it.
ORDER = [
    "module", "init", "mnist", "labels",  # nothing from nn
    "data", "losses", "tensor_losses", "metrics", "optim", "mlp", "perceptron", "layers",
    "convert", "loss_registry", "prepare", "traced_step", "step", "train",
    "__init__",
]


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(NN.glob("*.py"))}


def _siblings(node: ast.ImportFrom | ast.Import, names: set[str]) -> set[str]:
    """The nn modules an import statement imports from."""
    if isinstance(node, ast.Import):
        return {a.name.split(".")[2] for a in node.names if a.name.startswith("tracegrad.nn.")}
    if node.level == 1 and node.module:
        return {node.module.split(".")[0]}
    if node.level == 1:  # from . import a, b
        return {a.name if a.name in names else "__init__" for a in node.names}
    if node.level == 0 and (node.module or "").startswith("tracegrad.nn."):
        return {node.module.split(".")[2]}
    return set()


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def graph() -> dict[str, set[str]]:
    """Module -> the nn modules it imports (anywhere in the file, function bodies included)."""
    mods = _modules()
    names = set(mods)
    return {m: set().union(*(_siblings(n, names) for n in _imports(t))) for m, t in mods.items()}


def test_every_module_has_a_place_in_the_order() -> None:
    assert set(graph()) == set(ORDER), "list a new nn module in ORDER (and in the README's layout)"


def test_the_import_graph_has_no_circle() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for s in sorted(edges[m]):
            if state.get(s) == 1:
                pytest.fail(f"import circle in nn: {' -> '.join([*path, m, s])}")
            if s not in state:
                visit(s, [*path, m])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [])


@pytest.mark.parametrize("module", ORDER)
def test_each_module_imports_only_downward(module: str) -> None:
    up = {s for s in graph()[module] if ORDER.index(s) >= ORDER.index(module)}
    assert not up, f"nn.{module} imports {sorted(up)}, which are not below it"


@pytest.mark.parametrize("module", ORDER)
def test_no_function_imports_from_tracegrad(module: str) -> None:
    """A function-level import of a sibling (or of the engine) is how a circle hides: none allowed.

    Optional third-party libraries (torch, tqdm, scikit-learn) may still be imported late.
    """
    tree = _modules()[module]
    late = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("tracegrad")):
                late.append(f"{fn.name}: from {'.' * node.level}{node.module or ''} import ...")
            if isinstance(node, ast.Import) and any(a.name.startswith("tracegrad") for a in node.names):
                late.append(f"{fn.name}: import tracegrad...")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"
            ):
                late.append(f"{fn.name}: {ast.unparse(node)}")
    assert not late, f"nn.{module} imports inside functions: {late}"


@pytest.mark.parametrize("module", ORDER)
def test_nn_imports_only_the_engine_and_never_its_state(module: str) -> None:
    """nn enters scopes and grad modes through engine.scope / no_grad, never by writing engine.state."""
    tree = _modules()[module]
    outside = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 2}
    assert outside <= {"engine"}, f"nn.{module} imports {sorted(outside)}"
    state = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "engine.state"]
    touches = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "STATE"]
    assert not state and not touches, f"nn.{module} reaches into engine.state"


def test_the_circles_that_were_broken_stay_broken() -> None:
    edges = graph()
    assert "convert" not in edges["layers"] | edges["mlp"]  # the models reach convert through nn.module
    assert edges["convert"] >= {"layers", "mlp"}
    assert "train" not in edges["step"] | edges["traced_step"] | edges["prepare"]
