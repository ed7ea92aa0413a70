"""One run of notebooks and why each failed: the piece ``prove`` (before and after adoption)
and ``pins`` (older versions) share."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from scaffold.adopt.code import empty_glob
from scaffold.files import relative, scratch_folder
from scaffold.project import Project

NETWORK = re.compile(
    r"URLError|HTTPError|ConnectionError|gaierror|ConnectTimeout|ReadTimeout|SSLError|"
    r"MaxRetryError|NewConnectionError|Name or service not known|Temporary failure in name "
    r"resolution|Network is unreachable|getaddrinfo|urlopen error|RemoteDisconnected"
)
REASONS = (
    (NETWORK, "needs the network"),
    (re.compile(r"FileNotFoundError|No such file or directory|does not exist"), "missing data"),
    (re.compile(r"ModuleNotFoundError|ImportError|No module named"), "missing module"),
    (re.compile(r"NameError"), "hidden state (a name defined out of order)"),
    (re.compile(r"did not finish within"), "timed out"),
    # DataFrame.to_clipboard() where no desktop session is: no version cures it
    (re.compile(r"PyperclipException|copy/paste mechanism"), "needs a desktop (the clipboard)"),
    (re.compile(r"kernel did not start"), "no kernel"),
)


LIBRARY_FRAME = re.compile(r"(?:site|dist)-packages/([A-Za-z_][A-Za-z0-9_]*)")
# a cell's frame in IPython's tracebacks, old and new
CELL_FRAME = re.compile(r"^(?:Cell In ?\[|Input In ?\[|<ipython-input-)", re.M)
_NAMED = re.compile(r"(?:No module named|from|module) '([A-Za-z_][A-Za-z0-9_.]*)'")
# the kernel's own machinery sits in every traceback: a frame there blames nothing
_RUNNER = {"IPython", "ipykernel", "papermill", "nbclient", "traitlets", "tornado", "zmq",
           "jupyter_client", "jupyter_core", "debugpy", "_pytest"}  # fmt: skip


def culprits(trace: str, modules: dict[str, set[str]]) -> list[str]:
    """The installed distributions a failure names: the innermost library frame first, then
    outward, then the modules its message names (``modules``: import name -> distributions)."""
    lines = trace.splitlines()
    message = lines[0] if lines else ""
    found: list[str] = []
    named = [name.split(".")[0] for name in _NAMED.findall(message)]
    framed = [name for name in reversed(LIBRARY_FRAME.findall(trace)) if name not in _RUNNER]
    for module in [*framed, *named]:
        for name in sorted(modules.get(module, ())):
            if name not in found:
                found.append(name)
    return found


def innermost_library(trace: str) -> str | None:
    """The import name of the innermost installed library in the traceback (not the kernel's
    machinery): ``pandas`` for ``DataFrame.append``'s ``__getattr__``."""
    framed = [name for name in LIBRARY_FRAME.findall(trace) if name not in _RUNNER]
    return framed[-1] if framed else None


def raised_in_library(trace: str) -> bool:
    """True when the traceback's innermost frame is an installed library's, not a cell's."""
    cells = [match.end() for match in CELL_FRAME.finditer(trace)]
    found = LIBRARY_FRAME.finditer(trace)
    frames = [match.end() for match in found if match.group(1) not in _RUNNER]
    return bool(frames) and (not cells or frames[-1] > cells[-1])


@dataclass(frozen=True)
class Outcome:
    """One notebook's runs."""

    notebook: str  # its new path
    before: bool | None  # None: not run (a plain folder has no old commit to run)
    now: bool
    why: str  # why it fails now ("" when it runs)
    why_before: str = ""
    pinned: bool = False  # it runs with the pinned older versions, not the newest
    trace: str = ""  # the error and traceback of its failure now, as plain text
    tagged: tuple[str, ...] = ()  # cells adopt tagged raises-exception so that it runs
    rewritten: tuple[str, ...] = ()  # calls adopt rewrote where its traceback named them

    @property
    def network(self) -> bool:
        """True when it failed for want of the network."""
        return "network" in self.why or "network" in self.why_before


def reason(message: str) -> str:
    """The class of a run failure: network, missing data or module, hidden state, code."""
    for pattern, text in REASONS:
        if pattern.search(message):
            detail = _error(message)
            return f"{text} ({detail})" if detail else text
    return f"an error in the code ({_error(message) or 'see scaffold check --run'})"


