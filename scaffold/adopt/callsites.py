"""Removed methods rewritten where a run's traceback names the call site.

When a notebook still fails once the pins are found with ``AttributeError: 'Series' object
has no attribute 'order'`` (removed in pandas 0.20, older than any pandas with wheels for
today's Python), the traceback's innermost cell frame (``Cell In[12], line 5``) names the
line. Adopt rewrites the call on that line alone, and only where the replacement keeps the
meaning: ``REMOVED`` lists such methods, each with the arguments the replacement takes alike
(``Series.order(ascending=False)`` -> ``sort_values(ascending=False)``; a positional
argument, which the two read differently, is left alone). Then it runs the notebook again,
at most ``ROUNDS`` times. The rewrites are committed on their own, each listed.

``.ix`` with an integer key (``df.ix[2013]``) meant ``.loc`` on an integer index and
``.iloc`` on any other; the modernise step leaves it, and a run names it
(``'DataFrame' object has no attribute 'ix'``). The ``.ix`` on that line (all of one object)
become ``.loc``; if the line then fails on its key (``KeyError``, ``TypeError``), the index
was not one of integers, and they become ``.iloc``; if that fails there too, the line is put
back as it was.

A changed default breaks some calls: geopandas 0.8 sets a map's aspect from its latitude,
where before every plot set ``"equal"``, and a map whose coordinates are not the degrees
its CRS says (a "latitude" of 260) raises ``ValueError: aspect must be finite and
positive``. ``DEFAULTS`` lists such changes: the error, the library's file it passes
through, the method, and the keyword that restores the old default; the call on the line
the traceback names gets that keyword (``.plot(..., aspect="equal")``), unless it passes it
already.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scaffold.adopt.plan import Plan
from scaffold.adopt.runs import Failure, Outcome, failures, rerun_rounds
from scaffold.project import Project

MESSAGE = "Modernise removed APIs the runs named (mechanical rewrites)"
ROUNDS = 8  # runs of a notebook after a rewrite, at most
# (the object's type, the removed method) -> its replacement, for calls with keywords only
REMOVED = {("Series", "order"): "sort_values"}
_MISSING = re.compile(r"^AttributeError: '(\w+)' object has no attribute '(\w+)'")
_IX_MISSING = re.compile(r"^AttributeError: '(?:DataFrame|Series)' object has no attribute 'ix'")
_ON_ITS_KEY = re.compile(r"^(?:KeyError|TypeError|IndexError)\b")
_CELL = re.compile(r"^Cell In ?\[(\d+)\], line (\d+)", re.M)


@dataclass(frozen=True)
class Default:
    """A library's changed default that breaks calls, and the keyword that restores it."""

    error: re.Pattern[str]  # the failure's first line
    frame: str  # a file of the library the traceback passes through
    method: str
    keyword: str
    value: str  # as code


DEFAULTS = (
    # geopandas before 0.8 set every plot's aspect "equal"; 0.8 takes it from the latitude
    Default(
        re.compile(r"^ValueError: aspect must be finite and positive"),
        "geopandas/plotting.py",
        "plot",
        "aspect",
        '"equal"',
    ),
)


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


def rewritable(trace: str) -> bool:
    """True when ``trace`` is a removed method ``REMOVED`` knows, ``.ix``, or a changed
    default ``DEFAULTS`` knows."""
    missing = _MISSING.match(trace)
    known = missing is not None and tuple(missing.groups()) in REMOVED
    return known or _IX_MISSING.match(trace) is not None or _default(trace) is not None


def _default(trace: str) -> Default | None:
    """The changed default ``DEFAULTS`` knows that the failure ``trace`` is."""
    return next((d for d in DEFAULTS if d.error.match(trace) and d.frame in trace), None)


def add_keyword(source: str, method: str, line: int, keyword: str, value: str) -> str | None:
    """``source`` with ``keyword=value`` added to the one ``.method(...)`` call on ``line``
    (None: no such single call, or it passes ``keyword`` or ``**kwargs`` already)."""
    call = _one_call(source, method, line)
    if call is None or any(k.arg in (keyword, None) for k in call.keywords):
        return None
    given: list[ast.expr | ast.keyword] = [*call.args, *call.keywords]
    last = max(given, key=lambda node: (node.end_lineno or 0, node.end_col_offset or 0),
               default=None)  # fmt: skip
    if last is None:  # no argument: just before the closing parenthesis
        row, column, text = call.end_lineno or line, (call.end_col_offset or 1) - 1, ""
    else:  # after the last argument, before any trailing comma
        row, column, text = last.end_lineno or line, last.end_col_offset or 0, ", "
    lines = source.splitlines(keepends=True)
    raw = lines[row - 1].encode("utf-8")
    added = f"{text}{keyword}={value}".encode()
    lines[row - 1] = (raw[:column] + added + raw[column:]).decode("utf-8")
    return "".join(lines)


def _failing_line(failure: Failure) -> tuple[int, int] | None:
    """``(cell index, line)`` of the innermost cell frame the traceback names."""
    frames = _CELL.findall(failure.trace)
    if not frames:
        return None
    count, line = (int(value) for value in frames[-1])
    index = failure.counts.get(count)
    return None if index is None else (index, line)


