"""`scaffold check --run` and the generated project's own checks, end to end (slow).

One project made by ``scaffold new`` (git, DVC), with its own .venv, shared by the module;
scaffold runs from the test interpreter, the kernels from the project's .venv.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.conftest import new_project, run_scaffold, tree


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield new_project(tmp_path_factory, "check-lab", "Check Lab")


def notebook(project: Path, name: str, *cells: tuple[str, int | None]) -> Path:
    nb = new_notebook(cells=[new_code_cell(src, execution_count=n) for src, n in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = project / "notebooks" / name
    nbformat.write(nb, path)
    return path


def kernels_in(folder: Path) -> list[int]:
    """Processes whose working folder is ``folder`` (papermill starts kernels there)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cwd").resolve() == folder.resolve():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_a_fresh_project_passes_check_and_check_run(made: Path):
    assert run_scaffold("check", cwd=made).stdout == "All checks passed: 1 notebook.\n"
    ran = run_scaffold("check", "--run", cwd=made)
    assert ran.stdout == "All checks passed: 1 notebook, 1 run top to bottom.\n"
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    make = subprocess.run(
        ["make", "check"], cwd=made, capture_output=True, text=True, env={**os.environ, **env}
    )
    assert make.returncode == 0, make.stderr
    assert "All checks passed: 1 notebook." in make.stdout


@pytest.mark.slow
def test_run_catches_hidden_state_and_timeouts_and_changes_nothing(made: Path):
    hidden = notebook(
        made,
        "1.1-tu-hidden-state.ipynb",
        ("import math", None),
        ("print(total)", None),  # `total` only existed in the author's kernel
        ("total = math.fsum([1.0, 2.0])", None),
    )
    slow = notebook(made, "1.2-tu-slow.ipynb", ("import time\n\ntime.sleep(120)", None))
    before = tree(made / "notebooks")
    reports = sorted(p.name for p in (made / "reports").iterdir())

    static = run_scaffold("check", str(hidden), cwd=made, check=False)
    assert static.returncode == 1  # nothing stored, yet read top to bottom: used before defined
    assert ":2:1: NB303" in static.stdout or " NB303 " in static.stdout, static.stdout

    result = run_scaffold(
        "check", "--run", "-j", "2", "--timeout", "20", "--format", "json", cwd=made, check=False
    )  # the kernel's start (10 s on a loaded machine) is not counted
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    findings = [f for f in findings if f["code"] in ("NB001", "NB002")]  # the run's own
    assert [(f["path"], f["cell"], f["code"]) for f in findings] == [
        ("notebooks/1.1-tu-hidden-state.ipynb", 2, "NB001"),
        ("notebooks/1.2-tu-slow.ipynb", 0, "NB002"),
    ]
    assert findings[0]["message"].startswith(
        "fails on restart and run all: NameError: name 'total' is not defined;"
    )
    assert findings[1]["message"].startswith("did not finish within 20 s;")
    assert json.loads(result.stdout)["ran"] == 3
    assert tree(made / "notebooks") == before  # nothing in notebooks/ was written
    assert sorted(p.name for p in (made / "reports").iterdir()) == reports
    assert kernels_in(made / "notebooks") == []  # the timed-out kernel was stopped too
    hidden.unlink()
    slow.unlink()


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.5, 1.5, 4.0])
def test_ctrl_c_stops_every_kernel_at_once_and_writes_nothing(made: Path, after: float):
    import signal
    import time

    names = [f"1.{n}-tu-wait.ipynb" for n in range(3, 9)]
    for name in names:  # more notebooks than slots: the queue is not empty when it stops
        notebook(made, name, ("import time\n\ntime.sleep(3)", None))
    before = tree(made / "notebooks")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffold", "check", "--run", "-j", "2"],
        cwd=made,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    try:
        assert process.returncode == 130, stderr
        assert "Interrupted." in stderr and "Traceback" not in stderr
        assert time.monotonic() - started < after + 30  # no wait for a kernel's start budget
        time.sleep(1)
        assert kernels_in(made / "notebooks") == []
        assert tree(made / "notebooks") == before
    finally:
        for name in names:
            (made / "notebooks" / name).unlink()


