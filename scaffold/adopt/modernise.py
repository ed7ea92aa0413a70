"""Safe, mechanical rewrites of APIs the notebooks' libraries removed, where the new spelling
means exactly what the old one did.

NumPy's removed aliases are ruff's: its NPY001 and NPY201 rules, safe fixes only, run on the
notebooks (a cell that is not Python is left out). The rest are rewrites ruff has no rule for,
each a renamed keyword, option or module with the same meaning:

- pandas' short display options (``pd.set_option('max_rows', 10)``, ambiguous since pandas
  1.4) -> ``'display.max_rows'``;
- ``hist(..., normed=...)`` (matplotlib's alias, gone in 3.1) -> ``density=``;
  ``read_excel(..., sheetname=...)`` (gone in pandas 1.0) -> ``sheet_name=``;
- ``read_csv(..., delim_whitespace=True)`` (gone in pandas 3) -> ``sep=r"\\s+"``;
- ``from IPython.display import set_matplotlib_formats`` (gone in IPython 8) -> from
  ``matplotlib_inline.backend_inline``;
- matplotlib's ``'seaborn-*'`` styles (renamed in 3.6, gone in 3.8) -> ``'seaborn-v0_8-*'``;
- ``pd.DataFrame.from_csv(path)`` (gone in pandas 1.0) -> ``pd.read_csv(path, index_col=0,
  parse_dates=True)``, from_csv's own defaults (keywords read_csv reads alike only);
- ``df.ix["a":"b", "col"]`` (gone in pandas 1.0) -> ``df.loc[...]`` when every part of the key
  is a string, a list or slice of strings, or ``:`` (``.ix`` read strings as labels);
- ``pd.np.nan`` (``pandas.np``, gone in pandas 2.0) -> ``np.nan``, with ``import numpy as np``
  before the notebook's ``import pandas as pd`` where it had none;
- ``pandas.tools.plotting`` -> ``pandas.plotting``, ``pd.scatter_matrix`` ->
  ``pd.plotting.scatter_matrix``; ``from sklearn.externals import joblib``
  -> ``import joblib``; ``from sklearn.cross_validation import train_test_split`` ->
  ``sklearn.model_selection``.

What is left (``DataFrame.append``, ``load_boston``, ``.ix`` with integers) changes meaning or
has no replacement: the pins keep it running until the team modernises it.
"""

from __future__ import annotations

import ast
import datetime
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import processes
from scaffold.adopt import code
from scaffold.check.notebook import blank_magics
from scaffold.files import scratch_folder

MESSAGE = "Modernise removed APIs (mechanical rewrites)"
RUFF_RULES = "NPY001,NPY201"
# pandas' display options by their short name (pandas resolves a short name only while it is
# unambiguous; 'max_rows' has not been since the styler's options came in 1.4)
DISPLAY_OPTIONS = frozenset({
    "chop_threshold", "colheader_justify", "date_dayfirst", "date_yearfirst", "encoding",
    "expand_frame_repr", "float_format", "large_repr", "max_categories", "max_columns",
    "max_colwidth", "max_dir_items", "max_info_columns", "max_info_rows", "max_rows",
    "max_seq_items", "memory_usage", "min_rows", "multi_sparse", "notebook_repr_html",
    "pprint_nest_depth", "precision", "show_dimensions", "width",
})  # fmt: skip
# short names pandas matched to one option once and to several later: what the name meant, and
# the release date that made it ambiguous ('html' matched display.notebook_repr_html alone
# until pandas 0.19 added display.html.border). Rewritten only in notebooks last changed
# before that date, when the name had that one meaning.
AMBIGUOUS_SINCE = {"html": ("display.notebook_repr_html", datetime.date(2016, 10, 2))}
_OPTION_CALLS = {"set_option", "get_option", "reset_option", "describe_option", "option_context"}
_READERS = {"read_csv", "read_table", "read_fwf"}
_FORMATS_MODULES = {"IPython.display", "IPython.core.display"}
_FORMATS_HOME = "matplotlib_inline.backend_inline"
# module -> its new name, for ``from MODULE import ...`` (every name moved with it)
_MOVED = {"pandas.tools.plotting": "pandas.plotting", "sklearn.externals.joblib": "joblib"}
# names that moved to sklearn.model_selection unchanged (the rest of cross_validation changed)
_SAME_IN_MODEL_SELECTION = {"train_test_split"}


