"""Cells that raise on purpose in notebooks whose outputs were stripped.

A teaching notebook shows errors on purpose (``"5" + 5``, assigning into a tuple); with its
outputs stripped nothing in the file says so, and the error stops a run top to bottom. After
the search for versions (``pins``) has left a notebook failing, adopt reads the failure. It
gives the failing cell Jupyter's ``raises-exception`` tag (nbval's and Jupyter Book's
convention: the runner goes on past it) only when all of these hold:

- the failure is classed "an error in the code" (never missing data or module, the network,
  or a name defined out of order), and its exception is one a demonstration shows:
  ``TypeError``, ``ValueError``, ``KeyError``, ``IndexError``, ``ZeroDivisionError``, whose
  message says nothing of a changed API (an unexpected keyword argument, a removed or
  deprecated name, a missing attribute);
- every frame of the traceback is the notebook's own code (the cell's line, or a function
  an earlier cell defined): Python or a builtin raised it, not a library (a library's error
  is the kind a version cures). Or the cell's last line is a bare expression whose error
  one library raised (``ser[-1]``: ``KeyError`` in pandas), and the same cell raises the
  same error with that library at its oldest release with a wheel for this Python, in a
  scratch copy of the project's environment (``Oldest``): the library's behaviour, not
  its rot;
- the cell is short (at most ``LINES`` lines of code) and the line that raised is its last
  statement, so nothing after it in the cell is skipped;
- with the cell tagged, the notebook runs to its end (a later cell that fails the same way
  may be tagged too, at most ``TAGS`` per notebook); otherwise every tag of that notebook is
  taken back.

The tags are committed on their own ("Tag the cells that raise on purpose"), each listed in
``[tool.scaffold.adopt.raises]`` in pyproject.toml for the team to review.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scaffold.adopt.pins import Search
from scaffold.adopt.plan import Plan
from scaffold.adopt.runs import (
    CELL_FRAME,
    LIBRARY_FRAME,
    Failure,
    Outcome,
    failures,
    innermost_library,
    rerun_rounds,
)
from scaffold.files import scratch_folder
from scaffold.project import Project

TAG = "raises-exception"
TAG_MESSAGE = "Tag the cells that raise on purpose (review them)"
ON_PURPOSE = (
    "TypeError",
    "ValueError",
    "KeyError",
    "IndexError",
    "ZeroDivisionError",
    "UnicodeDecodeError",
)
LINES = 3  # lines of code in a tagged cell, at most
TAGS = 8  # tagged cells per notebook, at most
# a message that says an API changed: library rot, which a version (or a rewrite) cures
_CHANGED_API = re.compile(
    r"unexpected keyword|keyword argument|positional argument|required positional|"
    r"has no attribute|deprecat|removed|no longer|not supported|is not available",
    re.I,
)
# a traceback's frame headers: the cell's own (IPython 8: "Cell In[3], line 2"; 7:
# "<ipython-input-3-...> in <module>", "Input In [3], in <cell line: 2>") or a file's
_FILE_FRAME = re.compile(r"^(?:File |\S+\.py[:\s])")
_ARROW = re.compile(r"^-+> *(\d+)", re.M)
# needs the network, needs a desktop: no tag makes them run
_SKIPPED = ("missing data", "needs ", "timed out", "no kernel", "hidden state")


@dataclass(frozen=True)
class Tagged:
    """One cell tagged ``raises-exception``."""

    notebook: str
    cell: int  # its number, from 1
    error: str  # "TypeError: 'tuple' object does not support item assignment"
    oldest: str = ""  # raised in a library that raised it at its oldest too: "pandas 1.5.0"

    def __str__(self) -> str:
        library = self.oldest.split(" ")[0]
        raised = f" in {library}, as {self.oldest} does," if self.oldest else ""
        return (f"cell {self.cell} raises {self.error[:80]}{raised} on purpose? tagged {TAG} "
                "- review")  # fmt: skip


def on_purpose(failure: Failure) -> bool:
    """True when the failure looks like a cell that raises on purpose (the rule above), its
    every frame the notebook's own."""
    frames = _frames(failure.trace)
    if not _shown(failure) or not frames or not all(CELL_FRAME.match(f) for f in frames):
        return False
    arrow = _ARROW.search(failure.trace)
    return arrow is not None and _last_statement(failure.source, int(arrow.group(1)))


