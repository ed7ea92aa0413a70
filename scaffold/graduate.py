"""``scaffold graduate NOTEBOOK``: a production notebook becomes a module and a script stage.

The notebook's imports go to the top of ``src/<package>/pipelines/<name>.py``, its functions
and classes that need nothing of the notebook's globals become module functions, and the rest
of its code, top to bottom, becomes the body of ``run(*, <parameters>)``, whose keyword
arguments are the parameters cell's names, types and defaults. ``pipelines/__init__.py`` holds
``main``, which reads ``--params FILE`` and ``-p KEY=VALUE`` as ``scaffold run -p`` does.

The ``dvc.yaml`` stage then runs ``python -m <package>.pipelines.<name>`` with the same
parameters file, the same ``--cwd`` and the same outputs (less the executed notebook), and the
module in place of the notebook in its deps. The notebook stays, reduced to its parameters cell
and a call of ``run``: the readable record that papermill, sweeps and ``check --run`` can still
execute, with one copy of the code (the module), so the two cannot drift.

Proof: the stage's command runs before the change and the new command after it, and every
output of the stage is compared (bytes, or numbers in text files within a tolerance). Any
difference, failure or interrupt undoes every write and puts the outputs back as they were.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import math
import re
import shlex
import shutil
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold.check.notebook import blank_magics
from scaffold.errors import ScaffoldError
from scaffold.files import (
    Change,
    Write,
    apply,
    changes,
    project_lock,
    read_text,
    relative,
    scratch_folder,
)
from scaffold.layout import Package, find_package
from scaffold.parameters import TAG, Parameter, cell_source, parse, python_literal
from scaffold.project import Project

PIPELINES = "pipelines"
# Line magics that set up an interactive session and mean nothing in a script.
_SESSION_MAGICS = re.compile(r"^\s*%(?:load_ext\s+autoreload|autoreload|matplotlib|config)\b")
_NOTEBOOK_NAME = re.compile(r"^\d+\.\d+-[a-z0-9]+-")
_TEXT_SUFFIXES = {".csv", ".tsv", ".json", ".txt", ".yaml", ".yml", ".md", ".html"}
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf", re.IGNORECASE)
DEFAULT_RTOL = 1e-9

HELPER = '''\
"""Pipeline steps graduated from notebooks by ``scaffold graduate``.

Each module here has ``run(*, <parameters>)``, the notebook's code with its parameters cell as
keyword arguments, and runs as a script the way its DVC stage runs it::

    python -m {package}.pipelines.NAME --cwd notebooks --params params/NOTEBOOK.yaml -p seed=7

``-p KEY=VALUE`` wins over the file and is read as ``scaffold run -p`` reads it: text for a
``str`` parameter, else YAML (``7`` an int, ``0.5`` a float, ``[1, 2]`` a list).
"""

from __future__ import annotations

import argparse
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def convert(raw: str, annotation: Any) -> Any:
    """A ``-p`` value for a parameter declared ``annotation``."""
    import yaml

    kind = getattr(annotation, "__name__", str(annotation))
    if kind == "str":
        return raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    if kind == "float" and isinstance(value, (int, str)) and not isinstance(value, bool):
        value = float(value)
    return value


def main(run: Callable[..., Any], argv: Sequence[str] | None = None) -> Any:
    """Read ``--params FILE`` and ``-p KEY=VALUE``, move to ``--cwd``, then call ``run``."""
    import yaml

    parser = argparse.ArgumentParser(description=(run.__module__ or "") + ".run")
    parser.add_argument("--params", type=Path, help="YAML file of parameters")
    parser.add_argument("--cwd", type=Path, help="folder to run in (papermill's --cwd)")
    parser.add_argument(
        "-p", "--parameter", action="append", default=[], metavar="KEY=VALUE", help="override"
    )
    args = parser.parse_args(argv)
    declared = inspect.signature(run).parameters
    values: dict[str, Any] = {{}}
    if args.params is not None:
        loaded = yaml.safe_load(args.params.read_text(encoding="utf-8")) or {{}}
        if not isinstance(loaded, dict):
            parser.error(f"{{args.params}} is not a mapping of parameter: value")
        values.update(loaded)
    for item in args.parameter:
        key, sep, raw = item.partition("=")
        if not sep or key not in declared:
            parser.error(f"-p expects KEY=VALUE with one of {{', '.join(declared)}}: {{item!r}}")
        values[key] = convert(raw, declared[key].annotation)
    unknown = sorted(set(values) - set(declared))
    if unknown:
        parser.error(f"run() takes no parameter {{', '.join(unknown)}}")
    if args.cwd is not None:
        os.chdir(args.cwd)
    return run(**values)
'''

MODULE_HEAD = '''\
"""{title}: the code of {notebook} as a module.

