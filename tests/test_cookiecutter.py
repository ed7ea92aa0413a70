"""The same template through plain cookiecutter: hooks included, same tree as scaffold."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import git, listing, run_cookiecutter, run_scaffold, tree

OTHER_ANSWERS = {
    "project_name": "Sales Forecast",
    "author_name": "Grace Hopper",
    "author_email": "grace@example.com",
    "environment_manager": "uv",
    "open_source_license": "Apache-2.0",
    "dvc_remote": "s3",
    "dvc_remote_url": "s3://sales-bucket/dvc",
    "ci": "none",
    "docs": "none",
}


def as_extra_context(answers: dict[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in answers.items()]


def as_set_flags(answers: dict[str, str]) -> list[str]:
    return [
        arg
        for key, value in answers.items()
        if key != "project_name"
        for arg in ("--set", f"{key}={value}")
    ]


def test_plain_cookiecutter_from_a_git_clone_runs_the_hooks(template_git_repo: Path, workdir: Path):
    result = run_cookiecutter(f"git+file://{template_git_repo}", "--no-input", cwd=workdir)
    project = workdir / "my-project"
    assert "git init" in result.stdout and "git commit" in result.stdout
    assert git("rev-list", "--count", "HEAD", cwd=project) == "1"
    assert git("status", "--porcelain", cwd=project) == ""
    assert "remote = storage" in (project / ".dvc" / "config").read_text()
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
    assert (project / "notebooks" / "1.0-yn-initial-data-exploration.ipynb").is_file()


def test_directory_template_works_too(template_git_repo: Path, workdir: Path):
    run_cookiecutter(
        f"git+file://{template_git_repo}",
        "--no-input",
        "--directory",
        "template",
        "project_name=Dir Lab",
        cwd=workdir,
    )
    assert (workdir / "dir-lab" / "src" / "dir_lab" / "config.py").is_file()


@pytest.mark.parametrize(
    "answers", [{"project_name": "My Project"}, OTHER_ANSWERS], ids=["defaults", "other"]
)
def test_scaffold_and_cookiecutter_make_the_same_tree(
    template_git_repo: Path, tmp_path: Path, answers: dict[str, str]
):
    by_cookiecutter, by_scaffold = tmp_path / "cc", tmp_path / "sc"
    by_cookiecutter.mkdir()
    by_scaffold.mkdir()
    run_cookiecutter(
        f"git+file://{template_git_repo}",
        "--no-input",
        *as_extra_context(answers),
        cwd=by_cookiecutter,
    )
    # --template: the same source and version, so .copier-answers.yml records the same
    # _src_path and _commit too.
    run_scaffold(
        "new",
        answers["project_name"],
        "--no-input",
        *as_set_flags(answers),
        "--template",
        str(template_git_repo),
        cwd=by_scaffold,
    )
    (left,), (right,) = list(by_cookiecutter.iterdir()), list(by_scaffold.iterdir())
    assert left.name == right.name
    left_tree, right_tree = tree(left), tree(right)
    assert sorted(left_tree) == sorted(right_tree)
    different = [path for path in left_tree if left_tree[path] != right_tree[path]]
    assert different == []
    assert git("ls-files", cwd=left) == git("ls-files", cwd=right)


def test_cookiecutter_refuses_bad_answers_and_leaves_nothing(
    template_git_repo: Path, workdir: Path
):
    result = run_cookiecutter(
        f"git+file://{template_git_repo}",
        "--no-input",
        "module_name=class",
        cwd=workdir,
        check=False,
    )
    assert result.returncode != 0
    assert "module_name 'class' is a Python keyword." in result.stderr
    assert listing(workdir) == []


@pytest.fixture
def bare_python(tmp_path: Path) -> Path:
    """An interpreter that can import cookiecutter but has no dvc or pre-commit beside it."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(
        subprocess.run(
            [venv / "bin" / "python", "-c", purelib], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin" / "python"


def test_missing_tools_are_skipped_with_the_command_to_run_later(
    template_git_repo: Path, workdir: Path, bare_python: Path
):
    # PATH with git only: dvc and pre-commit are not installed anywhere it can see.
    git_dir = Path(
        subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    ).parent
    path = os.pathsep.join(dict.fromkeys([str(bare_python.parent), str(git_dir), "/bin"]))
    assert subprocess.run(["which", "dvc"], env={"PATH": path}, capture_output=True).returncode
    result = run_cookiecutter(
        f"git+file://{template_git_repo}",
        "--no-input",
        cwd=workdir,
        python=str(bare_python),
        env={"PATH": path},
    )
    assert (
        "skip dvc     dvc not found; run later: dvc init && dvc remote add -d storage"
        in result.stdout
    )
    assert "skip hooks   pre-commit not found; run later: pre-commit install" in result.stdout
    project = workdir / "my-project"
    assert not (project / ".dvc").exists()
    assert git("rev-list", "--count", "HEAD", cwd=project) == "1"
    assert git("status", "--porcelain", cwd=project) == ""


def test_without_git_everything_is_skipped_with_notes(
    template_git_repo: Path, workdir: Path, bare_python: Path, tmp_path: Path
):
    # Clone first (cookiecutter needs git for that), then render the local copy without git.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(template_git_repo), str(clone)], check=True)
    result = run_cookiecutter(
        str(clone),
        "--no-input",
        cwd=workdir,
        python=str(bare_python),
        env={"PATH": str(bare_python.parent)},
    )
    assert "skip git     git not found; run later: git init -b main" in result.stdout
    project = workdir / "my-project"
    assert not (project / ".git").exists() and (project / "pyproject.toml").is_file()


def run_cruft(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run cruft (its own CLI) as users do."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cruft"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"cruft {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.mark.slow
def test_cruft_create_check_and_update(tmp_path: Path, workdir: Path):
    from tests.conftest import copy_template_repo, fixture_git

    repo = copy_template_repo(tmp_path / "template")
    made = run_cruft("create", str(repo), "--directory", "template", "--no-input", cwd=workdir)
    assert "git commit" in made.stdout  # our hooks ran
    project = workdir / "my-project"
    cookiecutter_made = tmp_path / "cookiecutter"
    cookiecutter_made.mkdir()
    run_cookiecutter(str(repo), "--no-input", "--directory", "template", cwd=cookiecutter_made)
    # The same project as plain cookiecutter, plus cruft's own state file.
    assert sorted(tree(project)) == sorted([*tree(cookiecutter_made / "my-project"), ".cruft.json"])
    recorded = (project / ".copier-answers.yml").read_text()
    assert f'_src_path: "{repo}"' in recorded
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--no-verify", "-m", "cruft state", cwd=project)
    assert "up to date" in run_cruft("check", cwd=project).stdout

    with (project / "Makefile").open("a") as makefile:
        makefile.write("# mine\n")
    git("commit", "--quiet", "--no-verify", "-am", "my edit", cwd=project)
    files = repo / "template" / "{{ cookiecutter.repo_name }}"
    (files / "CHANGELOG.md").write_text("# Changes\n")
    fixture_git("add", "--all", cwd=repo)
    fixture_git("commit", "--quiet", "--no-gpg-sign", "-m", "v2", cwd=repo)
    assert run_cruft("check", cwd=project, check=False).returncode == 1  # out of date

    run_cruft("update", "--skip-apply-ask", cwd=project)
    assert (project / "CHANGELOG.md").read_text() == "# Changes\n"
    assert (project / "Makefile").read_text().endswith("# mine\n")
    assert git("rev-list", "--count", "HEAD", cwd=project) == "3"  # history kept
    assert "up to date" in run_cruft("check", cwd=project).stdout


@pytest.mark.slow
def test_cruft_refusing_an_answer_leaves_nothing(template_git_repo: Path, workdir: Path):
    result = run_cruft("create", str(template_git_repo), "--directory", "template", "--no-input",
                       "--extra-context", '{"module_name": "class"}', cwd=workdir,
                       check=False)  # fmt: skip
    assert result.returncode != 0
    assert "module_name 'class' is a Python keyword." in result.stdout + result.stderr
    assert listing(workdir) == []
