"""Shared fixtures: an isolated home and git identity, the template as a local git repo (and a
v1/v2 version of it), projects rendered once per worker for tests to copy, local mirrors of the
hook repositories, and helpers to run scaffold and cookiecutter the way users do.

Helpers that no fixture needs live in tests/helpers.py; no test module imports another."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
import pytest
from filelock import FileLock
from xdist.scheduler import LoadFileScheduling

from tests.mirrors import build_mirrors, hook_repos, point_git_at_mirrors

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_REPO_FILES = ("cookiecutter.json", "copier.yml", "template", "hooks")
BIN = Path(sys.executable).parent
# One wheel cache for every generated project's venv (outlives the per-test HOME).
UV_CACHE_DIR = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
# The same for the projects whose Makefile installs with pip, poetry or pipenv: their caches
# would otherwise be in the per-test HOME, so every such test downloaded and built anew.
PACKAGE_CACHES = {
    "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"),
    "POETRY_CACHE_DIR": os.environ.get("POETRY_CACHE_DIR")
    or str(Path.home() / ".cache" / "pypoetry"),
    "PIPENV_CACHE_DIR": os.environ.get("PIPENV_CACHE_DIR")
    or str(Path.home() / ".cache" / "pipenv"),
}
# Python caches a module's bytecode beside it when it first imports it. Some machines (this
# suite's CI container among them) turn that off with PYTHONDONTWRITEBYTECODE, and then each of
# the thousands of Python processes the suite starts (scaffold, kernels, hooks, DVC) compiles
# every module it imports again: a fifth of the quick tier's time. Users' machines cache.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


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
    for name, folder in PACKAGE_CACHES.items():
        monkeypatch.setenv(name, folder)
    # pre-commit's hook environments are expensive to build: share them across tests.
    # Under pytest-xdist each worker has its own basetemp; their common parent is shared
    # (pre-commit locks its store, so workers can build environments side by side).
    monkeypatch.setenv("PRE_COMMIT_HOME", str(run_wide(tmp_path_factory) / "pre-commit-cache"))
    return home


def run_wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every pytest-xdist worker of this run shares: the common parent of their
    basetemps (the basetemp itself without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def kept_signal_state() -> Iterator[None]:
    """Put this process's SIGINT/SIGTERM/SIGHUP handlers and signal mask back afterwards:
    the programs started later inherit them (a worker once had SIGINT ignored, and a hook
    under test never saw Ctrl-C)."""
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    handlers = {signum: signal.getsignal(signum) for signum in signals}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            if handler is not None and signal.getsignal(signum) is not handler:
                signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@pytest.fixture(autouse=True)
def signal_state() -> Iterator[None]:
    """Every test's signal state, put back after it (``kept_signal_state``)."""
    with kept_signal_state():
        yield


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
    """``scaffold new NAME --no-input --no-pre-commit FLAGS`` (in this process) in a fresh
    folder, in an isolated HOME, with its .venv (the project and ``extras``) unless ``extras``
    is None: the project of a module or session fixture."""
    base = tmp_path_factory.mktemp(folder)
    with isolated_environment(tmp_path_factory):
        scaffold_in_process("new", name, "--no-input", "--no-pre-commit", *flags, cwd=base)
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


# -- projects rendered once per worker, for tests to copy (never change them) ----------------


@pytest.fixture(scope="session")
def rendered_plain_lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scaffold new Lab`` without git, DVC or hooks (package ``lab``, notebooks by ``yn``),
    rendered once; tests copy it (``plain_lab``)."""
    return new_project(
        tmp_path_factory, "rendered-plain-lab", "Lab", "--no-git", "--no-dvc", extras=None
    )


@pytest.fixture
def plain_lab(rendered_plain_lab: Path, tmp_path: Path) -> Path:
    """A fresh copy of ``rendered_plain_lab`` at ``tmp_path/lab``."""
    return copy_project(rendered_plain_lab, tmp_path / "lab")


@pytest.fixture(scope="session")
def rendered_git_dvc_lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scaffold new Lab`` with git, DVC and its local remote, no hooks, rendered once; tests
    copy it (``git_dvc_lab``)."""
    return new_project(tmp_path_factory, "rendered-git-dvc-lab", "Lab", extras=None)


@pytest.fixture
def git_dvc_lab(rendered_git_dvc_lab: Path, workdir: Path) -> Path:
    """A fresh copy of ``rendered_git_dvc_lab`` at ``workdir/lab``."""
    return copy_project(rendered_git_dvc_lab, workdir / "lab")


# -- the template at v1 and v2, and a project made from v1 (scaffold update) ------------------

PROJECT_FILES = "template/{{ cookiecutter.repo_name }}"


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must occur once) in the file at ``path``."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not (once) in {path}"
    path.write_text(text.replace(old, new))


