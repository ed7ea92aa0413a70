"""``scaffold extract NAME...``: move functions copied between notebooks into a module.

The definitions are found with ``scaffold check``'s own detection (``check.duplicates`` on
cells pre-passed by ``check.notebook.blank_magics``), so what ``check`` reports as a copy is
what ``extract`` moves. The plan is made first and checked (one version per name, no notebook
globals, a module that compiles); then every write is done at once under the project lock.
Only the changed cells' ``source`` is rewritten: other cells, ids, metadata, magics and shell
escapes stay as they were.
"""

from __future__ import annotations

import ast
import difflib
import io
import itertools
import json
import keyword
import re
import shlex
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold import pycode
from scaffold.check.duplicates import Definition, definitions
from scaffold.check.notebook import blank_magics
from scaffold.errors import ScaffoldError
from scaffold.files import Change, Write, apply, changes, project_lock, relative, scratch_folder
from scaffold.ipynb import dumped
from scaffold.layout import Package, check_module_name, find_package
from scaffold.project import Project
from scaffold.pycode import BUILTINS, formatted, free_names

DEFAULT_MODULE = "utils"


@dataclass
class _Cell:
    index: int  # 0-based position in the notebook's cells
    source: str  # the original text
    tree: ast.Module


@dataclass
class _Notebook:
    path: Path
    rel: str
    text: str
    data: dict[str, Any]
    cells: list[_Cell] = field(default_factory=list)
    imports: dict[str, str] = field(default_factory=dict)  # bound name -> import statement
    assigned: set[str] = field(default_factory=set)  # top-level names the notebook binds
    star: bool = False
    defined: set[str] = field(default_factory=set)  # top-level functions and classes


@dataclass(frozen=True)
class _Found:
    """One definition of a NAME: where it is, and its text."""

    notebook: _Notebook
    cell: _Cell
    definition: Definition

    @property
    def span(self) -> tuple[int, int]:
        """0-based [start, end) line range of the definition in its cell."""
        for node in self.cell.tree.body:
            if isinstance(node, _DEFINITIONS):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.name == self.definition.name and first == self.definition.line:
                    return first - 1, node.end_lineno or node.lineno
        raise AssertionError(self.definition)  # the definition came from this very tree

    @property
    def body(self) -> str:
        """The definition's source, decorators included."""
        start, end = self.span
        return "\n".join(self.cell.source.split("\n")[start:end]).rstrip() + "\n"


@dataclass(frozen=True)
class Extraction:
    """What ``extract`` did (or would do): the status lines, a diff, the changed notebooks."""

    changes: list[Change]
    diff: str
    notebooks: list[Path]
    module: str  # dotted import path, e.g. ``lab.utils``
    notes: list[str] = field(default_factory=list)  # what the copies left behind had


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


# -- reading the notebooks --------------------------------------------------------------------


def _source(cell: dict[str, Any]) -> str:
    value = cell.get("source", "")
    return "".join(value) if isinstance(value, list) else str(value)


def _bound(alias: ast.alias) -> str:
    """The name an import binds: ``np`` for ``import numpy as np``, ``os`` for ``import os.x``."""
    return alias.asname or alias.name.split(".")[0]


def _load(path: Path, rel: str) -> tuple[str, dict[str, Any]]:
    from scaffold.check.notebook import read_regular

    try:
        raw = read_regular(path)
        if raw is None:
            raise ScaffoldError(f"{rel} is not a regular file (a FIFO or a device?); remove it.")
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as error:
        raise ScaffoldError(f"{rel} cannot be read as a notebook ({error}).") from None
    except RecursionError:
        raise ScaffoldError(f"{rel} is JSON nested too deeply to read; restore it.") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ScaffoldError(f"{rel} is not a Jupyter notebook (no list of cells).")
    return text, data


def _code_tree(cell: Any) -> ast.Module | None:
    """A code cell's syntax tree (magics blanked), None for other cells and broken code."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    try:
        return ast.parse(blank_magics(_source(cell)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # check reports it (NB104); nothing here can be moved from it


def _read(path: Path, root: Path) -> _Notebook:
    rel = relative(path, root)
    text, data = _load(path, rel)
    notebook = _Notebook(path, rel, text, data)
    for index, cell in enumerate(data["cells"]):
        tree = _code_tree(cell)
        if tree is None:
            continue
        notebook.cells.append(_Cell(index, _source(cell), tree))
        for node in tree.body:
            _record(notebook, node)
    return notebook


def _record(notebook: _Notebook, node: ast.stmt) -> None:
    """Note what a top-level statement of the notebook imports, defines or assigns."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        _record_import(notebook, node)
    elif isinstance(node, _DEFINITIONS):
        notebook.assigned.add(node.name)
        notebook.defined.add(node.name)
    else:
        notebook.assigned.update(
            child.id
            for child in ast.walk(node)
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
        )


