"""What `dvc init` and `pre-commit install` write, written without starting them
(hooks/tool_files.py): the same bytes and modes as the real tools write in a scratch folder,
in projects made by scaffold and by plain cookiecutter, and the real tools still run (with
their own refusals) where the files could differ."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from scaffold.resources import PACKAGED_TEMPLATE
from tests.conftest import BIN, git, run_cookiecutter, run_scaffold, scaffold_in_process
from tests.helpers import dvc

tool_files = PACKAGED_TEMPLATE.hook("tool_files")
DVC, PRE_COMMIT = str(BIN / "dvc"), str(BIN / "pre-commit")


def files_and_modes(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every path under root but .git/, with its mode and (for files) bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] != ".git":
            content = path.read_bytes() if path.is_file() else b""
            found[relative.as_posix()] = (stat.S_IMODE(path.lstat().st_mode), content)
    return found


def new_repo(folder: Path) -> Path:
    folder.mkdir()
    git("init", "--quiet", cwd=folder)
    return folder


def real_dvc_init(folder: Path) -> Path:
    """The real ``dvc init`` (its command line, in this process)."""
    dvc("init", "--quiet", cwd=folder)
    return folder


def real_pre_commit_hook(folder: Path) -> tuple[int, bytes]:
    """The hook the real ``pre-commit install`` writes in a new repository."""
    new_repo(folder)
    subprocess.run([PRE_COMMIT, "install"], cwd=folder, check=True, capture_output=True)
    hook = folder / ".git" / "hooks" / "pre-commit"
    return stat.S_IMODE(hook.stat().st_mode), hook.read_bytes()


def hook_of(project: Path) -> tuple[int, bytes]:
    hook = project / ".git" / "hooks" / "pre-commit"
    return stat.S_IMODE(hook.stat().st_mode), hook.read_bytes()


def test_the_installed_tools_are_the_ones_whose_files_are_known():
    """Otherwise every project below falls back to the real commands and proves nothing."""
    assert tool_files.knows_dvc_init(DVC)
    assert tool_files.pre_commit_hook(PRE_COMMIT) is not None


@pytest.mark.parametrize(
    "dvcignore",
    [None, pytest.param("# the project's own\n*.tmp\n", marks=pytest.mark.slow)],
)
def test_dvc_init_files_are_what_dvc_init_writes(tmp_path: Path, dvcignore: str | None):
    real, ours = new_repo(tmp_path / "real"), new_repo(tmp_path / "ours")
    for folder in (real, ours) if dvcignore else ():
        (folder / ".dvcignore").write_text(dvcignore)
    real_dvc_init(real)
    assert tool_files.write_dvc_init(ours, lambda paths: set())
    assert files_and_modes(ours) == files_and_modes(real)
    assert (ours / ".dvc" / "tmp" / "btime").is_file()
    # DVC takes it as its own repository.
    status = subprocess.run([DVC, "status"], cwd=ours, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_the_pre_commit_hook_is_what_pre_commit_install_writes(tmp_path: Path, umask: int):
    old = os.umask(umask)
    try:
        real = real_pre_commit_hook(tmp_path / "real")
        ours = new_repo(tmp_path / "ours")
        tool_files.write_pre_commit_hook(
            ours / ".git" / "hooks", tool_files.pre_commit_hook(PRE_COMMIT)
        )
    finally:
        os.umask(old)
    assert hook_of(ours) == real
    assert f"INSTALL_PYTHON={BIN / 'python'}\n".encode() in real[1]


@pytest.mark.parametrize(
    "first_line",
    [
        "#!/bin/sh",  # pip's launcher when the path is long or has spaces: exec "/path/python"
        "#!/usr/bin/env python3",
        "#!{here}/python -E",
        "#!/elsewhere/python",
        "#!{here}/node",
    ],
)
def test_only_a_plain_interpreter_line_beside_the_script_is_taken(tmp_path: Path, first_line: str):
    launcher = tmp_path / "pre-commit"
    launcher.write_text(first_line.format(here=tmp_path) + "\nimport pre_commit\n")
    assert tool_files._script_interpreter(launcher) is None
    launcher.write_text(f"#!{tmp_path}/python3.11\nimport pre_commit\n")
    assert tool_files._script_interpreter(launcher) == f"{tmp_path}/python3.11"
    assert tool_files.pre_commit_hook(str(launcher)) is None  # not beside this interpreter


@pytest.mark.parametrize(
    "engine",
    # cookiecutter and scaffold make the same tree: tests/test_cookiecutter.py
    ["scaffold", pytest.param("cookiecutter", marks=pytest.mark.slow)],
)
def test_projects_get_the_real_tools_files(
    engine: str, workdir: Path, tmp_path: Path, template_git_repo: Path
):
    """A project made with DVC and hooks against its twin made without, where the real
    `dvc init` and `pre-commit install` then run (the template's own .dvcignore and
    .gitignore are what dvc sees)."""
    if engine == "scaffold":
        scaffold_in_process("new", "Lab", "--no-input", cwd=workdir)
    else:
        run_cookiecutter(
            f"git+file://{template_git_repo}", "--no-input", "project_name=Lab", cwd=workdir
        )
    project = workdir / "lab"
    scaffold_in_process("new", "Lab", "--no-input", "--no-dvc", "--no-pre-commit", cwd=tmp_path)
    twin = real_dvc_init(tmp_path / "lab")
    subprocess.run([PRE_COMMIT, "install"], cwd=twin, check=True, capture_output=True)
    made, real = files_and_modes(project), files_and_modes(twin)
    for files in (made, real):  # analytics and the remote follow init (tests/test_remotes.py)
        del files[".dvc/config"]
    dvc_files = [name for name in real if name.startswith((".dvc/", ".dvcignore"))]
    assert dvc_files == [name for name in made if name.startswith((".dvc/", ".dvcignore"))]
    assert ".dvc/tmp/btime" in dvc_files
    for name in [".dvc", *dvc_files]:
        assert made[name] == real[name], name
    assert (project / ".dvcignore").read_text().startswith("# Files DVC does not hash")
    assert hook_of(project) == hook_of(twin) == real_pre_commit_hook(tmp_path / "real-hook")
    assert git("status", "--porcelain", cwd=project) == ""


def test_an_existing_hook_goes_through_the_real_install(workdir: Path, tmp_path: Path):
    """A hook from git's template folder: pre-commit keeps it as pre-commit.legacy."""
    templates = tmp_path / "git-templates"
    (templates / "hooks").mkdir(parents=True)
    (templates / "hooks" / "pre-commit").write_text("#!/bin/sh\necho team hook\n")
    (templates / "hooks" / "pre-commit").chmod(0o755)
    gitconfig = Path(os.environ["GIT_CONFIG_GLOBAL"])
    gitconfig.write_text(gitconfig.read_text() + f"[init]\n\ttemplateDir = {templates}\n")
    run_scaffold("new", "Lab", "--no-input", cwd=workdir)
    hooks = workdir / "lab" / ".git" / "hooks"
    assert (hooks / "pre-commit.legacy").read_text() == "#!/bin/sh\necho team hook\n"
    assert hook_of(workdir / "lab") == real_pre_commit_hook(tmp_path / "real")