@dataclass(frozen=True)
class Change:
    """One rewrite in one notebook cell."""

    notebook: str
    cell: int  # 1-based, counting every cell
    rule: str
    old: str
    new: str

    def __str__(self) -> str:
        new = re.sub(r"\n\s*", "; ", self.new)
        return f"{self.notebook}: cell {self.cell}: {self.old} -> {new} ({self.rule})"


@dataclass
class Modernised:
    """The notebooks rewritten, what changed, what is left for the team."""

    texts: dict[str, str]  # notebook -> its new text (changed ones only)
    changes: list[Change]
    left: list[str]  # removed APIs found with no safe rewrite
    modules: dict[str, set[str]]  # notebook -> modules the rewrites import


def modernise(texts: dict[str, str], changed: dict[str, datetime.date] | None = None) -> Modernised:
    """Rewrite removed APIs in the notebooks ``texts`` (path -> notebook JSON); ``changed``:
    the day each notebook last changed, for the names whose meaning depends on it."""
    notebooks: dict[str, dict[str, Any]] = {}
    result = Modernised({}, [], [], {})
    for name, text in texts.items():
        try:
            notebook = json.loads(text)
        except ValueError:
            continue
        if isinstance(notebook, dict) and isinstance(notebook.get("cells"), list):
            notebooks[name] = notebook
    for name, notebook in notebooks.items():
        numpy, first = _numpy_binding(notebook)
        for index, source in list(code.code_cells(notebook)):
            spelling = "np" if numpy == "add" and index != first else numpy
            edits, rules, modules = _cell_edits(source, (changed or {}).get(name), spelling)
            if not edits:
                continue
            notebook["cells"][index]["source"] = code.apply_edits(source, edits).splitlines(
                keepends=True
            )
            for edit, rule in zip(edits, rules, strict=True):
                result.changes.append(Change(name, index + 1, rule, edit.old, edit.text))
            result.modules.setdefault(name, set()).update(modules)
    _ruff(notebooks, result)
    rewritten = {change.notebook for change in result.changes}
    result.texts = {name: code.dump(notebooks[name]) for name in notebooks if name in rewritten}
    return result


# -- rewrites ruff has no rule for -------------------------------------------------------------


def _cell_edits(
    source: str, changed: datetime.date | None = None, numpy: str = ""
) -> tuple[list[code.Edit], list[str], set[str]]:
    """The edits for one cell, the rule of each, and the modules they import; ``numpy`` says
    how the notebook binds ``np`` (see ``_numpy_binding``)."""
    tree = code.parse(source)
    if tree is None:
        return [], [], set()
    lines = blank_magics(source).splitlines(keepends=True)
    edits: list[code.Edit] = []
    rules: list[str] = []
    modules: set[str] = set()
    for node in ast.walk(tree):
        found: list[tuple[code.Edit, str]] = []
        if isinstance(node, ast.Call):
            found = _call_edits(node, lines, changed)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found = _import_edits(node, lines)
            modules.update(_imported(edit.text) for edit, _ in found)
        elif isinstance(node, ast.Subscript) and _is_ix(node.value):
            found = _ix_edits(node, lines)
        elif numpy and isinstance(node, (ast.Attribute, ast.Import)):
            found = _pandas_np_edits(node, lines, numpy)
            modules.update("numpy" for edit, _ in found if edit.text.startswith("import numpy"))
        for edit, rule in found:
            edits.append(edit)
            rules.append(rule)
    return edits, rules, modules