def _record_import(notebook: _Notebook, node: ast.Import | ast.ImportFrom) -> None:
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return
    for alias in node.names:
        if alias.name == "*":
            notebook.star = True
            continue
        shown = alias
        if isinstance(node, ast.Import) and not alias.asname:
            shown = ast.alias(alias.name.split(".")[0])  # `import os.path` binds `os`
        notebook.imports.setdefault(_bound(alias), pycode.import_text(node, shown))


# -- finding and checking the definitions -----------------------------------------------------


def _check_names(names: Sequence[str]) -> None:
    for name in names:
        if not name.isidentifier():
            raise ScaffoldError(f"{name!r} is not a function or class name.")


def _refuse_defined(names: Sequence[str], defined: set[str], module: str) -> None:
    """Refuse a name the module already defines (or imports)."""
    for name in names:
        if name in defined:
            raise ScaffoldError(f"{module} already defines {name!r}; choose another --to.")


def _find(notebooks: list[_Notebook], names: Sequence[str]) -> dict[str, list[_Found]]:
    """Every top-level definition of each name; refuse a name that no notebook defines."""
    found: dict[str, list[_Found]] = {name: [] for name in names}
    for notebook in notebooks:
        for cell in notebook.cells:
            for definition in definitions(cell.tree, notebook.rel, cell.index + 1):
                if definition.name in found:
                    found[definition.name].append(_Found(notebook, cell, definition))
    missing = [name for name, where in found.items() if not where]
    if missing:
        raise ScaffoldError(
            f"no notebook defines {', '.join(repr(n) for n in missing)} at the top level of a cell."
        )
    return found


def _kept(name: str, found: list[_Found], keep: list[str], notes: list[str]) -> _Found:
    """Which of ``found`` is the version to move; refuse differing copies without --from
    (showing how they differ); with --from, note what the copies left behind had."""
    versions: dict[str, list[_Found]] = {}
    for one in found:
        versions.setdefault(one.definition.fingerprint, []).append(one)
    for wanted in keep:
        for one in found:
            if one.notebook.rel == wanted:
                notes.extend(_left_behind(name, one, versions))
                return one
    if len(versions) > 1:
        _refuse_differing(name, list(versions.values()), bool(keep))
    return found[0]


def _left_behind(name: str, kept: _Found, versions: dict[str, list[_Found]]) -> list[str]:
    """A note per other version: the lines it has that the kept copy lacks."""
    notes = []
    for fingerprint, copies in versions.items():
        if fingerprint == kept.definition.fingerprint:
            continue
        extra = _extra_lines(copies[0].body, kept.body)
        if extra:
            where = ", ".join(dict.fromkeys(c.notebook.rel for c in copies))
            notes.append(
                f"kept {name!r} from {kept.notebook.rel}; the copy in {where} has lines it "
                f"lacks: {'; '.join(extra)}"
            )
    return notes


def _extra_lines(body: str, other: str) -> list[str]:
    """The lines of ``body`` that ``other`` does not have (stripped)."""
    theirs = {line.strip() for line in other.splitlines()}
    return [line.strip() for line in body.splitlines() if line.strip() not in theirs]


def _refuse_differing(name: str, versions: list[list[_Found]], picked: bool) -> None:
    """The copies differ: say which notebooks hold which version, and show the difference."""
    ordered = sorted(versions, key=lambda copies: sorted(c.notebook.rel for c in copies))
    places = [list(dict.fromkeys(c.notebook.rel for c in copies)) for copies in ordered]
    shown = "; ".join(
        f"version {number} in {', '.join(where)}" for number, where in enumerate(places, start=1)
    )
    unless = (
        "none of the --from notebooks defines it; pick one that does"
        if picked
        else "make them the same, or pick the one to keep with --from NOTEBOOK"
    )
    first = ordered[0][0]
    details = []
    for number, copies in enumerate(ordered[1:], start=2):
        other = copies[0]
        for holder, body, lacking in ((first, first.body, other), (other, other.body, first)):
            extra = _extra_lines(body, lacking.body)
            if extra:
                details.append(
                    f"only {holder.notebook.rel} has: " + "; ".join(f"`{line}`" for line in extra)
                )
        details.extend(
            line.rstrip("\n")
            for line in difflib.unified_diff(
                first.body.splitlines(keepends=True),
                other.body.splitlines(keepends=True),
                f"version 1 ({first.notebook.rel})",
                f"version {number} ({other.notebook.rel})",
            )
        )
    raise ScaffoldError(
        f"the copies of {name!r} differ in more than renaming ({shown}); {unless}.\n"
        + "\n".join(details)
    )


