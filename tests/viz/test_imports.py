"""viz's own import structure, read with ``ast``: no circle, no hidden imports, no private names."""

from __future__ import annotations

import ast
from pathlib import Path

import tracegrad.viz

VIZ = Path(tracegrad.viz.__file__).resolve().parent
PACKAGES = {"engine", "nn", "viz"}
NN_READERS = {"network", "cli"}  # draw_network reads nn models; the demo trains one


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
            for p in sorted(VIZ.glob("*.py"))}


def _targets(node: ast.Import | ast.ImportFrom) -> list[tuple[str, str, str]]:
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
        parts = ["viz", *(node.module.split(".") if node.module else [])]
    elif node.level == 2:
        parts = node.module.split(".") if node.module else []
    else:
        raise AssertionError(f"import above the tracegrad package (level {node.level})")
    if not parts:  # from .. import nn, __version__
        return [(n, "__init__", "") if n in PACKAGES else ("tracegrad", "__init__", n)
                for n in names]
    if len(parts) == 1 and parts[0] == "viz" and node.level == 1:  # from . import core
        return [("viz", n, "") for n in names]
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


def _sibling_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, tree in _modules().items():
        graph[name] = {mod for node, _ in _imports(tree) for pkg, mod, _ in _targets(node)
                       if pkg == "viz" and mod != name}
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


def test_viz_modules_import_each_other_without_a_circle() -> None:
    graph = _sibling_graph()
    assert {"core", "style", "text"} <= graph["graph"] | graph["value_graph"] | graph["core"]
    assert graph["text"] == set() and graph["scene"] == set()  # the leaves everyone reads
    for name, deps in graph.items():
        assert deps <= set(graph), f"viz/{name}.py imports a viz module that does not exist: {deps}"
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph) or [])}"


def test_no_function_body_imports_tracegrad_code() -> None:
    # lazy imports of optional third-party libraries (matplotlib, IPython, ipywidgets) are fine
    hidden = [f"viz/{name}.py:{node.lineno}" for name, tree in _modules().items()
              for node, in_function in _imports(tree) if in_function and _targets(node)]
    assert hidden == [], f"function-level imports of tracegrad modules: {hidden}"


def test_no_module_imports_a_private_name_from_another() -> None:
    private = []
    for name, tree in _modules().items():
        module_aliases = set()
        for node, _ in _imports(tree):
            for pkg, mod, imported in _targets(node):
                if imported.startswith("_") and not imported.startswith("__"):
                    private.append(f"viz/{name}.py:{node.lineno} {pkg}.{mod}.{imported}")
                if not imported:
                    module_aliases.update(a.asname or a.name for a in node.names)
        for node in ast.walk(tree):  # dot._run on an imported module is private too
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in module_aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                private.append(f"viz/{name}.py:{node.lineno} {node.value.id}.{node.attr}")
    assert private == [], f"private names imported across modules: {private}"


def test_viz_reads_engine_and_nn_only_where_it_draws_or_trains_models() -> None:
    for name, tree in _modules().items():
        packages = {pkg for node, _ in _imports(tree) for pkg, _, _ in _targets(node)}
        assert packages <= PACKAGES | {"tracegrad"}, (name, packages)
        if "nn" in packages:
            assert name in NN_READERS, f"viz/{name}.py imports nn"