Made by ``scaffold graduate``. Its DVC stage ({stage} in dvc.yaml) runs it as a script::

    {command}

``run`` takes the notebook's parameters; relative paths are read from the folder the notebook
ran in (``--cwd``).
"""
'''

TEST_STUB = '''\
"""{module}: the graduated pipeline of {notebook}."""

import inspect

from {module} import run


def test_run_takes_the_notebook_parameters():
    assert list(inspect.signature(run).parameters) == {names}
'''


@dataclass(frozen=True)
class Outcome:
    """How one output of the stage compared before and after."""

    path: str
    verdict: str  # "identical", "equal within rtol ...", or what differs

    @property
    def equal(self) -> bool:
        """True when the output is the same before and after."""
        return self.verdict.startswith(("identical", "equal"))


@dataclass(frozen=True)
class Graduation:
    """What ``graduate`` did (or would do)."""

    changes: list[Change]
    diff: str
    module: str  # dotted, e.g. ``lab.pipelines.train_model``
    stage: str
    command: str  # the stage's new cmd
    old_command: str
    outputs: list[str]
    compared: list[Outcome] = field(default_factory=list)


@dataclass
class _Stage:
    name: str
    raw: dict[str, Any]
    cmd: str
    notebook: str
    report: str
    params: str | None
    cwd: str
    inline: dict[str, Any]


# -- the stage --------------------------------------------------------------------------------


def _find_stage(root: Path, rel: str) -> _Stage:
    """The papermill stage of ``dvc.yaml`` that runs the notebook ``rel``; refuse otherwise."""
    import yaml

    from scaffold.pipeline import DVC_YAML, pipeline_stages

    stages = pipeline_stages(root) if (root / DVC_YAML).is_file() else []
    found = [s for s in stages if s.papermill is not None and s.papermill.notebook == rel]
    if not found:
        raise ScaffoldError(
            f"{rel} is not a production notebook (no papermill stage in dvc.yaml runs it); "
            f"make it one first: scaffold promote {Path(rel).stem}."
        )
    stage = found[0]
    call = stage.papermill
    assert call is not None
    raw = yaml.safe_load(read_text(root / DVC_YAML, root))["stages"][stage.name]
    if stage.wdir != ".":
        raise ScaffoldError(
            f"stage {stage.name} sets wdir: {stage.wdir}; scaffold graduate handles stages "
            "run from the project root."
        )
    return _Stage(stage.name, raw, stage.cmd, rel, call.report, call.params, call.cwd, call.inline)


def _entry_path(entry: Any) -> str:
    return str(next(iter(entry))) if isinstance(entry, dict) else str(entry)


def _outputs(stage: _Stage) -> list[str]:
    """The stage's outputs the proof compares: outs, metrics and plots, less the report."""
    found = []
    for key in ("outs", "metrics", "plots"):
        entries = stage.raw.get(key) or []
        for entry in entries if isinstance(entries, list) else []:
            path = _entry_path(entry)
            if path != stage.report and path not in found:
                found.append(path)
    return found


