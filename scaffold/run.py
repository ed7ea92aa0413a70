"""``scaffold run``: execute notebooks with papermill in the PROJECT's environment.

The interpreter comes from ``scaffold.interpreters``; papermill runs there, never in
scaffold's own process, through ``scaffold.execution`` (the driver process, failure reading).
``plan_runs`` checks a request before anything runs; ``repro`` hands ``--all`` to ``dvc
repro``. A sweep (``--grid``) is planned by ``scaffold.sweep`` (the model) and run here by
one of its backends: ``pool`` (local), ``sweep_dvc`` (DVC's queue), ``sweep_cluster`` (Dask).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold import pool, sweep_cluster, sweep_dvc
from scaffold.errors import ScaffoldError
from scaffold.execution import (
    Echo,
    NotebookFailed,
    RunPlan,
    execute,
    failed_cell,
    failure_message,
    plan_runs,
    resolve_notebook,
)
from scaffold.files import relative
from scaffold.interpreters import RUNTIME, Interpreter, check_interpreter, find_interpreter
from scaffold.layout import REPORTS_DIR
from scaffold.pipeline import pipeline_notebooks
from scaffold.project import Project
from scaffold.sweep import (
    Outcome,
    Progress,
    Runner,
    describe,
    plan_sweep,
    summary_lines,
    write_summary,
)


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
        seconds = execute(plan, interpreter, root, progress=progress, notice=echo)
        echo(f"done {shown(plan.output)} ({seconds:.1f} s)")


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it can be, as the user typed it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


# -- planning -------------------------------------------------------------------------------


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


# -- sweeps ---------------------------------------------------------------------------------

BACKENDS: dict[str, tuple[Runner, tuple[str, ...], str]] = {
    # backend: (runner, what the interpreter needs, the extras that bring it)
    "pool": (pool.run_pool, RUNTIME, "dev"),
    "dvc": (sweep_dvc.run_experiments, (*RUNTIME, "dvc"), "dev"),
    "cluster": (sweep_cluster.run_cluster, (*RUNTIME, "distributed"), "dev,cluster"),
}


def _backend(project: Project, notebook: Path, cluster: str | None) -> str:
    if cluster:
        return "cluster"
    return "dvc" if sweep_dvc.stage_of(project, notebook) is not None else "pool"


def _preflight(project: Project, backend: str, notebook: Path, cluster: str | None) -> None:
    """Each backend's own refusals, before anything runs."""
    if backend == "cluster" and cluster:
        sweep_cluster.check_address(cluster)
    elif backend == "dvc":
        stage = sweep_dvc.stage_of(project, notebook)
        assert stage is not None
        sweep_dvc.check_committed(project.root, stage)


def run_sweep(project: Project, request: Request, echo: Echo) -> int:
    """Plan, print and run a sweep; write the summary; 1 when any run failed, else 0."""
    notebook = resolve_notebook(project.root, request.notebooks[0], Path.cwd())
    backend = _backend(project, notebook, request.cluster)
    sweep = plan_sweep(project, request, backend=backend)
    _preflight(project, backend, sweep.notebook, request.cluster)
    runner, needs, extras = BACKENDS[backend]
    if not request.dry_run:
        interpreter = find_interpreter(project, request.python)
        check_interpreter(interpreter, project, needs, extras)
        if request.cluster:
            sweep_cluster.probe(request.cluster, interpreter)  # a bad address prints no plan
    for line in describe(sweep):
        echo(line)
    if request.dry_run:
        return 0
    echo(f"python {relative(interpreter.python, project.root)} ({interpreter.origin})")
    progress = Progress(len(sweep.runs), echo, live=request.progress)
    outcomes: list[Outcome] = []
    sweep.folder.mkdir(parents=True)
    try:
        for outcome in runner(sweep, interpreter, progress):
            outcomes.append(outcome)
            progress.finished(outcome)
    except BaseException:
        progress.close()
        shutil.rmtree(sweep.folder, ignore_errors=True)  # an interrupted sweep leaves nothing
        _remove_empty_parents(sweep.folder, project.root / REPORTS_DIR)
        raise
    progress.close()
    write_summary(sweep, outcomes)
    for line in summary_lines(sweep, outcomes):
        echo(line)
    return 0 if all(outcome.status == "done" for outcome in outcomes) else 1


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    for parent in folder.parents:
        if parent == stop or not parent.is_relative_to(stop):
            return
        try:
            parent.rmdir()
        except OSError:
            return
