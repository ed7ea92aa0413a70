"""Functions and classes copied between notebooks, found by a normalised fingerprint.

Reusable on its own (``scaffold extract`` will use it): ``definitions(tree, path, cell)``
lists the top-level functions and classes of parsed code with their fingerprints, and
``group(defs)`` buckets them.

The fingerprint is a hash of the definition's AST with formatting, comments and docstrings
gone (``ast.dump`` without positions), its own name dropped and its locals (parameters and
the names it assigns, per function) renamed to ``_0, _1, ...`` in order of first appearance.
Globals, attributes and called functions keep their names: two functions that call different
helpers are different. Bucketing is by hash in a dict, so finding the copies is linear in the
number of definitions, never pairwise.
"""

from __future__ import annotations

import ast
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass(frozen=True)
class Definition:
    """A top-level function or class in a notebook cell."""

    name: str
    kind: str  # "function" | "class"
    path: str
    cell: int
    line: int
    lines: int  # source lines it spans
    fingerprint: str

    def to_json(self) -> list[Any]:
        """As a JSON list."""
        return [self.name, self.kind, self.path, self.cell, self.line, self.lines, self.fingerprint]

    @classmethod
    def from_json(cls, data: list[Any]) -> Definition:
        """Back from ``to_json``."""
        name, kind, path, cell, line, lines, fingerprint = data
        return cls(name, kind, path, cell, line, lines, fingerprint)


def _locals(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    arguments = function.args
    names = {arg.arg for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}
    names.update(arg.arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None)
    declared: set[str] = set()
    body: list[ast.AST] = (
        [function.body] if isinstance(function, ast.Lambda) else list(function.body)
    )
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.ExceptHandler)) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)  # a nested definition's name is local; its body is its own
            stack.extend(node.decorator_list)
            continue
        elif isinstance(node, ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return names - declared


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _docstring(body: list[ast.stmt]) -> bool:
    first = body[0] if body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


def _dump(node: Any, scopes: list[tuple[set[str], dict[str, str]]], out: list[str]) -> None:
    """Append a canonical text of ``node`` to ``out`` (one pass; the tree is not changed).

    Locals are numbered on first sight in this walk's (field) order, per function scope.
    """
    if isinstance(node, list):
        out.append("[")
        for item in node:
            _dump(item, scopes, out)
        out.append("]")
        return
    if not isinstance(node, ast.AST):
        out.append(repr(node))
        return
    kind = type(node)
    out.append(kind.__name__)
    opened = isinstance(node, _FUNCTIONS)
    if isinstance(node, _FUNCTIONS):
        scopes.append((_locals(node), {}))
    for name in node._fields:
        value: Any = getattr(node, name, None)
        if name == "ctx" or (name in ("name", "type_params") and kind in _DEFINITIONS):
            continue
        if name == "body" and kind in _DEFINITIONS and _docstring(value):
            value = value[1:]
        if (kind is ast.Name and name == "id") or (kind is ast.arg and name == "arg"):
            out.append(_renamed(value, scopes))
            continue
        _dump(value, scopes, out)
    if opened:
        scopes.pop()


def _renamed(name: str, scopes: list[tuple[set[str], dict[str, str]]]) -> str:
    for names, numbers in reversed(scopes):
        if name in names:
            if name not in numbers:
                numbers[name] = f"_{len(numbers)}"
            return numbers[name]
    return name


def fingerprint(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """The hash of ``node`` up to formatting, docstrings, its name and renamed locals."""
    out: list[str] = []
    _dump(node, [], out)
    return hashlib.blake2b(" ".join(out).encode(), digest_size=12).hexdigest()


def definitions(tree: ast.Module, path: str, cell: int) -> list[Definition]:
    """The top-level functions and classes of one cell, with their fingerprints."""
    found = []
    for node in tree.body:
        if isinstance(node, (*_FUNCTIONS[:2], ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            span = (node.end_lineno or node.lineno) - first + 1
            found.append(Definition(node.name, kind, path, cell, first, span, fingerprint(node)))
    return found


@dataclass(frozen=True)
class Groups:
    """Definitions that are copies of each other, and same-name ones that drifted apart."""

    copies: list[list[Definition]]  # each: the same fingerprint in two or more notebooks
    drifted: list[list[Definition]]  # each: one name, two or more fingerprints and notebooks


def group(defs: Iterable[Definition], min_lines: int = 1) -> Groups:
    """Bucket ``defs`` by fingerprint and by name (linear time)."""
    by_hash: dict[str, list[Definition]] = defaultdict(list)
    by_name: dict[tuple[str, str], list[Definition]] = defaultdict(list)
    for definition in defs:
        if definition.lines < min_lines:
            continue
        by_hash[definition.fingerprint].append(definition)
        by_name[(definition.kind, definition.name)].append(definition)
    copies = [found for found in by_hash.values() if len({d.path for d in found}) > 1]
    drifted = [
        found
        for found in by_name.values()
        if len({d.path for d in found}) > 1 and len({d.fingerprint for d in found}) > 1
    ]
    return Groups(copies, drifted)
