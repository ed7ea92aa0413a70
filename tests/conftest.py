"""Shared fixtures: an isolated home and git identity, the template as a local git repo, and
helpers to run scaffold and cookiecutter the way users do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_REPO_FILES = ("cookiecutter.json", "copier.yml", "template", "hooks")
BIN = Path(sys.executable).parent
# One wheel cache for every generated project's venv (outlives the per-test HOME).
UV_CACHE_DIR = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")


def git(*args: str, cwd: Path) -> str:
    """Run git and return its stripped stdout (fails the test on error)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A fresh HOME and git config with an identity; nothing of the developer's leaks in."""
    return isolate(monkeypatch, tmp_path_factory)


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point ``monkeypatch``'s environment at a fresh HOME (see ``isolated_home``)."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "EMAIL",
        "VIRTUAL_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UV_CACHE_DIR", UV_CACHE_DIR)
    # pre-commit's hook environments are expensive to build: share them across tests.
    # Under pytest-xdist each worker has its own basetemp; their common parent is shared
    # (pre-commit locks its store, so workers can build environments side by side).
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    monkeypatch.setenv("PRE_COMMIT_HOME", str(shared / "pre-commit-cache"))
    return home


@contextmanager
def isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``isolated_home``'s environment for module and session fixtures (built outside it)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield isolate(monkeypatch, tmp_path_factory)


def new_project(
    tmp_path_factory: pytest.TempPathFactory,
    folder: str,
    name: str,
    *flags: str,
    extras: str | None = "dev",
) -> Path:
    """``scaffold new NAME --no-input --no-pre-commit FLAGS`` in a fresh folder, in an
    isolated HOME, with its .venv (the project and ``extras``) unless ``extras`` is None:
    the project of a module or session fixture."""
    base = tmp_path_factory.mktemp(folder)
    with isolated_environment(tmp_path_factory):
        run_scaffold("new", name, "--no-input", "--no-pre-commit", *flags, cwd=base)
        project = base / name.lower().replace(" ", "-")
        if extras is not None:
            project_venv(project, extras)
    return project


def copy_project(source: Path, destination: Path) -> Path:
    """A copy of a generated project (git and DVC folders included) for a test to change."""
    shutil.copytree(source, destination, symlinks=True)
    return destination


def fixture_git(*args: str, cwd: Path) -> None:
    """git for fixtures: a fixed identity, no user or system config (session fixtures are
    built outside ``isolated_home``)."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "tag.gpgSign=false"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, env=env)


def copy_template_repo(repo: Path) -> Path:
    """The template repo (working tree, uncommitted edits included) as a new local git repo
    at ``repo``, with one commit."""
    repo.mkdir(parents=True)
    for name in TEMPLATE_REPO_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, repo / name)
    fixture_git("init", "--quiet", "--initial-branch=main", cwd=repo)
    fixture_git("add", "--all", cwd=repo)
    # The generated project's .gitignore (data/**) also applies inside the template repo;
    # the data/ placeholders are tracked in ours, so track them here as a clone would.
    fixture_git(
        "add",
        "--force",
        *(str(p.relative_to(repo)) for p in repo.glob("template/*/data/*/.gitkeep")),
        cwd=repo,
    )
    fixture_git("commit", "--quiet", "--no-gpg-sign", "-m", "v", cwd=repo)
    return repo


@pytest.fixture(scope="session")
def template_git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template repo (working tree, uncommitted edits included) as a local git repo."""
    return copy_template_repo(tmp_path_factory.mktemp("upstream") / "scaffold-template.git")


def project_venv(project: Path, extras: str = "dev") -> Path:
    """Create ``project/.venv`` with the project and its ``extras`` installed; return its python.

    uv with the shared cache makes this a few seconds once the wheels are cached.
    """
    venv = project / ".venv"
    uv = [sys.executable, "-m", "uv"]
    env = {**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR, "VIRTUAL_ENV": str(venv)}
    subprocess.run(
        [*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env
    )
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-e",
            f"{project}[{extras}]",
        ],
        check=True,
        env=env,
        cwd=project,
    )
    return venv / "bin" / "python"


def run_scaffold(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real ``scaffold`` command (as a separate process, as users do)."""
    result = subprocess.run(
        [sys.executable, "-m", "scaffold", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"scaffold {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def scaffold_in_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run scaffold's command line in this process (typer's CliRunner): the interface and
    result of ``run_scaffold`` without starting Python, for rules and refusals.

    An exception scaffold does not turn into an exit code fails the test with its traceback
    (the real entry point would print exit 3's short report instead; tests of that, of
    signals and of the process itself use ``run_scaffold``). Output of the programs scaffold
    starts is not captured, only scaffold's own.
    """
    from typer.testing import CliRunner

    from scaffold.cli import app

    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        os.chdir(before)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    completed = subprocess.CompletedProcess(
        ["scaffold", *args], result.exit_code, result.stdout, result.stderr
    )
    if check and completed.returncode != 0:
        raise AssertionError(f"scaffold {args} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed


def run_cookiecutter(
    *args: str,
    cwd: Path,
    check: bool = True,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run plain cookiecutter (its own CLI, nothing of scaffold imported)."""
    result = subprocess.run(
        [python, "-m", "cookiecutter", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"cookiecutter {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (``.git`` internals excluded) with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not _volatile(path.relative_to(root).parts)
    }


def _volatile(parts: tuple[str, ...]) -> bool:
    # git internals and DVC's scratch folder differ between any two runs
    return ".git" in parts or parts[:2] == (".dvc", "tmp")


def listing(root: Path) -> list[str]:
    """Every path under root, for "nothing changed" checks."""
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*"))


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """An empty folder to create projects in."""
    folder = tmp_path / "work"
    folder.mkdir()
    yield folder
