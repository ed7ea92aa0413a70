"""The process helpers, in-process: scaffold/processes.py and its stdlib twin hooks/processes.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from scaffold import processes
from scaffold.errors import ScaffoldError
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def twin():
    """hooks/processes.py, loaded as scaffold loads the hooks."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "hooks_processes", REPO_ROOT / "hooks" / "processes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_output_is_captured_as_bytes_and_text(tmp_path: Path):
    result = processes.run([sys.executable, "-c", "print('caf\\u00e9')"], cwd=tmp_path)
    assert result.ok and result.stdout == "café\n".encode() and result.text == "café\n"


def test_a_failure_is_one_sentence_naming_the_command_and_its_last_line(tmp_path: Path):
    with pytest.raises(ScaffoldError) as raised:
        processes.git("rev-parse", "--show-toplevel", cwd=tmp_path)
    message = str(raised.value)
    assert message.startswith(f"`git rev-parse` failed in {tmp_path}: not a git repository")
    assert message.endswith(".") and "\n" not in message and "fatal:" not in message


def test_without_check_the_status_is_returned(tmp_path: Path):
    result = processes.run([sys.executable, "-c", "import sys; sys.exit(3)"], check=False)
    assert result.returncode == 3 and not result.ok and result.message == "no output"


def test_a_missing_program_is_named_with_what_to_do():
    with pytest.raises(ScaffoldError, match=r"^no-such-tool-x is not installed; install it"):
        processes.run(["no-such-tool-x", "--version"])


def test_a_timeout_is_one_sentence():
    with pytest.raises(ScaffoldError, match=r"did not finish within 0.5 s\.$"):
        processes.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_input_reaches_the_program_and_env_adds_to_the_environment():
    script = "import os, sys; print(sys.stdin.read() + os.environ['SCAFFOLD_T'])"
    result = processes.run([sys.executable, "-c", script], input="in-", env={"SCAFFOLD_T": "env"})
    assert result.text == "in-env\n" and "PATH" in os.environ


def test_tools_beside_the_interpreter_come_first(tmp_path: Path, monkeypatch, twin):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "git"
    tool.write_text("#!/bin/sh\necho beside\n")
    tool.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    assert processes.find_tool("git") == str(tool)
    assert twin.find_tool("git") == str(tool)
    assert processes.git_out("--version") == "beside"
    (bin_dir / "git").unlink()
    assert processes.find_tool("git") not in (None, str(tool))  # then PATH


def test_command_names_skip_options_and_their_values():
    assert processes.command_name(["git", "-c", "a=b", "--git-dir", "x", "commit", "-m", "m"]) == (
        "git commit"
    )
    assert processes.command_name(["/usr/bin/python3", "-c", "pass"]) == "python3"


def test_the_twin_fails_with_the_command_and_its_output(twin, tmp_path: Path):
    with pytest.raises(twin.Failed, match=r"^`git rev-parse --show-toplevel` failed: fatal: not"):
        twin.run(["git", "rev-parse", "--show-toplevel"], cwd=tmp_path)
    assert twin.output(["git", "rev-parse", "--show-toplevel"], cwd=tmp_path) == ""
    assert twin.run(["git", "--version"]).startswith("git version")


def test_the_twin_gives_an_identity_only_when_git_has_none(twin, tmp_path: Path, monkeypatch):
    git = processes.find_tool("git")
    assert twin.git_identity(git, "Ada", "ada@example.com") == {}  # the test identity
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    identity = twin.git_identity(git, "", "ada@example.com")
    assert identity == {"user.name": "scaffold", "user.email": "ada@example.com"}
    assert twin.config_args(identity) == [
        "-c",
        "user.name=scaffold",
        "-c",
        "user.email=ada@example.com",
    ]
