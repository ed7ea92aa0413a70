"""Pin what runs the notebooks when the newest versions break them.

Notebooks written years ago often fail on today's libraries alone (a removed module, a changed
default). When an adopted notebook fails with an error in the code or a missing module, adopt
tries the versions of the notebooks' time: the dependencies installed as the package index was
on the date the notebooks last changed (``uv pip install --exclude-newer``; compiled libraries
from wheels only), then
every two months for two years until three such environments install, never before the
running Python's first release. The first environment
in which a failing notebook runs and no running one fails gives the pins: the declared
dependencies at its versions, written to pyproject.toml with the date and the reason in
``[tool.scaffold.adopt]``, and committed ("Pin the versions that run the notebooks").
"""

from __future__ import annotations

import datetime
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scaffold import processes
from scaffold.adopt.plan import Plan
from scaffold.adopt.runs import Outcome, failures
from scaffold.project import Project

PIN_MESSAGE = "Pin the versions that run the notebooks"
# The first release of each Python: no wheels of a library built before it.
_PYTHON_RELEASED = {
    (3, 10): datetime.date(2021, 10, 4),
    (3, 11): datetime.date(2022, 10, 24),
    (3, 12): datetime.date(2023, 10, 2),
    (3, 13): datetime.date(2024, 10, 7),
    (3, 14): datetime.date(2025, 10, 7),
}
ATTEMPTS = 3
# Never built from source for an old date (minutes, then a failure): wheels only. Pure
# packages without wheels (sdists) are built.
COMPILED = (
    "numpy", "scipy", "pandas", "scikit-learn", "matplotlib", "statsmodels", "pyarrow",
    "tables", "h5py", "pillow", "lxml", "lightgbm", "xgboost", "torch", "tensorflow", "spacy",
    "scikit-image", "opencv-python", "numba", "llvmlite", "pyzmq", "psutil", "kiwisolver",
    "contourpy", "shapely", "pyproj", "fiona", "gdal", "cython", "blis", "thinc", "tornado",
)  # fmt: skip
_VERSION_REASONS = ("an error in the code", "missing module")


@dataclass(frozen=True)
class Pinned:
    """The pins that made notebooks run, and when they come from."""

    date: str
    pins: dict[str, str]  # distribution -> version
    fixed: list[str]  # notebooks that run with the pins and not without


def candidate_dates(plan: Plan, python: Path) -> list[datetime.date]:
    """The date the notebooks last changed, then every two months for two years; none before
    the Python's first release."""
    if not plan.is_git:
        return []
    notebooks = [entry.path for entry in plan.notebooks]
    stamp = processes.git_out(
        "log", "-1", "--format=%cs", plan.head, "--", *notebooks, cwd=plan.root
    )
    start = datetime.date.fromisoformat(stamp) if stamp else datetime.date.today()
    version = processes.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:2])"], check=False
    ).text.split()
    key = (int(version[0]), int(version[1])) if len(version) == 2 else sys.version_info[:2]
    start = max(start, _PYTHON_RELEASED.get(key, start))
    today = datetime.date.today()
    dates = [start + datetime.timedelta(days=61 * step) for step in range(13)]
    return [date for date in dates if date < today]


def _environment(plan: Plan, folder: Path, date: datetime.date) -> Path | None:
    """A venv with the project as the index was on ``date`` (None: it does not install)."""
    uv = processes.find_tool("uv")
    if uv is None:
        return None
    processes.run([uv, "venv", "--quiet", str(folder)], cwd=plan.root)
    python = folder / "bin" / "python"
    result = processes.run(
        [uv, "pip", "install", "--quiet", "--python", str(python),
         *(arg for name in COMPILED for arg in ("--only-binary", name)),
         "--exclude-newer", date.isoformat(), "-e", ".", "papermill", "ipykernel"],
        cwd=plan.root,
        check=False,
    )  # fmt: skip
    return python if result.ok else None


def _versions(python: Path, names: list[str]) -> dict[str, str]:
    """The installed versions of ``names`` in ``python``'s environment."""
    from scaffold.check.imports import normalise

    uv = processes.find_tool("uv") or "uv"
    frozen = processes.run([uv, "pip", "freeze", "--python", str(python)], check=False).text
    wanted = {normalise(name) for name in names}
    found = {}
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        if version and normalise(name) in wanted:
            found[name] = version.strip()
    return found


def find_pins(
    plan: Plan, outcomes: list[Outcome], python: Path, timeout: float, echo: Callable[[str], object]
) -> Pinned | None:
    """Older versions under which a failing notebook runs and no running one fails."""
    broken = [o.notebook for o in outcomes if not o.now and o.why.startswith(_VERSION_REASONS)]
    running = [o.notebook for o in outcomes if o.now]
    if not broken:
        return None
    tried = 0
    for date in candidate_dates(plan, python):
        if tried == ATTEMPTS:
            break
        with tempfile.TemporaryDirectory(prefix="scaffold-adopt-pins-") as scratch:
            older = _environment(plan, Path(scratch) / "venv", date)
            if older is None:  # no wheels of that time for this Python: a later date
                continue
            tried += 1
            echo(f"trying the versions of {date} for {len(broken)} failing notebooks")
            found = _try(plan, older, date, broken, running, timeout)
            if found is not None:
                return found
    return None


def _try(
    plan: Plan,
    older: Path,
    date: datetime.date,
    broken: list[str],
    running: list[str],
    timeout: float,
) -> Pinned | None:
    """The pins of ``older`` if a broken notebook runs there and no running one fails."""
    project = Project(plan.root, plan.answers)
    still = failures(project, [plan.root / name for name in broken], older, timeout)
    fixed = [name for name in broken if name not in still]
    if not fixed or failures(project, [plan.root / name for name in running], older, timeout):
        return None
    names = [requirement_name(r) for r in plan.dependencies]
    return Pinned(date.isoformat(), _versions(older, names), fixed)


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement string."""
    import re

    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    return match.group() if match else requirement


def write_pins(plan: Plan, pinned: Pinned) -> str:
    """pyproject.toml's dependencies pinned, the date and reason recorded; one commit."""
    import tomlkit

    from scaffold.adopt.apply import identity_args
    from scaffold.check.imports import normalise

    path = plan.root / "pyproject.toml"
    data = tomlkit.parse(path.read_text(encoding="utf-8"))
    versions = {normalise(name): version for name, version in pinned.pins.items()}
    pinned_list = tomlkit.array()
    for requirement in plan.dependencies:
        name = requirement_name(requirement)
        version = versions.get(normalise(name))
        pinned_list.append(f"{name}=={version}" if version else requirement)
    pinned_list.multiline(True)
    data["project"]["dependencies"] = pinned_list
    tool = data.setdefault("tool", tomlkit.table(is_super_table=True))
    scaffold_table = tool.setdefault("scaffold", tomlkit.table(is_super_table=True))
    scaffold_table["adopt"] = {
        "pinned-as-of": pinned.date,
        "why": "the newest versions break " + ", ".join(pinned.fixed) + "; modernise, then unpin",
    }
    old = path.read_bytes()
    try:
        path.write_text(tomlkit.dumps(data), encoding="utf-8")
        args = identity_args(plan.root, plan.answers)
        processes.git("add", "pyproject.toml", cwd=plan.root)
        processes.git(*args, "commit", "--quiet", "--no-verify", "-m", PIN_MESSAGE, cwd=plan.root)
    except BaseException:
        path.write_bytes(old)
        processes.git("reset", "--quiet", "--", "pyproject.toml", cwd=plan.root, check=False)
        raise
    return processes.git_out("rev-parse", "HEAD", cwd=plan.root)