def ix_spans(source: str, line: int, attribute: str = "ix") -> list[tuple[int, int]] | None:
    """The character spans of ``attribute`` in each ``X.ix[...]`` on ``line`` (1-based), all
    of one object ``X``; None when there is none, or several objects."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = [node.value for node in ast.walk(tree) if isinstance(node, ast.Subscript)
             and isinstance(node.value, ast.Attribute) and node.value.attr == attribute
             and node.value.end_lineno == line]  # fmt: skip
    if not found or len({ast.unparse(value.value) for value in found}) != 1:
        return None
    raw = source.splitlines(keepends=True)[line - 1].encode("utf-8")
    spans = []
    for value in sorted(found, key=lambda node: node.end_col_offset or 0):
        end = value.end_col_offset or 0
        start = end - len(attribute.encode("utf-8"))
        if raw[start:end] != attribute.encode("utf-8"):
            return None
        spans.append((len(raw[:start].decode("utf-8")), len(raw[:end].decode("utf-8"))))
    return spans


def renamed_at(source: str, line: int, spans: list[tuple[int, int]], new: str) -> str:
    """``source`` with each span of ``line`` (characters) replaced by ``new``."""
    lines = source.splitlines(keepends=True)
    text = lines[line - 1]
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    lines[line - 1] = text
    return "".join(lines)


@dataclass
class IxTrial:
    """One line's ``.ix`` while it is tried as ``.loc``, then ``.iloc``."""

    original: str  # the cell's source before
    line: int
    attribute: str  # what it is now: "loc" or "iloc"
    failure: Failure  # the notebook's failure on .ix, which it has again if put back
    spans: list[tuple[int, int]] = field(default_factory=list)  # where "loc" is on the line


@dataclass
class IxTrials:
    """The ``.ix`` lines tried, by (notebook, cell index, line), and the ones put back."""

    lines: dict[tuple[str, int, int], IxTrial] = field(default_factory=dict)
    put_back: dict[str, Failure] = field(default_factory=dict)  # notebook -> its old failure


def _ix_change(path: Path, failure: Failure, name: str, trials: IxTrials) -> Rewrite | None:
    """``.ix`` on the line the failure names -> ``.loc``; a failure on its key there next ->
    ``.iloc``; one more -> the line as it was (None)."""
    from scaffold.adopt.code import dump, source_of

    where = _failing_line(failure)
    if where is None:
        return None
    index, line = where
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not 0 <= index < len(cells):
        return None
    source = source_of(cells[index])
    trial = trials.lines.get((name, index, line))
    if _IX_MISSING.match(failure.trace) and trial is None:
        spans = ix_spans(source, line)
        if spans is None:
            return None
        # each "ix" becomes the one-longer "loc": the spans after it shift by one more
        at = [(start + n, start + n + len("loc")) for n, (start, _) in enumerate(spans)]
        trials.lines[(name, index, line)] = IxTrial(source, line, "loc", failure, at)
        changed, new = renamed_at(source, line, spans, "loc"), "loc"
    elif trial is not None and _ON_ITS_KEY.match(failure.trace) and trial.attribute == "loc":
        # only the spans adopt wrote: a .loc of the author's on the line stays
        changed, new = renamed_at(source, line, trial.spans, "iloc"), "iloc"
        trial.attribute = "iloc"
    elif trial is not None and _ON_ITS_KEY.match(failure.trace):
        _put_line_back(path, name, (index, line), trials)
        return None
    else:
        return None
    cells[index]["source"] = changed.splitlines(keepends=True)
    path.write_text(dump(notebook), encoding="utf-8")
    return Rewrite(name, index + 1, line, ".ix[]", f".{new}[]")


def named(failure: Failure) -> tuple[str, str, int, int] | None:
    """``(type, method, cell index, line)`` when the failure is a removed method ``REMOVED``
    knows, called from a cell line the traceback names."""
    missing = _MISSING.match(failure.trace)
    where = _failing_line(failure)
    if missing is None or where is None or tuple(missing.groups()) not in REMOVED:
        return None
    kind, method = missing.groups()
    return kind, method, *where


def rewrite_line(source: str, method: str, new: str, line: int) -> str | None:
    """``source`` with the one call ``.method(keywords...)`` on ``line`` calling ``new``
    instead (None: no such single call, or a positional argument)."""
    call = _one_call(source, method, line)
    if call is None or call.args:
        return None
    end = call.func.end_col_offset or 0
    lines = source.splitlines(keepends=True)
    raw = lines[line - 1].encode("utf-8")
    start = end - len(method.encode("utf-8"))
    if raw[start:end] != method.encode("utf-8"):
        return None
    lines[line - 1] = (raw[:start] + new.encode("utf-8") + raw[end:]).decode("utf-8")
    return "".join(lines)


