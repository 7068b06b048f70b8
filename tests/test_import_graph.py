"""No module of the pack imports one that imports it back.

Every module of ``hy3d_core`` and ``nodes`` is parsed (not imported), each import in it,
function bodies included, is resolved to the pack's modules it runs (the module and the
packages above it that the importer is not inside), and the graph is searched for
cycles. A cycle means two modules each need the other to be half-loaded: such code works
only by luck of import order, and imports hidden inside functions to dodge it are exactly
what this test finds.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hy3d_core", "nodes")
# The one allowed cycle: ``get_rasterizer`` in render/rasterizer.py is a lazy backend
# factory, importing a backend module (which implements rasterizer.py's interface) only
# when that backend is asked for, so that nvdiffrast is never imported unless used.
EXEMPT_EDGES = {
    ("hy3d_core.render.rasterizer", "hy3d_core.render.torch_rasterizer"),
    ("hy3d_core.render.rasterizer", "hy3d_core.render.nvdiffrast_rasterizer"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
    }


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _imported(name: str, tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """The pack's modules an import statement in ``tree`` names (module ``name``)."""
    package = name if _is_package(name, modules) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # The repository root is the pack ComfyUI imports: ``..hy3d_core`` from
                # ``nodes`` names the top-level ``hy3d_core``.
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base_name = ".".join(part for part in base if part)
                module = ".".join(filter(None, (base_name, node.module)))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in modules)
    return found


def _with_packages(importer: str, targets: set[str], modules: dict[str, Path]) -> set[str]:
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too, unless the
    importer sits inside them (then they are already being imported)."""
    own = {".".join(importer.split(".")[:depth]) for depth in range(1, importer.count(".") + 2)}
    edges = set()
    for target in targets:
        parts = target.split(".")
        for depth in range(1, len(parts) + 1):
            candidate = ".".join(parts[:depth])
            if candidate in modules and candidate not in own:
                edges.add(candidate)
    edges.discard(importer)
    return edges


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = _with_packages(name, _imported(name, tree, modules), modules)
        graph[name] = {target for target in edges if (name, target) not in EXEMPT_EDGES}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_pack_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50, "the walk found too few modules; is REPO_ROOT right?"
    assert cycles(graph) == []


def test_the_walk_sees_imports_inside_functions_and_relative_ones():
    graph = import_graph()
    # nodes/ reaches the library through ``..hy3d_core``.
    assert "hy3d_core.devices" in graph["nodes.comfy_runtime"]
    # The command line's entry point only calls the cli package.
    assert graph["hy3d_core.__main__"] == {"hy3d_core.cli"}


def test_the_cycle_search_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
