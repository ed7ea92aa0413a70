"""Reading and editing notebook code: the paths it names, the files it reads and writes, its
imports; rewriting paths to the project's config paths and imports to the package.

Cells are parsed as ``scaffold check`` parses them (magics blanked, same line numbers), and
edited in place: only the text of a literal or an import statement changes.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import posixpath
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold.check.duplicates import Definition, definitions
from scaffold.check.notebook import ABSOLUTE, blank_magics

READERS = {
    "read_csv", "read_table", "read_excel", "read_parquet", "read_json", "read_feather",
    "read_pickle", "read_hdf", "read_stata", "read_sas", "read_spss", "read_fwf", "read_orc",
    "read_xml", "loadtxt", "genfromtxt", "load", "imread", "read_file", "ExcelFile",
    "load_workbook", "connect", "read_sql", "fromfile",
}  # fmt: skip
WRITERS = {
    "to_csv", "to_parquet", "to_excel", "to_json", "to_feather", "to_pickle", "to_hdf",
    "to_stata", "to_orc", "to_xml", "savefig", "savetxt", "save", "savez", "imsave", "dump",
    "to_file", "write_image", "write_html", "tofile",
}  # fmt: skip
CONFIG_DIRS = {
    "data/raw": "RAW_DATA_DIR",
    "data/processed": "PROCESSED_DATA_DIR",
    "data/interim": "INTERIM_DATA_DIR",
    "data/external": "EXTERNAL_DATA_DIR",
    "reports/figures": "FIGURES_DIR",
    "models": "MODELS_DIR",
    "": "PROJ_ROOT",
}
_GLOB = set("*?[")


@dataclass(frozen=True)
class Literal:
    """A one-line string literal in a code cell."""

    cell: int  # index in the notebook's cells
    line: int  # 1-based, in the cell
    col: int  # UTF-8 byte offsets, as ast gives them
    end_col: int
    value: str
    argument: bool  # a direct argument of a call (a Path fits there)
    access: str = ""  # "read" / "write" when the call reads or writes a file
    inner: bool = False  # the folder an f-string starts with (f"data/{name}.csv": 'data/')


@dataclass
class Code:
    """What one notebook's (or module's) code holds."""

    literals: list[Literal] = field(default_factory=list)
    imports: list[tuple[int, ast.Import | ast.ImportFrom]] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)  # top-level import names
    definitions: list[Definition] = field(default_factory=list)  # top-level defs and classes
    unparsed: int = 0  # cells that are not valid Python


def load(path: Path) -> dict[str, Any] | None:
    """A notebook's JSON, a version-3 one (worksheets, 2011-2015) upgraded to version 4 as
    Jupyter does when it saves one (None when it is not a readable notebook)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("nbformat") == 3 and "worksheets" in data:
        data = _upgrade(data)
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None
    return data


def _upgrade(data: dict[str, Any]) -> dict[str, Any] | None:
    """A version-3 notebook as version 4 (nbformat's own conversion)."""
    import nbformat

    try:
        upgraded = nbformat.convert(nbformat.from_dict(data), 4)
    except Exception:  # nbformat raises many kinds on a malformed notebook
        return None
    plain: dict[str, Any] = json.loads(json.dumps(upgraded))
    return plain


def dump(notebook: dict[str, Any]) -> str:
    """A notebook as Jupyter writes it."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


RAISES = "raises-exception"  # the cell tag Jupyter's runners (nbclient) run on past


def expected_errors(notebook: dict[str, Any]) -> list[int]:
    """The cells (indices) that raise on purpose: the committed notebook shows the cell's
    error, and a later cell ran after it (a higher execution count)."""
    cells = [cell for cell in notebook.get("cells", []) if isinstance(cell, dict)]
    counts = [cell.get("execution_count") for cell in cells]
    found = []
    for index, cell in enumerate(cells):
        count = counts[index]
        if not _shows_error(cell) or not isinstance(count, int):
            continue
        tags = (cell.get("metadata") or {}).get("tags") or []
        later = any(isinstance(c, int) and c > count for c in counts[index + 1 :])
        if later and RAISES not in tags:
            found.append(index)
    return found


def _shows_error(cell: dict[str, Any]) -> bool:
    outputs = cell.get("outputs") or []
    return any(isinstance(o, dict) and o.get("output_type") == "error" for o in outputs)


def source_of(cell: Any) -> str:
    """A cell's source as one string."""
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    return "".join(source) if isinstance(source, list) else str(source)


def code_cells(notebook: dict[str, Any]) -> Iterator[tuple[int, str]]:
    """``(index, source)`` of each code cell."""
    for index, cell in enumerate(notebook.get("cells", [])):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            yield index, source_of(cell)