def _needed_imports(kept: _Found, known: set[str], params: Sequence[str] = ()) -> list[str]:
    """The notebook's import lines ``kept`` needs; refuse a name the module cannot have
    (a notebook global named in ``params`` becomes a parameter instead)."""
    name, notebook, body = kept.definition.name, kept.notebook, kept.body
    if blank_magics(body) != body:
        raise ScaffoldError(
            f"{name!r} in {notebook.rel} (cell {kept.cell.index + 1}) uses IPython magics or "
            "shell escapes; a module cannot, so rewrite them in Python first."
        )
    needed = []
    for free in sorted(free_names(body) - BUILTINS - known - set(params)):
        if free not in notebook.imports:
            _refuse_free(name, notebook, free)
        needed.append(notebook.imports[free])
    return needed


def notebook_globals(kept: _Found, known: set[str]) -> list[str]:
    """The notebook globals (assigned, not imported or defined) the definition reads."""
    notebook = kept.notebook
    free = free_names(kept.body) - BUILTINS - known
    return sorted(
        name
        for name in free
        if name in notebook.assigned and name not in notebook.imports
        and name not in notebook.defined
    )  # fmt: skip


def _refuse_free(name: str, notebook: _Notebook, free: str) -> None:
    """``name`` reads ``free``, which the module would not have: say what to do."""
    if free in notebook.defined:
        raise ScaffoldError(
            f"{name!r} in {notebook.rel} calls {free!r}, defined in the notebook; "
            f"extract both at once (scaffold extract {name} {free})."
        )
    if free in notebook.assigned:
        raise ScaffoldError(
            f"{name!r} in {notebook.rel} reads the notebook global {free!r}; pass it "
            f"as a parameter of {name!r}, then extract again."
        )
    star = " (it may come from a `import *`)" if notebook.star else ""
    raise ScaffoldError(
        f"{name!r} in {notebook.rel} uses {free!r}, which the notebook neither "
        f"imports nor defines{star}; import it explicitly, then extract again."
    )


def _top_level(text: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(text).body:
        if isinstance(node, _DEFINITIONS):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


# -- writing the module -----------------------------------------------------------------------


def _set_source(cell: dict[str, Any], text: str) -> None:
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell["source"], list) else text


def _unified(before: str, after: str, old: str, new: str) -> list[str]:
    """A unified diff whose every line ends with a newline (as ``git diff`` shows it)."""
    lines = []
    for line in difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), old, new
    ):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return lines


def _package(project: Project) -> Package:
    package = find_package(project)
    if package is None:
        raise ScaffoldError(
            f"cannot find the project's Python package under {project.root} (looked for "
            "src/<name>/__init__.py and <name>/__init__.py)."
        )
    return package


MODULE = '''\
"""{title}: code moved out of the notebooks by ``scaffold extract``.

Import it in a notebook's setup cell with ``from {package}.{name} import ...``; ``%autoreload``
picks up your edits without restarting the kernel.
"""
'''
TEST = '''\
"""Tests of {package}.{name}: a stub per definition moved out of the notebooks."""
'''
TEST_STUB = '''

def test_{lower}_takes_its_parameters():
    """Written by scaffold extract: pins {name}'s parameters. Call it on a small input
    here and check what it returns."""
    import inspect

    from {package}.{module} import {name}

    assert list(inspect.signature({name}).parameters) == {parameters}
'''
CLASS_STUB = '''

def test_{lower}_is_a_class():
    """Written by scaffold extract: make a {name} here and check what it does."""
    import inspect

    from {package}.{module} import {name}

    assert inspect.isclass({name})
'''


def _stub(package: str, module: str, body: str) -> str:
    """A test stub for the definition ``body``: its parameters pinned, or a class checked."""
    node = ast.parse(body).body[0]
    assert isinstance(node, _DEFINITIONS)
    values = {"package": package, "module": module, "name": node.name}
    values["lower"] = node.name.lower().lstrip("_")
    if isinstance(node, ast.ClassDef):
        return CLASS_STUB.format(**values)
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    names += [args.vararg.arg] if args.vararg else []
    names += [a.arg for a in args.kwonlyargs] + ([args.kwarg.arg] if args.kwarg else [])
    return TEST_STUB.format(**values, parameters=json.dumps(names))


