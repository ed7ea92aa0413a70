"""Which names each cell defines and uses, for hidden state found without a kernel.

``cell_names(tree)`` walks one parsed cell once (an explicit stack, per-type field tables, no
order kept): the names it binds at module level, the names its top-level code reads (read
when the cell runs: ``used``), and the free names of its function bodies (read later, when
called: ``deferred``). A flat cell (no scope of its own, guard, ``del``, declaration or
import: most cells) needs no tree: ``flat_names`` reads the same names from Python's symbol
table for about half the work, and its lines are found only for a finding.
``hidden_state`` then reads the cells top to bottom:

- NB303: a name the cell's top-level code reads that no cell above (nor the cell itself)
  defines, but a later cell does: the notebook only ran in another order;
- NB304: a name read (now or in a function) that no cell defines or imports, and that is not
  a builtin of Python or of IPython's kernel: it lived only in someone's kernel.

Both are left out for a notebook that can define names out of sight: ``from x import *``,
``%run``, ``%pylab``, ``%store``, ``exec`` / ``globals()``, a cell that does not parse, or a
cell magic that is not Python (``%%cython`` defines functions). Reads inside ``try`` blocks
that catch ``NameError`` (or everything) are guarded, not hidden state.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

# IPython's own names in a kernel's namespace, and what ``display`` & co. need.
KERNEL_NAMES = frozenset(
    {
        "display", "get_ipython", "In", "Out", "exit", "quit", "_", "__", "___", "_i", "_ii",
        "_iii", "_ih", "_oh", "_dh", "__IPYTHON__", "__session__", "__file__", "__builtins__",
        "__name__", "__doc__", "__spec__", "__loader__", "__package__", "get_config",
    }
)  # fmt: skip
BUILTINS = frozenset(dir(builtins)) | KERNEL_NAMES
_HISTORY = re.compile(r"^_i*\d+$")  # _12, _i12: outputs and inputs by number
# Code that can define names no parse shows; each pattern is tried only when its word is there.
_DYNAMIC = (
    ("%", re.compile(r"^\s*%{1,2}(?:run|pylab|store|macro|load|recall|rerun)\b", re.MULTILINE)),
    ("import", re.compile(r"\bimport\s+\*")),
    ("exec", re.compile(r"\bexec\s*\(")),
    ("globals", re.compile(r"\bglobals\s*\(")),
    ("locals", re.compile(r"\blocals\s*\(")),
    ("vars", re.compile(r"\bvars\s*\(")),
    ("builtins", re.compile(r"\b__builtins__\b|\bbuiltins\s*\.")),
    ("_magic", re.compile(r"run_line_magic|run_cell_magic")),
)


def dynamic(source: str) -> bool:
    """True when the cell's code can define names that no parse shows."""
    for word, pattern in _DYNAMIC:  # noqa: SIM110 (a loop: no generator on every cell)
        if word in source and pattern.search(source):
            return True
    return False


MAGIC_OUTPUTS = re.compile(
    r"(?:^|\s)-o\s+([A-Za-z_][\w, ]*)|^\s*%%capture\s+([A-Za-z_]\w*)"
    r"|^\s*%%?sql\s+([A-Za-z_]\w*)\s*<<",
    re.MULTILINE,
)
HINTS = {
    "np": "import numpy as np",
    "pd": "import pandas as pd",
    "plt": "import matplotlib.pyplot as plt",
    "sns": "import seaborn as sns",
    "tf": "import tensorflow as tf",
    "mpl": "import matplotlib as mpl",
    "sp": "import scipy as sp",
    "os": "import os",
    "sys": "import sys",
    "re": "import re",
}


@dataclass
class CellNames:
    """One cell's module-level bindings, immediate reads and deferred (function) reads."""

    defined: set[str] = field(default_factory=set)
    used: dict[str, int] = field(default_factory=dict)  # name -> first line (0: not known yet)
    deferred: dict[str, int] = field(default_factory=dict)
    code: str = ""  # a flat cell's code (``flat_names``), to find its lines when asked


# A context while walking: (names local here, read now?, binds module names?, guarded?)
_Context = tuple[frozenset[str], bool, bool, bool]
_MODULE: _Context = (frozenset(), True, True, False)
_FIELDS: dict[type, tuple[str, ...]] = {}
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


# fields that hold no name to visit: contexts, operators, and strings or numbers
_SKIPPED_FIELDS = frozenset(
    {
        "ctx", "type_params", "op", "ops", "type_comment", "kind", "attr", "arg", "id",
        "name", "asname", "module", "level", "names", "rest", "kwd_attrs", "conversion",
        "is_async",
    }
)  # fmt: skip


