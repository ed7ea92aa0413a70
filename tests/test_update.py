"""`scaffold update`: a template repo with two tagged versions, projects made at v1 by scaffold,
cookiecutter and copier, updated to v2 with copier's three-way merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    PROJECT_FILES,
    REPO_ROOT,
    copy_template_repo,
    fixture_git,
    git,
    listing,
    make_with_scaffold,
    replace_once,
    run_cookiecutter,
    run_scaffold,
    scaffold_in_process,
    tree,
)

CONFLICT = "<<<<<<< before updating\n## Installation\n=======\n## Setup\n>>>>>>> after updating\n"


@pytest.fixture(scope="session")
def fork(upstream: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A team's fork of the template: upstream's history plus v3, which adds FORK.md."""
    repo = tmp_path_factory.mktemp("fork") / "template"
    fixture_git("clone", "--quiet", str(upstream), str(repo), cwd=upstream.parent)
    (repo / PROJECT_FILES / "FORK.md").write_text("Our team's additions\n")
    fixture_git("add", "--all", cwd=repo)
    fixture_git("commit", "--quiet", "--no-gpg-sign", "-m", "v3", cwd=repo)
    fixture_git("tag", "v3", cwd=repo)
    return repo


def make_with_cookiecutter(source: Path, workdir: Path) -> Path:
    run_cookiecutter(f"git+file://{source}", "--checkout", "v1", "--no-input", cwd=workdir)
    return workdir / "my-project"


