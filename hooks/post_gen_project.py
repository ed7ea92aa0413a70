"""Finish a freshly rendered project (standard library only).

Run with the project folder as the working directory, by cookiecutter and cruft (through
template/hooks/post_gen_project.py, the answers as JSON on stdin: ``-``), by scaffold (the same
way) and by copier (as a task: ``--answers-file .copier-answers.yml``, the file copier rendered).
The answers never travel as a command-line argument. Steps, each reported on one line:

1. drop the files of options that were turned off, record the answers with the template's
   source and version (template_source.py; copier renders this file itself), start the
   git-ignored ``.env``;
2. ``git init`` on branch main, and the pristine render kept as ``refs/scaffold/template``
   (the base of later updates, see scaffold/update.py); nbdime's notebook diff and merge
   drivers in ``.git/config`` when nbdime is installed;
3. ``dvc init`` (analytics off) and the default DVC remote;
4. ``pre-commit install``;
5. one initial commit.

The steps are idempotent: an existing ``.git`` or ``.dvc`` (``copier recopy`` renders over a
project and runs this again) is kept as it is, with its history: no init, no commit.

A tool that is not installed is skipped with a note that names the command to run later.
A step that fails exits non-zero, and the caller removes the half-made project.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # dvc_remote, template_source
import dvc_remote
import template_source

ANSWERS_FILE = ".copier-answers.yml"
TEMPLATE_REF = "refs/scaffold/template"
TEMPLATE_SUBJECT = "scaffold template {version}"
COMMIT_MESSAGE = "Initial commit from the scaffold template"
DVC_REMOTE_NAME = dvc_remote.DEFAULT_REMOTE

# Paths that exist only when an option has a given value: (option, keep-when, paths); a path
# may name an answer as ``{module_name}``.
OPTIONAL_PATHS: list[tuple[str, set[str], list[str]]] = [
    ("docs", {"mkdocs"}, ["docs"]),
    ("ci", {"github"}, [".github"]),
    ("open_source_license", {"MIT", "BSD-3-Clause", "Apache-2.0"}, ["LICENSE"]),
    ("environment_manager", {"conda"}, ["environment.yml"]),
    ("environment_manager", {"poetry"}, ["poetry.toml"]),
    ("environment_manager", {"pipenv"}, ["Pipfile"]),
    (
        "example_code",
        {"yes"},
        [
            "src/{module_name}/dataset.py",
            "src/{module_name}/features.py",
            "src/{module_name}/plots.py",
            "src/{module_name}/modeling",
        ],
    ),
    ("binder", {"yes"}, ["binder"]),
    ("devcontainer", {"yes"}, [".devcontainer"]),
    ("app", {"streamlit"}, ["app", "tests/test_app.py"]),
]


class StepFailed(Exception):
    """A post-generation command exited non-zero."""


def report(step: str, detail: str) -> None:
    """Print one status line, the way generators do."""
    print(f"  {step:<12} {detail}", flush=True)


def find_tool(name: str) -> str | None:
    """Find an executable beside this interpreter first (isolated installs), then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run(args: list[str], env: dict[str, str] | None = None) -> str:
    """Run a command in the project folder; raise StepFailed with its output if it fails."""
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise StepFailed(f"`{' '.join(args)}` failed: {output}")
    return result.stdout.strip()


def public_answers(context: dict[str, object]) -> dict[str, object]:
    """The user's answers: every key that is not private (``_x``) or derived (``__x``)."""
    return {key: value for key, value in context.items() if not key.startswith("_")}


def prune_optional_paths(project: Path, context: dict[str, object]) -> None:
    """Remove the files that belong to options the user turned off."""
    for option, keep_when, paths in OPTIONAL_PATHS:
        if context.get(option) in keep_when:
            continue
        for relative in paths:
            path = project / relative.format_map(context)
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


ENV_FILE = ".env"
ENV_TEXT = """\
# This machine's credentials and endpoints, loaded into os.environ by the package's config.py.
# Git-ignored: never commit it (.env.example, committed, lists the variables). Parameters of an
# analysis go to params/, not here.
"""


def write_env_file(project: Path) -> None:
    """Start the git-ignored ``.env`` (made here, not by the template: the template repository
    ignores it too). An existing file is the user's and is kept."""
    path = project / ENV_FILE
    if not path.exists():
        path.write_text(ENV_TEXT, encoding="utf-8")


