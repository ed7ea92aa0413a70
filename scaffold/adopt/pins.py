"""Pin, library by library, what runs the notebooks when the newest versions break them.

When an adopted notebook fails with an error in the code or a missing module, its traceback
names the library that broke: the innermost frame in ``site-packages`` (``pandas/core/
generic.py`` for ``DataFrame.append``), else the module the error names (``cannot import name
'load_boston' from 'sklearn.datasets'``, ``module 'numpy' has no attribute 'float'``). Adopt
then searches that library's versions, newest first, one release series at a time, only the
versions with wheels for the running Python (``uv pip install --only-binary NAME "NAME<2.2"``),
in a scratch environment where everything else stays at its newest. A library built for NumPy
1 gets ``numpy<2`` beside it. The first version under which a failing notebook runs is
pinned; then the next library a failure names. Finally every notebook that ran must still
run, else the last pin is dropped. The pins are written to pyproject.toml, each with its
reason in ``[tool.scaffold.adopt.pinned]``, and committed ("Pin the versions that run the
notebooks").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scaffold import processes
from scaffold.adopt import dates
from scaffold.adopt.callsites import rewritable, rewrite
from scaffold.adopt.plan import Plan
from scaffold.adopt.runs import (
    Failure,
    Outcome,
    culprits,
    failures,
    innermost_library,
    raised_in_library,
)
from scaffold.files import scratch_folder
from scaffold.project import Project

PIN_MESSAGE = "Pin the versions that run the notebooks"
_VERSION_REASONS = ("an error in the code", "missing module")
# what stops a notebook that got past the old error whatever the versions: the search ends
_BEYOND_VERSIONS = ("needs the network", "missing data", "needs a desktop")
LIBRARIES = 4  # libraries searched, at most
SERIES = 12  # release series tried per library, at most
BUDGET = 900.0  # seconds of searching, at most: no new version is tried after that
# a library the failure says is not installed
_ABSENT = re.compile(
    r"No module named '([A-Za-z_][A-Za-z0-9_.]*)'|Missing optional dependency '([A-Za-z0-9_.-]+)'|"
    r"accessor requires ([A-Za-z_][A-Za-z0-9_]*)|"
    r"Unable to find a usable engine; tried using: '([A-Za-z_][A-Za-z0-9_]*)'"
)
# an extension built against NumPy 1, imported under NumPy 2
_NUMPY_ABI = re.compile(
    r"numpy\.dtype size changed|compiled using NumPy 1\.x|_ARRAY_API not found|"
    r"numpy\.core\.multiarray failed to import|module compiled against ABI version"
)


@dataclass(frozen=True)
class Pin:
    """One library held at an older version, and why."""

    name: str  # the distribution
    version: str  # "" for a library that was missing: declared, not pinned
    why: str  # e.g. "pandas 2.2.3 breaks notebooks/1.1-x.ipynb (AttributeError: ...)"

    def __str__(self) -> str:
        held = f"=={self.version}" if self.version else " (added)"
        return f"{self.name}{held}: {self.why}"


@dataclass
class Pinned:
    """The pins that made notebooks run."""

    pins: list[Pin] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # notebooks that run with the pins only


def absent_modules(trace: str) -> list[str]:
    """The top-level modules a failure's message says are not installed."""
    message = trace.splitlines()[0] if trace else ""
    found = []
    for match in _ABSENT.finditer(message):
        top = next(group for group in match.groups() if group).split(".")[0]
        if top not in found:
            found.append(top)
    return found


def absent_distribution(module: str, trace: str) -> str | None:
    """The distribution to install for an absent ``module`` the failure ``trace`` names: the
    one check's mappings know, else the module's own name, but only when the notebook's own
    cell imported it. A library's import of a name no mapping knows is not taken for a
    distribution's (PyPI's ``mplstyle``, not the notebook's, imports ``dotify``, and PyPI's
    ``dotify`` is someone else's program)."""
    from scaffold.check.imports import missing

    known = missing(module, set(), set(), None)
    guess = () if raised_in_library(trace) else (module,)
    return next(iter(known or guess), None)


