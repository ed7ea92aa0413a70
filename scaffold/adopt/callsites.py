"""Removed methods rewritten where a run's traceback names the call site.

When a notebook still fails once the pins are found with ``AttributeError: 'Series' object
has no attribute 'order'`` (removed in pandas 0.20, older than any pandas with wheels for
today's Python), the traceback's innermost cell frame (``Cell In[12], line 5``) names the
line. Adopt rewrites the call on that line alone, and only where the replacement keeps the
meaning: ``REMOVED`` lists such methods, each with the arguments the replacement takes alike
(``Series.order(ascending=False)`` -> ``sort_values(ascending=False)``; a positional
argument, which the two read differently, is left alone). Then it runs the notebook again,
at most ``ROUNDS`` times. The rewrites are committed on their own, each listed.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scaffold.adopt.plan import Plan
from scaffold.adopt.runs import Failure, Outcome, failures, rerun_rounds
from scaffold.project import Project

MESSAGE = "Modernise removed APIs the runs named (mechanical rewrites)"
ROUNDS = 5  # runs of a notebook after a rewrite, at most
# (the object's type, the removed method) -> its replacement, for calls with keywords only
REMOVED = {("Series", "order"): "sort_values"}
_MISSING = re.compile(r"^AttributeError: '(\w+)' object has no attribute '(\w+)'")
_CELL = re.compile(r"^Cell In ?\[(\d+)\], line (\d+)", re.M)


@dataclass(frozen=True)
class Rewrite:
    """One call rewritten."""

    notebook: str
    cell: int  # its number, from 1
    line: int
    old: str  # "Series.order()"
    new: str  # "sort_values()"

    def __str__(self) -> str:
        return f"cell {self.cell} line {self.line}: {self.old} -> {self.new} (rewritten)"


def _removed(trace: str) -> bool:
    """True when ``trace`` is a removed method ``REMOVED`` knows."""
    missing = _MISSING.match(trace)
    return missing is not None and tuple(missing.groups()) in REMOVED


def named(failure: Failure) -> tuple[str, str, int, int] | None:
    """``(type, method, cell index, line)`` when the failure is a removed method ``REMOVED``
    knows, called from a cell line the traceback names."""
    missing = _MISSING.match(failure.trace)
    frames = _CELL.findall(failure.trace)
    if missing is None or not frames or tuple(missing.groups()) not in REMOVED:
        return None
    kind, method = missing.groups()
    count, line = (int(value) for value in frames[-1])
    index = failure.counts.get(count)
    return None if index is None else (kind, method, index, line)


def rewrite_line(source: str, method: str, new: str, line: int) -> str | None:
    """``source`` with the one call ``.method(keywords...)`` on ``line`` calling ``new``
    instead (None: no such single call, or a positional argument)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == method
             and node.func.end_lineno == line]  # fmt: skip
    if len(calls) != 1 or calls[0].args:
        return None
    end = calls[0].func.end_col_offset or 0
    lines = source.splitlines(keepends=True)
    raw = lines[line - 1].encode("utf-8")
    start = end - len(method.encode("utf-8"))
    if raw[start:end] != method.encode("utf-8"):
        return None
    lines[line - 1] = (raw[:start] + new.encode("utf-8") + raw[end:]).decode("utf-8")
    return "".join(lines)


def _apply(path: Path, failure: Failure, name: str) -> Rewrite | None:
    """The call the failure names rewritten in the notebook at ``path``."""
    from scaffold.adopt.code import dump, source_of

    found = named(failure)
    if found is None:
        return None
    kind, method, index, line = found
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not 0 <= index < len(cells):
        return None
    new = REMOVED[(kind, method)]
    changed = rewrite_line(source_of(cells[index]), method, new, line)
    if changed is None:
        return None
    cells[index]["source"] = changed.splitlines(keepends=True)
    path.write_text(dump(notebook), encoding="utf-8")
    return Rewrite(name, index + 1, line, f"{kind}.{method}()", f"{new}()")


def rewrite(
    plan: Plan,
    outcomes: list[Outcome],
    python: Path,
    timeout: float,
    echo: Callable[[str], object],
) -> list[Outcome]:
    """Rewrite the removed methods the failing notebooks' tracebacks name, run them again;
    commit the rewrites (the outcomes of the notebooks that run now updated)."""
    chosen = [o.notebook for o in outcomes if not o.now and _removed(o.trace)]
    if not chosen:
        return outcomes
    project = Project(plan.root, plan.answers)

    def run(names: list[str]) -> dict[str, Failure]:
        return failures(project, [plan.root / name for name in names], python, timeout)

    from scaffold.adopt.apply import undone_on_failure

    with undone_on_failure(plan.root, chosen):
        done, failing = rerun_rounds(
            run(chosen), lambda name, failure: _apply(plan.root / name, failure, name), run, ROUNDS
        )
        if done:
            _commit(plan, done)
    for name, changes in done.items():
        for change in changes:
            echo(f"  {name}: {change}")
    return [_updated(o, done.get(o.notebook, []), failing.get(o.notebook)) for o in outcomes]


def _updated(outcome: Outcome, changes: list[Rewrite], failure: Failure | None) -> Outcome:
    """The outcome after the rewrites: it runs, or its failure now."""
    from dataclasses import replace

    if not changes:
        return outcome
    rewritten = tuple(str(change) for change in changes)
    if failure is None:
        return replace(outcome, now=True, why="", trace="", rewritten=rewritten)
    return replace(outcome, why=failure.why, trace=failure.trace, rewritten=rewritten)


def _commit(plan: Plan, done: dict[str, list[Rewrite]]) -> None:
    from scaffold.adopt.apply import commit_apart

    body = "\n".join(f"{name}: {change}" for name, changes in done.items() for change in changes)
    commit_apart(plan.root, plan.answers, list(done), MESSAGE, body)
