"""The generated project from day one to day thirty: what a new user meets (issue 8).

Fast tests use scaffold's own tools (git, dvc, make) on freshly generated projects. The slow
ones share one generated project installed in its own venv (module scope), and one end-to-end
walk with a uv project: make requirements, JupyterLab serving on 127.0.0.1, a run, commits
through the hooks (local mirrors), dvc repro, a commit of dvc.lock, a clone elsewhere, a pull.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.conftest import (
    BIN,
    copy_project,
    git,
    isolated_environment,
    project_venv,
    run_scaffold,
    scaffold_in_process,
)
from tests.helpers import dvc, free_port, hook_status, run, serves

FIRST = "1.0-yn-initial-data-exploration"
SYSTEM_PATH = "/usr/bin:/bin"


def new_project(where: Path, *assignments: str, name: str = "My Project") -> Path:
    """``scaffold new NAME --no-input --set ...`` in ``where``; return the project folder."""
    sets = [arg for assignment in assignments for arg in ("--set", assignment)]
    scaffold_in_process("new", name, "--no-input", *sets, cwd=where)
    (project,) = [path for path in where.iterdir() if path.is_dir() and (path / ".git").is_dir()]
    return project


def with_scaffold_tools() -> dict[str, str]:
    """A shell whose PATH has scaffold's venv (dvc, pre-commit) and the system, nothing else."""
    return {"PATH": f"{BIN}{os.pathsep}{SYSTEM_PATH}"}


# -- fast: generated files, git, dvc and make without the project's venv ----------------------