def write_answers(project: Path, context: dict[str, object]) -> None:
    """Record the template source, version and answers (YAML; each value is a JSON scalar,
    which YAML reads as-is; keys sorted). Copier renders this file itself from the template,
    in the same format: a file already there is kept."""
    path = project / ANSWERS_FILE
    if path.exists():
        return
    source = template_source.from_context(context, find_tool("git"))
    recorded = {**source, **public_answers(context)}
    lines = ["# Answers that made this project; read by scaffold. Do not edit by hand."]
    lines += [
        f"{key}: {template_source.answer_json(value)}" for key, value in sorted(recorded.items())
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_answers_file(path: Path) -> dict[str, object]:
    """The answers of an answers file in our format (``key: JSON scalar`` lines)."""
    answers: dict[str, object] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(": ")
        if sep and not line.startswith("#"):
            answers[key] = json.loads(value)
    return answers


def record_template(git: str, context: dict[str, object]) -> None:
    """Keep the pristine render (before DVC, hooks and the user touch it) as a commit on no
    branch, ``refs/scaffold/template``: ``scaffold update`` merges from it offline."""
    version = read_answers_file(Path.cwd() / ANSWERS_FILE).get("_commit")
    if not version:
        return  # a template without a version: nothing to update from later
    run([git, "add", "--all"])
    tree = run([git, "write-tree"])
    message = TEMPLATE_SUBJECT.format(version=version)
    commit = run([git, *git_identity_args(git, context), "commit-tree", tree, "-m", message])
    run([git, "update-ref", TEMPLATE_REF, commit])


def git_identity_args(git: str, context: dict[str, object]) -> list[str]:
    """``-c user.name/-c user.email`` for the first commit when git knows no identity."""
    known = subprocess.run([git, "var", "GIT_COMMITTER_IDENT"], capture_output=True, check=False)
    if known.returncode == 0:
        return []
    return [
        "-c",
        f"user.name={context.get('author_name', 'scaffold')}",
        "-c",
        f"user.email={context.get('author_email', 'scaffold@localhost')}",
    ]


def setup_git(git: str | None) -> bool:
    if git is None:
        report("skip git", "git not found; run later: git init -b main")
        return False
    run([git, "init", "--quiet", "--initial-branch=main"])
    report("git init", "branch main")
    return True


def setup_dvc(context: dict[str, object], has_git: bool) -> None:
    remote, url = str(context.get("dvc_remote", "none")), str(context.get("dvc_remote_url", ""))
    endpoint = str(context.get("dvc_remote_endpoint_url", ""))
    profile = str(context.get("dvc_remote_profile", ""))
    later = "dvc init" + (
        f" && dvc remote add -d {DVC_REMOTE_NAME} {url}" if remote != "none" else ""
    )
    if remote != "none" and endpoint:
        later += f" && dvc remote modify {DVC_REMOTE_NAME} endpointurl {endpoint}"
    if remote != "none" and profile:
        later += f" && dvc remote modify --local {DVC_REMOTE_NAME} profile {profile}"
    if not has_git:
        report("skip dvc", f"DVC needs a git repository; run later: {later}")
        return
    dvc = find_tool("dvc")
    if dvc is None:
        report("skip dvc", f"dvc not found; run later: {later}")
        return
    run([dvc, "init", "--quiet"], env={"DVC_NO_ANALYTICS": "1"})
    # One dvc process: the settings are written as `dvc config` / `dvc remote add -d` /
    # `dvc remote modify [--local]` would write them (tests compare the bytes).
    dvc_dir = Path.cwd() / ".dvc"
    config = dvc_remote.ConfigFile(dvc_dir / dvc_remote.CONFIG)
    config.set("core", "analytics", "false")
    config.save()
    report("dvc init", "analytics off")
    if remote == "none":
        report("dvc remote", "none (add one later: dvc remote add -d NAME URL)")
        return
    dvc_remote.write_remote(
        dvc_dir,
        DVC_REMOTE_NAME,
        dvc_remote.stored_url(url, Path.cwd(), dvc_dir),
        default=True,
        shared={"endpointurl": endpoint} if endpoint else None,
        local={"profile": profile} if profile else None,
    )
    extras = (f" at {endpoint}" if endpoint else "") + (
        f", profile {profile} in .dvc/config.local" if profile else ""
    )
    report("dvc remote", f"{DVC_REMOTE_NAME} -> {url}{extras} (default)")


def setup_pre_commit(has_git: bool) -> None:
    if not has_git:
        report("skip hooks", "pre-commit needs a git repository; run later: pre-commit install")
        return
    pre_commit = find_tool("pre-commit")
    if pre_commit is None:
        report("skip hooks", "pre-commit not found; run later: pre-commit install")
        return
    run([pre_commit, "install"])
    report("pre-commit", "hooks installed (nbstripout, ruff, file checks)")


# What `nbdime config-git --enable` writes for the notebook drivers .gitattributes names, with
# the drivers' full paths: git runs them by name, and one missing from PATH (another
# environment active) makes `git diff` fail instead of falling back to a text diff.
NBDIME_DRIVERS = {
    "diff.jupyternotebook.command": ("git-nbdiffdriver", "diff"),
    "merge.jupyternotebook.driver": ("git-nbmergedriver", "merge %O %A %B %L %P"),
}


def setup_nbdime(git: str) -> None:
    """Point git's notebook diff and merge at nbdime when it is installed here (one
    `git config` per driver; running nbdime itself costs seconds of imports). Otherwise
    `make hooks` does it once the project's environment has nbdime."""
    if find_tool("git-nbdiffdriver") is None or find_tool("git-nbmergedriver") is None:
        return
    for key, (driver, arguments) in NBDIME_DRIVERS.items():
        program = find_tool(driver)
        run([git, "config", key, f"{shlex.quote(str(program))} {arguments}"])
    run([git, "config", "merge.jupyternotebook.name", "jupyter notebook merge driver"])
    report("nbdime", "git diff and merge of notebooks (nbdime)")


def initial_commit(git: str, context: dict[str, object]) -> None:
    run([git, "add", "--all"])
    # --no-verify: the hooks' environments are built on first use (network, minutes); the
    # template itself is checked by those hooks in scaffold's own tests.
    run(
        [
            git,
            *git_identity_args(git, context),
            "commit",
            "--quiet",
            "--no-verify",
            "--message",
            COMMIT_MESSAGE,
        ]
    )
    report("git commit", f"{COMMIT_MESSAGE} ({run([git, 'rev-parse', '--short', 'HEAD'])})")


def read_context(argv: list[str]) -> dict[str, object]:
    """The answers: JSON on stdin (``-``), an answers file (``--answers-file PATH``), or, as
    before, one JSON argument."""
    if argv[1:2] == ["-"]:
        context: dict[str, object] = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        return context
    if argv[1:2] == ["--answers-file"]:
        return read_answers_file(Path(argv[2]))
    context = json.loads(argv[1])
    return context


def main(argv: list[str]) -> int:
    """Run every post-generation step in the current folder."""
    context = read_context(argv)
    skip = set(context.get("_scaffold_skip", []))  # type: ignore[call-overload]
    project = Path.cwd()
    existing_git, existing_dvc = (project / ".git").exists(), (project / ".dvc").exists()
    try:
        prune_optional_paths(project, context)
        write_answers(project, context)
        write_env_file(project)
        git = None if "git" in skip else find_tool("git")
        if "git" in skip:
            report("skip git", "--no-git given")
        if existing_git:
            report("git", "kept the existing repository and its history")
        has_git = existing_git or (setup_git(git) if "git" not in skip else False)
        if has_git and git is not None and not existing_git:
            record_template(git, context)
            setup_nbdime(git)
        if "dvc" in skip:
            report("skip dvc", "--no-dvc given")
        elif existing_dvc:
            report("dvc", "kept the existing .dvc/")
        else:
            setup_dvc(context, has_git)
        if "pre-commit" in skip:
            report("skip hooks", "--no-pre-commit given")
        else:
            setup_pre_commit(has_git)
        if has_git and git is not None and not existing_git:
            initial_commit(git, context)
        if context.get("environment_manager") == "conda" and shutil.which("conda") is None:
            report("no conda", "conda not found: install Miniforge before make create_environment")
    except StepFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the caller reports the interruption and cleans up
        return 130
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:  # Ctrl-C: the caller says so and cleans up; no traceback
        sys.exit(130)