def test_core_hooks_path_is_still_refused_by_pre_commit(workdir: Path):
    gitconfig = Path(os.environ["GIT_CONFIG_GLOBAL"])
    gitconfig.write_text(gitconfig.read_text() + "[core]\n\thooksPath = /nowhere\n")
    result = run_scaffold("new", "Lab", "--no-input", cwd=workdir, check=False)
    assert result.returncode == 1
    assert "Cowardly refusing to install hooks with `core.hooksPath` set." in result.stderr
    assert list(workdir.iterdir()) == []


def post_generation(project: Path, answers: str) -> subprocess.CompletedProcess[str]:
    """Run the post-generation program in ``project`` as copier does (an answers file), with
    DVC's site cache in ``project/../site-cache`` (only a real `dvc` writes there)."""
    (project / ".copier-answers.yml").write_text(answers)
    program = Path(tool_files.__file__).parent / "post_gen_project.py"
    return subprocess.run(
        [str(BIN / "python"), str(program), "--answers-file", ".copier-answers.yml"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "DVC_SITE_CACHE_DIR": str(project.parent / "site-cache")},
    )


@pytest.mark.parametrize(
    "gitignore",
    [
        "/.dvc/config.local\n/.dvc/tmp\n/.dvc/cache\n",  # the template's
        # each a real `dvc init` (seconds): the quick tier keeps a negated pattern too
        pytest.param("tmp/\n*.local\n", marks=pytest.mark.slow),
        pytest.param("tmp\n", marks=pytest.mark.slow),
        "**/cache/\n!.dvc/cache\n",
        pytest.param(".dvc/*\n!.dvc/config\n", marks=pytest.mark.slow),
    ],
)
def test_what_git_ignores_stays_out_of_dvcs_gitignore(tmp_path: Path, gitignore: str):
    """dvc leaves out of .dvc/.gitignore what git ignores already: so does the program."""
    real, ours = new_repo(tmp_path / "real"), new_repo(tmp_path / "ours")
    for folder in (real, ours):
        (folder / ".gitignore").write_text(gitignore)
    real_dvc_init(real)
    result = post_generation(ours, '_commit: ""\ndvc_remote: "none"\nmodule_name: "lab"\n')
    assert result.returncode == 0, result.stderr
    made = files_and_modes(ours)
    for name, (mode, content) in files_and_modes(real).items():
        if name != ".dvc/config":  # analytics off
            assert made[name] == (mode, content), name
    assert not (tmp_path / "site-cache").exists()  # no dvc process ran


def test_an_ignored_dvc_folder_is_still_refused_by_dvc(tmp_path: Path):
    """dvc init refuses a .dvc/ that git ignores (quietly, with --quiet); the post-generation
    program leaves that to the real dvc."""
    project = new_repo(tmp_path / "lab")
    (project / ".gitignore").write_text(".dvc\n")
    result = post_generation(project, '_commit: ""\ndvc_remote: "none"\nmodule_name: "lab"\n')
    assert result.returncode == 1
    assert "`" + DVC + " init --quiet` failed" in result.stderr  # the real one
    assert not (project / ".dvc").exists()
