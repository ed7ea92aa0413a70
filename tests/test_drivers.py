"""The programs scaffold runs in the project's interpreter, quick: ``_papermill_driver`` and
``_dvc_record`` imported in-process, and ``execution.DriverProcess`` against the real
driver program in this interpreter (which has no papermill: the runs stop before a kernel,
which is what these tests need). Real kernels: tests/test_check_run.py, test_run.py and
test_sweep_local.py (slow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scaffold import _papermill_driver as driver
from scaffold import execution
from scaffold.interpreters import Interpreter


def test_the_spec_type_is_the_drivers_own():
    assert execution.DriverSpec is driver.DriverSpec
    spec = execution.driver_spec(
        execution.RunPlan(Path("/p/notebooks/a.ipynb"), Path("/p/reports/a.ipynb"), None, {"x": 1})
    )
    assert set(spec) <= set(driver.DriverSpec.__annotations__)
    assert spec["cwd"] == "/p/notebooks"
    assert spec["parameters"] == {"x": 1}
    assert spec["start_attempts"] == execution.START_ATTEMPTS
    assert execution.START_TIMEOUT <= spec["start_timeout"] <= execution.START_TIMEOUT_MAX
    assert isinstance(spec["start_timeout"], int)  # nbclient's startup_timeout is an int trait


def test_the_start_budget_covers_every_attempt():
    spec: driver.DriverSpec = {"start_timeout": 100, "start_attempts": 3}
    assert execution.start_budget(spec) > 300


def test_parameters_come_from_the_file_then_the_overrides(tmp_path: Path):
    params = tmp_path / "p.yaml"
    params.write_text("a: 1\nb: two\n")
    spec: driver.DriverSpec = {"parameters_file": str(params), "parameters": {"a": 5}}
    assert driver._parameters(spec) == {"a": 5, "b": "two"}
    assert driver._parameters({"parameters_file": None}) == {}


def test_a_kernel_that_never_answered_is_told_from_a_failing_cell():
    assert driver._never_started(RuntimeError("Kernel died before replying to kernel_info"))
    assert driver._never_started(driver._StartFailed(OSError("no such kernel")))
    assert not driver._never_started(ValueError("bad value"))

    class CellError(Exception):
        ename = "RuntimeError"

    assert not driver._never_started(CellError("Kernel didn't respond"))  # a cell raised it


def test_kernels_started_ahead_are_matched_by_folder_kernel_and_transport():
    assert driver._kernel_key({"cwd": "/a"}) == ("/a", "python3", None)
    assert driver._kernel_key({"cwd": "/a", "kernel_name": "k", "transport": "ipc"}) == (
        "/a",
        "k",
        "ipc",
    )


def test_main_reports_a_run_that_could_not_start_in_its_result_file(tmp_path: Path):
    result = tmp_path / "result.json"
    spec: driver.DriverSpec = {"parameters_file": str(tmp_path / "missing.yaml")}
    spec["result"] = str(result)
    assert driver.main(spec) == 1
    outcome = json.loads(result.read_text())
    assert outcome["ok"] is False
    assert outcome["error"] == "FileNotFoundError"
    assert outcome["executed"] is False


APART = """
import runpy, subprocess, sys
driver = runpy.run_path(sys.argv[1])
driver["_kernels_write_apart"]()
subprocess.run(["sh", "-c", "echo what a kernel logs >&2"], check=True)
print("the driver's own", file=sys.stderr)
print(repr(driver["_kernel_log_since"](0)))
"""


def test_kernels_stderr_is_kept_apart_and_read_back(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-c", APART, str(execution.DRIVER)],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        check=True,
    )
    assert done.stderr == "the driver's own\n"  # papermill's progress bar stays visible
    assert done.stdout.strip() == repr("what a kernel logs")
    assert list(tmp_path.iterdir()) == []  # the file was unlinked as soon as it was made


def test_a_dead_kernels_last_line_is_in_the_message(tmp_path: Path):
    outcome = {"ok": False, "error": "DeadKernelError", "kernel_log": "a\nSegmentation fault\n\n"}
    message = execution.failure_message(tmp_path / "n.ipynb", tmp_path / "out.ipynb", tmp_path,
                                        outcome)  # fmt: skip
    assert message == (
        "n.ipynb stopped: the kernel died (killed, or out of memory?). "
        "Its last line on stderr: `Segmentation fault`."
    )
    assert execution.run_failure(tmp_path / "n.ipynb", tmp_path / "out.ipynb", outcome).endswith(
        "Its last line on stderr: `Segmentation fault`"
    )
    quiet = {"ok": False, "error": "DeadKernelError"}
    assert "stderr" not in execution.failure_message(
        tmp_path / "n.ipynb", tmp_path / "out.ipynb", tmp_path, quiet
    )


def _interpreter() -> Interpreter:
    return Interpreter(Path(sys.executable), "the test's")


def test_a_driver_process_runs_specs_in_turn_and_leaves_no_tmpdir(tmp_path: Path):
    process = execution.DriverProcess(_interpreter(), tmp_path)
    plan = execution.RunPlan(tmp_path / "a.ipynb", tmp_path / "out" / "a.ipynb", None)
    spec = execution.driver_spec(plan, parameters_file=str(tmp_path / "missing.yaml"))
    try:
        first = process.run(spec)
        assert process.process is not None
        pid, scratch = process.process.pid, process.scratch
        assert scratch is not None and scratch.is_dir()
        second = process.run(spec)
        assert process.process is not None and process.process.pid == pid  # the same driver
    finally:
        process.stop()
    assert first["error"] == second["error"] == "FileNotFoundError"
    assert (tmp_path / "out").is_dir()
    assert not scratch.exists()  # its TMPDIR: kernel sockets and connection files
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_cancelled_driver_process_starts_no_driver(tmp_path: Path):
    process = execution.DriverProcess(_interpreter(), tmp_path)
    process.cancel()
    plan = execution.RunPlan(tmp_path / "a.ipynb", tmp_path / "a.out.ipynb", None)
    with pytest.raises(execution.Cancelled):
        process.run(execution.driver_spec(plan))
    assert process.process is None


PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", open(sys.argv[1]).read(), "--serve"],
                         stdin=subprocess.PIPE, start_new_session=True)
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_driver_ends_when_its_parent_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(execution.DRIVER)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(0.5)
    os.kill(child, 0)  # serving, its stdin still open
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the driver outlived its parent")


def test_kernels_fall_back_to_tcp_when_the_socket_paths_would_be_too_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    short = tmp_path / "s"
    short.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(short))
    folder = driver._ipc_folder({"transport": "ipc"})
    assert folder is not None and Path(folder).parent == short
    assert driver._ipc_folder({}) is None  # TCP asked for
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    assert driver._ipc_folder({"transport": "ipc"}) is None
    assert list(deep.iterdir()) == []  # the folder it tried is gone


def test_the_recorder_sets_a_runs_parameters_and_keeps_the_comments(tmp_path: Path):
    import yaml

    from scaffold import _dvc_record as recorder

    params = tmp_path / "p.yaml"
    params.write_text("# papermill parameters\nseed: 42  # the seed\n")
    recorder._set_parameters(str(params), {"seed": 2, "offset": 100})
    text = params.read_text()
    assert "# papermill parameters" in text and "# the seed" in text
    assert yaml.safe_load(text) == {"seed": 2, "offset": 100}  # offset was not there yet
    empty = tmp_path / "e.yaml"
    empty.write_text("")
    recorder._set_parameters(str(empty), {"x": 1})
    assert yaml.safe_load(empty.read_text()) == {"x": 1}


def test_the_workspace_is_put_back_and_unrecorded_runs_are_named(tmp_path: Path):
    from scaffold import sweep_dvc

    kept = tmp_path / "kept.yaml"
    kept.write_text("seed: 2\n")
    sweep_dvc._put_back(kept, b"seed: 42\n")
    assert kept.read_bytes() == b"seed: 42\n"
    made = tmp_path / "dvc.lock"
    made.write_text("schema: '2.0'\n")
    sweep_dvc._put_back(made, None)
    assert not made.exists()

    class Run:
        def __init__(self, name: str) -> None:
            self.name = name
            self.plan = type("Plan", (), {"output": tmp_path / "sweep" / f"{name}.ipynb"})()

    runs = [Run("x=1"), Run("x=2")]
    out = '{"run": "x=1", "experiment": "abc"}\n'
    [problem] = sweep_dvc._problems(out, "ERROR: no git identity\n", runs, tmp_path)  # type: ignore[arg-type]
    assert problem.startswith("DVC did not record x=2 as experiments (no git identity); ")
    assert "sweep" in problem
    failed = '{"run": "x=2", "error": "lock is busy"}\n' + out
    assert sweep_dvc._problems(failed, "", runs, tmp_path) == [  # type: ignore[arg-type]
        "DVC did not record x=2: lock is busy"
    ]