def in_library(failure: Failure) -> str | None:
    """The library (its import name) that raised a cell's error, when the error is one a
    demonstration shows, the cell's last line is a bare expression that raised it, and every
    frame below the cell's is that library's (``ser[-1]``: pandas); None otherwise. Whether
    the library raised it at every version is for ``Oldest`` to show."""
    last = _last_exception(failure.trace)
    frames = _frames(last)
    library = innermost_library(last)
    if not _shown(failure) or library is None or not frames or not CELL_FRAME.match(frames[0]):
        return None
    below = [LIBRARY_FRAME.search(frame) for frame in frames[1:]]
    if not below or any(found is None or found.group(1) != library for found in below):
        return None
    arrow = _ARROW.search(last)
    if arrow is None or not _last_statement(failure.source, int(arrow.group(1)), ast.Expr):
        return None
    return library


def _shown(failure: Failure) -> bool:
    """True when the failure is an error in the code of a kind a demonstration shows, whose
    message says nothing of a changed API."""
    lines = failure.trace.splitlines()
    head = lines[0] if lines else ""
    ename = head.split(":")[0].strip()
    if not failure.why.startswith("an error in the code") or failure.cell < 0:
        return False
    return ename in ON_PURPOSE and not _CHANGED_API.search(head)


def _last_exception(trace: str) -> str:
    """The traceback of the exception raised last, without those it was raised from (pandas'
    ``KeyError`` from the ``ValueError`` of ``range.index``)."""
    parts = trace.split("Traceback (most recent call last)")
    return parts[-1] if len(parts) > 1 else trace


def _frames(trace: str) -> list[str]:
    """A traceback's frame headers: a cell's or a file's."""
    lines = trace.splitlines()[1:]  # the first is "ename: evalue"
    return [line for line in lines if CELL_FRAME.match(line) or _FILE_FRAME.match(line)]


def _last_statement(source: str, line: int, kind: type[ast.stmt] = ast.stmt) -> bool:
    """True when ``source`` is short and ``line`` is within its last statement, of ``kind``."""
    code = [text for text in source.splitlines() if text.strip() and text.strip()[0] != "#"]
    if not code or len(code) > LINES:
        return False
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    last = body[-1] if body else None
    if last is None or not isinstance(last, kind):
        return False
    return last.lineno <= line <= (last.end_lineno or last.lineno)


def tag(
    plan: Plan,
    outcomes: list[Outcome],
    python: Path,
    timeout: float,
    echo: Callable[[str], object],
) -> list[Tagged]:
    """Tag the cells that raise on purpose in the notebooks that still fail, where with
    them tagged the notebook runs to its end; commit the tags (none: nothing changed)."""
    candidates = [o.notebook for o in outcomes if not o.now and not o.network
                  and not o.why.startswith(_SKIPPED)]  # fmt: skip
    if not candidates:
        return []
    project = Project(plan.root, plan.answers)
    echo(f"looking for cells that raise on purpose in {len(candidates)} failing notebook(s)")
    failing = failures(project, [plan.root / name for name in candidates], python, timeout)
    from scaffold.adopt.apply import undone_on_failure

    with (
        undone_on_failure(plan.root, [*failing, "pyproject.toml"]),
        scratch_folder("scaffold-adopt-oldest-") as scratch,
    ):
        tagged = _tag_rounds(
            plan.root,
            failing,
            lambda names: failures(project, [plan.root / name for name in names], python, timeout),
            Oldest(plan, scratch / "venv", timeout, echo).same,
        )
        found = [cell for cells in tagged.values() for cell in cells]
        if found:
            _commit(plan, found)
    for cell in found:
        echo(f"  {cell.notebook}: {cell}")
    return found


Same = Callable[[str, Failure, str], str]  # (notebook, failure, library) -> "pandas 1.5.0"


def _tag_rounds(
    root: Path,
    failing: dict[str, Failure],
    run: Callable[[list[str]], dict[str, Failure]],
    same: Same | None = None,
) -> dict[str, list[Tagged]]:
    """Tag each failing notebook's failing cell while it raises on purpose (``same``: a
    library's error raised alike at the library's oldest), and run the notebook again, at
    most ``TAGS`` times; a notebook that still fails gets its file back untagged. The tags
    of the notebooks that run now."""
    originals = {name: (root / name).read_text(encoding="utf-8") for name in failing}

    def tagged_cell(name: str, failure: Failure) -> Tagged | None:
        oldest = ""
        if not on_purpose(failure):
            library = in_library(failure) if same else None
            oldest = same(name, failure, library) if same and library else ""
            if not oldest:
                return None
        if not _add_tag(root / name, failure):
            return None
        return Tagged(name, failure.cell + 1, failure.trace.splitlines()[0], oldest)

    tagged, failing = rerun_rounds(failing, tagged_cell, run, TAGS)
    for name in [name for name in tagged if name in failing]:
        (root / name).write_text(originals[name], encoding="utf-8")
        del tagged[name]
    return tagged


