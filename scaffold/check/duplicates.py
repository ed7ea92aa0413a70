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
    parameters: str = ""  # a function's parameter names, comma-separated ("" for a class)
    source: str = ""  # its text, when the cell's code was given (for NB502's comparison)

    def to_json(self) -> list[Any]:
        """As a JSON list."""
        return [self.name, self.kind, self.path, self.cell, self.line, self.lines,
                self.fingerprint, self.parameters, self.source]  # fmt: skip

    @classmethod
    def from_json(cls, data: list[Any]) -> Definition:
        """Back from ``to_json``."""
        return cls(*data)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = frozenset(_FUNCTIONS)
_DUMP, _RENAME, _BODY = 0, 1, 2  # how a field is written
_DUMPED: dict[type, tuple[tuple[str, int], ...]] = {}
_CHILDREN: dict[type, tuple[str, ...]] = {}


def _dumped_fields(kind: type) -> tuple[tuple[str, int], ...]:
    """The fields of a node type that the canonical text holds, and how (cached per type).

    Left out: ``ctx`` (load / store), and a definition's own name and type parameters.
    Renamed: a ``Name``'s id and an ``arg``'s name. A definition's body loses its docstring.
    """
    found = _DUMPED.get(kind)
    if found is None:
        definition = kind in _DEFINITIONS
        renamed = {ast.Name: "id", ast.arg: "arg"}.get(kind)
        body = "body" if definition else None
        found = _DUMPED[kind] = tuple(
            (name, _RENAME if name == renamed else _BODY if name == body else _DUMP)
            for name in getattr(kind, "_fields", ())
            if name != "ctx" and not (definition and name in ("name", "type_params"))
        )
    return found


def _push_children(node: Any, stack: list[Any]) -> None:
    """Push the child nodes of ``node`` (as ``ast.iter_child_nodes``, without its overhead)."""
    kind = type(node)
    fields = _CHILDREN.get(kind)
    if fields is None:
        fields = _CHILDREN[kind] = tuple(
            name for name in getattr(kind, "_fields", ()) if name != "ctx"
        )
    for name in fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            stack.extend(value)  # may hold names (Global.names): skipped when popped
        elif isinstance(value, ast.AST):
            stack.append(value)


def _locals(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    arguments = function.args
    names = {arg.arg for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}
    names.update(arg.arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None)
    declared: set[str] = set()
    stack: list[Any] = [function.body] if isinstance(function, ast.Lambda) else [*function.body]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
        elif kind is ast.Global or kind is ast.Nonlocal:
            declared.update(node.names)
        elif kind in _DEFINITIONS:
            names.add(node.name)  # a nested definition's name is local; its body is its own
            stack.extend(node.decorator_list)
        elif kind is not ast.Lambda:
            if kind is ast.ExceptHandler and node.name:
                names.add(node.name)
            _push_children(node, stack)
    return names - declared


def _docstring(body: list[ast.stmt]) -> bool:
    first = body[0] if body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


Scopes = list[tuple[set[str], dict[str, str]]]


def _dump(node: Any, scopes: Scopes, out: list[str]) -> None:
    """Append a canonical text of ``node`` to ``out`` (one pass; the tree is not changed).

    Locals are numbered on first sight in this walk's (field) order, per function scope.
    """
    if isinstance(node, ast.AST):
        _dump_node(node, scopes, out)
    elif isinstance(node, list):
        out.append("[")
        for item in node:
            _dump(item, scopes, out)
        out.append("]")
    else:
        out.append(repr(node))


def _dump_node(node: ast.AST, scopes: Scopes, out: list[str]) -> None:
    kind = type(node)
    out.append(kind.__name__)
    opened = kind in _SCOPES
    if opened:
        scopes.append((_locals(node), {}))  # type: ignore[arg-type]
    fields = _DUMPED.get(kind)
    for name, how in _dumped_fields(kind) if fields is None else fields:
        value: Any = getattr(node, name, None)
        if how == _RENAME:
            out.append(_renamed(value, scopes))
        elif how == _BODY and _docstring(value):
            _dump(value[1:], scopes, out)
        elif type(value) is list:
            out.append("[")
            for item in value:
                _dump(item, scopes, out)
            out.append("]")
        elif isinstance(value, ast.AST):
            _dump_node(value, scopes, out)
        else:  # a string, number or None: inline, as ``_dump`` would write it
            out.append(repr(value))
    if opened:
        scopes.pop()


def _renamed(name: str, scopes: Scopes) -> str:
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


def definitions(tree: ast.Module, path: str, cell: int, code: str = "") -> list[Definition]:
    """The top-level functions and classes of one cell, with their fingerprints (and, given
    the cell's ``code``, their parameters and text)."""
    found = []
    lines = code.split("\n") if code else []
    for node in tree.body:
        if isinstance(node, (*_FUNCTIONS[:2], ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            last = node.end_lineno or node.lineno
            source = "\n".join(lines[first - 1 : last]) if lines else ""
            parameters = "" if isinstance(node, ast.ClassDef) else _parameters(node.args)
            found.append(
                Definition(node.name, kind, path, cell, first, last - first + 1,
                           fingerprint(node), parameters, source)
            )  # fmt: skip
    return found


def _parameters(arguments: ast.arguments) -> str:
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    names = [arg.arg for arg in every]
    names += [f"*{arg.arg}" for arg in (arguments.vararg,) if arg is not None]
    names += [f"**{arg.arg}" for arg in (arguments.kwarg,) if arg is not None]
    return ", ".join(names)


def canonical(source: str) -> list[str]:
    """The canonical tokens of a definition's text (as fingerprinted), for similarity."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source.split()
    out: list[str] = []
    for node in tree.body:
        _dump(node, [], out)
    return out


def similarity(first: Definition, second: Definition) -> float:
    """How alike two definitions' structures are: difflib's ratio over canonical tokens."""
    import difflib

    return difflib.SequenceMatcher(
        None, canonical(first.source), canonical(second.source), autojunk=False
    ).ratio()


def difference(first: Definition, second: Definition, limit: int = 12) -> str:
    """A unified diff of two definitions' texts (at most ``limit`` changed lines)."""
    import difflib

    lines = list(
        difflib.unified_diff(
            second.source.splitlines(), first.source.splitlines(),
            f"{second.path}:{second.cell}", f"{first.path}:{first.cell}", n=0, lineterm="",
        )
    )  # fmt: skip
    shown, changed = [], 0
    for line in lines[2:]:
        changed += not line.startswith("@@")
        if changed <= limit:
            shown.append(line)
    more = [f"... {changed - limit} more changed lines"] if changed > limit else []
    return "\n".join([*lines[:2], *shown, *more])


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
