"""Python source helpers that extract, promote, graduate and adopt share: the names a piece
of code reads from outside, formatting with the project's ruff, and placing an import where
ruff's isort rules put it."""

from __future__ import annotations

import ast
import builtins
import json
import symtable
import sys
from collections.abc import Sequence
from pathlib import Path

from scaffold import processes
from scaffold.check.notebook import blank_magics

# Names a notebook's code may read without defining or importing them.
BUILTINS = set(dir(builtins)) | {"__file__", "__name__", "display", "get_ipython"}


def free_names(source: str) -> set[str]:
    """The global names a top-level definition's code reads."""
    table = symtable.symtable(source, "<extract>", "exec")
    names = {
        s.get_name()
        for s in table.get_symbols()
        if s.is_referenced() and not s.is_assigned() and not s.is_imported()
    }
    stack = list(table.get_children())
    while stack:
        scope = stack.pop()
        stack.extend(scope.get_children())
        for symbol in scope.get_symbols():
            if symbol.is_global() and symbol.is_referenced():
                names.add(symbol.get_name())
    return names


def formatted(text: str, root: Path, name: str, package: str | None = None) -> str:
    """``text`` formatted by ruff with the project's settings (isort's order too, with
    ``package`` first-party); unchanged when ruff is not installed or cannot format it."""
    ruff = processes.find_tool("ruff")
    if ruff is None:
        return text
    steps = [["format", "--quiet", "-"]]
    if package:
        first = ["--config", f"lint.isort.known-first-party = [{json.dumps(package)}]"]
        steps.insert(0, ["check", "--select", "I", "--fix", *first, "--quiet", "-"])
    for args in steps:
        done = processes.run(
            [ruff, *args, "--stdin-filename", name], cwd=root, input=text, check=False
        )
        if done.text and (done.ok or args[0] == "check"):
            text = done.text
    return text


# -- placing imports as ruff's isort rules (I001) want them ----------------------------------


def import_text(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    """One name's import statement: ``import numpy as np``, ``from x import y``."""
    spelled = f"{alias.name} as {alias.asname}" if alias.asname else alias.name
    if isinstance(node, ast.Import):
        return f"import {spelled}"
    return f"from {'.' * node.level}{node.module or ''} import {spelled}"


def imports_of(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The top-level import statements of ``tree``."""
    return [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]


def member_key(alias: ast.alias) -> tuple[int, str, str]:
    """isort's order of imported names (``order-by-type``): CONSTANTS, Classes, functions."""
    name = alias.name
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return (kind, name.lower(), name)


def from_import(node: ast.ImportFrom, aliases: Sequence[ast.alias]) -> str:
    """``from <node's module> import <aliases>``, the names in isort's order."""
    members = sorted(aliases, key=member_key)
    spelled = ", ".join(f"{a.name} as {a.asname}" if a.asname else a.name for a in members)
    return f"from {'.' * node.level}{node.module or ''} import {spelled}"


def add_imports(text: str, needed: Sequence[str], package: str) -> str:
    """Module ``text`` with the ``needed`` import lines it lacks added among its imports."""
    present = {
        import_text(node, alias) for node in imports_of(ast.parse(text)) for alias in node.names
    }
    for line in dict.fromkeys(needed):
        if line not in present:
            text = add_import(text, line, package)
    return text


def add_import(text: str, line: str, package: str) -> str:
    """``text`` with the import ``line`` where ruff's isort rules (I001) put it."""
    statement = ast.parse(line).body[0]
    assert isinstance(statement, (ast.Import, ast.ImportFrom))
    tree = ast.parse(blank_magics(text))
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    found = [(_key(node, package), node) for node in imports_of(tree)]
    for _, node in found:
        if (
            isinstance(node, ast.ImportFrom)
            and isinstance(statement, ast.ImportFrom)
            and (node.module, node.level) == (statement.module, statement.level)
        ):
            end = node.end_lineno or node.lineno
            return _splice(lines, node.lineno - 1, end, _merged(node, statement) + "\n")
    if not found:
        return _first_import(tree, lines, line)
    at, new = _import_position(found, _key(statement, package))
    if new.startswith("\n") and at < len(lines) and lines[at].strip():
        new += _gap("".join(lines[at:]))  # code right after the imports: ruff's blank lines
    return _splice(lines, at, at, new.format(line=line))


def _gap(rest: str) -> str:
    """The blank lines ruff's formatter puts between imports and ``rest``."""
    if not rest.strip():
        return ""
    return "\n\n" if rest.lstrip("\n").startswith(("def ", "class ", "@", "async def ")) else "\n"


def _first_import(tree: ast.Module, lines: list[str], line: str) -> str:
    """``lines`` with ``line`` as their only import: after the docstring, blank lines around
    it as ruff formats them (two before a top-level definition)."""
    after = 0
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        after = first.end_lineno or 0  # the module's docstring
    rest = "".join(lines[after:])
    before = "\n" if after else ""
    return "".join(lines[:after]) + before + line + "\n" + _gap(rest) + rest.lstrip("\n")


def _section(module: str, package: str) -> int:
    """isort's sections, in order: future, standard library, third party, first party."""
    top = module.lstrip(".").split(".")[0]
    if module.startswith(".") or top == package:
        return 3
    return 1 if top in sys.stdlib_module_names else 2


def _module_of(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.Import):
        return node.names[0].name
    return "." * node.level + (node.module or "")


def _key(node: ast.Import | ast.ImportFrom, package: str) -> tuple[int, int, str]:
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return (0, 1, "")
    module = _module_of(node)
    return (_section(module, package), isinstance(node, ast.ImportFrom), module.lower())


def _merged(node: ast.ImportFrom, statement: ast.ImportFrom) -> str:
    """One ``from`` import holding the names of both (isort merges them)."""
    names = {import_text(node, a): a for a in (*node.names, *statement.names)}
    return from_import(node, list(names.values()))


def _splice(lines: list[str], start: int, end: int, new: str) -> str:
    return "".join(lines[:start]) + new + "".join(lines[end:])


def _import_position(
    found: list[tuple[tuple[int, int, str], ast.Import | ast.ImportFrom]], key: tuple[int, int, str]
) -> tuple[int, str]:
    """The 0-based line to insert a new import at, and its text (blank lines around it)."""
    later = [node for k, node in found if k > key]
    same = [node for k, node in found if k[0] == key[0]]
    if later and later[0] in same:
        return later[0].lineno - 1, "{line}\n"
    if same:
        return same[-1].end_lineno or same[-1].lineno, "{line}\n"
    if later:  # a new section before a later one
        return later[0].lineno - 1, "{line}\n\n"
    last = found[-1][1]
    return last.end_lineno or last.lineno, "\n{line}\n"
