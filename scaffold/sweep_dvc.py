"""A sweep of a DVC-stage notebook through DVC's experiment queue.

Each run is queued as ``dvc exp run --queue -S params/<stem>.yaml:KEY=VALUE ...`` and the
queue runs ``-j`` at a time (``dvc queue start -j N``), so every run is a DVC experiment:
``dvc exp show`` lists it with its params (and the stage's metrics files), and ``dvc exp
apply`` brings one back into the workspace.

DVC runs each experiment from the last commit (plus the changes to tracked files) in a copy
of the repository under ``.dvc/tmp/exps``; the stage's executed notebook is git-ignored and
not cached, so DVC keeps no copy. scaffold collects it: the queue's workers are started with
a ``papermill`` of scaffold's first on ``PATH`` (``_papermill_shim.py``), which runs the
notebook through scaffold's own driver (``_papermill_driver.py``: Unix sockets, the core's
kernel-start timeout and retries, a driver that ends with its worker) and copies the
executed notebook to the sweep's folder under the run's name (found from the parameters
file the experiment ran with).

Why the queue runs the notebooks (rather than a local pool with the queue for bookkeeping
only): each run then is a real experiment, made by ``dvc exp run`` from the commit with the
stage's dependencies, that ``dvc exp show``/``apply`` know; recording pool runs afterwards
would need the workspace's params file and outputs rewritten run by run. The price is the
queue's own cost per run (a copy of the repository, a git commit per experiment), measured
in benchmarks/bench.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from scaffold import processes
from scaffold.errors import ScaffoldError
from scaffold.execution import START_ATTEMPTS, driver_source, start_timeout
from scaffold.interpreters import Interpreter
from scaffold.pipeline import PipelineNotebook, pipeline_notebooks, pipeline_stages
from scaffold.project import Project
from scaffold.sweep import Outcome, Progress, Sweep, SweepRun, failure_of, metrics_of

POLL_SECONDS = 2.0
QUEUED = re.compile(r"Queued experiment '([^']+)'")
FINAL = {"Success": "done", "Failed": "failed"}


def stage_of(project: Project, notebook: Path) -> PipelineNotebook | None:
    """The ``dvc.yaml`` stage that runs ``notebook`` with a parameters file, in a DVC repo."""
    root = project.root
    if not (root / ".dvc").is_dir():
        return None
    for stage in pipeline_notebooks(root):
        if stage.params and (root / stage.notebook).resolve() == notebook.resolve():
            return stage
    return None


def hydra_value(value: Any) -> str:
    """A value as ``dvc exp run -S`` reads it (Hydra's override grammar): JSON for numbers,
    booleans and lists, a quoted string for text."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if value is None:
        return "null"
    return json.dumps(value)


def _dvc(
    interpreter: Interpreter, root: Path, *args: str, env: dict[str, str] | None = None
) -> str:
    """DVC's output (stdout and stderr) in the project's environment; ScaffoldError if it fails."""
    result = processes.run(
        [str(interpreter.python), "-m", "dvc", *args],
        cwd=root,
        env=env or interpreter.environment(),
        check=False,
    )
    output = result.text + result.stderr.decode("utf-8", "replace")
    if not result.ok:
        raise ScaffoldError(f"dvc {args[0]} {args[1]} failed: {_last_error(output)}")
    return output


def _start_queue(
    sweep: Sweep, interpreter: Interpreter, env: dict[str, str], scratch: Path
) -> None:
    """``dvc queue start -j N``. Not through a pipe: the workers it leaves running inherit
    its output, and a pipe would stay open (and the call unfinished) until they exit."""
    log = scratch / "queue-start.log"
    with log.open("wb") as output:
        try:
            code = subprocess.call(
                [str(interpreter.python), "-m", "dvc", "queue", "start", "-j", str(sweep.jobs)],
                cwd=sweep.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        except OSError as error:
            raise ScaffoldError(f"cannot start dvc queue start: {error}.") from None
    if code != 0:
        text = log.read_text(encoding="utf-8", errors="replace")
        raise ScaffoldError(f"dvc queue start failed: {_last_error(text)}")


def _tracked(root: Path, paths: Sequence[str]) -> set[str]:
    """Which of ``paths`` (files or folders) hold something committed to git."""
    listed = processes.git("ls-files", "--", *paths, cwd=root, check=False)
    if not listed.ok:
        raise ScaffoldError(
            "DVC's experiment queue runs from git, and this project is not a git repository "
            "with a commit; commit it first."
        )
    files = listed.text.splitlines()
    return {path for path in paths if any(f == path or f.startswith(f"{path}/") for f in files)}


def _untracked_inputs(root: Path, stage: PipelineNotebook) -> list[str]:
    """The stage's inputs (not made by another stage) with nothing in git or DVC."""
    stages = pipeline_stages(root)
    deps = next((s.deps for s in stages if s.name == stage.stage), ())
    outs = {out for s in stages for out in s.outs}
    candidates = [dep for dep in deps if dep not in outs]
    if not candidates:
        return []
    found = _tracked(root, candidates) | _tracked(root, [f"{dep}.dvc" for dep in candidates])
    return [dep for dep in candidates if dep not in found and f"{dep}.dvc" not in found]


def check_committed(root: Path, stage: PipelineNotebook) -> None:
    """Refuse a sweep that DVC's queue cannot run: it copies only what git has (plus the
    changes to tracked files), so the notebook, its params file, dvc.yaml and every input
    of the stage must be committed (data as DVC's ``.dvc`` pointer files)."""
    needed = [path for path in (stage.notebook, stage.params, "dvc.yaml") if path]
    tracked = _tracked(root, needed)
    missing = [path for path in needed if path not in tracked]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ScaffoldError(
            f"DVC's experiment queue runs from git, and {', '.join(missing)} {verb} not "
            "committed; git add and commit first."
        )
    empty = _untracked_inputs(root, stage)
    if empty:
        raise ScaffoldError(
            f"stage {stage.stage} depends on {', '.join(empty)}, which has nothing in git or "
            "DVC, and DVC's experiment queue runs from the last commit; dvc add the data "
            "there and commit the .dvc file (or drop the dependency from dvc.yaml)."
        )


def _queue(sweep: Sweep, interpreter: Interpreter, stage: PipelineNotebook) -> dict[str, SweepRun]:
    """Queue one experiment per run; DVC's experiment name -> run."""
    queued: dict[str, SweepRun] = {}
    for run in sweep.runs:
        # ++KEY: set the key whether or not the params file has it yet, as -p does
        sets = [
            f"{stage.params}:++{key}={hydra_value(value)}"
            for key, value in run.plan.overrides.items()
        ]
        args = [arg for setting in sets for arg in ("-S", setting)]
        try:
            output = _dvc(interpreter, sweep.root, "exp", "run", "--queue", *args)
        except ScaffoldError:
            _forget(interpreter, sweep.root, list(queued))
            raise
        found = QUEUED.search(output)
        if not found:
            _forget(interpreter, sweep.root, list(queued))
            raise ScaffoldError(
                f"dvc exp run --queue did not queue {run.name}: {_last_error(output)}"
            )
        queued[found.group(1)] = run
    return queued


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR")]
    return (errors[-1] if errors else lines[-1] if lines else "no output").rstrip(".") + "."


def _statuses(interpreter: Interpreter, root: Path) -> dict[str, str]:
    """``dvc queue status``: experiment name -> Queued / Running / Success / Failed."""
    found = {}
    for line in _dvc(interpreter, root, "queue", "status").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[-1] in ("Queued", "Running", "Success", "Failed"):
            found[parts[1]] = parts[-1]
    return found


def _forget(interpreter: Interpreter, root: Path, names: Sequence[str]) -> None:
    """Stop and drop queued or running experiments (an interrupted sweep)."""
    for command in ("kill", "remove"):
        with contextlib.suppress(ScaffoldError):
            if names:
                _dvc(interpreter, root, "queue", command, *names)


def _shim_env(
    sweep: Sweep, interpreter: Interpreter, stage: PipelineNotebook, shim: Path
) -> dict[str, str]:
    env = interpreter.environment()
    env["PATH"] = os.pathsep.join([str(shim.parent), env.get("PATH", "")])
    # the workers' kernel sockets and connection files land in the sweep's scratch folder,
    # which goes when the sweep ends, however it ends
    temporary = shim.parent / "tmp"
    temporary.mkdir(exist_ok=True)
    env["TMPDIR"] = str(temporary)
    env["SCAFFOLD_SWEEP"] = json.dumps(
        {
            "python": str(interpreter.python),
            "folder": str(sweep.folder),
            "params": stage.params,
            "runs": [[run.plan.overrides, run.name] for run in sweep.runs],
            "start_timeout": start_timeout(),
            "start_attempts": START_ATTEMPTS,
        }
    )
    return env


def _write_shim(folder: Path, interpreter: Interpreter) -> Path:
    """``papermill`` for the queue's workers, and the driver it runs, side by side."""
    source = Path(__file__).with_name("_papermill_shim.py").read_text(encoding="utf-8")
    shim = folder / "papermill"
    shim.write_text(f"#!{interpreter.python}\n{source}", encoding="utf-8")
    shim.chmod(0o755)
    (folder / "_papermill_driver.py").write_text(driver_source(), encoding="utf-8")
    return shim


def _outcome(sweep: Sweep, run: SweepRun, status: str, seconds: float, log: str) -> Outcome:
    output = run.plan.output
    metrics = metrics_of(output) if output.is_file() else {}
    if status == "done":
        return Outcome(run, "done", seconds, metrics=metrics)
    error = failure_of(sweep, run, {}) if output.is_file() else _last_error(log).rstrip(".")
    return Outcome(run, "failed", seconds, error, metrics)


def _poll(
    sweep: Sweep, interpreter: Interpreter, pending: dict[str, SweepRun], started: dict[str, float]
) -> tuple[list[Outcome], int]:
    """One look at the queue: the runs that ended since, and how many run now."""
    ended, running = [], 0
    statuses = _statuses(interpreter, sweep.root)
    for name in list(pending):
        status = statuses.get(name, "Queued")
        if status == "Queued":
            started[name] = time.monotonic()
        elif status == "Running":
            running += 1
        else:
            run = pending.pop(name)
            log = ""
            if status != "Success":
                with contextlib.suppress(ScaffoldError):
                    log = _dvc(interpreter, sweep.root, "queue", "logs", name)
            seconds = time.monotonic() - started[name]
            ended.append(_outcome(sweep, run, FINAL[status], seconds, log))
    return ended, running


def run_queue(sweep: Sweep, interpreter: Interpreter, progress: Progress) -> Iterator[Outcome]:
    """Queue the sweep's runs as DVC experiments, start the queue, yield each outcome."""
    stage = stage_of(Project(sweep.root), sweep.notebook)
    assert stage is not None
    with tempfile.TemporaryDirectory(prefix="scaffold-dvc-") as scratch:
        env = _shim_env(sweep, interpreter, stage, _write_shim(Path(scratch), interpreter))
        pending = _queue(sweep, interpreter, stage)
        started = {name: time.monotonic() for name in pending}
        try:
            _start_queue(sweep, interpreter, env, Path(scratch))
            while pending:
                ended, running = _poll(sweep, interpreter, pending, started)
                yield from ended
                progress.update(running)
                if pending:
                    time.sleep(POLL_SECONDS)
        finally:
            _forget(interpreter, sweep.root, list(pending))
            # the workers carry this sweep's PATH and settings: let none outlive it
            with contextlib.suppress(ScaffoldError):
                _dvc(interpreter, sweep.root, "queue", "stop")