_ARROW = re.compile(r"^-+> *\d+ (.+)$", re.M)
_NO_ATTRIBUTE = re.compile(r"^AttributeError: module '([A-Za-z_][\w.]*)' has no attribute '(\w+)'")
_NO_METHOD = re.compile(r"^AttributeError: '([A-Za-z_]\w*)' object has no attribute '(\w+)'")


def probe(trace: str) -> str | None:
    """A line of Python that fails as the notebook failed, to try a version in a second: the
    import statement the notebook failed on, the attribute a module lacks, or the method a
    library's class lacks (``df.append(...)``: ``pandas.DataFrame`` has no ``append``)."""
    import ast

    missing_attribute = _NO_ATTRIBUTE.match(trace)
    if missing_attribute:
        module, name = missing_attribute.groups()
        return f"import {module}; {module}.{name}"
    arrow = _ARROW.search(trace)
    if arrow is None:
        return None
    line = arrow.group(1).strip()
    missing_method = _NO_METHOD.match(trace)
    if missing_method:
        return _method_probe(trace, line, *missing_method.groups())
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return None
    statement = tree.body[0] if len(tree.body) == 1 else None
    if isinstance(statement, ast.ImportFrom) and statement.level:
        return None  # relative: not importable from a one-line program
    return line if isinstance(statement, ast.Import | ast.ImportFrom) else None


def _method_probe(trace: str, line: str, kind: str, name: str) -> str | None:
    """Exit 1 when the library's class ``kind`` lacks the method ``name``; 0 when it has it or
    there is no such class to ask (run the notebook). Only for a call on the failing line
    (``.append(``): a missing attribute that is not called may be a column or a field, which
    the data, not the library's version, decides."""
    module = innermost_library(trace)
    if module is None or not re.search(rf"\.{name}\s*\(", line):
        return None
    return (f"import sys, {module} as m; k = getattr(m, {kind!r}, None); "
            f"sys.exit(int(isinstance(k, type) and not hasattr(k, {name!r})))")  # fmt: skip


def find_pins(
    plan: Plan, outcomes: list[Outcome], python: Path, timeout: float, echo: Callable[[str], object]
) -> Pinned | None:
    """Older versions of the libraries the failures name, under which failing notebooks run
    and every running one still runs (None: no such pins)."""
    broken = {o.notebook: o.trace for o in outcomes
              if not o.now and o.why.startswith(_VERSION_REASONS) and o.trace}  # fmt: skip
    if not broken:
        return None
    running = [o.notebook for o in outcomes if o.now]
    with scratch_folder("scaffold-adopt-pins-") as scratch:
        search = Search(plan, Path(scratch) / "venv", timeout, echo)
        if not search.make():
            return None
        search.newest = search.versions()
        binary = dates.compiled(search.python)
        pinned = search.run(dict(broken), running)
    left = [notebook for notebook in broken if not pinned or notebook not in pinned.fixed]
    left = [notebook for notebook in left if notebook not in search.beyond]
    if not left:
        return pinned
    trial = dates.Trial(left, running, binary, [], timeout, search.newest)
    return _together(plan, python, search, pinned, trial)


def _together(
    plan: Plan, python: Path, search: Search, pinned: Pinned | None, trial: dates.Trial
) -> Pinned | None:
    """The fallback: every library as of a date, when the single-library pins left notebooks
    failing; kept only when it runs one and stops none (else ``pinned``)."""
    search.echo(f"{len(trial.broken)} notebook(s) still fail: trying every library as of a "
                "date contemporary with the notebooks")  # fmt: skip
    if pinned:
        trial.running = trial.running + pinned.fixed
        trial.extra = [pin.name for pin in pinned.pins if not pin.version]
    dated = dates.together(plan, python, trial, search.echo)
    if dated is None:
        return pinned
    return _dated_pins(plan, dated, search, pinned)


