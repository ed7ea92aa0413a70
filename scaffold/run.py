"""``scaffold run``: execute notebooks with papermill in the PROJECT's environment.

The interpreter comes from ``scaffold.interpreters``; papermill runs there as a subprocess
(``_papermill_driver.py``), never in scaffold's own process. ``plan_runs`` checks a request
before anything runs; ``execute`` runs one plan; ``repro`` hands ``--all`` to ``dvc repro``.
Sweeps (``--grid``) are in ``scaffold.sweep``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold import parameters as params
from scaffold.errors import ScaffoldError, sentence
from scaffold.files import read_text, relative
from scaffold.interpreters import RUNTIME, Interpreter, check_interpreter, find_interpreter
from scaffold.layout import NOTEBOOKS_DIR, PARAMS_DIR, REPORTS_DIR
from scaffold.options import parse_assignments
from scaffold.pipeline import pipeline_notebooks
from scaffold.project import Project

INJECTED_TAG = "injected-parameters"


Echo = Callable[[str], None]


class NotebookFailed(ScaffoldError):
    """A notebook stopped with an error; the message names the notebook, the cell, the error."""


@dataclass(frozen=True)
class Request:
    """What ``scaffold run`` was asked, as typed on the command line (``run`` checks it)."""

    notebooks: Sequence[str] = ()
    assignments: Sequence[str] = ()
    run_all: bool = False
    python: Path | None = None
    progress: bool = False
    grid: Sequence[str] = ()
    jobs: int | None = None
    cluster: str | None = None
    dry_run: bool = False
    yes: bool = False


def _check_request(request: Request) -> None:
    if request.run_all and (request.notebooks or request.assignments or request.grid):
        raise ScaffoldError(
            "--all runs the pipeline with its parameters files; give no notebooks, -p or "
            "--grid with it (edit params/<notebook>.yaml instead)."
        )
    if not request.run_all and not request.notebooks:
        raise ScaffoldError("name the notebooks to run (e.g. scaffold run 1.0), or use --all.")
    if request.grid and len(request.notebooks) > 1:
        raise ScaffoldError("--grid sweeps one notebook; name only one.")
    if not request.grid and (request.jobs is not None or request.cluster or request.yes):
        raise ScaffoldError("-j, --cluster and --yes go with --grid KEY=V1,V2,...")
    if request.jobs is not None and request.jobs < 1:
        raise ScaffoldError(f"-j must be 1 or more, got {request.jobs}.")


def run(project: Project, request: Request, echo: Echo) -> int:
    """Do what ``scaffold run`` was asked, printing each step with ``echo``; the exit code."""
    _check_request(request)
    if request.grid:
        from scaffold.sweep import run_sweep

        return run_sweep(project, request, echo)
    if request.run_all:
        return _run_all(project, request, echo)
    plans = plan_runs(project, request.notebooks, request.assignments)
    if request.dry_run:
        for plan in plans:
            echo(f"would run {plan.describe(project.root)}")
        return 0
    interpreter = find_interpreter(project, request.python)
    check_interpreter(interpreter, project)
    echo(f"python {shown(interpreter.python)} ({interpreter.origin})")
    _execute_all(plans, interpreter, project.root, request.progress, echo)
    return 0


def _run_all(project: Project, request: Request, echo: Echo) -> int:
    use_dvc = uses_dvc(project)
    plans = [] if use_dvc else pipeline_plans(project)
    interpreter = find_interpreter(project, request.python)
    check_interpreter(interpreter, project, (*RUNTIME, "dvc") if use_dvc else RUNTIME)
    echo(f"python {shown(interpreter.python)} ({interpreter.origin})")
    if use_dvc:
        echo("run dvc repro")
        if not request.dry_run:
            repro(project, interpreter)
        return 0
    noun = "notebook" if len(plans) == 1 else "notebooks"
    echo(f"run {len(plans)} pipeline {noun} in dvc.yaml order (no DVC repo here)")
    if not request.dry_run:
        _execute_all(plans, interpreter, project.root, request.progress, echo)
    return 0


def _execute_all(
    plans: Sequence[RunPlan], interpreter: Interpreter, root: Path, progress: bool, echo: Echo
) -> None:
    for plan in plans:
        echo(f"run {plan.describe(root)}")
        seconds = execute(plan, interpreter, root, progress=progress)
        echo(f"done {shown(plan.output)} ({seconds:.1f} s)")


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it can be, as the user typed it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


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


def convert(raw: str, declared: params.Parameter | None, key: str, flag: str = "-p") -> Any:
    """A ``-p`` value as the notebook declares it: text for ``str``, else read as YAML;
    errors name ``flag``, the option the user typed."""
    import yaml

    annotation = declared.annotation if declared else ""
    if annotation == "str":
        return raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    if annotation == "float" and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)  # 1e-3: YAML 1.1 reads a float only with a dot
    kinds: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,)}
    expected = kinds.get(annotation)
    if expected and (not isinstance(value, expected) or (annotation != "bool" and value is True)):
        raise ScaffoldError(f"{flag} {key}={raw}: {key} is declared {annotation}.")
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


def unknown_key(key: str, notebooks: Sequence[Path], declared: Sequence[params.Parameter]) -> str:
    """The sentence for ``-p KEY`` (or ``--grid KEY``) that no notebook declares."""
    known = sorted({parameter.name for parameter in declared})
    if len(notebooks) == 1:
        which, whose = f"{notebooks[0].name} has no", "its"
    else:
        which, whose = "none of these notebooks has a", "their"
    listed = f"; {whose} parameters: {', '.join(known)}" if known else ""
    return f"{key}: {which} parameter {key!r}{listed}."


def read_params_file(path: Path, root: Path) -> dict[str, Any] | None:
    """The values of a parameters file (None when there is none); refuse a broken one."""
    import yaml

    if not path.is_file():
        return None
    try:
        loaded = yaml.safe_load(read_text(path, root))
    except yaml.YAMLError:
        raise ScaffoldError(f"{relative(path, root)} is not valid YAML.") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ScaffoldError(f"{relative(path, root)} must map names to values.")
    return loaded or {}


def _plan_one(
    root: Path, path: Path, declared: Sequence[params.Parameter], raw: Mapping[str, str]
) -> RunPlan:
    by_name = {p.name: p for p in declared}
    overrides = {k: convert(v, by_name[k], k) for k, v in raw.items() if k in by_name}
    params_file = root / PARAMS_DIR / f"{path.stem}.yaml"
    found = read_params_file(params_file, root) is not None
    output = root / REPORTS_DIR / f"{path.stem}.ipynb"
    if output.resolve() == path:
        raise ScaffoldError(f"{relative(path, root)} would be overwritten by its own run.")
    return RunPlan(path, output, params_file if found else None, overrides)


def plan_runs(
    project: Project,
    names: Sequence[str],
    assignments: Sequence[str] = (),
    cwd: Path | None = None,
) -> list[RunPlan]:
    """What ``scaffold run NOTEBOOK... -p KEY=VALUE`` executes, checked before anything runs."""
    root = project.root
    raw = parse_assignments(assignments, names=True)
    notebooks = list(dict.fromkeys(resolve_notebook(root, n, cwd or Path.cwd()) for n in names))
    declared = {path: params.of_notebook(path) or [] for path in notebooks}
    every = [parameter for found in declared.values() for parameter in found]
    for key in raw:
        if not any(parameter.name == key for parameter in every):
            raise ScaffoldError("-p " + unknown_key(key, notebooks, every))
    return [_plan_one(root, path, declared[path], raw) for path in notebooks]


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


def _dead_kernel_message(name: str, notebook: Path, output: Path, root: Path) -> str:
    started = last_started_cell(output) if output.is_file() else None
    where = f" in {_source_position(notebook, started)}" if started else ""
    partial = f" The partial output is in {relative(output, root)}." if output.is_file() else ""
    return f"{name} stopped{where}: the kernel died (killed, or out of memory?).{partial}"


def _not_run_message(name: str, outcome: Mapping[str, Any]) -> str:
    error = outcome.get("error", "")
    message = outcome.get("message", "")
    detail = f"{error}: {message}" if error and message else error or message
    return sentence(f"{name} did not run: {detail or 'papermill failed (see the output above)'}")


def failure_message(
    notebook: Path, output: Path, root: Path, outcome: Mapping[str, Any] | None = None
) -> str:
    """One sentence: which notebook, which cell, which error, where the partial output is."""
    outcome = outcome or {}
    name = relative(notebook, root)
    cell = failed_cell(output) if output.is_file() else None
    if cell is None and outcome.get("error") == "DeadKernelError":
        return _dead_kernel_message(name, notebook, output, root)
    if cell is None:
        return _not_run_message(name, outcome)
    place = failure_place(notebook, cell, outcome)
    failed = sentence(f"{name} failed in {place}")
    return f"{failed} The partial output is in {relative(output, root)}."


def failure_place(
    notebook: Path, cell: Mapping[str, Any], outcome: Mapping[str, Any] | None = None
) -> str:
    """``cell 7 (id 'explode', `x = 1 / 0`): ZeroDivisionError: division by zero``."""
    outcome = outcome or {}
    error = cell.get("error") or {}
    ename = error.get("ename") or outcome.get("error") or "error"
    evalue = error.get("evalue") or outcome.get("message") or ""
    what = f"{ename}: {evalue}" if evalue else ename
    if INJECTED_TAG in (cell.get("metadata", {}).get("tags") or []):
        where = "the injected parameters cell"
    else:
        where = _source_position(notebook, cell)
    return f"{where}: {what}"


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
