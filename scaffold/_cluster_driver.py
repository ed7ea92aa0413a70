"""Submit a sweep's runs to a Dask scheduler; run by scaffold in the PROJECT's interpreter
(which needs ``distributed``: the project's ``cluster`` extra).

``<project python> -c <source>`` with a JSON spec on stdin: ``address``, ``sweep`` (a unique
id), ``driver`` (the papermill driver's source), ``notebook`` (its JSON text),
``file_name``, ``cwd`` (the notebook's folder here; used on a worker that has it) and
``jobs``, each ``{"index", "output" (where the executed notebook goes on this machine),
"spec" (the driver's spec: parameters, timeouts)}``.

Each run is one Dask task (``run_on_worker``): the worker writes the notebook to a
temporary folder in its Dask local directory, runs the papermill driver with the worker's
own Python (its environment must have the project installed) and returns the outcome with
the executed notebook's text, which this program writes to ``output``. A task whose
worker dies is run again by Dask; the task counts its starts in a Dask ``Variable`` and
gives up on the third (retried once, then failed). SIGTERM or SIGINT sets a Dask ``Event``
that the running tasks poll (they stop their papermill and its kernel) and cancels the
rest.

Stdout carries one JSON object per line for scaffold: ``connected``, ``running``,
``finished``, ``unreachable``. ``-c <source> --probe ADDRESS SECONDS`` only checks the address
and that a Dask scheduler answers there (see ``probe``). Standard library and distributed
only, Python 3.8 or newer.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any

MAX_STARTS = 2  # a run is started at most twice: retried once after its worker died
CONNECT_TIMEOUT = "10s"
_out = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    """One line of JSON for scaffold."""
    with _out:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


def run_on_worker(
    job: dict[str, Any], common: dict[str, Any], starts_key: str, cancel_key: str
) -> dict[str, Any]:
    """Run one notebook on this Dask worker; the driver's outcome plus the executed notebook."""
    import shutil
    import tempfile

    from distributed import Event, Variable, get_worker

    starts = Variable(starts_key)
    count = int(starts.get(timeout=30)) + 1
    starts.set(count)
    if count > MAX_STARTS:
        return {"ok": False, "error": "WorkerDied", "message": "its worker died twice"}
    started = time.monotonic()
    # In the worker's own folder, not TMPDIR: a worker killed mid-run never reaches the
    # ``finally``, and Dask removes a dead worker's folder when the next worker starts.
    folder = tempfile.mkdtemp(prefix="scaffold-run-", dir=get_worker().local_directory)
    try:
        notebook = os.path.join(folder, common["file_name"])
        with open(notebook, "w", encoding="utf-8") as handle:
            handle.write(common["notebook"])
        project = os.environ.get("SCAFFOLD_PROJECT_DIR", "")
        cwd = common["cwd"]
        if not os.path.isdir(cwd):
            cwd = os.path.join(project, "notebooks") if project else folder
        spec = dict(job["spec"])
        spec.update(
            input=notebook,
            output=os.path.join(folder, "executed.ipynb"),
            cwd=cwd if os.path.isdir(cwd) else folder,
            result=os.path.join(folder, "result.json"),
            watch_parent=True,
        )
        outcome = _drive(spec, common["driver"], Event(cancel_key))
        if os.path.isfile(spec["output"]):
            with open(spec["output"], encoding="utf-8") as handle:
                outcome["notebook"] = handle.read()
        outcome["worker"] = get_worker().address
        outcome["starts"] = count
        outcome["seconds"] = time.monotonic() - started
        return outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _drive(spec: dict[str, Any], driver: str, cancel: Any) -> dict[str, Any]:
    import subprocess

    process = subprocess.Popen([sys.executable, "-c", driver, json.dumps(spec)])
    while True:
        try:
            process.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            if cancel.is_set():
                process.terminate()  # the driver shuts its kernel down
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                return {"ok": False, "error": "Interrupted"}
    try:
        with open(spec["result"], encoding="utf-8") as handle:
            return dict(json.load(handle))
    except (OSError, ValueError):
        return {"ok": False, "error": "the papermill process ended before the run did"}


