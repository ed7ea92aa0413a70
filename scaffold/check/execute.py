"""``scaffold check --run``: restart and run all, for real, in the project's environment.

Each notebook runs top to bottom in a fresh kernel of the interpreter ``scaffold run`` would
use (``find_interpreter``, ``check_interpreter``), through ``scaffold run``'s own papermill
driver, with its failure reports (``failed_cell``, ``failure_message``); production notebooks
get their ``params/<stem>.yaml``. The executed copies go to a scratch folder that is deleted
afterwards: nothing in ``notebooks/`` or ``reports/`` is written. ``jobs`` notebooks run at
once, each stopped ``timeout`` seconds after its first cell began.

Kernels on a loaded machine start slowly, and kernels started together can race: so the
kernel's start has a budget of its own (``START_TIMEOUT``, not counted in ``timeout``), each
kernel talks over Unix sockets in a private folder rather than TCP ports (``transport: ipc``,
where there are Unix sockets), and a kernel that dies before its first cell is started once
more (nothing of the notebook ran yet). The driver does all three, as for ``run --grid``.

Why not ``scaffold.run.execute`` per notebook: it starts a new interpreter and imports
papermill for every notebook (about 0.5 s each here), which made ``--run -j 2`` 1.3x slower
than ``pytest --nbmake -n 2``. A ``Worker`` keeps one driver process per job slot instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scaffold.check.model import Finding
from scaffold.files import relative
from scaffold.interrupts import descendants
from scaffold.pool import Gate, driver_source
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


# Runs inside the project's interpreter: scaffold run's own driver (argv[1]), loaded once, then
# one notebook per line of stdin; papermill is imported once per worker, not per notebook.
# "\0started" says the kernel answered and the first cell begins (papermill's cell_start, the
# first time for a notebook), so the timeout counts the notebook's run, not the kernel's start.
_WORKER = """
import json, sys
driver = {"__name__": "scaffold_papermill_driver"}
exec(compile(sys.argv[1], "_papermill_driver.py", "exec"), driver)
def started():
    sys.stdout.write("\\0started\\n")
    sys.stdout.flush()
at_once = False
try:
    from papermill.engines import NotebookExecutionManager as manager
    cell_start = manager.cell_start
    def announced(self, *args, **kwargs):
        if not getattr(self, "_scaffold_started", False):
            self._scaffold_started = True
            started()
        return cell_start(self, *args, **kwargs)
    manager.cell_start = announced
except Exception:  # another papermill: the timeout counts the kernel's start too
    at_once = True
for line in sys.stdin:
    if at_once:
        started()
    status = driver["main"](json.loads(line))
    sys.stdout.write("\\0done %d\\n" % status)
    sys.stdout.flush()
