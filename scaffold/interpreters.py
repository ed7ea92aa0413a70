"""Which Python runs a project's notebooks: the PROJECT's environment, never scaffold's.

scaffold never imports papermill or the project's code: it finds the project's interpreter
(``find_interpreter``) and runs papermill there as a subprocess, so the kernel has the
project's dependencies even when scaffold itself is an isolated tool (pipx, uv tool).

Where the interpreter comes from, first match wins:

1. ``--python PATH``;
2. the project's own ``.venv`` (``make create_environment`` with pip, uv, virtualenv, poetry
   or pipenv); then, for a project with a ``Pipfile``, the environment pipenv keeps for it
   outside the project (``$WORKON_HOME``, else ``~/.local/share/virtualenvs/<name>-<hash>``);
3. a conda env named after the project (``make create_environment`` with conda);
4. the activated virtualenv (``$VIRTUAL_ENV``);
5. the activated conda env (``$CONDA_PREFIX``), unless it is conda's ``base``;
6. the activated conda ``base`` env;
7. ``python3`` (or ``python``) on ``PATH``.

The project's own environment wins over an activated one: the activated env is often
another tool's (scaffold's own venv, say), and a pipeline must run where the project is
installed.

The chosen interpreter must have papermill and ipykernel, and the project's package
installed; otherwise ``scaffold run`` stops and says what to install where.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold import processes
from scaffold.errors import ScaffoldError
from scaffold.layout import find_package
from scaffold.project import Project

RUNTIME = ("papermill", "ipykernel")


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs papermill and the kernel."""

    python: Path  # as found (not resolved: a venv's python is a symlink that must stay one)
    origin: str  # where it came from, for the user

    @property
    def bin_dir(self) -> Path:
        """The folder of its scripts (papermill, dvc)."""
        return self.python.parent

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment variables that activate this interpreter's environment."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", "")])
        prefix = self.bin_dir.parent
        if (prefix / "pyvenv.cfg").is_file():
            env["VIRTUAL_ENV"] = str(prefix)
        # The kernel: the environment's own `python3` kernelspec before any user-level one.
        env["JUPYTER_PREFER_ENV_PATH"] = "1"
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env


def _python_in(prefix: Path) -> Path | None:
    for candidate in (
        prefix / "bin" / "python",
        prefix / "bin" / "python3",
        prefix / "Scripts" / "python.exe",
        prefix / "python.exe",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _pipenv_prefix(pipfile: Path, environ: Mapping[str, str]) -> Path:
    """Where pipenv keeps the environment of ``pipfile`` when it is not in the project: its
    folder name sanitized, then 8 characters of the Pipfile path's hash (pipenv's own rule)."""
    import base64
    import hashlib

    if environ.get("WORKON_HOME"):
        home = Path(environ["WORKON_HOME"]).expanduser()
    else:
        home = Path(environ.get("XDG_DATA_HOME") or "~/.local/share").expanduser() / "virtualenvs"
    name = re.sub(r'[ &$`!*@"()\[\]\\\r\n\t]', "_", pipfile.parent.name)[:42]
    digest = base64.urlsafe_b64encode(hashlib.sha256(str(pipfile).encode()).digest()[:6])
    return home / f"{name}-{digest.decode()[:8]}"


def candidate_environments(project: Project, environ: Mapping[str, str]) -> list[tuple[str, Path]]:
    """``(origin, prefix)`` of the environments to try, in order (see the module docstring)."""
    found: list[tuple[str, Path]] = [("the project's .venv", project.root / ".venv")]
    pipfile = project.root / "Pipfile"
    if pipfile.is_file():
        found.append(("pipenv's environment for the Pipfile", _pipenv_prefix(pipfile, environ)))
    conda_prefix = environ.get("CONDA_PREFIX", "")
    conda_name = environ.get("CONDA_DEFAULT_ENV", "") or Path(conda_prefix).name
    is_base = bool(conda_prefix) and (
        conda_name == "base" or (Path(conda_prefix) / "condabin").is_dir()
    )
    name = project.answers.get("repo_name") or project.root.name
    conda_roots = []
    if environ.get("CONDA_EXE"):
        conda_roots.append(Path(environ["CONDA_EXE"]).parent.parent)
    if is_base:
        conda_roots.append(Path(conda_prefix))
    for conda_root in conda_roots:
        found.append((f"the conda env {name!r}", conda_root / "envs" / name))
    if environ.get("VIRTUAL_ENV"):
        found.append(("the activated virtualenv ($VIRTUAL_ENV)", Path(environ["VIRTUAL_ENV"])))
    if conda_prefix and not is_base:
        found.append((f"the activated conda env {conda_name!r}", Path(conda_prefix)))
    if is_base:
        found.append(("the activated conda base env", Path(conda_prefix)))
    return found


def find_interpreter(
    project: Project, explicit: Path | None = None, environ: Mapping[str, str] | None = None
) -> Interpreter:
    """The project's interpreter (first match of the order in the module docstring)."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        if explicit.is_dir():
            python = _python_in(explicit)
            if python is None:
                raise ScaffoldError(f"--python {explicit}: no Python interpreter in that folder.")
            return Interpreter(python.absolute(), "--python")
        if not (explicit.is_file() and os.access(explicit, os.X_OK)):
            raise ScaffoldError(f"--python {explicit}: no such executable.")
        return Interpreter(explicit.absolute(), "--python")
    for origin, prefix in candidate_environments(project, environ):
        python = _python_in(prefix)
        if python is not None:
            return Interpreter(python.absolute(), origin)
    for name in ("python3", "python"):
        on_path = shutil.which(name, path=environ.get("PATH"))
        if on_path:
            return Interpreter(Path(on_path), f"{name} on PATH (no project environment found)")
    raise ScaffoldError(
        "no Python environment found for this project (no activated virtualenv or conda env, "
        "no .venv in the project, no python3 on PATH); create one (make create_environment "
        "&& make requirements) or pass --python PATH."
    )


def check_interpreter(
    interpreter: Interpreter,
    project: Project,
    needs: Sequence[str] = RUNTIME,
    extras: str = "dev",
) -> None:
    """Refuse an interpreter that lacks ``needs`` or the project's package; the message
    says to install the project with ``extras`` (e.g. ``dev,cluster``)."""
    package = find_package(project)
    wanted = [*needs, *([package.name] if package else [])]
    probe = (
        "import importlib.util, sys; "
        f"print(' '.join(m for m in {wanted!r} if importlib.util.find_spec(m) is None))"
    )
    result = processes.run(
        [str(interpreter.python), "-c", probe],
        cwd=Path(tempfile.gettempdir()),  # not the project: only what is installed counts
        check=False,
        timeout=60,
    )
    if not result.ok:
        raise ScaffoldError(f"{interpreter.python} does not run: {result.message}.")
    missing = result.text.split()
    if not missing:
        return
    what = ", ".join(missing)
    if interpreter.origin.startswith(("python3 on PATH", "python on PATH")):
        raise ScaffoldError(
            f"no project environment found (no activated virtualenv or conda env, no .venv "
            f"in the project), and {interpreter.python} lacks {what}; create one (make "
            "create_environment && make requirements) or pass --python PATH."
        )
    other = "" if interpreter.origin == "--python" else ", or pass --python PATH"
    raise ScaffoldError(
        f"{interpreter.python} ({interpreter.origin}) lacks {what}; install the project "
        f"with its {extras} extras there (make requirements, or pip install -e '.[{extras}]')"
        f"{other}."
    )