def _fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that can hold names (cached per type)."""
    fields = _FIELDS.get(kind)
    if fields is None:
        every: tuple[str, ...] = getattr(kind, "_fields", ())
        fields = _FIELDS[kind] = tuple(f for f in every if f not in _SKIPPED_FIELDS)
    return fields


def _children(node: ast.AST) -> list[Any]:
    found: list[Any] = []
    for name in _fields(type(node)):
        value = getattr(node, name, None)
        if isinstance(value, list):
            found.extend(value)
        elif isinstance(value, ast.AST):
            found.append(value)
    return found


def _catches_name_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        for name in names:
            if name is None or (
                isinstance(name, ast.Name)
                and name.id in ("NameError", "Exception", "BaseException")
            ):
                return True
    return False


def _targets(generators: list[ast.comprehension]) -> set[str]:
    return {
        node.id
        for generator in generators
        for node in ast.walk(generator.target)
        if isinstance(node, ast.Name)
    }


def _class_locals(node: ast.ClassDef) -> set[str]:
    names: set[str] = set()
    for statement in node.body:
        if isinstance(statement, (*_FUNCTIONS, ast.ClassDef)):
            names.add(statement.name)
        else:
            names.update(
                n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and not _load(n)
            )
    return names


def _parameter_names(arguments: ast.arguments) -> set[str]:
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    every += [arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
    return {arg.arg for arg in every}


def _function_locals(function: Any) -> frozenset[str]:
    """A function's (or lambda's) local names, in one pass: parameters, names it assigns or
    imports, its nested definitions; not those it declares global or nonlocal."""
    names = _parameter_names(function.args)
    if isinstance(function, ast.Lambda):
        return frozenset(names)
    declared: set[str] = set()
    stack: list[Any] = list(function.body)
    while stack:
        _local_node(stack.pop(), names, declared, stack)
    return frozenset(names - declared)


def _local_node(node: Any, names: set[str], declared: set[str], stack: list[Any]) -> None:
    """One node of a function's body: the local names it binds; its children to visit."""
    kind = type(node)
    if kind is ast.Name:
        if type(node.ctx) is not ast.Load:
            names.add(node.id)
    elif kind is ast.Import or kind is ast.ImportFrom:
        names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    elif kind is ast.Global or kind is ast.Nonlocal:
        declared.update(node.names)
    elif kind in _FUNCTIONS or kind is ast.ClassDef:
        names.add(node.name)  # its body is its own scope
    elif kind is not ast.Constant and kind is not ast.Lambda:
        if kind is ast.ExceptHandler and node.name:
            names.add(node.name)
        stack.extend(_children(node))


def _load(node: ast.Name) -> bool:
    return isinstance(node.ctx, ast.Load)


_SPECIAL = frozenset(
    {
        *_FUNCTIONS, ast.Lambda, ast.Import, ast.ImportFrom, ast.Global, ast.ClassDef,
        *_COMPREHENSIONS, ast.Try, ast.ExceptHandler, ast.MatchAs, ast.MatchStar,
        ast.MatchMapping,
    }
)  # fmt: skip


class _Enter:
    """On the walk's stack: from here on (until the next one), nodes are in ``context``."""

    __slots__ = ("context",)

    def __init__(self, context: _Context) -> None:
        self.context = context