def _error(message: str) -> str:
    match = re.search(
        r"run all(?: in the injected parameters)?: (.*?); the notebook", message, re.S
    )
    text = match.group(1).strip().splitlines()[0] if match and match.group(1).strip() else ""
    return text if len(text) <= 90 else text[:87] + "..."


@dataclass(frozen=True)
class Failure:
    """Why a notebook failed: the class (``reason``) and its error's traceback."""

    why: str
    trace: str = ""  # "ename: evalue" and the traceback, ANSI colours removed
    cell: int = -1  # the failing cell's index in the notebook (-1: not known)
    source: str = ""  # that cell's source
    counts: dict[int, int] = field(default_factory=dict)  # execution count -> cell index


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failures(
    project: Project, notebooks: list[Path], python: Path, timeout: float
) -> dict[str, Failure]:
    """Each failing notebook's path -> why it failed, run with ``python``."""
    from scaffold.check.execute import run_notebooks

    with scratch_folder("scaffold-adopt-run-") as scratch:
        found = run_notebooks(
            project, notebooks, python=python, timeout=timeout, outputs=Path(scratch)
        )
        paths = {relative(notebook, project.root): n for n, notebook in enumerate(notebooks)}
        found_failures = {}
        for finding in found:
            trace, cell, source, counts = _failed(Path(scratch), paths.get(finding.path))
            why = reason(finding.message)
            unmatched = (
                empty_glob(project.root / finding.path, project.root, cell)
                if why.startswith("an error in the code")
                else ""
            )
            if unmatched:  # the error follows from data that is not there (pd.concat([]))
                why = f"missing data (no file matches {unmatched})"
            found_failures[finding.path] = Failure(why, trace, cell, source, counts)
        return found_failures


# cells the runner adds to the executed copy: the parameters, papermill's error banners
_ADDED = {"injected-parameters", "papermill-error-cell-tag"}


Change = TypeVar("Change")


def rerun_rounds(
    failing: dict[str, Failure],
    change: Callable[[str, Failure], Change | None],
    run: Callable[[list[str]], dict[str, Failure]],
    limit: int,
) -> tuple[dict[str, list[Change]], dict[str, Failure]]:
    """Apply ``change`` to each failing notebook (None: nothing to change) and ``run`` the
    changed ones again, at most ``limit`` times: the changes made, by notebook, and the
    notebooks that still fail."""
    done: dict[str, list[Change]] = {}
    for _ in range(limit):
        again = []
        for name, failure in failing.items():
            made = change(name, failure)
            if made is not None:
                done.setdefault(name, []).append(made)
                again.append(name)
        if not again:
            break
        failing = {n: f for n, f in failing.items() if n not in again} | run(again)
    return done, failing


def _failed(folder: Path, number: int | None) -> tuple[str, int, str, dict[int, int]]:
    """The error and traceback of the executed copy ``<number>-*`` in ``folder``, the failing
    cell's index and its source (the first cell that raised and is not tagged
    ``raises-exception``, which the runner goes on past), and each execution count's cell."""
    import json

    outputs = sorted(folder.glob(f"{number}-*")) if number is not None else []
    try:
        cells = json.loads(outputs[0].read_text(encoding="utf-8")).get("cells", [])
    except (IndexError, OSError, ValueError, AttributeError):
        return "", -1, "", {}
    position = -1
    counts: dict[int, int] = {}
    for cell in cells if isinstance(cells, list) else []:
        tags = (cell.get("metadata") or {}).get("tags") or []
        if _ADDED.intersection(tags):
            continue
        position += 1
        if isinstance(cell.get("execution_count"), int):
            counts[cell["execution_count"]] = position
        errors = [o for o in cell.get("outputs") or [] if o.get("output_type") == "error"]
        if errors and "raises-exception" not in tags:
            return _text(errors[0]), position, source_text(cell), counts
    return "", -1, "", counts


def source_text(cell: dict[str, object]) -> str:
    """A cell's source as one string."""
    source = cell.get("source", "")
    return "".join(str(s) for s in source) if isinstance(source, list) else str(source)


def _text(error: dict[str, object]) -> str:
    """``ename: evalue`` (its first line) and the traceback, ANSI colours removed."""
    lines = error.get("traceback") or []
    evalue = next((line for line in str(error.get("evalue", "")).splitlines() if line.strip()), "")
    head = f"{error.get('ename', '')}: {evalue.strip()}"
    text = "\n".join(str(line) for line in lines) if isinstance(lines, list) else ""
    return _ANSI.sub("", f"{head}\n{text}")
