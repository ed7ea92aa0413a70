"""Sharing (issue 16): Binder, Colab, dev containers and Codespaces, badges, nbdime's git
drivers, `scaffold report` and the web apps. The quick tests render projects; the slow ones
install one project (the Binder way) and use it for real: repo2docker's plan, the Colab cell
against a local clone, `git diff` through nbdime, reports converted by nbconvert, and the apps
served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import yaml

from scaffold.errors import ScaffoldError
from scaffold.generate import new_project
from scaffold.notebooks import Cell, Colab, add_notebook, build_notebook, notebook_text
from scaffold.options import resolve_answers
from scaffold.parameters import Parameter
from scaffold.project import open_project
from scaffold.promote import promote
from scaffold.report import _move_into_place, plan_report
from tests.conftest import BIN, UV_CACHE_DIR, git, listing, run_scaffold, scaffold_in_process
from tests.helpers import free_port, serves

FIRST = "1.0-yn-initial-data-exploration"
SKIP_ALL = ("git", "dvc", "pre-commit")
BINDER = (
    "[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/{repo}/main"
    "?labpath=notebooks%2F{stem}.ipynb)"
)
COLAB = (
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/{repo}/blob/main/notebooks/{stem}.ipynb)"
)
CODESPACES = (
    "[![Open in GitHub Codespaces](https://github.com/codespaces/badge.svg)]"
    "(https://codespaces.new/{repo})"
)
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def render(where: Path, **given: str) -> Path:
    """A project rendered in-process (options checked, post-generation without git, DVC or
    hooks): ``where/<repo_name>``."""
    where.mkdir(parents=True, exist_ok=True)
    return new_project(resolve_answers({"project_name": "Lab", **given}), where, skip=SKIP_ALL)


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("defaults"))


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every sharing option on: Binder, Colab, a dev container, the Streamlit app."""
    return render(
        tmp_path_factory.mktemp("everything"),
        colab="yes",
        app="streamlit",
        github_repo="acme/lab-notes",
    )


def readme_badges(project: Path) -> list[str]:
    return [line for line in (project / "README.md").read_text().splitlines() if "[![" in line]


# -- the options ----------------------------------------------------------------------------


def test_the_defaults_share_through_binder_and_codespaces(defaults: Path):
    answers = yaml.safe_load((defaults / ".copier-answers.yml").read_text())
    assert {key: answers[key] for key in ("binder", "colab", "devcontainer", "app")} == {
        "binder": "yes",
        "colab": "no",
        "devcontainer": "yes",
        "app": "none",
    }
    assert answers["github_repo"] == "your-name/lab"  # author_name slugified / repo_name
    assert readme_badges(defaults) == [
        BINDER.format(repo="your-name/lab", stem=FIRST),
        CODESPACES.format(repo="your-name/lab"),
    ]
    assert sorted(path.name for path in (defaults / "binder").iterdir()) == [
        "postBuild",
        "requirements.txt",
        "runtime.txt",
    ]
    assert (defaults / ".devcontainer" / "devcontainer.json").is_file()
    assert not (defaults / "app").exists() and not (defaults / "tests" / "test_app.py").exists()
    cells = json.loads((defaults / "notebooks" / f"{FIRST}.ipynb").read_text())["cells"]
    assert cells[0]["id"] == "title"  # no Colab cells
    assert "app" not in (defaults / "pyproject.toml").read_text().split("[project.optional")[1]


def test_every_sharing_option_off_leaves_no_trace(tmp_path: Path):
    project = render(tmp_path, binder="no", devcontainer="no", colab="no", app="none")
    assert readme_badges(project) == []
    assert not (project / "binder").exists() and not (project / ".devcontainer").exists()
    readme = (project / "README.md").read_text()
    assert readme.startswith("# Lab\n\nA short description of the project.\n")
    assert "mybinder" not in readme and "codespaces" not in readme.lower()


