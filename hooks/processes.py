"""Running programs from the hooks (standard library only).

The twin of scaffold/processes.py for the programs of this folder, which run without scaffold
(plain cookiecutter, cruft and copier call them): a program is found beside the running Python
first (an isolated install such as pipx carries its own ``dvc``), then on ``PATH``; a failure
is one exception whose message names the command and carries its output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

FALLBACK_NAME = "scaffold"
FALLBACK_EMAIL = "scaffold@localhost"


class Failed(Exception):
    """A command exited non-zero; the message is ``\\`command\\` failed: output``."""


def find_tool(name: str) -> str | None:
    """Find an executable beside this interpreter first (isolated installs), then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a command (in ``cwd``, default the current folder); return its stripped output;
    raise Failed with its output if it fails."""
    result = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        for marker, advice in _FULL.items():  # scaffold's sentence, not git's raw lines
            if marker in output:
                shown = " ".join([Path(args[0]).name, *args[1:]])
                raise Failed(f"`{shown}` failed: {advice}.")
        raise Failed(f"`{' '.join(args)}` failed: {output}")
    return result.stdout.strip()


# A full disk, as the programs' messages (strerror) say it, and scaffold's advice for it.
_FULL = {
    "No space left on device": "no space left on the device; free some space and retry",
    "Disk quota exceeded": "the disk quota is exceeded; free some space and retry",
}


def output(args: list[str], cwd: Path | None = None) -> str:
    """A command's stripped output, or '' when it fails (for questions such as
    ``git describe``, where "no answer" is an answer)."""
    try:
        return run(args, cwd=cwd)
    except (Failed, OSError):
        return ""


def git_identity(git: str, name: str, email: str, cwd: Path | None = None) -> dict[str, str]:
    """``user.name`` and ``user.email`` to commit with when git knows no identity (empty
    when it does); empty ``name`` or ``email`` fall back to scaffold's own."""
    known = subprocess.run([git, "var", "GIT_COMMITTER_IDENT"], cwd=cwd, capture_output=True)
    if known.returncode == 0:
        return {}
    return {"user.name": name or FALLBACK_NAME, "user.email": email or FALLBACK_EMAIL}


def config_args(settings: dict[str, str]) -> list[str]:
    """``-c key=value`` for each setting, for one git command."""
    return [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