def add_option(repo: Path, name: str, default: str, prompt: str) -> None:
    """A new question at the end of both option lists (cookiecutter.json and copier.yml)."""
    path = repo / "template" / "cookiecutter.json"
    config = json.loads(path.read_text())
    options = {key: value for key, value in config.items() if not key.startswith("_")}
    private = {key: value for key, value in config.items() if key.startswith("_")}
    private["__prompts__"][name] = prompt
    path.write_text(json.dumps({**options, name: default, **private}, indent=4) + "\n")
    copier = repo / "copier.yml"
    question = (
        f"{name}:\n  type: str\n  help: {prompt}\n  default: {default}\n"
        f"  validator: \"{{{{ scaffold_problem(_copier_answers, '{name}', {name}) }}}}\"\n\n"
    )
    replace_once(copier, "# Derived values", question + "# Derived values")
    replace_once(copier, "'__initials': initials}", f"'{name}': {name}, '__initials': initials}}")


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template repo tagged v1, then v2: v2 adds an option (``team``) and CHANGELOG.md,
    renames the README's "Set up" heading, changes a Makefile line and deletes two files."""
    repo = copy_template_repo(tmp_path_factory.mktemp("versions") / "template")
    fixture_git("tag", "v1", cwd=repo)
    add_option(repo, "team", "data", "Team that owns the project")
    files = repo / PROJECT_FILES
    (files / "CHANGELOG.md").write_text(
        "# Changes in {{ cookiecutter.project_name }} ({{ cookiecutter.team }})\n"
    )
    replace_once(files / "README.md", "\n## Set up\n", "\n## Setup\n")
    replace_once(
        files / "Makefile", "PYTHON_INTERPRETER = python\n", "PYTHON_INTERPRETER = python3\n"
    )
    fixture_git("rm", "--quiet", f"{PROJECT_FILES}/reports/figures/.gitkeep", cwd=repo)
    fixture_git("rm", "--quiet", f"{PROJECT_FILES}/src/{{{{ cookiecutter.module_name }}}}/plots.py",
                cwd=repo)  # fmt: skip
    fixture_git("add", "--all", cwd=repo)
    fixture_git("commit", "--quiet", "--no-gpg-sign", "-m", "v2", cwd=repo)
    fixture_git("tag", "v2", cwd=repo)
    return repo


def make_with_scaffold(source: Path, workdir: Path, ref: str = "v1") -> Path:
    """``scaffold new "My Project"`` from the template repo ``source`` at ``ref`` (no DVC)."""
    scaffold_in_process("new", "My Project", "--no-input", "--template", str(source),
                        "--vcs-ref", ref, "--no-dvc", "--no-pre-commit", cwd=workdir)  # fmt: skip
    return workdir / "my-project"


