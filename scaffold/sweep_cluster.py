"""A sweep on a Dask cluster: ``scaffold run NOTEBOOK --grid ... --cluster tcp://HOST:PORT``.

scaffold does not import Dask: it runs ``_cluster_driver.py`` in the project's interpreter
(which has ``distributed`` from the project's ``cluster`` extra), hands it the runs on
stdin and reads one JSON event per line back: connected, running, finished. Each worker
runs papermill with its own Python, so every worker's environment needs the project
installed (``pip install -e '.[dev,cluster]'`` in a checkout, or a wheel of the project);
the executed notebooks come back to this machine, into the sweep's folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scaffold import processes
from scaffold.errors import ScaffoldError
from scaffold.execution import driver_source, driver_spec, read_params_file
from scaffold.interpreters import Interpreter
from scaffold.sweep import Outcome, Progress, Sweep, failure_of, metrics_of

ADDRESS = re.compile(r"^(tcp|tls|ws|wss)://(\[[0-9A-Fa-f:.]+\]|[\w.\-]+):\d{1,5}$")
PROBE_SECONDS = 5  # to connect and hear a Dask scheduler answer


def check_address(address: str) -> None:
    """Refuse what is not a Dask scheduler address (``tcp://HOST:PORT``)."""
    if not ADDRESS.match(address):
        raise ScaffoldError(
            f"--cluster {address}: a Dask scheduler address looks like tcp://HOST:PORT "
            "(dask scheduler prints it)."
        )


def probe(address: str, interpreter: Interpreter) -> None:
    """Check ``address`` with Dask's own parser and hear a Dask scheduler answer there, in
    the project's interpreter, within seconds; ScaffoldError (one sentence) otherwise."""
    source = Path(__file__).with_name("_cluster_driver.py").read_text(encoding="utf-8")
    command = [str(interpreter.python), "-c", source, "--probe", address, str(PROBE_SECONDS)]
    try:  # the import of distributed takes seconds on a busy machine
        result = processes.run(command, env=interpreter.environment(), check=False, timeout=120)
    except ScaffoldError:
        result = None
    event = _event(result.text.strip().splitlines()[-1]) if result and result.text.strip() else {}
    kind, message = event.get("event"), event.get("message", "")
    if kind == "connected":
        return
    if kind == "malformed":
        raise ScaffoldError(f"--cluster {address} is not a Dask address ({message}).")
    if kind == "foreign":
        raise ScaffoldError(
            f"{address} answers, but not as a Dask scheduler; give the address dask scheduler "
            "prints (tcp://HOST:PORT)."
        )
    raise ScaffoldError(
        f"cannot reach the Dask scheduler at {address} ({message or 'no answer'}); start one "
        "(dask scheduler) or check the address."
    )


def _spec(sweep: Sweep) -> dict[str, Any]:
    base = read_params_file(sweep.parameters_file, sweep.root) if sweep.parameters_file else {}
    jobs = []
    for run in sweep.runs:
        # workers need no parameters file: the values go with the run
        spec = driver_spec(run.plan, parameters={**(base or {}), **run.plan.overrides})
        for key in ("input", "output", "cwd", "result", "parameters_file"):
            spec.pop(key, None)  # type: ignore[misc]
        jobs.append({"index": run.index, "output": str(run.plan.output), "spec": spec})
    return {
        "address": sweep.cluster,
        "sweep": f"scaffold-{uuid.uuid4().hex[:12]}",
        "driver": driver_source(),
        "notebook": sweep.notebook.read_text(encoding="utf-8"),
        "file_name": sweep.notebook.name,
        "cwd": str(sweep.notebook.parent),
        "jobs": jobs,
    }


def _outcome(sweep: Sweep, event: dict[str, Any]) -> Outcome:
    run = sweep.runs[int(event["index"]) - 1]
    result = event.get("outcome") or {}
    seconds = float(event.get("seconds") or 0.0)
    output = run.plan.output
    metrics = metrics_of(output) if output.is_file() else {}
    starts = int(result.get("starts") or 1)
    note = (
        "retried after its worker died" if starts > 1 or result.get("error") == "WorkerDied" else ""
    )
    if result.get("ok"):
        return Outcome(run, "done", seconds, metrics=metrics, note=note)
    return Outcome(run, "failed", seconds, failure_of(sweep, run, result), metrics, note)


def run_cluster(sweep: Sweep, interpreter: Interpreter, progress: Progress) -> Iterator[Outcome]:
    """Submit the sweep to ``sweep.cluster``; yield each outcome as its notebook comes back."""
    assert sweep.cluster is not None
    check_address(sweep.cluster)
    source = Path(__file__).with_name("_cluster_driver.py").read_text(encoding="utf-8")
    process = subprocess.Popen(
        [str(interpreter.python), "-c", source],
        cwd=sweep.root,
        env=interpreter.environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(json.dumps(_spec(sweep), default=str))
        process.stdin.close()
        finished = 0
        for line in process.stdout:
            event = _event(line)
            kind = event.get("event")
            if kind == "unreachable":
                raise ScaffoldError(
                    f"cannot reach the Dask scheduler at {sweep.cluster} "
                    f"({event.get('message', '')}); start one (dask scheduler) or check "
                    "the address."
                )
            if kind == "connected":
                progress.echo(
                    f"connected to {sweep.cluster}: {event.get('workers')} workers, "
                    f"{event.get('threads')} threads"
                )
            elif kind == "running":
                progress.update(int(event.get("count") or 0))
            elif kind == "finished":
                finished += 1
                yield _outcome(sweep, event)
        process.wait()
        if finished < len(sweep.runs):
            raise ScaffoldError(
                f"the Dask client stopped after {finished} of {len(sweep.runs)} runs "
                f"(exit {process.returncode}); see its output above."
            )
    finally:
        if process.poll() is None:
            process.terminate()  # it cancels the runs on the cluster
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _event(line: str) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}
