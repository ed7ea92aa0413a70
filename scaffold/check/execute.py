"""``scaffold check --run``: restart and run all, for real, in the project's environment.

Each notebook runs top to bottom in a fresh kernel through ``scaffold.run.execute`` (papermill
inside the interpreter ``scaffold run`` would use), production notebooks with their
``params/<stem>.yaml``. The executed copies go to a scratch folder that is deleted
afterwards: nothing in ``notebooks/`` or ``reports/`` is written. ``jobs`` notebooks run at
once, each stopped after ``timeout`` seconds.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scaffold.check.model import Finding
from scaffold.files import relative
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


def _run_one(plan: Any, interpreter: Any, project: Project, timeout: float) -> Finding | None:
    from scaffold import run as runner

    root = project.root
    rel = relative(plan.notebook, root)
    try:
        runner.execute(plan, interpreter, root, timeout=timeout, quiet=True)
    except runner.NotebookTimedOut:
        return Finding(
            rel,
            0,
            0,
            "NB002",
            f"did not finish within {timeout:g} s; make it faster (smaller params) or raise "
            "timeout in [tool.scaffold.check]",
        )
    except runner.NotebookFailed as failure:
        failed = runner.failed_cell(plan.output) if plan.output.is_file() else None
        if failed is None:  # papermill could not start it (no kernel, bad params file...)
            text = str(failure).removeprefix(f"{rel} ").rstrip(".")
            return Finding(rel, 0, 0, "NB001", f"{text}; fix it, then run all again")
        error = failed.get("error") or {}
        ename = error.get("ename") or "error"
        evalue = error.get("evalue") or ""
        what = f"{ename}: {evalue}" if evalue else ename
        number = _cell_number(plan.notebook, failed, plan.output)
        injected = "injected-parameters" in (failed.get("metadata", {}).get("tags") or [])
        place = " in the injected parameters" if injected else ""
        return Finding(
            rel,
            number,
            0,
            "NB001",
            f"fails on restart and run all{place}: {what}; the notebook depends on state "
            "from cells run by hand, or on something missing: fix it and run all again",
        )
    return None


def run_notebooks(
    project: Project,
    notebooks: Sequence[Path],
    *,
    jobs: int = 1,
    timeout: float = 600,
    python: Path | None = None,
) -> list[Finding]:
    """Run each notebook in a fresh kernel; a finding for each that fails or times out."""
    from scaffold import run as runner
    from scaffold.pipeline import PARAMS_DIR

    if not notebooks:
        return []
    interpreter = runner.find_interpreter(project, python)
    runner.check_interpreter(interpreter, project)
    root = project.root
    with tempfile.TemporaryDirectory(prefix="scaffold-check-") as scratch:
        plans = []
        for number, notebook in enumerate(notebooks):
            params_file = root / PARAMS_DIR / f"{notebook.stem}.yaml"
            output = Path(scratch, f"{number}-{notebook.name}")
            plans.append(
                runner.RunPlan(notebook, output, params_file if params_file.is_file() else None)
            )
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(
                pool.map(lambda plan: _run_one(plan, interpreter, project, timeout), plans)
            )
    return [finding for finding in results if finding is not None]
