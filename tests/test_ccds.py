"""cookiecutter-data-science's own checks, ported: the folders and files a CCDS project has
(with `.env` and the docs README), no template leftovers, the make targets it runs, the
module importing; and the options CCDS users expect (example_code, pydata_packages).

The fast tests render with `scaffold new --no-git --no-dvc --no-pre-commit` and use scaffold's
own interpreter; the slow ones install each project in its own environment and run it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import copy_project, git, project_venv, run_scaffold, scaffold_in_process
from tests.helpers import output

# Option set id -> --set assignments.
OPTION_SETS: dict[str, list[str]] = {
    "default": [],
    "minimal": ["example_code=no", "pydata_packages=none"],
    "no-example-basic-nodocs": ["example_code=no", "docs=none", "environment_manager=uv"],
}

# cookiecutter-data-science's tests/test_creation.py, required paths (module as {module}).
CCDS_REQUIRED = [
    ".env",
    ".gitignore",
    "Makefile",
    "README.md",
    "pyproject.toml",
    "data/external",
    "data/interim",
    "data/processed",
    "data/raw",
    "models",
    "notebooks",
    "references",
    "reports",
    "reports/figures",
    "src/{module}/__init__.py",
    "src/{module}/config.py",
]
CCDS_EXAMPLE_CODE = [
    "src/{module}/dataset.py",
    "src/{module}/features.py",
    "src/{module}/modeling/__init__.py",
    "src/{module}/modeling/predict.py",
    "src/{module}/modeling/train.py",
    "src/{module}/plots.py",
]
# The make targets CCDS's tests run (test_creation.py verify_makefile_commands), and ours.
CCDS_TARGETS = ["create_environment", "requirements", "clean", "lint", "format", "test"]
DATA_TARGETS = ["data", "sync_data_up", "sync_data_down"]

MODULE = "my_project"


def make_project(tmp_path: Path, assignments: list[str], git_too: bool = False) -> Path:
    sets = [arg for assignment in assignments for arg in ("--set", assignment)]
    skip = ["--no-dvc", "--no-pre-commit"] + ([] if git_too else ["--no-git"])
    tmp_path.mkdir(parents=True, exist_ok=True)
    scaffold_in_process("new", "My Project", "--no-input", *skip, *sets, cwd=tmp_path)
    return tmp_path / "my-project"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The project of an option set, rendered once per module: tests only read it (or copy
    it with ``copy_project``)."""
    made: dict[str, Path] = {}

    def project(options: str) -> Path:
        if options not in made:
            made[options] = make_project(tmp_path_factory.mktemp(options), OPTION_SETS[options])
        return made[options]

    return project


@pytest.mark.parametrize("options", sorted(OPTION_SETS))
def test_the_folders_and_files_of_cookiecutter_data_science(rendered, options: str):
    assignments = OPTION_SETS[options]
    project = rendered(options)
    required = [*CCDS_REQUIRED, ".env.example"]
    if "example_code=no" not in assignments:
        required += CCDS_EXAMPLE_CODE
    if "docs=none" not in assignments:
        required += ["docs/README.md", "docs/mkdocs.yml"]
    missing = [path for path in required if not (project / path.format(module=MODULE)).exists()]
    assert missing == []
    if "example_code=no" in assignments:
        package = sorted(p.name for p in (project / "src" / MODULE).iterdir())
        assert package == ["__init__.py", "config.py"]
    if "docs=none" in assignments:
        assert not (project / "docs").exists()


@pytest.mark.parametrize("options", sorted(OPTION_SETS))
def test_no_template_leftovers(rendered, options: str):
    project = rendered(options)
    leftovers = []
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        text = text.replace("${{", "")  # GitHub Actions expressions, not Jinja
        if "{{" in text or "{%" in text or "cookiecutter." in text:
            leftovers.append(path.relative_to(project).as_posix())
        if "{{" in path.name or "cookiecutter" in path.name:
            leftovers.append(path.name)
    assert leftovers == []