def _one_call(source: str, method: str, line: int) -> ast.Call | None:
    """The one call ``.method(...)`` whose name ends on ``line`` of ``source`` (None: none,
    several, or not Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == method
             and node.func.end_lineno == line]  # fmt: skip
    return calls[0] if len(calls) == 1 else None


def _put_line_back(path: Path, name: str, where: tuple[int, int], trials: IxTrials) -> None:
    """The ``.ix`` line tried at ``where`` (cell index, line) as it was before."""
    from scaffold.adopt.code import dump

    trial = trials.lines.pop((name, *where))
    notebook = json.loads(path.read_text(encoding="utf-8"))
    notebook["cells"][where[0]]["source"] = trial.original.splitlines(keepends=True)
    path.write_text(dump(notebook), encoding="utf-8")
    trials.put_back.setdefault(name, trial.failure)


def put_back_unfinished(root: Path, failing: dict[str, Failure], trials: IxTrials) -> None:
    """Put back each ``.ix`` line whose notebook still fails on its key there (the rounds
    ran out before ``.iloc``, or before the line was put back)."""
    for name, index, line in list(trials.lines):
        failure = failing.get(name)
        on_its_key = failure is not None and _ON_ITS_KEY.match(failure.trace) is not None
        if on_its_key and failure is not None and _failing_line(failure) == (index, line):
            _put_line_back(root / name, name, (index, line), trials)


def _apply(path: Path, failure: Failure, name: str, trials: IxTrials) -> Rewrite | None:
    """The call the failure names rewritten in the notebook at ``path``."""
    found = named(failure)
    default = _default(failure.trace)
    where = _failing_line(failure)
    if found is not None:
        kind, method, index, line = found
        new = REMOVED[(kind, method)]
        if _edit_cell(path, index, lambda source: rewrite_line(source, method, new, line)):
            return Rewrite(name, index + 1, line, f"{kind}.{method}()", f"{new}()")
        return None
    if default is not None and where is not None:
        index, line = where
        given = f"{default.keyword}={default.value}"
        if _edit_cell(path, index, lambda source: add_keyword(
                source, default.method, line, default.keyword, default.value)):  # fmt: skip
            return Rewrite(name, index + 1, line, f".{default.method}()",
                           f".{default.method}({given})")  # fmt: skip
        return None
    return _ix_change(path, failure, name, trials)


def _edit_cell(path: Path, index: int, edit: Callable[[str], str | None]) -> bool:
    """The source of cell ``index`` of the notebook at ``path`` replaced by ``edit``'s; False
    (nothing written) when there is no such cell or ``edit`` returns None."""
    from scaffold.adopt.code import dump, source_of

    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not 0 <= index < len(cells):
        return False
    changed = edit(source_of(cells[index]))
    if changed is None:
        return False
    cells[index]["source"] = changed.splitlines(keepends=True)
    path.write_text(dump(notebook), encoding="utf-8")
    return True


def rewrite(
    plan: Plan,
    outcomes: list[Outcome],
    python: Path,
    timeout: float,
    echo: Callable[[str], object],
) -> list[Outcome]:
    """Rewrite the removed methods the failing notebooks' tracebacks name, run them again;
    commit the rewrites (the outcomes of the notebooks that run now updated)."""
    chosen = [o.notebook for o in outcomes if not o.now and rewritable(o.trace)]
    if not chosen:
        return outcomes
    project = Project(plan.root, plan.answers)

    def run(names: list[str]) -> dict[str, Failure]:
        return failures(project, [plan.root / name for name in names], python, timeout)

    from scaffold.adopt.apply import undone_on_failure

    trials = IxTrials()
    before = {name: (plan.root / name).read_bytes() for name in chosen}
    with undone_on_failure(plan.root, chosen):
        done, failing = rerun_rounds(
            run(chosen),
            lambda name, failure: _apply(plan.root / name, failure, name, trials),
            run,
            ROUNDS,
        )
        put_back_unfinished(plan.root, failing, trials)
        done = _kept(done, trials)
        for name in chosen:  # no rewrite stands (every line put back): the file as it was
            if name not in done:
                (plan.root / name).write_bytes(before[name])
        failing = {**failing, **{name: old for name, old in trials.put_back.items()
                                 if name in failing}}  # fmt: skip
        if done:
            _commit(plan, done)
    for name, changes in done.items():
        for change in changes:
            echo(f"  {name}: {change}")
    return [_updated(o, done.get(o.notebook, []), failing.get(o.notebook)) for o in outcomes]


def _kept(done: dict[str, list[Rewrite]], trials: IxTrials) -> dict[str, list[Rewrite]]:
    """The rewrites that stand: one per line (``.iloc`` after ``.loc`` replaces it), none
    for a line put back."""
    kept: dict[str, list[Rewrite]] = {}
    for name, changes in done.items():
        last = {(change.cell, change.line): change for change in changes}
        standing = [change for change in last.values() if not _put_back(change, trials)]
        if standing:
            kept[name] = standing
    return kept


def _put_back(change: Rewrite, trials: IxTrials) -> bool:
    """True for an ``.ix`` line that was put back as it was."""
    tried = (change.notebook, change.cell - 1, change.line) in trials.lines
    return change.old == ".ix[]" and not tried


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
