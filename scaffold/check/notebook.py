"""One notebook, read as JSON and parsed cell by cell: the facts the rules need.

``analyse`` depends only on the notebook's bytes and its place in the project, so its result
(a ``Summary``) can be cached by file size and modification time.

Magics and shell escapes are not Python. Instead of IPython's ``TransformerManager`` (slow to
import) a small pre-pass, ``blank_magics``, turns them into ``pass`` (same indentation, same
line numbers) before ``ast.parse``: ``%line`` magics, ``!shell`` lines, ``x = !cmd`` /
``x = %magic`` assignments (``x = None``), ``obj?`` help, and cell magics. A ``%%time`` /
``%%timeit`` / ``%%capture`` / ``%%prun`` cell keeps its Python body; any other ``%%`` cell
(``%%bash``, ``%%writefile``, ``%%sql``...) is not Python and is skipped whole.
"""

from __future__ import annotations

import ast
import functools
import itertools
import json
import os
import re
import shlex
import stat
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold.check import spark
from scaffold.check.duplicates import Definition, definitions
from scaffold.check.imports import NAMESPACES
from scaffold.check.model import Finding
from scaffold.check.names import (
    FLAT_SEEN,
    CellNames,
    cell_names,
    dynamic,
    flat_names,
    hidden_state,
    magic_code,
    magic_names,
    remember,
)
from scaffold.check.threshold import CLUSTER_MODULES, WRITES_BYTES, cluster_import, data_writes

PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "python", "python3"}
_ASSIGNED_MAGIC = re.compile(r"^(\s*[A-Za-z_][\w., ]*?\s*=)\s*[%!]")
_HELP = re.compile(r"^\s*(?:\?\??[\w.]+|[\w.]+\?\??)\s*$")
PIP_INSTALL = re.compile(
    r"^\s*[!%]\s*(?:(?:python3?|\S*python\S*|\{sys\.executable\})\s+-m\s+)?"
    r"(?P<tool>pip3?|conda|mamba|micromamba|uv\s+pip)\s+install\b"
)
# git's conflict markers, and nbdime's inline ones (``<<<<<<< local`` / ``>>>>>>> remote``)
MERGE_MARKER = re.compile(r"^(?:<{7}|>{7})(?: |$)|^={7}$", re.MULTILINE)
NOQA = re.compile(r"#\s*scaffold:\s*noqa\b(?::?[ \t]*(?P<codes>NB\d+(?:[ \t,]+NB\d+)*))?")
# a string literal that starts like a path on someone's machine, or one that climbs with ../
_PATHISH = re.compile(
    r"""['"](?:/(?:home|Users|root|mnt|media|Volumes)/|~[/\\]|[A-Za-z]:[\\/]|\\\\\w|\.\.[/\\])"""
)
ABSOLUTE = re.compile(r"^(?:/(?:home|Users|root|mnt|media|Volumes)/|~[/\\]|[A-Za-z]:[\\/]|\\\\\w)")


