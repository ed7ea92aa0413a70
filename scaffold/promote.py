"""``scaffold promote NOTEBOOK``: an exploratory notebook becomes a production one.

Its top-level literal assignments (or the ``--param`` names) move into a typed cell tagged
``parameters`` after the imports, written by ``parameters.Parameter.line`` as ``add notebook``
writes it; the parameters file and the ``dvc.yaml`` stage come from
``pipeline.production_writes``, the code ``add notebook --production`` uses. Then the notebook
runs once with papermill in the project's environment; if it fails, everything is undone.
"""

from __future__ import annotations

import ast
import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold.check.notebook import blank_magics
from scaffold.errors import ScaffoldError
from scaffold.extract import dumped
from scaffold.files import Change, Write, apply, changes, project_lock, relative
from scaffold.layout import find_package
from scaffold.parameters import TAG, Parameter, parse
from scaffold.parameters import cell_source as parameters_cell
from scaffold.project import Project

NOTEBOOK_NAME = re.compile(r"^\d+\.\d+-[a-z0-9]+-[a-z0-9]+(?:-[a-z0-9]+)*$")
_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` did: status lines, the parameters, a proposed conventional name."""

    changes: list[Change]
    parameters: list[Parameter]
    proposed_name: str | None


@dataclass(frozen=True)
class _Assignment:
    cell: int  # 0-based index in the notebook's cells
    start: int  # 0-based line range in the cell
    end: int
    parameter: Parameter


def _source(cell: dict[str, Any]) -> str:
    value = cell.get("source", "")
    return "".join(value) if isinstance(value, list) else str(value)


def _literal(node: ast.expr) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None
    return value if type(value) in _TYPES else None


def _assignments(cells: list[Any]) -> tuple[list[_Assignment], set[str], int]:
    """Literal top-level assignments, every top-level name, and the cell after the imports."""
    found: list[_Assignment] = []
    every: dict[str, int] = {}
    after_imports = 0
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(blank_magics(_source(cell)))
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                after_imports = index + 1
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, (ast.AnnAssign, ast.AugAssign))
                else []
            )
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        every[name.id] = every.get(name.id, 0) + 1
            value = getattr(node, "value", None)
            if (
                isinstance(node, (ast.Assign, ast.AnnAssign))
                and len(targets) == 1
                and isinstance(targets[0], ast.Name)
                and value is not None
                and _literal(value) is not None
            ):
                literal = _literal(value)
                parameter = Parameter(targets[0].id, _TYPES[type(literal)], literal)
                end = node.end_lineno or node.lineno
                found.append(_Assignment(index, node.lineno - 1, end, parameter))
    single = [a for a in found if every[a.parameter.name] == 1]  # never reassigned
    return single, set(every), after_imports


def plan_promote(
    project: Project,
    notebook: str,
    names: Sequence[str] = (),
    cwd: Path | None = None,
    rename: bool = False,
) -> tuple[list[Write], Promotion, Path]:
    """The writes that make ``notebook`` a production notebook; nothing written."""
    from scaffold import pipeline
    from scaffold.notebooks import PARAMETERS_HEADER, code_deps
    from scaffold.run import resolve_notebook

    root = project.root
    path = resolve_notebook(root, notebook, cwd or Path.cwd())
    rel, stem = relative(path, root), path.stem
    registered = {stage.notebook for stage in pipeline.pipeline_notebooks(root)}
    if rel in registered or (root / pipeline.PARAMS_DIR / f"{stem}.yaml").exists():
        raise ScaffoldError(
            f"{rel} is already a production notebook (it has a dvc.yaml stage or "
            f"params/{stem}.yaml); nothing to promote."
        )
    proposed = None if NOTEBOOK_NAME.match(stem) else _proposal(project, stem)
    target = path
    if rename and proposed:
        target = path.with_name(f"{proposed}.ipynb")
        if target.exists():
            raise ScaffoldError(f"{relative(target, root)} already exists; rename it by hand.")
    elif rename and not NOTEBOOK_NAME.match(stem):
        raise ScaffoldError("cannot propose a name (no initials known); set git user.name.")
    new_stem = target.stem
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        raise ScaffoldError(f"{rel} is not valid JSON; restore it from git.") from None
    cells: list[Any] = data.get("cells", []) if isinstance(data, dict) else []
    existing = parameters_cell(cells)
    if existing is not None:  # keep its parameters cell; only register it
        found = parse(existing, f"the parameters cell of {rel}")
        writes = [Write(target, _renamed(text, root, path, target))] if target != path else []
        writes += pipeline.production_writes(
            root, new_stem, found, code_deps(root, find_package(project))
        )
        writes += _references(root, path, target)
        shown = None if target != path else proposed
        return writes, Promotion(changes(writes, root), found, shown), path
    assignments, every, after_imports = _assignments(cells)
    if names:
        by_name = {a.parameter.name: a for a in assignments}
        for name in names:
            if name not in by_name:
                why = (
                    "is assigned more than once or not to a literal value"
                    if name in every
                    else "is not a top-level assignment"
                )
                raise ScaffoldError(f"--param {name}: {name!r} {why} in {rel}.")
        assignments = [by_name[name] for name in dict.fromkeys(names)]
    if not assignments:
        raise ScaffoldError(
            f"{rel} has no top-level assignments of literal values to turn into parameters; "
            "name them with --param NAME."
        )
    parameters = [a.parameter for a in assignments]
    cut: dict[int, list[tuple[int, int]]] = {}
    for assignment in assignments:
        cut.setdefault(assignment.cell, []).append((assignment.start, assignment.end))
    emptied = []
    for index, spans in cut.items():
        lines = _source(cells[index]).split("\n")
        for start, end in sorted(spans, reverse=True):
            del lines[start:end]
        remaining = "\n".join(lines)
        if not remaining.strip():
            emptied.append(index)
        source = cells[index]["source"]
        cells[index]["source"] = (
            remaining.splitlines(keepends=True) if isinstance(source, list) else remaining
        )
    position = min([after_imports, *cut])  # before any cell that used to assign them
    ids = {c.get("id") for c in cells if isinstance(c, dict)}
    cell_id = next(
        i for i in ("parameters", *(f"parameters-{n}" for n in range(1, 99))) if i not in ids
    )
    source = "\n".join([PARAMETERS_HEADER.format(stem=new_stem), *(p.line() for p in parameters)])
    new_cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {"tags": [TAG]},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }
    cells.insert(position, new_cell)
    for index in sorted(emptied, reverse=True):
        del cells[index + (1 if index >= position else 0)]
    own = _renamed(dumped(text, data), root, path, target)
    writes = [Write(target, own, create=target != path)]
    writes += pipeline.production_writes(
        root, new_stem, parameters, code_deps(root, find_package(project))
    )
    writes += _references(root, path, target)
    shown = None if target != path else proposed
    return writes, Promotion(changes(writes, root), parameters, shown), path


_SKIPPED = {".git", ".dvc", ".venv", "venv", "data", "reports", "node_modules"}
_TEXT = {".md", ".ipynb", ".py", ".yaml", ".yml", ".toml", ".txt", ".cfg"}


def _references(root: Path, old: Path, new: Path) -> list[Write]:
    """Updates of the project's text files that name ``old``'s file name (after a rename)."""
    if old == new:
        return []
    import os

    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED and not d.startswith(".")]
        for name in files:
            path = Path(folder, name)
            if path == old or (path.suffix not in _TEXT and name != "Makefile"):
                continue
            try:
                content = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if old.name in content:
                found.append(Write(path, content.replace(old.name, new.name), create=False))
    return found


def _renamed(text: str, root: Path, old: Path, new: Path) -> str:
    """A renamed notebook's own text, its links to itself (the Colab badge) following it."""
    from urllib.parse import quote

    if old == new:
        return text
    before, after = relative(old, root), relative(new, root)
    for shown in dict.fromkeys([quote(before), before]):
        text = text.replace(shown, quote(after))
    return text


def _proposal(project: Project, stem: str) -> str | None:
    from slugify import slugify

    from scaffold.layout import default_initials
    from scaffold.notebooks import next_number

    try:
        initials = default_initials(project)
    except ScaffoldError:
        return None
    phase, seq = next_number(project.root)
    words = re.sub(r"^[\d.\-_ ]+", "", stem) or "notebook"
    return f"{phase}.{seq}-{initials}-{slugify(words)}"


def promote(
    project: Project,
    notebook: str,
    names: Sequence[str] = (),
    *,
    run: bool = True,
    rename: bool = False,
    python: Path | None = None,
    cwd: Path | None = None,
) -> Promotion:
    """Make ``notebook`` a production notebook; run it once unless ``run`` is False.

    With ``rename`` the notebook takes its conventional name and references are updated.
    """
    root = project.root
    with project_lock(root):
        writes, promotion, path = plan_promote(project, notebook, names, cwd, rename)
        before = {w.path: w.path.read_text(encoding="utf-8") for w in writes if not w.create}
        original = path.read_text(encoding="utf-8")
        target = writes[0].path if writes and writes[0].path.suffix == ".ipynb" else path
        apply(writes)
        try:
            if target != path:
                path.unlink()
            if run:
                _run(project, target, python)
        except BaseException:
            for write in writes:
                if write.create:
                    write.path.unlink(missing_ok=True)
            apply([Write(p, t, create=False) for p, t in {**before, path: original}.items()])
            raise
    return promotion


def _run(project: Project, path: Path, python: Path | None) -> None:
    from scaffold import interpreters
    from scaffold import run as runner
    from scaffold.pipeline import PARAMS_DIR

    interpreter = interpreters.find_interpreter(project, python)
    interpreters.check_interpreter(interpreter, project)
    with tempfile.TemporaryDirectory(prefix="scaffold-promote-") as folder:
        params = project.root / PARAMS_DIR / f"{path.stem}.yaml"
        plan = runner.RunPlan(path, Path(folder) / path.name, params)
        try:
            runner.execute(plan, interpreter, project.root)
        except ScaffoldError as error:
            failure = str(error).split(" The partial output is in ")[0]
            raise ScaffoldError(f"{failure} The promotion is undone.") from None
