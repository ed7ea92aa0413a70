"""Attacks on the newer commands (issue 23), each case in-process where the process does not
matter: messages, CSV injection, hostile notebooks, links, refusals that change nothing.
(Real signals and kernels: tests/test_attack_signals.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scaffold import run
from tests.conftest import git, scaffold_in_process
from tests.helpers import HELPERS, cell, write_notebook


def _executed(path: Path, evalue: str) -> Path:
    cell = {
        "cell_type": "code",
        "id": "boom",
        "metadata": {"papermill": {"exception": True}},
        "source": "raise ValueError('x')",
        "outputs": [{"output_type": "error", "ename": "ValueError", "evalue": evalue}],
        "execution_count": 1,
    }
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4}))
    return path


def test_papermill_messages_end_in_one_full_stop(tmp_path: Path):
    notebook = _executed(tmp_path / "nb.ipynb", "unused")
    output = _executed(tmp_path / "out.ipynb", "the value is bad.")
    message = run.failure_message(notebook, output, tmp_path)
    assert "ValueError: the value is bad. The partial output is in out.ipynb." in message
    assert ".." not in message
    missing = tmp_path / "missing.ipynb"
    for text in ("Kernel died before replying to kernel_info.", "ends in three..."):
        message = run.failure_message(notebook, missing, tmp_path, {"error": "E", "message": text})
        assert message.endswith(".") and ".." not in message, message


@pytest.fixture
def helpers_lab(plain_lab: Path) -> Path:
    """``plain_lab`` with a notebook that defines HELPERS (what ``scaffold extract`` moves)."""
    project = plain_lab
    write_notebook(
        project / "notebooks" / "1.0-ab-explore.ipynb",
        [cell("import math\n\n" + HELPERS + "\nvalues = [scale(v) for v in (1, 4, 9)]", "helpers")],
    )
    return project


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with its link target or content, for "nothing changed"."""
    seen = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            seen[key] = "-> " + os.readlink(path)
        elif path.is_file():
            seen[key] = path.read_bytes().hex()
        else:
            seen[key] = "dir"
    return seen


def test_extracts_refusal_keeps_a_dangling_link(helpers_lab: Path, tmp_path: Path):
    link = helpers_lab / "src" / "lab" / "linked.py"
    link.symlink_to(tmp_path / "elsewhere" / "missing.py")
    before = snapshot(helpers_lab)
    result = scaffold_in_process(
        "extract", "clean", "scale", "--to", "linked", cwd=helpers_lab, check=False
    )
    assert result.returncode == 1
    assert "outside the project" in result.stderr
    assert os.path.lexists(link) and os.readlink(link) == str(tmp_path / "elsewhere" / "missing.py")
    assert snapshot(helpers_lab) == before


def _executed_copy(lab: Path) -> str:
    """A successful executed copy of the lab's notebook in reports/; its stem."""
    stem = "1.0-ab-explore"
    (lab / "reports").mkdir(exist_ok=True)
    write_notebook(lab / "reports" / f"{stem}.ipynb", [cell("x = 1", "one")])
    return stem