def test_everything_on(everything: Path):
    repo = "acme/lab-notes"
    assert readme_badges(everything) == [
        BINDER.format(repo=repo, stem=FIRST),
        COLAB.format(repo=repo, stem=FIRST),
        CODESPACES.format(repo=repo),
    ]
    assert (everything / "app" / "app.py").is_file()
    assert (everything / "tests" / "test_app.py").is_file()
    assert 'app = ["streamlit"]' in (everything / "pyproject.toml").read_text()
    makefile = (everything / "Makefile").read_text()
    assert 'pip install -e ".[dev,app]"' in makefile
    assert "streamlit run app/app.py --server.address 127.0.0.1" in makefile
    assert (everything / "binder" / "requirements.txt").read_text().splitlines()[-1] == (
        "-e .[dev,app]"
    )


def test_github_repo_is_asked_only_for_the_badges():
    asked: list[str] = []

    def ask(option: object, default: str) -> str:
        asked.append(getattr(option, "name", ""))
        return default

    resolve_answers({"binder": "no", "devcontainer": "no", "colab": "no"}, ask=ask)
    assert "github_repo" not in asked and "app" in asked
    asked.clear()
    resolve_answers({"binder": "no", "devcontainer": "no", "colab": "yes"}, ask=ask)
    assert "github_repo" in asked


