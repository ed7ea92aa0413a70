"""scaffold is the distribution nbscaffold: what a generated project tells people to install.

(`scaffold` on the package index is an unrelated project. The wheel's own metadata is checked
in tests/test_packaging.py, a project of an old release in tests/test_wheel_update.py.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, new_project

PATH = f"{Path(sys.executable).parent}:/usr/bin:/bin"  # `python`, as in CI
# An install command (pip, pipx, uv, uvx) that names a distribution `scaffold`, not nbscaffold.
OLD_INSTALL = re.compile(
    r"\b(?:pip|pipx|uv|uvx)\b[^\n`;&|#]*?\b(?:install|upgrade|download|run|--with)\b"
    r"[^\n`;&|#]*?(?<![\w./-])scaffold(?![\w/-])"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_project(tmp_path_factory, "dist", "Dist Lab", "--no-git", "--no-dvc", extras=None)


def install_lines(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [f"{path}: {match[0]}" for match in OLD_INSTALL.finditer(text)]
    return found


def test_the_pattern_finds_an_old_install_line():
    assert OLD_INSTALL.search("user with `pipx install scaffold` (or")
    assert OLD_INSTALL.search('python -m pip install "scaffold>=0.1"')
    assert not OLD_INSTALL.search("pipx install nbscaffold; scaffold new")
    assert not OLD_INSTALL.search("pip install -e .  # scaffold/ is the package")


def test_no_install_line_of_a_project_names_the_old_distribution(project: Path):
    assert install_lines(project) == []
    readme = (project / "README.md").read_text()
    assert "pipx install nbscaffold" in readme


def test_no_install_line_of_our_docs_names_the_old_distribution():
    lines = install_lines(REPO_ROOT / "docs") + install_lines(REPO_ROOT / "template")
    for name in ("README.md", "copier.yml", "scaffold/update.py"):
        text = (REPO_ROOT / name).read_text()
        lines += [f"{name}: {match[0]}" for match in OLD_INSTALL.finditer(text)]
    assert lines == []


def ci_install_step(project: Path) -> str:
    workflow = yaml.safe_load((project / ".github" / "workflows" / "tests.yml").read_text())
    steps = workflow["jobs"]["test"]["steps"]
    (step,) = [step for step in steps if "SCAFFOLD_SPEC" in step.get("run", "")]
    return step["run"].split("\nscaffold check")[0]


@pytest.mark.parametrize(
    ("commit", "spec"),
    [
        ("v0.1.0", "nbscaffold>=0.1,<1"),
        ("v1.4.2", "nbscaffold>=1.4,<2"),
        ("v2.0.0-3-gabc1234", "nbscaffold>=2.0,<3"),
        ("b2277c9", "nbscaffold"),  # a source checkout's commit: the newest release
    ],
)
def test_ci_installs_the_recorded_release_or_newer_of_the_same_major(
    project: Path, tmp_path: Path, commit: str, spec: str
):
    answers = (project / ".copier-answers.yml").read_text()
    (tmp_path / ".copier-answers.yml").write_text(
        re.sub(r"(?m)^_commit: .*$", f'_commit: "{commit}"', answers)
    )
    script = ci_install_step(project).replace("python -m pip install", "echo")
    ran = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         env={"PATH": PATH, "SCAFFOLD_SPEC": ""}, check=True)  # fmt: skip
    assert ran.stdout.strip() == spec
    given = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                           env={"PATH": PATH, "SCAFFOLD_SPEC": "git+https://x/y"},
                           check=True)  # fmt: skip
    assert given.stdout.strip() == "git+https://x/y"
