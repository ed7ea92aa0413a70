"""The default pre-commit hooks install from the package index: commits work on a machine that
reaches only the index (this one: no GitHub), with no local mirror of the hook repositories.

Every git in these tests has GitHub rewritten to a folder that does not exist, so a hook that
still came from GitHub fails its commit instead of passing unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, git, isolated_environment, scaffold_in_process
from tests.helpers import hook_status, run

pytestmark = pytest.mark.slow

SYSTEM_PATH = "/usr/bin:/bin"
# After the hook environments exist: no index either, and any HTTP goes nowhere.
OFFLINE = {"PIP_NO_INDEX": "1", "UV_OFFLINE": "1", "http_proxy": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9"}  # fmt: skip


def no_github(gitconfig: Path) -> None:
    """Make every clone of a GitHub URL fail (pre-commit's git reads ``$HOME/.gitconfig``)."""
    subprocess.run(["git", "config", "--file", str(gitconfig), "--add",
                    "url.file:///nonexistent/github/.insteadOf", "https://github.com/"],
                   check=True)  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh default project (uv) after the README's `make create_environment` and
    `make requirements`, with the shell that ran them."""
    with isolated_environment(tmp_path_factory) as home:
        no_github(home / ".gitconfig")
        root = tmp_path_factory.mktemp("index-hooks")
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        scaffold_in_process("new", "Index Lab", "--no-input", "--set", "environment_manager=uv",
                            "--set", f"python_version={version}", cwd=root)  # fmt: skip
        project = root / "index-lab"
        base_python = Path(sys.base_prefix) / "bin"
        shell = {
            "PATH": f"{BIN}{os.pathsep}{SYSTEM_PATH}{os.pathsep}{base_python}",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_PYTHON_PREFERENCE": "only-system",
        }
        run(["make", "create_environment"], cwd=project, env=shell)
        run(["make", "requirements"], cwd=project, env=shell)
        return project, shell


@pytest.fixture
def project(installed: tuple[Path, dict[str, str]], isolated_home: Path) -> Path:
    """The installed project (the tests of this module share it, in order), GitHub blocked
    for this test's git as well."""
    no_github(isolated_home / ".gitconfig")
    return installed[0]


def test_the_default_hooks_name_no_git_host(installed: tuple[Path, dict[str, str]]):
    project, _ = installed
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    assert set(hooks) >= {"nbstripout", "ruff-check", "ruff-format", "check-added-large-files",
                          "check-yaml", "end-of-file-fixer", "trailing-whitespace"}  # fmt: skip
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert [pin.count("==") for pin in hook["additional_dependencies"]] == [1]
    assert hooks["nbstripout"]["args"] == [
        "--keep-id", "--extra-keys",
        "metadata.papermill cell.metadata.papermill metadata.language_info.version",
    ]  # fmt: skip


def test_an_executed_notebook_is_committed_stripped_with_plain_git_commit(
    project: Path, installed: tuple[Path, dict[str, str]]
):
    _, shell = installed
    stem = sorted(project.glob("notebooks/*.ipynb"))[0].stem
    run(["make", "notebook", f"NB={stem}"], cwd=project, env=shell)
    relative = f"notebooks/{stem}.ipynb"
    shutil.copyfile(project / "reports" / f"{stem}.ipynb", project / relative)
    git("add", relative, cwd=project)
    first = run(["git", "commit", "-m", "Executed"], cwd=project, expect_ok=False)
    output = first.stdout + first.stderr
    assert first.returncode != 0 and hook_status(output, "nbstripout") == "Failed", output
    assert "github" not in output.lower()
    git("add", relative, cwd=project)
    second = run(["git", "commit", "-m", "Executed"], cwd=project, expect_ok=False)
    assert second.returncode == 0, second.stdout + second.stderr
    assert hook_status(second.stdout + second.stderr, "nbstripout") == "Passed"
    assert "Failed" not in second.stdout + second.stderr

    committed = json.loads(git("show", f"HEAD:{relative}", cwd=project))
    code = [cell for cell in committed["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert "papermill" not in committed["metadata"]  # --extra-keys
    assert "version" not in committed["metadata"].get("language_info", {})
    assert not [cell for cell in committed["cells"] if "papermill" in cell["metadata"]]


def test_a_large_file_is_refused(project: Path):
    big = project / "references" / "scan.bin"
    big.write_bytes(os.urandom(1_200_000))
    git("add", "references/scan.bin", cwd=project)
    refused = run(["git", "commit", "-m", "Big"], cwd=project, expect_ok=False)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert hook_status(output, "check for added large files") == "Failed", output
    assert "scan.bin" in output
    git("reset", "--quiet", "--", "references/scan.bin", cwd=project)
    big.unlink()


def test_make_check_hooks_works_offline(project: Path, installed: tuple[Path, dict[str, str]]):
    _, shell = installed
    # The first run builds the hook environments from the index; then no network at all.
    run(["make", "check-hooks"], cwd=project, env=shell, expect_ok=False)
    checked = run(["make", "check-hooks"], cwd=project, env={**shell, **OFFLINE})
    assert hook_status(checked.stdout, "nbstripout") == "Passed", checked.stdout
    assert hook_status(checked.stdout, "trim trailing whitespace") == "Passed", checked.stdout
