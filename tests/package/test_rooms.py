"""Rooms and arrows, read with ``ast``: engine imports neither nn nor viz, nn imports no viz (and viz reads nn
only where it draws or trains models); no package has an import circle, hides an import of its own code
in a function, or imports another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"engine", "nn", "viz"}
ALLOWED = {"engine": {"engine", "tracegrad"}, "nn": {"nn", "engine", "tracegrad"},
           "viz": {"viz", "engine", "nn", "tracegrad"}}
NN_READERS = {"network", "cli"}  # viz: draw_network reads nn models; the demo trains one


def _modules(package: str) -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
            for p in sorted((ROOT / package).glob("*.py"))}


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[tuple[str, str, str]]:
    """``(package, module, name)`` for each name an import statement takes from tracegrad.

    ``from .core import Scene`` in a viz module gives ``('viz', 'core', 'Scene')``;
    ``from .. import nn`` gives ``('nn', '__init__', '')``; third-party imports give nothing.
    """
    if isinstance(node, ast.Import):
        out = []
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "tracegrad" and len(parts) > 1:
                out.append((parts[1], parts[2] if len(parts) > 2 else "__init__", ""))
        return out
    names = [a.name for a in node.names]
    if node.level == 0:
        parts = (node.module or "").split(".")
        if parts[0] != "tracegrad":
            return []
        parts = parts[1:]
    elif node.level == 1:
        parts = [package, *(node.module.split(".") if node.module else [])]
    elif node.level == 2:
        parts = node.module.split(".") if node.module else []
    else:
        raise AssertionError(f"import above the tracegrad package (level {node.level})")
    if not parts:  # from .. import nn, __version__
        return [(n, "__init__", "") if n in PACKAGES else ("tracegrad", "__init__", n)
                for n in names]
    if len(parts) == 1 and parts[0] == package and node.level == 1:  # from . import core
        return [(package, n, "") for n in names]
    return [(parts[0], parts[1] if len(parts) > 1 else "__init__", n) for n in names]


def _imports(tree: ast.Module) -> list[tuple[ast.AST, bool]]:
    """Every import statement of a module and whether it sits inside a function body."""
    found: list[tuple[ast.AST, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, in_function))
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            visit(child, inner)

    visit(tree, False)
    return found


def _sibling_graph(package: str) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, tree in _modules(package).items():
        graph[name] = {mod for node, _ in _imports(tree) for pkg, mod, _ in _targets(node, package)
                       if pkg == package and mod != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_modules_import_each_other_without_a_circle(package: str) -> None:
    graph = _sibling_graph(package)
    for name, deps in graph.items():
        assert deps <= set(graph) | {"__init__"}, f"{package}/{name}.py imports a module that does not exist: {deps}"
    cycle = find_cycle(graph)
    assert cycle is None, f"{package}: import circle {' -> '.join(cycle or [])}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_function_body_imports_tracegrad_code(package: str) -> None:
    # lazy imports of optional third-party libraries (matplotlib, IPython, ipywidgets, torch) are fine
    hidden = [f"{package}/{name}.py:{node.lineno}" for name, tree in _modules(package).items()
              for node, in_function in _imports(tree) if in_function and _targets(node, package)]
    assert hidden == [], f"function-level imports of tracegrad modules: {hidden}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_imports_a_private_name_from_another(package: str) -> None:
    private = []
    for name, tree in _modules(package).items():
        module_aliases = set()
        for node, _ in _imports(tree):
            for pkg, mod, imported in _targets(node, package):
                if imported.startswith("_") and not imported.startswith("__"):
                    private.append(f"{package}/{name}.py:{node.lineno} {pkg}.{mod}.{imported}")
                if not imported:
                    module_aliases.update(a.asname or a.name for a in node.names)
        for node in ast.walk(tree):  # dot._run on an imported module is private too
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in module_aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                private.append(f"{package}/{name}.py:{node.lineno} {node.value.id}.{node.attr}")
    assert private == [], f"private names imported across modules: {private}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_arrows_point_one_way(package: str) -> None:
    for name, tree in _modules(package).items():
        packages = {pkg for node, _ in _imports(tree) for pkg, _, _ in _targets(node, package)}
        assert packages <= ALLOWED[package], (f"{package}/{name}.py", packages)
        if package == "viz" and "nn" in packages:
            assert name in NN_READERS, f"viz/{name}.py imports nn"