def _command(module: str, stage: _Stage) -> str:
    words = ["python", "-m", module]
    if stage.cwd != ".":
        words += ["--cwd", stage.cwd]
    if stage.params:
        words += ["--params", stage.params]
    for key, value in stage.inline.items():
        words += ["-p", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return shlex.join(words)


def _new_stage(stage: _Stage, command: str, module_file: str, helper: str) -> dict[str, Any]:
    """The stage that runs the module: same params, outputs less the report, the module as
    a dependency in place of the notebook (unless a folder already listed holds it)."""
    new: dict[str, Any] = {}
    for key, value in stage.raw.items():
        if key == "cmd":
            new[key] = command
        elif key == "deps":
            new[key] = _new_deps(value or [], stage.notebook, (module_file, helper))
        elif key == "outs":
            outs = [o for o in value or [] if _entry_path(o) != stage.report]
            if outs:
                new[key] = outs
        else:
            new[key] = value
    return new


def _new_deps(deps: list[Any], notebook: str, added: Sequence[str]) -> list[Any]:
    deps = [d for d in deps if _entry_path(d) != notebook]
    listed = [_entry_path(d).rstrip("/") for d in deps]
    for path in added:
        if not any(path == d or path.startswith(d + "/") for d in listed):
            deps.append(path)
    return deps


def _indented_dumper() -> Any:
    import yaml

    class Indented(yaml.SafeDumper):
        """Lists indented under their key, as dvc.yaml files are written."""

        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            return super().increase_indent(flow, False)

    return Indented


def _dvc_yaml(root: Path, stage: _Stage, new_stage: dict[str, Any]) -> str:
    """``dvc.yaml`` with the stage's block replaced; the rest of the file kept as written."""
    import yaml

    from scaffold.pipeline import DVC_YAML

    text = read_text(root / DVC_YAML, root)
    old = yaml.safe_load(text)
    lines = text.splitlines(keepends=True)
    start = next(
        (i for i, line in enumerate(lines) if re.match(rf"^(\s+){re.escape(stage.name)}:", line)),
        None,
    )
    if start is None:
        raise ScaffoldError(f"cannot find stage {stage.name} in dvc.yaml as text; edit it by hand.")
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines):
        line = lines[end]
        code = line.strip() and not line.lstrip().startswith("#")
        if code and len(line) - len(line.lstrip()) <= indent:
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    dumped = yaml.dump(
        {stage.name: new_stage},
        Dumper=_indented_dumper(),
        sort_keys=False,
        default_flow_style=False,
        width=1000,
    )
    dumped = re.sub(r": null$", ":", dumped, flags=re.MULTILINE)
    block = "".join(" " * indent + line + "\n" for line in dumped.splitlines())
    result = "".join(lines[:start]) + block + "".join(lines[end:])
    expected = {**old, "stages": {**old["stages"], stage.name: new_stage}}
    if yaml.safe_load(result) != expected:
        raise ScaffoldError(
            "could not rewrite the stage in dvc.yaml (unusual layout); nothing written."
        )
    return result


# -- the notebook's code ------------------------------------------------------------------------


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class _Cell:
    index: int
    source: str  # session magics removed
    tree: ast.Module


@dataclass
class _Code:
    """The notebook's code, sorted: hoisted imports, lifted definitions, the body of run."""

    imports: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    metrics: bool = False
    display: bool = False


def _source(cell: dict[str, Any]) -> str:
    value = cell.get("source", "")
    return "".join(value) if isinstance(value, list) else str(value)


def _tags(cell: dict[str, Any]) -> list[str]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return [str(t) for t in tags] if isinstance(tags, list) else []


