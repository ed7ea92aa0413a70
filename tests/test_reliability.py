"""Reliability: real signals on real processes, kills injected at a rename, parallel runs of
every mutating command, and what scaffold leaves behind (nothing)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import (
    git,
    listing,
    run_scaffold,
    scaffold_in_process,
)
from tests.helpers import alive as _alive
from tests.helpers import scaffold_command, start_and_signal
from tests.helpers import wait_for as _wait_for

STRACE = shutil.which("strace")
KEY_ID = "AKIAFAKEKEYID4RELIABLE"
SECRET = "fake/Secret+Key=reliability-never-in-git"


def quiet_env() -> dict[str, str]:
    """The test's environment, without bytecode writes (they would add renames)."""
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def make_project(workdir: Path, name: str = "Lab", *args: str) -> Path:
    """A real project with git and DVC (no pre-commit: its hooks cannot be fetched here)."""
    scaffold_in_process("new", name, "--no-input", "--no-pre-commit", *args, cwd=workdir)
    return workdir / name.lower().replace(" ", "-")


def committable_text(project: Path) -> str:
    """Everything `git add -A` would stage, as text: untracked-not-ignored and tracked files."""
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", cwd=project)
    return "\n".join(
        (project / name).read_text(encoding="utf-8", errors="replace")
        for name in listed.splitlines()
        if (project / name).is_file()
    )


def remote_sections(project: Path) -> tuple[bool, bool]:
    """Whether .dvc/config and .dvc/config.local have remote "team"."""
    found = []
    for name in ("config", "config.local"):
        path = project / ".dvc" / name
        found.append(path.is_file() and 'remote "team"' in path.read_text(encoding="utf-8"))
    return found[0], found[1]


ADD_TEAM = (
    "add",
    "remote",
    "team",
    "s3://team-data/dvc",
    "--access-key-id",
    KEY_ID,
    "--secret-access-key",
    SECRET,
)


# --- item 1: a secret never reaches a committable file, whatever moment the process dies ----


@pytest.mark.slow
@pytest.mark.skipif(STRACE is None, reason="needs strace to inject a kill at a rename")
@pytest.mark.parametrize("kill", ["SIGKILL", "SIGTERM"])
def test_a_kill_at_any_rename_leaves_no_committable_secret_and_consistent_files(
    git_dvc_lab: Path, kill: str
):
    project = git_dvc_lab
    assert STRACE is not None
    original = (project / ".dvc" / "config").read_bytes()
    assert not (project / ".dvc" / "config.local").exists()
    seen_outcomes = set()
    for when in range(1, 5):
        (project / ".dvc" / "config").write_bytes(original)
        (project / ".dvc" / "config.local").unlink(missing_ok=True)
        result = subprocess.run(
            [
                STRACE,
                *("-qq", "-e", "signal=none", "-e", "trace=rename,renameat,renameat2"),
                *("-e", f"inject=rename,renameat,renameat2:signal={kill}:when={when}"),
                *("-o", os.devnull),
                *scaffold_command(*ADD_TEAM),
            ],
            cwd=project,
            capture_output=True,
            text=True,
            env=quiet_env(),
            check=False,
        )
        seen_outcomes.add(result.returncode)
        assert SECRET not in committable_text(project), f"secret committable (rename {when})"
        shared, local = remote_sections(project)
        journal = project / ".dvc" / "tmp" / "scaffold-config.commit"
        if kill == "SIGTERM":
            # Interrupting signals wait until both files are in place: before or after, never
            # half, and nothing left to finish.
            assert shared == local, f"half-written remote after SIGTERM at rename {when}"
            assert not journal.exists()
        elif shared != local:
            # SIGKILL between the two renames: the journal says how to finish, and the next
            # command that saves DVC settings does.
            assert journal.is_file()
        run_scaffold("add", "remote", "other", "s3://other-data/x", cwd=project)
        assert remote_sections(project)[0] == remote_sections(project)[1]
        assert not journal.exists()
        assert not list((project / ".dvc" / "tmp").glob("*.scaffold-new"))
        assert SECRET not in committable_text(project)
        assert 'remote "other"' in (project / ".dvc" / "config").read_text(encoding="utf-8")
    # The injected signal really hit scaffold (it did not just run to the end every time).
    assert any(code != 0 for code in seen_outcomes)


