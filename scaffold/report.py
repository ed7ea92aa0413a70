"""``scaffold report NOTEBOOK``: an executed notebook as HTML, Markdown or slides, for readers.

The executed copy in ``reports/`` (what ``scaffold run``, ``make notebook`` and ``dvc repro``
write), or with ``--execute`` a fresh run of the notebook (``execution.execute``: papermill in the
project's environment, with its parameters file), is converted by nbconvert into
``reports/<stem>.<ext>``. nbconvert runs in the project's environment, like papermill (it is
in the project's dev extra; scaffold never imports it). ``--no-input`` hides the code.

nbconvert (and with ``--execute`` papermill) writes into a hidden folder inside ``reports/``;
its files are moved into place only when both succeeded, so a failed or interrupted run or
conversion leaves the reports as they were. A folder where the report goes, or a ``reports/``
link out of the project, is refused before anything runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from scaffold import processes
from scaffold.errors import ScaffoldError
from scaffold.execution import (
    NotebookFailed,
    RunPlan,
    execute,
    failed_cell,
    plan_runs,
    resolve_notebook,
)
from scaffold.files import Change, refuse_outside, relative
from scaffold.interpreters import Interpreter
from scaffold.layout import REPORTS_DIR
from scaffold.project import Project

# --to: nbconvert's exporter and the file name it writes after the notebook's stem.
FORMATS: dict[str, tuple[str, str]] = {
    "html": ("html", ".html"),
    "markdown": ("markdown", ".md"),
    "slides": ("slides", ".slides.html"),
}
NEEDS = ("nbconvert",)


@dataclass(frozen=True)
class ReportPlan:
    """What ``scaffold report`` converts, and into what."""

    notebook: Path  # the notebook in notebooks/
    executed: Path  # its executed copy, reports/<stem>.ipynb
    output: Path  # reports/<stem>.<ext>
    to: str
    no_input: bool
    run: RunPlan | None  # with --execute: the run that makes ``executed`` first

    @property
    def stale(self) -> bool:
        """True when the notebook changed after its executed copy was made."""
        try:
            return self.notebook.stat().st_mtime > self.executed.stat().st_mtime
        except OSError:
            return False


def plan_report(
    project: Project,
    name: str,
    *,
    to: str = "html",
    no_input: bool = False,
    execute: bool = False,
    cwd: Path | None = None,
) -> ReportPlan:
    """Check what ``scaffold report NAME`` would do; nothing runs or is written."""
    if to not in FORMATS:
        raise ScaffoldError(f"--to must be one of {', '.join(FORMATS)}, got {to!r}.")
    root = project.root
    here = cwd or Path.cwd()
    given = here / name
    if given.suffix == ".ipynb" and given.resolve().parent == (root / REPORTS_DIR).resolve():
        name = given.stem  # the executed copy itself: report on its notebook
    if execute:
        (planned,) = plan_runs(project, [name], cwd=here)
        notebook, executed = planned.notebook, planned.output
    else:
        planned = None
        notebook = resolve_notebook(root, name, here)
        executed = root / REPORTS_DIR / f"{notebook.stem}.ipynb"
        _check_executed(root, notebook, executed)
    output = executed.with_name(f"{notebook.stem}{FORMATS[to][1]}")
    _check_targets(root, [output, *([executed] if execute else [])])
    return ReportPlan(notebook, executed, output, to, no_input, planned)


def _check_targets(root: Path, targets: list[Path]) -> None:
    """Refuse, before anything runs, a report that would replace a folder or write through a
    link out of the project."""
    refuse_outside([root / REPORTS_DIR, *targets], root)
    for target in targets:
        if target.is_dir():
            raise ScaffoldError(
                f"{relative(target, root)} is a folder; move it away (scaffold report writes "
                "a file there and never removes a folder)."
            )


def _check_executed(root: Path, notebook: Path, executed: Path) -> None:
    stem, shown = notebook.stem, relative(executed, root)
    if not executed.is_file():
        raise ScaffoldError(
            f"{shown} does not exist yet: run the notebook first (scaffold run {stem}, or "
            f"make notebook NB={stem}), or add --execute to run it now."
        )
    if failed_cell(executed) is not None:
        raise ScaffoldError(
            f"{shown} is the output of a run that failed; fix {relative(notebook, root)} and "
            "run it again, or add --execute."
        )


def make_report(
    project: Project, plan: ReportPlan, *, python: Path | None = None, progress: bool = False
) -> list[Change]:
    """Run the notebook (with ``--execute``), then convert its executed copy; the status
    lines of the files written."""
    from scaffold import interpreters

    interpreter = interpreters.find_interpreter(project, python)
    needs = (*NEEDS, *(interpreters.RUNTIME if plan.run else ()))
    interpreters.check_interpreter(interpreter, project, needs)
    reports = plan.executed.parent
    made = not reports.exists()
    reports.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".scaffold-report-", dir=reports))
    try:
        executed = plan.executed
        if plan.run is not None:  # the fresh run is published with its report, or not at all
            executed = staging / plan.executed.name
            _execute(replace(plan.run, output=executed), interpreter, project.root, progress)
        _convert(plan, executed, interpreter, staging, project.root)
        made = False
        return _move_into_place(staging, reports, project.root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if made:
            with contextlib.suppress(OSError):
                reports.rmdir()


def _execute(plan: RunPlan, interpreter: Interpreter, root: Path, progress: bool) -> None:
    try:
        execute(plan, interpreter, root, progress=progress)
    except NotebookFailed as error:
        failure = str(error).split(" The partial output is in ")[0]
        raise ScaffoldError(
            f"{failure} Nothing was written (scaffold run keeps the partial output)."
        ) from None


def _convert(
    plan: ReportPlan, executed: Path, interpreter: Interpreter, staging: Path, root: Path
) -> None:
    exporter = FORMATS[plan.to][0]
    command = [str(interpreter.python), "-m", "nbconvert", "--to", exporter]
    command += ["--no-input"] if plan.no_input else []
    command += ["--output-dir", str(staging), str(executed)]
    result = processes.run(command, cwd=root, env=interpreter.environment(), check=False)
    if not result.ok:
        shown = relative(plan.executed, root)
        raise ScaffoldError(f"nbconvert could not convert {shown}: {result.message}.")


def _move_into_place(staging: Path, reports: Path, root: Path) -> list[Change]:
    """Move what nbconvert wrote (the report, and for Markdown its ``<stem>_files/``) from
    ``staging`` into ``reports``, replacing an earlier report of the same name."""
    written = []
    made_files = sorted(staging.iterdir())
    for made in made_files:  # all checked before any is moved
        if (reports / made.name).is_dir() and not made.is_dir():
            raise ScaffoldError(f"{relative(reports / made.name, root)} is a folder; move it away.")
    for made in made_files:
        target = reports / made.name
        action = "update" if target.exists() else "create"
        if target.is_dir() and not target.is_symlink():
            old = staging / f".old-{made.name}"
            os.replace(target, old)  # removed with the staging folder
        os.replace(made, target)
        written.append(Change(action, relative(target, root) + ("/" if target.is_dir() else "")))
    return written