class _Walk:
    """One cell's walk: an explicit stack of nodes, in the context of the last ``_Enter``.

    A node that opens a scope pushes its children in groups, each under an ``_Enter`` of its
    context, above an ``_Enter`` of the context it is in: the stack pops them in order, and
    the context comes back when they are done. Other nodes push their children as they are
    (``None``, strings and numbers too: they have no fields, so popping them does nothing),
    which keeps the common case to a few operations per node.
    """

    def __init__(self) -> None:
        self.names = CellNames()
        self.stack: list[Any] = []
        self.context: _Context = _MODULE

    def enter(self, *groups: tuple[_Context, list[Any]]) -> None:
        """Visit each group of nodes in its context (the last group first), then come back."""
        stack = self.stack
        stack.append(_Enter(self.context))
        for context, nodes in groups:
            stack.extend(nodes)
            stack.append(_Enter(context))

    def bind(self, name: str | None) -> None:
        if name and self.context[2]:
            self.names.defined.add(name)

    def run(self, tree: ast.Module) -> CellNames:
        stack, special, fields_of = self.stack, _SPECIAL, _FIELDS
        name_kind, constant, enter = ast.Name, ast.Constant, _Enter
        load, store = ast.Load, ast.Store
        defined, used, deferred = self.names.defined, self.names.used, self.names.deferred
        local, now, module, guarded = self.context
        stack.extend(tree.body)
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is name_kind:
                ctx = type(node.ctx)
                if ctx is load:
                    if not guarded and node.id not in local:
                        (used if now else deferred).setdefault(node.id, node.lineno)
                elif ctx is store and module:
                    defined.add(node.id)
            elif kind is constant:
                continue
            elif kind is enter:
                self.context = node.context
                local, now, module, guarded = self.context
            elif kind in special:
                self._special(node, kind)
            else:  # the common case, inline: push the children that can hold names
                fields = fields_of.get(kind)
                for field_name in _fields(kind) if fields is None else fields:
                    value = getattr(node, field_name)
                    if type(value) is list:
                        stack.extend(value)
                    else:
                        stack.append(value)
        return self.names

    def _special(self, node: Any, kind: type) -> None:
        if kind in _FUNCTIONS or kind is ast.Lambda:
            self._function(node)
        else:
            self._other(node, kind)

    def _function(self, node: Any) -> None:
        context = self.context
        local, _, _, guarded = context
        arguments = node.args
        defaults = [*arguments.defaults, *arguments.kw_defaults]
        inner: _Context = (local | _function_locals(node), False, False, guarded)
        if isinstance(node, ast.Lambda):
            self.enter((context, defaults), (inner, [node.body]))
            return
        self.bind(node.name)
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
        annotations = [arg.annotation for arg in every] + [node.returns]
        self.enter(
            (context, defaults),
            (context, node.decorator_list),
            ((local, False, False, guarded), annotations),
            (inner, node.body),
        )

    def _other(self, node: Any, kind: type) -> None:
        context = self.context
        local, now, module, guarded = context
        if kind is ast.Import or kind is ast.ImportFrom:
            for alias in node.names:
                self.bind(alias.asname or alias.name.split(".")[0])
        elif kind is ast.Global:
            self.names.defined.update(node.names)
        elif kind is ast.ClassDef:
            self.bind(node.name)
            self.enter(
                (context, [*node.bases, *node.keywords, *node.decorator_list]),
                ((local | _class_locals(node), now, False, guarded), node.body),
            )
        elif kind in _COMPREHENSIONS:
            # its targets are its own; a name it binds (:=) is its scope's, as here
            inner = (local | _targets(node.generators), now, module, guarded)
            self.enter((inner, _children(node)))
        elif kind is ast.Try and _catches_name_error(node):
            self.enter(
                ((local, now, module, True), node.body),
                (context, [*node.handlers, *node.orelse, *node.finalbody]),
            )
        else:
            if kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar:
                self.bind(node.name)
            elif kind is ast.MatchMapping:
                self.bind(node.rest)
            self.stack.extend(_children(node))


def cell_names(tree: ast.Module) -> CellNames:
    """The names one parsed cell binds at module level, reads now, and reads when called."""
    return _Walk().run(tree)


# What makes a cell's names differ between a symbol table and the walk: a scope of its own
# (functions, classes, lambdas, comprehensions), guards, ``del``, declarations, imports, ``:=``.
_NOT_FLAT_WORDS = ("def", "class", "lambda", "for", "try", "del", "global", "nonlocal", "import")
_NOT_FLAT = re.compile(rf"\b(?:{'|'.join(_NOT_FLAT_WORDS)})\b|:=")


def _flat(code: str) -> bool:
    """True when the code has none of ``_NOT_FLAT``'s words (tried only when one may be there:
    a few ``in`` tests cost less than the regex)."""
    for word in (*_NOT_FLAT_WORDS, ":="):
        if word in code:
            return _NOT_FLAT.search(code) is None
    return True


try:  # the C module behind ``symtable``, whose Python wrapper would cost as much again
    _SYMTABLE: Any = importlib.import_module("_symtable")
except ImportError:  # pragma: no cover (another Python: every cell is walked)
    _SYMTABLE = None
# characters: a longer cell is walked (its tree could be too deep for ``ast.parse`` to build,
# NB104, where the symbol table is not)
FLAT_LIMIT = 1000


def remember(memo: dict[str, Any], key: str, value: Any, size: int) -> Any:
    """Keep ``value`` under ``key`` in a memo of at most ``size`` entries (the oldest goes)."""
    if len(memo) >= size:
        del memo[next(iter(memo))]
    memo[key] = value
    return value


# flat cells seen in this check, by code: (defined, used) or None (not flat). Cells repeat
# across a project (copied notebooks, the same imports): 6-69% of the corpora's code cells.
FLAT_SEEN: dict[str, tuple[frozenset[str], tuple[str, ...]] | None] = {}


