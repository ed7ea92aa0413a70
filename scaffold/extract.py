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
import builtins
import difflib
import json
import symtable
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold.check.duplicates import Definition, definitions
from scaffold.check.notebook import blank_magics
from scaffold.errors import ScaffoldError
from scaffold.files import Change, Write, apply, changes, project_lock, relative
from scaffold.layout import Package, check_module_name, find_package
from scaffold.modules import MODULE, TEST
from scaffold.project import Project

DEFAULT_MODULE = "utils"
_BUILTINS = set(dir(builtins)) | {"__file__", "__name__", "display", "get_ipython"}


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
class Extraction:
    """What ``extract`` did (or would do): the status lines, a diff, the changed notebooks."""

    changes: list[Change]
    diff: str
    notebooks: list[Path]
    module: str  # dotted import path, e.g. ``lab.utils``


def _source(cell: dict[str, Any]) -> str:
    value = cell.get("source", "")
    return "".join(value) if isinstance(value, list) else str(value)


def _import_text(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    spelled = f"{alias.name} as {alias.asname}" if alias.asname else alias.name
    if isinstance(node, ast.Import):
        return f"import {spelled}"
    return f"from {'.' * node.level}{node.module or ''} import {spelled}"


def _read(path: Path, root: Path) -> _Notebook:
    rel = relative(path, root)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as error:
        raise ScaffoldError(f"{rel} cannot be read as a notebook ({error}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ScaffoldError(f"{rel} is not a Jupyter notebook (no list of cells).")
    notebook = _Notebook(path, rel, text, data)
    for index, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _source(cell)
        try:
            tree = ast.parse(blank_magics(source))
        except (SyntaxError, ValueError):
            continue  # check reports it (NB104); nothing here can be moved from it
        notebook.cells.append(_Cell(index, source, tree))
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        notebook.star = True
                        continue
                    bound = alias.asname or alias.name.split(".")[0]
                    if isinstance(node, ast.Import) and not alias.asname:
                        alias = ast.alias(alias.name.split(".")[0])
                    if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                        notebook.imports.setdefault(bound, _import_text(node, alias))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                notebook.assigned.add(node.name)
                notebook.defined.add(node.name)
            else:
                notebook.assigned.update(
                    child.id
                    for child in ast.walk(node)
                    if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
                )
    return notebook


def _free_names(source: str) -> set[str]:
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


def _span(cell: _Cell, definition: Definition) -> tuple[int, int]:
    """0-based [start, end) line range of ``definition`` in its cell."""
    for node in cell.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if node.name == definition.name and first == definition.line:
                return first - 1, node.end_lineno or node.lineno
    raise AssertionError(definition)  # the definition came from this very tree


def _kept(name: str, found: list[tuple[_Notebook, _Cell, Definition]], keep: list[str]) -> int:
    """Which of ``found`` is the version to move; refuse differing copies without --from."""
    for wanted in keep:
        for number, (notebook, _, _) in enumerate(found):
            if notebook.rel == wanted:
                return number
    versions = {definition.fingerprint for _, _, definition in found}
    if len(versions) > 1:
        where = ", ".join(sorted({notebook.rel for notebook, _, _ in found}))
        raise ScaffoldError(
            f"the copies of {name!r} in {where} differ in more than renaming; make them the "
            "same, or pick the one to keep with --from NOTEBOOK."
        )
    return 0


def _section(module: str, package: str) -> int:
    """isort's sections, in order: future, standard library, third party, first party."""
    top = module.lstrip(".").split(".")[0]
    if module.startswith(".") or top == package:
        return 3
    return 1 if top in sys.stdlib_module_names else 2


def _key(node: ast.Import | ast.ImportFrom, package: str) -> tuple[int, int, str]:
    module = (
        node.names[0].name
        if isinstance(node, ast.Import)
        else "." * node.level + (node.module or "")
    )
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return (0, 1, "")
    return (_section(module, package), isinstance(node, ast.ImportFrom), module.lower())


def _add_import(text: str, line: str, package: str) -> str:
    """``text`` with the import ``line`` where ruff's isort rules (I001) put it."""
    statement = ast.parse(line).body[0]
    assert isinstance(statement, (ast.Import, ast.ImportFrom))
    key = _key(statement, package)
    tree = ast.parse(text)
    found = [
        (_key(node, package), node)
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    lines = text.splitlines(keepends=True)
    if not found:
        after = 0
        if tree.body and isinstance(tree.body[0], ast.Expr):
            after = tree.body[0].end_lineno or 0
        return "".join(lines[:after]) + f"\n{line}\n" + "".join(lines[after:])
    later = [node for k, node in found if k > key]
    same = [node for k, node in found if k[0] == key[0]]
    if later and later[0] in same:
        at = later[0].lineno - 1
        return "".join(lines[:at]) + f"{line}\n" + "".join(lines[at:])
    if same:
        at = same[-1].end_lineno or same[-1].lineno
        return "".join(lines[:at]) + f"{line}\n" + "".join(lines[at:])
    if later:  # a new section before a later one
        at = later[0].lineno - 1
        return "".join(lines[:at]) + f"{line}\n\n" + "".join(lines[at:])
    last = found[-1][1]
    at = last.end_lineno or last.lineno
    return "".join(lines[:at]) + f"\n{line}\n" + "".join(lines[at:])


def _module_imports(existing: str, needed: list[str], package: str) -> str:
    """``existing`` module text with the ``needed`` import lines added among its imports."""
    tree = ast.parse(existing)
    present = {
        _import_text(node, alias)
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    for line in dict.fromkeys(needed):
        if line not in present:
            existing = _add_import(existing, line, package)
    return existing


def dumped(original: str, data: Any) -> str:
    """``data`` as JSON laid out like ``original`` (Jupyter's indent and key order)."""
    second = original.split("\n", 2)[1] if "\n" in original else ""
    indent = len(second) - len(second.lstrip(" ")) or 1
    for sort_keys in (True, False):
        text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
        if text.rstrip("\n") == original.rstrip("\n"):
            break
    return text + ("\n" if original.endswith("\n") else "")


def _set_source(cell: dict[str, Any], text: str) -> None:
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell["source"], list) else text


def plan_extract(
    project: Project,
    names: Sequence[str],
    *,
    to: str = DEFAULT_MODULE,
    keep: Sequence[str] = (),
    cwd: Path | None = None,
) -> tuple[list[Write], Extraction]:
    """The writes that move ``names`` into ``<package>/<to>.py``, checked; nothing written."""
    from scaffold.check.checker import notebook_paths
    from scaffold.check.model import load_config
    from scaffold.run import resolve_notebook

    check_module_name(to)
    for name in names:
        if not name.isidentifier():
            raise ScaffoldError(f"{name!r} is not a function or class name.")
    package = find_package(project)
    if package is None:
        raise ScaffoldError(
            f"cannot find the project's Python package under {project.root} (looked for "
            "src/<name>/__init__.py and <name>/__init__.py)."
        )
    root = project.root
    kept = [relative(resolve_notebook(root, given, cwd or Path.cwd()), root) for given in keep]
    notebooks = [_read(path, root) for path in notebook_paths(root, [], load_config(root))]
    found: dict[str, list[tuple[_Notebook, _Cell, Definition]]] = {name: [] for name in names}
    for notebook in notebooks:
        for cell in notebook.cells:
            for definition in definitions(cell.tree, notebook.rel, cell.index + 1):
                if definition.name in found:
                    found[definition.name].append((notebook, cell, definition))
    missing = [name for name, where in found.items() if not where]
    if missing:
        raise ScaffoldError(
            f"no notebook defines {', '.join(repr(n) for n in missing)} at the top level of a cell."
        )
    module_path = package.folder / f"{to}.py"
    existing = module_path.read_text(encoding="utf-8") if module_path.is_file() else None
    defined = _top_level(existing) if existing is not None else set()
    bodies: list[str] = []
    needed: list[str] = []
    for name, where in found.items():
        if name in defined:
            raise ScaffoldError(
                f"{relative(module_path, root)} already defines {name!r}; choose another --to."
            )
        notebook, cell, definition = where[_kept(name, where, kept)]
        start, end = _span(cell, definition)
        body = "\n".join(cell.source.split("\n")[start:end]).rstrip() + "\n"
        if blank_magics(body) != body:
            raise ScaffoldError(
                f"{name!r} in {notebook.rel} (cell {cell.index + 1}) uses IPython magics or "
                "shell escapes; a module cannot, so rewrite them in Python first."
            )
        for free in sorted(_free_names(body) - _BUILTINS - set(names) - defined):
            if free in notebook.imports:
                needed.append(notebook.imports[free])
            elif free in notebook.defined:
                raise ScaffoldError(
                    f"{name!r} in {notebook.rel} calls {free!r}, defined in the notebook; "
                    f"extract both at once (scaffold extract {name} {free})."
                )
            elif free in notebook.assigned:
                raise ScaffoldError(
                    f"{name!r} in {notebook.rel} reads the notebook global {free!r}; pass it "
                    f"as a parameter of {name!r}, then extract again."
                )
            else:
                star = " (it may come from a `import *`)" if notebook.star else ""
                raise ScaffoldError(
                    f"{name!r} in {notebook.rel} uses {free!r}, which the notebook neither "
                    f"imports nor defines{star}; import it explicitly, then extract again."
                )
        bodies.append(body)
    writes: list[Write] = []
    values = {"title": to.replace("_", " ").capitalize(), "package": package.name, "name": to}
    if existing is None:
        test = root / "tests" / f"test_{to}.py"
        for taken in (package.folder / to, test):
            if taken.exists():
                raise ScaffoldError(f"{relative(taken, root)} already exists; choose another --to.")
        base = MODULE.format(**values)
    else:
        base = existing
    text = _module_imports(base, needed, package.name).rstrip("\n") + "\n"
    for body in bodies:
        text += "\n\n" + body
    try:
        compile(text, str(module_path), "exec")
    except SyntaxError as error:
        raise ScaffoldError(
            f"the module would not compile ({error.msg}, line {error.lineno}); nothing written."
        ) from None
    writes.append(Write(module_path, text, create=existing is None))
    if existing is None:
        writes.append(Write(root / "tests" / f"test_{to}.py", TEST.format(**values)))
    diff = list(
        difflib.unified_diff(
            (existing or "").splitlines(keepends=True),
            text.splitlines(keepends=True),
            "/dev/null" if existing is None else f"a/{relative(module_path, root)}",
            f"b/{relative(module_path, root)}",
        )
    )
    changed = _rewrite(notebooks, found, f"{package.name}.{to}", diff)
    writes.extend(
        Write(notebook.path, dumped(notebook.text, notebook.data), create=False)
        for notebook in changed
    )
    extraction = Extraction(
        changes(writes, root), "".join(diff), [n.path for n in changed], f"{package.name}.{to}"
    )
    return writes, extraction


def _top_level(text: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _rewrite(
    notebooks: list[_Notebook],
    found: dict[str, list[tuple[_Notebook, _Cell, Definition]]],
    module: str,
    diff: list[str],
) -> list[_Notebook]:
    """Replace the definitions in their cells by an import; return the changed notebooks."""
    spans: dict[tuple[str, int], list[tuple[int, int, str]]] = {}
    for where in found.values():
        for notebook, cell, definition in where:
            start, end = _span(cell, definition)
            spans.setdefault((notebook.rel, cell.index), []).append((start, end, definition.name))
    changed = []
    for notebook in notebooks:
        touched = False
        for cell in notebook.cells:
            cut = sorted(spans.get((notebook.rel, cell.index), []))
            if not cut:
                continue
            touched = True
            lines = cell.source.split("\n")
            names = ", ".join(sorted({name for _, _, name in cut}))
            statement = f"from {module} import {names}"
            kept: list[str] = []
            position = 0
            for number, (start, end, _) in enumerate(cut):
                between = lines[position:start]
                if number == 0 or any(line.strip() for line in between):
                    kept.extend(between)
                if number == 0:
                    kept.append(statement)
                position = end
            kept.extend(lines[position:])
            rest = [line for line in kept if line.strip() and line != statement]
            if not any(not line.lstrip().startswith("#") for line in rest):
                kept = [line for line in kept if line.strip().startswith("#")] + [statement]
            text = "\n".join(kept)
            if cell.source.endswith("\n") and not text.endswith("\n"):
                text += "\n"
            _set_source(notebook.data["cells"][cell.index], text)
            diff.extend(
                difflib.unified_diff(
                    cell.source.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"a/{notebook.rel} (cell {cell.index + 1})",
                    f"b/{notebook.rel} (cell {cell.index + 1})",
                )
            )
            if diff and not diff[-1].endswith("\n"):
                diff[-1] += "\n"
        if touched:
            changed.append(notebook)
    return changed


def extract(
    project: Project,
    names: Sequence[str],
    *,
    to: str = DEFAULT_MODULE,
    keep: Sequence[str] = (),
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
        return plan_extract(project, names, to=to, keep=keep, cwd=cwd)[1]
    root = project.root
    with project_lock(root):
        writes, extraction = plan_extract(project, names, to=to, keep=keep, cwd=cwd)
        before = {w.path: w.path.read_text(encoding="utf-8") for w in writes if not w.create}
        apply(writes)
        if verify:
            try:
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
    from scaffold import interpreters
    from scaffold import run as runner
    from scaffold.pipeline import PARAMS_DIR

    interpreter = interpreters.find_interpreter(project, python)
    interpreters.check_interpreter(interpreter, project)
    with tempfile.TemporaryDirectory(prefix="scaffold-extract-") as folder:
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