def _connect(address: str, timeout: str = CONNECT_TIMEOUT) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as error:
        emit("unreachable", message=str(error).strip() or type(error).__name__)
        sys.exit(2)
    except Exception as error:  # a peer that does not speak Dask's protocol
        emit("foreign", message=type(error).__name__)
        sys.exit(2)


def probe(address: str, seconds: int) -> int:
    """Check ``address`` with Dask's own parser, then connect and handshake within
    ``seconds``: one event (``connected``, ``malformed``, ``unreachable`` or ``foreign``)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        _, location = parse_address(address, strict=True)
        _, port = parse_host_port(location)
        if not 0 < int(port) < 65536:
            raise ValueError(f"port {port} is not between 1 and 65535")
    except (ValueError, TypeError) as error:
        emit("malformed", message=str(error).strip())
        return 2

    def silent(signum: int, frame: object) -> None:
        emit("unreachable", message=f"no answer within {seconds} s")
        os._exit(2)

    alarm = hasattr(signal, "SIGALRM")
    if alarm:
        signal.signal(signal.SIGALRM, silent)  # Client's timeout does not bound the handshake
        signal.alarm(seconds)
    client = _connect(address, timeout=f"{seconds}s")
    workers = client.scheduler_info().get("workers", {})
    if alarm:
        signal.alarm(0)
    emit("connected", workers=len(workers))
    client.close()
    return 0


def _watch_running(client: Any, keys: set[str], done: threading.Event) -> None:
    while not done.wait(1.0):
        try:
            processing = client.processing()
        except Exception:
            continue
        running = sum(1 for tasks in processing.values() for key in tasks if key in keys)
        emit("running", count=running)


def _finish(future: Any, job: dict[str, Any], started: float) -> None:
    from distributed import KilledWorker

    try:
        outcome = dict(future.result())
    except KilledWorker:
        outcome = {"ok": False, "error": "WorkerDied", "message": "its worker died (KilledWorker)"}
    except Exception as error:
        outcome = {"ok": False, "error": type(error).__name__, "message": str(error)}
    text = outcome.pop("notebook", None)
    if text is not None:
        os.makedirs(os.path.dirname(job["output"]), exist_ok=True)
        with open(job["output"], "w", encoding="utf-8") as handle:
            handle.write(text)
    seconds = outcome.pop("seconds", time.monotonic() - started)
    emit("finished", index=job["index"], outcome=outcome, seconds=seconds)


def main(spec: dict[str, Any]) -> int:
    """Submit every job, write each executed notebook as it comes back; 0, or 130 if stopped."""
    from distributed import Event, Variable, as_completed

    client = _connect(spec["address"])
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(worker.get("nthreads", 0) for worker in workers.values())
    emit("connected", workers=len(workers), threads=threads)
    sweep = spec["sweep"]
    cancel = Event(f"{sweep}-cancel", client=client)
    futures = {}
    started = time.monotonic()
    # Each task carries the notebook (not scattered data: that is lost with the workers that
    # hold it, and a task retried after its worker died must still find it).
    common = {key: spec[key] for key in ("driver", "notebook", "file_name", "cwd")}
    for job in spec["jobs"]:
        starts_key = f"{sweep}-starts-{job['index']}"
        Variable(starts_key, client=client).set(0)
        future = client.submit(
            run_on_worker,
            job,
            common,
            starts_key,
            f"{sweep}-cancel",
            key=f"{sweep}-run-{job['index']}",
            pure=False,
        )
        futures[future] = job

    def stop(signum: int, frame: object) -> None:
        cancel.set()
        client.cancel(list(futures), force=True)
        emit("cancelled")
        os._exit(130)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    done = threading.Event()
    keys = {future.key for future in futures}
    threading.Thread(target=_watch_running, args=(client, keys, done), daemon=True).start()
    for future in as_completed(list(futures)):
        _finish(future, futures[future], started)
    done.set()
    client.close()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe"]:
        sys.exit(probe(sys.argv[2], int(sys.argv[3])))
    sys.exit(main(json.loads(sys.stdin.read())))
