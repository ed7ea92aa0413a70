"""`pip install .` gives a `scaffold` command that carries the template with it."""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, UV_CACHE_DIR, git

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "build",
            "--wheel",
            "--quiet",
            "--out-dir",
            str(out),
            str(REPO_ROOT),
        ],
        check=True,
        env={**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR},
    )
    (built,) = out.glob("nbscaffold-*.whl")
    return built


def test_the_wheel_is_the_nbscaffold_distribution_with_two_commands(wheel: Path):
    # `scaffold` on the package index is an unrelated project: ours is nbscaffold.
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        headers = email.parser.HeaderParser().parsestr(archive.read(metadata).decode())
        (entry_points,) = [n for n in archive.namelist() if n.endswith("/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert headers["Name"] == "nbscaffold"
    assert metadata.startswith("nbscaffold-")
    assert "scaffold = scaffold.cli:main" in scripts
    assert "nbscaffold = scaffold.cli:main" in scripts


def test_the_wheel_holds_the_template_and_hooks(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in [
        "scaffold/cli.py",
        "scaffold/_data/cookiecutter.json",
        "scaffold/_data/template/cookiecutter.json",
        "scaffold/_data/template/hooks/post_gen_project.py",
        "scaffold/_data/hooks/post_gen_project.py",
        "scaffold/_data/hooks/pre_gen_project.py",
        "scaffold/_data/hooks/dvc_remote.py",
        "scaffold/_data/template/{{ cookiecutter.repo_name }}/pyproject.toml",
        "scaffold/_data/template/{{ cookiecutter.repo_name }}/data/raw/.gitkeep",
    ]:
        assert expected in names, expected
    assert not [name for name in names if "__pycache__" in name]


def test_an_installed_wheel_creates_a_project(wheel: Path, tmp_path: Path, workdir: Path):
    venv = tmp_path / "tool"
    env = {**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR}
    subprocess.run(
        [sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, str(venv)],
        check=True,
        env=env,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            str(wheel),
        ],
        check=True,
        env=env,
    )
    # Like `pipx install`: only the scaffold entry point is on PATH, not dvc or pre-commit.
    path = os.pathsep.join(["/usr/bin", "/bin"])
    result = subprocess.run(
        [str(venv / "bin" / "scaffold"), "new", "Wheel Lab", "--no-input"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    project = workdir / "wheel-lab"
    assert "dvc init" in result.stdout and "pre-commit" in result.stdout
    assert (project / ".dvc" / "config").is_file()
    assert git("rev-list", "--count", "HEAD", cwd=project) == "1"
    assert "site-packages" not in (project / "README.md").read_text()
    assert '_src_path: "pypi:nbscaffold"' in (project / ".copier-answers.yml").read_text()
    second = subprocess.run([str(venv / "bin" / "nbscaffold"), "--version"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert second.stdout.startswith("scaffold ")