def flat_names(code: str) -> CellNames | None:
    """A flat cell's names from Python's symbol table, without building a syntax tree.

    Flat: none of ``_NOT_FLAT``'s words, so its names are its symbol table's, with the same
    meaning as ``cell_names``', for about half the work. Their lines are found when a finding
    needs them (``hidden_state``). None for any other cell, or one that does not compile.
    """
    if len(code) > FLAT_LIMIT:
        return None
    if code in FLAT_SEEN:
        known = FLAT_SEEN[code]
    else:
        known = remember(FLAT_SEEN, code, _symbols(code) if _flat(code) else None, 4096)
    if known is None:
        return None
    defined, used = known
    return CellNames(set(defined), dict.fromkeys(used, 0), code=code)


def _symbols(code: str) -> tuple[frozenset[str], tuple[str, ...]] | None:
    """The names a flat cell assigns and reads, from its symbol table (None: not usable)."""
    try:
        table = _SYMTABLE.symtable(code, "<cell>", "exec")
        assigned, read = _SYMTABLE.DEF_LOCAL, _SYMTABLE.USE
    except (SyntaxError, ValueError, RecursionError, MemoryError, AttributeError):
        return None  # AttributeError: no such module here (then ``None``)
    if table.children:  # a scope the words did not show (a type alias)
        return None
    symbols = table.symbols.items()
    return (
        frozenset(name for name, flags in symbols if flags & assigned),
        tuple(name for name, flags in symbols if flags & read),
    )


_TIMED = re.compile(
    r"^[ \t]*%(?:time|timeit|prun|capture)\b((?:[ \t]+-\S+(?:[ \t]+\d+)?)*)(.*)$", re.M
)


def magic_code(source: str) -> list[CellNames]:
    """The names of the Python that line magics run (``%time x = f()``)."""
    found = []
    for match in _TIMED.finditer(source):
        try:
            found.append(cell_names(ast.parse(match.group(2).strip())))
        except (SyntaxError, ValueError):
            continue
    return found


def magic_names(source: str) -> set[str]:
    """Names that magics of the cell bind: ``%%capture out``, ``-o name`` (``%R``, ``%%R``)."""
    found: set[str] = set()
    for match in MAGIC_OUTPUTS.finditer(source):
        if match.group(2) or match.group(3):
            found.add(match.group(2) or match.group(3))
        elif match.group(1):
            found.update(name.strip() for name in match.group(1).split(",") if name.strip())
    return found


def builtin(name: str) -> bool:
    """True for a name Python or IPython's kernel provides."""
    return name in BUILTINS or bool(_HISTORY.match(name))


def hidden_state(cells: list[tuple[int, CellNames]]) -> list[tuple[str, int, int, str]]:
    """``(code, cell, line, message)`` of NB303/NB304 for the cells, in notebook order."""
    defined_at: dict[str, int] = {}
    for number, names in cells:
        for name in names.defined:
            defined_at.setdefault(name, number)
    early: dict[str, list[tuple[int, int]]] = {}
    never: dict[str, list[tuple[int, int]]] = {}
    for number, names in cells:
        for name, line in names.used.items():
            first = defined_at.get(name)
            if first is not None and first > number and not builtin(name):
                early.setdefault(name, []).append((number, line))
        for name, line in (*names.used.items(), *names.deferred.items()):
            if name not in defined_at and not builtin(name):
                never.setdefault(name, []).append((number, line))
    by_number = dict(cells)
    found = [
        ("NB303", *_first(name, at, by_number), _later(name, defined_at[name], at))
        for name, at in early.items()
    ]
    found += [
        ("NB304", *_first(name, at, by_number), _never(name, at)) for name, at in never.items()
    ]
    return found


def _first(
    name: str, places: list[tuple[int, int]], cells: dict[int, CellNames]
) -> tuple[int, int]:
    """The first ``(cell, line)`` of ``places``; a flat cell's line is found by walking it."""
    cell, line = min(places)
    if line or not cells[cell].code:
        return cell, line
    with warnings.catch_warnings():  # the cell's business (invalid escapes), as in notebook.py
        warnings.simplefilter("ignore")
        walked = cell_names(ast.parse(cells[cell].code)).used.get(name, 0)
    return min((at, walked if (at, seen) == (cell, 0) else seen) for at, seen in places)


def _more(places: list[tuple[int, int]]) -> str:
    cells = len({cell for cell, _ in places})
    return f" (here and in {cells - 1} more cell{'s' if cells > 2 else ''})" if cells > 1 else ""


def _later(name: str, first: int, places: list[tuple[int, int]]) -> str:
    return (
        f"{name!r} is used here{_more(places)} but first defined in cell {first}, further down: "
        "the notebook ran in another order; move the definition above, then restart and run all"
    )


def _never(name: str, places: list[tuple[int, int]]) -> str:
    more = _more(places)
    hint = f" (`{HINTS[name]}`)" if name in HINTS else ""
    return (
        f"{name!r} is used{more} but never defined or imported in the notebook: it lived only "
        f"in someone's kernel; define or import it{hint}"
    )