def _module_writes(
    root: Path,
    package: Package,
    to: str,
    existing: str | None,
    bodies: list[str],
    needed: list[str],
) -> list[Write]:
    """The module with the definitions appended (formatted as ruff formats them) and a test
    stub per definition, compiled."""
    module_path = package.folder / f"{to}.py"
    values = {"title": to.replace("_", " ").capitalize(), "package": package.name, "name": to}
    test = root / "tests" / f"test_{to}.py"
    if existing is None:
        for taken in (package.folder / to, test):
            if taken.exists():
                raise ScaffoldError(f"{relative(taken, root)} already exists; choose another --to.")
    base = MODULE.format(**values) if existing is None else existing
    text = pycode.add_imports(base, needed, package.name).rstrip("\n") + "\n"
    shown = relative(module_path, root)
    for body in bodies:
        text += "\n\n" + formatted(body, root, shown)
    try:
        compile(text, str(module_path), "exec")
    except SyntaxError as error:
        raise ScaffoldError(
            f"the module would not compile ({error.msg}, line {error.lineno}); nothing written."
        ) from None
    stubs = "".join(_stub(package.name, to, body) for body in bodies)
    module = Write(module_path, text, create=existing is None)
    if test.is_file():
        old = test.read_text(encoding="utf-8")
        tests = formatted(old.rstrip("\n") + "\n" + stubs, root, relative(test, root))
        return [module, Write(test, tests, create=False)]
    tests = formatted(TEST.format(**values) + stubs, root, relative(test, root))
    return [module, Write(test, tests)]


def plan_extract(
    project: Project,
    names: Sequence[str],
    *,
    to: str = DEFAULT_MODULE,
    keep: Sequence[str] = (),
    params: Sequence[str] = (),
    cwd: Path | None = None,
) -> tuple[list[Write], Extraction]:
    """The writes that move ``names`` into ``<package>/<to>.py``, checked; nothing written.

    Each notebook global in ``params`` that a moved function reads becomes a keyword-only
    parameter of it, and every call in the notebooks passes the notebook's own value.
    """
    from scaffold.check.checker import notebook_paths
    from scaffold.check.model import load_config
    from scaffold.execution import resolve_notebook

    check_module_name(to)
    _check_names([*names, *params])
    package = _package(project)
    root = project.root
    kept = [relative(resolve_notebook(root, given, cwd or Path.cwd()), root) for given in keep]
    notebooks = [_read(path, root) for path in notebook_paths(root, [], load_config(root))]
    found = _find(notebooks, names)
    module_path = package.folder / f"{to}.py"
    existing = module_path.read_text(encoding="utf-8") if module_path.is_file() else None
    defined = _top_level(existing) if existing is not None else set()
    notes: list[str] = []
    moved = [_kept(name, where, kept, notes) for name, where in found.items()]
    _refuse_defined(names, defined, relative(module_path, root))
    known = set(names) | defined
    passed = _parameters(moved, known, params, _command(names, to, keep, params))
    writes, diff = _module_plan(root, package, to, existing, moved, known, params, passed)
    module = f"{package.name}.{to}"
    changed = _rewrite(notebooks, found, module, package.name, diff, passed)
    writes.extend(
        Write(notebook.path, dumped(notebook.text, notebook.data), create=False)
        for notebook in changed
    )
    extraction = Extraction(
        changes(writes, root), "".join(diff), [n.path for n in changed], module, notes
    )
    return writes, extraction


def _module_plan(
    root: Path,
    package: Package,
    to: str,
    existing: str | None,
    moved: Sequence[_Found],
    known: set[str],
    params: Sequence[str],
    passed: dict[str, list[tuple[str, str]]],
) -> tuple[list[Write], list[str]]:
    """The module's and its test's writes, and their diff."""
    needed = [line for one in moved for line in _needed_imports(one, known, params)]
    bodies = [_parameterised(one.body, passed.get(one.definition.name, [])) for one in moved]
    writes = _module_writes(root, package, to, existing, bodies, needed)
    shown = relative(writes[0].path, root)
    old = "/dev/null" if existing is None else f"a/{shown}"
    diff = _unified(existing or "", writes[0].text, old, f"b/{shown}")
    return writes, diff + _test_diff(writes[1:], root)


def _test_diff(writes: Sequence[Write], root: Path) -> list[str]:
    lines = []
    for write in writes:
        old = write.path.read_text(encoding="utf-8") if not write.create else ""
        where = relative(write.path, root)
        lines += _unified(
            old, write.text, "/dev/null" if write.create else f"a/{where}", f"b/{where}"
        )
    return lines