def _is_ix(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "ix"


def _label(node: ast.expr) -> bool:
    """True for a key ``.ix`` read as a label whatever the index: a string, a list of
    strings, a slice of strings (or open ends), ``:``."""
    if isinstance(node, ast.Slice):
        ends = [end for end in (node.lower, node.upper) if end is not None]
        return node.step is None and all(_string(end) is not None for end in ends)
    if isinstance(node, ast.List):
        return bool(node.elts) and all(_string(element) is not None for element in node.elts)
    return _string(node) is not None


def _ix_edits(node: ast.Subscript, lines: list[str]) -> list[tuple[code.Edit, str]]:
    """``df.ix["a":"b", "col"]`` (gone in pandas 1.0) -> ``df.loc[...]`` when every part of
    the key is a label (strings, ``:``): ``.ix`` read a string as a label on any index. An
    integer or a name is left alone: there ``.ix`` chose ``.loc`` or ``.iloc`` by the index."""
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if not parts or not all(_label(part) for part in parts):
        return []
    if all(isinstance(part, ast.Slice) and part.lower is part.upper is None for part in parts):
        return []  # only ":": nothing says which
    text = _segment(lines, node.value)
    if not text.endswith(".ix"):
        return []
    rule = "pandas 1.0 removed .ix; with labels for keys it read them as .loc does"
    return [(_replace(node.value, text, text[: -len("ix")] + "loc"), rule)]


_PANDAS_NP = "pandas 2.0 removed pandas.np, its alias of NumPy"


def _numpy_binding(notebook: dict[str, Any]) -> tuple[str, int]:
    """How the notebook can spell NumPy where it wrote ``pd.np``: "np" when a cell imports
    ``numpy as np``; "add" when no cell binds ``np`` and the first use of ``pd.np`` comes
    after a cell's own ``import pandas as pd`` line (``import numpy as np`` goes before it);
    "" when the notebook has no ``pd.np`` or ``np`` is something else. With it, the index of
    the first cell that imports pandas."""
    uses: list[int] = []
    imports_pandas: list[int] = []
    numpy = other = False
    for index, source in code.code_cells(notebook):
        tree = code.parse(source)
        if tree is None:
            continue
        used, imported, elsewise = _numpy_in(tree)
        uses += [index] if used else []
        numpy, other = numpy or imported, other or elsewise
        imports_pandas += [index] if any(_is_pandas_import(node) for node in tree.body) else []
    first = imports_pandas[0] if imports_pandas else -1
    if not uses or other:
        return "", first
    if numpy:
        return "np", first
    return ("add" if 0 <= first <= min(uses) else ""), first


def _numpy_in(tree: ast.Module) -> tuple[bool, bool, bool]:
    """Whether a cell uses ``pd.np``, imports ``numpy as np``, binds ``np`` to another thing."""
    used = numpy = other = False
    for node in ast.walk(tree):
        if _is_pandas_np(node):
            used = True
        elif isinstance(node, ast.Name) and node.id == "np" and isinstance(node.ctx, ast.Store):
            other = True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if (alias.asname or alias.name) == "np":
                    is_numpy = isinstance(node, ast.Import) and alias.name == "numpy"
                    numpy, other = numpy or is_numpy, other or not is_numpy
    return used, numpy, other


def _is_pandas_np(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "np"
        and isinstance(node.value, ast.Name)
        and node.value.id in {"pd", "pandas"}
    )


def _is_pandas_import(node: ast.AST) -> bool:
    """``import pandas as pd`` (or ``import pandas``), alone on its line."""
    return (
        isinstance(node, ast.Import)
        and len(node.names) == 1
        and node.names[0].name == "pandas"
        and node.names[0].asname in {None, "pd"}
    )


def _pandas_np_edits(
    node: ast.Attribute | ast.Import, lines: list[str], numpy: str
) -> list[tuple[code.Edit, str]]:
    """``pd.np.nan`` -> ``np.nan``; where the notebook never imported NumPy, ``import numpy
    as np`` goes before its first ``import pandas as pd``."""
    if _is_pandas_np(node):
        text = _segment(lines, node)
        return [(_replace(node, text, "np"), _PANDAS_NP)] if text else []
    if numpy == "add" and _is_pandas_import(node) and node.col_offset == 0:
        text = _segment(lines, node)
        if text:
            return [(_replace(node, text, f"import numpy as np\n{text}"), _PANDAS_NP)]
    return []


def _imported(statement: str) -> str:
    """The top-level module an import statement's last line names."""
    words = statement.splitlines()[-1].split()
    return words[1].split(".")[0] if len(words) > 1 else ""


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _segment(lines: list[str], node: ast.expr | ast.stmt | ast.keyword) -> str:
    """The source text of a one-line node ('' when it spans lines)."""
    if node.end_lineno != node.lineno or node.end_col_offset is None:
        return ""
    data = lines[node.lineno - 1].encode("utf-8")
    return data[node.col_offset : node.end_col_offset].decode("utf-8")


def _replace(node: ast.expr | ast.stmt | ast.keyword, old: str, new: str) -> code.Edit:
    end = node.end_col_offset if node.end_col_offset is not None else node.col_offset
    end_line = node.end_lineno or node.lineno
    return code.Edit(0, node.lineno, node.col_offset, end_line, end, new, old)


def _string(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_edits(
    call: ast.Call, lines: list[str], changed: datetime.date | None = None
) -> list[tuple[code.Edit, str]]:
    name = _name(call)
    if name in _OPTION_CALLS:
        return _option_edits(call, lines, changed)
    if name in {"hist", "hist2d"}:
        return _renamed_keyword(call, lines, "normed", "density", "matplotlib 3.1")
    if name in _READERS:
        return _whitespace_edits(call, lines)
    if name == "read_excel":
        return _renamed_keyword(call, lines, "sheetname", "sheet_name", "pandas 1.0")
    if name in {"use", "context"} and isinstance(call.func, ast.Attribute):
        return _style_edits(call, lines)
    if name == "scatter_matrix":
        return _plotting_edits(call, lines)
    if name == "from_csv":
        return _from_csv_edits(call, lines)
    return []


# DataFrame.from_csv's keywords that read_csv takes with the same meaning
_FROM_CSV_KEYWORDS = {"header", "sep", "index_col", "parse_dates", "encoding"}


def _pandas_dataframe(func: ast.expr) -> str:
    """``pd`` for ``pd.DataFrame.<method>`` (``pandas`` for ``pandas.DataFrame...``), else ""."""
    owner = func.value if isinstance(func, ast.Attribute) else None
    module = owner.value if isinstance(owner, ast.Attribute) and owner.attr == "DataFrame" else None
    return module.id if isinstance(module, ast.Name) and module.id in {"pd", "pandas"} else ""


def _from_csv_edits(call: ast.Call, lines: list[str]) -> list[tuple[code.Edit, str]]:
    """``pd.DataFrame.from_csv(path, ...)`` (gone in pandas 1.0) -> ``pd.read_csv(path, ...,
    index_col=0, parse_dates=True)``: its own defaults, given where the call left them."""
    module = _pandas_dataframe(call.func)
    names = {keyword.arg for keyword in call.keywords}
    one_path = len(call.args) == 1 and not isinstance(call.args[0], ast.Starred)
    if not module or not one_path or not names <= _FROM_CSV_KEYWORDS:
        return []
    text = _segment(lines, call)
    head = _segment(lines, call.func)
    if not text or not head or not text.endswith(")"):
        return []
    added = [f"{key}={value}" for key, value in (("index_col", "0"), ("parse_dates", "True"))
             if key not in names]  # fmt: skip
    inner = text[len(head) :].strip()[1:-1].rstrip().rstrip(",")
    new = f"{module}.read_csv({', '.join([inner, *added])})"
    rule = "pandas 1.0 removed DataFrame.from_csv; read_csv with its defaults reads the same"
    return [(_replace(call, text, new), rule)]


def _plotting_edits(call: ast.Call, lines: list[str]) -> list[tuple[code.Edit, str]]:
    """``pd.scatter_matrix(...)`` (gone in pandas 1.0) -> ``pd.plotting.scatter_matrix``."""
    func = call.func
    owner = func.value if isinstance(func, ast.Attribute) else None
    if not (isinstance(owner, ast.Name) and owner.id in {"pd", "pandas"}):
        return []
    text = _segment(lines, func)
    if text != f"{owner.id}.scatter_matrix":
        return []
    new = f"{owner.id}.plotting.scatter_matrix"
    return [(_replace(func, text, new), "pandas 1.0 moved it to pandas.plotting")]


def _option_edits(
    call: ast.Call, lines: list[str], changed: datetime.date | None = None
) -> list[tuple[code.Edit, str]]:
    """'max_rows' -> 'display.max_rows' (option_context takes pairs: every other one); 'html'
    -> 'display.notebook_repr_html' in a notebook last changed while it meant that alone."""
    keys = call.args[::2] if _name(call) == "option_context" else call.args[:1]
    found = []
    for key in keys:
        value, text = _string(key), _segment(lines, key)
        if value is None or text[:1] not in {"'", '"'} or text[1:-1] != value:
            continue
        if value in DISPLAY_OPTIONS:
            new = f"{text[0]}display.{value}{text[0]}"
            found.append((_replace(key, text, new), "pandas: display option by its full name"))
        meant, since = AMBIGUOUS_SINCE.get(value, ("", None))
        if since and changed and changed < since:
            why = f"pandas: what the name meant when the notebook last changed ({changed})"
            found.append((_replace(key, text, f"{text[0]}{meant}{text[0]}"), why))
    return found


def _renamed_keyword(
    call: ast.Call, lines: list[str], old: str, new: str, since: str
) -> list[tuple[code.Edit, str]]:
    names = {keyword.arg for keyword in call.keywords}
    if new in names:
        return []
    for keyword in call.keywords:
        text = _segment(lines, keyword)
        if keyword.arg == old and text.startswith(old):
            edit = code.Edit(0, keyword.lineno, keyword.col_offset, keyword.lineno,
                             keyword.col_offset + len(old), new, old)  # fmt: skip
            return [(edit, f"{old}= was removed in {since}; {new}= means the same")]
    return []


def _whitespace_edits(call: ast.Call, lines: list[str]) -> list[tuple[code.Edit, str]]:
    """``delim_whitespace=True`` -> ``sep=r"\\s+"`` when no separator is given."""
    names = {keyword.arg for keyword in call.keywords}
    if names & {"sep", "delimiter"} or len(call.args) > 1:
        return []
    for keyword in call.keywords:
        text = _segment(lines, keyword)
        constant = keyword.value
        true = isinstance(constant, ast.Constant) and constant.value is True
        if keyword.arg == "delim_whitespace" and true and text:
            rule = "pandas 3: delim_whitespace=True is sep=r'\\s+'"
            return [(_replace(keyword, text, 'sep=r"\\s+"'), rule)]
    return []


def _style_edits(call: ast.Call, lines: list[str]) -> list[tuple[code.Edit, str]]:
    """``plt.style.use('seaborn-whitegrid')`` -> ``'seaborn-v0_8-whitegrid'``."""
    func = call.func
    assert isinstance(func, ast.Attribute)
    owner = func.value
    if not (isinstance(owner, ast.Attribute) and owner.attr == "style") or not call.args:
        return []
    styles = call.args[0].elts if isinstance(call.args[0], ast.List) else call.args[:1]
    found = []
    for style in styles:
        value, text = _string(style), _segment(lines, style)
        if value is None or text[1:-1] != value or text[:1] not in {"'", '"'}:
            continue
        if value == "seaborn" or (value.startswith("seaborn-") and "v0_8" not in value):
            new = text[0] + "seaborn-v0_8" + value[len("seaborn") :] + text[0]
            found.append((_replace(style, text, new), "matplotlib 3.6 renamed the seaborn styles"))
    return found


def _import_edits(node: ast.ImportFrom, lines: list[str]) -> list[tuple[code.Edit, str]]:
    module = node.module or ""
    if node.level or node.lineno != node.end_lineno:
        return []
    old = _segment(lines, node)
    if not old:
        return []
    indent = " " * node.col_offset
    if module in _FORMATS_MODULES:
        return _split_import(node, old, indent, {"set_matplotlib_formats"}, _FORMATS_HOME,
                             "IPython 8 removed set_matplotlib_formats; it lives on in "
                             "matplotlib-inline")  # fmt: skip
    if module == "sklearn.cross_validation":
        return _split_import(node, old, indent, _SAME_IN_MODEL_SELECTION,
                             "sklearn.model_selection",
                             "scikit-learn 0.20 moved it, unchanged")  # fmt: skip
    if module == "sklearn.externals" and {a.name for a in node.names} == {"joblib"}:
        alias = node.names[0]
        new = f"import joblib{f' as {alias.asname}' if alias.asname else ''}"
        return [(_replace(node, old, new), "scikit-learn 0.23 removed its copy of joblib")]
    if module in _MOVED:
        names = ", ".join(_alias(alias) for alias in node.names)
        new = f"from {_MOVED[module]} import {names}"
        return [(_replace(node, old, new), f"{module} moved to {_MOVED[module]}")]
    return []


def _alias(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def _split_import(
    node: ast.ImportFrom, old: str, indent: str, moved: set[str], home: str, rule: str
) -> list[tuple[code.Edit, str]]:
    """The names in ``moved`` imported from ``home``; the others stay where they were."""
    going = [alias for alias in node.names if alias.name in moved]
    staying = [alias for alias in node.names if alias.name not in moved]
    if not going or any(alias.name == "*" for alias in node.names):
        return []
    new = f"from {home} import {', '.join(_alias(a) for a in going)}"
    if staying:
        kept = f"from {node.module} import {', '.join(_alias(a) for a in staying)}"
        new = f"{kept}\n{indent}{new}"
    return [(_replace(node, old, new), rule)]


# -- NumPy: ruff's rules -------------------------------------------------------------------------


def _ruff(notebooks: dict[str, dict[str, Any]], result: Modernised) -> None:
    """ruff's safe NPY001/NPY201 fixes, made in scratch copies and taken back cell by cell."""
    ruff = processes.find_tool("ruff")
    if ruff is None or not notebooks:
        return
    with scratch_folder("scaffold-adopt-ruff-") as scratch:
        folder = Path(scratch)
        names = {f"n{i}.ipynb": name for i, name in enumerate(notebooks)}
        blanked: dict[str, set[int]] = {file: set() for file in names}
        for file, name in names.items():
            _write_scratch(folder / file, notebooks[name], set())
        found = _parsable(ruff, folder, names, notebooks, blanked)
        _diagnostics(ruff, folder, fix=True)
        for file, name in names.items():
            _take_back(folder / file, notebooks[name], blanked[file])
    for diagnostic in found:
        file = Path(diagnostic["filename"]).name
        if diagnostic.get("code") and file in names:
            _record(names[file], diagnostic, result)


def _parsable(
    ruff: str,
    folder: Path,
    names: dict[str, str],
    notebooks: dict[str, dict[str, Any]],
    blanked: dict[str, set[int]],
) -> list[dict[str, Any]]:
    """ruff's findings once the cells that are not Python (which hide the whole notebook from
    ruff) are emptied in the scratch copies."""
    found: list[dict[str, Any]] = []
    for _ in range(5):
        found = _diagnostics(ruff, folder, fix=False)
        broken = [d for d in found if not d.get("code") or d["code"] == "invalid-syntax"]
        if not broken:
            break
        for diagnostic in broken:
            file = Path(diagnostic["filename"]).name
            blanked[file].add(int(diagnostic.get("cell") or 0))
            _write_scratch(folder / file, notebooks[names[file]], blanked[file])
    return found


def _record(notebook: str, diagnostic: dict[str, Any], result: Modernised) -> None:
    """A safe fix as a change; a finding without one as left for the team."""
    fix = diagnostic.get("fix") or {}
    cell, rule = int(diagnostic.get("cell") or 0), f"ruff {diagnostic['code']}"
    if fix.get("applicability") == "safe":
        old = _first_sentence(diagnostic["message"])
        result.changes.append(Change(notebook, cell, rule, old, _new(str(fix.get("message")))))
    else:
        result.left.append(f"{notebook}: cell {cell}: {diagnostic['message']} ({rule})")


def _first_sentence(message: str) -> str:
    return message.split(" will be removed")[0].split(" is deprecated")[0]


def _new(fix: str) -> str:
    """``Replace with `numpy.nan``` -> ``numpy.nan``; ``Replace `np.int` with builtin type``
    -> ``builtin type``."""
    if fix.startswith("Replace with "):
        return fix.removeprefix("Replace with ")
    return fix.rsplit(" with ", 1)[-1] if fix.startswith("Replace ") else fix


def _write_scratch(path: Path, notebook: dict[str, Any], blanked: set[int]) -> None:
    """The notebook for ruff, with the cells numbered in ``blanked`` (1-based) emptied, and
    the fields ruff's schema wants where they are missing (a module wrapped as a cell, an old
    notebook): else ruff sees no cell of it."""
    copy = json.loads(json.dumps(notebook))
    for key, value in (("metadata", {}), ("nbformat", 4), ("nbformat_minor", 4)):
        copy.setdefault(key, value)
    for number, cell in enumerate(copy["cells"], start=1):
        if not isinstance(cell, dict):
            continue
        cell.setdefault("metadata", {})
        if cell.get("cell_type") == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
        if number in blanked:
            cell["source"] = []
    path.write_text(code.dump(copy), encoding="utf-8")


def _diagnostics(ruff: str, folder: Path, *, fix: bool) -> list[dict[str, Any]]:
    args = [ruff, "check", "--isolated", "--no-cache", "--select", RUFF_RULES,
            "--output-format", "json", *(["--fix"] if fix else []), "."]  # fmt: skip
    output = processes.run(args, cwd=folder, check=False).text
    try:
        found = json.loads(output)
    except ValueError:
        return []
    return found if isinstance(found, list) else []


def _take_back(path: Path, notebook: dict[str, Any], blanked: set[int]) -> None:
    """The fixed sources of the cells ruff saw, into ``notebook``."""
    fixed = code.load(path)
    if fixed is None or len(fixed["cells"]) != len(notebook["cells"]):
        return
    for number, (cell, new) in enumerate(zip(notebook["cells"], fixed["cells"], strict=True), 1):
        if number in blanked or not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        if code.source_of(cell) != code.source_of(new):
            cell["source"] = code.source_of(new).splitlines(keepends=True)
