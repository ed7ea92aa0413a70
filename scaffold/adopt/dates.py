"""Every library as of one date: the pin search's fallback when no single library's older
version runs a notebook, because several must move together (scikit-learn 1.1 needs
``numpy<2``, under which the newest pandas does not import).

The dates: the day the notebooks last changed (the adopted commit), never before the running
Python's first release (no wheels of a compiled library are older), then a fortnight, one,
two, four and six months, one and two years later, none after today. Each is an environment
of its own: the project installed with ``uv pip install --exclude-newer DATE``, compiled
libraries from wheels only (those the newest environment has as platform wheels); a date
that does not install is skipped, and at most three environments are made. When no date
works, the dates in the Python's first months that did not install are tried again with
their compiled libraries as of three months after that Python's release (their first
wheels for it), the pure ones as of the date. A
date is kept when a failing notebook runs in it and every notebook that runs (at the newest
versions or with the single-library pins) still runs there.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from scaffold import processes
from scaffold.adopt.plan import Plan
from scaffold.adopt.runs import Failure, culprits, failures
from scaffold.errors import ScaffoldError
from scaffold.files import scratch_folder
from scaffold.project import Project

# The first release of each Python: no wheels of a compiled library built before it.
PYTHON_RELEASED = {
    (3, 9): datetime.date(2020, 10, 5),
    (3, 10): datetime.date(2021, 10, 4),
    (3, 11): datetime.date(2022, 10, 24),
    (3, 12): datetime.date(2023, 10, 2),
    (3, 13): datetime.date(2024, 10, 7),
    (3, 14): datetime.date(2025, 10, 7),
}
OFFSETS = (0, 15, 30, 61, 122, 183, 365, 730)  # days after the first date
# Compiled libraries put out wheels for a new Python over its first months (MarkupSafe's came
# for 3.11 in January 2023): a date that does not install as it is gets its compiled
# libraries as of this long after the Python's release, its pure ones as of the date.
WHEELS_AFTER = datetime.timedelta(days=92)
ENVIRONMENTS = 3  # dates that install, at most


@dataclass(frozen=True)
class Dated:
    """The date whose versions run notebooks no single library's version ran."""

    date: str
    versions: dict[str, str]  # normalised distribution -> its version in that environment
    fixed: list[str]  # the failing notebooks that run there
    # libraries taken newer than the date (its version broke them), and why
    lifted: dict[str, str] = field(default_factory=dict)
    compiled: str = ""  # the later date compiled libraries were taken at ("": the date)

    @property
    def label(self) -> str:
        """ "2022-10-24", or "2022-10-24 (compiled ones as of 2023-01-24, ...)"."""
        if not self.compiled:
            return self.date
        return f"{self.date} (compiled ones as of {self.compiled}: their wheels for this Python)"


def candidate_dates(
    last_change: datetime.date, python: tuple[int, int], today: datetime.date
) -> list[datetime.date]:
    """The dates to try, oldest first: from the notebooks' last change (never before the
    Python's first release) onwards, before ``today``."""
    start = max(last_change, PYTHON_RELEASED.get(python, last_change))
    dates = [start + datetime.timedelta(days=days) for days in OFFSETS]
    return [date for date in dates if date < today]


def last_change(plan: Plan) -> datetime.date | None:
    """The day the adopted commit's notebooks last changed (None: a plain folder)."""
    if not plan.is_git or not plan.head:
        return None
    paths = [entry.path for entry in plan.notebooks]
    stamp = processes.git_out("log", "-1", "--format=%cs", plan.head, "--", *paths, cwd=plan.root)
    return datetime.date.fromisoformat(stamp) if stamp else None


def python_version(python: Path) -> tuple[int, int] | None:
    """``python``'s (major, minor)."""
    out = processes.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:2])"], check=False
    ).text.split()
    return (int(out[0]), int(out[1])) if len(out) == 2 and all(p.isdigit() for p in out) else None


def compiled(python: Path) -> list[str]:
    """The distributions installed in ``python``'s environment from platform wheels (built
    code: never built from source for an old date, which takes minutes and then fails)."""
    from scaffold.check.imports import site_packages

    found = []
    for folder in site_packages(python):
        for wheel in sorted(folder.glob("*.dist-info/WHEEL")):
            text = wheel.read_text(encoding="utf-8", errors="replace")
            tags = [line[4:].strip() for line in text.splitlines() if line.startswith("Tag:")]
            if tags and not any(tag.endswith("-none-any") for tag in tags):
                found.append(wheel.parent.name.split("-")[0])
    return found