def test_github_repos_default_follows_the_author_and_the_repository():
    answers = resolve_answers({"project_name": "Churn Model", "author_name": "Ada Lovelace"})
    assert answers["github_repo"] == "ada-lovelace/churn-model"
    long_name = resolve_answers({"author_name": "Maximiliane " * 5})["github_repo"]
    owner = long_name.split("/")[0]
    assert len(owner) <= 39 and not owner.endswith("-")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"github_repo": "acme"}, "github_repo 'acme' must be OWNER/NAME as on GitHub, e.g. "),
        ({"github_repo": "acme/lab/x"}, "github_repo 'acme/lab/x' must be OWNER/NAME"),
        ({"github_repo": "-acme/lab"}, "github_repo '-acme/lab' must be OWNER/NAME"),
        ({"github_repo": "ac--me/lab"}, "github_repo 'ac--me/lab' must be OWNER/NAME"),
        ({"github_repo": "acme/.."}, "github_repo 'acme/..' must be OWNER/NAME"),
        ({"github_repo": 'acme/la"b'}, "must be OWNER/NAME"),
        ({"github_repo": "acme/lab)](javascript:x"}, "must be OWNER/NAME"),
        ({"github_repo": "{{ 7*7 }}/lab"}, "github_repo '{{ 7*7 }}/lab' must be OWNER/NAME"),
        ({"app": "flask"}, "'flask' is not a choice for app; choose one of: none, streamlit,"),
        ({"colab": "maybe"}, "'maybe' is not a choice for colab"),
    ],
)
def test_bad_sharing_answers_are_refused_with_one_sentence(given: dict[str, str], message: str):
    with pytest.raises(ScaffoldError) as refused:
        resolve_answers(given)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_bad_github_repo_creates_nothing(workdir: Path):
    result = scaffold_in_process(
        "new", "Lab", "--no-input", "--set", "github_repo=acme", cwd=workdir, check=False
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: github_repo 'acme' must be OWNER/NAME as on GitHub, e.g. acme/churn-model (the "
        "owner: letters, digits and single '-'; the name: letters, digits, '.', '_' and '-').\n"
    )
    assert listing(workdir) == []


def test_a_streamlit_app_needs_the_example_code(workdir: Path):
    result = scaffold_in_process(
        "new", "Lab", "--no-input", "--set", "app=streamlit", "--set", "example_code=no",
        "--set", "pydata_packages=none", cwd=workdir, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: app=streamlit needs example_code=yes: the app shows data through the package's "
        "dataset and plots modules (app=voila serves a notebook instead)."
    )
    assert listing(workdir) == []


def test_a_project_name_with_quotes_makes_a_clean_app(tmp_path: Path):
    project = render(tmp_path, project_name='Lab "Q"', repo_name="lab", app="streamlit")
    assert "TITLE = 'Lab \"Q\"'" in (project / "app" / "app.py").read_text()
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=project, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((project / ".devcontainer" / "devcontainer.json").read_text())["name"] == (
        'Lab "Q"'
    )


# -- Binder ---------------------------------------------------------------------------------


def test_binder_uses_the_projects_python_and_an_editable_install(tmp_path: Path):
    project = render(tmp_path, python_version="3.10")
    binder = project / "binder"
    assert (binder / "runtime.txt").read_text() == "python-3.10\n"
    assert (binder / "requirements.txt").read_text().splitlines()[-1] == "-e .[dev]"
    post_build = (binder / "postBuild").read_text()
    assert "python -m ipykernel install --sys-prefix --name python3" in post_build
    # repo2docker's own plan for it (no Docker needed): the project's Python, then pip from the
    # repository's folder after the files are copied in, so `-e .` is the repository
    plan = subprocess.run(
        [str(BIN / "jupyter-repo2docker"), "--no-build", "--debug", str(project)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    output = plan.stdout + plan.stderr
    assert plan.returncode == 0, output
    assert "Building conda environment for python=3.10" in output
    assert "Python version unspecified" not in output
    copy = output.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    install = output.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    assert copy < install < output.index("./binder/postBuild")
    assert re.search(r"^WORKDIR \$\{REPO_DIR\}$", output, re.MULTILINE)


# -- the dev container ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manager", "command"),
    [
        ("pip", "make create_environment && . .venv/bin/activate && make requirements hooks"),
        ("uv", "pipx install uv && make create_environment requirements hooks"),
        ("poetry", "pipx install poetry && make create_environment requirements hooks"),
        ("pipenv", "pipx install pipenv && make create_environment requirements hooks"),
        (
            "virtualenv",
            "pipx install virtualenv && make create_environment && . .venv/bin/activate && "
            "make requirements hooks",
        ),
        ("conda", "make create_environment && conda run --no-capture-output --name lab make hooks"),
        ("none", "python -m venv .venv && . .venv/bin/activate && make requirements hooks"),
    ],
)
def test_the_dev_container_builds_the_environment_its_own_way(
    tmp_path: Path, manager: str, command: str
):
    project = render(tmp_path, environment_manager=manager, python_version="3.12", app="voila")
    config = json.loads((project / ".devcontainer" / "devcontainer.json").read_text())
    assert config["image"] == "mcr.microsoft.com/devcontainers/python:3.12"
    assert config["postCreateCommand"] == command
    assert config["customizations"]["vscode"]["extensions"] == [
        "ms-python.python",
        "ms-toolsai.jupyter",
    ]
    assert config["forwardPorts"] == [8888, 8866]
    assert ("features" in config) == (manager == "conda")
    # every make target it names exists, and `make hooks` sets up nbdime
    makefile = (project / "Makefile").read_text()
    for target in re.findall(r"make ((?:[\w-]+ ?)+)", command):
        for name in target.split():
            assert re.search(rf"^{name}:", makefile, re.MULTILINE), name
    hooks = makefile.split("\nhooks:\n")[1].split("\n\n")[0]
    assert "nbdime config-git --enable" in hooks and "pre-commit install" in hooks


# -- Colab ----------------------------------------------------------------------------------


def test_the_first_notebook_with_colab_is_the_builders_output(everything: Path):
    rendered = (everything / "notebooks" / f"{FIRST}.ipynb").read_text()
    cells = json.loads(rendered)["cells"]
    assert [cell["id"] for cell in cells[:3]] == ["colab-badge", "colab-setup", "title"]
    body = [Cell(c["id"], c["cell_type"], "".join(c["source"])) for c in cells[5:-1]]  # no metrics
    built = build_notebook(
        FIRST,
        title="Initial data exploration",
        purpose="a first look at the raw data: its shape, its columns and their distributions.",
        imports=["import pandas as pd", "", "from lab import dataset, plots",
                 "from lab.config import RAW_DATA_DIR"],
        parameters=[
            Parameter("input_file", "str", "dataset.csv", "a CSV file under data/raw/"),
            Parameter("preview_rows", "int", 5, "rows shown in the preview"),
        ],
        body=body,
        code_folder="src/lab/",
        run_command=f"make notebook NB={FIRST}",
        production=True,
        colab=Colab("acme/lab-notes"),
    )  # fmt: skip
    assert notebook_text(built) == rendered
    assert "".join(cells[0]["source"]) == COLAB.format(repo="acme/lab-notes", stem=FIRST)


def test_added_notebooks_get_the_colab_cells_for_their_own_path(everything: Path, tmp_path: Path):
    project = tmp_path / "lab"
    shutil.copytree(everything, project)
    run_scaffold("add", "notebook", "clean data", "--author", "yn", cwd=project)
    nb = nbformat.read(project / "notebooks" / "1.1-yn-clean-data.ipynb", as_version=4)
    assert [cell.id for cell in nb.cells[:3]] == ["colab-badge", "colab-setup", "title"]
    assert nb.cells[0].source == COLAB.format(repo="acme/lab-notes", stem="1.1-yn-clean-data")
    assert nb.cells[1].source == Colab("acme/lab-notes").setup()
    # the project's own notebook template gets them too, unless it has them
    override = project / ".scaffold" / "templates" / "notebook.ipynb"
    override.parent.mkdir(parents=True)
    template = nbformat.v4.new_notebook()
    template.cells = [nbformat.v4.new_markdown_cell("# {{ title }}", id="title")]
    nbformat.write(template, override)
    run_scaffold("add", "notebook", "team view", "--author", "yn", cwd=project)
    nb = nbformat.read(project / "notebooks" / "1.2-yn-team-view.ipynb", as_version=4)
    assert [cell.id for cell in nb.cells] == ["colab-badge", "colab-setup", "title"]
    assert "notebooks/1.2-yn-team-view.ipynb" in nb.cells[0].source
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "notebooks"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=project, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    result = run_scaffold("check", "--no-cache", cwd=project, check=False)
    assert result.returncode == 0, result.stdout  # no !pip, no absolute path, nothing undeclared


def test_notebooks_of_a_project_without_colab_have_no_colab_cells(defaults: Path, tmp_path: Path):
    project = tmp_path / "lab"
    shutil.copytree(defaults, project)
    add_notebook(open_project(project), "clean data", author="yn")
    nb = nbformat.read(project / "notebooks" / "1.1-yn-clean-data.ipynb", as_version=4)
    assert nb.cells[0].id == "title" and "colab" not in notebook_text(nb)


def test_a_broken_github_repo_in_the_answers_file_is_one_sentence(everything: Path, tmp_path: Path):
    project = tmp_path / "lab"
    shutil.copytree(everything, project)
    answers = project / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace('"acme/lab-notes"', '"acme/lab\\")"'))
    before = listing(project)
    result = scaffold_in_process("add", "notebook", "x", cwd=project, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: github_repo 'acme/lab\")' must be OWNER/NAME")
    assert result.stderr.rstrip().endswith("; fix it in .copier-answers.yml.")
    assert listing(project) == before


@pytest.mark.parametrize("has_parameters", [True, False])
def test_promote_rename_moves_the_colab_badge(
    everything: Path, tmp_path: Path, has_parameters: bool
):
    project = tmp_path / "lab"
    shutil.copytree(everything, project)
    add_notebook(open_project(project), "churn", author="yn")
    made = project / "notebooks" / "1.1-yn-churn.ipynb"
    old = project / "notebooks" / "churn-explore.ipynb"  # renamed by hand, badge and all
    text = made.read_text().replace("1.1-yn-churn.ipynb", "churn-explore.ipynb")
    made.unlink()
    nb = nbformat.reads(text, as_version=4)
    if not has_parameters:  # an exploratory notebook: a literal to promote, no parameters cell
        nb.cells = [cell for cell in nb.cells if cell.id != "parameters"]
        nb.cells.append(nbformat.v4.new_code_cell("alpha = 0.5", id="alpha"))
    nbformat.write(nb, old)
    promote(open_project(project), "churn-explore", run=False, rename=True, cwd=project)
    (renamed,) = [p for p in (project / "notebooks").glob("1.*-churn-explore.ipynb")]
    cells = nbformat.read(renamed, as_version=4).cells
    assert cells[0].source == COLAB.format(repo="acme/lab-notes", stem=renamed.stem)
    assert not old.exists()


# -- nbdime in post-generation (without nbdime here) -----------------------------------------


def test_without_nbdime_the_project_keeps_plain_git_diffs(workdir: Path):
    env = {"PATH": f"{BIN}{os.pathsep}{SYSTEM_PATH}"}  # scaffold's tools, no nbdime
    assert shutil.which("git-nbdiffdriver", path=env["PATH"]) is None
    result = run_scaffold("new", "Lab", "--no-input", "--no-dvc", "--no-pre-commit", cwd=workdir,
                          env=env)  # fmt: skip
    assert "nbdime" not in result.stdout
    config = git("config", "--list", "--local", cwd=workdir / "lab")
    assert "jupyternotebook" not in config


# -- scaffold report: what is refused before anything runs ----------------------------------


def test_report_needs_the_executed_notebook(defaults: Path, tmp_path: Path):
    project = tmp_path / "lab"
    shutil.copytree(defaults, project)
    before = listing(project)
    result = scaffold_in_process("report", "1.0", cwd=project, check=False)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: reports/{FIRST}.ipynb does not exist yet: run the notebook first (scaffold run "
        f"{FIRST}, or make notebook NB={FIRST}), or add --execute to run it now.\n"
    )
    bad = scaffold_in_process("report", "1.0", "--to", "pdf", cwd=project, check=False)
    assert bad.returncode == 1
    assert bad.stderr == "error: --to must be one of html, markdown, slides, got 'pdf'.\n"
    # make report says the same in one sentence, without scaffold
    made = subprocess.run(["make", "report"], cwd=project, capture_output=True, text=True)
    assert made.returncode != 0
    assert made.stderr.splitlines()[0] == (
        f"error: reports/{FIRST}.ipynb does not exist yet; run the notebook first: "
        f"make notebook NB={FIRST}"
    )
    assert listing(project) == before


def test_report_refuses_the_output_of_a_failed_run(defaults: Path, tmp_path: Path):
    project = tmp_path / "lab"
    shutil.copytree(defaults, project)
    failed = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 / 0", id="boom")
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="x")]
    failed.cells = [cell]
    nbformat.write(failed, project / "reports" / f"{FIRST}.ipynb")
    with pytest.raises(ScaffoldError, match="is the output of a run that failed; fix notebooks/"):
        plan_report(open_project(project), f"reports/{FIRST}.ipynb", cwd=project)
    plan = plan_report(open_project(project), "1.0", execute=True, cwd=project)
    assert plan.run is not None and plan.output == project / "reports" / f"{FIRST}.html"


