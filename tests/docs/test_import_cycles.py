"""No two kubeplan modules import each other, directly or through others.

The graph is built from the source, not by importing it: every ``import`` and
``from ... import`` statement of a module counts, wherever it stands (module level,
inside a function, under ``if TYPE_CHECKING:``), because a cycle that only type
checking or a lazy import closes is still a cycle in the design. An edge goes to the
module named: ``from pkg import name`` points at ``pkg.name`` when that is a module,
else at ``pkg``. Parent packages that Python runs on the way (``pkg/__init__.py``) are
not edges: a package re-exporting its submodules would otherwise be a cycle with each.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the folders holding the ``kubeplan`` namespace, one per distribution
LAYER_ROOTS = [ROOT / "core", ROOT / "adapters", ROOT / "testkit", ROOT / "cli"]


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in LAYER_ROOTS:
        for path in sorted((root / "kubeplan").rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The kubeplan modules ``name`` (at ``path``) imports."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(name, path).split(".")
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in known:
                    out.add(target)
                elif base in known:
                    out.add(base)
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
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
    return sorted(components)


def test_the_graph_sees_the_layers() -> None:
    graph = import_graph()
    # edges known to exist: the walk resolves ``from module import name``,
    # ``from package import module`` and imports under ``if TYPE_CHECKING:``
    assert "kubeplan.core.planner" in graph
    assert "kubeplan.testkit.apiserver.writes" in graph["kubeplan.testkit.apiserver.server"]
    assert "kubeplan.testkit.apiserver.ssa" in graph["kubeplan.testkit.apiserver.writes"]
    assert "kubeplan.core.definition" in graph["kubeplan.core.manifests"]


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_kubeplan_has_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], "modules importing each other: " + "; ".join(
        " <-> ".join(c) for c in cycles
    )
