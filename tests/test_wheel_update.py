"""The normal user path: projects made by an installed scaffold wheel, then `pip install -U
nbscaffold`, then `scaffold update`, with no network.

Two wheels are built from copies of this repository, 0.1.0 and 0.2.0 (the newer with a template
change), and installed in turn in one venv, as pip or pipx would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_FILES, REPO_ROOT, UV_CACHE_DIR, git, replace_once

pytestmark = pytest.mark.slow

BUILD_FILES = ("pyproject.toml", "README.md", "scaffold", *("cookiecutter.json", "copier.yml"),
               "template", "hooks")  # fmt: skip
CONFLICT = "<<<<<<< before updating\n## Installation\n=======\n## Setup\n>>>>>>> after updating\n"
# No network: pip may only read the local wheel folder, and any HTTP goes nowhere.
OFFLINE = {"PIP_NO_INDEX": "1", "http_proxy": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "UV_OFFLINE": "1"}  # fmt: skip


def build_wheel(
    version: str, into: Path, work: Path, change_template: bool, legacy: bool = False
) -> Path:
    """A wheel of this repository at ``version``; ``legacy``: one that records the packaged
    template as releases before the rename to nbscaffold did (``pypi:scaffold``)."""
    source = work / f"scaffold-{version}{'-legacy' if legacy else ''}"
    source.mkdir()
    for name in BUILD_FILES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    init = source / "scaffold" / "__init__.py"
    versioned = re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', init.read_text())
    init.write_text(versioned)
    if legacy:
        replace_once(source / "scaffold" / "sources.py", 'PACKAGED = f"pypi:{DISTRIBUTION}"',
                     'PACKAGED = "pypi:scaffold"')  # fmt: skip
    if change_template:
        files = source / PROJECT_FILES
        replace_once(files / "README.md", "\n## Set up\n", "\n## Setup\n")
        replace_once(files / "Makefile", "PYTHON_INTERPRETER = python\n",
                     "PYTHON_INTERPRETER = python3\n")  # fmt: skip
        (files / "CHANGELOG.md").write_text("# Changes in {{ cookiecutter.project_name }}\n")
    subprocess.run(
        [sys.executable, "-m", "uv", "build", "--wheel", "--quiet", "--out-dir", str(into),
         str(source)],
        check=True, env={**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR},
    )  # fmt: skip
    (built,) = into.glob(f"nbscaffold-{version}-*.whl")
    return built


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scaffold 0.1.0 and 0.2.0 wheels in one folder (a local package index)."""
    into, work = tmp_path_factory.mktemp("wheels"), tmp_path_factory.mktemp("wheel-src")
    return {
        "0.1.0": build_wheel("0.1.0", into, work, change_template=False),
        "0.2.0": build_wheel("0.2.0", into, work, change_template=True),
    }


def install(venv: Path, wheel: Path) -> None:
    uv = [sys.executable, "-m", "uv"]
    env = {**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR}
    if not venv.exists():  # --seed: pip is in the venv, as in pipx's
        subprocess.run([*uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)],
                       check=True, env=env)  # fmt: skip
    subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                    str(wheel)], check=True, env=env)  # fmt: skip


def scaffold(venv: Path, *args: str, cwd: Path, env: dict[str, str] | None = None):
    # Like `pipx install`: only the scaffold entry point is on PATH, not dvc or pre-commit.
    return subprocess.run(
        [str(venv / "bin" / "scaffold"), *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, "PATH": "/usr/bin:/bin", **(env or {})}, check=False,
    )  # fmt: skip


def answers(project: Path) -> dict[str, str]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))


