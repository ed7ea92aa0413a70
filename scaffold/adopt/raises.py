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
  is the kind a version cures);
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

from scaffold.adopt.plan import Plan
from scaffold.adopt.runs import CELL_FRAME, Failure, Outcome, failures, rerun_rounds
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

    def __str__(self) -> str:
        return f"cell {self.cell} raises {self.error[:80]} on purpose? tagged {TAG} - review"


def on_purpose(failure: Failure) -> bool:
    """True when the failure looks like a cell that raises on purpose (the rule above)."""
    lines = failure.trace.splitlines()
    head = lines[0] if lines else ""
    ename = head.split(":")[0].strip()
    if not failure.why.startswith("an error in the code") or failure.cell < 0:
        return False
    if ename not in ON_PURPOSE or _CHANGED_API.search(head):
        return False
    frames = [line for line in lines[1:] if CELL_FRAME.match(line) or _FILE_FRAME.match(line)]
    if not frames or not all(CELL_FRAME.match(frame) for frame in frames):
        return False
    arrow = _ARROW.search(failure.trace)
    return arrow is not None and _last_statement(failure.source, int(arrow.group(1)))


def _last_statement(source: str, line: int) -> bool:
    """True when ``source`` is short and ``line`` is within its last statement."""
    code = [text for text in source.splitlines() if text.strip() and text.strip()[0] != "#"]
    if not code or len(code) > LINES:
        return False
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    last = body[-1] if body else None
    return last is not None and last.lineno <= line <= (last.end_lineno or last.lineno)


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

    with undone_on_failure(plan.root, [*failing, "pyproject.toml"]):
        tagged = _tag_rounds(
            plan.root,
            failing,
            lambda names: failures(project, [plan.root / name for name in names], python, timeout),
        )
        found = [cell for cells in tagged.values() for cell in cells]
        if found:
            _commit(plan, found)
    for cell in found:
        echo(f"  {cell.notebook}: {cell}")
    return found


def _tag_rounds(
    root: Path, failing: dict[str, Failure], run: Callable[[list[str]], dict[str, Failure]]
) -> dict[str, list[Tagged]]:
    """Tag each failing notebook's failing cell while it raises on purpose, and run the
    notebook again, at most ``TAGS`` times; a notebook that still fails gets its file back
    untagged. The tags of the notebooks that run now."""
    originals = {name: (root / name).read_text(encoding="utf-8") for name in failing}

    def tagged_cell(name: str, failure: Failure) -> Tagged | None:
        if not (on_purpose(failure) and _add_tag(root / name, failure)):
            return None
        return Tagged(name, failure.cell + 1, failure.trace.splitlines()[0])

    tagged, failing = rerun_rounds(failing, tagged_cell, run, TAGS)
    for name in [name for name in tagged if name in failing]:
        (root / name).write_text(originals[name], encoding="utf-8")
        del tagged[name]
    return tagged


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