def _command(names: Sequence[str], to: str, keep: Sequence[str], params: Sequence[str]) -> str:
    """The ``scaffold extract`` command line for these arguments."""
    words = ["scaffold", "extract", *names]
    if to != DEFAULT_MODULE:
        words += ["--to", to]
    for given in keep:
        words += ["--from", given]
    for name in params:
        words += ["--param", name]
    return shlex.join(words)


# -- notebook globals as parameters (--param) ---------------------------------------------------


def _parameters(
    moved: Sequence[_Found], known: set[str], params: Sequence[str], command: str
) -> dict[str, list[tuple[str, str]]]:
    """For each moved function, the (parameter, notebook global) pairs it takes; refuse a
    global read without --param (with the exact command) and a --param nothing reads."""
    passed: dict[str, list[tuple[str, str]]] = {}
    used: set[str] = set()
    for one in moved:
        name = one.definition.name
        read = notebook_globals(one, known)
        missing = [g for g in read if g not in params]
        if missing:
            more = " ".join(f"--param {g}" for g in missing)
            raise ScaffoldError(
                f"{name!r} in {one.notebook.rel} reads the notebook global {missing[0]!r}; make "
                f"it a parameter that every call passes: {command} {more}"
            )
        if read and isinstance(_node(one), ast.ClassDef):
            raise ScaffoldError(
                f"{name!r} is a class reading the notebook global {read[0]!r}; --param works "
                "on functions, so pass it to the class yourself."
            )
        taken = _local_names(one.body)
        passed[name] = [(_param_name(g, taken), g) for g in read]
        used.update(read)
    unused = [p for p in params if p not in used]
    if unused:
        raise ScaffoldError(
            f"--param {unused[0]}: none of the moved definitions reads a notebook global "
            f"{unused[0]!r}."
        )
    return {name: pairs for name, pairs in passed.items() if pairs}


def _node(one: _Found) -> ast.stmt:
    return ast.parse(one.body).body[0]


def _local_names(body: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)} | {
        a.arg for n in ast.walk(ast.parse(body)) if isinstance(n, ast.arguments)
        for a in (*n.posonlyargs, *n.args, *n.kwonlyargs)
    }  # fmt: skip


def _param_name(name: str, taken: set[str]) -> str:
    """The parameter for global ``name``: lower case (``IMAGES_PATH`` -> ``images_path``)
    unless the function already uses that name."""
    lower = name.lower()
    return name if lower in taken or keyword.iskeyword(lower) else lower


def _offset(lines: Sequence[str], line: int, column: int) -> int:
    """The text offset of ast's (1-based line, UTF-8 byte column) in ``lines`` (keepends)."""
    before = sum(len(text) for text in lines[: line - 1])
    return before + len(lines[line - 1].encode("utf-8")[:column].decode("utf-8", "ignore"))


def _parameterised(body: str, pairs: Sequence[tuple[str, str]]) -> str:
    """A function's source with the globals of ``pairs`` renamed to keyword-only parameters,
    its own recursive calls passing them on."""
    if not pairs:
        return body
    renames = dict((g, p) for p, g in pairs)
    tree = ast.parse(body)
    lines = body.splitlines(keepends=True)
    spots = [
        (
            _offset(lines, n.lineno, n.col_offset),
            _offset(lines, n.lineno, n.end_col_offset or 0),
            n.id,
        )
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id in renames
    ]
    for start, end, name in sorted(spots, reverse=True):
        body = body[:start] + renames[name] + body[end:]
    node = ast.parse(body).body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    body = _add_keywords(body, node, [p for p, _ in pairs])
    return _pass_arguments(body, node.name, [(p, p) for p, _ in pairs])


def _signature_marks(body: str) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """Where the first parameter list of ``body`` closes, and where its ``**`` starts."""
    depth, kwarg = 0, None
    for token in tokenize.generate_tokens(io.StringIO(body).readline):
        if token.type != tokenize.OP:
            continue
        if token.string == "(":
            depth += 1
        elif token.string == ")":
            depth -= 1
            if depth == 0:
                return token.start, kwarg
        elif token.string == "**" and depth == 1 and kwarg is None:
            kwarg = token.start
    raise AssertionError(body)  # a parsed function definition has a parameter list


def _append_argument(text: str, close: int, extra: str) -> str:
    """``text`` with ``extra`` as the last item of the list closing at offset ``close``."""
    head = text[:close].rstrip()
    sep = "" if head.endswith("(") else " " if head.endswith(",") else ", "
    return head + sep + extra + text[len(head) :]