def test_an_upgraded_wheel_updates_a_project_of_the_older_one_offline(
    wheels: dict[str, Path], tmp_path: Path, workdir: Path
):
    venv = tmp_path / "tool"
    install(venv, wheels["0.1.0"])
    made = scaffold(venv, "new", "Wheel Lab", "--no-input", "--set", "description=Rocket 🚀",
                    cwd=workdir)  # fmt: skip
    assert made.returncode == 0, made.stderr
    project = workdir / "wheel-lab"
    recorded = answers(project)
    assert (recorded["_src_path"], recorded["_commit"]) == ("pypi:nbscaffold", "v0.1.0")
    assert recorded["description"] == "Rocket 🚀"
    assert git("log", "-1", "--format=%s", "refs/scaffold/template", cwd=project) == (
        "scaffold template v0.1.0"
    )
    current = scaffold(venv, "update", "--check", cwd=project, env=OFFLINE)
    assert current.returncode == 0 and "up to date with its template (v0.1.0)" in current.stdout

    # The user's work: the README line the template changes (conflict), another Makefile
    # line (merges), a file of their own.
    replace_once(project / "README.md", "\n## Set up\n", "\n## Installation\n")
    replace_once(project / "Makefile", ".DEFAULT_GOAL := help\n", ".DEFAULT_GOAL := test\n")
    (project / "notes.md").write_text("mine\n")
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--no-verify", "-m", "my edits", cwd=project)
    head = git("rev-parse", "HEAD", cwd=project)

    install(venv, wheels["0.2.0"])  # pip install -U nbscaffold
    check = scaffold(venv, "update", "--check", cwd=project, env=OFFLINE)
    assert check.returncode == 2, check.stderr
    assert "template v0.1.0 -> v0.2.0 available (pypi:nbscaffold)" in check.stdout

    pretend = scaffold(venv, "update", "--pretend", cwd=project, env=OFFLINE)
    assert pretend.returncode == 0, pretend.stderr
    assert "+# Changes in Wheel Lab" in pretend.stdout
    assert git("status", "--porcelain", cwd=project) == ""

    updated = scaffold(venv, "update", cwd=project, env=OFFLINE)
    assert updated.returncode == 4, updated.stdout + updated.stderr  # conflicts to resolve
    assert "Updating from template v0.1.0 to v0.2.0 (pypi:nbscaffold)" in updated.stdout
    assert "  conflict   README.md" in updated.stdout
    assert "  added      CHANGELOG.md" in updated.stdout
    assert (project / "CHANGELOG.md").read_text() == "# Changes in Wheel Lab\n"
    makefile = (project / "Makefile").read_text()
    assert ".DEFAULT_GOAL := test\n" in makefile  # yours
    assert "PYTHON_INTERPRETER = python3\n" in makefile  # the template's
    readme = (project / "README.md").read_text()
    assert CONFLICT in readme
    assert (project / "notes.md").read_text() == "mine\n"
    after = answers(project)
    assert (after["_src_path"], after["_commit"]) == ("pypi:nbscaffold", "v0.2.0")
    assert after["description"] == "Rocket 🚀"
    assert git("rev-parse", "HEAD", cwd=project) == head  # nothing committed
    assert "UU README.md" in git("status", "--porcelain", cwd=project)
    assert git("log", "-1", "--format=%s", "refs/scaffold/template", cwd=project) == (
        "scaffold template v0.2.0"
    )
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("scaffold-update-*"))

    # Resolved and committed: up to date, also for --check.
    (project / "README.md").write_text(readme.split("<<<<<<<")[0] + "## Setup\n"
                                       + readme.split(">>>>>>> after updating\n")[1])  # fmt: skip
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--no-verify", "-m", "template v0.2.0", cwd=project)
    done = scaffold(venv, "update", "--check", cwd=project, env=OFFLINE)
    assert done.returncode == 0 and "(v0.2.0)" in done.stdout


def test_a_clone_without_the_template_ref_takes_the_old_wheel_from_the_index(
    wheels: dict[str, Path], tmp_path: Path, workdir: Path
):
    venv = tmp_path / "tool"
    install(venv, wheels["0.1.0"])
    assert scaffold(venv, "new", "Team Lab", "--no-input", "--no-dvc", "--no-pre-commit",
                    cwd=workdir).returncode == 0  # fmt: skip
    clone = workdir / "teammate"
    git("clone", "--quiet", str(workdir / "team-lab"), str(clone), cwd=workdir)
    assert git("for-each-ref", "refs/scaffold", cwd=clone) == ""  # refs/scaffold is not cloned
    install(venv, wheels["0.2.0"])

    unreachable = scaffold(venv, "update", cwd=clone, env=OFFLINE)
    assert unreachable.returncode == 1 and unreachable.stderr.count("\n") == 1
    assert "git fetch origin refs/scaffold/template" in unreachable.stderr
    assert git("status", "--porcelain", cwd=clone) == ""

    index = {**OFFLINE, "PIP_FIND_LINKS": str(wheels["0.1.0"].parent)}
    updated = scaffold(venv, "update", cwd=clone, env=index)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "  added      CHANGELOG.md" in updated.stdout
    assert "## Setup\n" in (clone / "README.md").read_text()
    assert answers(clone)["_commit"] == "v0.2.0"


@pytest.fixture(scope="session")
def legacy_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0.1.0 wheel from before the rename: its projects record ``pypi:scaffold``."""
    into, work = tmp_path_factory.mktemp("legacy-wheel"), tmp_path_factory.mktemp("legacy-src")
    return build_wheel("0.1.0", into, work, change_template=False, legacy=True)


def test_a_project_that_recorded_pypi_scaffold_updates_and_records_nbscaffold(
    wheels: dict[str, Path], legacy_wheel: Path, tmp_path: Path, workdir: Path
):
    venv = tmp_path / "tool"
    install(venv, legacy_wheel)
    for name in ("Old Lab", "Same Lab"):
        made = scaffold(venv, "new", name, "--no-input", "--no-dvc", "--no-pre-commit",
                        cwd=workdir)  # fmt: skip
        assert made.returncode == 0, made.stderr
    old, same = workdir / "old-lab", workdir / "same-lab"
    assert answers(old)["_src_path"] == "pypi:scaffold"

    # The same template version under the new name: the update only corrects the source.
    install(venv, wheels["0.1.0"])
    fixed = scaffold(venv, "update", cwd=same, env=OFFLINE)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert git("diff", "--name-only", cwd=same) == ".copier-answers.yml"
    assert (answers(same)["_src_path"], answers(same)["_commit"]) == ("pypi:nbscaffold", "v0.1.0")

    # A newer release: the usual update, and the answers file names the new distribution.
    install(venv, wheels["0.2.0"])
    check = scaffold(venv, "update", "--check", cwd=old, env=OFFLINE)
    assert check.returncode == 2, check.stdout + check.stderr
    updated = scaffold(venv, "update", cwd=old, env=OFFLINE)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "  added      CHANGELOG.md" in updated.stdout
    assert "  changed    .copier-answers.yml" in updated.stdout
    assert (answers(old)["_src_path"], answers(old)["_commit"]) == ("pypi:nbscaffold", "v0.2.0")
    assert "<<<<<<<" not in (old / "README.md").read_text()
