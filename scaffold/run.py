"""``scaffold run``: execute notebooks with papermill in the PROJECT's environment.

scaffold never imports papermill or the project's code: it finds the project's interpreter
(``find_interpreter``) and runs papermill there as a subprocess, so the kernel has the
project's dependencies even when scaffold itself is an isolated tool (pipx, uv tool).

Where the interpreter comes from, first match wins:

1. ``--python PATH``;
2. the project's own ``.venv`` (``make create_environment`` with pip, uv, virtualenv, poetry
   or pipenv); then, for a project with a ``Pipfile``, the environment pipenv keeps for it
   outside the project (``$WORKON_HOME``, else ``~/.local/share/virtualenvs/<name>-<hash>``);
3. a conda env named after the project (``make create_environment`` with conda);
4. the activated virtualenv (``$VIRTUAL_ENV``);
5. the activated conda env (``$CONDA_PREFIX``), unless it is conda's ``base``;
6. the activated conda ``base`` env;
7. ``python3`` (or ``python``) on ``PATH``.

The project's own environment wins over an activated one: the activated env is often
another tool's (scaffold's own venv, say), and a pipeline must run where the project is
installed.

The chosen interpreter must have papermill and ipykernel, and the project's package
installed; otherwise ``scaffold run`` stops and says what to install where.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold import parameters as params
from scaffold.errors import ScaffoldError
from scaffold.files import read_text, relative
from scaffold.layout import find_package
from scaffold.pipeline import NOTEBOOKS_DIR, PARAMS_DIR, REPORTS_DIR, pipeline_notebooks
from scaffold.project import Project

RUNTIME = ("papermill", "ipykernel")
INJECTED_TAG = "injected-parameters"


class NotebookFailed(ScaffoldError):
    """A notebook stopped with an error; the message names the notebook, the cell, the error."""


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs papermill and the kernel."""

    python: Path  # as found (not resolved: a venv's python is a symlink that must stay one)
    origin: str  # where it came from, for the user

    @property
    def bin_dir(self) -> Path:
        """The folder of its scripts (papermill, dvc)."""
        return self.python.parent

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment variables that activate this interpreter's environment."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", "")])
        prefix = self.bin_dir.parent
        if (prefix / "pyvenv.cfg").is_file():
            env["VIRTUAL_ENV"] = str(prefix)
        # The kernel: the environment's own `python3` kernelspec before any user-level one.
        env["JUPYTER_PREFER_ENV_PATH"] = "1"
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env