@pytest.fixture(scope="module")
def made_default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``new_project`` with the default options, for tests to read or copy."""
    with isolated_environment(tmp_path_factory):
        return new_project(tmp_path_factory.mktemp("made-default"))


@pytest.fixture
def default_project(made_default: Path, workdir: Path) -> Path:
    """A copy of ``made_default`` at ``workdir/my-project``, as ``new_project(workdir)``."""
    return copy_project(made_default, workdir / made_default.name)


def test_executed_notebooks_in_reports_are_ignored_by_git(made_default: Path):
    project = made_default
    for report in (f"reports/{FIRST}.ipynb", "reports/2.1-nu-anything.ipynb"):
        assert git("check-ignore", report, cwd=project) == report
    figure = run(["git", "check-ignore", "reports/figures/hist.png"], cwd=project, expect_ok=False)
    assert figure.returncode == 1  # figures are the user's to commit


@pytest.mark.parametrize(("uid", "allowed"), [("0", True), ("1000", False)])
def test_make_lab_allows_root_only_as_root(made_default: Path, tmp_path: Path, uid: str,
                                           allowed: bool):  # fmt: skip
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (fake / "id").chmod(0o755)
    env = {"PATH": f"{fake}{os.pathsep}{SYSTEM_PATH}"}
    planned = run(["make", "-n", "lab", "LAB_ARGS=--port 8890"], cwd=made_default, env=env)
    assert "jupyter lab --ip 127.0.0.1" in planned.stdout
    assert ("--allow-root" in planned.stdout) is allowed
    assert planned.stdout.rstrip().endswith("--port 8890")


def test_reports_and_sweep_summaries_are_ignored_by_git(made_default: Path):
    made = [
        f"reports/{FIRST}.html",
        f"reports/{FIRST}.slides.html",
        f"reports/{FIRST}.md",
        f"reports/{FIRST}_files/output_3_0.png",
        "reports/sweeps/1.0-x/20260101-1200/summary.csv",
        "reports/sweeps/1.0-x/20260101-1200/seed=1.ipynb",
    ]
    ignored = run(["git", "check-ignore", *made], cwd=made_default).stdout.splitlines()
    assert ignored == made
    kept = ["reports/figures/hist.png", "reports/figures/.gitkeep", "README.md", "docs/index.md"]
    assert run(["git", "check-ignore", *kept], cwd=made_default, expect_ok=False).stdout == ""


def test_plain_dvc_pull_in_a_fresh_project_succeeds(default_project: Path):
    project = default_project
    result = dvc("pull", cwd=project, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # eleven dvc start-ups through make
def test_make_data_pull_fails_when_the_data_is_not_there(workdir: Path, default_project: Path):
    project = default_project
    raw = project / "data" / "raw" / "sales.csv"
    raw.write_text("x,y\n1,2\n")
    tools = with_scaffold_tools()
    run(["make", "data-add", "FILE=data/raw/sales.csv"], cwd=project, env=tools)
    git("commit", "-q", "--no-verify", "-m", "Add sales", cwd=project)
    run(["make", "data-push"], cwd=project, env=tools)

    # A clone that does not sit beside the default local remote folder finds no data.
    elsewhere = workdir / "elsewhere" / "clone"
    elsewhere.parent.mkdir()
    git("clone", "-q", str(project), str(elsewhere), cwd=workdir)
    pulled = run(["make", "data-pull"], cwd=elsewhere, env=tools, expect_ok=False)
    assert pulled.returncode != 0, pulled.stdout
    assert not (elsewhere / "data" / "raw" / "sales.csv").exists()
    (hint,) = [line for line in pulled.stderr.splitlines() if line.startswith("error: ")]
    # where DVC looked, as one path (not `dvc remote list`'s tab-separated lines)
    assert "\t" not in hint and f"({elsewhere.parent / 'my-project-dvc-storage'})" in hint

    # The hint, pasted with the location of the data in this clone's world: this clone only.
    pasted = re.search(r"scaffold add remote \S+ URL --local", hint)
    assert pasted, hint
    storage = str(workdir / "my-project-dvc-storage")
    command = pasted[0].replace(" URL ", f" {storage} ").split()
    run(command, cwd=elsewhere, env=tools)
    assert git("status", "--porcelain", cwd=elsewhere) == ""  # .dvc/config is untouched
    run(["make", "data-pull"], cwd=elsewhere, env=tools)
    assert (elsewhere / "data" / "raw" / "sales.csv").read_text() == "x,y\n1,2\n"

    # Beside the storage folder (the machine that made it), the same command brings the data.
    raw.unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    run(["make", "data-pull"], cwd=project, env=tools)
    assert raw.read_text() == "x,y\n1,2\n"


def test_without_a_remote_data_targets_say_what_to_do(workdir: Path):
    project = new_project(workdir, "dvc_remote=none")
    for target in ("data-push", "data-pull"):
        result = run(["make", target], cwd=project, env=with_scaffold_tools(), expect_ok=False)
        assert result.returncode != 0
        assert "error: no default DVC remote yet" in result.stderr
        assert "scaffold add remote storage URL --default" in result.stderr
    readme = (project / "README.md").read_text()
    assert "# fetch the data from the DVC remote" not in readme  # no remote to fetch from
    assert "scaffold add remote storage URL --default" in readme


def test_pip_create_environment_refuses_an_older_python(workdir: Path):
    newer = f"{sys.version_info.major}.{sys.version_info.minor + 5}"
    (workdir / "future").mkdir()
    project = new_project(workdir / "future", f"python_version={newer}", name="Future")
    env = {"PATH": f"{Path(sys.base_prefix) / 'bin'}{os.pathsep}{SYSTEM_PATH}"}
    refused = run(["make", "create_environment"], cwd=project, env=env, expect_ok=False)
    assert refused.returncode != 0
    assert f"error: no Python {newer} or newer found" in refused.stderr
    assert not (project / ".venv").exists()


@pytest.mark.slow  # a venv with pip; the refusal above is the quick part
def test_pip_create_environment_uses_the_projects_python(workdir: Path):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {"PATH": f"{Path(sys.base_prefix) / 'bin'}{os.pathsep}{SYSTEM_PATH}"}
    (workdir / "present").mkdir()
    project = new_project(workdir / "present", f"python_version={version}", name="Present")
    run(["make", "create_environment"], cwd=project, env=env)
    made = run([project / ".venv" / "bin" / "python", "--version"], cwd=project)
    assert made.stdout.startswith(f"Python {version}.")


def test_uv_makefile_pins_the_projects_python(workdir: Path):
    project = new_project(workdir, "environment_manager=uv", "python_version=3.11")
    printed = run(["make", "-p", "-n", "help"], cwd=project).stdout
    assert "UV_PYTHON = $(PYTHON_VERSION)" in printed and "PYTHON_VERSION = 3.11" in printed
    readme = (project / "README.md").read_text()
    assert "uv.lock" in readme


def test_a_conda_project_without_conda_says_so(workdir: Path):
    env = {"PATH": f"{BIN}{os.pathsep}{SYSTEM_PATH}"}
    result = run_scaffold(
        "new", "Conda Lab", "--no-input", "--set", "environment_manager=conda", cwd=workdir, env=env
    )
    assert "conda not found" in result.stdout
    project = workdir / "conda-lab"
    made = run(["make", "create_environment"], cwd=project, env=env, expect_ok=False)
    assert made.returncode != 0
    assert "error: conda is not installed" in made.stderr and "Error 127" not in made.stderr


def test_the_readme_says_what_a_new_user_needs(made_default: Path):
    readme = (made_default / "README.md").read_text()
    for needed in (
        "make lab",  # open the notebooks
        "nbdime",  # notebook diffs
        "pipx install nbscaffold",  # scaffold is its own tool, reachable from any env
        "install from the package\nindex",  # hooks work behind a firewall
        "~/.cache/pre-commit",
        "git add` on the notebook again",  # why the first nbstripout commit fails
        "only works for clones that sit beside that folder",  # the local remote
        "scaffold add remote storage",
        "Commit `dvc.lock`",
        "never committed",  # reports/
    ):
        assert needed in readme, needed


# -- slow: one project, installed in its own venv ---------------------------------------------


class Installed:
    """A generated project (default options) and its venv's bin folder."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.bin = project_venv(project).parent

    def env(self, **extra: str) -> dict[str, str]:
        """The project's venv activated (its tools first on PATH)."""
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "VIRTUAL_ENV": str(self.bin.parent),
            **extra,
        }

    def dvc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([self.bin / "dvc", *args], cwd=self.project, env=self.env())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return Installed(new_project(tmp_path_factory.mktemp("installed")))


