"""Attacks on the newer commands (issue 23) where the process matters: a real kernel, a real
signal, copier's scratch folders, a Makefile run by make. One generated project with its own
.venv for the module; each test checks that nothing is left behind (reports, TMPDIR,
processes). In-process cases: tests/test_attacks.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import new_project, run_scaffold
from tests.helpers import add_notebook_with_cells as add
from tests.helpers import start_and_signal, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed_plain_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``scaffold new "Attack Lab"`` (no git, no DVC) with its .venv, shared by the module."""
    yield new_project(tmp_path_factory, "attack-lab", "Attack Lab", "--no-git", "--no-dvc")


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private TMPDIR for scaffold and its children, to see what they leave there."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    return folder


def _reports(lab: Path, stem: str) -> list[str]:
    return sorted(
        p.name
        for p in (lab / "reports").iterdir()
        if stem in p.name or p.name.startswith(".scaffold")
    )


def test_report_execute_publishes_nothing_when_the_run_fails(
    installed_plain_lab: Path, tmpdir_env: Path
):
    stem = add(installed_plain_lab, "report fails", ("boom", "raise ValueError('no rows.')"))
    result = run_scaffold("report", stem, "--execute", cwd=installed_plain_lab, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert (
        "ValueError: no rows. Nothing was written (scaffold run keeps the partial output)." in last
    )
    assert _reports(installed_plain_lab, stem) == []
    assert list(tmpdir_env.iterdir()) == []


def test_report_execute_publishes_the_run_and_the_report_together(
    installed_plain_lab: Path, tmpdir_env: Path
):
    stem = add(installed_plain_lab, "report works", ("fine", "print('fine')"))
    result = run_scaffold("report", stem, "--execute", cwd=installed_plain_lab)
    assert f"create reports/{stem}.html" in result.stdout
    assert f"create reports/{stem}.ipynb" in result.stdout
    assert _reports(installed_plain_lab, stem) == [f"{stem}.html", f"{stem}.ipynb"]
    assert list(tmpdir_env.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_report_execute_leaves_nothing(
    installed_plain_lab: Path, tmpdir_env: Path, signum: int
):
    stem = add(installed_plain_lab, f"report sig{signum}", ("slow", "import time\ntime.sleep(120)"))
    command = [sys.executable, "-m", "scaffold", "report", stem, "--execute"]
    result, children = start_and_signal(command, installed_plain_lab, signum, "ipykernel_launcher")
    assert result.returncode == 128 + signum, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Interrupted")
    assert "Traceback" not in result.stderr
    assert wait_for(lambda: not any(_alive(pid) for pid in children), 30)
    assert _reports(installed_plain_lab, stem) == []
    # everything report and run make is gone, the kernel's sockets and connection file too
    # (the execution core's driver keeps them in a private folder it removes)
    assert [p.name for p in tmpdir_env.iterdir()] == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- update: copier's scratch folders -------------------------------------------------------


def _copier_folder(tmpdir: Path, prefix: str) -> bool:
    return any(path.name.startswith(prefix) for path in tmpdir.rglob("copier.*"))


@pytest.mark.parametrize("moment", ["copier._vcs.clone.", "copier._main."])
def test_ctrl_c_during_update_leaves_no_copier_scratch(
    v1_project: Path, tmp_path: Path, moment: str
):
    """copier's clone of the template and its renders of the project live in scaffold's
    scratch folder: a Ctrl-C while copier has them leaves TMPDIR empty."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffold", "update", "--trust"],
        cwd=v1_project,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: _copier_folder(tmpdir, moment), 120), "copier never got there"
        assert not any(tmpdir.glob("copier.*"))  # inside scaffold's scratch, not beside it
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "Interrupted."
    assert list(tmpdir.iterdir()) == []
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=v1_project, capture_output=True, text=True
    )
    assert status.stdout == ""


def test_an_update_leaves_no_copier_scratch(v1_project: Path, tmp_path: Path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    result = run_scaffold("update", "--trust", cwd=v1_project, env={"TMPDIR": str(tmpdir)})
    assert "v1 -> v2" in result.stdout + result.stderr or result.returncode == 0
    assert list(tmpdir.iterdir()) == []


# --- the generated Makefile: values are data, failures fail ---------------------------------


def _make(lab: Path, *args: str) -> subprocess.CompletedProcess[str]:
    venv = lab / ".venv" / "bin"
    env = {
        **os.environ,
        "PATH": f"{venv}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv.parent),
    }
    return subprocess.run(
        ["make", *args],
        cwd=lab,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.parametrize(
    "value",
    [
        "x; touch PWNED #",
        "`touch PWNED`",
        "$(touch PWNED)",
        "$(shell touch PWNED)",
        'x" && touch PWNED && "',
    ],
)
@pytest.mark.parametrize(
    ("target", "variable"),
    [("notebook", "NB"), ("report", "NB"), ("data-add", "FILE"), ("report", "TO")],
)
def test_make_passes_values_as_data(
    installed_plain_lab: Path, target: str, variable: str, value: str
):
    result = _make(installed_plain_lab, target, f"{variable}={value}")
    assert result.returncode != 0, result.stdout + result.stderr
    assert (
        not list(installed_plain_lab.rglob("PWNED"))
        and not (installed_plain_lab.parent / "PWNED").exists()
    )


def test_make_notebook_runs_a_name_with_a_space_and_fails_when_papermill_fails(
    installed_plain_lab: Path,
):
    stem = add(installed_plain_lab, "make works", ("fine", "print('fine')"))
    spaced = f"{stem} copy 2"
    (installed_plain_lab / "notebooks" / f"{spaced}.ipynb").write_bytes(
        (installed_plain_lab / "notebooks" / f"{stem}.ipynb").read_bytes()
    )
    result = _make(installed_plain_lab, "notebook", f"NB={spaced}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (installed_plain_lab / "reports" / f"{spaced}.ipynb").is_file()
    result = _make(installed_plain_lab, "report", f"NB={spaced}", "TO=markdown")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (installed_plain_lab / "reports" / f"{spaced}.md").is_file()
    failing = add(installed_plain_lab, "make fails", ("boom", "raise ValueError('no rows')"))
    result = _make(installed_plain_lab, "notebook", f"NB={failing}")
    assert result.returncode == 2 and "ValueError" in result.stdout + result.stderr


# --- scaffold new: a signal as it exits -----------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_as_new_exits_after_done_exits_0(tmp_path: Path, signum: int):
    """The project is complete once `Done:` is printed: a signal then (at several moments of
    the exit, the interpreter's shutdown included) leaves it, and scaffold exits 0."""
    import time

    for trial, delay in enumerate([0.0, 0.001, 0.005, 0.02, 0.06]):
        process = subprocess.Popen(
            [sys.executable, "-m", "scaffold", "new", f"Late {trial}", "--no-input", "--no-git",
             "--no-dvc", "--no-pre-commit"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if line.startswith("Done: "):
                    time.sleep(delay)
                    process.send_signal(signum)
                    break
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, (delay, process.returncode, err)
        assert "Interrupted" not in err and "Traceback" not in err
        assert (tmp_path / f"late-{trial}" / "Makefile").is_file()
        assert (tmp_path / f"late-{trial}" / ".copier-answers.yml").is_file()


# --- scaffold new on a full disk --------------------------------------------------------------


def test_a_full_disk_during_new_is_the_documented_sentence(tmp_path: Path):
    """A real full disk (a 300 kB tmpfs): the files fit, git's objects do not."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        result = run_scaffold(
            "new", "Full", "--no-input", "--no-dvc", "--no-pre-commit", cwd=disk, check=False
        )
        assert result.returncode == 1
        sentence = (
            "error: `git add --all` failed: no space left on the device; free some space and retry."
        )
        assert sentence in result.stderr.splitlines()
        assert "fatal:" not in result.stderr and "Traceback" not in result.stderr
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)
