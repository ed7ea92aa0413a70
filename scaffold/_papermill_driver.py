"""Run one notebook with papermill, inside the PROJECT's interpreter (never scaffold's).

``scaffold run`` executes this file's source as ``<project python> -c <source> SPEC``. SPEC
is JSON: ``input``, ``output``, ``cwd``, ``parameters_file`` (YAML, read like papermill's
``-f``), ``parameters`` (overrides, applied after the file), ``progress`` and ``result`` (a
file to write the outcome to, as JSON). Failures are reported there, not as a traceback.

Optional, for many kernels at once (``scaffold run --grid``): ``transport`` (``"ipc"``: the
kernel talks over Unix sockets in a private folder, so concurrent kernels never race for
TCP ports), ``start_timeout`` (seconds for the kernel to answer, longer under load) and
``start_attempts`` (a kernel that dies before it answers is started again, up to this many
times in all; nothing of the notebook ran yet, so a retry is safe). ``watch_parent``: stop
(and shut the kernel down) when the process that started this one dies, as a Dask worker
killed mid-run does.

Standard library plus papermill (and its PyYAML) only; keep it compatible with Python 3.8.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

STOP_SIGNALS = [
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
]


def _stop(signum: int, frame: object) -> None:
    """Stop the run quietly: papermill's cleanup shuts the kernel down as the interrupt unwinds,
    and asyncio's tracebacks about the cancelled run go nowhere (scaffold reports it)."""
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    raise KeyboardInterrupt


# What a kernel that never came up looks like (jupyter_client / nbclient / ZMQ messages).
START_FAILURES = (
    "Kernel died before replying to kernel_info",
    "Kernel didn't respond",
    "Address already in use",
)


def _execute(spec: dict[str, Any], parameters: dict[str, Any], ipc_folder: str | None) -> None:
    import papermill

    options: dict[str, Any] = {}
    if ipc_folder is not None:
        from traitlets.config import Config

        config = Config()
        config.KernelManager.transport = "ipc"
        # the socket files: <folder>/kernel-<n>; a private folder per kernel, short (AF_UNIX
        # paths are limited to about 100 bytes)
        config.KernelManager.ip = os.path.join(ipc_folder, "kernel")
        options["config"] = config
    # ipykernel 7 warns at every start that its (127.0.0.1) TCP sockets are not encrypted;
    # that line is noise on every run. Kernel errors still show. History off: kernels
    # started together would all write IPython's one history database.
    arguments = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]
    papermill.execute_notebook(
        spec["input"],
        spec["output"],
        parameters=parameters,
        cwd=spec["cwd"],
        kernel_name=spec.get("kernel_name") or "python3",  # this env's, not the saved one
        progress_bar=spec.get("progress", False),
        start_timeout=spec.get("start_timeout", 60),
        extra_arguments=arguments,
        **options,
    )


def _never_started(error: Exception) -> bool:
    """True when the kernel failed before the first cell ran (so a retry is safe)."""
    text = str(error)
    return not hasattr(error, "ename") and any(failure in text for failure in START_FAILURES)


def _parameters(spec: dict[str, Any]) -> dict[str, Any]:
    import yaml

    parameters: dict[str, Any] = {}
    if spec.get("parameters_file"):
        with open(spec["parameters_file"], encoding="utf-8") as handle:
            parameters.update(yaml.safe_load(handle) or {})
    parameters.update(spec.get("parameters") or {})
    return parameters


def _attempts(spec: dict[str, Any], parameters: dict[str, Any], result: dict[str, Any]) -> None:
    attempts = max(1, int(spec.get("start_attempts", 1)))
    for attempt in range(1, attempts + 1):
        ipc_folder = tempfile.mkdtemp(prefix="sk-") if spec.get("transport") == "ipc" else None
        try:
            _execute(spec, parameters, ipc_folder)
            result["ok"] = True
            return
        except Exception as error:
            if attempt < attempts and _never_started(error):
                result["restarts"] = attempt
                time.sleep(0.5 * attempt)
                continue
            raise
        finally:
            if ipc_folder is not None:
                shutil.rmtree(ipc_folder, ignore_errors=True)


def _watch_parent() -> None:
    """SIGTERM this process (``_stop`` then ends the run) once its parent is gone."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


def main(spec: dict[str, Any]) -> int:
    """Execute the notebook; write ``{"ok": ...}`` to ``spec["result"]``; return the exit code."""
    result: dict[str, Any] = {"ok": False}
    if spec.get("watch_parent"):
        _watch_parent()
    try:
        _attempts(spec, _parameters(spec), result)
    except KeyboardInterrupt:
        result["error"] = "Interrupted"
        result["interrupted"] = True
    except Exception as error:
        result["error"] = getattr(error, "ename", None) or type(error).__name__
        result["message"] = str(getattr(error, "evalue", None) or error).strip()
        result["executed"] = hasattr(error, "ename")  # a cell failed (PapermillExecutionError)
    with open(spec["result"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    if result.get("interrupted"):
        return 130
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    for stop in STOP_SIGNALS:
        signal.signal(stop, _stop)
    sys.exit(main(json.loads(sys.argv[1])))