def _dated_pins(
    plan: Plan, dated: dates.Dated, search: Search, pinned: Pinned | None
) -> Pinned | None:
    """Every library of a date's environment (the declared ones first) at its version where
    it differs from the newest, the libraries the search added kept; they replace the
    single-library pins."""
    from scaffold.check.imports import normalise

    fixed = (pinned.fixed if pinned else []) + dated.fixed
    names = [requirement_name(requirement) for requirement in plan.dependencies]
    pins = [pin for pin in (pinned.pins if pinned else []) if not pin.version]
    versions = {normalise(name): version for name, version in dated.versions.items()}
    for name, why in dated.lifted.items():  # newer than the date: pinned whatever the newest
        if versions.get(normalise(name)):
            pins.append(Pin(name, versions[normalise(name)], why))
    # the rest of that environment too (matplotlib-inline at its newest breaks the matplotlib
    # of 2022 in the project's .venv): what ran is the whole environment, not its top
    others = sorted(name for name in dated.versions if name in search.newest)
    _add_differing(pins, [*names, "numpy", *others], dated, search)
    return Pinned(pins, fixed) if any(pin.version for pin in pins) else pinned


def _add_differing(pins: list[Pin], names: list[str], dated: dates.Dated, search: Search) -> None:
    """Each of ``names`` whose version on the date differs from the newest, pinned once."""
    from scaffold.check.imports import normalise

    why = _dated_why(dated, search)
    for name in names:
        version = dated.versions.get(normalise(name))
        newer = version and version != search.newest.get(normalise(name))
        if newer and all(normalise(pin.name) != normalise(name) for pin in pins):
            pins.append(Pin(name, version or "", why))


def _dated_why(dated: dates.Dated, search: Search) -> str:
    """A date's pins' reason: the notebooks it runs and the first one's error."""
    error = search.first.get(dated.fixed[0], "")
    return (f"every library as of {dated.label}: no single library's older version runs "
            f"{', '.join(dated.fixed)} ({error})")  # fmt: skip