def _python_in(prefix: Path) -> Path | None:
    for candidate in (
        prefix / "bin" / "python",
        prefix / "bin" / "python3",
        prefix / "Scripts" / "python.exe",
        prefix / "python.exe",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _pipenv_prefix(pipfile: Path, environ: Mapping[str, str]) -> Path:
    """Where pipenv keeps the environment of ``pipfile`` when it is not in the project: its
    folder name sanitized, then 8 characters of the Pipfile path's hash (pipenv's own rule)."""
    import base64
    import hashlib

    if environ.get("WORKON_HOME"):
        home = Path(environ["WORKON_HOME"]).expanduser()
    else:
        home = Path(environ.get("XDG_DATA_HOME") or "~/.local/share").expanduser() / "virtualenvs"
    name = re.sub(r'[ &$`!*@"()\[\]\\\r\n\t]', "_", pipfile.parent.name)[:42]
    digest = base64.urlsafe_b64encode(hashlib.sha256(str(pipfile).encode()).digest()[:6])
    return home / f"{name}-{digest.decode()[:8]}"


def candidate_environments(project: Project, environ: Mapping[str, str]) -> list[tuple[str, Path]]:
    """``(origin, prefix)`` of the environments to try, in order (see the module docstring)."""
    found: list[tuple[str, Path]] = [("the project's .venv", project.root / ".venv")]
    pipfile = project.root / "Pipfile"
    if pipfile.is_file():
        found.append(("pipenv's environment for the Pipfile", _pipenv_prefix(pipfile, environ)))
    conda_prefix = environ.get("CONDA_PREFIX", "")
    conda_name = environ.get("CONDA_DEFAULT_ENV", "") or Path(conda_prefix).name
    is_base = bool(conda_prefix) and (
        conda_name == "base" or (Path(conda_prefix) / "condabin").is_dir()
    )
    name = project.answers.get("repo_name") or project.root.name
    conda_roots = []
    if environ.get("CONDA_EXE"):
        conda_roots.append(Path(environ["CONDA_EXE"]).parent.parent)
    if is_base:
        conda_roots.append(Path(conda_prefix))
    for conda_root in conda_roots:
        found.append((f"the conda env {name!r}", conda_root / "envs" / name))
    if environ.get("VIRTUAL_ENV"):
        found.append(("the activated virtualenv ($VIRTUAL_ENV)", Path(environ["VIRTUAL_ENV"])))
    if conda_prefix and not is_base:
        found.append((f"the activated conda env {conda_name!r}", Path(conda_prefix)))
    if is_base:
        found.append(("the activated conda base env", Path(conda_prefix)))
    return found


def find_interpreter(
    project: Project, explicit: Path | None = None, environ: Mapping[str, str] | None = None
) -> Interpreter:
    """The project's interpreter (first match of the order in the module docstring)."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        if explicit.is_dir():
            python = _python_in(explicit)
            if python is None:
                raise ScaffoldError(f"--python {explicit}: no Python interpreter in that folder.")
            return Interpreter(python.absolute(), "--python")
        if not (explicit.is_file() and os.access(explicit, os.X_OK)):
            raise ScaffoldError(f"--python {explicit}: no such executable.")
        return Interpreter(explicit.absolute(), "--python")
    for origin, prefix in candidate_environments(project, environ):
        python = _python_in(prefix)
        if python is not None:
            return Interpreter(python.absolute(), origin)
    for name in ("python3", "python"):
        on_path = shutil.which(name, path=environ.get("PATH"))
        if on_path:
            return Interpreter(Path(on_path), f"{name} on PATH (no project environment found)")
    raise ScaffoldError(
        "no Python environment found for this project (no activated virtualenv or conda env, "
        "no .venv in the project, no python3 on PATH); create one (make create_environment "
        "&& make requirements) or pass --python PATH."
    )


def check_interpreter(
    interpreter: Interpreter, project: Project, needs: Sequence[str] = RUNTIME
) -> None:
    """Refuse an interpreter that lacks ``needs`` or the project's package."""
    package = find_package(project)
    wanted = [*needs, *([package.name] if package else [])]
    probe = (
        "import importlib.util, sys; "
        f"print(' '.join(m for m in {wanted!r} if importlib.util.find_spec(m) is None))"
    )
    try:
        result = subprocess.run(
            [str(interpreter.python), "-c", probe],
            capture_output=True,
            text=True,
            check=False,
            cwd=tempfile.gettempdir(),  # not the project: only what is installed counts
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ScaffoldError(f"cannot start {interpreter.python}: {error}.") from None
    if result.returncode != 0:
        raise ScaffoldError(f"{interpreter.python} does not run: {result.stderr.strip()}.")
    missing = result.stdout.split()
    if not missing:
        return
    what = ", ".join(missing)
    if interpreter.origin.startswith(("python3 on PATH", "python on PATH")):
        raise ScaffoldError(
            f"no project environment found (no activated virtualenv or conda env, no .venv "
            f"in the project), and {interpreter.python} lacks {what}; create one (make "
            "create_environment && make requirements) or pass --python PATH."
        )
    other = "" if interpreter.origin == "--python" else ", or pass --python PATH"
    raise ScaffoldError(
        f"{interpreter.python} ({interpreter.origin}) lacks {what}; install the project "
        f"with its dev extras there (make requirements, or pip install -e '.[dev]'){other}."
    )


# -- planning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    """One notebook to execute, with its parameters."""

    notebook: Path
    output: Path
    parameters_file: Path | None
    overrides: dict[str, Any] = field(default_factory=dict)

    def describe(self, root: Path) -> str:
        """``notebooks/a.ipynb -> reports/a.ipynb (params/a.yaml, -p seed=1)``."""
        extras = [relative(self.parameters_file, root)] if self.parameters_file else []
        extras += [f"-p {key}={json.dumps(value)}" for key, value in self.overrides.items()]
        note = f" ({', '.join(extras)})" if extras else ""
        return f"{relative(self.notebook, root)} -> {relative(self.output, root)}{note}"


def parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """``-p KEY=VALUE`` strings as a mapping of raw values."""
    parsed: dict[str, str] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ScaffoldError(f"-p expects KEY=VALUE with a parameter name, got {assignment!r}.")
        parsed[key] = value
    return parsed


def convert(raw: str, declared: params.Parameter | None, key: str) -> Any:
    """A ``-p`` value as the notebook declares it: text for ``str``, else read as YAML."""
    import yaml

    annotation = declared.annotation if declared else ""
    if annotation == "str":
        return raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    kinds: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,)}
    expected = kinds.get(annotation)
    if expected and (not isinstance(value, expected) or (annotation != "bool" and value is True)):
        raise ScaffoldError(f"-p {key}={raw}: {key} is declared {annotation}.")
    if annotation == "float" and isinstance(value, int):
        value = float(value)
    return value


