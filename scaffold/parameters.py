"""Notebook parameters: the cell tagged ``parameters``, read and written as typed Python.

A parameter is one line ``name: type = value  # comment`` (papermill's ``--help-notebook``
shows the type and the comment). The same list writes a notebook's parameters cell and its
parameters file, so the two always have the same keys.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError

TAG = "parameters"


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter with its default."""

    name: str
    annotation: str  # e.g. "str", "int", "list[str]"; empty when the line has no annotation
    value: Any  # a Python literal
    comment: str = ""

    def line(self) -> str:
        """The parameter as a line of the parameters cell."""
        typed = f": {self.annotation}" if self.annotation else ""
        comment = f"  # {self.comment}" if self.comment else ""
        return f"{self.name}{typed} = {python_literal(self.value)}{comment}"


def python_literal(value: Any) -> str:
    """``value`` as Python source, with double-quoted strings (as ruff format writes them)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        items = ", ".join(python_literal(item) for item in value)
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, dict):
        pairs = ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return f"{{{pairs}}}"
    return repr(value)


def parse(source: str, where: str = "the parameters cell") -> list[Parameter]:
    """The parameters assigned in ``source`` (literal values only, in order)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ScaffoldError(f"{where} is not valid Python (line {error.lineno}).") from None
    except (RecursionError, MemoryError):
        raise ScaffoldError(f"{where} is nested too deeply for Python's parser.") from None
    lines = source.splitlines()
    found: list[Parameter] = []
    for node in tree.body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value_node = node.target, node.value
            annotation = ast.get_source_segment(source, node.annotation) or ""
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value_node, annotation = node.targets[0], node.value, ""
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            value = ast.literal_eval(value_node)
        except (ValueError, SyntaxError, TypeError):
            continue  # not a literal: papermill can still override it, a file cannot hold it
        found.append(Parameter(target.id, annotation, value, _comment_after(lines, node)))
    return found


def _comment_after(lines: list[str], node: ast.stmt) -> str:
    end_line, end_col = node.end_lineno, node.end_col_offset
    if end_line is None or end_col is None or end_line > len(lines):
        return ""
    rest = lines[end_line - 1][end_col:].strip()
    return rest[1:].strip() if rest.startswith("#") else ""


def cell_source(cells: Sequence[Any]) -> str | None:
    """The source of the first cell tagged ``parameters`` among notebook JSON cells."""
    for cell in cells:
        metadata = cell.get("metadata") if isinstance(cell, dict) else None
        if isinstance(metadata, dict) and TAG in (metadata.get("tags") or []):
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else str(source)
    return None


def of_notebook(path: Path) -> list[Parameter] | None:
    """The parameters of the notebook at ``path`` (None when it has no parameters cell).

    Reads the JSON directly: fast, and no nbformat import.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ScaffoldError(f"cannot read notebook {path}: {error}.") from None
    except RecursionError:
        raise ScaffoldError(f"cannot read notebook {path}: JSON nested too deeply.") from None
    cells = data.get("cells", []) if isinstance(data, dict) else []
    source = cell_source(cells if isinstance(cells, list) else [])
    return None if source is None else parse(source, f"the parameters cell of {path.name}")