class Search:
    """The library-by-library search in one scratch environment."""

    def __init__(self, plan: Plan, venv: Path, timeout: float, echo: Callable[[str], object]):
        self.plan = plan
        self.venv = venv
        self.python = venv / "bin" / "python"
        self.timeout = timeout
        self.echo = echo
        self.project = Project(plan.root, plan.answers)
        self.newest: dict[str, str] = {}
        self.pins: list[Pin] = []
        self.broken: list[str] = []  # the notebooks that failed at the newest versions
        self.deadline = time.monotonic() + BUDGET
        self.first: dict[str, str] = {}  # notebook -> its error at the newest versions
        self.rewritable: set[str] = set()  # the notebooks whose error there adopt rewrites
        # notebook -> what stopped it, past its old error, at an older version: no version
        # can run it (the network, data, a desktop), so no date is tried for it either
        self.beyond: dict[str, str] = {}
        # notebook -> (library, version, failure) where that version got it past its old
        # error to a removed API a run can name and adopt rewrite (``.ix``, ``order()``)
        self.behind: dict[str, list[tuple[str, str, str]]] = {}

    def make(self) -> bool:
        """The scratch environment with the project at its newest versions."""
        uv = processes.find_tool("uv")
        if uv is None:
            return False
        processes.run([uv, "venv", "--quiet", str(self.venv)], cwd=self.plan.root)
        result = processes.run(
            [uv, "pip", "install", "--quiet", "--python", str(self.python), "-e", ".",
             "papermill", "ipykernel"],
            cwd=self.plan.root,
            check=False,
        )  # fmt: skip
        return result.ok

    def versions(self) -> dict[str, str]:
        """Normalised distribution name -> installed version, in the scratch environment."""
        return dates.versions(self.python)

    def modules(self) -> dict[str, set[str]]:
        """Import name -> the distributions that provide it, in the scratch environment."""
        from scaffold.check.imports import environment_map, site_packages

        return environment_map(site_packages(self.python))

    def fails(self, notebooks: list[str]) -> dict[str, Failure]:
        """The notebooks among ``notebooks`` that fail in the scratch environment."""
        root = self.plan.root
        return failures(self.project, [root / name for name in notebooks], self.python,
                        self.timeout)  # fmt: skip

    def fails_built(self, notebooks: list[str]) -> dict[str, Failure]:
        """``fails``, run again with numpy<2 when a library built for NumPy 1 did not import."""
        still = self.fails(notebooks)
        if any(_NUMPY_ABI.search(f.trace) for f in still.values()):
            self._install("numpy<2")
            still = self.fails(notebooks)
        return still

    def install_oldest(self, name: str) -> str | None:
        """The oldest ``name`` with a wheel for this Python (uv's lowest-direct resolution),
        installed; None when it is already there or none installs."""
        current = self.versions().get(name)
        if not current or not self._install(f"{name}<{current}", "--resolution", "lowest-direct"):
            return None
        installed = self.versions().get(name)
        return installed if installed and installed != current else None

    def run(self, broken: dict[str, str], running: list[str]) -> Pinned | None:
        """Search the libraries the failures name, one at a time."""
        self.broken = list(broken)
        self.rewritable = {notebook for notebook, trace in broken.items() if rewritable(trace)}
        self.first = {notebook: trace.splitlines()[0][:90] for notebook, trace in broken.items()
                      if trace}  # fmt: skip
        for notebook in self.absent(broken):
            broken.pop(notebook, None)
        tried: set[str] = set()
        for _ in range(LIBRARIES):
            blamed = self._next(broken, tried)
            if blamed is None:
                break
            name, notebooks = blamed
            tried.add(name)
            fixed = self.library(name, notebooks, broken)
            for notebook in fixed:
                broken.pop(notebook, None)
        for notebook in self.rewritten_behind(broken):
            broken.pop(notebook, None)
        if not self.pins:
            return None
        return self._settle(running)

    def rewritten_behind(self, broken: dict[str, str]) -> list[str]:
        """The notebooks an older version got to a removed API adopt rewrites, run at that
        version with the API rewritten (``callsites``; the rewrites are committed): the ones
        that run, with the version pinned. A library already pinned is tried at its pin."""
        fixed: list[str] = []
        for notebook, seen in self.behind.items():
            pinned = {pin.name: pin.version for pin in self.pins}
            tries = [(n, v, t) for n, v, t in seen if pinned.get(n, v) == v]
            if notebook not in broken or not tries:
                continue
            name, version, trace = tries[0]
            if self.versions().get(name) != version and not self._install(f"{name}=={version}"):
                continue
            outcome = Outcome(notebook, None, False, "an error in the code", trace=trace)
            after = rewrite(self.plan, [outcome], self.python, self.timeout, self.echo)
            if after[0].now:
                self.echo(f"  {name} {version} runs {notebook}, its removed API rewritten")
                if name not in pinned:
                    why = (f"{name} {self.newest.get(name, '')} breaks {notebook} "
                           f"({self.first.get(notebook)}); {version} runs it, its removed "
                           "API rewritten")  # fmt: skip
                    self.pins.append(Pin(name, version, why))
                fixed.append(notebook)
            elif name not in pinned:
                self.restore(name)
        return fixed

    def absent(self, broken: dict[str, str]) -> list[str]:
        """Install the libraries failures say are missing (an optional dependency of pandas,
        an import adopt could not see); the notebooks that run then (they are declared)."""
        modules = self.modules()
        wanted: dict[str, list[str]] = {}
        for notebook, trace in broken.items():
            for top in absent_modules(trace):
                name = absent_distribution(top, trace)
                if top not in modules and name:
                    wanted.setdefault(name, []).append(notebook)
        fixed: list[str] = []
        for name, notebooks in wanted.items():
            if not self._install(name):
                continue
            still = self.fails(notebooks)
            ran = [notebook for notebook in notebooks if notebook not in still]
            for notebook, failure in still.items():
                broken[notebook] = failure.trace
            if ran:
                self.echo(f"  {name} (absent) runs {', '.join(ran)}")
                why = f"{', '.join(ran)} need it ({self.first.get(ran[0])})"
                self.pins.append(Pin(name, "", why))
                fixed += ran
        return fixed

    def _next(self, broken: dict[str, str], tried: set[str]) -> tuple[str, list[str]] | None:
        """The library the most failures name first, and the notebooks that name it."""
        modules = self.modules()
        blamed: dict[str, list[str]] = {}
        for notebook, trace in broken.items():
            for name in culprits(trace, modules)[:2]:
                if name not in tried:
                    blamed.setdefault(name, []).append(notebook)
        if not blamed:
            return None
        name = max(blamed, key=lambda n: len(blamed[n]))
        return name, blamed[name]

    def library(self, name: str, notebooks: list[str], broken: dict[str, str]) -> list[str]:
        """Older versions of ``name``, newest first, until a notebook runs; the notebooks it
        fixed (none: ``name`` back at its newest)."""
        newest = self.newest.get(name, "")
        first = broken[notebooks[0]].splitlines()[0][:90]
        self.echo(f"{len(notebooks)} notebook(s) fail in {name} {newest} ({first}); trying "
                  f"older {name}")  # fmt: skip
        version = newest
        before = {notebook: broken[notebook] for notebook in notebooks}
        for _ in range(SERIES):
            if time.monotonic() > self.deadline:
                self.echo(f"  the search's {BUDGET:.0f} s are spent: no older {name} tried")
                break
            version = self._install_below(name, version) or ""
            if not version:
                break
            worth = self._worth_running(notebooks, broken)
            if not worth:
                self.echo(f"  {name} {version}: still failing (the failing line, tried alone)")
                continue
            fixed = self._try(name, version, worth, broken)
            if fixed:
                why = f"{name} {newest} breaks {', '.join(fixed)} ({self.first.get(fixed[0])})"
                self.pins.append(Pin(name, version, why))
                return fixed
            if set(self.beyond) >= set(notebooks):
                self.echo(f"  no version of {name} can run them: {self._beyond(notebooks)}")
                break
        self.restore(name)
        broken.update(before)  # failures seen at older versions name no library to search
        return []

    def _try(
        self, name: str, version: str, notebooks: list[str], broken: dict[str, str]
    ) -> list[str]:
        """Run the notebooks at this version (with numpy<2 if it was built for NumPy 1); the
        ones that run."""
        still = self.fails_built(notebooks)
        fixed = [notebook for notebook in notebooks if notebook not in still]
        self.beyond.update({notebook: failure.why for notebook, failure in still.items()
                            if failure.why.startswith(_BEYOND_VERSIONS)})  # fmt: skip
        for notebook, failure in still.items():
            if rewritable(failure.trace) and notebook not in self.rewritable:
                self.behind.setdefault(notebook, []).append((name, version, failure.trace))
        for notebook, failure in still.items():
            broken[notebook] = failure.trace  # the next failure may name another library
        if fixed:
            self.echo(f"  {name} {version} runs {', '.join(fixed)}")
        else:
            now = next(iter(still.values())).trace.splitlines() if still else []
            self.echo(f"  {name} {version}: still failing ({now[0][:90] if now else ''})")
        return fixed

    def _beyond(self, notebooks: list[str]) -> str:
        """Why each of ``notebooks`` now stops, past what this library's version broke."""
        return "; ".join(f"{nb} now stops on: {self.beyond[nb]}" for nb in notebooks)

    def restore(self, name: str) -> None:
        """``name`` back at its newest, and numpy if it went below 2 for an old build."""
        for back in (name, "numpy"):
            if self.newest.get(back) and self.versions().get(back) != self.newest[back]:
                self._install(f"{back}=={self.newest[back]}")

    def _worth_running(self, notebooks: list[str], broken: dict[str, str]) -> list[str]:
        """The notebooks to run at this version: not those whose failing line fails alone too
        (a second, instead of a notebook's run; they would stop where they stopped)."""
        return [notebook for notebook in notebooks if self._may_run(broken.get(notebook, ""))]

    def _may_run(self, trace: str) -> bool:
        """False when the line the failure ``trace`` names fails alone at this version."""
        line = probe(trace)
        if line is None:
            return True
        return processes.run([str(self.python), "-c", line], check=False, timeout=120).ok

    def _install(self, requirement: str, *options: str) -> bool:
        uv = processes.find_tool("uv") or "uv"
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        only = ["--only-binary", name.group()] if name else []
        python = ["--python", str(self.python)]
        result = processes.run(
            [uv, "pip", "install", "--quiet", *python, *only, *options, requirement],
            cwd=self.plan.root,
            check=False,
        )
        return result.ok

    def _install_below(self, name: str, version: str) -> str | None:
        """The newest ``name`` of an earlier release series than ``version`` that has a wheel
        for this Python, installed; None when there is none."""
        series = ".".join(version.split(".")[:2]) if version else ""
        if not series or not self._install(f"{name}<{series}"):
            return None
        installed = self.versions().get(name)
        return installed if installed and installed != version else None

    def _settle(self, running: list[str]) -> Pinned | None:
        """Every notebook that ran must still run: drop the last pin until they do."""
        from scaffold.check.imports import normalise

        while self.pins:
            if not running or not self.fails(running):
                break
            dropped = self.pins.pop()
            self.echo(f"  {dropped.name} {dropped.version} stops a running notebook: not pinned")
            self._install(f"{dropped.name}=={self.newest.get(dropped.name, '')}".rstrip("="))
        still = self.fails(self.broken) if self.pins else {}
        fixed = [notebook for notebook in self.broken if notebook not in still]
        if not self.pins or not fixed:
            return None
        numpy = self.versions().get("numpy")
        searched = {normalise(pin.name) for pin in self.pins}
        if numpy and "numpy" not in searched and numpy != self.newest.get("numpy"):
            pinned = ", ".join(f"{pin.name} {pin.version}" for pin in self.pins)
            self.pins.append(Pin("numpy", numpy, f"{pinned} was built for NumPy 1"))
        return Pinned(self.pins, fixed)


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement string."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    return match.group() if match else requirement


