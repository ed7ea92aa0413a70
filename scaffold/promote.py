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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from scaffold.check.notebook import blank_magics
from scaffold.errors import ScaffoldError
from scaffold.files import Change, Write, apply, changes, project_lock, relative, scratch_folder
from scaffold.ipynb import (
    KERNELSPEC,
    LANGUAGE_INFO,
    PARAMETERS_HEADER,
    code_deps,
    dumped,
    next_number,
)
from scaffold.layout import DATA_DIR, PARAMS_DIR, REPORTS_DIR, find_package
from scaffold.parameters import TAG, Parameter, parse
from scaffold.parameters import cell_source as parameters_cell
from scaffold.project import Project

NOTEBOOK_NAME = re.compile(r"^\d+\.\d+-[a-z0-9]+-[a-z0-9]+(?:-[a-z0-9]+)*$")
_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` did: status lines, the parameters, a proposed conventional name, and
    the literals it did not lift: suggestions, and those that are never parameters (why)."""

    changes: list[Change]
    parameters: list[Parameter]
    proposed_name: str | None
    suggestions: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # "color (a style argument)"


@dataclass(frozen=True)
class _Assignment:
    cell: int  # 0-based index in the notebook's cells
    start: int  # 0-based line range in the cell
    end: int
    parameter: Parameter
    replacement: str | None = None  # what stays in the cell (a path built from the parameter)


_PATHS = {"Path", "PurePath", "PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"}


def _source(cell: dict[str, Any]) -> str:
    value = cell.get("source", "")
    return "".join(value) if isinstance(value, list) else str(value)


def _literal(node: ast.expr) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None
    return value if type(value) in _TYPES else None


def _path(node: ast.expr) -> tuple[str, str] | None:
    """A path built from string literals (``Path("data") / "raw.csv"``): the path as a string
    and the class that built it, as written (``Path``, ``pathlib.Path``)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left = _path(node.left)
        right = node.right
        if left is None or not (isinstance(right, ast.Constant) and isinstance(right.value, str)):
            return None
        return str(PurePosixPath(left[0], right.value)), left[1]
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
    parts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if callee not in _PATHS or len(parts) != len(node.args):
        return None
    return str(PurePosixPath(*parts)), ast.unparse(node.func)


def _annotation(node: ast.stmt, value: Any) -> str:
    """The parameter's type: the one written, if it is a plain one that fits, else the value's."""
    written = node.annotation if isinstance(node, ast.AnnAssign) else None
    fits = {_TYPES[type(value)], *(["float"] if type(value) is int else [])}
    if isinstance(written, ast.Name) and written.id in fits:
        return written.id
    return _TYPES[type(value)]


def _targets(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        return [node.target]
    return []


def _candidate(node: ast.stmt, targets: list[ast.expr]) -> tuple[Parameter, str | None] | None:
    """The parameter a top-level ``name = literal`` (or a path of literals) makes, and what
    stays in its cell (``name = Path(name)`` for a path)."""
    value = getattr(node, "value", None)
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or value is None:
        return None
    if len(targets) != 1 or not isinstance(targets[0], ast.Name):
        return None
    name = targets[0].id
    literal = _literal(value)
    if literal is not None:
        return Parameter(name, _annotation(node, literal), literal), None
    path = _path(value)
    if path is None:
        return None
    return Parameter(name, "str", path[0]), f"{name} = {path[1]}({name})"


def _code_trees(cells: list[Any]) -> Iterator[tuple[int, ast.Module]]:
    """Each code cell's index and syntax tree (magics blanked); broken cells are skipped."""
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        try:
            yield index, ast.parse(blank_magics(_source(cell)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue


def _assignments(cells: list[Any]) -> tuple[list[_Assignment], set[str], int]:
    """Literal top-level assignments, every top-level name, and the cell after the imports."""
    found: list[_Assignment] = []
    every: dict[str, int] = {}
    after_imports = 0
    for index, tree in _code_trees(cells):
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                after_imports = index + 1
            targets = _targets(node)
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        every[name.id] = every.get(name.id, 0) + 1
            made = _candidate(node, targets)
            if made is not None:
                end = node.end_lineno or node.lineno
                found.append(_Assignment(index, node.lineno - 1, end, *made))
    single = [a for a in found if every[a.parameter.name] == 1]  # never reassigned
    return single, set(every), after_imports


# -- ranking: the analysis's inputs are lifted, cosmetics and accumulators never -------------

# Words in a name that mark an input of the analysis: data paths, sizes, seeds, thresholds,
# model settings (matched against the name's parts: ``TEST_SIZE`` -> test, size).
_INPUT_WORDS = {
    *("path", "file", "dir", "folder", "url", "uri", "input", "output", "data", "dataset"),
    *("raw", "table", "source", "bucket", "query", "sheet"),
    *("size", "sizes", "n", "num", "number", "count", "samples", "rows", "limit", "max", "min"),
    *("batch", "epochs", "epoch", "iterations", "iter", "steps", "window", "frac", "fraction"),
    *("split", "ratio", "folds", "k", "top", "sample", "length", "days", "horizon", "lag"),
    *("seed", "random", "state", "rng"),
    *("threshold", "cutoff", "tol", "tolerance", "level", "confidence", "significance", "p"),
    *("rate", "lr", "learning", "alpha", "beta", "gamma", "lambda", "c", "l1", "l2", "penalty"),
    *("depth", "estimators", "components", "clusters", "neighbors", "hidden", "layers"),
    *("dropout", "momentum", "kernel", "solver", "model", "features", "target", "degree"),
    *("regularization", "weight", "decay", "units", "leaves", "bins", "test", "train"),
}
_DATA_SUFFIXES = (
    *(".csv", ".tsv", ".parquet", ".json", ".xlsx", ".xls", ".pkl", ".pickle"),
    *(".feather", ".h5", ".hdf5", ".zip", ".gz", ".txt", ".npy", ".npz", ".db"),
)
# Keyword arguments and names that only style a figure or a table.
_STYLE = {
    *("color", "colour", "colors", "c", "cmap", "palette", "alpha", "marker", "markersize"),
    *("linestyle", "ls", "linewidth", "lw", "edgecolor", "facecolor", "figsize", "dpi"),
    *("fontsize", "fontweight", "title", "xlabel", "ylabel", "label", "labels", "legend"),
    *("style", "s", "hue", "orient", "width", "height", "aspect", "rotation", "fmt", "format"),
    *("grid", "theme", "template", "filename", "fname", "bbox_inches", "ha", "va", "zorder"),
}
_STYLE_NAMES = _STYLE - {"alpha", "c", "s", "label", "labels", "width", "height", "format"}
_STYLE_CALLS = {"savefig", "set_title", "title", "suptitle", "xlabel", "ylabel", "legend"}
_STYLE_CALLS |= {"set_xlabel", "set_ylabel", "text", "annotate", "set_style", "set_theme"}
_MUTATORS = {"append", "extend", "insert", "update", "add", "pop", "remove", "clear"}
_MUTATORS |= {"setdefault", "discard", "sort", "reverse", "popitem", "appendleft"}


@dataclass
class _Use:
    """How the notebook uses a name: mutated in place, or only styling figures."""

    mutated: str | None = None  # how, e.g. ".append"
    style: int = 0  # uses as a style argument
    other: int = 0  # every other read


def _uses(cells: list[Any]) -> dict[str, _Use]:
    """For every name the code reads: whether it is mutated and whether it only styles."""
    found: dict[str, _Use] = {}
    for _, tree in _code_trees(cells):
        styled: set[int] = set()
        for node in ast.walk(tree):
            _note_use(node, found, styled)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                use = found.setdefault(node.id, _Use())
                if id(node) in styled:
                    use.style += 1
                else:
                    use.other += 1
    return found


def _note_use(node: ast.AST, found: dict[str, _Use], styled: set[int]) -> None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        if isinstance(owner, ast.Name) and node.func.attr in _MUTATORS:
            found.setdefault(owner.id, _Use()).mutated = f".{node.func.attr}"
        if node.func.attr in _STYLE_CALLS:
            styled.update(id(a) for a in node.args if isinstance(a, ast.Name))
    if isinstance(node, ast.Call):
        styled.update(
            id(k.value) for k in node.keywords if k.arg in _STYLE and isinstance(k.value, ast.Name)
        )
    if (
        isinstance(node, (ast.Subscript, ast.Attribute))
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
    ):
        found.setdefault(node.value.id, _Use()).mutated = "item assignment"


def _words(name: str) -> set[str]:
    parts = re.split(r"_+|(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", name)
    return {name.lower(), *(w.lower() for w in parts if w)}


def _never(assignment: _Assignment, use: _Use | None) -> str | None:
    """Why this literal is never a parameter, or None."""
    name, value = assignment.parameter.name, assignment.parameter.value
    if use is not None and use.mutated:
        return f"filled later ({use.mutated})"
    if isinstance(value, (list, dict)) and not value:
        return "an empty container, filled later"
    if name.lower() in _STYLE_NAMES or (use is not None and use.style and not use.other):
        return "a style argument"
    return None


def _clear(assignment: _Assignment) -> bool:
    """Whether the literal is clearly an input: a data path, or an input's name."""
    value = assignment.parameter.value
    if isinstance(value, str) and (
        "/" in value or value.lower().endswith(_DATA_SUFFIXES) or assignment.replacement
    ):
        return True
    return bool(_words(assignment.parameter.name) & _INPUT_WORDS)


def _rank(
    cells: list[Any], assignments: list[_Assignment]
) -> tuple[list[_Assignment], list[str], list[str]]:
    """The clear parameters, the suggestions, and those never lifted (with why)."""
    uses = _uses(cells)
    clear, suggestions, left = [], [], []
    for assignment in assignments:
        name = assignment.parameter.name
        why = _never(assignment, uses.get(name))
        if why:
            left.append(f"{name} ({why})")
        elif _clear(assignment):
            clear.append(assignment)
        else:
            suggestions.append(assignment.parameter.line())
    return clear, suggestions, left


# -- checking --------------------------------------------------------------------------------


def _refuse_production(root: Path, path: Path) -> None:
    from scaffold import pipeline

    rel, stem = relative(path, root), path.stem
    registered = {stage.notebook for stage in pipeline.pipeline_notebooks(root)}
    if rel in registered or (root / PARAMS_DIR / f"{stem}.yaml").exists():
        raise ScaffoldError(
            f"{rel} is already a production notebook (it has a dvc.yaml stage or "
            f"params/{stem}.yaml); nothing to promote."
        )


def _target(root: Path, path: Path, proposed: str | None, rename: bool) -> Path:
    """Where the notebook goes: its own path, or its conventional name with ``rename``."""
    if rename and proposed:
        target = path.with_name(f"{proposed}.ipynb")
        if target.exists():
            raise ScaffoldError(f"{relative(target, root)} already exists; rename it by hand.")
        return target
    if rename and not NOTEBOOK_NAME.match(path.stem):
        raise ScaffoldError("cannot propose a name (no initials known); set git user.name.")
    return path


def _load(path: Path, rel: str) -> tuple[str, dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ScaffoldError(f"{rel} is not valid JSON; restore it from git.") from None
    if not isinstance(data, dict):
        data = {}
    if not isinstance(data.get("cells", []), list):
        raise ScaffoldError(f"{rel} is not a Jupyter notebook (no list of cells); fix it.")
    metadata = data.get("metadata")
    kernelspec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    language = kernelspec.get("language", "python") if isinstance(kernelspec, dict) else "python"
    if str(language).lower() != "python":
        raise ScaffoldError(
            f"{rel} is a {language} notebook; scaffold promote writes Python parameters."
        )
    return text, data


def _chosen(
    assignments: list[_Assignment],
    names: Sequence[str],
    every: set[str],
    rel: str,
    cells: list[Any] | None = None,
) -> tuple[list[_Assignment], list[str], list[str]]:
    """The assignments to turn into parameters (exactly ``names``, which win, or the clear
    ones of the ranking), the suggestions, and the literals never lifted."""
    if names:
        by_name = {a.parameter.name: a for a in assignments}
        for name in names:
            if name not in by_name:
                _refuse_param(name, name in every, rel)
        return [by_name[name] for name in dict.fromkeys(names)], [], []
    if not assignments:
        raise ScaffoldError(
            f"{rel} has no top-level assignments of literal values to turn into parameters; "
            "name them with --param NAME."
        )
    clear, suggestions, left = _rank(cells or [], assignments)
    if not clear:
        shown = ", ".join(line.split(":")[0] for line in suggestions) or "none"
        raise ScaffoldError(
            f"{rel} has no literal that is clearly an input (a data path, size, seed, "
            f"threshold or model setting); candidates: {shown}; name them with --param NAME."
        )
    return clear, suggestions, left


def _refuse_param(name: str, assigned: bool, rel: str) -> None:
    why = (
        "is assigned more than once or not to a literal value"
        if assigned
        else "is not a top-level assignment"
    )
    raise ScaffoldError(f"--param {name}: {name!r} {why} in {rel}.")


# -- writing ---------------------------------------------------------------------------------


def _cut(cells: list[Any], assignments: list[_Assignment]) -> list[int]:
    """Take the assignments out of their cells; return the cells left empty."""
    cut: dict[int, list[_Assignment]] = {}
    for assignment in assignments:
        cut.setdefault(assignment.cell, []).append(assignment)
    emptied = []
    for index, here in cut.items():
        lines = _source(cells[index]).split("\n")
        for one in sorted(here, key=lambda a: a.start, reverse=True):
            lines[one.start : one.end] = [one.replacement] if one.replacement else []
        remaining = "\n".join(lines)
        if not remaining.strip():
            emptied.append(index)
        source = cells[index]["source"]
        cells[index]["source"] = (
            remaining.splitlines(keepends=True) if isinstance(source, list) else remaining
        )
    return emptied


def _parameters_cell(cells: list[Any], parameters: list[Parameter], stem: str) -> dict[str, Any]:
    """A code cell tagged ``parameters``, typed as ``scaffold add notebook`` writes it."""

    ids = {c.get("id") for c in cells if isinstance(c, dict)}
    cell_id = next(
        i for i in ("parameters", *(f"parameters-{n}" for n in range(1, 99))) if i not in ids
    )
    source = "\n".join([PARAMETERS_HEADER.format(stem=stem), *(p.line() for p in parameters)])
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {"tags": [TAG]},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def _parametrise(
    data: dict[str, Any], names: Sequence[str], rel: str, stem: str
) -> tuple[list[Parameter], list[str], list[str]]:
    """Move the chosen assignments of ``data``'s cells into a new parameters cell; return
    the parameters, the suggestions and the literals left (see ``_rank``)."""
    cells: list[Any] = data.get("cells", [])
    assignments, every, after_imports = _assignments(cells)
    assignments, suggestions, left = _chosen(assignments, names, every, rel, cells)
    parameters = [a.parameter for a in assignments]
    emptied = _cut(cells, assignments)
    position = min([after_imports, *(a.cell for a in assignments)])  # before their cells
    cells.insert(position, _parameters_cell(cells, parameters, stem))
    for index in sorted(emptied, reverse=True):
        del cells[index + (1 if index >= position else 0)]
    return parameters, suggestions, left


def _add_to_existing(
    data: dict[str, Any], names: Sequence[str], parameters: list[Parameter], rel: str
) -> list[Parameter]:
    """Move the ``--param`` assignments not yet in the notebook's parameters cell to its end;
    return the parameters added."""
    have = {p.name for p in parameters}
    wanted = [name for name in names if name not in have]
    if not wanted:
        return []
    cells: list[Any] = data.get("cells", [])
    assignments, every, _ = _assignments(cells)
    chosen = _chosen(assignments, wanted, every, rel)[0]
    target = next(c for c in cells if isinstance(c, dict) and TAG in _tags(c))
    emptied = _cut(cells, chosen)
    added = [a.parameter.line() for a in chosen]
    source = _source(target).rstrip("\n")
    text = "\n".join([source, *added] if source else added)
    kept = target["source"]
    target["source"] = text.splitlines(keepends=True) if isinstance(kept, list) else text
    for index in sorted(emptied, reverse=True):
        del cells[index]
    return [a.parameter for a in chosen]


def _tags(cell: dict[str, Any]) -> list[str]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def _with_kernel(data: dict[str, Any]) -> bool:
    """Give the notebook Python kernel metadata if it has none (papermill needs a language);
    say whether it had to."""

    metadata = data.setdefault("metadata", {})
    missing = "kernelspec" not in metadata or "language_info" not in metadata
    metadata.setdefault("kernelspec", dict(KERNELSPEC))
    metadata.setdefault("language_info", dict(LANGUAGE_INFO))
    return missing


def plan_promote(
    project: Project,
    notebook: str,
    names: Sequence[str] = (),
    cwd: Path | None = None,
    rename: bool = False,
) -> tuple[list[Write], Promotion, Path]:
    """The writes that make ``notebook`` a production notebook; nothing written."""
    from scaffold import pipeline
    from scaffold.execution import resolve_notebook

    root = project.root
    path = resolve_notebook(root, notebook, cwd or Path.cwd())
    rel = relative(path, root)
    _refuse_production(root, path)
    proposed = None if NOTEBOOK_NAME.match(path.stem) else _proposal(project, path.stem)
    target = _target(root, path, proposed, rename)
    text, data = _load(path, rel)
    existing = parameters_cell(data.get("cells", []))
    suggestions: list[str] = []
    left: list[str] = []
    if existing is not None:  # keep its parameters cell, add the --param names, register it
        parameters = parse(existing, f"the parameters cell of {rel}")
        added = _add_to_existing(data, names, parameters, rel)
        parameters += added
        changed = _with_kernel(data) or bool(added)
    else:
        parameters, suggestions, left = _parametrise(data, names, rel, target.stem)
        _with_kernel(data)
        changed = True
    own = _renamed(dumped(text, data) if changed else text, root, path, target)
    writes = [Write(target, own, create=target != path)] if changed or target != path else []
    writes += pipeline.production_writes(
        root, target.stem, parameters, code_deps(root, find_package(project))
    )
    writes += _references(root, path, target)
    shown = None if target != path else proposed
    promotion = Promotion(changes(writes, root), parameters, shown, suggestions, left)
    return writes, promotion, path


_SKIPPED = {".git", ".dvc", ".venv", "venv", DATA_DIR, REPORTS_DIR, "node_modules"}
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
        try:  # a Ctrl-C at any point from here on leaves the project as it was
            apply(writes)
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
    from scaffold import execution as runner
    from scaffold import interpreters

    interpreter = interpreters.find_interpreter(project, python)
    interpreters.check_interpreter(interpreter, project)
    with scratch_folder("scaffold-promote-") as folder:
        params = project.root / PARAMS_DIR / f"{path.stem}.yaml"
        plan = runner.RunPlan(path, Path(folder) / path.name, params)
        try:
            runner.execute(plan, interpreter, project.root)
        except ScaffoldError as error:
            failure = str(error).split(" The partial output is in ")[0]
            raise ScaffoldError(f"{failure} The promotion is undone.") from None
