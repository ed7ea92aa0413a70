"""scaffold's import graph, read from the code (ast): no circle, the execution core beneath
the commands, no command standing on another, scaffold's own imports at the top of a file.

An import inside ``if TYPE_CHECKING:`` is for the type checker only and is left out. Imports
inside functions count like any other: that is where the old run/sweep circle hid.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scaffold"

# The modules behind one command each (cli.py calls them).
COMMANDS = {
    "scaffold.generate",
    "scaffold.notebooks",
    "scaffold.modules",
    "scaffold.remotes",
    "scaffold.run",
    "scaffold.report",
    "scaffold.extract",
    "scaffold.promote",
    "scaffold.export",
    "scaffold.update",
    "scaffold.graduate",
    "scaffold.share",
    "scaffold.adopt",
}
# Execution: the core and what is built on it. None of them imports a command.
EXECUTION = {
    "scaffold.execution",
    "scaffold.sweep",
    "scaffold.pool",
    "scaffold.sweep_dvc",
    "scaffold.sweep_cluster",
    "scaffold.check.execute",
}
# Command -> command imports that are still there (none: a piece two commands share lives
# beneath both, e.g. scaffold/ipynb.py, pycode.py, render.py, credentials.py). Do not add one.
KNOWN_COMMAND_IMPORTS: set[tuple[str, str]] = set()
# Circles that are still there (the package landed with them; take one off when it goes).
KNOWN_CIRCLES: list[list[str]] = []


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of the imports under ``if TYPE_CHECKING:``."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _imports(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported scaffold module, line, inside a function) for each import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in known else node.module for name in names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name in known and node.lineno not in skipped:
                found.append((name, node.lineno, node.lineno in inside))
    return found


def import_graph() -> dict[str, dict[str, list[tuple[int, bool]]]]:
    """module -> imported scaffold module -> [(line, inside a function)]."""
    files = {_module(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, dict[str, list[tuple[int, bool]]]] = {name: {} for name in files}
    for name, path in files.items():
        for imported, line, lazy in _imports(path, set(files)):
            if imported != name:
                graph[name].setdefault(imported, []).append((line, lazy))
    return graph


def circles(graph: dict[str, dict[str, list[tuple[int, bool]]]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, list[tuple[int, bool]]]]:
    return import_graph()


def test_the_graph_is_read_from_the_code(graph: dict[str, dict[str, list[tuple[int, bool]]]]):
    assert "scaffold.execution" in graph["scaffold.run"]
    assert "scaffold.sweep" in graph["scaffold.pool"]
    # a function-level import is an edge too
    assert any(lazy for edges in graph["scaffold.cli"].values() for _, lazy in edges)


def test_circles_are_found():
    made_up = {"a": {"b": [(1, False)]}, "b": {"c": [(1, True)]}, "c": {"a": [(1, False)]}}
    assert circles(made_up) == [["a", "b", "c"]]
    assert circles({"a": {"b": [(1, False)]}, "b": {}}) == []


def test_there_is_no_import_circle(graph: dict[str, dict[str, list[tuple[int, bool]]]]):
    assert circles(graph) == KNOWN_CIRCLES


def test_execution_imports_no_command(graph: dict[str, dict[str, list[tuple[int, bool]]]]):
    for module in EXECUTION:
        assert not COMMANDS & set(graph[module]), module
    # the sweep model stands on the core alone: neither run nor a backend
    assert not {"scaffold.pool", "scaffold.sweep_dvc", "scaffold.sweep_cluster"} & set(
        graph["scaffold.sweep"]
    )
    users = {module for module, edges in graph.items() if "scaffold.run" in edges}
    assert users == {"scaffold.cli"}


def test_no_command_imports_another(graph: dict[str, dict[str, list[tuple[int, bool]]]]):
    found = {
        (module, imported)
        for module in COMMANDS
        for imported in graph[module]
        if imported in COMMANDS
    }
    assert found == KNOWN_COMMAND_IMPORTS


def test_execution_imports_scaffold_at_the_top(
    graph: dict[str, dict[str, list[tuple[int, bool]]]],
):
    lazy = {
        (module, imported, line)
        for module in EXECUTION | {"scaffold.run", "scaffold._papermill_driver"}
        for imported, edges in graph[module].items()
        for line, inside in edges
        if inside
    }
    assert lazy == set()


def test_hooks_modules_are_loaded_once_and_sys_path_is_left_alone():
    import sys

    from scaffold.resources import PACKAGED_TEMPLATE

    path = list(sys.path)
    post = PACKAGED_TEMPLATE.post_generation
    # post_gen_project imports its neighbours by bare name: it gets the copies load_hook made
    assert post.processes is PACKAGED_TEMPLATE.processes  # type: ignore[attr-defined]
    assert post.dvc_remote is PACKAGED_TEMPLATE.dvc_remote  # type: ignore[attr-defined]
    assert post.template_source is PACKAGED_TEMPLATE.template_source  # type: ignore[attr-defined]
    assert sys.path == path
    assert not {"processes", "dvc_remote", "template_source", "tool_files"} & set(sys.modules)