class Oldest:
    """A scratch copy of the project's environment, made at the first library error that
    looks shown on purpose, where that library is put at its oldest release with a wheel for
    this Python: an error it raises there too is its behaviour, not its rot."""

    def __init__(self, plan: Plan, venv: Path, timeout: float, echo: Callable[[str], object]):
        self.plan = plan
        self.venv = venv
        self.timeout = timeout
        self.echo = echo
        self.search: Search | None = None
        self.made: bool | None = None  # None: not tried yet
        self.at: tuple[str, str] | None = None  # (distribution, version) now at its oldest
        self.seen: dict[tuple[str, int, str], str] = {}  # a notebook's cell and error -> same

    def same(self, name: str, failure: Failure, library: str) -> str:
        """The library at its oldest ("pandas 1.5.0") when there the notebook ``name`` fails in
        the same cell with the same error; "" otherwise."""
        key = (name, failure.cell, failure.trace.splitlines()[0])
        if key not in self.seen:  # the rounds ask again of a notebook they did not change
            self.seen[key] = self._same(name, failure, library)
        return self.seen[key]

    def _same(self, name: str, failure: Failure, library: str) -> str:
        search = self._made()
        if search is None:
            return ""
        distributions = sorted(search.modules().get(library, ()))
        oldest = self._oldest(search, distributions[0]) if len(distributions) == 1 else ""
        if not oldest:
            return ""
        again = search.fails_built([name]).get(name)
        head = failure.trace.splitlines()[0]
        alike = (again is not None and again.cell == failure.cell
                 and again.trace.splitlines()[:1] == [head])  # fmt: skip
        self.echo(f"  {name}: cell {failure.cell + 1} raises {head[:60]} in {library}; "
                  f"with {oldest}: {'the same' if alike else 'not the same'}")  # fmt: skip
        return oldest if alike else ""

    def _made(self) -> Search | None:
        """The scratch environment, made on first use (None: it does not install)."""
        if self.made is None:
            self.search = Search(self.plan, self.venv, self.timeout, self.echo)
            self.made = self.search.make()
            self.search.newest = self.search.versions()  # the project's, pins and all
        return self.search if self.made else None

    def _oldest(self, search: Search, distribution: str) -> str:
        """``distribution`` at its oldest (another one back at the project's version):
        "pandas 1.5.0"; "" when no older version installs."""
        if self.at and self.at[0] != distribution:
            search.restore(self.at[0])
            self.at = None
        if self.at is None:
            version = search.install_oldest(distribution)
            if version is None:
                return ""
            self.at = (distribution, version)
        return f"{self.at[0]} {self.at[1]}"


def _add_tag(path: Path, failure: Failure) -> bool:
    """The ``raises-exception`` tag on the failing cell of the notebook at ``path``; False
    when that cell is not found there as it ran (an old notebook format, another source)."""
    from scaffold.adopt.code import dump, source_of

    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not 0 <= failure.cell < len(cells):
        return False
    cell = cells[failure.cell]
    if not isinstance(cell, dict) or source_of(cell) != failure.source:
        return False
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if TAG not in tags:
        tags.append(TAG)
    path.write_text(dump(notebook), encoding="utf-8")
    return True


def _commit(plan: Plan, found: list[Tagged]) -> None:
    """The tagged notebooks and their list in ``[tool.scaffold.adopt.raises]``; one commit."""
    import tomlkit

    from scaffold.adopt.apply import commit_apart

    path = plan.root / "pyproject.toml"
    data = tomlkit.parse(path.read_text(encoding="utf-8"))
    tool = data.setdefault("tool", tomlkit.table(is_super_table=True))
    scaffold_table = tool.setdefault("scaffold", tomlkit.table(is_super_table=True))
    adopt = scaffold_table.setdefault("adopt", tomlkit.table())
    raises = tomlkit.table()
    for name in sorted({cell.notebook for cell in found}):
        raises[name] = "; ".join(str(cell) for cell in found if cell.notebook == name)
    adopt["raises"] = raises
    path.write_text(tomlkit.dumps(data), encoding="utf-8")
    names = sorted({cell.notebook for cell in found})
    commit_apart(plan.root, plan.answers, ["pyproject.toml", *names], TAG_MESSAGE)