@pytest.mark.slow
def test_the_first_notebook_shows_its_figure(installed: Installed, tmp_path: Path):
    out = tmp_path / "out.ipynb"
    run(
        [installed.bin / "papermill", "--cwd", "notebooks", f"notebooks/{FIRST}.ipynb", out],
        cwd=installed.project,
        env=installed.env(),
    )
    figure_cell = nbformat.read(out, as_version=4).cells[-2]  # the last is the metrics cell
    assert "histograms" in figure_cell.source
    assert any("image/png" in output.get("data", {}) for output in figure_cell.outputs)


@pytest.mark.slow
def test_nbconvert_restart_and_run_all_works(installed: Installed, tmp_path: Path):
    out = tmp_path / "nbconvert"
    run(
        [
            installed.bin / "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            f"notebooks/{FIRST}.ipynb",
            "--output-dir",
            out,
        ],
        cwd=installed.project,
        env=installed.env(),
    )
    assert nbformat.read(out / f"{FIRST}.ipynb", as_version=4).cells[-1].outputs
    assert (installed.bin / "nbdiff").is_file()


@pytest.mark.slow
def test_stages_depend_on_the_raw_data_and_any_kernel_name_runs(installed: Installed):
    """(The notebook and the data are put back: the other tests share this project.)"""
    notebook = installed.project / "notebooks" / f"{FIRST}.ipynb"
    data = installed.project / "data" / "raw" / "dataset.csv"
    kept = {path: path.read_bytes() if path.exists() else None for path in (notebook, data)}
    try:
        # Saved with a kernel registered by `make kernel` on another machine (not here).
        nb = json.loads(notebook.read_text())
        nb["metadata"]["kernelspec"] = {"name": "my-project", "display_name": "Python (my-project)"}
        notebook.write_text(json.dumps(nb, indent=1) + "\n")
        assert "Running stage" in installed.dvc("repro").stdout
        assert "Running stage" not in installed.dvc("repro").stdout

        data.write_text("a,b\n1,2\n3,5\n")
        assert "Running stage" in installed.dvc("repro").stdout  # the data changed
    finally:
        for path, content in kept.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)


