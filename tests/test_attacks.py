"""Attacks on the newer commands (issue 23), each case in-process where the process does not
matter: messages, CSV injection, hostile notebooks, links, refusals that change nothing.
(Real signals and kernels: tests/test_attack_signals.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scaffold import run
from tests.conftest import copy_project, run_scaffold, scaffold_in_process
from tests.test_extract import HELPERS, cell, write_notebook


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


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("attacks")
    run_scaffold("new", "Lab", "--no-input", "--no-git", "--no-dvc", "--no-pre-commit", cwd=folder)
    return folder / "lab"


@pytest.fixture
def lab(pristine: Path, tmp_path: Path) -> Path:
    project = copy_project(pristine, tmp_path / "lab")
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


def test_extracts_refusal_keeps_a_dangling_link(lab: Path, tmp_path: Path):
    link = lab / "src" / "lab" / "linked.py"
    link.symlink_to(tmp_path / "elsewhere" / "missing.py")
    before = snapshot(lab)
    result = scaffold_in_process(
        "extract", "clean", "scale", "--to", "linked", cwd=lab, check=False
    )
    assert result.returncode == 1
    assert "outside the project" in result.stderr
    assert os.path.lexists(link) and os.readlink(link) == str(tmp_path / "elsewhere" / "missing.py")
    assert snapshot(lab) == before
