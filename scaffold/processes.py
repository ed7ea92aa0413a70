"""Running other programs: the one helper for every process scaffold starts.

As pre-commit's ``cmd_output_b``: a bare program name is looked up beside the running
interpreter first (an isolated install such as pipx or a venv carries its own ``dvc``), then on
``PATH``; the output is captured as bytes; a failure becomes one ``ScaffoldError`` sentence
naming the command and its last line of output. ``git`` is the git wrapper on top of it.

hooks/processes.py is its standard-library twin for the post-generation program, which runs
without scaffold (under plain cookiecutter, cruft or copier).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold.errors import ScaffoldError, describe_os_error

GIT_MISSING = "scaffold reads template versions and merges updates with git: install it"
_PREFIXES = ("fatal: ", "error: ")
_SUBCOMMANDS = ("git", "dvc", "pre-commit", "uv", "pip")  # programs named with their command


@dataclass(frozen=True)
class Completed:
    """A finished process: its exit status and captured output (bytes)."""

    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """True when the program exited with status 0."""
        return self.returncode == 0

    @property
    def text(self) -> str:
        """Standard output as text (bytes that are not UTF-8 survive a round trip)."""
        return self.stdout.decode("utf-8", "surrogateescape")

    @property
    def message(self) -> str:
        """The last line the program printed (stderr, else stdout), for a sentence:
        without ``fatal:`` / ``error:`` and a final full stop."""
        for stream in (self.stderr, self.stdout):
            lines = stream.decode("utf-8", "replace").strip().splitlines()
            if lines:
                line = lines[-1].strip()
                for prefix in _PREFIXES:
                    line = line.removeprefix(prefix)
                return line.rstrip(".")
        return "no output"


def find_tool(name: str) -> str | None:
    """The executable ``name``: beside the running interpreter first, then on ``PATH``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    input: bytes | str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
    why: str = "install it and retry",
) -> Completed:
    """Run ``args`` and capture its output; ``env`` adds to this process's environment.

    Raises ScaffoldError, one sentence, when the program is missing (``<name> is not
    installed; <why>.``), cannot start, runs longer than ``timeout`` seconds, or, with
    ``check``, exits non-zero (``\\`git clone\\` failed in <cwd>: <last line>.``).
    """
    program = args[0]
    if os.sep not in program:
        found = find_tool(program)
        if found is None:
            raise ScaffoldError(f"{program} is not installed; {why}.")
        program = found
    data = input.encode("utf-8", "surrogateescape") if isinstance(input, str) else input
    try:
        completed = subprocess.run(
            [program, *args[1:]],
            cwd=cwd,
            input=data,
            capture_output=True,
            env={**os.environ, **env} if env else None,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ScaffoldError(
            f"`{command_name(args)}` did not finish within {timeout:g} s."
        ) from None
    except OSError as error:
        raise ScaffoldError(describe_os_error(error)) from None
    result = Completed(tuple(args), completed.returncode, completed.stdout, completed.stderr)
    if check and not result.ok:
        where = f" in {cwd}" if cwd is not None else ""
        raise ScaffoldError(f"`{command_name(args)}` failed{where}: {result.message}.")
    return result


def command_name(args: Sequence[str]) -> str:
    """How a sentence names a command: ``git clone``, ``dvc add``, else the program."""
    name = Path(args[0]).name
    if name not in _SUBCOMMANDS:
        return name
    value_options = {"-c", "-C", "--git-dir", "--work-tree"}
    words = iter(args[1:])
    for word in words:
        if word in value_options:
            next(words, None)
        elif not word.startswith("-"):
            return f"{name} {word}"
    return name


def git_program() -> str:
    """The git executable, found as ``run`` finds programs; ScaffoldError when it is missing."""
    found = find_tool("git")
    if found is None:
        raise ScaffoldError(f"git is not installed; {GIT_MISSING}.")
    return found


def git(
    *args: str,
    cwd: Path | None = None,
    input: bytes | str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
) -> Completed:
    """Run git, never stopping to ask for a password (it fails with git's message instead)."""
    return run(
        ["git", *args],
        cwd=cwd,
        input=input,
        env={"GIT_TERMINAL_PROMPT": "0", **(env or {})},
        check=check,
        timeout=timeout,
        why=GIT_MISSING,
    )


def git_out(*args: str, cwd: Path | None = None) -> str:
    """git's standard output, stripped; ScaffoldError when it fails."""
    return git(*args, cwd=cwd).text.strip()
