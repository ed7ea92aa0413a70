"""A local pool of papermill drivers for ``scaffold run --grid`` (a notebook that is not a
DVC stage).

``jobs`` slots, each one ``scaffold.execution.DriverProcess`` that runs the sweep's notebooks
one after another: papermill is imported once per slot, not once per run, and while a run
executes the slot's driver already starts the kernel of its next run (``prestart``), so a
kernel's start-up overlaps a notebook's cells. Every run still gets a fresh kernel; the
kernel-start budget, retries and Unix-socket transport are the core's.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from scaffold.execution import Cancelled, DriverProcess, Gate, TimedOut, driver_spec
from scaffold.interpreters import Interpreter
from scaffold.sweep import Outcome, Progress, Sweep, SweepRun, failure_of, metrics_of


def _run_one(driver: DriverProcess, sweep: Sweep, run: SweepRun, more: bool) -> Outcome:
    started = time.monotonic()
    try:
        outcome: dict[str, Any] = dict(driver.run(driver_spec(run.plan, warm=True, prestart=more)))
    except TimedOut as late:
        outcome = {"error": f"its kernel did not start within {late.budget:.0f} s"}
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
        DriverProcess(interpreter, sweep.root, gate, notice=progress.echo)
        for _ in range(max(1, min(sweep.jobs, len(sweep.runs))))
    ]

    def work(driver: DriverProcess) -> None:
        try:
            while not gate.closed:
                try:
                    run = todo.get_nowait()
                except queue.Empty:
                    return
                events.put(("start", run))
                events.put(("end", _run_one(driver, sweep, run, not todo.empty())))
        except Cancelled:
            return
        finally:
            driver.stop()

    threads = [threading.Thread(target=work, args=(slot,), daemon=True) for slot in slots]
    for thread in threads:
        thread.start()
    try:
        yield from _collect(events, len(sweep.runs), progress)
    finally:
        gate.close()
        for slot in slots:
            slot.cancel()
        for thread in threads:
            thread.join(timeout=10)
        for slot in slots:
            slot.kill()  # its TMPDIR: the thread may have been stopped mid-run


def _collect(
    events: queue.Queue[tuple[str, Any]], total: int, progress: Progress
) -> Iterator[Outcome]:
    running = 0
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