@pytest.mark.parametrize("options", sorted(OPTION_SETS))
def test_the_make_targets_ccds_runs_exist(rendered, options: str):
    project = rendered(options)
    for target in CCDS_TARGETS + DATA_TARGETS:
        output(["make", "--dry-run", target], cwd=project)
    listed = output(["make", "help"], cwd=project)
    for target in CCDS_TARGETS + DATA_TARGETS:
        assert re.search(rf"^  {re.escape(target)}\s", listed, re.MULTILINE), target
    # CCDS's names for data sync are DVC's push and pull underneath.
    assert "dvc push" in output(["make", "--dry-run", "sync_data_up"], cwd=project)
    assert "dvc pull" in output(["make", "--dry-run", "sync_data_down"], cwd=project)


@pytest.mark.parametrize("options", ["minimal", "no-example-basic-nodocs"])
def test_a_minimal_project_imports_passes_its_tests_and_scaffold_check(
    rendered, tmp_path: Path, options: str
):
    project = copy_project(rendered(options), tmp_path / "my-project")
    env = {"PYTHONPATH": str(project / "src")}
    imported = output([sys.executable, "-c", f"import {MODULE}.config as c; print(c.PROJ_ROOT)"],
                   cwd=tmp_path, env=env)  # fmt: skip
    assert imported.strip() == str(project.resolve())
    tests = output([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                cwd=project, env=env)  # fmt: skip
    assert re.search(r"\b\d+ passed\b", tests) and "failed" not in tests
    run_scaffold("check", cwd=project)


def test_config_loads_the_env_file_and_the_environment_wins(rendered, tmp_path: Path):
    project = copy_project(rendered("minimal"), tmp_path / "my-project")
    (project / ".env").write_text("CCDS_TOKEN=from-dotenv\nCCDS_SET=from-dotenv\n")
    code = f"import os, {MODULE}.config; print(os.environ['CCDS_TOKEN'], os.environ['CCDS_SET'])"
    env = {"PYTHONPATH": str(project / "src"), "CCDS_SET": "from-shell"}
    assert output([sys.executable, "-c", code], cwd=tmp_path, env=env).split() == [
        "from-dotenv",
        "from-shell",
    ]


def test_dotenv_is_ignored_by_git_and_the_example_committed(tmp_path: Path):
    project = make_project(tmp_path, [], git_too=True)
    committed = git("ls-files", cwd=project).splitlines()
    assert ".env.example" in committed and ".env" not in committed
    assert git("status", "--porcelain", cwd=project) == ""
    assert "params/" in (project / ".env").read_text()


def test_example_code_without_pydata_packages_is_refused(tmp_path: Path):
    result = scaffold_in_process("new", "My Project", "--no-input", "--set",
                                 "pydata_packages=none", cwd=tmp_path, check=False)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: pydata_packages=none needs example_code=no: "
        "the example code uses pandas, numpy and matplotlib."
    )
    assert list(tmp_path.iterdir()) == []


def test_pydata_packages_none_leaves_only_dotenv_as_a_dependency(rendered):
    project = rendered("minimal")
    pyproject = (project / "pyproject.toml").read_text()
    assert 'dependencies = [\n    "python-dotenv",\n]' in pyproject
    for tool in ("papermill", "ipykernel", "nbformat"):
        assert f'    "{tool}",' in pyproject
    recorded = (project / ".copier-answers.yml").read_text()
    assert 'example_code: "no"' in recorded and 'pydata_packages: "none"' in recorded


@pytest.mark.slow
def test_minimal_project_end_to_end(tmp_path: Path):
    """example_code=no + pydata_packages=none: install, make test, make lint, run the notebook
    (papermill, make notebook) and scaffold check --run."""
    project = make_project(tmp_path, OPTION_SETS["minimal"], git_too=True)
    python = project_venv(project)
    bin_dir = python.parent
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(bin_dir.parent),
           "TMPDIR": str(tmp_path)}  # fmt: skip
    for module in ("pandas", "numpy", "matplotlib"):
        missing = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
        assert missing.returncode != 0, f"{module} is installed with pydata_packages=none"
    assert re.search(r"\b\d+ passed\b", output(["make", "test"], cwd=project, env=env))
    assert "All checks passed" in output(["make", "lint"], cwd=project, env=env)
    output(["make", "notebook"], cwd=project, env=env)
    notebook = next((project / "reports").glob("*.ipynb"))
    assert "does not exist yet" in notebook.read_text()
    run_scaffold("check", "--run", cwd=project, env=env)


