"""End to end: a generated project passes its own checks, with real tools and its own venv.

For each option set, one project is generated with the real CLI and installed once in its own
venv (built lazily, shared by every test of the session); then its tests, its first notebook
(papermill), its DVC pipeline, ruff, and its pre-commit hooks must all work: the default ones
install from the package index; `pre_commit_hooks=github` ones are cloned from local mirrors of
the hook repositories (no GitHub here).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.conftest import REPO_ROOT, git, project_venv, run_scaffold
from tests.helpers import hook_status, run
from tests.mirrors import hook_repos

pytestmark = pytest.mark.slow

TEMPLATE_PROJECT = REPO_ROOT / "template" / "{{ cookiecutter.repo_name }}"

# Option set id -> (project name, --set assignments). "default" answers nothing.
OPTION_SETS: dict[str, tuple[str, list[str]]] = {
    "default": ("My Project", []),
    "uv-mit-s3-nodocs": (
        "Churn Model",
        [
            "author_name=Ada Lovelace",
            "environment_manager=uv",
            "open_source_license=MIT",
            "dvc_remote=s3",
            "dvc_remote_url=s3://bucket/dvc",
            "docs=none",
            "pre_commit_hooks=github",
        ],
    ),
}


@dataclass
class Generated:
    """A generated project, its venv, and (once run) its papermill-executed first notebook."""

    options: str
    project: Path
    python: Path
    _executed: tuple[Path, subprocess.CompletedProcess[str]] | None = field(default=None)

    @property
    def bin(self) -> Path:
        """The venv's bin folder (its tools: dvc, papermill, ruff, pre-commit)."""
        return self.python.parent

    @property
    def activated(self) -> dict[str, str]:
        """Environment variables of a shell with the project's venv activated."""
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "VIRTUAL_ENV": str(self.bin.parent),
            # The project's own pytest keeps its temporary folders beside the project.
            "TMPDIR": str(self.project.parent),
        }

    @property
    def notebook(self) -> str:
        """The stem of the project's first notebook (and of its parameters file)."""
        return sorted(self.project.glob("notebooks/*.ipynb"))[0].stem

    def executed(self) -> tuple[Path, subprocess.CompletedProcess[str]]:
        """Run the first notebook with papermill and its parameters file (once)."""
        if self._executed is None:
            out = self.project.parent / "executed" / f"{self.notebook}.ipynb"
            out.parent.mkdir(exist_ok=True)
            result = run(
                [
                    self.bin / "papermill",
                    "--no-progress-bar",
                    f"notebooks/{self.notebook}.ipynb",
                    out,
                    "-f",
                    f"params/{self.notebook}.yaml",
                    "--cwd",
                    "notebooks",
                ],
                cwd=self.project,
                env=self.activated,
            )
            self._executed = (out, result)
        return self._executed


class Projects:
    """Generate and install each option set's project once per session, on first use."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._built: dict[str, Generated] = {}

    def get(self, options: str) -> Generated:
        """The project for ``options`` (generated and installed on first call)."""
        if options not in self._built:
            name, assignments = OPTION_SETS[options]
            root = self._factory.mktemp(f"generated-{options}")
            sets = [arg for assignment in assignments for arg in ("--set", assignment)]
            run_scaffold("new", name, "--no-input", *sets, cwd=root)
            (project,) = root.iterdir()
            self._built[options] = Generated(options, project, project_venv(project))
        return self._built[options]


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Projects:
    """The session's generated projects (the calling test's isolated home is in effect)."""
    return Projects(tmp_path_factory)


@pytest.fixture(params=sorted(OPTION_SETS))
def generated(request: pytest.FixtureRequest, projects: Projects) -> Generated:
    """Each option set's shared project."""
    return projects.get(request.param)


def test_the_project_tests_pass(generated: Generated):
    result = run(
        [generated.python, "-m", "pytest", "-q"], cwd=generated.project, env=generated.activated
    )
    assert re.search(r"\b\d+ passed\b", result.stdout), result.stdout