def test_a_new_report_replaces_the_old_one_and_its_figures(tmp_path: Path):
    reports, staging = tmp_path / "reports", tmp_path / "reports" / ".scaffold-report-x"
    (staging / "nb_files").mkdir(parents=True)
    (staging / "nb.md").write_text("new")
    (staging / "nb_files" / "new.png").write_text("png")
    (reports / "nb_files").mkdir()
    (reports / "nb_files" / "old.png").write_text("old figure")
    (reports / "nb.md").write_text("old")
    written = _move_into_place(staging, reports, tmp_path)
    assert [str(change) for change in written] == [
        "update reports/nb.md",
        "update reports/nb_files/",
    ]
    assert (reports / "nb.md").read_text() == "new"
    assert sorted(path.name for path in (reports / "nb_files").iterdir()) == ["new.png"]
    fresh = reports / ".scaffold-report-y"
    fresh.mkdir()
    (fresh / "nb.html").write_text("html")
    assert [str(c) for c in _move_into_place(fresh, reports, tmp_path)] == [
        "create reports/nb.html"
    ]


# -- end to end: one installed project -------------------------------------------------------


def uv(*args: str, cwd: Path) -> None:
    env = {**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR}
    subprocess.run([sys.executable, "-m", "uv", *args], cwd=cwd, env=env, check=True)


