"""``papermill`` for DVC's queue workers during ``scaffold run --grid``: run the stage's
notebook through scaffold's own driver (``_papermill_driver.py``, written beside this file),
then copy the executed notebook into the sweep's folder.

So a queue worker's kernel gets what every other backend's gets: Unix sockets (no TCP port
for two workers' kernels to race for), the load-aware start timeout and its retries, and a
driver that stops (and shuts its kernel down) when the worker that started it dies. A stage
command this shim does not understand (papermill options beyond ``--no-progress-bar``,
``-k``, ``--cwd``, ``-f``) runs with the project's real papermill instead.

The queue runs each experiment in a copy of the repository that DVC deletes afterwards, and
the stage's executed notebook is neither committed nor cached: this copy is the only one.
``SCAFFOLD_SWEEP`` (JSON) names the sweep's ``folder``, the stage's ``params`` file, the
``runs`` as ``[parameters, name]`` and the driver's ``start_timeout`` and
``start_attempts``; the run is the one whose parameters the experiment's parameters file
holds. Standard library, PyYAML and papermill only; Python 3.8 or newer.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

VALUED = {"-k": "kernel_name", "--kernel": "kernel_name", "--cwd": "cwd"}
VALUED.update({"-f": "parameters_file", "--parameters_file": "parameters_file"})


def _run_name(sweep: dict[str, Any], parameters: dict[str, Any]) -> str | None:
    for wanted, name in sweep["runs"]:
        if all(key in parameters and parameters[key] == value for key, value in wanted.items()):
            return str(name)
    return None


def parse(argv: list[str]) -> dict[str, Any] | None:
    """The driver's spec for a ``papermill`` command line; None if it has more than this
    shim knows (then the real papermill runs it)."""
    spec: dict[str, Any] = {"progress": True}
    paths: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--no-progress-bar":
            spec["progress"] = False
        elif arg in VALUED:
            value = next(args, None)
            if value is None:
                return None
            spec[VALUED[arg]] = value
        elif arg.startswith("-"):
            return None
        else:
            paths.append(arg)
    if len(paths) != 2:
        return None
    spec["input"], spec["output"] = paths
    spec["cwd"] = os.path.abspath(spec.get("cwd") or os.path.dirname(paths[0]) or ".")
    return spec


def _drive(spec: dict[str, Any], sweep: dict[str, Any]) -> int:
    """Run ``spec`` with scaffold's driver in this process; the driver's exit code."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    driver = importlib.import_module("_papermill_driver")  # written beside this file

    for stop in driver.STOP_SIGNALS:
        signal.signal(stop, driver._stop)
    if os.name == "posix":
        spec["transport"] = "ipc"
    spec["start_timeout"] = int(sweep.get("start_timeout") or 60)
    spec["start_attempts"] = int(sweep.get("start_attempts") or 1)
    spec["watch_parent"] = True
    handle, spec["result"] = tempfile.mkstemp(prefix="scaffold-run-", suffix=".json")
    os.close(handle)
    try:
        code = int(driver.main(spec))
        with open(spec["result"], encoding="utf-8") as outcome_file:
            outcome = json.load(outcome_file)
    finally:
        os.unlink(spec["result"])
    if not outcome.get("ok"):
        error, message = outcome.get("error", ""), outcome.get("message", "")
        sys.stderr.write(f"scaffold: {error}: {message}\n")
    return code


def _collect(argv: list[str], sweep: dict[str, Any]) -> None:
    """Copy the executed notebook into the sweep's folder, named after its run."""
    notebooks = [arg for arg in argv if arg.endswith(".ipynb")]
    import yaml

    with open(sweep["params"], encoding="utf-8") as handle:
        parameters = yaml.safe_load(handle) or {}
    name = _run_name(sweep, parameters)
    if name is not None and len(notebooks) >= 2 and os.path.isfile(notebooks[1]):
        os.makedirs(sweep["folder"], exist_ok=True)
        shutil.copyfile(notebooks[1], os.path.join(sweep["folder"], name + ".ipynb"))


def main(argv: list[str]) -> int:
    """Run the notebook of ``papermill ARGV``; copy the executed notebook; the exit code."""
    try:
        sweep = json.loads(os.environ["SCAFFOLD_SWEEP"])
    except (KeyError, ValueError):
        sweep = None
    spec = parse(argv) if sweep is not None else None
    if spec is None:
        code = subprocess.call([sys.executable, "-m", "papermill", *argv])
    else:
        code = _drive(spec, sweep)
    if sweep is None:
        return code
    try:
        _collect(argv, sweep)
    except (KeyError, OSError, ValueError) as error:
        sys.stderr.write(f"scaffold: the executed notebook was not collected: {error}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