@pytest.mark.slow
def test_scaffold_run_uses_the_projects_venv_over_scaffolds_own(installed: Installed):
    # scaffold's own venv is the activated one, as when a developer runs it from there.
    env = {"VIRTUAL_ENV": str(BIN.parent), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = run_scaffold("run", "1.0", cwd=installed.project, env=env)
    assert "(the project's .venv)" in result.stdout
    assert (installed.project / "reports" / f"{FIRST}.ipynb").is_file()
    assert git("status", "--porcelain", "--", "reports", cwd=installed.project) == ""


@pytest.mark.slow
def test_commits_after_dvc_repro_pass_the_hooks(
    installed: Installed,
    offline_hooks: dict[str, Path],
):
    project = installed.project
    installed.dvc("repro")
    git("add", "--all", cwd=project)  # what a new user does: reports/ must not come along
    staged = git("diff", "--cached", "--name-only", cwd=project).splitlines()
    assert "dvc.lock" in staged and not [path for path in staged if path.startswith("reports/")]
    result = run(["git", "commit", "-m", "Run the pipeline"], cwd=project, expect_ok=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "trim trailing whitespace" in output and "Failed" not in output, output
    # the lock is rewritten on every repro: the next commit passes as well
    params = project / "params" / f"{FIRST}.yaml"
    params.write_text(params.read_text().replace("preview_rows: 5", "preview_rows: 3"))
    installed.dvc("repro")
    git("add", "--all", cwd=project)
    again = run(["git", "commit", "-m", "Fewer rows"], cwd=project, expect_ok=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "dvc.lock" in git("show", "--name-only", "--format=", "HEAD", cwd=project)


# -- slow: day one to day thirty ----------------------------------------------------------------


@pytest.fixture
def lab_server(request: pytest.FixtureRequest) -> Iterator[list[subprocess.Popen[str]]]:
    """Servers a test starts; each is stopped (its process group) afterwards."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


@pytest.mark.slow
def test_day_one_to_day_thirty(
    tmp_path: Path,
    offline_hooks: dict[str, Path],
    lab_server: list[subprocess.Popen[str]],
):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    uv_bin = str(BIN)  # the dev extra brings uv
    day1 = tmp_path / "laptop"
    day1.mkdir()
    project = new_project(
        day1, "environment_manager=uv", f"python_version={version}", name="Sales Study"
    )
    # Day one: the README's set-up commands, with only uv, git, make and the system on PATH.
    shell = {
        "PATH": f"{uv_bin}{os.pathsep}{SYSTEM_PATH}",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON_PREFERENCE": "only-system",
    }
    base_python = Path(sys.base_prefix) / "bin"
    shell["PATH"] = f"{shell['PATH']}{os.pathsep}{base_python}"
    run(["make", "create_environment"], cwd=project, env=shell)
    run(["make", "requirements"], cwd=project, env=shell)
    assert (project / "uv.lock").is_file()
    venv_bin = project / ".venv" / "bin"
    for tool in ("jupyter-lab", "jupyter-nbconvert", "nbdime", "dvc", "papermill", "pre-commit"):
        assert (venv_bin / tool).is_file(), tool
    run(["make", "hooks"], cwd=project, env=shell)
    assert "jupyternotebook" in git("config", "--get-regexp", "diff.jupyternotebook", cwd=project)

    # Open the notebooks: `make lab` serves JupyterLab on 127.0.0.1.
    port = free_port()
    # No --allow-root: as root (this container) the Makefile adds it itself.
    lab_args = f"--no-browser --port={port} --IdentityProvider.token=day30"
    log = (tmp_path / "lab.log").open("w")
    lab = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={lab_args}"],
        cwd=project,
        env={**os.environ, **shell},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lab_server.append(lab)
    try:
        status = json.loads(serves(f"http://127.0.0.1:{port}/api/status?token=day30", 120))
    except OSError:
        pytest.fail("make lab did not serve:\n" + (tmp_path / "lab.log").read_text()[-3000:])
    assert "started" in status
    kernels = json.loads(serves(f"http://127.0.0.1:{port}/api/kernelspecs?token=day30", 10))
    assert "python3" in kernels["kernelspecs"]
    contents = json.loads(serves(f"http://127.0.0.1:{port}/api/contents/notebooks?token=day30", 10))
    assert [item["name"] for item in contents["content"]] == [f"{notebook_stem(project)}.ipynb"]
    os.killpg(lab.pid, 15)
    lab.wait(timeout=30)
    log.close()

    # Day two: data, a run, a commit through the hooks.
    stem = notebook_stem(project)
    (project / "data" / "raw" / "dataset.csv").write_text("price,units\n1.5,3\n2.5,4\n3.0,9\n")
    run(["make", "data-add", "FILE=data/raw/dataset.csv"], cwd=project, env=shell)
    run(["make", "notebook", f"NB={stem}"], cwd=project, env=shell)
    report = project / "reports" / f"{stem}.ipynb"
    outputs = [o for c in nbformat.read(report, as_version=4).cells for o in c.get("outputs", [])]
    assert any("image/png" in output.get("data", {}) for output in outputs)
    git("add", "--all", cwd=project)
    committed = run(["git", "commit", "-m", "Add the sales data"], cwd=project, expect_ok=False)
    assert committed.returncode == 0, committed.stdout + committed.stderr
    assert f"reports/{stem}.ipynb" not in git("ls-files", cwd=project)
    assert "uv.lock" in git("ls-files", cwd=project)
    run(["make", "data-push"], cwd=project, env=shell)

    # Day three: the pipeline, its lock, the next commit (hooks pass on the lock).
    run(["make", "notebooks"], cwd=project, env=shell)
    git("add", "--all", cwd=project)
    committed = run(["git", "commit", "-m", "Run the pipeline"], cwd=project, expect_ok=False)
    output = committed.stdout + committed.stderr
    assert committed.returncode == 0, output
    assert "dvc.lock" in git("ls-files", cwd=project)

    # An executed notebook committed by mistake: nbstripout stops it, the second try passes.
    notebook = project / "notebooks" / f"{stem}.ipynb"
    shutil.copyfile(report, notebook)
    git("add", str(notebook), cwd=project)
    first = run(["git", "commit", "-m", "Executed"], cwd=project, expect_ok=False)
    assert first.returncode != 0
    assert hook_status(first.stdout + first.stderr, "nbstripout") == "Failed"
    git("add", str(notebook), cwd=project)
    run(["git", "commit", "-m", "Executed"], cwd=project)
    saved = json.loads(git("show", f"HEAD:notebooks/{stem}.ipynb", cwd=project))
    assert "version" not in saved["metadata"].get("language_info", {})
    assert "papermill" not in saved["metadata"]

    # Day thirty: a teammate clones elsewhere and pulls.
    day30 = tmp_path / "desktop" / "sales-study"
    day30.parent.mkdir()
    git("clone", "-q", str(project), str(day30), cwd=tmp_path)
    run(["make", "create_environment"], cwd=day30, env=shell)
    run(["make", "requirements"], cwd=day30, env=shell)
    run(["make", "hooks"], cwd=day30, env=shell)
    missing = run(["make", "data-pull"], cwd=day30, env=shell, expect_ok=False)
    assert missing.returncode != 0 and "scaffold add remote" in missing.stderr
    # The hint, pasted with where the data is (scaffold is the one on PATH, as pipx puts it).
    storage = (project.parent / "sales-study-dvc-storage").resolve()
    pasted = re.search(r"scaffold add remote \S+ URL --local", missing.stderr)
    assert pasted, missing.stderr
    run(pasted[0].replace(" URL ", f" {storage} ").split(), cwd=day30, env=shell)
    assert git("status", "--porcelain", cwd=day30) == ""  # the committed config is untouched
    run(["make", "data-pull"], cwd=day30, env=shell)
    assert (day30 / "data" / "raw" / "dataset.csv").read_text().startswith("price,units")
    run(["make", "notebooks"], cwd=day30, env=shell)  # reports are made again, not pulled
    assert (day30 / "reports" / f"{stem}.ipynb").is_file()
    assert "reports/" not in git("status", "--porcelain", "--untracked-files=all", cwd=day30)


def notebook_stem(project: Path) -> str:
    (notebook,) = sorted((project / "notebooks").glob("*.ipynb"))
    return notebook.stem


def test_our_readme_test_command_is_the_one_ci_runs():
    """pip alone backtracks for minutes through the dev extra; the documented command is CI's."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Run the tests", 1)[1].split("\n## ", 1)[0]
    command = section.split("```bash\n", 1)[1].split("```", 1)[0]
    assert command.split()[0] == ".ci/run"
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert 'uv pip install --quiet --python .venv/bin/python -e ".[dev]"' in ci


def test_names_are_written_readably_and_validly(workdir: Path):
    """Non-ASCII names stay as typed (no ``\\u00eb`` escapes); quotes and backslashes stay valid."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    description = 'Sales "per region" & <growth> C:\\data'
    project = new_project(
        workdir, "author_name=Zoë O'Brien", f"description={description}", name="Café Sales"
    )
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "Zoë O'Brien" in text and "\\u00eb" not in text
    meta = tomllib.loads(text)["project"]
    assert meta["authors"][0]["name"] == "Zoë O'Brien"
    assert meta["description"] == description
    mkdocs = (project / "docs" / "mkdocs.yml").read_text(encoding="utf-8")
    assert "Café Sales" in mkdocs and "\\u00e9" not in mkdocs
    site = yaml.safe_load(mkdocs)
    assert (site["site_name"], site["site_author"]) == ("Café Sales", "Zoë O'Brien")
    assert site["site_description"] == description