def _code_cells(data: dict[str, Any], rel: str) -> list[_Cell]:
    """The code cells after the parameters cell's removal, each parsed; refuse what a module
    cannot hold (magics other than session set-up, shell escapes, ``global``, ``await``)."""
    found = []
    for index, cell in enumerate(data.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or TAG in _tags(cell):
            continue
        lines = _source(cell).split("\n")
        source = "\n".join("" if _SESSION_MAGICS.match(line) else line for line in lines)
        where = f"{rel} (cell {index + 1})"
        if blank_magics(source) != source:
            line = next(
                n
                for n, (a, b) in enumerate(
                    zip(source.split("\n"), blank_magics(source).split("\n"), strict=False), 1
                )
                if a != b
            )
            raise ScaffoldError(
                f"{where} line {line} uses an IPython magic or shell escape; a module cannot, "
                "so rewrite it in Python first."
            )
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            raise ScaffoldError(f"{where} is not valid Python (line {error.lineno}).") from None
        _refuse_scoping(tree, where)
        found.append(_Cell(index, source, tree))
    return found


def _refuse_scoping(tree: ast.Module, where: str) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            raise ScaffoldError(
                f"{where} line {node.lineno} declares `global {', '.join(node.names)}`; pass the "
                "value as an argument instead, then graduate."
            )
        if isinstance(node, ast.Name) and node.id == "get_ipython":
            raise ScaffoldError(f"{where} line {node.lineno} calls get_ipython(); a module cannot.")
    for node in tree.body:
        if isinstance(node, _DEFINITIONS):
            continue
        if any(isinstance(n, (ast.Await, ast.AsyncFor, ast.AsyncWith)) for n in ast.walk(node)):
            raise ScaffoldError(
                f"{where} line {node.lineno} awaits at the top level; a module cannot."
            )


def _bound_by_import(node: ast.Import | ast.ImportFrom) -> list[str]:
    return [(a.asname or a.name).split(".")[0] for a in node.names]


def _assigned(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds (not counting definitions and imports)."""
    if isinstance(node, (ast.Import, ast.ImportFrom, *_DEFINITIONS)):
        return set()
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            found.add(child.id)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(child.name)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            found.update(_bound_by_import(child))
    return found


def _span(node: ast.stmt) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(d.lineno for d in decorators)])
    return first - 1, node.end_lineno or node.lineno


def _alone(node: ast.stmt, lines: list[str]) -> bool:
    end = node.end_lineno or node.lineno
    rest = lines[end - 1][node.end_col_offset or 0 :].strip()
    return (
        node.col_offset == 0
        and (not rest or rest.startswith("#"))
        and not lines[node.lineno - 1][: node.col_offset].strip()
    )


def _bindings(cells: list[_Cell], parameters: Sequence[Parameter]) -> tuple[set[str], set[str]]:
    """Names the code assigns (parameters included), and names imported or defined twice."""
    assigned: set[str] = {p.name for p in parameters}
    seen: set[str] = set()
    twice: set[str] = set()
    for cell in cells:
        for node in cell.tree.body:
            assigned |= _assigned(node)
            names = _bound_by_import(node) if isinstance(node, (ast.Import, ast.ImportFrom)) else []
            if isinstance(node, _DEFINITIONS):
                names = [node.name]
            twice.update(n for n in names if n in seen)
            seen.update(names)
    return assigned, twice


def _sort(cells: list[_Cell], parameters: Sequence[Parameter]) -> _Code:
    """Which imports are hoisted and which definitions lifted; the rest is the body."""
    assigned, twice = _bindings(cells, parameters)
    hoisted: dict[int, list[ast.stmt]] = {}
    imported: set[str] = set()
    candidates: dict[str, tuple[_Cell, ast.stmt]] = {}
    for cell in cells:
        lines = cell.source.split("\n")
        for node in cell.tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and _alone(node, lines):
                if not any(n in assigned for n in _bound_by_import(node)):
                    hoisted.setdefault(cell.index, []).append(node)
                    imported.update(_bound_by_import(node))
            elif isinstance(node, _DEFINITIONS) and node.name not in assigned | twice:
                candidates[node.name] = (cell, node)
    lifted = _liftable(candidates, imported)
    return _split(cells, hoisted, {n: candidates[n] for n in lifted}, assigned)


def _liftable(candidates: dict[str, tuple[_Cell, ast.stmt]], imported: set[str]) -> set[str]:
    """The definitions that read only built-ins, hoisted imports and each other."""
    from scaffold.pycode import BUILTINS, free_names

    free = {}
    for name, (cell, node) in candidates.items():
        start, end = _span(node)
        free[name] = free_names("\n".join(cell.source.split("\n")[start:end]))
    lifted = set(candidates)
    changed = True
    while changed:  # a definition moves only when all it reads moves too (or is built in)
        changed = False
        for name in sorted(lifted):
            if not free[name] <= BUILTINS | imported | lifted:
                lifted.discard(name)
                changed = True
    return lifted


def _split(
    cells: list[_Cell],
    hoisted: dict[int, list[ast.stmt]],
    lifted: dict[str, tuple[_Cell, ast.stmt]],
    assigned: set[str],
) -> _Code:
    code = _Code(metrics="metrics" in assigned)
    seen: set[str] = set()
    by_cell: dict[int, list[ast.stmt]] = {}
    for cell, node in lifted.values():
        by_cell.setdefault(cell.index, []).append(node)
    for cell in cells:
        lines = cell.source.split("\n")
        cut: list[tuple[int, int]] = []
        for node in hoisted.get(cell.index, []):
            start, end = _span(node)
            text = "\n".join(lines[start:end]).strip()
            if text not in seen:
                seen.add(text)
                code.imports.append(text)
            cut.append((start, end))
        for node in by_cell.get(cell.index, []):
            start, end = _span(node)
            code.definitions.append("\n".join(lines[start:end]).rstrip())
            cut.append((start, end))
        cut += [_span(node) for node in cell.tree.body if _shown_only(node, lines)]
        for start, end in sorted(cut, reverse=True):
            del lines[start:end]
        rest = "\n".join(lines).strip("\n")
        if rest.strip():
            code.body.append(f"# cell {cell.index + 1}\n{rest}")
    code.display = "display" in {
        n.id for c in cells for n in ast.walk(c.tree) if isinstance(n, ast.Name)
    } and not any(re.search(r"\bdisplay\b", i) for i in code.imports)
    return code


def _shown_only(node: ast.stmt, lines: list[str]) -> bool:
    """A bare name, attribute or constant a cell ends with to show it: a script has nothing
    to show it on, and ruff flags it (B018)."""
    if not isinstance(node, ast.Expr) or not _alone(node, lines):
        return False
    allowed = (ast.Name, ast.Attribute, ast.Constant, ast.Tuple, ast.Load)
    return all(isinstance(child, allowed) for child in ast.walk(node.value))


def _string_lines(text: str) -> set[int]:
    """1-based lines inside a multi-line string (indenting them would change the string)."""
    inside: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.start[0] < token.end[0] and token.type != tokenize.NL:
                inside.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    return inside


def _indented(text: str) -> str:
    keep = _string_lines(text)
    return "\n".join(
        line if n in keep or not line.strip() else "    " + line
        for n, line in enumerate(text.split("\n"), 1)
    )


def _signature(parameters: Sequence[Parameter]) -> str:
    args = []
    for p in parameters:
        annotation = p.annotation or type(p.value).__name__
        if annotation == "NoneType":
            annotation = "Any"
        args.append(f"{p.name}: {annotation} = {python_literal(p.value)}")
    return ", ".join(["*", *args]) if args else ""


def _docstring_safe(text: str) -> str:
    """``text`` as it can stand in a docstring: no quotes that end it, no escapes."""
    return text.replace("\\", "/").replace('"', "'")


def _title(data: dict[str, Any], stem: str) -> str:
    for cell in data.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            for line in _source(cell).split("\n"):
                if line.startswith("#"):
                    return line.lstrip("#").strip() or stem
    return stem


def module_text(
    data: dict[str, Any],
    rel: str,
    parameters: Sequence[Parameter],
    *,
    module: str,
    package: str,
    stage: str,
    command: str,
) -> tuple[str, bool]:
    """The module's source (before formatting) and whether ``run`` returns the metrics."""
    code = _sort(_code_cells(data, rel), parameters)
    title = _docstring_safe(_title(data, Path(rel).stem))
    imports = list(code.imports)
    if code.display:
        imports.append("from IPython.display import display")
    if code.metrics or any(p.value is None and not p.annotation for p in parameters):
        imports.append("from typing import Any")
    imports.append(f"from {package}.{PIPELINES} import main")
    returns = "dict[str, Any]" if code.metrics else "None"
    docs = [f"        {p.name}: {_docstring_safe(p.comment)}" for p in parameters if p.comment]
    doc = "The notebook's code, top to bottom, its parameters as keyword arguments."
    if docs:
        doc += "\n\n    Args:\n" + "\n".join(docs) + "\n    "
    body = "\n\n".join(_indented(chunk) for chunk in code.body) or "    pass"
    if code.metrics:
        body += "\n    return metrics"
    parts = [
        MODULE_HEAD.format(title=title, notebook=rel, stage=stage, command=command).rstrip(),
        "\n".join(imports),
        *code.definitions,
        f'def run({_signature(parameters)}) -> {returns}:\n    """{doc}"""\n{body}',
        'if __name__ == "__main__":\n    main(run)',
    ]
    text = "\n\n\n".join(parts) + "\n"
    try:
        compile(text, module, "exec")
    except SyntaxError as error:
        raise ScaffoldError(
            f"the module would not compile ({error.msg}, line {error.lineno}); nothing written."
        ) from None
    if _unused_locals(text):
        parts.insert(1, UNUSED_NOTE)
        text = "\n\n\n".join(parts) + "\n"
    return text, code.metrics


UNUSED_NOTE = """\
# A notebook keeps values in variables to look at them; run() keeps those lines, which ruff
# would call unused (F841). Delete what nobody reads, then this line:
# ruff: noqa: F841"""


def _unused_locals(text: str) -> bool:
    """Whether ``run`` assigns a local it never reads (a notebook variable left to look at)."""
    import symtable

    table = symtable.symtable(text, "<graduate>", "exec")
    run = next((t for t in table.get_children() if t.get_name() == "run"), None)
    return run is not None and any(
        s.is_assigned() and not s.is_referenced() and not s.is_parameter()
        for s in run.get_symbols()
    )


def _record(data: dict[str, Any], module: str, metrics: bool, module_file: str) -> dict[str, Any]:
    """The notebook as its readable record: its leading markdown, a note, the parameters cell
    and one cell calling ``run`` (tagged ``metrics`` when the notebook had metrics)."""
    cells = [c for c in data.get("cells", []) if isinstance(c, dict)]
    head = []
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            break
        head.append(cell)
    parameters = next(c for c in cells if TAG in _tags(c))
    names = [p.name for p in parse(_source(parameters))]
    call = f"run({', '.join(f'{n}={n}' for n in names)})"
    source = f"from {module} import run\n\n" + (f"metrics = {call}\nmetrics" if metrics else call)
    ids = {c.get("id") for c in cells}
    note = (
        f"**Graduated** with `scaffold graduate`: this notebook's code is now `{module_file}`, "
        "and its `dvc.yaml` stage runs that module as a script. The notebook stays as the "
        "readable record: set the parameters below and run it (papermill, `scaffold run` and "
        "sweeps still work). The code it had before is in git's history."
    )
    new_cells = [
        *head,
        {"cell_type": "markdown", "id": _free_id(ids, "graduated"), "metadata": {}, "source": note},
        parameters,
        {
            "cell_type": "code",
            "execution_count": None,
            "id": _free_id(ids, "run"),
            "metadata": {"tags": ["metrics"]} if metrics else {},
            "outputs": [],
            "source": source,
        },
    ]
    return {**data, "cells": new_cells}


def _free_id(ids: set[Any], base: str) -> str:
    return next(i for i in (base, *(f"{base}-{n}" for n in range(1, 99))) if i not in ids)


# -- the plan ---------------------------------------------------------------------------------


def module_name(stem: str) -> str:
    """The module a notebook graduates into: its description, ``_`` for ``-``."""
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", _NOTEBOOK_NAME.sub("", stem)).strip("_").lower()
    if not name or not name[0].isalpha():
        name = f"step_{name}"
    return name


@dataclass(frozen=True)
class Plan:
    """The writes that graduate a notebook, and what the proof runs and compares."""

    writes: list[Write]
    graduation: Graduation
    notebook: Path
    new_command: list[str]
    old_command: list[str]
    report: str  # the executed notebook the old stage writes: restored on undo, not compared


def _package(project: Project) -> Package:
    package = find_package(project)
    if package is None:
        raise ScaffoldError(
            f"cannot find the project's Python package under {project.root} (looked for "
            "src/<name>/__init__.py and <name>/__init__.py)."
        )
    return package


def plan_graduate(
    project: Project, notebook: str, *, name: str | None = None, cwd: Path | None = None
) -> Plan:
    """What graduating ``notebook`` writes; nothing written."""
    from scaffold.execution import resolve_notebook
    from scaffold.ipynb import dumped
    from scaffold.layout import check_module_name
    from scaffold.pycode import formatted

    root = project.root
    path = resolve_notebook(root, notebook, cwd or Path.cwd())
    rel = relative(path, root)
    stage = _find_stage(root, rel)
    text = read_text(path, root)
    try:
        data = json.loads(text)
    except ValueError:
        raise ScaffoldError(f"{rel} is not valid JSON; restore it from git.") from None
    source = cell_source(data.get("cells", []) if isinstance(data, dict) else [])
    if source is None:
        raise ScaffoldError(f"{rel} has no cell tagged 'parameters'; add one (scaffold promote).")
    parameters = parse(source, f"the parameters cell of {rel}")
    _refuse_unknown_params(root, stage, parameters)
    package = _package(project)
    mod = check_module_name(name or module_name(path.stem))
    folder = package.folder / PIPELINES
    module_path = folder / f"{mod}.py"
    helper_path = folder / "__init__.py"
    test_path = root / "tests" / f"test_pipeline_{mod}.py"
    for taken in (module_path, test_path):
        if taken.exists():
            raise ScaffoldError(f"{relative(taken, root)} already exists; choose another --name.")
    dotted = f"{package.name}.{PIPELINES}.{mod}"
    command = _command(dotted, stage)
    module, metrics = module_text(
        data, rel, parameters, module=dotted, package=package.name, stage=stage.name,
        command=command,
    )  # fmt: skip
    writes = [
        Write(module_path, formatted(module, root, relative(module_path, root), package.name))
    ]
    if not helper_path.exists():
        writes.insert(0, Write(helper_path, HELPER.format(package=package.name)))
    elif not read_text(helper_path, root).strip():  # a bare package marker: nothing to keep
        writes.insert(0, Write(helper_path, HELPER.format(package=package.name), create=False))
    elif "def main(" not in read_text(helper_path, root):
        raise ScaffoldError(
            f"{relative(helper_path, root)} exists without main(); scaffold graduate needs "
            "its own there. Move that file away."
        )
    names = [p.name for p in parameters]
    writes.append(
        Write(test_path, TEST_STUB.format(module=dotted, notebook=rel, names=json.dumps(names)))
    )
    new_stage = _new_stage(stage, command, relative(module_path, root), relative(helper_path, root))
    writes.append(Write(root / "dvc.yaml", _dvc_yaml(root, stage, new_stage), create=False))
    record = _record(data, dotted, metrics, relative(module_path, root))
    writes.append(Write(path, dumped(text, record), create=False))
    diff = _diff(root, writes, text, record)
    graduation = Graduation(
        changes(writes, root), diff, dotted, stage.name, command, stage.cmd, _outputs(stage)
    )
    return Plan(
        writes, graduation, path, shlex.split(command), shlex.split(stage.cmd), stage.report
    )


def _refuse_unknown_params(root: Path, stage: _Stage, parameters: Sequence[Parameter]) -> None:
    if not stage.params:
        return
    import yaml

    try:
        values = yaml.safe_load(read_text(root / stage.params, root)) or {}
    except (OSError, yaml.YAMLError):
        raise ScaffoldError(f"{stage.params} cannot be read as YAML; fix it.") from None
    declared = {p.name for p in parameters}
    unknown = sorted(set(values if isinstance(values, dict) else {}) - declared)
    if unknown:
        raise ScaffoldError(
            f"{stage.params} sets {', '.join(unknown)}, which the parameters cell does not "
            "declare; declare them there (run() takes the cell's names)."
        )


def _diff(root: Path, writes: Sequence[Write], before: str, record: dict[str, Any]) -> str:
    lines: list[str] = []
    for write in writes:
        shown = relative(write.path, root)
        if write.path.suffix == ".ipynb":
            old = _cells_text(json.loads(before))
            new = _cells_text(record)
        else:
            old = read_text(write.path, root) if not write.create else ""
            new = write.text
        a = "/dev/null" if write.create else f"a/{shown}"
        lines += difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), a, f"b/{shown}"
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _cells_text(data: dict[str, Any]) -> str:
    return "".join(
        f"# [{c.get('cell_type')}] {c.get('id', '')}\n{_source(c).rstrip()}\n\n"
        for c in data.get("cells", [])
        if isinstance(c, dict)
    )


# -- the proof --------------------------------------------------------------------------------


def _files(root: Path, outputs: Sequence[str]) -> Iterator[str]:
    for output in outputs:
        path = root / output
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and "__pycache__" not in child.parts:
                    yield relative(child, root)
        elif path.exists():
            yield output


def _copy(root: Path, outputs: Sequence[str], into: Path) -> list[str]:
    copied = []
    for rel in _files(root, outputs):
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
        copied.append(rel)
    return copied


def _restore(root: Path, outputs: Sequence[str], saved: Path, kept: Sequence[str]) -> None:
    """Put the outputs back as ``saved`` holds them; remove those that did not exist."""
    for rel in list(_files(root, outputs)):
        if rel not in kept:
            (root / rel).unlink(missing_ok=True)
    for rel in kept:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(saved / rel, root / rel)


def compare(before: Path, after: Path, rtol: float = DEFAULT_RTOL) -> str:
    """``identical``, ``equal within rtol ...`` (numbers in a text file), else what differs."""
    if not after.exists():
        return "missing after graduating"
    if before.read_bytes() == after.read_bytes():
        return "identical"
    if before.suffix.lower() not in _TEXT_SUFFIXES:
        return "differs (binary file, bytes not identical)"
    try:
        old, new = before.read_text(encoding="utf-8"), after.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "differs (not UTF-8 text, bytes not identical)"
    return _compare_text(old, new, rtol)


def _compare_text(old: str, new: str, rtol: float) -> str:
    for number, (a, b) in enumerate(zip(old.split("\n"), new.split("\n"), strict=False), 1):
        if a == b:
            continue
        if _NUMBER.split(a) != _NUMBER.split(b):
            return f"differs at line {number}: {a.strip()[:60]!r} before, {b.strip()[:60]!r} after"
        for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b), strict=True):
            if not _close(float(x), float(y), rtol):
                return f"differs at line {number}: {x} before, {y} after (beyond rtol {rtol:g})"
    if old.count("\n") != new.count("\n"):
        return "differs: a different number of lines"
    return f"equal within rtol {rtol:g} (numbers differ in their last digits)"