def parse(source: str) -> ast.Module | None:
    """The cell's code as Python (magics blanked); None when it is not Python."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(blank_magics(source))
        except (SyntaxError, ValueError):
            return None


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _access(call: ast.Call, node: ast.AST) -> str:
    """ "read", "write" or "" for a literal that is a path argument of ``call``."""
    name = _call_name(call)
    if name == "open":
        mode = call.args[1] if len(call.args) > 1 else None
        for keyword in call.keywords:
            if keyword.arg == "mode":
                mode = keyword.value
        text = mode.value if isinstance(mode, ast.Constant) and isinstance(mode.value, str) else ""
        return "write" if set(text) & set("wax") else "read"
    if name in READERS:
        return "read"
    if name in WRITERS:
        return "write"
    return ""


def analyse_source(code: Code, cell: int, source: str) -> None:
    """Add one cell's (or module's) literals and imports to ``code``."""
    tree = parse(source)
    if tree is None:
        code.unparsed += 1
        return
    code.definitions += definitions(tree, "", cell)
    inside_fstring: set[int] = set()
    lines = source.split("\n")
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside_fstring.update(id(value) for value in node.values)
            prefix = _fstring_folder(cell, node, lines)
            if prefix is not None:
                code.literals.append(prefix)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            code.imports.append((cell, node))
            _modules(code, node)
        elif isinstance(node, ast.Call):
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                if _is_text(argument):
                    code.literals.append(
                        _literal(cell, argument, argument=True, access=_access(node, argument))
                    )
                    inside_fstring.add(id(argument))
    for node in ast.walk(tree):
        if _is_text(node) and id(node) not in inside_fstring:
            code.literals.append(_literal(cell, node, argument=False, access=""))


_FSTRING_START = re.compile(r"[rRfF]{1,2}('''|\"\"\"|'|\")")


def _fstring_folder(cell: int, node: ast.JoinedStr, lines: list[str]) -> Literal | None:
    """The folder a one-line f-string starts with, placed inside its quotes (``data/`` of
    ``f"data/{name}.csv"``), as a literal to rewrite; None when it starts otherwise."""
    first = node.values[0] if node.values else None
    if node.lineno != node.end_lineno or not isinstance(first, ast.Constant):
        return None
    value = first.value if isinstance(first.value, str) else ""
    folder = value[: value.rfind("/") + 1]
    if not folder or "{" in folder or "\\" in folder or len(node.values) < 2:
        return None
    data = lines[node.lineno - 1].encode("utf-8")
    text = data[node.col_offset : node.end_col_offset].decode("utf-8", "replace")
    start = _FSTRING_START.match(text)
    if (
        start is None
        or "f" not in start.group().lower()
        or not text[start.end() :].startswith(folder)
    ):
        return None
    col = node.col_offset + start.end()
    end = col + len(folder.encode("utf-8"))
    return Literal(cell, node.lineno, col, end, folder, False, "", inner=True)


def _is_text(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.lineno == node.end_lineno
        and 0 < len(node.value) < 300
        and "\n" not in node.value
    )


def _literal(cell: int, node: Any, *, argument: bool, access: str) -> Literal:
    return Literal(
        cell, node.lineno, node.col_offset, node.end_col_offset, node.value, argument, access
    )


def _modules(code: Code, node: ast.Import | ast.ImportFrom) -> None:
    if isinstance(node, ast.Import):
        code.modules.update(alias.name.split(".")[0] for alias in node.names)
    elif node.module and not node.level:
        code.modules.add(node.module.split(".")[0])


def analyse_notebook(notebook: dict[str, Any]) -> Code:
    """The literals and imports of every code cell."""
    code = Code()
    for index, source in code_cells(notebook):
        analyse_source(code, index, source)
    return code


def empty_glob(notebook: Path, root: Path, upto: int = -1) -> str:
    """A literal glob pattern in the code cells of ``notebook`` (up to cell ``upto``; -1:
    all) that matches no file, seen from the notebook's folder, where it runs: its data was
    never committed (``glob("../data/statuses/*.csv")`` under a git-ignored folder). ""
    when every pattern matches something. Only patterns inside ``root`` are judged (never
    a walk of the machine's disks)."""
    data = load(notebook)
    up = os.path.relpath(root, notebook.parent)  # the config paths, seen from the notebook
    for index, source in code_cells(data) if data is not None else ():
        if 0 <= upto < index:
            break
        tree = parse(source)
        for node in ast.walk(tree) if tree is not None else ():
            pattern = _glob_pattern(node, up) if isinstance(node, ast.Call) else None
            if (
                pattern
                and _inside(notebook.parent, pattern, root)
                and not glob.glob(pattern, root_dir=notebook.parent, recursive=True)
            ):
                return pattern
    return ""


def _inside(folder: Path, pattern: str, root: Path) -> bool:
    """True when the fixed part of a relative glob ``pattern`` (before its first wildcard),
    seen from ``folder``, stays inside ``root``."""
    fixed = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    if is_absolute(pattern) or pattern.startswith(("/", "~")):
        return False
    base = Path(os.path.normpath(folder / fixed))
    return base.is_relative_to(root.resolve()) or base.is_relative_to(root)


def _glob_pattern(call: ast.Call, up: str = ".") -> str | None:
    """The pattern of ``glob("p")``, ``glob.iglob("p")`` or ``Path("folder").glob("p")``
    with literal text, or with a config path adopt wrote (``f"{RAW_DATA_DIR}/x/*.csv"``,
    the project's root being ``up`` from the notebook); None for any other call."""
    name = _call_name(call)
    pattern = (_text_of(call.args[0]) or _config_text(call.args[0], up)) if call.args else None
    if name not in ("glob", "iglob", "rglob") or pattern is None:
        return None
    owner = call.func.value if isinstance(call.func, ast.Attribute) else None
    if isinstance(owner, ast.Call) and _call_name(owner) == "Path":
        folder = _text_of(owner.args[0]) if len(owner.args) == 1 else None
        if folder is None:
            return None
        pattern = posixpath.join(folder, ("**/" if name == "rglob" else "") + pattern)
    return pattern if _GLOB & set(pattern) else None


def _config_text(node: ast.AST, up: str) -> str | None:
    """``f"{RAW_DATA_DIR}/names/*.txt"`` as a path from the notebook (``../data/raw/...``)."""
    if not isinstance(node, ast.JoinedStr) or len(node.values) != 2:
        return None
    head, tail = node.values
    plain = isinstance(head, ast.FormattedValue) and head.conversion == -1
    if not (plain and isinstance(head, ast.FormattedValue) and isinstance(head.value, ast.Name)):
        return None
    folder = {name: path for path, name in CONFIG_DIRS.items()}.get(head.value.id)
    rest = tail.value if isinstance(tail, ast.Constant) and isinstance(tail.value, str) else None
    if folder is None or rest is None or head.format_spec is not None:
        return None
    return posixpath.normpath(posixpath.join(up, folder)) + rest


def _text_of(node: ast.AST) -> str | None:
    """The value of a one-line string literal; None for any other expression."""
    if _is_text(node) and isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


# -- paths --------------------------------------------------------------------------------


def is_absolute(value: str) -> bool:
    """True for a path on one machine: ``/Users/ana/x.csv``, ``C:\\data``, ``~/x``."""
    return bool(ABSOLUTE.match(value)) or (
        value.startswith("/") and "/" in value[1:] and not value.startswith("//")
    )


def looks_like_path(value: str) -> bool:
    """True for a literal with a folder separator or a file suffix (not a column name)."""
    return "/" in value or "\\" in value or bool(posixpath.splitext(value)[1].strip("."))


def resolve(
    value: str, folder: str, root: Path, known: set[str], basenames: dict[str, str]
) -> str | None:
    """The repository path (file or folder, in ``known``) a literal in a notebook in
    ``folder`` names, trying the notebook's folder, then the root; ``../input/x.csv``
    (Kaggle's layout) by its file name. None when it names nothing there."""
    if "://" in value or not value.strip() or "\0" in value:
        return None
    text = value.replace("\\", "/")
    if is_absolute(text):
        try:
            inside = Path(os.path.expanduser(text)).resolve().relative_to(root.resolve())
        except (ValueError, OSError):
            return None
        text = inside.as_posix()
        folder = ""
    for base in (folder, ""):
        candidate = posixpath.normpath(posixpath.join(base, text)).rstrip("/")
        if candidate in known:
            return candidate
    if "input/" in text:
        return basenames.get(posixpath.basename(text.rstrip("/")))
    return None


def written_path(value: str, folder: str, bare: bool = False) -> str | None:
    """The repository path a notebook in ``folder`` writes to (None: outside, or no file).
    ``bare``: a path with a folder and no suffix counts too (a reader or writer's argument,
    ``to_pickle("examples/frame_pickle")``)."""
    text = value.replace("\\", "/")
    named = posixpath.splitext(text)[1] or (bare and "/" in text.rstrip("/"))
    if "://" in text or is_absolute(text) or not named:
        return None
    candidate = posixpath.normpath(posixpath.join(folder, text))
    return None if candidate.startswith("../") or candidate == ".." else candidate


def config_expression(target: str, literal: Literal) -> tuple[str, str]:
    """``(expression, config name)`` for the project path ``target`` where ``literal`` was."""
    base = ""
    for prefix in CONFIG_DIRS:
        if prefix and (target == prefix or target.startswith(prefix + "/")):
            base = prefix
            break
    name = CONFIG_DIRS[base]
    rest = target[len(base) :].lstrip("/") if base else target
    slash = "/" if literal.value.endswith(("/", "\\")) else ""
    if literal.inner:  # inside an f-string already: the config path as a replacement field
        tail = ((f"/{rest}" if rest else "") + slash).replace("{", "{{").replace("}", "}}")
        return f"{{{name}}}{tail}", name
    if literal.argument and not slash and not (_GLOB & set(rest)):
        return (f"{name} / {json.dumps(rest)}" if rest else name), name
    tail = (f"/{rest}" if rest else "") + slash
    tail = tail.replace("{", "{{").replace("}", "}}")
    quote = "'" if '"' in tail else '"'
    return f"f{quote}{{{name}}}{tail}{quote}", name


# -- imports ------------------------------------------------------------------------------


def _bound(alias: ast.alias) -> str:
    return f" as {alias.asname}" if alias.asname else ""


def import_text(node: ast.Import | ast.ImportFrom, local: set[str], package: str) -> str | None:
    """The statement with local modules imported from ``package`` (None: nothing to change).
    ``import helpers.plots`` binds ``helpers`` with its submodule loaded: ``import
    pkg.helpers.plots; from pkg import helpers`` does that (and binds ``pkg`` too)."""
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module or node.module.split(".")[0] not in local:
            return None
        names = ", ".join(alias.name + _bound(alias) for alias in node.names)
        return f"from {package}.{node.module} import {names}"
    if not any(alias.name.split(".")[0] in local for alias in node.names):
        return None
    parts = [_one_import(alias, local, package) for alias in node.names]
    return None if None in parts else "; ".join(str(part) for part in parts)


def _one_import(alias: ast.alias, local: set[str], package: str) -> str | None:
    if alias.name.split(".")[0] not in local:
        return f"import {alias.name}{_bound(alias)}"
    if "." not in alias.name:
        return f"from {package} import {alias.name}{_bound(alias)}"
    if alias.asname:
        return f"import {package}.{alias.name}{_bound(alias)}"
    return f"import {package}.{alias.name}; from {package} import {alias.name.split('.')[0]}"


# -- editing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace text of a cell between two (line, byte column) places."""

    cell: int
    line: int
    col: int
    end_line: int
    end_col: int
    text: str
    old: str = ""  # what it replaces, for the plan


def apply_edits(source: str, edits: list[Edit]) -> str:
    """``source`` with ``edits`` (non-overlapping) made."""
    lines = source.splitlines(keepends=True) or [""]
    data = [line.encode("utf-8") for line in lines]
    for edit in sorted(edits, key=lambda e: (e.line, e.col), reverse=True):
        first, last = data[edit.line - 1], data[edit.end_line - 1]
        joined = first[: edit.col] + edit.text.encode("utf-8") + last[edit.end_col :]
        data[edit.line - 1 : edit.end_line] = [joined]
    return b"".join(data).decode("utf-8")


PARAMETERS = "# Parameters: papermill and `scaffold run -p NAME VALUE` override what is set here.\n"


def edit_notebook(
    notebook: dict[str, Any], edits: list[Edit], header: str, parameters: bool = False
) -> dict[str, Any]:
    """The notebook with ``edits`` made, ``header`` (imports) as a new first code cell and,
    for a pipeline stage, an empty cell tagged ``parameters`` after it."""
    cells = notebook["cells"]
    by_cell: dict[int, list[Edit]] = {}
    for edit in edits:
        by_cell.setdefault(edit.cell, []).append(edit)
    for index, cell_edits in by_cell.items():
        text = apply_edits(source_of(cells[index]), cell_edits)
        cells[index]["source"] = text.splitlines(keepends=True)
    first = next((i for i, c in enumerate(cells) if c.get("cell_type") == "code"), len(cells))
    ids = any("id" in c for c in cells)
    if parameters and not any("parameters" in _tags(c) for c in cells):
        cells.insert(first, _new_cell(PARAMETERS, {"tags": ["parameters"]}, ids and "parameters"))
    if header:
        cells.insert(first, _new_cell(header, {}, ids and "scaffold-adopt-paths"))
    return notebook


def _tags(cell: Any) -> list[Any]:
    tags = (cell.get("metadata") or {}).get("tags") if isinstance(cell, dict) else None
    return tags if isinstance(tags, list) else []


def _new_cell(source: str, metadata: dict[str, Any], cell_id: str | bool) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }
    return {"id": cell_id, **cell} if isinstance(cell_id, str) else cell
