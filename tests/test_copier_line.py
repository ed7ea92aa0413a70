"""The copier line our README prints works as printed, with only what it installs.

`copier copy` in an environment with copier alone stops with `No module named
'copier_template_extensions'`; every copier line we print brings what the template needs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO_ROOT, UV_CACHE_DIR

NEEDS = ("--with copier-template-extensions", "--with cookiecutter")
PRINTED = ("README.md", "docs/getting-started.md", "docs/index.md", "docs/updating.md")


def copier_lines(path: Path) -> list[str]:
    """The copier commands of a document (shell lines and inline code), comments dropped."""
    text = path.read_text(encoding="utf-8")
    found = re.findall(r"`([^`\n]*\bcopier (?:copy|update|recopy)\b[^`\n]*)`", text)
    found += re.findall(r"(?m)^([^`#\n|]*\bcopier (?:copy|update|recopy)\b[^\n`]*)$", text)
    lines = [line.split("  #")[0].strip() for line in found]
    return [line for line in lines if "--trust" in line]  # commands, not mentions


def test_every_printed_copier_line_brings_the_extensions():
    lines = [(name, line) for name in PRINTED for line in copier_lines(REPO_ROOT / name)]
    assert any(name == "README.md" for name, _ in lines)
    for name, line in lines:
        if line.startswith("copier "):  # after `uv tool install copier --with ...` only
            assert name == "docs/updating.md", line
            continue
        assert all(need in line for need in NEEDS), f"{name}: {line}"


@pytest.mark.slow
def test_the_readmes_copier_line_runs_as_printed(template_git_repo: Path, tmp_path: Path):
    (line,) = [line for line in copier_lines(REPO_ROOT / "README.md") if " copy " in line]
    args = shlex.split(line)
    assert args[0] == "uvx" and "gh:org/scaffold" in args
    args = [str(template_git_repo) if arg == "gh:org/scaffold" else arg for arg in args]
    # Only uv and the system on PATH: copier runs in uvx's environment, nothing of ours.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("uv", "uvx"):
        (tools / tool).symlink_to(BIN / tool)
    env = {
        **os.environ,
        "PATH": f"{tools}:/usr/bin:/bin",
        "UV_CACHE_DIR": UV_CACHE_DIR,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON_PREFERENCE": "only-system",
    }
    env.pop("VIRTUAL_ENV", None)
    made = subprocess.run([*args, "--defaults"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert "No module named" not in made.stderr
    project = tmp_path / "my-project"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(template_git_repo)
    assert answers["project_name"] == "My Project"
    assert (project / "notebooks" / "1.0-yn-initial-data-exploration.ipynb").is_file()
    assert (project / ".git").is_dir()  # the post-generation task ran