def _close(a: float, b: float, rtol: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=rtol, abs_tol=0.0)


def _run_stage(project: Project, words: Sequence[str], interpreter: Any, when: str) -> None:
    from scaffold import processes

    program = interpreter.bin_dir / words[0]
    args = [str(program) if program.is_file() else words[0], *words[1:]]
    done = processes.run(args, cwd=project.root, env=interpreter.environment(), check=False)
    if not done.ok:
        raise ScaffoldError(
            f"the stage failed {when} ({shlex.join(words[:3])} ...): {done.message}."
        )


def graduate(
    project: Project,
    notebook: str,
    *,
    name: str | None = None,
    dry_run: bool = False,
    rtol: float = DEFAULT_RTOL,
    python: Path | None = None,
    cwd: Path | None = None,
) -> Graduation:
    """Graduate ``notebook``; run its stage before and after and compare the outputs; undo
    everything (outputs included) when they differ, a run fails, or on an interrupt."""
    if dry_run:
        return plan_graduate(project, notebook, name=name, cwd=cwd).graduation
    from scaffold import interpreters

    root = project.root
    with project_lock(root):
        plan = plan_graduate(project, notebook, name=name, cwd=cwd)
        interpreter = interpreters.find_interpreter(project, python)
        interpreters.check_interpreter(interpreter, project)
        outputs = [*plan.graduation.outputs, plan.report]
        created = [w.path.parent for w in plan.writes if w.create and not w.path.parent.exists()]
        before_text = {w.path: read_text(w.path, root) for w in plan.writes if not w.create}
        with scratch_folder("scaffold-graduate-") as scratch:
            saved = Path(scratch, "saved")
            kept = _copy(root, outputs, saved)
            try:
                compared = _prove(project, plan, interpreter, Path(scratch, "before"), rtol)
            except BaseException:
                for write in plan.writes:
                    if write.create:
                        write.path.unlink(missing_ok=True)
                apply([Write(p, t, create=False) for p, t in before_text.items()])
                for folder in created:
                    shutil.rmtree(folder, ignore_errors=True)
                _restore(root, outputs, saved, kept)
                raise
    g = plan.graduation
    return Graduation(
        g.changes, g.diff, g.module, g.stage, g.command, g.old_command, g.outputs, compared
    )


def _prove(project: Project, plan: Plan, interpreter: Any, ran: Path, rtol: float) -> list[Outcome]:
    """Run the old stage, write the plan, run the new one; raise when the outputs differ."""
    root, outputs = project.root, plan.graduation.outputs
    _run_stage(project, plan.old_command, interpreter, "before graduating")
    produced = _copy(root, outputs, ran)
    apply(plan.writes)
    _run_stage(project, plan.new_command, interpreter, "after graduating")
    compared = [Outcome(rel, compare(ran / rel, root / rel, rtol)) for rel in produced]
    extra = sorted(set(_files(root, outputs)) - set(produced))
    compared += [Outcome(rel, "differs: made only after graduating") for rel in extra]
    bad = [c for c in compared if not c.equal]
    if bad:
        shown = "; ".join(f"{c.path} {c.verdict}" for c in bad)
        raise ScaffoldError(f"the outputs differ ({shown}); the graduation is undone.")
    return compared
