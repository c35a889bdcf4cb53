"""Rooms and arrows: engine imports neither nn nor viz, nn imports no viz, and no package has an
import circle or hides one in a function-level import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "nn", "viz")
ALLOWED = {"engine": set(), "nn": {"engine"}, "viz": {"engine", "nn"}}


def _modules(package: str) -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in sorted((ROOT / package).glob("*.py"))}


def _targets(node: ast.ImportFrom | ast.Import, package: str) -> list[tuple[str, str]]:
    """(package, module) pairs a relative import statement reaches inside tracegrad."""
    if isinstance(node, ast.Import):
        return []
    if node.level == 1:
        if node.module:
            return [(package, node.module.split(".")[0])]
        return [(package, alias.name) for alias in node.names]
    if node.level == 2:
        if node.module:
            parts = node.module.split(".")
            return [(parts[0], parts[1] if len(parts) > 1 else "__init__")]
        return [(alias.name, "__init__") for alias in node.names if alias.name in PACKAGES]
    return []


def _edges(package: str) -> tuple[dict[str, set[str]], set[str], list[str]]:
    graph: dict[str, set[str]] = {}
    packages: set[str] = set()
    hidden: list[str] = []
    for name, tree in _modules(package).items():
        graph[name] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for pkg, module in _targets(node, package):
                if pkg == package:
                    if module != name and module in _modules(package):
                        graph[name].add(module)
                else:
                    packages.add(pkg)
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and node.level >= 1:
                        hidden.append(f"{package}/{name}.py:{node.lineno} imports inside {fn.name}()")
    return graph, packages, hidden


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        path.pop()
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_inside_a_package(package: str) -> None:
    graph, _, _ = _edges(package)
    cycle = _cycle(graph)
    assert cycle is None, f"{package}: import circle {' -> '.join(cycle or [])}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_level_import_of_tracegrad_code(package: str) -> None:
    _, _, hidden = _edges(package)
    assert not hidden, "\n".join(hidden)


@pytest.mark.parametrize("package", PACKAGES)
def test_arrows_point_one_way(package: str) -> None:
    _, packages, _ = _edges(package)
    assert packages <= ALLOWED[package], f"{package} imports {sorted(packages - ALLOWED[package])}"
