"""`scaffold new`: the rendered project, its post-generation state, and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from tests.conftest import git, listing, run_scaffold, scaffold_in_process

QUIET = ("--no-input",)


def answers_file(project: Path) -> dict[str, str]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def test_default_project_is_committed_clean_with_dvc_and_hooks(workdir: Path):
    result = run_scaffold("new", "My Project", *QUIET, cwd=workdir)
    project = workdir / "my-project"

    lines = result.stdout.splitlines()
    assert "git config --global" not in result.stdout  # git knows who commits
    steps = [line.split()[0] + " " + line.split()[1] for line in lines if line.startswith("  ")]
    # nbdime's drivers are set up here only when they are on PATH (else by `make hooks`)
    drivers = all(shutil.which(name) for name in ("git-nbdiffdriver", "git-nbmergedriver"))
    nbdime = ["nbdime git"] if drivers else []
    after = ["dvc init", "dvc remote", "pre-commit hooks", "git commit"]
    assert steps == ["git init", *nbdime, *after]

    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=project) == "main"
    assert git("rev-list", "--count", "HEAD", cwd=project) == "1"
    assert git("status", "--porcelain", "--untracked-files=all", cwd=project) == ""
    assert "Test User" in git("log", "--format=%an", cwd=project)

    dvc_config = (project / ".dvc" / "config").read_text()
    assert "remote = storage" in dvc_config
    assert "analytics = false" in dvc_config
    assert "url = ../../my-project-dvc-storage" in dvc_config  # DVC paths are relative to .dvc/
    assert "pre-commit" in (project / ".git" / "hooks" / "pre-commit").read_text()

    tracked = git("ls-files", cwd=project).splitlines()
    for expected in [
        "README.md",
        "pyproject.toml",
        "Makefile",
        ".gitignore",
        ".gitattributes",
        ".pre-commit-config.yaml",
        "dvc.yaml",
        ".dvc/config",
        ".copier-answers.yml",
        "models/.gitkeep",
        "references/.gitkeep",
        "reports/figures/.gitkeep",
        "notebooks/1.0-yn-initial-data-exploration.ipynb",
        "params/1.0-yn-initial-data-exploration.yaml",
        "src/my_project/config.py",
        "src/my_project/dataset.py",
        "src/my_project/features.py",
        "src/my_project/plots.py",
        "src/my_project/modeling/train.py",
        "src/my_project/modeling/predict.py",
        "tests/test_my_project.py",
        "docs/mkdocs.yml",
        ".github/workflows/tests.yml",
    ]:
        assert expected in tracked, expected
    # Nothing under data/ is in git, so DVC can track any data folder (`dvc add data/raw`).
    assert [path for path in tracked if path.startswith("data/")] == []
    assert (project / "data" / "raw").is_dir()
    assert "LICENSE" not in tracked  # the default license is none
    assert answers_file(project)["project_name"] == "My Project"
    assert answers_file(project)["module_name"] == "my_project"


def test_the_first_notebook_is_papermill_ready(workdir: Path):
    import nbformat

    scaffold_in_process("new", "Lab", *QUIET, "--no-git", cwd=workdir)
    notebook = workdir / "lab" / "notebooks" / "1.0-yn-initial-data-exploration.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.language_info.name == "python"
    setup = next(cell for cell in nb.cells if cell.get("id") == "setup")
    assert "from lab import" in setup.source
    tagged = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    params = yaml.safe_load(
        (workdir / "lab" / "params" / "1.0-yn-initial-data-exploration.yaml").read_text()
    )
    for name in params:
        assert f"{name}:" in tagged[0].source
    stage = yaml.safe_load((workdir / "lab" / "dvc.yaml").read_text())["stages"]
    (only,) = stage.values()
    assert "papermill" in only["cmd"]
    assert "-f params/1.0-yn-initial-data-exploration.yaml" in only["cmd"]
    assert only["outs"] == [{"reports/1.0-yn-initial-data-exploration.ipynb": {"cache": False}}]


def test_without_a_git_identity_the_author_signs_the_first_commit_only(workdir: Path, tmp_path):
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    env = {"GIT_CONFIG_GLOBAL": str(empty)}
    made = run_scaffold(
        "new",
        "Lab",
        *QUIET,
        "--no-dvc",
        "--set",
        "author_name=Ada Lovelace",
        "--set",
        "author_email=ada@example.com",
        cwd=workdir,
        env=env,
    )
    project = workdir / "lab"
    # The next step says how to set an identity, or the user's own first commit fails.
    assert (
        "set them once: git config --global user.name 'Ada Lovelace' && "
        "git config --global user.email ada@example.com"
    ) in made.stdout
    log = subprocess.run(
        ["git", "log", "--format=%an <%ae> / %cn <%ce>"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **env},
        check=True,
    ).stdout.strip()
    assert log == "Ada Lovelace <ada@example.com> / Ada Lovelace <ada@example.com>"
    assert empty.read_text() == ""
    assert "user" not in (project / ".git" / "config").read_text()


def test_flags_skip_post_generation_steps(workdir: Path):
    result = run_scaffold("new", "Lab", *QUIET, "--no-dvc", "--no-pre-commit", cwd=workdir)
    project = workdir / "lab"
    assert "--no-dvc given" in result.stdout and "--no-pre-commit given" in result.stdout
    assert not (project / ".dvc").exists()
    assert not (project / ".git" / "hooks" / "pre-commit").exists()
    assert git("rev-list", "--count", "HEAD", cwd=project) == "1"

    result = run_scaffold("new", "Other", *QUIET, "--no-git", cwd=workdir)
    assert not (workdir / "other" / ".git").exists()
    assert "run later: dvc init" in result.stdout


def test_options_turned_off_leave_no_files(workdir: Path):
    scaffold_in_process(
        "new",
        "Lab",
        *QUIET,
        "--no-git",
        "--set",
        "docs=none",
        "--set",
        "ci=none",
        "--set",
        "open_source_license=MIT",
        "--set",
        "environment_manager=conda",
        cwd=workdir,
    )
    project = workdir / "lab"
    assert not (project / "docs").exists()
    assert not (project / ".github").exists()
    assert (project / "LICENSE").read_text().startswith("MIT License")
    assert "Your Name" in (project / "LICENSE").read_text()
    assert "name: lab" in (project / "environment.yml").read_text()
    assert "mkdocs" not in (project / "Makefile").read_text()


# Every choice of every option appears in at least one project (rows cycle through choices).
MATRIX = [
    {"environment_manager": e, "open_source_license": lic, "dvc_remote": r, "ci": c, "docs": d}
    | dict(zip(("binder", "colab", "devcontainer", "app"), sharing.split(), strict=True))
    for e, lic, r, c, d, sharing in [
        ("pip", "none", "local", "github", "mkdocs", "yes no yes none"),
        ("uv", "MIT", "s3", "none", "none", "no yes no streamlit"),
        ("conda", "BSD-3-Clause", "gcs", "github", "none", "yes yes yes voila"),
        ("none", "Apache-2.0", "azure", "none", "mkdocs", "no no no none"),
        ("uv", "MIT", "ssh", "github", "mkdocs", "yes no yes streamlit"),
        ("pip", "BSD-3-Clause", "none", "none", "none", "no yes no voila"),
    ]
]
EXTRA = {
    "local": "dvc",
    "none": "dvc",
    "s3": "dvc[s3]",
    "gcs": "dvc[gs]",
    "azure": "dvc[azure]",
    "ssh": "dvc[ssh]",
}


@pytest.mark.parametrize("choices", MATRIX, ids=lambda c: "-".join(c.values()))
def test_option_matrix(workdir: Path, choices: dict[str, str]):
    sets = [arg for key, value in choices.items() for arg in ("--set", f"{key}={value}")]
    name = "Matrix " + "-".join(choices.values())
    scaffold_in_process(
        "new",
        name,
        *QUIET,
        "--no-pre-commit",
        "--set",
        "module_name=a_rather_long_module_name_for_line_length",
        *sets,
        cwd=workdir,
    )
    (project,) = workdir.iterdir()
    assert git("status", "--porcelain", cwd=project) == ""

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    assert f"{EXTRA[choices['dvc_remote']]}>=3.50" in dev
    assert {"papermill", "ipykernel", "pre-commit", "pytest", "ruff"} <= set(dev)
    license_text = (project / "LICENSE").read_text() if (project / "LICENSE").exists() else None
    if choices["open_source_license"] == "none":
        assert license_text is None and "license" not in pyproject["project"]
    else:
        assert pyproject["project"]["license"] == choices["open_source_license"]
        heading = {
            "MIT": "MIT License",
            "BSD-3-Clause": "BSD 3-Clause",
            "Apache-2.0": "Apache License",
        }[choices["open_source_license"]]
        assert heading in license_text
    assert (project / ".github").exists() == (choices["ci"] == "github")
    assert (project / "docs" / "mkdocs.yml").exists() == (choices["docs"] == "mkdocs")
    assert (project / "environment.yml").exists() == (choices["environment_manager"] == "conda")
    assert (project / "binder").exists() == (choices["binder"] == "yes")
    assert (project / ".devcontainer").exists() == (choices["devcontainer"] == "yes")
    assert (project / "app" / "app.py").exists() == (choices["app"] == "streamlit")
    first = next((project / "notebooks").glob("*.ipynb")).read_text()
    assert ("colab-setup" in first) == (choices["colab"] == "yes")

    makefile = (project / "Makefile").read_text()
    assert {
        "uv": "uv sync",
        "pip": "pip install -e",
        "conda": "conda env update",
        "none": "pip install -e",
    }[choices["environment_manager"]] in makefile
    dvc_config = (project / ".dvc" / "config").read_text()
    if choices["dvc_remote"] == "none":
        assert "remote" not in dvc_config
    else:
        url = answers_file(project)["dvc_remote_url"]
        assert url in dvc_config or choices["dvc_remote"] == "local"
    yaml_files = [project / ".pre-commit-config.yaml", project / "dvc.yaml"]
    for path in [*yaml_files, *project.glob("params/*")]:
        yaml.safe_load(path.read_text())
    # The rendered project lints clean under the project's own ruff settings.
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", "."], cwd=project, check=True, capture_output=True)
    subprocess.run([*ruff, "format", "--check", "."], cwd=project, check=True, capture_output=True)


def test_make_help_is_the_default_target(workdir: Path):
    scaffold_in_process("new", "Lab", *QUIET, "--no-git", cwd=workdir)
    out = subprocess.run(
        ["make"], cwd=workdir / "lab", capture_output=True, text=True, check=True
    ).stdout
    for target in [
        "requirements",
        "lint",
        "format",
        "test",
        "data-pull",
        "data-push",
        "notebooks",
        "notebook",
        "docs",
    ]:
        assert f"  {target} " in out, target


def test_output_dir_is_created_and_project_goes_inside(workdir: Path):
    scaffold_in_process("new", "Lab", *QUIET, "--no-git", "-o", "deep/er", cwd=workdir)
    assert (workdir / "deep" / "er" / "lab" / "pyproject.toml").is_file()
    assert not [p for p in (workdir / "deep" / "er").iterdir() if p.name != "lab"]


BAD_INPUTS = [
    (["new", "", *QUIET], "project_name must not be empty"),
    (["new", "!!!", *QUIET], "repo_name must not be empty"),
    (["new", "x", *QUIET, "--set", "module_name=class"], "Python keyword"),
    (["new", "x", *QUIET, "--set", "module_name=9lives"], "not a valid Python identifier"),
    (["new", "x", *QUIET, "--set", "repo_name=../escape"], "single folder name"),
    (["new", "x", *QUIET, "--set", "repo_name=a/b"], "single folder name"),
    (["new", "x", *QUIET, "--set", "color=red"], "unknown option 'color'"),
    (["new", "x", *QUIET, "--set", "docs=sphinx"], "not a choice for docs"),
    (["new", "x", *QUIET, "--set", "novalue"], "KEY=VALUE"),
    (["new", "x", *QUIET, "--answers-file", "missing.yml"], "cannot read answers file"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_is_one_sentence_and_changes_nothing(workdir: Path, args, message):
    before = listing(workdir)
    result = scaffold_in_process(*args, cwd=workdir, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert listing(workdir) == before
    assert not list(workdir.parent.glob("**/.scaffold-*"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("project_name: [oops", "not valid YAML"),
        ("just a string", "must be a mapping"),
        ("project_name: x\nlicense: MIT\n", "unknown option 'license'"),
        ("project_name: x\nci: travis\n", "not a choice for ci"),
    ],
)
def test_bad_answers_files(workdir: Path, content, message):
    (workdir / "answers.yml").write_text(content)
    before = listing(workdir)
    result = scaffold_in_process(
        "new", *QUIET, "--answers-file", "answers.yml", cwd=workdir, check=False
    )
    assert result.returncode == 1 and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert listing(workdir) == before


def test_answers_file_and_set_combine(workdir: Path):
    (workdir / "answers.yml").write_text("project_name: From File\ndocs: none\nci: none\n")
    scaffold_in_process(
        "new",
        *QUIET,
        "--no-git",
        "--answers-file",
        "answers.yml",
        "--set",
        "ci=github",
        cwd=workdir,
    )
    answers = answers_file(workdir / "from-file")
    assert (answers["docs"], answers["ci"]) == ("none", "github")


def test_existing_destination_is_never_touched(workdir: Path):
    mine = workdir / "lab"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep me")
    result = scaffold_in_process("new", "Lab", *QUIET, cwd=workdir, check=False)
    assert result.returncode == 1 and "already exists" in result.stderr
    assert listing(mine) == ["precious.txt"]
    assert (mine / "precious.txt").read_text() == "keep me"
    assert "Creating" not in result.stdout


def test_jinja_in_answers_is_taken_literally(workdir: Path):
    scaffold_in_process(
        "new",
        "Lab",
        *QUIET,
        "--no-git",
        "--set",
        "description={{ 7*7 }} {% raw %}",
        "--set",
        "author_name={{ cookiecutter.repo_name }}",
        cwd=workdir,
    )
    project = workdir / "lab"
    assert "{{ 7*7 }} {% raw %}" in (project / "README.md").read_text()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == "{{ 7*7 }} {% raw %}"
    assert pyproject["project"]["authors"][0]["name"] == "{{ cookiecutter.repo_name }}"
    assert "49" not in (project / "README.md").read_text()


def test_quotes_and_unicode_in_answers_keep_files_valid(workdir: Path):
    description = "Say \"hi\" \\ and 'bye' <b>"
    run_scaffold(
        "new",
        "Café Ünits",
        *QUIET,
        "--no-git",
        "--set",
        f"description={description}",
        "--set",
        "author_name=Zoë O'Brien",
        cwd=workdir,
    )
    project = workdir / "cafe-units"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == description
    assert answers_file(project)["author_name"] == "Zoë O'Brien"
    mkdocs = yaml.safe_load((project / "docs" / "mkdocs.yml").read_text())
    assert mkdocs["site_name"] == "Café Ünits"
    assert (project / "notebooks" / "1.0-zob-initial-data-exploration.ipynb").is_file()


def test_a_failing_step_leaves_no_project(workdir: Path, isolated_home: Path):
    # A real git failure: commits must be signed by a program that always fails.
    gitconfig = isolated_home / ".gitconfig"
    signing = "[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n"
    gitconfig.write_text(gitconfig.read_text() + signing)
    before = listing(workdir)
    result = run_scaffold("new", "Lab", *QUIET, "--no-dvc", cwd=workdir, check=False)
    assert result.returncode == 1
    assert "no project was created" in result.stderr and "Traceback" not in result.stderr
    assert listing(workdir) == before


def test_version_and_help_stay_light():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from typer.testing import CliRunner; from scaffold.cli import app;"
            "r = CliRunner().invoke(app, ['new', '--help']); assert r.exit_code == 0, r.output;"
            "print(sorted(m for m in ('cookiecutter', 'dvc', 'jinja2', 'yaml', 'nbformat', 'rich')"
            " if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "[]"
    version = subprocess.run(
        [sys.executable, "-m", "scaffold", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("scaffold ")


def test_shell_completion_is_available():
    # typed in bash: typer finds the shell among scaffold's parent processes (shellingham),
    # so bash stays the parent here (a list, which bash does not replace with its command)
    result = subprocess.run(
        ["bash", "-c", '"$0" -m scaffold --show-completion; exit $?', sys.executable],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "complete -o" in result.stdout, result.stderr


def test_recorded_answers_replay_the_same_project(workdir: Path, tmp_path: Path):
    scaffold_in_process("new", "Lab", *QUIET, "--no-git", "--set", "dvc_remote=s3", cwd=workdir)
    again = tmp_path / "again"
    again.mkdir()
    scaffold_in_process(
        "new",
        *QUIET,
        "--no-git",
        "--answers-file",
        str(workdir / "lab" / ".copier-answers.yml"),
        cwd=again,
    )
    from tests.conftest import tree

    assert tree(again / "lab") == tree(workdir / "lab")
    assert json.dumps(answers_file(again / "lab"))


@pytest.mark.parametrize(
    ("manager", "steps"),
    [
        ("pip", "make create_environment, source .venv/bin/activate, make requirements"),
        ("virtualenv", "make create_environment, source .venv/bin/activate, make requirements"),
        ("conda", "make create_environment, conda activate lab, make requirements"),
        ("uv", "make create_environment, make requirements"),
        ("poetry", "make create_environment, make requirements"),
    ],
)
def test_next_says_to_activate_where_the_makefile_installs_into_the_active_python(
    workdir: Path, manager: str, steps: str
):
    """pip's `make requirements` runs `python -m pip`: unactivated, that is the system's."""
    result = scaffold_in_process(
        "new", "Lab", *QUIET, "--no-git", "--set", f"environment_manager={manager}", cwd=workdir
    )
    assert f"Next: cd lab, then {steps}\n" in result.stdout
    if manager in ("pip", "virtualenv", "conda"):  # what the Makefile says too
        makefile = (workdir / "lab" / "Makefile").read_text().replace("$(PROJECT_NAME)", "lab")
        assert "PROJECT_NAME = lab\n" in makefile
        assert f"Activate it with: {steps.split(', ')[1]}" in makefile
