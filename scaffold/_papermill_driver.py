"""Run one notebook with papermill, inside the PROJECT's interpreter (never scaffold's).

``scaffold run`` executes this file's source as ``<project python> -c <source> SPEC``. SPEC
is JSON: ``input``, ``output``, ``cwd``, ``parameters_file`` (YAML, read like papermill's
``-f``), ``parameters`` (overrides, applied after the file), ``progress`` and ``result`` (a
file to write the outcome to, as JSON). Failures are reported there, not as a traceback.

Standard library plus papermill (and its PyYAML) only; keep it compatible with Python 3.8.
"""

from __future__ import annotations

import json
import os
import signal
import sys
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


def main(spec: dict[str, Any]) -> int:
    """Execute the notebook; write ``{"ok": ...}`` to ``spec["result"]``; return the exit code."""
    result: dict[str, Any] = {"ok": False}
    try:
        import papermill
        import yaml

        parameters: dict[str, Any] = {}
        if spec.get("parameters_file"):
            with open(spec["parameters_file"], encoding="utf-8") as handle:
                parameters.update(yaml.safe_load(handle) or {})
        parameters.update(spec.get("parameters") or {})
        papermill.execute_notebook(
            spec["input"],
            spec["output"],
            parameters=parameters,
            cwd=spec["cwd"],
            kernel_name=spec.get("kernel_name") or "python3",  # this env's, not the saved one
            progress_bar=spec.get("progress", False),
            # ipykernel 7 warns at every start that its (127.0.0.1) TCP sockets are not
            # encrypted; that line is noise on every run. Kernel errors still show.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        result["ok"] = True
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