def _add_keywords(body: str, node: ast.FunctionDef | ast.AsyncFunctionDef, names: list[str]) -> str:
    """``body`` with keyword-only parameters ``names`` added to the signature of ``node``."""
    star = [] if node.args.vararg or node.args.kwonlyargs else ["*"]
    close, kwarg = _signature_marks(body)
    lines = body.splitlines(keepends=True)
    at = kwarg or close
    offset = sum(len(text) for text in lines[: at[0] - 1]) + at[1]
    added = ", ".join([*star, *names])
    if kwarg is not None:
        return body[:offset] + added + ", " + body[offset:]
    return _append_argument(body, offset, added)


def _pass_arguments(text: str, name: str, pairs: Sequence[tuple[str, str]]) -> str:
    """``text`` with ``parameter=value`` for each pair added to every call of ``name``."""
    blanked = blank_magics(text)
    tree = ast.parse(blanked)
    lines = text.splitlines(keepends=True)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]
    extra = ", ".join(f"{p}={v}" for p, v in pairs)
    ends = sorted(
        (_offset(lines, c.end_lineno or c.lineno, c.end_col_offset or 0) - 1 for c in calls),
        reverse=True,
    )
    for close in ends:
        text = _append_argument(text, close, extra)
    return text


# -- rewriting the notebooks ------------------------------------------------------------------


def _blank(line: str) -> bool:
    return not line.strip()


def _definition_follows(lines: list[str], at: int) -> bool:
    """Whether the code from ``at`` on starts with a function or class (comments skipped)."""
    following = (line.strip() for line in lines[at:])
    code = next((line for line in following if line and not line.startswith("#")), "")
    return code.startswith(("def ", "async def ", "class ", "@"))


def _blanks(lines: list[str], at: int, most: int) -> None:
    """The blank lines around ``at`` made as many as isort and ruff format want there (two
    before a function or class, one before other code, none at the cell's ends), at most
    ``most``."""
    start, end = _blank_run(lines, at)
    wanted = 0
    if start > 0 and end < len(lines):
        wanted = 2 if _definition_follows(lines, end) else 1
    lines[start:end] = [""] * min(wanted, most)


def _cut(lines: list[str], start: int, end: int) -> None:
    """Remove ``lines[start:end]`` and the blank lines the removal leaves doubled."""
    del lines[start:end]
    around, after = _blank_run(lines, start)
    _blanks(lines, start, max(start - around, after - start))


def _blank_run(lines: list[str], at: int) -> tuple[int, int]:
    """The run of blank lines around position ``at``, as ``lines[start:end]``."""
    start = at
    while start > 0 and _blank(lines[start - 1]):
        start -= 1
    end = at
    while end < len(lines) and _blank(lines[end]):
        end += 1
    return start, end


def _blank_lines_after(lines: list[str], end: int) -> None:
    """The blank lines isort wants between the import block ending at ``end`` and the code
    after it: two before a function or class (comments above it included), else one."""
    _blanks(lines, end, 2)


def _cell_magic(lines: list[str]) -> int:
    """The line after a cell magic (``%%time``), which must stay first; else 0."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    return first + 1 if first is not None and lines[first].lstrip().startswith("%%") else 0


def _with_import(lines: list[str], statement: str, package: str) -> None:
    """Put ``statement`` in the cell's top import block, as isort does, or make one there."""
    tree = ast.parse(blank_magics("\n".join(lines)))
    leading = list(itertools.takewhile(lambda node: isinstance(node, ast.Pass), tree.body))
    block = list(
        itertools.takewhile(
            lambda node: isinstance(node, (ast.Import, ast.ImportFrom)), tree.body[len(leading) :]
        )
    )
    if block:
        start, end = block[0].lineno - 1, block[-1].end_lineno or block[-1].lineno
        head = "".join(line + "\n" for line in lines[start:end])
        merged = pycode.add_import(head, statement, package).rstrip("\n").split("\n")
        lines[start:end] = merged
        _blank_lines_after(lines, start + len(merged))
        return
    if len(leading) == len(tree.body):  # nothing left but comments and magics: the import last
        lines.append(statement)
        return
    at = (leading[-1].end_lineno or leading[-1].lineno) if leading else _cell_magic(lines)
    lines.insert(at, statement)
    _blank_lines_after(lines, at + 1)


def _edit(source: str, change: Any) -> str:
    """``source`` with ``change(lines)`` applied to its lines (the final newline kept)."""
    ends_with_newline = source.endswith("\n")
    lines = source.removesuffix("\n").split("\n") if source.strip() else []
    change(lines)
    return "\n".join(lines) + ("\n" if ends_with_newline else "")


