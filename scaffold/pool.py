"""A local pool of papermill processes for ``scaffold run --grid`` (a notebook that is not a
DVC stage).

``jobs`` slots, each one long-lived driver process in the project's interpreter that runs
notebooks one after another (``_papermill_driver.main`` per line of stdin): papermill is
imported once per slot, not once per run. Every run still gets a fresh kernel.

Concurrent kernels do not collide: each kernel talks over Unix sockets in a folder of its
own (``transport: ipc``; TCP ports, which jupyter_client picks by binding port 0 and then
releasing it, can be taken by another kernel starting at the same moment), IPython's history
database is off, a kernel gets 180 s to answer under load, and one that dies before its
first cell is started again (up to 3 times).
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
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from scaffold.interpreters import Interpreter
from scaffold.interrupts import descendants
from scaffold.sweep import Outcome, Progress, Sweep, SweepRun, failure_of, metrics_of

START_TIMEOUT = 180  # seconds for a kernel to answer; kernels started together on a busy machine
START_ATTEMPTS = 3

# Runs inside the project's interpreter: the driver's source (argv[1]) loaded once, then one
# notebook spec per line of stdin, each answered by a line "\0done <exit code>".
_WORKER = """
import json, sys
driver = {"__name__": "scaffold_papermill_driver"}
exec(compile(sys.argv[1], "_papermill_driver.py", "exec"), driver)
for line in sys.stdin:
    status = driver["main"](json.loads(line))
    sys.stdout.write("\\0done %d\\n" % status)
    sys.stdout.flush()
"""


def driver_source() -> str:
    """The papermill driver's source (run with ``python -c`` in the project's interpreter)."""
    return Path(__file__).with_name("_papermill_driver.py").read_text(encoding="utf-8")


def run_spec(run: SweepRun, result: Path, **extra: Any) -> dict[str, Any]:
    """The driver's spec for one run of a sweep (see ``_papermill_driver``)."""
    plan = run.plan
    spec: dict[str, Any] = {
        "input": str(plan.notebook),
        "output": str(plan.output),
        "cwd": str(plan.notebook.parent),
        "parameters_file": str(plan.parameters_file) if plan.parameters_file else None,
        "parameters": plan.overrides,
        "progress": False,
        "result": str(result),
        "start_timeout": START_TIMEOUT,
        "start_attempts": START_ATTEMPTS,
    }
    if os.name == "posix":
        spec["transport"] = "ipc"
    spec.update(extra)
    return spec


class Slot:
    """One driver process that runs the pool's notebooks one at a time."""

    def __init__(self, interpreter: Interpreter, root: Path, gate: Gate) -> None:
        self.interpreter = interpreter
        self.root = root
        self.gate = gate
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str] | None:
        with self.gate.lock:
            if self.gate.closed:
                return None
            self.process = subprocess.Popen(
                [str(self.interpreter.python), "-c", _WORKER, driver_source()],
                cwd=self.root,
                env=self.interpreter.environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            return self.process

    def execute(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Run one spec; the driver's outcome (``{"ok": ...}``)."""
        process = self.process
        if process is None or process.poll() is not None:
            process = self._start()
            if process is None:
                return {"error": "Interrupted", "interrupted": True}
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(spec, default=str) + "\n")
            process.stdin.flush()
            line = _done_line(process.stdout)
        except OSError:
            line = ""
        try:
            outcome: dict[str, Any] = json.loads(Path(spec["result"]).read_text("utf-8") or "{}")
        except (OSError, ValueError):
            outcome = {}
        if not line:
            outcome.setdefault("error", "the papermill process ended before the run did")
        return outcome

    def stop(self) -> None:
        """End the driver and its kernel (if any is running)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # an idle driver ends at the end of its input
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.5)
                return
        for pid in [*descendants(process.pid), process.pid]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def _done_line(stdout: IO[str]) -> str:
    for line in stdout:
        if line.startswith("\0done"):
            return line
    return ""


class Gate:
    """Closed when the pool stops: no slot starts a driver after that."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.closed = False


def _run_one(slot: Slot, sweep: Sweep, run: SweepRun, scratch: Path) -> Outcome:
    result = scratch / f"{run.index}.json"
    started = time.monotonic()
    outcome = slot.execute(run_spec(run, result))
    seconds = time.monotonic() - started
    output = run.plan.output
    metrics = metrics_of(output) if output.is_file() else {}
    restarts = int(outcome.get("restarts") or 0)
    note = f"its kernel died at start {restarts}x and was started again" if restarts else ""
    if outcome.get("ok"):
        return Outcome(run, "done", seconds, metrics=metrics, note=note)
    return Outcome(run, "failed", seconds, failure_of(sweep, run, outcome), metrics, note)


def run_pool(sweep: Sweep, interpreter: Interpreter, progress: Progress) -> Iterator[Outcome]:
    """Run the sweep's runs, ``sweep.jobs`` at a time; yield each outcome as it ends."""
    todo: queue.Queue[SweepRun] = queue.Queue()
    for run in sweep.runs:
        todo.put(run)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    gate = Gate()
    slots = [
        Slot(interpreter, sweep.root, gate) for _ in range(max(1, min(sweep.jobs, len(sweep.runs))))
    ]
    with tempfile.TemporaryDirectory(prefix="scaffold-sweep-") as scratch:

        def work(slot: Slot) -> None:
            try:
                while not gate.closed:
                    try:
                        run = todo.get_nowait()
                    except queue.Empty:
                        return
                    events.put(("start", run))
                    events.put(("end", _run_one(slot, sweep, run, Path(scratch))))
            finally:
                slot.stop()

        threads = [threading.Thread(target=work, args=(slot,), daemon=True) for slot in slots]
        for thread in threads:
            thread.start()
        try:
            yield from _collect(events, len(sweep.runs), progress)
        finally:
            with gate.lock:
                gate.closed = True
            for slot in slots:
                slot.stop()
            for thread in threads:
                thread.join(timeout=10)


def _collect(
    events: queue.Queue[tuple[str, Any]], total: int, progress: Progress
) -> Iterator[Outcome]:
    running = pending = 0
    pending = total
    while pending:
        try:
            kind, item = events.get(timeout=0.5)
        except queue.Empty:
            progress.update(running)
            continue
        if kind == "start":
            running += 1
            progress.update(running)
        else:
            running -= 1
            pending -= 1
            yield item