@dataclass
class Summary:
    """What one notebook holds, for the rules (JSON-serialisable for the cache)."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    cells: int = 0
    functions: int = 0
    definitions: list[Definition] = field(default_factory=list)
    # (dotted module, cell, line, guarded: under try/except ImportError or a runtime test)
    imports: list[tuple[str, int, int, bool]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # modules the notebook writes itself
    path_edits: list[str] = field(default_factory=list)  # folders it adds to sys.path
    path_computed: bool = False  # it adds a folder to sys.path that no literal names
    parameters_cells: list[int] = field(default_factory=list)
    # (name, annotation, python type of the default, cell, line) of the first parameters cell
    parameters: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    noqa: dict[int, list[str]] = field(default_factory=dict)  # cell -> codes; [] = every code
    readable: bool = True
    parsed: bool = True  # False: the code was not parsed (no rule that needs it was enabled)
    # for the threshold (threshold.py): code cells and lines (not blank, not comments), the
    # top-level functions (name, cell), a cluster import (module, cell), data writes (count,
    # first call, its cell)
    code_cells: int = 0
    code_lines: int = 0
    function_names: list[tuple[str, int]] = field(default_factory=list)
    cluster: tuple[str, int] | None = None
    writes: tuple[int, str, int] | None = None
    # for the Spark rules (spark.py), of a notebook that mentions Spark: (cell, line) of each
    # pyspark import, and NB413-NB415's findings (NB413's fix says ``{helper}``)
    spark_imports: list[tuple[int, int]] = field(default_factory=list)
    spark_findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON data."""
        return {
            "path": self.path,
            "findings": [[f.cell, f.line, f.code, f.message] for f in self.findings],
            "cells": self.cells,
            "functions": self.functions,
            "definitions": [d.to_json() for d in self.definitions],
            "imports": self.imports,
            "written": self.written,
            "path_edits": self.path_edits,
            "path_computed": self.path_computed,
            "parameters_cells": self.parameters_cells,
            "parameters": self.parameters,
            "noqa": {str(k): v for k, v in self.noqa.items()},
            "readable": self.readable,
            "parsed": self.parsed,
            "code_cells": self.code_cells,
            "code_lines": self.code_lines,
            "function_names": self.function_names,
            "cluster": self.cluster,
            "writes": self.writes,
            "spark_imports": self.spark_imports,
            "spark_findings": [[f.cell, f.line, f.code, f.message] for f in self.spark_findings],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        """The summary back from ``to_json``."""
        path = data["path"]
        return cls(
            path=path,
            findings=[Finding(path, c, ln, code, m) for c, ln, code, m in data["findings"]],
            cells=data["cells"],
            functions=data["functions"],
            definitions=[Definition.from_json(d) for d in data["definitions"]],
            imports=[(m, c, ln, g) for m, c, ln, g in data["imports"]],
            written=list(data["written"]),
            path_edits=list(data["path_edits"]),
            path_computed=data["path_computed"],
            parameters_cells=list(data["parameters_cells"]),
            parameters=[(n, a, t, c, ln) for n, a, t, c, ln in data["parameters"]],
            noqa={int(k): list(v) for k, v in data["noqa"].items()},
            readable=data["readable"],
            parsed=data["parsed"],
            code_cells=data["code_cells"],
            code_lines=data["code_lines"],
            function_names=[(n, c) for n, c in data["function_names"]],
            cluster=(data["cluster"][0], data["cluster"][1]) if data["cluster"] else None,
            writes=(data["writes"][0], data["writes"][1], data["writes"][2])
            if data["writes"]
            else None,
            spark_imports=[(c, ln) for c, ln in data["spark_imports"]],
            spark_findings=[
                Finding(path, c, ln, code, m) for c, ln, code, m in data["spark_findings"]
            ],
        )

    def silenced(self, finding: Finding) -> bool:
        """True when a ``# scaffold: noqa`` comment (or the notebook's metadata) covers it."""
        for cell in {finding.cell, 0}:
            codes = self.noqa.get(cell)
            if codes is not None and (not codes or finding.code in codes):
                return True
        return False


def blank_magics(source: str) -> str:
    """``source`` with IPython magics, shell escapes and help turned into ``pass``."""
    if "%" not in source and "!" not in source and "?" not in source:
        return source  # each form below needs one of these characters
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split(maxsplit=1)
        if not name or name[0] not in PYTHON_CELL_MAGICS:
            return "\n" * (len(lines) - 1)
        lines[first] = ""
    out = []
    continued = False  # the previous magic line ended with a backslash
    for line in lines:
        stripped = line.lstrip()
        magic = _ASSIGNED_MAGIC.match(line)
        if continued:
            out.append("")
        elif stripped.startswith(("%", "!")) or _HELP.match(line):
            out.append(f"{line[: len(line) - len(stripped)]}pass")
        elif magic:
            out.append(f"{magic.group(1)} None")
        else:
            out.append(line)
            continue
        continued = line.rstrip().endswith("\\")
    return "\n".join(out)


def _text(value: Any) -> str:
    if isinstance(value, list):
        try:
            return "".join(value)
        except TypeError:  # not all text
            return "".join(str(part) for part in value)
    return value if isinstance(value, str) else ""


def _noqa(source: str) -> list[str] | None:
    codes: list[str] | None = None
    for match in NOQA.finditer(source):
        if not match.group("codes"):
            return []
        codes = [*(codes or []), *re.split(r"[ \t,]+", match.group("codes"))]
    return codes


TOO_DEEP = "cell is nested too deeply (or has too long an expression) for Python's parser; split it"


def read_regular(path: Path) -> bytes | None:
    """A regular file's bytes; None for a FIFO, socket or device (opened without waiting for
    a writer, and never read)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        return handle.read()


def read(path: Path) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """The notebook's JSON, or ``(code, message)`` saying why it is not a notebook."""
    data, problem, _ = _load(path)
    return data, problem


Loaded = tuple[dict[str, Any] | None, tuple[str, str] | None, bytes]


def _load(path: Path) -> Loaded:
    """``read``, and the file's bytes (empty when it could not be read)."""
    try:
        raw = read_regular(path)
    except OSError as error:
        return None, ("NB101", f"cannot be read ({error.strerror}); check its permissions"), b""
    if raw is None:
        return (
            None,
            ("NB101", "is not a regular file (a FIFO or a device?); only files are read"),
            b"",
        )
    return (*_decode(raw), raw)


def _decode(raw: bytes) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    if not raw.strip():
        return None, ("NB102", "is empty; delete it or save a notebook from Jupyter over it")
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        return None, ("NB101", "is not UTF-8 text; restore it from git or re-save it in Jupyter")
    except json.JSONDecodeError as error:
        conflict = _git_conflict(raw)
        if conflict:
            return None, ("NB105", conflict)
        return None, (
            "NB101",
            f"is not valid JSON (line {error.lineno}, column {error.colno}); resolve merge "
            "conflicts or restore it from git",
        )
    except ValueError:
        return None, ("NB101", "is not valid JSON; resolve merge conflicts or restore it from git")
    except RecursionError:
        return None, ("NB101", "is JSON nested too deeply to read; restore it from git")
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        if isinstance(data, dict) and data.get("nbformat") not in (None, 4):
            return None, _version(data.get("nbformat"))
        return None, ("NB103", "is not a Jupyter notebook (no list of cells); fix or remove it")
    if data.get("nbformat") != 4:
        return None, _version(data.get("nbformat"))
    return data, None


def _git_conflict(raw: bytes) -> str:
    """NB105's message when ``raw`` holds git's merge-conflict markers, else ``""``."""
    text = raw.decode("utf-8", "replace")
    match = MERGE_MARKER.search(text) if "<<<<<<<" in text else None
    if match is None:
        return ""
    line = text.count("\n", 0, match.start()) + 1
    return (
        f"holds git merge-conflict markers (file line {line}), so it is no longer JSON; merge "
        "it as a notebook: `git checkout -m -- {path} && git mergetool --tool nbdime -- {path}` "
        "(or keep one side: `git checkout --ours -- {path}`, or `--theirs`)"
    )


def _version(version: object) -> tuple[str, str]:
    return (
        "NB103",
        f"uses nbformat {version}; only version 4 is supported: open it in Jupyter and save it",
    )


@dataclass
class _Cells:
    """Where the code cells stand: with outputs, with execution counts, run or not."""

    outputs: list[int] = field(default_factory=list)
    counted: list[int] = field(default_factory=list)
    executed: list[tuple[int, int]] = field(default_factory=list)  # (cell, execution count)
    unexecuted: list[int] = field(default_factory=list)
    names: list[tuple[int, CellNames]] = field(default_factory=list)  # parsed cells, in order
    dynamic: bool = False  # a cell may define names no parse shows (see names.py)
    trees: list[spark.Cell] | None = None  # the parsed cells, kept for the Spark rules
    writes: list[tuple[int, list[str]]] | None = None  # (cell, data writes), when any can be


@dataclass(frozen=True)
class _Place:
    """A notebook's place in the project (for findings and relative paths)."""

    rel: str
    folder: Path
    root: Path
    parse: bool  # parse the code cells (False: only what their text shows)


def _inside(root: Path, path: Path) -> bool:
    """True when ``path``, links resolved, is in ``root`` (a folder's answer is cached)."""
    if os.path.islink(path):
        return path.resolve().is_relative_to(_resolved(root))
    return _resolved(path.parent).is_relative_to(_resolved(root))


@functools.lru_cache(maxsize=256)
def _resolved(folder: Path) -> Path:
    """The folder with its links resolved (cached: one check asks for the same few folders;
    ``summaries`` clears it before each check)."""
    return folder.resolve()


def forget_folders() -> None:
    """Forget the resolved folders (before a check: links may have changed)."""
    _resolved.cache_clear()


def forget_cells() -> None:
    """Forget the cells seen (after a check's analysis: the trees take memory)."""
    TREES.clear()
    FLAT_SEEN.clear()


# parsed cells seen in this check, by code (only read by the rules, never changed)
TREES: dict[str, ast.Module] = {}


def _tree(code: str) -> ast.Module:
    """``ast.parse(code)``; a short cell's tree is kept, for the cells that repeat."""
    tree = TREES.get(code)
    if tree is None:
        tree = ast.parse(code)
        if len(code) <= 4000:
            remember(TREES, code, tree, 512)
    return tree


def analyse(root: Path, path: Path, parse: bool = True) -> Summary:
    """Read and parse one notebook; collect every per-notebook fact and finding.

    ``parse=False`` leaves the code unparsed (no syntax errors, paths, imports, definitions
    or parameters), for checks that need none of them; the summary says so (``parsed``).
    """
    rel = path.relative_to(root).as_posix()
    summary = Summary(rel, parsed=parse)
    if _inside(root, path):
        data, problem, raw = _load(path)
    else:  # as promote refuses it
        data, problem = None, ("NB101", "leads outside the project (a symbolic link); not read")
        raw = b""
    if data is None:
        assert problem is not None
        message = problem[1].replace("{path}", shlex.quote(rel))
        summary.findings.append(Finding(rel, 0, 0, problem[0], f"{rel} {message}"))
        summary.readable = False
        return summary
    notebook_noqa = (data.get("metadata") or {}).get("scaffold", {})
    if isinstance(notebook_noqa, dict) and isinstance(notebook_noqa.get("noqa"), list):
        summary.noqa[0] = [str(code) for code in notebook_noqa["noqa"]]
    place = _Place(rel, path.parent, root, parse and _python(data))
    _analyse_cells(summary, place, data, raw)
    return summary


def _analyse_cells(summary: Summary, place: _Place, data: dict[str, Any], raw: bytes) -> None:
    """Every cell's facts and findings, then those of the cells together."""
    rel = place.rel
    cells = data["cells"]
    summary.cells = len(cells)
    state = _Cells()
    if place.parse and any(word in raw for word in (b"spark", b"Spark", b"SPARK")):
        state.trees = []  # no lowercased copy: this runs on every notebook
    if WRITES_BYTES.search(raw):
        state.writes = []
    # Parsing may warn (invalid escapes, ``is`` with a literal): the notebook's business, and
    # not something to print in the middle of the report.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, cell in enumerate(cells, start=1):
            try:
                _cell(summary, state, place, number, cell)
            except RecursionError:  # a tree that parsed but is too deep for a rule's walk
                summary.findings.append(Finding(rel, number, 0, "NB104", TOO_DEEP))
    _stored_state(summary, rel, state.outputs, state.counted)
    _hidden_state(summary, rel, state.executed, state.unexecuted)
    _threshold_writes(summary, state.writes)
    if state.trees:
        summary.spark_imports, summary.spark_findings = spark.facts(rel, state.trees)
    if place.parse and not state.dynamic and not _python2(data):
        for code, cell, line, message in hidden_state(state.names):
            summary.findings.append(Finding(rel, cell, line, code, message))


# cell magics that are not Python and define no Python names
QUIET_CELL_MAGICS = {
    "bash", "sh", "html", "HTML", "javascript", "js", "latex", "markdown", "svg", "writefile",
    "file", "script", "perl", "ruby", "system", "sx", "sql", "md", "dot",
}  # fmt: skip


def _opaque_magic(source: str) -> bool:
    """True when the cell is a cell magic of another language that may define names."""
    stripped = source.lstrip()
    if not stripped.startswith("%%"):
        return False
    name = stripped[2:].split(maxsplit=1)
    return bool(name) and name[0] not in PYTHON_CELL_MAGICS | QUIET_CELL_MAGICS


def _python2(data: dict[str, Any]) -> bool:
    """True for a Python 2 notebook (its builtins differ)."""
    metadata = data.get("metadata") or {}
    info = metadata.get("language_info") if isinstance(metadata, dict) else None
    spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    version = str(info.get("version", "")) if isinstance(info, dict) else ""
    name = str(spec.get("name", "")) if isinstance(spec, dict) else ""
    return version.startswith("2") or name == "python2"


def _python(data: dict[str, Any]) -> bool:
    """False for a notebook of another kernel language (R, Julia...): its code is not Python."""
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for key, field_name in (("kernelspec", "language"), ("language_info", "name")):
        value = metadata.get(key)
        language = value.get(field_name) if isinstance(value, dict) else None
        if isinstance(language, str) and language:
            return language.lower().startswith(("python", "ipython"))
    return True


def _cell(summary: Summary, state: _Cells, place: _Place, number: int, cell: Any) -> None:
    if not isinstance(cell, dict):
        summary.findings.append(
            Finding(place.rel, number, 0, "NB103", f"cell {number} is not a JSON object; fix it")
        )
        return
    source = _text(cell.get("source", ""))
    if "<<<<<<<" in source:
        _cell_conflict(summary, place.rel, number, source, cell.get("cell_type") == "markdown")
    if "noqa" in source:
        codes = _noqa(source)
        if codes is not None:
            summary.noqa[number] = codes
    if cell.get("cell_type") != "code":
        return
    if cell.get("outputs"):
        state.outputs.append(number)
    count = cell.get("execution_count")
    if isinstance(count, int):
        state.counted.append(number)
        state.executed.append((number, count))
    elif source.strip():
        state.unexecuted.append(number)
    tags = (cell.get("metadata") or {}).get("tags") or []
    _code_size(summary, source)
    if state.writes is not None:
        state.writes.append((number, data_writes(source)))
    if place.parse and ("%" in source or "!" in source):
        _written_modules(summary, source, cell)
    _code_cell(summary, state, place, number, source, "parameters" in tags)


def _code_size(summary: Summary, source: str) -> None:
    """Count the cell's lines of code (not blank, not comments) for the threshold."""
    lines = 0
    for line in source.split("\n"):  # a plain loop: faster here than a regex or a generator
        text = line.lstrip()
        if text and text[0] != "#":
            lines += 1
    if lines:
        summary.code_cells += 1
        summary.code_lines += lines


def _threshold_writes(summary: Summary, writes: list[tuple[int, list[str]]] | None) -> None:
    """How many data writes the notebook's code makes, the first call and its cell."""
    count = sum(len(calls) for _, calls in writes or ())
    if writes and count:
        cell, calls = next((n, calls) for n, calls in writes if calls)
        summary.writes = (count, calls[0].rstrip("( ").lstrip("."), cell)


# a whole conflict block: its three marker lines in order
CONFLICT_BLOCK = re.compile(r"^<{7}(?: .*)?\n(?:.*\n)*?={7}\n(?:.*\n)*?>{7}(?: |$)", re.MULTILINE)
_FENCE = re.compile(r"^[ \t]*(?:```|~~~).*?^[ \t]*(?:```|~~~)", re.MULTILINE | re.DOTALL)


def _cell_conflict(summary: Summary, rel: str, number: int, source: str, markdown: bool) -> None:
    """NB105 for a whole conflict block in the cell; in markdown, outside code fences (a
    tutorial showing git's markers)."""
    text = (
        _FENCE.sub(lambda fence: "\n" * fence.group().count("\n"), source) if markdown else source
    )
    match = CONFLICT_BLOCK.search(text)
    if match is None:
        return
    line = text.count("\n", 0, match.start()) + 1
    summary.findings.append(
        Finding(
            rel,
            number,
            line,
            "NB105",
            "merge-conflict markers in the cell (nbdime's inline merge); keep the side you "
            "want and delete the `<<<<<<<`, `=======` and `>>>>>>>` lines, or re-merge with "
            "`nbdime mergetool`",
        )
    )


def _stored_state(summary: Summary, rel: str, outputs: list[int], counted: list[int]) -> None:
    if outputs:
        many = f"{len(outputs)} cells have" if len(outputs) > 1 else "it has"
        summary.findings.append(
            Finding(
                rel,
                outputs[0],
                0,
                "NB201",
                f"stored outputs ({many} outputs); clear them before committing "
                "(nbstripout, or Restart Kernel and Clear Outputs)",
            )
        )
    if counted:
        many = f"{len(counted)} cells have" if len(counted) > 1 else "it has"
        summary.findings.append(
            Finding(
                rel,
                counted[0],
                0,
                "NB202",
                f"stored execution counts ({many} one); strip them before committing (nbstripout)",
            )
        )


def _hidden_state(
    summary: Summary, rel: str, executed: list[tuple[int, int]], unexecuted: list[int]
) -> None:
    for (before, count_before), (cell, count) in itertools.pairwise(executed):
        if count <= count_before:
            summary.findings.append(
                Finding(
                    rel,
                    cell,
                    0,
                    "NB301",
                    f"cell {cell} ran before cell {before} (execution count {count} after "
                    f"{count_before}); restart the kernel and run all, top to bottom",
                )
            )
            break
    if len(executed) >= 2:
        first, last = executed[0][0], executed[-1][0]
        skipped = [cell for cell in unexecuted if first < cell < last]
        if skipped:
            others = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
            summary.findings.append(
                Finding(
                    rel,
                    skipped[0],
                    0,
                    "NB302",
                    f"cell {skipped[0]}{others} was skipped between executed cells; "
                    "restart the kernel and run all, or delete the cell",
                )
            )


def _code_cell(
    summary: Summary, state: _Cells, place: _Place, number: int, source: str, is_parameters: bool
) -> None:
    if is_parameters:
        summary.parameters_cells.append(number)
    if "install" in source:
        _pip_installs(summary, place.rel, number, source)
    if not place.parse:
        return
    code = blank_magics(source)
    if state.trees is None and not is_parameters and not _needs_tree(code):
        flat = flat_names(code)  # no rule needs this cell's tree: names only, from Python
        if flat is not None:
            _names(state, number, flat, source)
            return
    tree, code = _parse(summary, place.rel, number, source, code)
    if tree is None:
        state.dynamic = state.dynamic or not _automagic(source)
        return
    _names(state, number, cell_names(tree), source)
    if state.trees is not None:
        state.trees.append(spark.Cell(number, tree))
    _tree_rules(summary, place, number, tree, code, is_parameters)


def _definitions(summary: Summary, place: _Place, number: int, tree: ast.Module, code: str) -> None:
    found = definitions(tree, place.rel, number, code)
    summary.functions += sum(definition.kind == "function" for definition in found)
    summary.definitions.extend(found)
    summary.function_names += [
        (node.name, number)
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def _needs_tree(code: str) -> bool:
    """True when a rule of ``_tree_rules`` may look at the cell's tree (its same tests)."""
    return (
        "def" in code
        or "class" in code
        or "import" in code
        or ("sys" in code and _SYS_PATH.search(code) is not None)
        or (("/" in code or "\\" in code) and _PATHISH.search(code) is not None)
    )


def _tree_rules(
    summary: Summary, place: _Place, number: int, tree: ast.Module, code: str, parameters: bool
) -> None:
    """The facts and findings of one parsed cell (``code``: the Python it is of)."""
    # Each rule looks at the tree only when the text can hold what it looks for (keep
    # ``_needs_tree`` in step: a cell it passes over is not parsed into a tree).
    if "def" in code or "class" in code:
        _definitions(summary, place, number, tree, code)
    if "import" in code:
        _imports(summary, tree, number, code)
        if summary.cluster is None and any(m.split(".")[0] in code for m in CLUSTER_MODULES):
            module = cluster_import(tree)
            summary.cluster = None if module is None else (module, number)
    if "sys" in code and _SYS_PATH.search(code):
        _sys_path_edits(summary, tree)
    if ("/" in code or "\\" in code) and _PATHISH.search(code):  # each path has one
        _paths(summary, tree, place, number)
    if parameters and len(summary.parameters_cells) == 1:
        _parameters(summary, tree, code, number)


def _names(state: _Cells, number: int, names: CellNames, source: str) -> None:
    """Record the names the cell binds and reads (with its magics'), for NB303/NB304."""
    state.names.append((number, names))
    if "%" in source:
        names.defined |= magic_names(source)
        for inner in magic_code(source):
            names.defined |= inner.defined
            names.used = {**inner.used, **names.used}
            names.deferred = {**inner.deferred, **names.deferred}
        state.dynamic = state.dynamic or _opaque_magic(source)
    if not state.dynamic and dynamic(source):
        state.dynamic = True


def _pip_installs(summary: Summary, rel: str, number: int, source: str) -> None:
    automagic = _automagic(source)  # `pip install x` alone in a cell runs %pip
    for index, line in enumerate(source.split("\n"), start=1):
        if PIP_INSTALL.match(line) or (automagic and PIP_INSTALL.match(f"%{line.strip()}")):
            summary.findings.append(
                Finding(
                    rel,
                    number,
                    index,
                    "NB403",
                    f"`{line.strip()}` installs packages from the notebook; declare them in "
                    "pyproject.toml and install the environment instead (make requirements)",
                )
            )


def _parse(
    summary: Summary, rel: str, number: int, source: str, code: str
) -> tuple[ast.Module | None, str]:
    """The cell's syntax tree and the Python text it is of; no tree (and an NB104 finding)
    when IPython could not run the cell.

    The fast path parses ``code``, ``blank_magics(source)``. Only a cell that fails it pays for
    IPython's own transformer (``IPython.core.inputtransformer2``, which ipykernel runs on
    every cell; imported on first need), so magics, automagic and continuation lines are
    judged as the kernel judges them.
    """
    try:
        return _tree(code), code
    except (SyntaxError, ValueError):
        pass
    except (RecursionError, MemoryError):
        summary.findings.append(Finding(rel, number, 0, "NB104", TOO_DEEP))
        return None, code
    try:
        code = _ipython_transform(source)
        return ast.parse(code), code
    except (RecursionError, MemoryError):
        summary.findings.append(Finding(rel, number, 0, "NB104", TOO_DEEP))
    except SyntaxError as error:
        if _automagic(source) or CONFLICT_BLOCK.search(source):
            return None, code  # automagic runs; NB105 reports conflict markers
        summary.findings.append(
            Finding(
                rel,
                number,
                error.lineno or 0,
                "NB104",
                f"cell does not parse ({error.msg}); fix the Python, or mark a non-Python cell "
                "with a cell magic such as %%bash",
            )
        )
    except ValueError:  # null bytes
        summary.findings.append(
            Finding(rel, number, 0, "NB104", "cell holds a null byte; remove it")
        )
    return None, code


_TRANSFORMER: list[Any] = []


def _ipython_transform(source: str) -> str:
    """``source`` as IPython's input transformer hands it to Python."""
    if not _TRANSFORMER:
        from IPython.core.inputtransformer2 import TransformerManager

        _TRANSFORMER.append(TransformerManager())  # type: ignore[no-untyped-call]
    return str(_TRANSFORMER[0].transform_cell(source))


# IPython's default line magics and aliases: with automagic (on by default) a one-line cell
# that starts with one of these names runs the magic (`pip install x`, `ls`, `cd data`).
AUTOMAGICS = frozenset(
    (
        "alias",
        "alias_magic",
        "autoawait",
        "autocall",
        "automagic",
        "bookmark",
        "cat",
        "cd",
        "clear",
        "colors",
        "conda",
        "config",
        "connect_info",
        "cp",
        "debug",
        "dhist",
        "dirs",
        "doctest_mode",
        "ed",
        "edit",
        "env",
        "gui",
        "hist",
        "history",
        "killbgscripts",
        "ldir",
        "less",
        "lf",
        "lk",
        "ll",
        "load",
        "load_ext",
        "loadpy",
        "logoff",
        "logon",
        "logstart",
        "logstate",
        "logstop",
        "ls",
        "lsmagic",
        "lx",
        "macro",
        "magic",
        "man",
        "matplotlib",
        "mkdir",
        "more",
        "mv",
        "notebook",
        "page",
        "pastebin",
        "pdb",
        "pdef",
        "pdoc",
        "pfile",
        "pinfo",
        "pinfo2",
        "pip",
        "popd",
        "pprint",
        "precision",
        "prun",
        "psearch",
        "psource",
        "pushd",
        "pwd",
        "pycat",
        "pylab",
        "qtconsole",
        "quickref",
        "recall",
        "rehashx",
        "reload_ext",
        "rep",
        "rerun",
        "reset",
        "reset_selective",
        "rm",
        "rmdir",
        "run",
        "save",
        "sc",
        "set_env",
        "store",
        "sx",
        "system",
        "tb",
        "time",
        "timeit",
        "unalias",
        "unload_ext",
        "who",
        "who_ls",
        "whos",
        "xdel",
        "xmode",
        "mamba",
        "micromamba",
        "uv",
    )
)


def _automagic(source: str) -> bool:
    """True for a one-line cell that IPython's automagic runs as a magic."""
    lines = [line for line in source.strip().split("\n") if line.strip()]
    words = lines[0].split() if len(lines) == 1 else []
    return bool(words) and words[0] in AUTOMAGICS and not lines[0].startswith((" ", "\t"))


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_RUNTIME_TEST = re.compile(r"colab|kaggle|sys\.modules|find_spec|pyodide|emscripten", re.IGNORECASE)


def _guards_imports(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(n is None or (isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS) for n in names):
            return True
    return False


def _imports(summary: Summary, tree: ast.Module, number: int, code: str) -> None:
    """Every absolute import, with whether a guard makes it optional at run time."""
    stack: list[tuple[ast.AST, bool]] = [(node, False) for node in tree.body]
    while stack:
        node, guarded = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            _import(summary, node, number, guarded)
        elif isinstance(node, ast.Try) and _guards_imports(node):
            stack.extend((child, True) for child in node.body)
            stack.extend((child, guarded) for child in (*node.handlers, *node.orelse))
        elif isinstance(node, ast.If) and _RUNTIME_TEST.search(
            ast.get_source_segment(code, node.test) or ""
        ):
            stack.extend((child, True) for child in (*node.body, *node.orelse))
        elif isinstance(node, (ast.stmt, ast.excepthandler)):
            stack.extend((child, guarded) for child in ast.iter_child_nodes(node))


def _import(
    summary: Summary, node: ast.Import | ast.ImportFrom, number: int, guarded: bool
) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            summary.imports.append((alias.name, number, node.lineno, guarded))
    elif node.module and not node.level:
        if node.module.split(".")[0] in NAMESPACES:  # google.cloud: the name says which
            for alias in node.names:
                module = f"{node.module}.{alias.name}"
                summary.imports.append((module, number, node.lineno, guarded))
        else:
            summary.imports.append((node.module, number, node.lineno, guarded))


_SYS_PATH = re.compile(r"sys\.path\.(?:append|insert|extend)|sys\.path\s*(?:\+=|=)")
_PY_FILE = re.compile(r"([A-Za-z_]\w*)\.py\b")
_PROTO = re.compile(r"([A-Za-z_]\w*)\.proto\b")
_WRITES = re.compile(r"^\s*%%(?:writefile|file)\s+(?:-a\s+)?(\S+)\.py\s*$", re.MULTILINE)


def _sys_path_edits(summary: Summary, tree: ast.Module) -> None:
    """Folders the cell adds to ``sys.path`` (literals, ``os.path.join`` of literals)."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        if not (
            node.func.attr in ("append", "insert", "extend")
            and isinstance(target, ast.Attribute)
            and target.attr == "path"
        ):
            continue
        argument = node.args[-1] if node.args else None
        folder = _literal_path(argument)
        if folder is None:
            summary.path_computed = True
        else:
            summary.path_edits.append(folder)


def _literal_path(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("abspath", "realpath", "normpath", "expanduser") and node.args:
            return _literal_path(node.args[0])
        if node.func.attr == "join":
            parts = [_literal_path(arg) for arg in node.args]
            if all(part is not None for part in parts):
                return os.path.join(*[part for part in parts if part is not None])
    return None


def _written_modules(summary: Summary, source: str, cell: dict[str, Any]) -> None:
    """Modules the cell writes: ``%%writefile name.py``, and ``.py`` files that its shell
    commands, or their stored output, name (``!protoc ...``)."""
    if "%%" in source:
        summary.written.extend(
            match.group(1).rsplit("/", 1)[-1] for match in _WRITES.finditer(source)
        )
    if "!" in source:
        for line in source.split("\n"):
            if line.lstrip().startswith("!") or "= !" in line:
                summary.written.extend(_PY_FILE.findall(line))
                if "protoc" in line:  # protoc --python_out writes NAME_pb2.py
                    for proto in _PROTO.findall(line):
                        summary.written.extend((f"{proto}_pb2", f"{proto}_pb2_grpc"))
    for output in cell.get("outputs") or []:
        if isinstance(output, dict) and output.get("name") == "stdout":
            summary.written.extend(_PY_FILE.findall(_text(output.get("text", ""))))


def _paths(summary: Summary, tree: ast.Module, place: _Place, number: int) -> None:
    rel = place.rel
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        value = node.value
        if ABSOLUTE.match(value):
            shown = value if len(value) <= 50 else value[:47] + "..."
            summary.findings.append(
                Finding(
                    rel,
                    number,
                    node.lineno,
                    "NB401",
                    f"absolute path {shown!r} works only on one machine; use a path relative "
                    "to the project (e.g. the package's config: RAW_DATA_DIR / 'file.csv')",
                )
            )
        elif value.startswith(("../", "..\\")):
            target = os.path.normpath(place.folder / value.replace("\\", "/"))
            inside = os.path.normpath(place.root)
            if not (target == inside or target.startswith(inside + os.sep)):
                summary.findings.append(
                    Finding(
                        rel,
                        number,
                        node.lineno,
                        "NB402",
                        f"path {value!r} leaves the project; put the file under data/ "
                        "(tracked with DVC) and refer to it there",
                    )
                )


def _parameters(summary: Summary, tree: ast.Module, code: str, number: int) -> None:
    target: ast.expr
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value_node = node.target, node.value
            annotation = ast.get_source_segment(code, node.annotation) or ""
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value_node, annotation = node.targets[0], node.value, ""
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            kind = type(ast.literal_eval(value_node)).__name__
        except (ValueError, SyntaxError, TypeError):
            kind = ""
        summary.parameters.append((target.id, annotation, kind, number, node.lineno))


# -- where a cell's lines are in the file (GitHub annotations point at file lines) ------------

_CELLS = re.compile(r'"cells"\s*:\s*\[')
_SOURCE = re.compile(r'"source"\s*:\s*')  # a key: inside JSON strings quotes are escaped
_GAP = re.compile(r"[\s,]*")


def file_lines(text: str, places: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """The 1-based line of the notebook's JSON ``text`` that holds each ``(cell, line)``.

    Line 0 of a cell is its first line. A place that cannot be found (the JSON is not as
    Jupyter writes it, the cell or line does not exist) is left out.
    """
    wanted = {place for place in places if place[0] > 0}
    if not wanted:
        return {}
    rows = _source_rows(text, max(cell for cell, _ in wanted))
    found = {}
    for cell, line in wanted:
        if cell <= len(rows) and rows[cell - 1]:
            cell_rows = rows[cell - 1]
            found[(cell, line)] = cell_rows[min(max(line, 1), len(cell_rows)) - 1]
    return found


def _source_rows(text: str, cells: int) -> list[list[int]]:
    """For each of the first ``cells`` cells, the file line of each line of its source."""
    decoder = json.JSONDecoder()
    match = _CELLS.search(text)
    found: list[list[int]] = []
    position = match.end() if match else len(text)
    while len(found) < cells:
        position = _skip(text, position)
        try:
            cell, end = decoder.raw_decode(text, position)
        except ValueError:
            break
        found.append(_rows(text, position, end, cell, decoder))
        position = end
    return found


def _skip(text: str, position: int) -> int:
    """The position after the blanks and commas from ``position``."""
    match = _GAP.match(text, position)
    return match.end() if match else position


def _rows(text: str, start: int, end: int, cell: Any, decoder: json.JSONDecoder) -> list[int]:
    source = cell.get("source") if isinstance(cell, dict) else None
    for key in _SOURCE.finditer(text, start, end):  # the cell's own, not one in its metadata
        try:
            value, _ = decoder.raw_decode(text, key.end())
        except ValueError:
            continue
        if value == source:
            break
    else:
        return []
    position = key.end()
    row = text.count("\n", 0, position) + 1
    if not isinstance(source, list):  # one JSON string: every line on the key's line
        return [row] * (_text(source).count("\n") + 1)
    rows: list[int] = []
    position += 1  # past "["
    for part in source:
        at = _skip(text, position)
        row += text.count("\n", position, at)
        _, position = decoder.raw_decode(text, at)
        rows.extend([row] * max(1, str(part).count("\n")))
    return rows or [row]