def resolve_notebook(root: Path, name: str, cwd: Path) -> Path:
    """The notebook a user means by ``name``: a path, a stem in notebooks/, or ``1.2``."""
    folder = root / NOTEBOOKS_DIR
    stem = name[:-6] if name.endswith(".ipynb") else name
    for candidate in (cwd / name, cwd / f"{stem}.ipynb", folder / name, folder / f"{stem}.ipynb"):
        if candidate.is_file() and candidate.suffix == ".ipynb":
            path = candidate.resolve()
            break
    else:
        matches = sorted(folder.glob(f"{name}-*.ipynb")) if re.fullmatch(r"\d+\.\d+", name) else []
        if len(matches) != 1:
            known = sorted(path.stem for path in folder.glob("*.ipynb"))
            listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            raise ScaffoldError(
                f"no notebook {name!r} in {NOTEBOOKS_DIR}/"
                + (f" ({len(matches)} start with {name}-)" if matches else "")
                + (f"; the notebooks are: {listed}." if known else "; it has no notebooks.")
            )
        path = matches[0].resolve()
    if not path.is_relative_to(root):
        raise ScaffoldError(f"{path} is outside the project {root}.")
    if path.is_relative_to(root / REPORTS_DIR):
        raise ScaffoldError(
            f"{relative(path, root)} is an executed copy; run its source in {NOTEBOOKS_DIR}/."
        )
    return path


def plan_runs(
    project: Project,
    names: Sequence[str],
    assignments: Sequence[str] = (),
    cwd: Path | None = None,
) -> list[RunPlan]:
    """What ``scaffold run NOTEBOOK... -p KEY=VALUE`` executes, checked before anything runs."""
    import yaml

    root = project.root
    raw = parse_assignments(assignments)
    notebooks = list(dict.fromkeys(resolve_notebook(root, n, cwd or Path.cwd()) for n in names))
    declared = {path: params.of_notebook(path) or [] for path in notebooks}
    for key in raw:
        if not any(p.name == key for found in declared.values() for p in found):
            names_known = sorted({p.name for found in declared.values() for p in found})
            if len(notebooks) == 1:
                which, whose = f"{notebooks[0].name} has no", "its"
            else:
                which, whose = "none of these notebooks has a", "their"
            known = f"; {whose} parameters: {', '.join(names_known)}" if names_known else ""
            raise ScaffoldError(f"-p {key}: {which} parameter {key!r}{known}.")
    plans = []
    for path in notebooks:
        by_name = {p.name: p for p in declared[path]}
        overrides = {k: convert(v, by_name[k], k) for k, v in raw.items() if k in by_name}
        params_file = root / PARAMS_DIR / f"{path.stem}.yaml"
        if params_file.is_file():
            try:
                loaded = yaml.safe_load(read_text(params_file, root))
            except yaml.YAMLError:
                raise ScaffoldError(f"{relative(params_file, root)} is not valid YAML.") from None
            if loaded is not None and not isinstance(loaded, dict):
                raise ScaffoldError(f"{relative(params_file, root)} must map names to values.")
        output = root / REPORTS_DIR / f"{path.stem}.ipynb"
        if output.resolve() == path:
            raise ScaffoldError(f"{relative(path, root)} would be overwritten by its own run.")
        plans.append(
            RunPlan(path, output, params_file if params_file.is_file() else None, overrides)
        )
    return plans


# -- executing ------------------------------------------------------------------------------


def _driver_source() -> str:
    return (Path(__file__).with_name("_papermill_driver.py")).read_text(encoding="utf-8")


