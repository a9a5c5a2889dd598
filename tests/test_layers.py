"""The package's shape, read from its source: no import circle inside ``quire.sdk``, a
command line that uses only the public API, and a sorted, complete ``quire.__all__``."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import quire

SRC = Path(quire.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> set[str]:
    """Every module that ``path`` imports at run time, at any depth (function-level
    imports count; those under ``if TYPE_CHECKING:`` do not), as absolute names: for
    ``from a import b``, both ``a`` and ``a.b`` (b may be a module)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    """Module → the modules of ``package`` it imports (from the source, not by importing)."""
    folder = SRC.parent.joinpath(*package.split("."))
    modules = {_module_name(p): p for p in folder.rglob("*.py")}
    return {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (its modules in order, the first again at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_circle_and_passes_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_sdk_imports_form_no_circle() -> None:
    """Each sdk module can be read (and changed) knowing only what it imports."""
    graph = import_graph("quire.sdk")
    assert "quire.sdk.artifact" in graph and "quire.sdk.run" in graph
    assert find_cycle(graph) is None, f"import circle in quire.sdk: {' -> '.join(find_cycle(graph) or [])}"


def test_the_command_line_uses_only_the_public_api() -> None:
    """``quire.cli`` is a thin layer over ``quire`` and the sdk: it imports nothing of
    quire.core or quire.store (what it needs, ``quire.Api`` offers)."""
    below = ("quire.core", "quire.store")
    reached = {
        _module_name(path): sorted(m for m in imports_of(path) if m.startswith(below))
        for path in (SRC / "cli").rglob("*.py")
    }
    assert {module: found for module, found in reached.items() if found} == {}


def test_quire_all_is_sorted_and_names_what_exists() -> None:
    assert quire.__all__ == sorted(quire.__all__)
    assert len(set(quire.__all__)) == len(quire.__all__)
    missing = [name for name in quire.__all__ if not hasattr(quire, name)]
    assert missing == []


def test_quire_all_lists_every_public_name_of_the_package() -> None:
    """Complete: every public attribute of Quire's own that ``quire`` defines or imports,
    other than its subpackages and modules (``quire.sdk``, ``quire.store``, ...:
    reachable, not API) and what it imports for itself (``typing.Any``)."""
    exposed = {
        name
        for name, value in vars(quire).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", "").partition(".")[0] == "quire"
    }
    lazy = {"PartitionedTable", "Table", "data_types"}  # imported on first use (pyarrow)
    assert sorted(exposed - set(quire.__all__)) == []
    assert lazy <= set(quire.__all__)


def test_the_server_is_a_thin_layer_over_the_store_and_nothing_below_imports_it() -> None:
    """``quire.server``'s API serves the store's protocols (it needs nothing of the sdk
    or the core: the client does the commits); its web pages read manifests and diffs
    with the core, never the sdk; the store, core and sdk never import the server or the
    command line."""
    web = SRC / "server" / "web"
    reached = {
        _module_name(path): sorted(
            m
            for m in imports_of(path)
            if m.startswith(
                ("quire.sdk", "quire.cli") if web in path.parents else ("quire.sdk", "quire.core", "quire.cli")
            )
        )
        for path in (SRC / "server").rglob("*.py")
    }
    assert {module: found for module, found in reached.items() if found} == {}
    below = {
        _module_name(path): sorted(m for m in imports_of(path) if m.startswith(("quire.server", "quire.cli")))
        for layer in ("store", "core", "sdk")
        for path in (SRC / layer).rglob("*.py")
    }
    assert {module: found for module, found in below.items() if found} == {}