def test_each_environment_manager_has_its_dependency_file_and_targets(tmp_path: Path):
    files = {"poetry": "poetry.toml", "pipenv": "Pipfile", "conda": "environment.yml"}
    for manager in ("poetry", "pipenv", "virtualenv"):
        project = make_project(tmp_path / manager, [f"environment_manager={manager}"])
        present = {name for name in files.values() if (project / name).exists()}
        assert present == ({files[manager]} if manager in files else set()), manager
        for target in [*CCDS_TARGETS, "notebook"]:
            output(["make", "--dry-run", target], cwd=project)
        created = output(["make", "--dry-run", "create_environment"], cwd=project)
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        assert version in created, created  # python_version
    pipfile = (tmp_path / "pipenv" / "my-project" / "Pipfile").read_text()
    assert '"my-project" = { path = ".", editable = true, extras = ["dev"] }' in pipfile
    pyproject = (tmp_path / "poetry" / "my-project" / "pyproject.toml").read_text()
    assert 'build-backend = "poetry.core.masonry.api"' in pyproject


@pytest.mark.slow
@pytest.mark.parametrize("manager", ["virtualenv", "poetry", "pipenv"])
def test_environment_manager_end_to_end(tmp_path: Path, manager: str):
    """make create_environment, requirements, test, lint, notebook; scaffold run finds it."""
    project = make_project(tmp_path, [f"environment_manager={manager}", *OPTION_SETS["minimal"]],
                           git_too=True)  # fmt: skip
    tools = Path(sys.executable).parent  # poetry, pipenv, virtualenv are installed beside us
    env = {"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
    base = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    if manager == "virtualenv":  # its users activate .venv
        activated = f"{project / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
        later = {"PATH": activated, "VIRTUAL_ENV": str(project / ".venv")}
    else:
        later = {}

    def make(target: str) -> str:
        result = subprocess.run(["make", target], cwd=project, capture_output=True, text=True,
                                env={**base, **env, **later}, check=False)  # fmt: skip
        assert result.returncode == 0, f"make {target}:\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    make("create_environment")
    python = project / ".venv" / "bin" / "python"
    assert python.exists(), f"{manager} made no .venv"
    version = output([python, "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
                  cwd=project).strip()  # fmt: skip
    assert version == f"{sys.version_info.major}.{sys.version_info.minor}"
    make("requirements")
    assert re.search(r"\b\d+ passed\b", make("test"))
    assert "All checks passed" in make("lint")
    make("notebook")
    assert next((project / "reports").glob("*.ipynb")).is_file()
    found = run_scaffold("run", "1.0", cwd=project, env=env)
    assert ".venv" in found.stdout + found.stderr


@pytest.mark.slow
def test_scaffold_run_finds_the_environment_pipenv_keeps_outside_the_project(tmp_path: Path):
    from scaffold.interpreters import find_interpreter
    from scaffold.project import Project

    project = make_project(tmp_path, ["environment_manager=pipenv", *OPTION_SETS["minimal"]])
    workon = tmp_path / "virtualenvs"
    tools = Path(sys.executable).parent
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIPENV_")}
    env.pop("VIRTUAL_ENV", None)
    env.update({"WORKON_HOME": str(workon), "PATH": f"{tools}{os.pathsep}{env['PATH']}"})
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for args in (["--python", version], ["--venv"]):
        result = subprocess.run([tools / "pipenv", *args], cwd=project, capture_output=True,
                                text=True, env=env, check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
    prefix = Path(result.stdout.strip())
    assert prefix.parent == workon and not (project / ".venv").exists()
    found = find_interpreter(Project(project.resolve()), environ=env)
    assert found.python.parent.parent == prefix
    assert found.origin == "pipenv's environment for the Pipfile"