@pytest.mark.slow
def test_a_dead_kernel_is_reported_at_once_and_tmpdir_is_left_empty(made: Path, tmp_path: Path):
    # issue 23: a kernel that exits (segfault, OOM killer) was blamed as a timeout (NB002)
    dies = notebook(made, "1.7-tu-dies.ipynb", ("import os", None), ("os._exit(0)", None))
    slow = notebook(made, "1.8-tu-sleeps.ipynb", ("import time\n\ntime.sleep(120)", None))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    try:
        result = run_scaffold(
            "check", "--run", "-j", "2", "--timeout", "60", "--format", "json", str(dies),
            cwd=made, env={"TMPDIR": str(scratch)}, check=False,
        )  # fmt: skip
        timed_out = run_scaffold(
            "check", "--run", "--timeout", "3", str(slow),
            cwd=made, env={"TMPDIR": str(scratch)}, check=False,
        )  # fmt: skip
    finally:
        dies.unlink()
        slow.unlink()
    findings = json.loads(result.stdout)["findings"]
    assert [(f["code"], f["cell"]) for f in findings] == [("NB001", 0)], result.stdout
    assert "the kernel died" in findings[0]["message"]
    assert "did not finish within 3 s" in timed_out.stdout
    # no kernel sockets (sk-*) or connection files (tmp*.json, with the kernel's key) left
    assert sorted(p.name for p in scratch.iterdir()) == []
    assert kernels_in(made / "notebooks") == []


SLOW_KERNEL = """\
python=$1; shift
echo started >> "$STARTS"
cp "$2" "$CONNECTION"
if [ "$(wc -l < "$STARTS")" -eq 1 ]; then exit 1; fi  # the first kernel dies at once
sleep 12
exec "$python" -m ipykernel_launcher "$@"
"""


@pytest.mark.slow
def test_run_survives_a_kernel_that_dies_or_starts_slowly(made: Path, tmp_path: Path):
    # A python3 kernel (found first on JUPYTER_PATH) that dies the first time, and starts in
    # 12 s the next: longer than the notebook's timeout, which counts the notebook only.
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (tmp_path / "slow.sh").write_text(SLOW_KERNEL)
    python = made / ".venv" / "bin" / "python"
    argv = ["/bin/sh", str(tmp_path / "slow.sh"), str(python), "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python",
                                                  "display_name": "Python 3 (slow)"}))  # fmt: skip
    quick = notebook(made, "1.4-tu-quick.ipynb", ("import math", None), ("math.pi", None))
    env = {
        "JUPYTER_PATH": str(tmp_path),
        "STARTS": str(tmp_path / "starts"),
        "CONNECTION": str(tmp_path / "connection.json"),
    }
    try:
        result = run_scaffold(
            "check", "--run", "--timeout", "6", str(quick), cwd=made, env=env, check=False
        )
    finally:
        quick.unlink()
    assert result.stdout == "All checks passed: 1 notebook, 1 run top to bottom.\n", (
        result.stdout + result.stderr
    )
    assert (tmp_path / "starts").read_text() == "started\nstarted\n"  # restarted once
    connection = json.loads((tmp_path / "connection.json").read_text())
    assert connection["transport"] == "ipc"  # Unix sockets, no TCP port to race for


@pytest.mark.slow
def test_the_offered_pre_commit_hook_runs_offline(made: Path, tmp_path: Path):
    config = (made / ".pre-commit-config.yaml").read_text()
    block = config[config.index("  # - repo: local") :]
    local = "repos:\n" + re.sub(r"^  # ?", "  ", block, flags=re.MULTILINE)
    (tmp_path / "hook.yaml").write_text(local)
    notebook(made, "1.3-tu-abs.ipynb", ('data = "/home/ada/x.csv"', None))
    subprocess.run(["git", "add", "-A"], cwd=made, check=True)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    hook = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--config", str(tmp_path / "hook.yaml"),
         "--files", "notebooks/1.3-tu-abs.ipynb"],
        cwd=made,
        capture_output=True,
        text=True,
        env=env,
    )  # fmt: skip
    assert hook.returncode == 1, hook.stdout + hook.stderr
    assert "notebooks/1.3-tu-abs.ipynb:1:1: NB401 absolute path '/home/ada/x.csv'" in hook.stdout
    (made / "notebooks" / "1.3-tu-abs.ipynb").unlink()
    subprocess.run(["git", "add", "-A"], cwd=made, check=True)
