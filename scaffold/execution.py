"""Notebook execution, beneath every command that runs notebooks: ``run`` (one notebook, a
sweep's local pool, the DVC queue's and Dask's workers through the same driver), ``check
--run``, ``report --execute``, ``extract --verify`` and ``promote``.

It owns:

- what to run: ``resolve_notebook``, ``read_params_file``, ``convert`` (a ``-p`` value as the
  notebook declares it), ``RunPlan`` (notebook, output, params file, overrides);
- how: ``driver_spec`` builds the ``DriverSpec`` (the TypedDict that ``_papermill_driver.py``
  itself defines) with the kernel-start settings (``start_settings``: a budget that grows with
  the machine's load, and the retries);
- one ``DriverProcess``: a long-lived ``_papermill_driver.py --serve`` in the project's
  interpreter, in a session of its own, with a private ``TMPDIR`` (kernel sockets ``sk-*`` and
  connection files land there, and go with it whatever happened to the driver), that runs
  notebooks in turn; it tells the user when a kernel is slow to start, stops a notebook at its
  timeout, and ends at a cancel (``Gate``);
- failure reading: ``failed_cell``, ``failure_message``, ``failure_place`` (the failing cell, a
  dead kernel, a kernel that would not start).

The driver exits when its parent dies (it watches its parent), so a SIGKILLed scaffold leaves
no driver or kernel running.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaffold import parameters as params
from scaffold._papermill_driver import DriverSpec, Outcome
from scaffold.errors import ScaffoldError, sentence
from scaffold.files import read_text, relative
from scaffold.interpreters import Interpreter
from scaffold.interrupts import descendants
from scaffold.layout import NOTEBOOKS_DIR, PARAMS_DIR, REPORTS_DIR
from scaffold.options import parse_assignments
from scaffold.project import Project

__all__ = [
    "DriverProcess",
    "DriverSpec",
    "Echo",
    "Gate",
    "NotebookFailed",
    "Outcome",
    "RunPlan",
    "execute",
]

INJECTED_TAG = "injected-parameters"
DRIVER = Path(__file__).with_name("_papermill_driver.py")

START_TIMEOUT = 120.0  # seconds for a kernel to answer on an idle machine
START_TIMEOUT_MAX = 900.0
START_ATTEMPTS = 3  # a kernel that dies before it answers is started again (nothing ran yet)
NOTICE_AFTER = 15.0  # seconds of waiting for a kernel before the user is told, and between
STOP_GRACE = 5.0  # seconds an idle driver gets to end at the end of its input

Echo = Callable[[str], None]


class NotebookFailed(ScaffoldError):
    """A notebook stopped with an error; the message names the notebook, the cell, the error."""


class TimedOut(Exception):
    """A notebook ran longer than its timeout (``started``), or its kernel never answered
    within the start budget; its driver and kernel were stopped."""

    def __init__(self, started: bool, budget: float) -> None:
        super().__init__("timed out" if started else "no kernel")
        self.started = started
        self.budget = budget


class Cancelled(Exception):
    """The run was interrupted (the gate closed): no more notebooks start."""


# -- what to run ----------------------------------------------------------------------------


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


def _named(folder: Path, name: str) -> Path:
    matches = sorted(folder.glob(f"{name}-*.ipynb")) if re.fullmatch(r"\d+\.\d+", name) else []
    if len(matches) != 1:
        known = sorted(path.stem for path in folder.glob("*.ipynb"))
        listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise ScaffoldError(
            f"no notebook {name!r} in {NOTEBOOKS_DIR}/"
            + (f" ({len(matches)} start with {name}-)" if matches else "")
            + (f"; the notebooks are: {listed}." if known else "; it has no notebooks.")
        )
    return matches[0].resolve()


def resolve_notebook(root: Path, name: str, cwd: Path) -> Path:
    """The notebook a user means by ``name``: a path, a stem in notebooks/, or ``1.2``."""
    folder = root / NOTEBOOKS_DIR
    stem = name[:-6] if name.endswith(".ipynb") else name
    for candidate in (cwd / name, cwd / f"{stem}.ipynb", folder / name, folder / f"{stem}.ipynb"):
        if candidate.is_file() and candidate.suffix == ".ipynb":
            path = candidate.resolve()
            break
    else:
        path = _named(folder, name)
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


# -- the driver's spec ----------------------------------------------------------------------


def driver_source() -> str:
    """The papermill driver's source (run with ``python -c`` in the project's interpreter)."""
    return DRIVER.read_text(encoding="utf-8")


def machine_load() -> float:
    """The 1-minute load average (0.0 where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def start_timeout() -> int:
    """Seconds a kernel gets to answer: ``START_TIMEOUT`` on an idle machine, more when the
    machine is loaded beyond its cores (kernels started together on a busy CI runner)."""
    busy = machine_load() / (os.cpu_count() or 1)
    return int(min(START_TIMEOUT_MAX, START_TIMEOUT * max(1.0, busy)))


def start_budget(spec: DriverSpec) -> float:
    """How long the driver may take to start a notebook's kernel before it is stopped: the
    driver gives up first, after all its attempts; this is the safety net."""
    attempts = int(spec.get("start_attempts", 1))
    return float(spec.get("start_timeout", START_TIMEOUT)) * attempts + 2.0 * attempts + 30.0


def driver_spec(plan: RunPlan, *, progress: bool = False, **extra: Any) -> DriverSpec:
    """The driver's spec for ``plan``: Unix sockets where there are some (no TCP port for
    concurrent kernels to race for), a load-aware start timeout and start retries."""
    spec: DriverSpec = {
        "input": str(plan.notebook),
        "output": str(plan.output),
        "cwd": str(plan.notebook.parent),
        "parameters_file": str(plan.parameters_file) if plan.parameters_file else None,
        "parameters": dict(plan.overrides),
        "progress": progress,
        "start_timeout": start_timeout(),
        "start_attempts": START_ATTEMPTS,
    }
    if os.name == "posix":
        spec["transport"] = "ipc"
    spec.update(extra)  # type: ignore[typeddict-item]
    return spec


# -- the driver process ---------------------------------------------------------------------


class Gate:
    """Closed at a cancel: no driver starts after that."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        """No driver starts from now on."""
        with self.lock:
            self.closed = True


class DriverProcess:
    """One long-lived ``_papermill_driver.py --serve`` in the project's interpreter that runs
    notebooks one after another (papermill imported once; a fresh kernel per notebook).

    The driver has a session of its own (a terminal's Ctrl-C reaches scaffold, which stops it)
    and a private ``TMPDIR``, removed when it stops, so no kernel socket or connection file
    outlives it even when it was killed. ``run`` raises ``TimedOut`` past the start budget or
    the notebook's timeout (the driver is then stopped; the next ``run`` starts another) and
    ``Cancelled`` once the gate is closed.
    """

    def __init__(
        self,
        interpreter: Interpreter,
        root: Path,
        gate: Gate | None = None,
        *,
        notice: Echo | None = None,
        quiet: bool = True,
    ) -> None:
        self.interpreter = interpreter
        self.root = root
        self.gate = gate or Gate()
        self.notice = notice
        self.quiet = quiet
        self.process: subprocess.Popen[str] | None = None
        self.scratch: Path | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.count = 0

    def _start(self) -> subprocess.Popen[str]:
        with self.gate.lock:
            if self.gate.closed:
                raise Cancelled
            # short: kernel sockets are <TMPDIR>/sk-*/kernel-N, and AF_UNIX paths are
            # limited to about 100 bytes
            self.scratch = Path(tempfile.mkdtemp(prefix="sc-"))
            env = self.interpreter.environment()
            env["TMPDIR"] = str(self.scratch)
            self.process = subprocess.Popen(
                [str(self.interpreter.python), "-c", driver_source(), "--serve"],
                cwd=self.root,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL if self.quiet else None,
                text=True,
                start_new_session=True,
            )
        self.lines = queue.Queue()
        threading.Thread(target=_read, args=(self.process, self.lines), daemon=True).start()
        return self.process

    def run(self, spec: DriverSpec, timeout: float | None = None) -> Outcome:
        """Run one spec; the driver's outcome (``{"ok": ...}``; ``error`` when it did not)."""
        process = self.process
        if process is None or process.poll() is not None:
            self.stop()
            process = self._start()
        assert process.stdin is not None and self.scratch is not None
        self.count += 1
        result = self.scratch / f"result-{self.count}.json"
        spec = {**spec, "result": str(result)}
        Path(spec["output"]).parent.mkdir(parents=True, exist_ok=True)
        try:
            process.stdin.write(json.dumps(spec, default=str) + "\n")
            process.stdin.flush()
            line = self._wait(spec, timeout)
        except OSError:
            line = ""
        try:
            outcome: Outcome = json.loads(result.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            outcome = {}
        result.unlink(missing_ok=True)
        if not line:
            outcome.setdefault("error", "the papermill process ended before the run did")
        return outcome

    def _wait(self, spec: DriverSpec, timeout: float | None) -> str:
        """The driver's ``\\0done`` line ("" if it died)."""
        budget = start_budget(spec)
        begun = time.monotonic()
        deadline: float | None = begun + budget
        started = False
        told = begun
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            try:  # a short wait at a time: a cancel must not wait out the budget
                line = self.lines.get(timeout=0.5 if left is None else max(0.0, min(left, 0.5)))
            except queue.Empty:
                if self.gate.closed:
                    raise Cancelled from None
                now = time.monotonic()
                if not started and self.notice and now - told >= NOTICE_AFTER:
                    told = now
                    self.notice(
                        f"waiting for kernel start of {Path(spec['input']).name}, "
                        f"{now - begun:.0f} s, machine load {machine_load():.1f}"
                    )
                if left is None or left > 0.5:
                    continue
                self.kill()
                raise TimedOut(started, budget) from None
            if not line.startswith("\0started"):
                return line
            if not started:
                started = True
                deadline = None if timeout is None else time.monotonic() + timeout

    def stop(self) -> None:
        """End the driver (an idle one ends at the end of its input), its kernels included."""
        process = self.process
        if process is not None and process.poll() is None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE)
        self.kill()

    def kill(self) -> None:
        """End the driver and its kernels at once; remove its TMPDIR."""
        process, self.process = self.process, None
        if process is not None:
            _kill(process)
        scratch, self.scratch = self.scratch, None
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    def cancel(self) -> None:
        """Close the gate and kill the driver: no notebook starts after this."""
        self.gate.close()
        process = self.process
        if process is not None:
            _kill(process)


def _read(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    with contextlib.suppress(ValueError, OSError):
        for line in process.stdout:
            if line.startswith(("\0done", "\0started")):
                lines.put(line)
    lines.put("")  # the driver ended


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        for pid in [*descendants(process.pid), process.pid]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)  # the kernels: the driver's session
    process.wait()


def execute(
    plan: RunPlan,
    interpreter: Interpreter,
    root: Path,
    *,
    progress: bool = False,
    notice: Echo | None = None,
) -> float:
    """Run one notebook; return the seconds it took. Raise NotebookFailed if it failed."""
    driver = DriverProcess(interpreter, root, notice=notice, quiet=False)
    started = time.monotonic()
    try:
        outcome = driver.run(driver_spec(plan, progress=progress))
    except TimedOut as late:
        raise NotebookFailed(not_started_message(plan.notebook, root, late.budget)) from None
    finally:
        driver.stop()
    if outcome.get("ok"):
        return time.monotonic() - started
    raise NotebookFailed(failure_message(plan.notebook, plan.output, root, outcome))


# -- failures -------------------------------------------------------------------------------


def not_started_message(notebook: Path, root: Path, budget: float) -> str:
    """A notebook whose kernel never answered within the start budget."""
    return (
        f"{relative(notebook, root)} did not run: its kernel did not start within "
        f"{budget:.0f} s (machine load {machine_load():.1f}); check that the project's "
        "environment has ipykernel (make requirements)."
    )


def failed_cell(output: Path) -> dict[str, Any] | None:
    """The first cell of an executed notebook that raised (None if none did)."""
    try:
        cells = json.loads(output.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    for cell in cells:
        if not isinstance(cell, dict):
            continue
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
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    started = [
        cell
        for cell in cells
        if isinstance(cell, dict)
        and (cell.get("metadata", {}).get("papermill") or {}).get("start_time")
    ]
    return started[-1] if started else None


def _dead_kernel_message(
    name: str, notebook: Path, output: Path, root: Path, outcome: Mapping[str, Any]
) -> str:
    started = last_started_cell(output) if output.is_file() else None
    where = f" in {_source_position(notebook, started)}" if started else ""
    partial = f" The partial output is in {relative(output, root)}." if output.is_file() else ""
    said = _kernel_said(outcome)
    return f"{name} stopped{where}: the kernel died (killed, or out of memory?).{said}{partial}"


def _kernel_said(outcome: Mapping[str, Any]) -> str:
    """`` Its last line on stderr: `...`.`` from the driver's ``kernel_log`` ("" if none): the
    driver keeps kernels' stderr apart and reports it only when a kernel died or never
    answered."""
    lines = [line.strip() for line in str(outcome.get("kernel_log") or "").splitlines()]
    last = next((line for line in reversed(lines) if line), "")
    if not last:
        return ""
    if len(last) > 160:
        last = last[:157] + "..."
    return f" Its last line on stderr: `{last}`."


def _not_run_message(name: str, outcome: Mapping[str, Any]) -> str:
    error = outcome.get("error", "")
    message = outcome.get("message", "")
    detail = (f"{error}: {message}" if error and message else error or message).rstrip(".")
    if outcome.get("start_failed"):
        reason = detail or "no reason given"
        return f"{name} did not run: its kernel would not start ({reason}).{_kernel_said(outcome)}"
    return sentence(f"{name} did not run: {detail or 'papermill failed (see the output above)'}")


def failure_message(
    notebook: Path, output: Path, root: Path, outcome: Mapping[str, Any] | None = None
) -> str:
    """One sentence: which notebook, which cell, which error, where the partial output is."""
    outcome = outcome or {}
    name = relative(notebook, root)
    cell = failed_cell(output) if output.is_file() else None
    if cell is None and outcome.get("error") == "DeadKernelError":
        return _dead_kernel_message(name, notebook, output, root, outcome)
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


def run_failure(notebook: Path, output: Path, outcome: Mapping[str, Any]) -> str:
    """Why a run failed, for a sweep's summary: its failing cell when it has one."""
    cell = failed_cell(output) if output.is_file() else None
    if cell is not None:
        return failure_place(notebook, cell, outcome)
    if outcome.get("error") == "DeadKernelError":
        return "the kernel died (killed, or out of memory?)" + _kernel_said(outcome).rstrip(".")
    error, message = outcome.get("error", ""), outcome.get("message", "")
    detail = f"{error}: {message}" if error and message else error or message or "it did not run"
    return f"its kernel would not start ({detail})" if outcome.get("start_failed") else detail


def _source_position(notebook: Path, cell: Mapping[str, Any]) -> str:
    cell_id = cell.get("id")
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError, RecursionError):
        cells = []
    index = next(
        (
            i
            for i, c in enumerate(cells, start=1)
            if cell_id and isinstance(c, dict) and c.get("id") == cell_id
        ),
        0,
    )
    parts = [f"cell {index}" if index else "a cell"]
    if cell_id:
        parts.append(f"id {cell_id!r}")
    if first:
        parts.append(f"`{first}`")
    return f"{parts[0]} ({', '.join(parts[1:])})" if len(parts) > 1 else parts[0]