"""
START_TIMEOUT = 180  # seconds for a kernel to answer: kernels start slowly on a busy machine
START_ATTEMPTS = 2  # a kernel that dies before its first cell is started once more
# How long a worker may take to start a notebook's kernel before it is stopped (the driver
# gives up first, after START_ATTEMPTS tries of START_TIMEOUT; this is the safety net).
START_BUDGET = START_TIMEOUT * START_ATTEMPTS + 60


class TimedOut(Exception):
    """A notebook ran longer than its timeout, or its kernel never started (its worker and
    kernel were stopped)."""

    def __init__(self, started: bool) -> None:
        super().__init__("timed out" if started else "no kernel")
        self.started = started


class Worker:
    """One long-lived driver process in the project's interpreter that runs notebooks in turn.

    Each notebook still gets a fresh kernel (the driver's ``warm`` mode starts one per
    notebook, the next one while the current notebook runs: ``prestart``); what is shared is
    the interpreter and its papermill import. A notebook that outlives the timeout
    takes the worker (and its kernel) down; the next notebook starts a new worker.
    """

    def __init__(self, interpreter: Any, root: Path, gate: Gate | None = None) -> None:
        self.interpreter = interpreter
        self.root = root
        self.process: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.gate = gate or Gate()  # closed by ``kill``: no worker starts after it

    def _start(self) -> subprocess.Popen[str]:
        with self.gate.lock:
            if self.gate.closed:
                raise Cancelled
            process = subprocess.Popen(
                [str(self.interpreter.python), "-c", _WORKER, driver_source()],
                cwd=self.root,
                env=self.interpreter.environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
            self.process = process
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(process, self.lines), daemon=True).start()
        return process

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(("\0done", "\0started")):
                lines.put(line)
        lines.put("")  # the worker ended

    def execute(self, plan: Any, timeout: float, more: bool = False) -> None:
        """Run one notebook as ``scaffold.run.execute`` does; raise NotebookFailed / TimedOut.
        ``more``: another notebook may follow, so its kernel starts while this one runs."""
        from scaffold import run as runner

        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        plan.output.parent.mkdir(parents=True, exist_ok=True)
        result_file = plan.output.with_suffix(".result.json")
        spec = {
            "input": str(plan.notebook),
            "output": str(plan.output),
            "cwd": str(plan.notebook.parent),
            "parameters_file": str(plan.parameters_file) if plan.parameters_file else None,
            "parameters": plan.overrides,
            "progress": False,
            "result": str(result_file),
            "start_timeout": START_TIMEOUT,
            "start_attempts": START_ATTEMPTS,
            "warm": True,
            "prestart": more,
        }
        if os.name == "posix":  # Unix sockets: no TCP port for two kernels to race for
            spec["transport"] = "ipc"
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(spec, default=str) + "\n")
            self.process.stdin.flush()
            line = self._done(timeout)
        except OSError:
            line = ""
        try:
            outcome = json.loads(result_file.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            outcome = {}
        if line.strip() == "\0done 0" and outcome.get("ok"):
            return
        raise runner.NotebookFailed(
            runner.failure_message(plan.notebook, plan.output, self.root, outcome)
        )

    def _done(self, timeout: float) -> str:
        """The worker's ``\\0done`` line ("" if it died): START_BUDGET for the kernel to
        start, then ``timeout`` for the notebook; TimedOut (worker stopped) past either."""
        started = False
        deadline = time.monotonic() + START_BUDGET
        while True:
            left = deadline - time.monotonic()
            try:  # a short wait at a time: a cancelled run must not wait out the budget
                line = self.lines.get(timeout=max(0.0, min(left, 0.5)))
            except queue.Empty:
                if self.gate.closed:
                    raise Cancelled from None
                if left > 0.5:
                    continue
                self.stop()
                raise TimedOut(started) from None
            if not line.startswith("\0started"):
                return line
            if not started:
                started = True
                deadline = time.monotonic() + timeout

    def stop(self) -> None:
        """End the worker, its kernel included (the kernel has a session of its own)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
                return
        _kill(process)

    def kill(self) -> None:
        """Cancel: end the worker and its kernels at once, and start no other."""
        with self.gate.lock:
            self.gate.closed = True
            process = self.process
        if process is not None:
            _kill(process)


class Cancelled(Exception):
    """The run was interrupted: no more notebooks start."""


def _kill(process: subprocess.Popen[str]) -> None:
    for pid in [*descendants(process.pid), process.pid]:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _run_one(
    plan: Any, worker: Worker, project: Project, timeout: float, more: bool
) -> Finding | None:
    from scaffold import run as runner

    root = project.root
    rel = relative(plan.notebook, root)
    try:
        worker.execute(plan, timeout, more)
    except TimedOut as late:
        if not late.started:
            return Finding(
                rel,
                0,
                0,
                "NB001",
                f"its kernel did not start within {START_BUDGET} s; check that the project's "
                "environment has ipykernel (make requirements), then run all again",
            )
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
    from scaffold import interpreters
    from scaffold import run as runner
    from scaffold.layout import PARAMS_DIR

    if not notebooks:
        return []
    interpreter = interpreters.find_interpreter(project, python)
    interpreters.check_interpreter(interpreter, project)
    root = project.root
    with tempfile.TemporaryDirectory(prefix="scaffold-check-") as scratch:
        plans = []
        for number, notebook in enumerate(notebooks):
            params_file = root / PARAMS_DIR / f"{notebook.stem}.yaml"
            output = Path(scratch, f"{number}-{notebook.name}")
            plans.append(
                runner.RunPlan(notebook, output, params_file if params_file.is_file() else None)
            )
        todo: queue.Queue[int] = queue.Queue()
        for index in range(len(plans)):
            todo.put(index)
        results: list[Finding | None] = [None] * len(plans)

        gate = Gate()
        workers: list[Worker] = []

        def work() -> None:
            worker = Worker(interpreter, root, gate)
            workers.append(worker)
            try:
                while not gate.closed:
                    try:
                        index = todo.get_nowait()
                    except queue.Empty:
                        return
                    more = not todo.empty()
                    results[index] = _run_one(plans[index], worker, project, timeout, more)
            except Cancelled:
                return
            finally:
                worker.stop()

        slots = max(1, min(jobs, len(plans)))
        with ThreadPoolExecutor(max_workers=slots) as pool:
            try:
                for future in [pool.submit(work) for _ in range(slots)]:
                    future.result()
            except BaseException:  # Ctrl-C: the threads must not start workers that outlive it
                with gate.lock:
                    gate.closed = True
                for worker in list(workers):
                    worker.kill()
                raise
    return [finding for finding in results if finding is not None]