def execute(
    plan: RunPlan, interpreter: Interpreter, root: Path, *, progress: bool = False
) -> float:
    """Run one notebook; return the seconds it took. Raise NotebookFailed if a cell fails."""
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    handle, result_file = tempfile.mkstemp(prefix="scaffold-run-", suffix=".json")
    os.close(handle)
    spec = {
        "input": str(plan.notebook),
        "output": str(plan.output),
        "cwd": str(plan.notebook.parent),
        "parameters_file": str(plan.parameters_file) if plan.parameters_file else None,
        "parameters": plan.overrides,
        "progress": progress,
        "result": result_file,
    }
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [str(interpreter.python), "-c", _driver_source(), json.dumps(spec, default=str)],
            cwd=root,
            env=interpreter.environment(),
            check=False,
        )
        try:
            outcome = json.loads(Path(result_file).read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            outcome = {}
    finally:
        Path(result_file).unlink(missing_ok=True)
    seconds = time.monotonic() - started
    if completed.returncode == 0 and outcome.get("ok"):
        return seconds
    raise NotebookFailed(failure_message(plan.notebook, plan.output, root, outcome))


def failed_cell(output: Path) -> dict[str, Any] | None:
    """The first cell of an executed notebook that raised (None if none did)."""
    try:
        cells = json.loads(output.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    for cell in cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors or cell.get("metadata", {}).get("papermill", {}).get("exception") is True:
            found: dict[str, Any] = dict(cell)
            found["error"] = errors[0] if errors else {}
            return found
    return None


def last_started_cell(output: Path) -> dict[str, Any] | None:
    """The last cell papermill started in an executed notebook (where a dead kernel stopped)."""
    try:
        cells = json.loads(output.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    started = [
        cell
        for cell in cells
        if isinstance(cell, dict)
        and (cell.get("metadata", {}).get("papermill") or {}).get("start_time")
    ]
    return started[-1] if started else None


def failure_message(
    notebook: Path, output: Path, root: Path, outcome: Mapping[str, Any] | None = None
) -> str:
    """One sentence: which notebook, which cell, which error, where the partial output is."""
    outcome = outcome or {}
    name = relative(notebook, root)
    cell = failed_cell(output) if output.is_file() else None
    if cell is None and outcome.get("error") == "DeadKernelError":
        started = last_started_cell(output) if output.is_file() else None
        where = f" in {_source_position(notebook, started)}" if started else ""
        partial = f" The partial output is in {relative(output, root)}." if output.is_file() else ""
        return f"{name} stopped{where}: the kernel died (killed, or out of memory?).{partial}"
    if cell is None:
        error = outcome.get("error", "")
        message = outcome.get("message", "")
        detail = f"{error}: {message}" if error and message else error or message
        return f"{name} did not run: {detail or 'papermill failed (see the output above)'}."
    error = cell["error"]
    ename = error.get("ename") or outcome.get("error") or "error"
    evalue = error.get("evalue") or outcome.get("message") or ""
    what = f"{ename}: {evalue}" if evalue else ename
    if INJECTED_TAG in (cell.get("metadata", {}).get("tags") or []):
        where = "the injected parameters cell"
    else:
        where = _source_position(notebook, cell)
    return f"{name} failed in {where}: {what}. The partial output is in {relative(output, root)}."


def _source_position(notebook: Path, cell: Mapping[str, Any]) -> str:
    cell_id = cell.get("id")
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        cells = []
    index = next((i for i, c in enumerate(cells, start=1) if cell_id and c.get("id") == cell_id), 0)
    parts = [f"cell {index}" if index else "a cell"]
    if cell_id:
        parts.append(f"id {cell_id!r}")
    if first:
        parts.append(f"`{first}`")
    return f"{parts[0]} ({', '.join(parts[1:])})" if len(parts) > 1 else parts[0]


# -- the whole pipeline ---------------------------------------------------------------------


def uses_dvc(project: Project) -> bool:
    """True when ``run --all`` can delegate to ``dvc repro`` (a DVC repo with dvc.yaml)."""
    root = project.root
    return (root / ".dvc").is_dir() and (root / "dvc.yaml").is_file()


def pipeline_plans(project: Project) -> list[RunPlan]:
    """The production notebooks of ``dvc.yaml`` as runs, in pipeline (file) order."""
    stages = pipeline_notebooks(project.root)
    if not stages:
        raise ScaffoldError(
            "no production notebooks in dvc.yaml; register one with "
            "scaffold add notebook --production DESCRIPTION."
        )
    root = project.root
    plans = []
    for stage in stages:
        notebook = (root / stage.notebook).resolve()
        if not notebook.is_file():
            raise ScaffoldError(f"stage {stage.stage} runs {stage.notebook}, which is missing.")
        params_file = root / stage.params if stage.params else None
        plans.append(RunPlan(notebook, (root / stage.report).resolve(), params_file))
    return plans


def repro(project: Project, interpreter: Interpreter) -> None:
    """``dvc repro`` with the project's environment active; name the failing notebook."""
    root = project.root
    started = time.time()
    completed = subprocess.run(
        [str(interpreter.python), "-m", "dvc", "repro"],
        cwd=root,
        env=interpreter.environment(),
        check=False,
    )
    if completed.returncode == 0:
        return
    for stage in pipeline_notebooks(root):
        report = root / stage.report
        if report.is_file() and report.stat().st_mtime >= started - 1 and failed_cell(report):
            raise NotebookFailed(failure_message(root / stage.notebook, report, root))
    raise ScaffoldError(f"dvc repro failed (exit {completed.returncode}); see its output above.")