def environment(
    plan: Plan,
    folder: Path,
    date: datetime.date,
    binary: list[str],
    extra: list[str],
    wheels_from: datetime.date | None = None,
) -> Path | str:
    """A venv with the project (and ``extra``) as the index was on ``date``, or why it does
    not install. Wheels only first (an old sdist's build fails and stops uv's resolution);
    then sdists of pure libraries too, the compiled ones (``binary``) still from wheels.
    With ``wheels_from``: that second way alone, the compiled ones as of that day (the date
    had no wheels of them for this Python)."""
    uv = processes.find_tool("uv")
    if uv is None:
        return "uv is not installed"
    processes.run([uv, "venv", "--quiet", str(folder)], cwd=plan.root)
    python = folder / "bin" / "python"
    why = ""
    passes = [[":all:"], binary] if wheels_from is None else [binary]
    later = dict.fromkeys(binary, wheels_from) if wheels_from else {}
    for wheels in passes:
        try:
            failed = _install_as_of(uv, plan, python, date, wheels, later, extra)
        except ScaffoldError as error:  # it did not finish in time
            return str(error)
        if failed is None:
            return python
        why = why or failed
    return why


def _install_as_of(
    uv: str,
    plan: Plan,
    python: Path,
    date: datetime.date,
    wheels: list[str],
    later: dict[str, datetime.date],
    extra: list[str],
) -> str | None:
    """Install the project as of ``date`` (``later``: libraries taken as of another day); None
    when it installs, else uv's reason. A library with no release before the date is taken at
    its newest, as uv's hint says."""
    why = ""
    later = dict(later)
    lifted: list[str] = []
    for _ in range(LIFTED + 1):
        later.update(dict.fromkeys(lifted, datetime.date.today()))
        args = [uv, "pip", "install", "--quiet", "--python", str(python),
                *(arg for name in wheels for arg in ("--only-binary", name)),
                "--exclude-newer", date.isoformat(),
                *(arg for name, day in later.items()
                  for arg in ("--exclude-newer-package", f"{name}={day.isoformat()}")),
                "-e", ".", "papermill", "ipykernel", *extra]  # fmt: skip
        result = processes.run(args, cwd=plan.root, check=False, timeout=900)
        if result.ok:
            return None
        why = why or _first_error(result.stderr)
        more = [name for name in _FILTERED.findall(_text(result.stderr)) if name not in lifted]
        if not more:
            break
        lifted += more
    return why


# uv's hint when a library has no release before the date (codecov's old ones were deleted)
_FILTERED = re.compile(r"`([A-Za-z0-9._-]+)` was filtered by `exclude-newer`")
LIFTED = 6  # libraries taken at their newest for a date, at most


def _text(stderr: bytes | str) -> str:
    return stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr


def _first_error(stderr: bytes | str) -> str:
    """uv's reason, shortened: its first line that says what failed."""
    text = _text(stderr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = next((line for line in lines if "No solution" in line or "error" in line), "")
    chosen = found or (lines[0] if lines else "")
    return chosen[:120]


def versions(python: Path) -> dict[str, str]:
    """Normalised distribution name -> installed version."""
    from scaffold.check.imports import normalise

    uv = processes.find_tool("uv") or "uv"
    frozen = processes.run([uv, "pip", "freeze", "--python", str(python)], check=False).text
    found = {}
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        if version:
            found[normalise(name)] = version.strip()
    return found


@dataclass
class Trial:
    """What a date must do: run some of ``broken`` and every one of ``running``."""

    broken: list[str]
    running: list[str]
    binary: list[str]  # installed from wheels only
    extra: list[str]  # libraries the single-library search added (absent ones)
    timeout: float
    newest: dict[str, str] = field(default_factory=dict)  # the newest environment's versions


def together(plan: Plan, python: Path, trial: Trial, echo: Callable[[str], object]) -> Dated | None:
    """The first date under which a broken notebook runs and no running one fails; the dates
    that did not install are tried again, last, with their compiled libraries as of their
    first wheels for this Python (``WHEELS_AFTER`` its release)."""
    changed = last_change(plan)
    version = python_version(python)
    if changed is None or version is None or not trial.broken:
        return None
    released = PYTHON_RELEASED.get(version)
    wheels_from = released + WHEELS_AFTER if released else None
    made = [0]  # environments made, of ENVIRONMENTS
    failed: list[datetime.date] = []
    for date in candidate_dates(changed, version, datetime.date.today()):
        dated = _at(plan, date, None, trial, echo, made)
        if isinstance(dated, Dated):
            return dated
        failed += [date] if dated == "uninstallable" else []
    for date in [day for day in failed if wheels_from is not None and day < wheels_from]:
        dated = _at(plan, date, wheels_from, trial, echo, made)
        if isinstance(dated, Dated):
            return dated
    return None


def _at(
    plan: Plan,
    date: datetime.date,
    wheels_from: datetime.date | None,
    trial: Trial,
    echo: Callable[[str], object],
    made: list[int],
) -> Dated | str | None:
    """The date's result (``_try``), "uninstallable", or None; ``made`` counts the
    environments made, and none is made past ``ENVIRONMENTS``."""
    if made[0] >= ENVIRONMENTS:
        return None
    with scratch_folder("scaffold-adopt-date-") as scratch:
        older = environment(plan, Path(scratch) / "venv", date, trial.binary, trial.extra,
                            wheels_from)  # fmt: skip
        if isinstance(older, str):
            echo(f"  every library as of {date}: does not install ({older})")
            return "uninstallable"
        if wheels_from:
            echo(f"  every library as of {date} with its compiled ones as of {wheels_from} "
                 "(their wheels for this Python) installs")  # fmt: skip
        made[0] += 1
        dated = _try(plan, older, date, trial, echo, lift=made[0] == 1)
    if dated is None:
        return None
    return replace(dated, compiled=wheels_from.isoformat() if wheels_from else "")


def _try(
    plan: Plan,
    older: Path,
    date: datetime.date,
    trial: Trial,
    echo: Callable[[str], object],
    lift: bool = False,
) -> Dated | None:
    """The date's result when it runs a broken notebook and stops no running one (``lift``:
    the first date that installs, where one library may be tried newer)."""
    project = Project(plan.root, plan.answers)
    still = failures(project, [plan.root / name for name in trial.broken], older, trial.timeout)
    fixed = [name for name in trial.broken if name not in still]
    lifted: dict[str, str] = {}
    if not fixed:
        echo(f"  every library as of {date}: still failing")
        for name, failure in still.items():
            echo(f"    {name}: {failure.why[:100]}")
        fixed, lifted = _lift(plan, older, date, still, trial, echo) if lift else ([], {})
        if not fixed:
            return None
    stopped = failures(project, [plan.root / name for name in trial.running], older, trial.timeout)
    if stopped:
        echo(f"  every library as of {date} runs {', '.join(fixed)} but stops "
             f"{', '.join(stopped)}: not kept")  # fmt: skip
        return None
    echo(f"  every library as of {date} runs {', '.join(fixed)}")
    return Dated(date.isoformat(), versions(older), fixed, lifted)


_LACKS = re.compile(r"\A[^\n]*(?:has no attribute|cannot import name|No module named)")
LIFTS = 3  # newer versions of the one library tried on top of a date's environment, at most


def _lift(
    plan: Plan,
    older: Path,
    date: datetime.date,
    still: dict[str, Failure],
    trial: Trial,
    echo: Callable[[str], object],
) -> tuple[list[str], dict[str, str]]:
    """When the date's failures name one library (its innermost frame: mglearn of 2020
    passes joblib a keyword joblib of 2022 dropped), that library's versions nearer the
    newest on top of the date's environment, newest first, wheels first: the notebooks that
    run then, and the library's reason (none: nothing ran)."""
    from scaffold.check.imports import environment_map, normalise, site_packages

    found = _blamed(still, environment_map(site_packages(older)))
    if found is None:
        return [], {}
    name, notebooks = found
    have = versions(older).get(normalise(name), "")
    newest = trial.newest.get(normalise(name), "")
    if not have or not newest or have == newest:
        return [], {}
    error = still[notebooks[0]].trace.splitlines()[0][:90]
    project = Project(plan.root, plan.answers)
    requirement = f"{name}=={newest}"
    for _ in range(LIFTS):
        version = _install(plan, older, name, requirement)
        if not version or version == have:
            break
        again = failures(project, [plan.root / n for n in notebooks], older, trial.timeout)
        ran = [notebook for notebook in notebooks if notebook not in again]
        if ran:
            echo(f"  every library as of {date} with {name} {version} runs {', '.join(ran)}")
            why = (f"every library as of {date} but {name}: {name} {have} of then breaks "
                   f"{', '.join(ran)} ({error})")  # fmt: skip
            return ran, {name: why}
        first = next(iter(again.values())).why[:100] if again else ""
        echo(f"  every library as of {date} with {name} {version}: still failing ({first})")
        series = ".".join(version.split(".")[:2])
        requirement = f"{name}>{have},<{series}"
    return [], {}


def _blamed(
    still: dict[str, Failure], modules: dict[str, set[str]]
) -> tuple[str, list[str]] | None:
    """The library the most failures' innermost library frames name, and those notebooks."""
    blamed: dict[str, list[str]] = {}
    for notebook, failure in still.items():
        if not failure.why.startswith("an error in the code") or _LACKS.search(failure.trace):
            continue  # a name the library of then lacks: a newer one lacks it too, or more
        for name in culprits(failure.trace, modules)[:1]:
            blamed.setdefault(name, []).append(notebook)
    if not blamed:
        return None
    name = max(blamed, key=lambda n: len(blamed[n]))
    return name, blamed[name]


def _install(plan: Plan, python: Path, name: str, requirement: str) -> str:
    """``requirement`` installed into ``python``'s environment (``name`` from a wheel
    first, else its sdist); the version of ``name`` installed then ("" when none)."""
    from scaffold.check.imports import normalise

    uv = processes.find_tool("uv") or "uv"
    for only in (["--only-binary", name], []):
        args = [uv, "pip", "install", "--quiet", "--python", str(python), *only, requirement]
        try:
            result = processes.run(args, cwd=plan.root, check=False, timeout=900)
        except ScaffoldError:  # it did not finish in time
            return ""
        if result.ok:
            return versions(python).get(normalise(name), "")
    return ""