def test_the_first_notebook_runs_top_to_bottom_with_its_parameters(generated: Generated):
    out, result = generated.executed()
    assert "Passed unknown parameter" not in result.stderr
    params = yaml.safe_load(
        (generated.project / "params" / f"{generated.notebook}.yaml").read_text()
    )
    assert params

    nb = nbformat.read(out, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    outputs = [output for cell in code for output in cell.outputs]
    assert outputs and not [output for output in outputs if output.output_type == "error"]
    assert nb.metadata.papermill.parameters == params

    tags = [cell.metadata.get("tags", []) for cell in nb.cells]
    injected_at = tags.index(["injected-parameters"])
    assert "parameters" in tags[injected_at - 1]  # papermill injects right after the defaults
    injected = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(nb.cells[injected_at].source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert injected == params


def test_dvc_repro_runs_the_notebook_stage_then_skips_it(generated: Generated):
    dvc = generated.bin / "dvc"
    report = generated.project / "reports" / f"{generated.notebook}.ipynb"
    # The stage runs `papermill`: the venv is activated, as the project's README says.
    first = run([dvc, "repro"], cwd=generated.project, env=generated.activated)
    assert "Running stage" in first.stdout
    assert "Passed unknown parameter" not in first.stderr
    assert report.is_file() and (generated.project / "dvc.lock").is_file()
    assert any(cell.get("outputs") for cell in nbformat.read(report, as_version=4).cells)

    second = run([dvc, "repro"], cwd=generated.project, env=generated.activated)
    assert "Running stage" not in second.stdout
    assert "didn't change" in second.stdout or "up to date" in second.stdout


def test_ruff_check_and_format_pass(generated: Generated):
    ruff = generated.bin / "ruff"
    assert "All checks passed" in run([ruff, "check"], cwd=generated.project).stdout
    assert "already formatted" in run([ruff, "format", "--check"], cwd=generated.project).stdout


def test_pre_commit_passes_on_the_fresh_project(
    generated: Generated, offline_hooks: dict[str, Path]
):
    for repo in hook_repos(generated.project / ".pre-commit-config.yaml"):
        assert repo.url in offline_hooks, f"{repo} has no offline mirror"
    result = run(
        [generated.bin / "pre-commit", "run", "--all-files", "--show-diff-on-failure"],
        cwd=generated.project,
        expect_ok=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert git("diff", "--name-only", cwd=generated.project) == ""
    for hook in (
        "nbstripout",
        "ruff check",
        "ruff format",
        "fix end of files",
        "trim trailing whitespace",
    ):
        assert hook_status(output.lower(), hook) == "passed", f"{hook}:\n{output}"


def test_committing_an_executed_notebook_strips_its_outputs(
    generated: Generated, offline_hooks: dict[str, Path], tmp_path: Path
):
    # A copy of the project as generated (its venv aside): the hooks scaffold installed come along.
    project = tmp_path / generated.project.name
    shutil.copytree(
        generated.project, project, symlinks=True, ignore=shutil.ignore_patterns(".venv")
    )
    assert "pre-commit" in (project / ".git" / "hooks" / "pre-commit").read_text()
    executed, _ = generated.executed()
    relative = "notebooks/9.9-tst-executed-copy.ipynb"
    shutil.copyfile(executed, project / relative)
    before = nbformat.read(project / relative, as_version=4)
    assert any(cell.get("outputs") for cell in before.cells)

    git("add", relative, cwd=project)
    first = run(["git", "commit", "-m", "Add an executed notebook"], cwd=project, expect_ok=False)
    assert first.returncode != 0, "the hooks let a notebook with outputs through"
    hooks_output = first.stdout + first.stderr  # git passes the hook's output on stderr
    assert hook_status(hooks_output, "nbstripout") == "Failed", hooks_output
    assert "files were modified by this hook" in hooks_output

    git("add", relative, cwd=project)
    run(["git", "commit", "-m", "Add an executed notebook"], cwd=project)
    assert git("log", "-1", "--format=%s", cwd=project) == "Add an executed notebook"

    committed = json.loads(git("show", f"HEAD:{relative}", cwd=project))
    code = [cell for cell in committed["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] for cell in code)
    assert all(cell["execution_count"] is None for cell in code)
    assert "papermill" not in committed["metadata"]
    assert not [cell for cell in committed["cells"] if "papermill" in cell["metadata"]]
    by_id = {cell["id"]: cell for cell in committed["cells"]}  # --keep-id: ids survive
    assert "parameters" in by_id["parameters"]["metadata"]["tags"]


def test_make_test_and_make_lint_work_in_the_activated_venv(projects: Projects):
    generated = projects.get("default")
    test = run(["make", "test"], cwd=generated.project, env=generated.activated)
    assert re.search(r"\b\d+ passed\b", test.stdout), test.stdout
    lint = run(["make", "lint"], cwd=generated.project, env=generated.activated)
    assert "All checks passed" in lint.stdout and "already formatted" in lint.stdout