def test_secret_scratch_files_are_git_ignored_and_private(git_dvc_lab: Path):
    project = git_dvc_lab
    from scaffold.resources import PACKAGED_TEMPLATE

    module = PACKAGED_TEMPLATE.dvc_remote
    scratch = module.scratch_dir(project / ".dvc")
    staged = scratch / "config.local.123.scaffold-new"
    staged.write_text(SECRET)
    assert git("check-ignore", str(staged.relative_to(project)), cwd=project)
    run_scaffold(*ADD_TEAM, cwd=project)
    local = project / ".dvc" / "config.local"
    assert local.stat().st_mode & 0o777 == 0o600
    assert SECRET in local.read_text(encoding="utf-8")
    assert not staged.exists()  # a stale copy is removed by the next save
    assert SECRET not in committable_text(project)


# --- item 2: parallel runs of every mutating command lose nothing ----------------------------


def run_parallel(commands: list[list[str]], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Start every command at once; wait for all."""
    started = [
        subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for command in commands
    ]
    results = []
    for process in started:
        out, err = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def test_parallel_add_remote_keeps_every_remote(git_dvc_lab: Path):
    project = git_dvc_lab
    results = run_parallel(
        [scaffold_command("add", "remote", f"r{i}", f"s3://bucket-{i}/x") for i in range(8)],
        project,
    )
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    config = (project / ".dvc" / "config").read_text(encoding="utf-8")
    assert [f'remote "r{i}"' in config for i in range(8)] == [True] * 8


def test_parallel_add_notebook_and_module_lose_nothing(git_dvc_lab: Path):
    project = git_dvc_lab
    commands = [scaffold_command("add", "notebook", f"step {i}", "--phase", "2") for i in range(4)]
    commands += [scaffold_command("add", "module", f"part_{i}") for i in range(4)]
    commands += [
        scaffold_command("add", "notebook", "--production", f"prod {i}", "--phase", "3")
        for i in range(2)
    ]
    results = run_parallel(commands, project)
    assert [r.returncode for r in results] == [0] * len(commands), [r.stderr for r in results]
    numbers = sorted(p.name.split("-")[0] for p in (project / "notebooks").glob("[23].*.ipynb"))
    assert numbers == ["2.0", "2.1", "2.2", "2.3", "3.0", "3.1"]
    package = next((project / "src").iterdir())
    assert all((package / f"part_{i}.py").is_file() for i in range(4))
    assert all((project / "tests" / f"test_part_{i}.py").is_file() for i in range(4))
    pipeline = (project / "dvc.yaml").read_text(encoding="utf-8")
    assert "prod-0" in pipeline.replace("_", "-") and "prod-1" in pipeline.replace("_", "-")


def test_parallel_new_of_one_project_makes_it_once(workdir: Path):
    results = run_parallel(
        [scaffold_command("new", "Race", "--no-input", "--no-dvc", "--no-pre-commit")] * 3,
        workdir,
    )
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1, 1], [r.stderr for r in results]
    for result in results:
        if result.returncode:
            assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert listing(workdir)[0] == "race"
    assert [p for p in os.listdir(workdir) if p != "race"] == []
    assert git("log", "--format=%s", cwd=workdir / "race").count("\n") == 0  # one commit


# --- items 3 and 9: SIGINT, SIGTERM and SIGHUP clean up and end the children -----------------


@pytest.mark.parametrize(
    ("signum", "group"),
    [
        (signal.SIGTERM, False),
        (signal.SIGHUP, False),
        (signal.SIGINT, False),
        (signal.SIGTERM, True),
    ],
    ids=["SIGTERM", "SIGHUP", "SIGINT", "SIGTERM-to-the-group"],
)
def test_a_signal_during_new_ends_the_hook_and_leaves_nothing(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int, group: bool
):
    # The post-generation steps run in scaffold's own process and take milliseconds: a git
    # whose `init` hangs holds them at their first command long enough to be signalled.
    slow = tmp_path / "slow-git"
    slow.mkdir()
    (slow / "git").write_text(
        f'#!/bin/sh\ncase "$*" in *--initial-branch=main*) sleep 120;; esac\n'
        f'exec {shutil.which("git")} "$@"\n'
    )
    (slow / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow}{os.pathsep}{os.environ['PATH']}")
    result, children = start_and_signal(
        scaffold_command("new", "Sig", "--no-input", "--no-pre-commit"),
        workdir,
        signum,
        "--initial-branch=main",
        group,
    )
    assert result.returncode == 128 + signum, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Interrupted")
    assert "Traceback" not in result.stderr
    assert children and _wait_for(lambda: not any(_alive(pid) for pid in children), 15)
    time.sleep(1.0)  # an orphaned hook would now be finishing the project
    assert os.listdir(workdir) == []


# --- item 11: nothing left in TMPDIR, no bytecode in a new project ----------------------------


def test_new_leaves_nothing_in_tmpdir(workdir: Path, tmp_path: Path):
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    result = run_scaffold(
        "new", "Clean", "--no-input", "--no-pre-commit", cwd=workdir, env={"TMPDIR": str(scratch)}
    )
    assert result.returncode == 0
    assert listing(scratch) == []
    assert os.listdir(workdir) == ["clean"]


def test_new_copies_no_bytecode_from_an_installed_template(workdir: Path, tmp_path: Path):
    import compileall

    from scaffold.generate import new_project
    from scaffold.options import resolve_answers
    from scaffold.resources import Template
    from tests.conftest import copy_template_repo

    repo = copy_template_repo(tmp_path / "installed")
    # As pip leaves an installed template: every .py that compiles has bytecode beside it.
    compileall.compile_dir(repo / "template", quiet=2)
    assert list((repo / "template").rglob("*.pyc"))
    template = Template(repo)
    answers = resolve_answers({"project_name": "Bytes"}, template=template)
    project = new_project(answers, workdir, skip=("git", "dvc", "pre-commit"), template=template)
    assert [p for p in project.rglob("*") if p.suffix == ".pyc" or p.name == "__pycache__"] == []
    assert (project / "src" / "bytes" / "__init__.py").is_file()


# --- item 7: plain cookiecutter evaluates key=value; the hook refuses what shows it ----------


@pytest.mark.parametrize(
    "typed",
    [
        "{{ cycler.__init__.__globals__.os.system('touch ran-code') }}",
        "{% raw %}",
        "{{ 7 * 6 }}",
    ],
)
def test_plain_cookiecutter_refuses_an_answer_it_evaluated(
    workdir: Path, template_git_repo: Path, typed: str
):
    from tests.conftest import run_cookiecutter

    result = run_cookiecutter(
        f"git+file://{template_git_repo}",
        "--no-input",
        f"description={typed}",
        cwd=workdir,
        check=False,
    )
    assert result.returncode != 0
    assert "description was evaluated as a Jinja template by cookiecutter" in result.stderr
    assert not (workdir / "my-project").exists()


def test_scaffold_takes_jinja_markup_literally_and_the_rule_agrees(workdir: Path):
    from scaffold.resources import PACKAGED_TEMPLATE

    rules = PACKAGED_TEMPLATE.hook("pre_gen_project")
    typed = "{{ 7 * 6 }} and {% raw %}"
    assert (
        rules.evaluated_answers({"description": typed, "_unrendered": {"description": typed}}) == {}
    )
    assert "description" in rules.evaluated_answers(
        {"description": "42 and ", "_unrendered": {"description": typed}}
    )
    # The template's own Jinja defaults are not answers someone typed.
    default = rules._template_defaults()["dvc_remote_url"]
    assert (
        rules.evaluated_answers({"dvc_remote_url": "x", "_unrendered": {"dvc_remote_url": default}})
        == {}
    )
    run_scaffold(
        "new", "Lit", "--no-input", "--no-git", "--set", f"description={typed}", cwd=workdir
    )
    assert typed in (workdir / "lit" / "README.md").read_text(encoding="utf-8")


def test_ctrl_c_at_a_prompt_says_interrupted(workdir: Path):
    process = subprocess.Popen(
        scaffold_command("new"),
        cwd=workdir,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    import select

    try:
        # The first question is on stdout: scaffold now waits at the prompt.
        assert select.select([process.stdout], [], [], 30)[0]
        process.send_signal(signal.SIGINT)
        _, raw = process.communicate(timeout=30)
        err = raw.decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert err.strip() == "Interrupted."
    assert os.listdir(workdir) == []