def _cut_definitions(source: str, spans: list[tuple[int, int]]) -> str:
    """The cell's text with its definitions cut."""

    def cut(lines: list[str]) -> None:
        for start, end in sorted(spans, reverse=True):
            _cut(lines, start, end)

    return _edit(source, cut)


def _rewrite(
    notebooks: list[_Notebook],
    found: dict[str, list[_Found]],
    module: str,
    package: str,
    diff: list[str],
    passed: dict[str, list[tuple[str, str]]] | None = None,
) -> list[_Notebook]:
    """Replace the definitions in their cells by an import; return the changed notebooks."""
    copies: dict[str, list[_Found]] = {}
    for where in found.values():
        for one in where:
            copies.setdefault(one.notebook.rel, []).append(one)
    changed = []
    for notebook in notebooks:
        if notebook.rel in copies:
            texts = _moved_out(notebook, copies[notebook.rel], module, package)
            _pass_globals(notebook, texts, passed or {})
            _write_cells(notebook, copies[notebook.rel], texts, diff)
            changed.append(notebook)
    return changed


def _import_cell(notebook: _Notebook, first: int) -> int | None:
    """The notebook's import cell: the first code cell with a top-level import, when it
    comes no later than the first definition moved out (so every use still follows it)."""
    for cell in notebook.cells:
        if cell.index > first:
            return None
        if pycode.imports_of(cell.tree):
            return cell.index
    return None


def _moved_out(
    notebook: _Notebook, copies: list[_Found], module: str, package: str
) -> dict[int, str]:
    """Each code cell's text with the definitions cut and one import of them all, merged
    into the notebook's import cell (else into the first cell that held one)."""
    by_cell: dict[int, list[_Found]] = {}
    for one in copies:
        by_cell.setdefault(one.cell.index, []).append(one)
    texts = {cell.index: cell.source for cell in notebook.cells}
    for index, here in by_cell.items():
        texts[index] = _cut_definitions(texts[index], [o.span for o in here])
    names = sorted(
        {one.definition.name for one in copies}, key=lambda n: pycode.member_key(ast.alias(n))
    )
    statement = f"from {module} import {', '.join(names)}"
    home = _import_cell(notebook, min(by_cell))
    home = min(by_cell) if home is None else home
    texts[home] = _edit(texts[home], lambda lines: _with_import(lines, statement, package))
    return texts


def _pass_globals(
    notebook: _Notebook, texts: dict[int, str], passed: dict[str, list[tuple[str, str]]]
) -> None:
    """Every call of a function given parameters passes the notebook's own globals."""
    for name, pairs in passed.items():
        calls = False
        for index, text in texts.items():
            if re.search(rf"\b{re.escape(name)}\s*\(", text):
                new = _pass_arguments(text, name, pairs)
                calls = calls or new != text
                texts[index] = new
        lacking = [g for _, g in pairs if g not in notebook.assigned]
        if calls and lacking:
            raise ScaffoldError(
                f"{notebook.rel} calls {name!r} but has no global {lacking[0]!r} to pass; "
                "assign it there first."
            )


def _write_cells(
    notebook: _Notebook, copies: list[_Found], texts: dict[int, str], diff: list[str]
) -> None:
    """Put the new texts in the notebook's ``data``, adding their diffs to ``diff``."""
    orphaned = _orphaned_imports(notebook, copies, texts)
    emptied = []
    for cell in notebook.cells:
        text = _drop_imports(texts[cell.index], orphaned) if orphaned else texts[cell.index]
        if text == cell.source:
            continue
        _set_source(notebook.data["cells"][cell.index], text)
        where = f"{notebook.rel} (cell {cell.index + 1})"
        diff.extend(_unified(cell.source, text, f"a/{where}", f"b/{where}"))
        if not text.strip() or (text.strip().startswith("%%") and "\n" not in text.strip()):
            emptied.append(cell.index)
            diff.append(f"(cell {cell.index + 1} of {notebook.rel} is left empty: removed)\n")
    for index in reversed(emptied):
        del notebook.data["cells"][index]


# -- imports only the moved code used ---------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_]\w*")


def _orphaned_imports(notebook: _Notebook, copies: list[_Found], texts: dict[int, str]) -> set[str]:
    """The names the notebook imports for the moved definitions alone (ruff's F401 once they
    are gone): used by a moved copy, by nothing left in the notebook, magics included."""
    wanted: set[str] = set()
    for one in copies:
        try:
            wanted |= free_names(blank_magics(one.body)) & set(notebook.imports)
        except SyntaxError:
            continue
    if not wanted:
        return set()
    used: set[str] = set()
    for index, cell in enumerate(notebook.data["cells"]):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            used |= _used_names(texts.get(index, _source(cell)))
    return wanted - used