@pytest.mark.parametrize("execute", [False, True])
def test_report_refuses_a_folder_where_the_report_goes(helpers_lab: Path, execute: bool):
    stem = _executed_copy(helpers_lab)
    folder = helpers_lab / "reports" / f"{stem}.html"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    before = snapshot(helpers_lab)
    extra = ["--execute"] if execute else []
    result = scaffold_in_process("report", stem, *extra, cwd=helpers_lab, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: reports/{stem}.html is a folder; move it away (scaffold report writes a file "
        "there and never removes a folder).\n"
    )
    assert snapshot(helpers_lab) == before


def test_report_refuses_a_reports_link_out_of_the_project(helpers_lab: Path, tmp_path: Path):
    stem = _executed_copy(helpers_lab)
    outside = tmp_path / "outside"
    (helpers_lab / "reports").rename(outside)
    (helpers_lab / "reports").symlink_to(outside)
    before, before_outside = snapshot(helpers_lab), snapshot(outside)
    result = scaffold_in_process("report", stem, cwd=helpers_lab, check=False)
    assert result.returncode == 1
    assert "outside the project (a symbolic link); scaffold writes only inside" in result.stderr
    assert snapshot(helpers_lab) == before and snapshot(outside) == before_outside
    # the report file itself as a link out of the project
    (helpers_lab / "reports").unlink()
    outside.rename(helpers_lab / "reports")
    (helpers_lab / "reports" / f"{stem}.html").symlink_to(tmp_path / "stolen.html")
    result = scaffold_in_process("report", stem, cwd=helpers_lab, check=False)
    assert result.returncode == 1 and "outside the project" in result.stderr
    assert not (tmp_path / "stolen.html").exists()


def _scaffold(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command with a time limit: a hang (a FIFO opened for reading) fails the test."""
    return subprocess.run(
        [sys.executable, "-m", "scaffold", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "XDG_CACHE_HOME": str(cwd / ".cache-for-test")},
    )


def _hostile(lab: Path, outside: Path) -> None:
    """One of each hostile notebook beside the lab's good one."""
    notebooks = lab / "notebooks"
    long_line = "s = " + "+".join(["1"] * 200_000)  # a 400 kB line, 200,000 terms
    write_notebook(notebooks / "1.1-ab-huge.ipynb", [cell(long_line, "huge")])
    deep = '{"cells": [], "nbformat": 4, "metadata": {"x": ' + "[" * 200_000 + "]" * 200_000 + "}}"
    (notebooks / "1.2-ab-deep.ipynb").write_text(deep)
    os.mkfifo(notebooks / "1.3-ab-fifo.ipynb")
    outside.mkdir()
    write_notebook(outside / "secret.ipynb", [cell("token = 'outside'", "secret")])
    (notebooks / "1.4-ab-linked.ipynb").symlink_to(outside / "secret.ipynb")


def test_check_reports_each_hostile_notebook_and_checks_the_rest(helpers_lab: Path, tmp_path: Path):
    _hostile(helpers_lab, tmp_path / "outside")
    result = _scaffold("check", "--format", "json", cwd=helpers_lab)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["notebooks"] == 6
    by_path = {}
    for finding in report["findings"]:
        by_path.setdefault(finding["path"], []).append((finding["code"], finding["message"]))
    assert ("NB104", "cell is nested too deeply (or has too long an expression) for Python's "
            "parser; split it") in by_path["notebooks/1.1-ab-huge.ipynb"]  # fmt: skip
    assert by_path["notebooks/1.2-ab-deep.ipynb"] == [
        (
            "NB101",
            "notebooks/1.2-ab-deep.ipynb is JSON nested too deeply to read; restore it from git",
        )
    ]
    assert by_path["notebooks/1.3-ab-fifo.ipynb"] == [
        ("NB101", "notebooks/1.3-ab-fifo.ipynb is not a regular file (a FIFO or a device?); "
         "only files are read")
    ]  # fmt: skip
    assert by_path["notebooks/1.4-ab-linked.ipynb"] == [
        ("NB101", "notebooks/1.4-ab-linked.ipynb leads outside the project (a symbolic link); "
         "not read")
    ]  # fmt: skip
    assert "token" not in result.stdout
    human = _scaffold("check", cwd=helpers_lab)
    assert human.returncode == 1 and "Traceback" not in human.stderr
    assert "6 notebooks checked" in human.stdout


def test_extract_and_promote_refuse_hostile_notebooks_in_one_sentence(
    helpers_lab: Path, tmp_path: Path
):
    _hostile(helpers_lab, tmp_path / "outside")
    (helpers_lab / "notebooks" / "1.2-ab-deep.ipynb").unlink()
    before = snapshot(helpers_lab)
    dry = _scaffold("extract", "clean", "scale", "--dry-run", cwd=helpers_lab)
    assert dry.returncode == 1 and "Traceback" not in dry.stderr, dry.stderr
    assert dry.stderr == (
        "error: notebooks/1.3-ab-fifo.ipynb is not a regular file (a FIFO or a device?); "
        "remove it.\n"
    )
    (helpers_lab / "notebooks" / "1.3-ab-fifo.ipynb").unlink()
    dry = _scaffold("extract", "clean", "scale", "--dry-run", cwd=helpers_lab)
    assert dry.returncode == 0, dry.stderr  # the huge cell is skipped, as check reports it
    assert "src/lab/utils.py" in dry.stdout or "create src/lab/" in dry.stdout
    deep = helpers_lab / "notebooks" / "1.2-ab-deep.ipynb"
    deep.write_text('{"cells": ' + "[" * 200_000 + "]" * 200_000 + "}")
    dry = _scaffold("extract", "clean", "scale", "--dry-run", cwd=helpers_lab)
    assert dry.returncode == 1 and dry.stderr == (
        "error: notebooks/1.2-ab-deep.ipynb is JSON nested too deeply to read; restore it.\n"
    )
    promoted = _scaffold("promote", "1.2", "--no-run", cwd=helpers_lab)
    assert promoted.returncode == 1 and "Traceback" not in promoted.stderr
    assert (
        promoted.stderr
        == "error: notebooks/1.2-ab-deep.ipynb is not valid JSON; restore it from git.\n"
    )
    deep.write_text('{"cells": {"0": {}}, "nbformat": 4, "metadata": {}}')
    promoted = _scaffold("promote", "1.2", "--no-run", cwd=helpers_lab)
    assert promoted.stderr == (
        "error: notebooks/1.2-ab-deep.ipynb is not a Jupyter notebook (no list of cells); fix it.\n"
    )
    promoted = _scaffold("promote", "1.1", "--no-run", cwd=helpers_lab)
    assert promoted.returncode in (0, 1) and "Traceback" not in promoted.stderr, promoted.stderr
    deep.unlink()
    assert {k for k in snapshot(helpers_lab) if not k.startswith(".cache")} >= set(before) - {
        "notebooks/1.2-ab-deep.ipynb",
        "notebooks/1.3-ab-fifo.ipynb",
    }


def test_a_deep_pyproject_is_a_configuration_error(helpers_lab: Path):
    pyproject = helpers_lab / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + "\n[tool.deep]\nx = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n"
    )
    result = _scaffold("check", cwd=helpers_lab)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "error: pyproject.toml is nested too deeply to read; fix it.\n"


def test_update_refuses_while_a_merge_is_in_progress(v1_project: Path):
    project = v1_project
    git("checkout", "--quiet", "-b", "side", cwd=project)
    (project / "NOTES.md").write_text("same\n")
    git("add", "NOTES.md", cwd=project)
    git("commit", "--quiet", "-m", "notes on side", cwd=project)
    git("checkout", "--quiet", "-", cwd=project)
    (project / "NOTES.md").write_text("same\n")
    git("add", "NOTES.md", cwd=project)
    git("commit", "--quiet", "-m", "notes on main", cwd=project)
    git("merge", "--quiet", "--no-ff", "--no-commit", "side", cwd=project)
    assert git("status", "--porcelain", cwd=project) == ""  # a clean tree, mid-merge
    head = git("rev-parse", "HEAD", cwd=project)
    before = snapshot(project)
    result = scaffold_in_process("update", "--trust", cwd=project, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        "error: the project's repository is in the middle of a merge (MERGE_HEAD); finish or "
        "abort it first (git status says how), then update.\n"
    )
    assert snapshot(project) == before and git("rev-parse", "HEAD", cwd=project) == head