def make(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``make`` in the project, its .venv active (the pip manager's RUN is empty)."""
    env = {**os.environ, "PATH": f"{project / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["make", *args], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"make {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def binder_lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with every sharing option (git, no DVC), installed as Binder installs it:
    ``binder/requirements.txt`` from the project's folder (with uv and its cache instead of
    pip), into ``.venv`` (where scaffold and make find it)."""
    folder = tmp_path_factory.mktemp("lab")
    run_scaffold("new", "Lab", "--no-input", "--no-dvc", "--no-pre-commit",
                 "--set", "colab=yes", "--set", "app=streamlit",
                 "--set", "github_repo=acme/lab", cwd=folder)  # fmt: skip
    project = folder / "lab"
    uv("venv", "--quiet", "--python", sys.executable, ".venv", cwd=project)
    uv("pip", "install", "--quiet", "--python", ".venv/bin/python", "-r",
       "binder/requirements.txt", cwd=project)  # fmt: skip
    return project


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    """Servers a test starts; each is stopped (its process group) afterwards."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def listening(port: int, seconds: float) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PATH": f"{project / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen(
        ["make", *args], cwd=project, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip


@pytest.mark.slow
def test_the_installed_project_resolves_its_paths_to_the_repository(
    binder_lab: Path, tmp_path: Path
):
    probe = "import lab.config as c; print(c.PROJ_ROOT)"
    python = str(binder_lab / ".venv" / "bin" / "python")
    editable = subprocess.run([python, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert editable.stdout.strip() == str(binder_lab)  # from anywhere
    # a plain `pip install .` (repo2docker's default, a Docker image): the source is not beside
    # the package, so config.py finds the project from the working folder
    copy = tmp_path / "wheel-venv"
    uv("venv", "--quiet", "--python", sys.executable, str(copy), cwd=tmp_path)
    uv("pip", "install", "--quiet", "--python", str(copy / "bin" / "python"), "--no-deps",
       str(binder_lab), "python-dotenv", cwd=tmp_path)  # fmt: skip
    installed = subprocess.run(
        [str(copy / "bin" / "python"), "-c", probe + "; print(c.__file__)"],
        cwd=binder_lab / "notebooks", capture_output=True, text=True, check=True,
    )  # fmt: skip
    root, module = installed.stdout.split()
    assert root == str(binder_lab) and "site-packages" in module


@pytest.mark.slow
def test_the_generated_projects_own_tests_run_the_app(binder_lab: Path):
    # make exports command-line variables: pytest gets -v and only the app's test file
    result = make(binder_lab, "test", "PYTEST_ADDOPTS=-v tests/test_app.py")
    assert "tests/test_app.py::test_the_app_shows_the_data_and_its_histograms PASSED" in (
        result.stdout
    )


@pytest.mark.slow
def test_the_streamlit_app_is_served(
    binder_lab: Path, servers: list[subprocess.Popen[str]], tmp_path: Path
):
    port = free_port()
    servers.append(start(binder_lab, "app", f"APP_ARGS=--server.port {port}"))
    assert serves(f"http://127.0.0.1:{port}/_stcore/health", 180) == "ok"
    page = serves(f"http://127.0.0.1:{port}/", 30)
    assert "<title>Streamlit</title>" in page and '<div id="root">' in page
    if shutil.which("chromium") is None:
        return  # Debian's chromium (apt-get install chromium) adds a look in a real browser
    # The app runs in the browser's session: its title, its table and the histograms show.
    screenshot = tmp_path / "app.png"
    seen = subprocess.run(
        [str(binder_lab / ".venv" / "bin" / "python"), str(Path(__file__).with_name("browser.py")),
         f"http://127.0.0.1:{port}/", "Distributions", "1", str(screenshot)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    shown = json.loads(seen.stdout)
    # Streamlit's toolbar shows "Stop" while the script runs: look for the title, not the order
    assert "Lab" in shown["text"].split("\n")
    assert "Showing a demo table." in shown["text"] and "Data\nDistributions" in shown["text"]
    assert shown["images"] >= 1  # plots.histograms
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 20_000


@pytest.mark.slow
def test_git_diff_of_a_notebook_is_nbdimes_cell_diff(binder_lab: Path):
    result = make(binder_lab, "hooks")
    assert ">>> git diff and git merge of notebooks use nbdime" in result.stdout
    assert (binder_lab / ".git" / "hooks" / "pre-commit").is_file()
    notebook = binder_lab / "notebooks" / f"{FIRST}.ipynb"
    original = notebook.read_text()
    nb = nbformat.reads(original, as_version=4)
    (describe,) = [cell for cell in nb.cells if cell.id == "describe"]
    describe.source = "frame.describe().T"
    notebook.write_text(notebook_text(nb))
    try:
        # the environment is not active: git finds the drivers by their full paths
        plain = {**os.environ, "PATH": SYSTEM_PATH}
        diff = subprocess.run(
            ["git", "diff"], cwd=binder_lab, env=plain, capture_output=True, text=True
        )
    finally:
        notebook.write_text(original)
    assert diff.returncode == 0, diff.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", diff.stdout)
    index = [cell.id for cell in nb.cells].index("describe")
    assert f"## modified /cells/{index}/source:" in text
    assert "-  frame.describe()\n+  frame.describe().T" in text
    assert '"source": [' not in text  # not the JSON text diff
    driver = git("config", "merge.jupyternotebook.driver", cwd=binder_lab)
    assert driver == f"{binder_lab / '.venv' / 'bin'}/git-nbmergedriver merge %O %A %B %L %P"


@pytest.mark.slow
def test_scaffold_new_configures_nbdime_when_it_is_installed(binder_lab: Path, workdir: Path):
    venv_bin = binder_lab / ".venv" / "bin"
    env = {"PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    result = run_scaffold("new", "Other", "--no-input", "--no-dvc", "--no-pre-commit",
                          cwd=workdir, env=env)  # fmt: skip
    assert "  nbdime       git diff and merge of notebooks (nbdime)" in result.stdout
    project = workdir / "other"
    assert git("config", "diff.jupyternotebook.command", cwd=project) == (
        f"{venv_bin}/git-nbdiffdriver diff"
    )
    notebook = project / "notebooks" / f"{FIRST}.ipynb"
    notebook.write_text(notebook.read_text().replace("frame.describe()", "frame.describe().T"))
    plain = {**os.environ, "PATH": SYSTEM_PATH}
    diff = subprocess.run(["git", "diff"], cwd=project, env=plain, capture_output=True, text=True)
    assert "/source:" in re.sub(r"\x1b\[[0-9;]*m", "", diff.stdout), diff.stdout + diff.stderr
    assert git("rev-list", "--count", "HEAD", cwd=project) == "1"
    assert git("status", "--porcelain", "--untracked-files=no", cwd=project) == (
        f"M notebooks/{FIRST}.ipynb"
    )


@pytest.mark.slow
def test_a_report_shows_the_outputs_without_the_code(binder_lab: Path):
    result = run_scaffold("report", "1.0", "--execute", "--no-input", cwd=binder_lab)
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        f"run notebooks/{FIRST}.ipynb -> reports/{FIRST}.ipynb (params/{FIRST}.yaml)",
        f"create reports/{FIRST}.html",
    ]  # and the executed notebook, published with it
    assert lines[2:] in ([f"create reports/{FIRST}.ipynb"], [f"update reports/{FIRST}.ipynb"])
    html = (binder_lab / "reports" / f"{FIRST}.html").read_text()
    assert '<table border="1" class="dataframe">' in html  # frame.head() and describe()
    assert "data:image/png;base64," in html  # the histograms
    assert "Initial data exploration" in html  # the text cells stay
    assert "dataset.clean(" not in html and "preview_rows" not in html  # no code
    assert [path.name for path in (binder_lab / "reports").glob(".scaffold-report-*")] == []
    # again with the code, and as Markdown: the figure beside it, the report replaced
    again = run_scaffold("report", f"reports/{FIRST}.ipynb", "--to", "markdown", cwd=binder_lab)
    assert again.stdout.splitlines() == [
        f"create reports/{FIRST}.md",
        f"create reports/{FIRST}_files/",
    ]
    markdown = (binder_lab / "reports" / f"{FIRST}.md").read_text()
    assert "dataset.clean(" in markdown
    (figure,) = (binder_lab / "reports" / f"{FIRST}_files").glob("*.png")
    assert f"]({FIRST}_files/{figure.name})" in markdown
    # make report: nbconvert without scaffold
    make(binder_lab, "report", "TO=slides", "NO_INPUT=1")
    slides = (binder_lab / "reports" / f"{FIRST}.slides.html").read_text()
    assert "reveal" in slides and "data:image/png;base64," in slides
    # nbconvert failing (an executed copy that is not a notebook) changes nothing
    (binder_lab / "reports" / f"{FIRST}.ipynb").write_text("{not json")
    before = {
        path: path.read_bytes() for path in (binder_lab / "reports").rglob("*") if path.is_file()
    }
    broken = run_scaffold("report", "1.0", cwd=binder_lab, check=False)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert broken.stderr.startswith(f"error: nbconvert could not convert reports/{FIRST}.ipynb: ")
    after = {
        path: path.read_bytes() for path in (binder_lab / "reports").rglob("*") if path.is_file()
    }
    assert after == before


@pytest.mark.slow
def test_the_colab_cell_clones_and_installs_the_project_only_in_colab(
    binder_lab: Path, tmp_path: Path
):
    # Colab: a Python with pip and the usual packages, google.colab imported at start-up, the
    # notebook alone in /content. Here: a venv, a fake google.colab, an empty folder, and git
    # told to fetch github.com/acme/lab from the project's own repository.
    python = tmp_path / "colab" / "bin" / "python"
    uv("venv", "--quiet", "--seed", "--python", sys.executable, str(python.parent.parent),
       cwd=tmp_path)  # fmt: skip
    uv("pip", "install", "--quiet", "--python", str(python), "pandas", "numpy", "matplotlib",
       "python-dotenv", cwd=tmp_path)  # fmt: skip
    fake = tmp_path / "fake" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""A stand-in for Colab\'s module."""\n')
    content = tmp_path / "content"
    content.mkdir()
    cells = nbformat.read(binder_lab / "notebooks" / f"{FIRST}.ipynb", as_version=4).cells
    setup = next(cell.source for cell in cells if cell.id == "colab-setup")
    script = (
        "import json, sys\n"
        "if len(sys.argv) > 1:\n"
        "    import google.colab\n"
        f"exec({setup!r}, {{}})\n"
        f"exec({setup!r}, {{}})  # run twice: the second run reuses the clone\n"
        "try:\n"
        "    import lab.config as config\n"
        "except ImportError:\n"
        "    print(json.dumps(None))\n"
        "else:\n"
        "    found = [config.PROJ_ROOT, config.RAW_DATA_DIR, config.__file__]\n"
        "    print(json.dumps([str(path) for path in found]))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "fake"),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.file://{binder_lab}.insteadOf",
        "GIT_CONFIG_VALUE_0": "https://github.com/acme/lab.git",
    }
    outside = subprocess.run([str(python), "-c", script], cwd=content, env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(outside.stdout) is None and listing(content) == []  # not Colab: nothing
    inside = subprocess.run([str(python), "-c", script, "colab"], cwd=content, env=env,
                            capture_output=True, text=True, check=False, timeout=600)  # fmt: skip
    assert inside.returncode == 0, inside.stderr
    root, raw, module = json.loads(inside.stdout.splitlines()[-1])
    clone = content / "lab"
    assert (root, raw) == (str(clone), str(clone / "data" / "raw"))
    assert module == str(clone / "src" / "lab" / "config.py")
    assert git("log", "--format=%s", cwd=clone) == "Initial commit from the scaffold template"
    assert inside.stderr.count("Cloning into") == 1


@pytest.mark.slow
def test_a_notebook_is_served_as_a_voila_app(tmp_path: Path, servers: list[subprocess.Popen[str]]):
    run_scaffold("new", "Vo", "--no-input", "--no-git", "--no-dvc", "--no-pre-commit",
                 "--set", "app=voila", cwd=tmp_path)  # fmt: skip
    project = tmp_path / "vo"
    uv("venv", "--quiet", "--python", sys.executable, ".venv", cwd=project)
    uv("pip", "install", "--quiet", "--python", ".venv/bin/python", "-e", ".[app]", cwd=project)
    port = free_port()
    servers.append(start(project, "app", f"APP_ARGS=--port={port}"))
    listening(port, 120)
    # the page streams while Voila runs the notebook: read it with a patient timeout
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=300) as response:
        page = response.read().decode()
    assert "Initial data exploration" in page  # the notebook, run and rendered
    # its outputs (rendered in the browser from the notebook's output data): table, figure
    assert 'table border=\\"1\\" class=\\"dataframe\\"' in page
    assert '"image/png": "iVBOR' in page  # a PNG
    assert "dataset.clean(" not in page  # without the code