def _used_names(source: str) -> set[str]:
    """Every name the code reads or binds, and every word of its magics and shell escapes."""
    blanked = blank_magics(source)
    try:
        tree = ast.parse(blanked)
    except (SyntaxError, ValueError):
        return set(_WORD.findall(source))  # unreadable: every word counts as a use
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for line, python in zip(source.split("\n"), blanked.split("\n"), strict=False):
        if line != python:
            names.update(_WORD.findall(line))
    return names


def _alone(node: ast.stmt, lines: list[str]) -> bool:
    """Whether ``node`` has its lines to itself (no ``;``, not inside a block)."""
    end = node.end_lineno or node.lineno
    rest = lines[end - 1][node.end_col_offset or 0 :].strip()
    return node.col_offset == 0 and (not rest or rest.startswith("#"))


def _statements(node: ast.Import | ast.ImportFrom, kept: list[ast.alias]) -> list[str]:
    """The import ``node`` reduced to the ``kept`` names, one ``import`` per line (isort)."""
    if isinstance(node, ast.ImportFrom):
        return [pycode.from_import(node, kept)]
    return [pycode.import_text(node, alias) for alias in kept]


def _drop_imports(source: str, names: set[str]) -> str:
    """``source`` without the top-level imports of ``names`` (the rest of each statement stays)."""
    try:
        tree = ast.parse(blank_magics(source))
    except (SyntaxError, ValueError):
        return source
    lines = source.removesuffix("\n").split("\n")
    for node in reversed(pycode.imports_of(tree)):
        kept = [a for a in node.names if a.name == "*" or _bound(a) not in names]
        if len(kept) == len(node.names) or not _alone(node, lines):
            continue
        start, end = node.lineno - 1, node.end_lineno or node.lineno
        if kept:
            lines[start:end] = _statements(node, kept)
        else:
            _cut(lines, start, end)
    text = "\n".join(lines)
    return text + "\n" if source.endswith("\n") and text.strip() else text


def extract(
    project: Project,
    names: Sequence[str],
    *,
    to: str = DEFAULT_MODULE,
    keep: Sequence[str] = (),
    params: Sequence[str] = (),
    dry_run: bool = False,
    verify: bool = False,
    python: Path | None = None,
    cwd: Path | None = None,
) -> Extraction:
    """Move ``names`` into ``<package>/<to>.py`` and import them where they were defined.

    With ``verify``, each changed notebook then runs top to bottom in the project's
    environment; if one fails, every write is undone and the failure is raised.
    """
    if dry_run:
        return plan_extract(project, names, to=to, keep=keep, params=params, cwd=cwd)[1]
    root = project.root
    with project_lock(root):
        writes, extraction = plan_extract(project, names, to=to, keep=keep, params=params, cwd=cwd)
        before = {w.path: w.path.read_text(encoding="utf-8") for w in writes if not w.create}
        apply(writes)  # all or nothing: a refusal or Ctrl-C in it leaves the project as it was
        try:  # a Ctrl-C at any point from here on leaves the project as it was
            if verify:
                _verify(project, extraction.notebooks, python)
        except BaseException:
            _undo(writes, before)
            raise
    return extraction


def _undo(writes: Sequence[Write], before: dict[Path, str]) -> None:
    for write in writes:
        if write.create:
            write.path.unlink(missing_ok=True)
    apply([Write(path, text, create=False) for path, text in before.items()])


def _verify(project: Project, notebooks: Sequence[Path], python: Path | None) -> None:
    from scaffold import execution as runner
    from scaffold import interpreters
    from scaffold.layout import PARAMS_DIR

    interpreter = interpreters.find_interpreter(project, python)
    interpreters.check_interpreter(interpreter, project)
    with scratch_folder("scaffold-extract-") as folder:
        for path in notebooks:
            params = project.root / PARAMS_DIR / f"{path.stem}.yaml"
            plan = runner.RunPlan(
                path, Path(folder) / path.name, params if params.is_file() else None
            )
            try:
                runner.execute(plan, interpreter, project.root)
            except ScaffoldError as error:
                failure = str(error).split(" The partial output is in ")[0]
                raise ScaffoldError(f"{failure} The extract is undone.") from None


__all__ = ["DEFAULT_MODULE", "Extraction", "Package", "dumped", "extract", "plan_extract"]
