"""``scaffold check --run``: restart and run all, for real, in the project's environment.

Each notebook runs top to bottom in a fresh kernel of the interpreter ``scaffold run`` would
use (``find_interpreter``, ``check_interpreter``), through the execution core's
``DriverProcess`` (one per job slot: papermill imported once per slot, the next notebook's
kernel started while the current one runs), with its failure reading; production notebooks
get their ``params/<stem>.yaml``. The executed copies go to a scratch folder that is deleted
afterwards: nothing in ``notebooks/`` or ``reports/`` is written. ``jobs`` notebooks run at
once, each stopped ``timeout`` seconds after its first cell began: the kernel's start has a
budget of its own (the core's, larger on a loaded machine), and a slow start is announced
on stderr rather than counted against the notebook. A kernel that dies mid-run is reported
at once (NB001), not as a timeout.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scaffold import interpreters
from scaffold.check.model import Finding
from scaffold.execution import (
    INJECTED_TAG,
    Cancelled,
    DriverProcess,
    Echo,
    Gate,
    RunPlan,
    TimedOut,
    driver_spec,
    failed_cell,
    failure_message,
)
from scaffold.files import relative, scratch_folder
from scaffold.layout import PARAMS_DIR
from scaffold.project import Project


def _cell_number(notebook: Path, failed: dict[str, Any], output: Path) -> int:
    """The failed cell's number in the source notebook (by id, else by position)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
        executed = json.loads(output.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return 0
    cell_id = failed.get("id")
    if cell_id:
        for number, cell in enumerate(cells, start=1):
            if cell.get("id") == cell_id:
                return number
    position = 0
    for cell in executed:
        if "injected-parameters" in (cell.get("metadata", {}).get("tags") or []):
            continue
        position += 1
        if cell is failed or cell.get("source") == failed.get("source"):
            return position
    return 0


def _finding(plan: RunPlan, outcome: dict[str, Any], root: Path) -> Finding | None:
    """NB001 for a notebook that failed (its cell), or whose kernel died or would not start."""
    if outcome.get("ok"):
        return None
    rel = relative(plan.notebook, root)
    failed = failed_cell(plan.output) if plan.output.is_file() else None
    if failed is None:  # a dead kernel, a kernel that would not start, a bad params file...
        text = failure_message(plan.notebook, plan.output, root, outcome)
        text = text.split(" The partial output is in ")[0].removeprefix(f"{rel} ").rstrip(".")
        return Finding(rel, 0, 0, "NB001", f"{text}; fix it, then run all again")
    error = failed.get("error") or {}
    ename = error.get("ename") or "error"
    evalue = error.get("evalue") or ""
    what = f"{ename}: {evalue}" if evalue else ename
    number = _cell_number(plan.notebook, failed, plan.output)
    injected = INJECTED_TAG in (failed.get("metadata", {}).get("tags") or [])
    place = " in the injected parameters" if injected else ""
    return Finding(
        rel,
        number,
        0,
        "NB001",
        f"fails on restart and run all{place}: {what}; the notebook depends on state "
        "from cells run by hand, or on something missing: fix it and run all again",
    )


def _run_one(
    plan: RunPlan, driver: DriverProcess, root: Path, timeout: float, more: bool
) -> Finding | None:
    rel = relative(plan.notebook, root)
    try:
        outcome = driver.run(driver_spec(plan, warm=True, prestart=more), timeout)
    except TimedOut as late:
        if not late.started:
            return Finding(
                rel,
                0,
                0,
                "NB001",
                f"its kernel did not start within {late.budget:.0f} s; check that the "
                "project's environment has ipykernel (make requirements), then run all again",
            )
        return Finding(
            rel,
            0,
            0,
            "NB002",
            f"did not finish within {timeout:g} s; make it faster (smaller params) or raise "
            "timeout in [tool.scaffold.check]",
        )
    return _finding(plan, dict(outcome), root)


def run_notebooks(
    project: Project,
    notebooks: Sequence[Path],
    *,
    jobs: int = 1,
    timeout: float = 600,
    python: Path | None = None,
    notice: Echo | None = None,
    outputs: Path | None = None,
) -> list[Finding]:
    """Run each notebook in a fresh kernel; a finding for each that fails or times out.
    ``notice`` hears about kernels that are slow to start. The executed copies go to a scratch
    folder, removed after, or into ``outputs`` (``<number>-<name>``), kept."""
    if not notebooks:
        return []
    interpreter = interpreters.find_interpreter(project, python)
    interpreters.check_interpreter(interpreter, project)
    root = project.root
    with scratch_folder("scaffold-check-") as scratch:
        plans = []
        for number, notebook in enumerate(notebooks):
            params_file = root / PARAMS_DIR / f"{notebook.stem}.yaml"
            output = Path(outputs or scratch, f"{number}-{notebook.name}")
            plans.append(RunPlan(notebook, output, params_file if params_file.is_file() else None))
        todo: queue.Queue[int] = queue.Queue()
        for index in range(len(plans)):
            todo.put(index)
        results: list[Finding | None] = [None] * len(plans)

        gate = Gate()
        drivers: list[DriverProcess] = []

        def work() -> None:
            driver = DriverProcess(interpreter, root, gate, notice=notice)
            drivers.append(driver)
            try:
                while not gate.closed:
                    try:
                        index = todo.get_nowait()
                    except queue.Empty:
                        return
                    more = not todo.empty()
                    results[index] = _run_one(plans[index], driver, root, timeout, more)
            except Cancelled:
                return
            finally:
                driver.stop()

        slots = max(1, min(jobs, len(plans)))
        with ThreadPoolExecutor(max_workers=slots) as pool:
            try:
                for future in [pool.submit(work) for _ in range(slots)]:
                    future.result()
            except BaseException:  # Ctrl-C: the threads must not start drivers that outlive it
                gate.close()
                for driver in list(drivers):
                    driver.cancel()
                raise
            finally:
                for driver in list(drivers):
                    driver.kill()  # its TMPDIR, whatever became of its thread
    return [finding for finding in results if finding is not None]