@pytest.fixture(scope="module")
def made_v1(upstream: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project made by ``make_with_scaffold`` from upstream's v1, for tests to copy."""
    with isolated_environment(tmp_path_factory):
        return make_with_scaffold(upstream, tmp_path_factory.mktemp("made-v1"))


@pytest.fixture
def v1_project(made_v1: Path, workdir: Path) -> Path:
    """A copy of ``made_v1`` at ``workdir/my-project``, as ``make_with_scaffold`` makes it."""
    return copy_project(made_v1, workdir / "my-project")


# -- local mirrors of the hook repositories (pre_commit_hooks=github without GitHub) -----------


@pytest.fixture(scope="session")
def hook_mirrors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Local tagged git mirrors of the template's hook repositories, built once per run by
    the first worker that asks (the others wait on the lock, then read its list)."""
    shared = run_wide(tmp_path_factory)
    root = shared / "hook-mirrors"
    listing = root / "mirrors.json"
    with FileLock(shared / "hook-mirrors.lock"):
        if listing.is_file():
            return {url: Path(path) for url, path in json.loads(listing.read_text()).items()}
        shutil.rmtree(root, ignore_errors=True)  # a build that an earlier worker left unfinished
        root.mkdir()
        template_project = REPO_ROOT / PROJECT_FILES
        template = (template_project / ".pre-commit-config.yaml").read_text(encoding="utf-8")
        config = root / ".pre-commit-config.yaml"
        rendered = jinja2.Template(template).render(cookiecutter={"pre_commit_hooks": "github"})
        config.write_text(rendered)
        mirrors = build_mirrors(hook_repos(config), root)
        listing.write_text(json.dumps({url: str(path) for url, path in mirrors.items()}))
        return mirrors


@pytest.fixture
def offline_hooks(isolated_home: Path, hook_mirrors: dict[str, Path]) -> dict[str, Path]:
    """This test's git clones the hook repositories from the local mirrors."""
    point_git_at_mirrors(isolated_home / ".gitconfig", hook_mirrors)
    return hook_mirrors


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
        # scaffold installs its own handlers; the test's later programs must not inherit them
        with kept_signal_state():
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
    # git internals and DVC's scratch folder differ between any two runs; Python writes its
    # bytecode caches wherever code is imported
    return ".git" in parts or parts[:2] == (".dvc", "tmp") or "__pycache__" in parts


def listing(root: Path) -> list[str]:
    """Every path under root, for "nothing changed" checks (but Python's bytecode caches)."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if "__pycache__" not in path.relative_to(root).parts
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """An empty folder to create projects in."""
    folder = tmp_path / "work"
    folder.mkdir()
    yield folder


# -- how pytest-xdist shares the suite out (pyproject.toml: --dist loadfile) --------------------
#
# loadfile, refined: each test file is one unit of work (one worker builds its module fixtures
# once), except the tests SPLITS names, which share an expensive fixture the rest of their file
# does not need and so run as a unit of their own, beside the rest. The workers order the units
# heaviest first and xdist hands them out in that order (--no-loadscope-reorder), so that no
# long unit starts last and runs alone at the end. (loadgroup would do the grouping with marks,
# but pytest-xdist 3.8 cannot rename pytest 9's node ids, so its groups are silently lost.)
#
# Test file -> (regular expression on the test's name, unit name), first match wins.
SPLITS: dict[str, tuple[tuple[str, str], ...]] = {
    # its two option sets are two projects, each with its own venv and hook environments
    "tests/test_generated_project.py": (
        (r"\[uv-mit-s3-nodocs\]", "tests/test_generated_project.py[uv-mit-s3-nodocs]"),
    ),
}
# Seconds per unit at -n 2 on the shared machine (load 10-13; the quick tier's --junitxml,
# the slow tests' --durations and estimates, 6 December): relative weights only, for the order.
# Units not listed weigh 0 and keep their files' order after the listed ones.
UNIT_SECONDS: dict[str, float] = {
    "tests/test_export.py": 700,
    "tests/test_day_thirty.py": 650,
    "tests/test_update.py": 550,
    "tests/test_spark.py": 450,
    "tests/test_ccds.py": 450,
    "tests/test_remotes.py": 400,
    "tests/test_generated_project.py": 350,
    "tests/test_generated_project.py[uv-mit-s3-nodocs]": 300,
    "tests/test_sharing.py": 350,
    "tests/test_extract.py": 330,
    "tests/test_tool_files.py": 300,
    "tests/test_run.py": 280,
    "tests/test_attack_signals.py": 260,
    "tests/test_adopt.py": 250,
    "tests/test_sweep_local.py": 250,
    "tests/test_wheel_update.py": 250,
    "tests/test_hub.py": 220,
    "tests/test_index_hooks.py": 200,
    "tests/test_check_run.py": 200,
    "tests/test_reliability.py": 200,
    "tests/test_sweep_cluster.py": 200,
    "tests/test_promote.py": 200,
    "tests/test_cookiecutter.py": 200,
    "tests/test_packaging.py": 120,
    "tests/test_graduate.py": 120,
    "tests/test_copier_line.py": 100,
    "tests/test_engines.py": 100,
    "tests/test_new.py": 65,
    "tests/test_lint.py": 55,
    "tests/test_notebooks.py": 43,
    "tests/test_attacks.py": 35,
}


def work_unit(nodeid: str) -> str:
    """The unit of work of the test ``nodeid`` (its file, unless SPLITS says otherwise)."""
    path, _, name = nodeid.partition("::")
    for pattern, unit in SPLITS.get(path, ()):
        if re.search(pattern, name):
            return unit
    return path


class FileUnitScheduling(LoadFileScheduling):
    """loadfile with ``work_unit``'s units."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: a worker per core for the quick tier, which keeps every core busy; one
    more when slow tests run, because they spend a fifth of their time waiting (servers and
    clusters starting, kernels answering, signals settling) with a core idle."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quick_only = (config.getoption("markexpr") or "").split() == ["not", "slow"]
    return (cores or 1) + (0 if quick_only else 1)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    """``--dist loadfile`` shares out ``work_unit``'s units."""
    if config.getvalue("dist") != "loadfile":
        return None
    return FileUnitScheduling(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: the tests of a unit together, the heaviest unit first."""
    if not hasattr(config, "workerinput"):
        return
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(work_unit(item.nodeid), index)

    def order(item: pytest.Item) -> tuple[float, int]:
        unit = work_unit(item.nodeid)
        return -UNIT_SECONDS.get(unit, 0.0), first[unit]

    items.sort(key=order)
