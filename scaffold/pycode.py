"""Python source helpers that extract, promote and graduate share: the names a piece of code
reads from outside, and formatting with the project's ruff."""

from __future__ import annotations

import builtins
import json
import symtable
from pathlib import Path

from scaffold import processes

# Names a notebook's code may read without defining or importing them.
BUILTINS = set(dir(builtins)) | {"__file__", "__name__", "display", "get_ipython"}


def free_names(source: str) -> set[str]:
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


def formatted(text: str, root: Path, name: str, package: str | None = None) -> str:
    """``text`` formatted by ruff with the project's settings (isort's order too, with
    ``package`` first-party); unchanged when ruff is not installed or cannot format it."""
    ruff = processes.find_tool("ruff")
    if ruff is None:
        return text
    steps = [["format", "--quiet", "-"]]
    if package:
        first = ["--config", f"lint.isort.known-first-party = [{json.dumps(package)}]"]
        steps.insert(0, ["check", "--select", "I", "--fix", *first, "--quiet", "-"])
    for args in steps:
        done = processes.run(
            [ruff, *args, "--stdin-filename", name], cwd=root, input=text, check=False
        )
        if done.text and (done.ok or args[0] == "check"):
            text = done.text
    return text
