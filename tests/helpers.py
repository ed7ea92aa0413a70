"""Helpers shared by test modules (no test imports another test module): notebooks written as
JSON, ``scaffold add notebook`` with cells, commands and signals, processes watched through
/proc, local servers. Fixtures (and the helpers they use) live in conftest.py."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import run_scaffold

# -- notebooks as JSON ------------------------------------------------------------------------

# Two helper functions a notebook defines (copied between notebooks, then extracted).
HELPERS = '''def clean(frame):
    """Drop empty rows."""
    return frame.dropna()


def scale(value, factor=2):
    return math.sqrt(value) * factor
'''


def cell(source: str, cell_id: str, **metadata: Any) -> dict[str, Any]:
    """A code cell (never run) with ``metadata``."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": metadata,
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def write_notebook(path: Path, cells: list[dict[str, Any]]) -> None:
    """A Python 3 notebook of ``cells`` at ``path``, as Jupyter writes it."""
    data = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def cells_of(path: Path) -> list[dict[str, Any]]:
    """The cells of the notebook at ``path``."""
    return json.loads(path.read_text())["cells"]


def source(path: Path, index: int) -> str:
    """The source of cell ``index`` of the notebook at ``path``."""
    return "".join(cells_of(path)[index]["source"])


def add_notebook_with_cells(
    project: Path,
    description: str,
    *cells: tuple[str, str],
    production: bool = False,
    parameters: str = "",
) -> str:
    """``scaffold add notebook``, with code cells ``(id, source)`` before its metrics cell
    and ``parameters`` (lines) added to its parameters cell; return the notebook's stem."""
    flags = ["--production"] if production else []
    out = run_scaffold("add", "notebook", description, *flags, cwd=project).stdout
    stem = out.splitlines()[0].removeprefix("create notebooks/").removesuffix(".ipynb")
    path = project / "notebooks" / f"{stem}.ipynb"
    nb = json.loads(path.read_text())
    metrics = nb["cells"].pop()
    assert metrics["id"] == "metrics"
    assert nb["cells"][2]["id"] == "parameters"
    if parameters:
        text = "".join(nb["cells"][2]["source"])
        nb["cells"][2]["source"] = text + "\n" + parameters
    for cell_id, code in cells:
        nb["cells"].append(cell(code, cell_id))
    nb["cells"].append(metrics)
    path.write_text(json.dumps(nb, indent=1) + "\n")
    return stem


def set_metrics(project: Path, stem: str, code: str) -> None:
    """Replace the last (metrics) cell of notebook ``stem``."""
    path = project / "notebooks" / f"{stem}.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][-1]["source"] = code
    path.write_text(json.dumps(nb, indent=1) + "\n")


def sweep_folder(project: Path, stem: str) -> Path:
    """The newest sweep folder of notebook ``stem``."""
    [folder] = sorted((project / "reports" / "sweeps" / stem).iterdir())[-1:]
    return folder


def summary(folder: Path) -> list[dict[str, str]]:
    """A sweep folder's summary.csv, row by row."""
    return list(csv.DictReader((folder / "summary.csv").read_text().splitlines()))


# -- commands and signals ---------------------------------------------------------------------


def run(
    args: list[str | Path], cwd: Path, env: dict[str, str] | None = None, expect_ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command; unless ``expect_ok`` is False, fail the test (with its output) on error."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if expect_ok:
        assert result.returncode == 0, (
            f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def output(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    """``run``'s stdout and stderr, one after the other (the command must succeed)."""
    result = run(args, cwd, env)
    return result.stdout + result.stderr


def hook_status(output: str, hook: str) -> str | None:
    """A hook's result in pre-commit's output ("Passed", "Failed", ...), by hook name."""
    found = re.search(rf"^{re.escape(hook)}\.+(\w+)", output, re.MULTILINE)
    return found.group(1) if found else None


def scaffold_command(*args: str) -> list[str]:
    """The argv of the real ``scaffold`` command."""
    return [sys.executable, "-m", "scaffold", *args]


def start_and_signal(
    command: list[str],
    cwd: Path,
    signum: int,
    when_running: str,
    group: bool = False,
    settle: float = 0.0,
) -> tuple[subprocess.CompletedProcess[str], set[int]]:
    """Start ``command``, send ``signum`` to it alone (or its whole process group) once a
    descendant whose command line contains ``when_running`` has been alive ``settle``
    seconds; return the result and the descendants it had."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=group,
    )
    children: set[int] = set()

    def running() -> bool:
        nonlocal children
        children = descendants(process.pid)
        return any(when_running in cmdline(pid) for pid in children)

    try:
        assert wait_for(running, 120), f"{when_running} never started"
        time.sleep(settle)
        children = descendants(process.pid)
        if group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return subprocess.CompletedProcess(command, process.returncode, out, err), children


# -- processes through /proc ------------------------------------------------------------------


def descendants(pid: int) -> set[int]:
    """Living descendants of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition: Callable[[], object], timeout: float = 60.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ("" once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# -- local servers ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serves(url: str, seconds: float) -> str:
    """The body ``url`` answers with once it is up (waits up to ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# -- DVC in this process ----------------------------------------------------------------------


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real dvc command line, run in this process as DVC's own tests run it: the same
    commands and files, without a second or two of DVC's start-up per call."""
    from dvc.cli import main  # heavy: only for the tests that call DVC

    out, err = io.StringIO(), io.StringIO()
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(previous)
    result = subprocess.CompletedProcess(["dvc", *args], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"dvc {args} failed:\n{result.stdout}\n{result.stderr}")
    return result