def make_with_copier(source: Path, workdir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet",
         "--vcs-ref", "v1", str(source), str(workdir / "my-project")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return workdir / "my-project"


def answers(project: Path) -> dict[str, str]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def commit_all(project: Path, message: str = "my edits") -> None:
    git("add", "--all", cwd=project)
    git("commit", "--quiet", "--no-verify", "-m", message, cwd=project)


def edit_like_a_user(project: Path) -> None:
    """The same line as v2 (conflict), another line of a file v2 changes (clean merge), a file
    v2 deletes (kept), a file of our own; committed. Then data being added, untracked."""
    replace_once(project / "README.md", "\n## Set up\n", "\n## Installation\n")
    replace_once(project / "Makefile", ".DEFAULT_GOAL := help\n", ".DEFAULT_GOAL := test\n")
    with (project / "src" / "my_project" / "plots.py").open("a") as plots:
        plots.write("# my helper lives here\n")
    (project / "notes").mkdir()
    (project / "notes" / "mine.txt").write_text("mine\n")
    commit_all(project)
    (project / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (project / "data" / "raw" / "sales.csv").write_text("a,b\n1,2\n")
    (project / "data" / "raw" / "sales.csv.dvc").write_text("outs:\n- path: sales.csv\n")


MAKERS = [
    pytest.param(make_with_scaffold, id="scaffold"),
    pytest.param(make_with_cookiecutter, id="cookiecutter", marks=pytest.mark.slow),
    pytest.param(make_with_copier, id="copier", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("make", MAKERS)
def test_update_merges_template_changes_into_user_edits(upstream: Path, workdir: Path, make):
    project = make(upstream, workdir)
    assert answers(project)["_commit"] == "v1"
    assert answers(project)["_src_path"] == str(upstream)
    edit_like_a_user(project)
    commits = git("rev-list", "--count", "HEAD", cwd=project)
    had_dvc = (project / ".dvc").exists()

    result = scaffold_in_process("update", "--trust", cwd=project, check=False)

    assert result.returncode == 4, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Updating from template v1 to v2 ({upstream})"
    assert lines[-1] == "  README.md"  # conflicts are listed last
    assert "  conflict   README.md" in lines
    assert "  kept       src/my_project/plots.py" in "\n".join(lines)
    assert "git init" not in result.stdout and "dvc init" not in result.stdout
    # The conflict, inline, and recorded as unmerged so that git refuses to commit it.
    assert CONFLICT in (project / "README.md").read_text()
    assert {line.split("\t")[1] for line in git("ls-files", "-u", cwd=project).splitlines()} == {
        "README.md"
    }
    # Both sides of a file changed on different lines.
    makefile = (project / "Makefile").read_text()
    assert ".DEFAULT_GOAL := test\n" in makefile and "PYTHON_INTERPRETER = python3\n" in makefile
    # Added, deleted (unchanged by the user), kept (changed by the user), untouched.
    assert (project / "CHANGELOG.md").read_text() == "# Changes in My Project (data)\n"
    assert "  new option team = 'data'" in result.stdout  # v2's new question: its default
    assert answers(project)["team"] == "data"
    assert not (project / "reports" / "figures" / ".gitkeep").exists()
    assert (
        (project / "src" / "my_project" / "plots.py")
        .read_text()
        .endswith("# my helper lives here\n")
    )
    assert (project / "notes" / "mine.txt").read_text() == "mine\n"
    assert (project / "data" / "raw" / "sales.csv.dvc").is_file()
    assert answers(project)["_commit"] == "v2"
    assert answers(project)["_src_path"] == str(upstream)
    # Post-generation steps did not run again: no commit, no DVC where there was none.
    assert git("rev-list", "--count", "HEAD", cwd=project) == commits
    assert (project / ".dvc").exists() == had_dvc


def test_check_exits_2_while_a_newer_version_exists(upstream: Path, v1_project: Path):
    project = v1_project
    result = scaffold_in_process("update", "--check", cwd=project, check=False)
    assert result.returncode == 2
    assert "template v1 -> v2 available" in result.stdout
    assert git("status", "--porcelain", cwd=project) == ""


@pytest.mark.slow  # two whole updates; `--check` before them is the quick test above
def test_an_updated_project_is_up_to_date_and_refuses_a_downgrade(upstream: Path, v1_project: Path):
    project = v1_project
    # no user edits: no conflicts, exit 0
    updated = scaffold_in_process("update", "--trust", cwd=project)
    assert "Updated to v2" in updated.stdout
    commit_all(project, "Update the template to v2")
    result = scaffold_in_process("update", "--check", cwd=project / "src", check=False)
    assert result.returncode == 0
    assert "up to date with its template (v2)" in result.stdout

    again = scaffold_in_process("update", "--trust", cwd=project)
    assert again.stdout == f"Up to date: template v2 ({upstream}).\n"
    back = scaffold_in_process("update", "--trust", "--to", "v1", cwd=project, check=False)
    assert back.returncode == 1 and "Downgrades are not supported" in back.stderr
    assert git("status", "--porcelain", cwd=project) == ""


def test_pretend_shows_the_diff_and_changes_nothing(upstream: Path, v1_project: Path):
    project = v1_project
    edit_like_a_user(project)
    before, head = tree(project), git("rev-parse", "HEAD", cwd=project)

    result = scaffold_in_process("update", "--trust", "--pretend", cwd=project)

    assert "+# Changes in My Project (data)" in result.stdout  # the diff of the new file
    assert "+PYTHON_INTERPRETER = python3" in result.stdout
    assert "+<<<<<<< before updating" in result.stdout
    assert "  conflict   README.md" in result.stdout
    assert result.stdout.endswith("Pretend: nothing was changed.\n")
    assert tree(project) == before
    assert git("rev-parse", "HEAD", cwd=project) == head
    status = git("status", "--porcelain", "--untracked-files=all", cwd=project)
    assert status == "?? data/raw/sales.csv.dvc"


def dirty(project: Path) -> None:
    """An unfinished Makefile edit, a new script, and a DVC pointer file being added."""
    (project / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (project / "data" / "raw" / "sales.csv.dvc").write_text("outs:\n- path: sales.csv\n")
    with (project / "Makefile").open("a") as makefile:
        makefile.write("# unfinished\n")
    (project / "scratch.py").write_text("print('wip')\n")


def test_a_dirty_tree_is_refused_by_name_but_data_is_not(upstream: Path, v1_project: Path):
    project = v1_project
    dirty(project)
    before = tree(project)

    result = scaffold_in_process("update", "--trust", cwd=project, check=False)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "uncommitted changes (Makefile, scratch.py)" in result.stderr
    assert "sales.csv.dvc" not in result.stderr
    assert tree(project) == before


@pytest.mark.slow  # two whole updates; the refusal is the quick test above
def test_pretend_shows_a_dirty_trees_update_and_data_survives_it(upstream: Path, v1_project: Path):
    project = v1_project
    dirty(project)
    before = tree(project)
    # --pretend writes nothing, so a dirty tree is fine: it shows the last commit's update.
    pretend = scaffold_in_process("update", "--trust", "--pretend", cwd=project)
    assert "+PYTHON_INTERPRETER = python3" in pretend.stdout
    assert "Pretend: nothing was changed." in pretend.stdout
    assert "your uncommitted changes (Makefile, scratch.py) are not in it" in pretend.stdout
    assert tree(project) == before

    git("checkout", "--", "Makefile", cwd=project)
    (project / "scratch.py").unlink()
    scaffold_in_process("update", "--trust", cwd=project)
    assert answers(project)["_commit"] == "v2"
    assert (project / "data" / "raw" / "sales.csv.dvc").read_text() == "outs:\n- path: sales.csv\n"


@pytest.mark.slow  # --to: test_check_exits_2_while_a_newer_version_exists
def test_update_to_a_ref_and_to_a_fork(upstream: Path, fork: Path, v1_project: Path):
    project = v1_project
    result = scaffold_in_process("update", "--trust", "--to", "v1", cwd=project)
    assert result.stdout == f"Up to date: template v1 ({upstream}).\n"
    assert git("status", "--porcelain", cwd=project) == ""

    scaffold_in_process("update", "--trust", "--template", str(fork), cwd=project)
    assert answers(project)["_src_path"] == str(fork)
    assert answers(project)["_commit"] == "v3"
    assert (project / "FORK.md").read_text() == "Our team's additions\n"
    assert (project / "CHANGELOG.md").is_file()  # upstream's v2 comes along
    commit_all(project, "Follow the fork")
    assert scaffold_in_process("update", "--check", cwd=project).returncode == 0  # checks the fork


def test_a_source_without_the_recorded_version_is_refused(
    upstream: Path, v1_project: Path, tmp_path: Path
):
    stranger = copy_template_repo(tmp_path / "stranger")  # unrelated history, tagged v5 only
    fixture_git("tag", "v5", cwd=stranger)
    project = v1_project
    before = tree(project)
    result = scaffold_in_process("update", "--trust", "--template", str(stranger), cwd=project,
                          check=False)  # fmt: skip
    assert result.returncode == 1
    assert f"{stranger} does not have v1, the template version the project records" in (
        result.stderr
    )
    assert tree(project) == before and answers(project)["_src_path"] == str(upstream)


@pytest.mark.slow  # the fork's refusal: test_update_asks_before_running_a_git_template
def test_a_project_made_from_a_fork_follows_it(fork: Path, workdir: Path):
    project = make_with_scaffold(fork, workdir, ref="v2")
    assert answers(project)["_src_path"] == str(fork)
    assert not (project / "FORK.md").exists()
    result = scaffold_in_process("update", "--check", cwd=project, check=False)
    assert result.returncode == 2 and "v2 -> v3" in result.stdout
    scaffold_in_process("update", "--trust", cwd=project)
    assert (project / "FORK.md").is_file() and answers(project)["_commit"] == "v3"


def test_new_records_the_template_source_and_version(upstream: Path, workdir: Path):
    result = scaffold_in_process("new", "Newest", "--no-input", "--no-git", "--template",
                                 str(upstream), cwd=workdir)  # fmt: skip
    assert result.stdout.startswith(f"Template {upstream} at v2\n")
    assert answers(workdir / "newest")["_commit"] == "v2"  # the newest tag by default
    assert (workdir / "newest" / "CHANGELOG.md").is_file()

    # An editable install renders the source checkout at its exact commit, recorded as the
    # checkout's origin when that has the commit (a clone, as in CI), else as its own path.
    scaffold_in_process("new", "Packaged", "--no-input", "--no-git", cwd=workdir)
    recorded = answers(workdir / "packaged")
    assert recorded["_commit"] == git("describe", "--tags", "--always", cwd=REPO_ROOT)
    origin = subprocess.run(
        ["git", "config", "--get", "remote.origin.url"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    sources = {str(REPO_ROOT.resolve())} | (
        {str(Path(origin).resolve()), origin} if origin else set()
    )
    assert recorded["_src_path"] in sources
    if Path(recorded["_src_path"]).is_dir():  # the recorded version exists where it points
        git("rev-parse", "--verify", f"{recorded['_commit'].rsplit('-g', 1)[-1]}^{{commit}}",
            cwd=Path(recorded["_src_path"]))  # fmt: skip


BAD = [
    (["update"], "is not inside a project"),
    (["update", "--template", "/no/such/template"], "does not exist"),
    (["update", "--trust", "--to", "v9"], "'v9' is not a tag, branch or commit of"),
    (["update", "--check", "--template", "/no/such/template"], "does not exist"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(args) for args, _ in BAD])
def test_bad_update_input_is_one_sentence_and_changes_nothing(
    v1_project: Path, workdir: Path, args: list[str], message: str
):
    project = v1_project
    cwd = workdir if message == "is not inside a project" else project
    before = listing(workdir), tree(project)
    result = scaffold_in_process(*args, cwd=cwd, check=False)
    assert result.returncode == 1, result.stdout
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (listing(workdir), tree(project)) == before


def test_a_project_without_a_recorded_version_is_refused(v1_project: Path):
    project = v1_project
    text = (project / ".copier-answers.yml").read_text()
    (project / ".copier-answers.yml").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("_commit")) + "\n"
    )
    commit_all(project, "lose the version")
    result = scaffold_in_process("update", "--trust", cwd=project, check=False)
    assert result.returncode == 1
    assert "does not record the template's _commit" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vcs-ref", "v1"], "--vcs-ref needs --template"),
        (["--template", "."], "is not a git repository"),
        (["--template", "UPSTREAM", "--vcs-ref", "v9"], "'v9' is not a tag, branch or commit"),
    ],
)
def test_bad_template_sources_for_new(upstream: Path, workdir: Path, args, message):
    args = [str(upstream) if arg == "UPSTREAM" else arg for arg in args]
    result = scaffold_in_process("new", "Lab", "--no-input", *args, cwd=workdir, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert listing(workdir) == []


def test_update_help_stays_light():
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys; from typer.testing import CliRunner; from scaffold.cli import app;"
         "r = CliRunner().invoke(app, ['update', '--help']); assert r.exit_code == 0, r.output;"
         "assert '--pretend' in r.output and '--check' in r.output, r.output;"
         "print(sorted(m for m in ('copier', 'cookiecutter', 'packaging', 'plumbum', 'yaml',"
         " 'jinja2') if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out == "[]"


# --- template sources: bare repositories, file:// URLs, empty repositories, no git ---------


@pytest.mark.slow  # path sources: the tests above; file:// read as a path: test_engines.py
def test_a_bare_repository_and_a_file_url_are_template_sources(upstream: Path, workdir: Path):
    bare = workdir.parent / "scaffold.git"
    fixture_git("clone", "--quiet", "--bare", str(upstream), str(bare), cwd=workdir.parent)
    project = make_with_scaffold(bare, workdir)
    assert answers(project)["_src_path"] == str(bare)
    result = scaffold_in_process("update", "--check", cwd=project, check=False)
    assert result.returncode == 2 and "v1 -> v2" in result.stdout
    scaffold_in_process("update", "--trust", "--template", f"file://{bare}", cwd=project)
    assert (project / "CHANGELOG.md").is_file() and answers(project)["_src_path"] == str(bare)


def test_an_empty_repository_and_a_missing_git_are_named(workdir: Path):
    empty = workdir.parent / "empty"
    empty.mkdir()
    fixture_git("init", "--quiet", cwd=empty)
    result = scaffold_in_process("new", "Lab", "--no-input", "--template", str(empty),
                                 cwd=workdir, check=False)  # fmt: skip
    assert result.returncode == 1
    assert f"template source {empty} is an empty repository (no commits)" in result.stderr
    no_git = scaffold_in_process("new", "Lab", "--no-input", "--template", str(empty),
                                 cwd=workdir, env={"PATH": str(Path(sys.executable).parent)},
                                 check=False)  # fmt: skip
    assert no_git.returncode == 1 and no_git.stderr.count("\n") == 1
    assert "git is not installed" in no_git.stderr
    assert listing(workdir) == []


# --- trust -------------------------------------------------------------------------------


def test_update_asks_before_running_a_git_template(fork: Path, v1_project: Path):
    project = v1_project
    before = tree(project)
    for args in (["update"], ["update", "--template", str(fork)], ["update", "--pretend"]):
        result = scaffold_in_process(*args, cwd=project, check=False)  # stdin is no terminal
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert "pass --trust to allow it" in result.stderr
    switched = scaffold_in_process("update", "--template", str(fork), cwd=project, check=False)
    assert f"run the code of {fork}, a template other than the recorded one" in switched.stderr
    assert tree(project) == before
    checked = scaffold_in_process("update", "--check", cwd=project, check=False)
    assert checked.returncode == 2  # no code


# --- signals -----------------------------------------------------------------------------


def test_sigterm_during_update_leaves_no_scratch_clone(v1_project: Path, tmp_path):
    import signal
    import time

    project = v1_project
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffold", "update", "--trust"], cwd=project,
        env={**os.environ, "TMPDIR": str(scratch_root)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(scratch_root.glob("scaffold-update-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert list(scratch_root.glob("scaffold-update-*")), "the update never started"
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode != 0
    assert list(scratch_root.glob("scaffold-update-*")) == []
    assert git("status", "--porcelain", cwd=project) == ""


def wait_until_reading_a_pipe(pid: int, timeout: float = 30.0) -> None:
    """Wait until process ``pid`` blocks reading a pipe (its stdin): it has started up, and a
    signal now reaches the program, not Python's start-up (slow on a loaded machine)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/wchan", encoding="utf-8") as handle:
                if "pipe" in handle.read():
                    return
        except OSError:  # no /proc: give it the time a start-up takes
            time.sleep(0.5)
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never waited for its stdin")


@pytest.mark.parametrize("program", ["pre_gen_project.py", "post_gen_project.py"])
def test_a_hook_program_exits_130_quietly_on_ctrl_c(program: str):
    import signal

    def as_from_a_terminal() -> None:
        # Ctrl-C as a shell delivers it, whatever the test worker's own signal state (an
        # ignored or blocked SIGINT is inherited, and the program would then read empty answers)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "hooks" / program), "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=as_from_a_terminal,
    )  # fmt: skip
    wait_until_reading_a_pipe(process.pid)  # the answers on stdin
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err[-2000:]
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err


# --- answers: any Unicode, any length -----------------------------------------------------


def random_text(rng, length: int) -> str:
    """Printable characters from every plane: ASCII, Latin-1, BMP (CJK, line separators),
    astral (emoji, math letters); no control characters (the rules refuse them)."""
    import unicodedata

    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x2000, 0x2BFF), (0x4E00, 0x9FFF), (0xE000, 0xF8FF),
              (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF), (0x20000, 0x2A6DF)]  # fmt: skip
    chars = []
    while len(chars) < length:
        low, high = rng.choice(ranges)
        char = chr(rng.randint(low, high))
        if unicodedata.category(char) not in ("Cc", "Cs"):
            chars.append(char)
    return "".join(chars).strip() or "x"


@pytest.mark.slow  # quotes and non-ASCII answers: test_new.py, test_day_thirty.py
def test_any_unicode_round_trips_through_new_replay_and_update(upstream: Path, workdir: Path):
    import random

    rng = random.Random(20261201)
    for attempt in range(3):
        description, author = random_text(rng, 40), random_text(rng, 12)
        folder = workdir / f"try{attempt}"
        folder.mkdir()
        run_scaffold("new", "Lab", "--no-input", "--no-git", "--set", f"description={description}",
                     "--set", f"author_name={author}", cwd=folder)  # fmt: skip
        recorded = answers(folder / "lab")
        assert (recorded["description"], recorded["author_name"]) == (description, author)
        replay = folder / "replay"
        replay.mkdir()
        run_scaffold("new", "--no-input", "--no-git", "--answers-file",
                     str(folder / "lab" / ".copier-answers.yml"), cwd=replay)  # fmt: skip
        assert (replay / "lab" / "README.md").read_text("utf-8") == (
            (folder / "lab" / "README.md").read_text("utf-8")
        )
        assert answers(replay / "lab")["description"] == description

    description = random_text(rng, 60) + " 🚀"
    run_scaffold("new", "My Project", "--no-input", "--template", str(upstream), "--vcs-ref",
                 "v1", "--no-dvc", "--no-pre-commit", "--set", f"description={description}",
                 cwd=workdir)  # fmt: skip
    project = workdir / "my-project"
    run_scaffold("update", "--trust", cwd=project)
    assert answers(project)["description"] == description
    assert answers(project)["_commit"] == "v2"


def test_a_huge_answer_is_passed_without_the_command_line(workdir: Path):
    description = "data " * 60_000  # 300,000 characters: more than one argument may hold
    answers_file = workdir.parent / "answers.yml"
    answers_file.write_text(f"description: {json.dumps(description.strip())}\n")
    run_scaffold("new", "Big", "--no-input", "--no-git", "--answers-file", str(answers_file),
                 cwd=workdir)  # fmt: skip
    assert answers(workdir / "big")["description"] == description.strip()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("n", "update cancelled; nothing was changed."),
        pytest.param("y", "Updated", marks=pytest.mark.slow),  # a whole update
    ],
)
def test_in_a_terminal_update_asks_and_no_changes_nothing(
    upstream: Path, v1_project: Path, answer: str, expected: str
):
    import pexpect

    project = v1_project
    before = tree(project)
    child = pexpect.spawn(sys.executable, ["-m", "scaffold", "update"], cwd=str(project),
                          encoding="utf-8", timeout=60)  # fmt: skip
    child.expect_exact(f"The update renders {upstream} with copier")
    child.expect_exact("Run it? [y/N]: ")
    child.sendline(answer)
    child.expect_exact(expected)
    child.expect(pexpect.EOF)
    if answer == "n":
        assert tree(project) == before
    else:
        assert answers(project)["_commit"] == "v2"


def test_a_failing_pre_generation_program_is_named(tmp_path: Path, workdir: Path):
    repo = copy_template_repo(tmp_path / "template")
    hook = repo / "hooks" / "pre_gen_project.py"  # the rules pass; the program fails
    hook.write_text(hook.read_text().replace("return 1 if found else 0", "return 1"))
    fixture_git("commit", "--quiet", "--no-gpg-sign", "-am", "broken", cwd=repo)
    result = scaffold_in_process("new", "Lab", "--no-input", "--template", str(repo),
                                 cwd=workdir, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "a pre-generation step failed (see above)" in result.stderr
    assert listing(workdir) == []