def write_pins(plan: Plan, pinned: Pinned) -> str:
    """pyproject.toml's dependencies pinned, each pin's reason recorded; one commit."""
    import tomlkit

    from scaffold.adopt.apply import commit_apart, undone_on_failure
    from scaffold.check.imports import normalise

    path = plan.root / "pyproject.toml"
    data = tomlkit.parse(path.read_text(encoding="utf-8"))
    versions = {normalise(pin.name): pin.version for pin in pinned.pins if pin.version}
    pinned_list = tomlkit.array()
    declared = set()
    for requirement in plan.dependencies:
        name = requirement_name(requirement)
        declared.add(normalise(name))
        version = versions.get(normalise(name))
        pinned_list.append(f"{name}=={version}" if version else requirement)
    for pin in pinned.pins:  # a library the declared ones need at an older version
        if normalise(pin.name) not in declared:
            pinned_list.append(f"{pin.name}=={pin.version}" if pin.version else pin.name)
    pinned_list.multiline(True)
    data["project"]["dependencies"] = pinned_list
    tool = data.setdefault("tool", tomlkit.table(is_super_table=True))
    scaffold_table = tool.setdefault("scaffold", tomlkit.table(is_super_table=True))
    adopt = tomlkit.table()
    adopt["why"] = "the newest versions break these notebooks; modernise them, then unpin"
    reasons = tomlkit.table()
    for pin in pinned.pins:
        reasons[pin.name] = f"{pin.version or 'added'}: {pin.why}"
    adopt["pinned"] = reasons
    scaffold_table["adopt"] = adopt
    with undone_on_failure(plan.root, ["pyproject.toml"]):
        path.write_text(tomlkit.dumps(data), encoding="utf-8")
        commit_apart(plan.root, plan.answers, ["pyproject.toml"], PIN_MESSAGE)
    return processes.git_out("rev-parse", "HEAD", cwd=plan.root)
