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

``dvc init`` and ``pre-commit install`` are not started when their files can be written
exactly as they write them (tool_files.py); scaffold runs ``finish`` in its own process
rather than this file as a program. Either way the project is the same.

The steps are idempotent: an existing ``.git`` or ``.dvc`` (``copier recopy`` renders over a
project and runs this again) is kept as it is, with its history: no init, no commit.

A tool that is not installed is skipped with a note that names the command to run later.
A step that fails exits non-zero, and the caller removes the half-made project.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # dvc_remote, template_source, ...
import dvc_remote
import processes
import template_source
import tool_files

ANSWERS_FILE = ".copier-answers.yml"
TEMPLATE_REF = "refs/scaffold/template"
TEMPLATE_SUBJECT = "scaffold template {version}"
COMMIT_MESSAGE = "Initial commit from the scaffold template"
DVC_REMOTE_NAME = dvc_remote.DEFAULT_REMOTE

# The Spark example notebook (spark=yes and example_code=yes); `*`: the author's initials.
SPARK_EXAMPLE = ["notebooks/1.1-*-spark-aggregation.ipynb", "params/1.1-*-spark-aggregation.yaml"]
# Paths that exist only when an option has a given value: (option, keep-when, paths); a path
# may name an answer as ``{module_name}``, and hold a glob pattern.
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
    ("sagemaker", {"yes"}, ["cloud/sagemaker"]),
    ("vertex", {"yes"}, ["cloud/vertex"]),
    ("app", {"streamlit"}, ["app", "tests/test_app.py"]),
    (
        "spark",
        {"yes"},
        [
            "src/{module_name}/spark.py",
            "tests/test_spark.py",
            "binder/apt.txt",
            *SPARK_EXAMPLE,
        ],
    ),
    ("example_code", {"yes"}, SPARK_EXAMPLE),
]


def report(step: str, detail: str) -> None:
    """Print one status line, the way generators do."""
    print(f"  {step:<12} {detail}", flush=True)


find_tool = processes.find_tool
run = processes.run  # in the project folder (the current one); processes.Failed if it fails


def public_answers(context: dict[str, object]) -> dict[str, object]:
    """The user's answers: every key that is not private (``_x``) or derived (``__x``)."""
    return {key: value for key, value in context.items() if not key.startswith("_")}


def prune_optional_paths(project: Path, context: dict[str, object]) -> None:
    """Remove the files that belong to options the user turned off."""
    for option, keep_when, paths in OPTIONAL_PATHS:
        if context.get(option) in keep_when:
            continue
        for relative in paths:
            for path in project.glob(relative.format_map(context)):
                remove(path)


def remove(path: Path) -> None:
    """Delete a file or a folder tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
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
    answers = template_source.read_answers(path.read_text(encoding="utf-8"))
    if answers is None:
        raise ValueError(f"{path} is not in scaffold's answers format (key: JSON lines)")
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


@functools.cache
def git_identity(git: str, name: str, email: str) -> tuple[str, ...]:
    """``-c user.name=... -c user.email=...`` when git knows no identity (asked once per
    project)."""
    return tuple(processes.config_args(processes.git_identity(git, name, email)))


def git_identity_args(git: str, context: dict[str, object]) -> tuple[str, ...]:
    """The identity for the project's commits: the author's, when git knows none."""
    return git_identity(
        git, str(context.get("author_name") or ""), str(context.get("author_email") or "")
    )


def setup_git(git: str | None) -> bool:
    if git is None:
        report("skip git", "git not found; run later: git init -b main")
        return False
    run([git, "init", "--quiet", "--initial-branch=main"])
    report("git init", "branch main")
    return True


def dvc_later(context: dict[str, object]) -> str:
    """The commands that set DVC up later, as the skip notes name them."""
    remote, url = str(context.get("dvc_remote", "none")), str(context.get("dvc_remote_url", ""))
    if remote == "none":
        return "dvc init"
    later = f"dvc init && dvc remote add -d {DVC_REMOTE_NAME} {url}"
    endpoint = str(context.get("dvc_remote_endpoint_url", ""))
    if endpoint:
        later += f" && dvc remote modify {DVC_REMOTE_NAME} endpointurl {endpoint}"
    profile = str(context.get("dvc_remote_profile", ""))
    if profile:
        later += f" && dvc remote modify --local {DVC_REMOTE_NAME} profile {profile}"
    return later


def init_dvc(dvc: str, git: str | None) -> None:
    """``dvc init``: its files written directly when they are known (tool_files.py), else the
    real command (also when git ignores .dvc/, which dvc refuses)."""

    def ignored(paths: list[str]) -> set[str]:
        return set(processes.output([str(git), "check-ignore", "--", *paths]).splitlines())

    if (
        git is None
        or not tool_files.knows_dvc_init(dvc)
        or not tool_files.write_dvc_init(Path.cwd(), ignored)
    ):
        run([dvc, "init", "--quiet"], env={"DVC_NO_ANALYTICS": "1"})


def setup_dvc(context: dict[str, object], has_git: bool) -> None:
    if not has_git:
        report("skip dvc", f"DVC needs a git repository; run later: {dvc_later(context)}")
        return
    dvc = find_tool("dvc")
    if dvc is None:
        report("skip dvc", f"dvc not found; run later: {dvc_later(context)}")
        return
    init_dvc(dvc, find_tool("git"))
    # The settings are written as `dvc config` / `dvc remote add -d` /
    # `dvc remote modify [--local]` would write them (tests compare the bytes).
    dvc_dir = Path.cwd() / ".dvc"
    config = dvc_remote.ConfigFile(dvc_dir / dvc_remote.CONFIG)
    config.set("core", "analytics", "false")
    config.save()
    report("dvc init", "analytics off")
    write_default_remote(context, dvc_dir)


def write_default_remote(context: dict[str, object], dvc_dir: Path) -> None:
    """The default remote ``storage`` of the answers (none for ``dvc_remote=none``)."""
    remote, url = str(context.get("dvc_remote", "none")), str(context.get("dvc_remote_url", ""))
    endpoint = str(context.get("dvc_remote_endpoint_url", ""))
    profile = str(context.get("dvc_remote_profile", ""))
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


def install_pre_commit(pre_commit: str, git: str | None) -> None:
    """``pre-commit install``: the hook written directly when pre-commit would write exactly
    that (a repository this program made, no hook there yet, no ``core.hooksPath``, the default
    hook type); the real command otherwise."""
    hook = tool_files.pre_commit_hook(pre_commit)
    hooks_dir = Path.cwd() / ".git" / "hooks"
    config = Path.cwd() / tool_files.PRE_COMMIT_CONFIG
    if (
        hook is None
        or git is None
        or os.path.lexists(hooks_dir / "pre-commit")
        or (config.is_file() and "default_install_hook_types" in config.read_text("utf-8"))
        or processes.output([git, "config", "core.hooksPath"])
    ):
        run([pre_commit, "install"])
    else:
        tool_files.write_pre_commit_hook(hooks_dir, hook)


def setup_pre_commit(has_git: bool, made_by: str | None) -> None:
    """``pre-commit install``; ``made_by`` is git when this program made the repository."""
    if not has_git:
        report("skip hooks", "pre-commit needs a git repository; run later: pre-commit install")
        return
    pre_commit = find_tool("pre-commit")
    if pre_commit is None:
        report("skip hooks", "pre-commit not found; run later: pre-commit install")
        return
    install_pre_commit(pre_commit, made_by)
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


def setup_repository(context: dict[str, object], skip: set[str], existing: bool) -> str | None:
    """Step 2: ``git init`` and the pristine render's ref; git when this made the repository."""
    if "git" in skip:
        report("skip git", "--no-git given")
    if existing:
        report("git", "kept the existing repository and its history")
        return None
    git = None if "git" in skip else find_tool("git")
    if "git" in skip or not setup_git(git):
        return None
    assert git is not None
    record_template(git, context)
    setup_nbdime(git)
    return git


def run_steps(project: Path, context: dict[str, object]) -> None:
    """Every step, in ``project`` (the current folder); processes.Failed when one fails."""
    skip = set(context.get("_scaffold_skip", []))  # type: ignore[call-overload]
    existing_git, existing_dvc = (project / ".git").exists(), (project / ".dvc").exists()
    prune_optional_paths(project, context)
    write_answers(project, context)
    write_env_file(project)
    made_by = setup_repository(context, skip, existing_git)
    has_git = existing_git or made_by is not None
    if "dvc" in skip:
        report("skip dvc", "--no-dvc given")
    elif existing_dvc:
        report("dvc", "kept the existing .dvc/")
    else:
        setup_dvc(context, has_git)
    if "pre-commit" in skip:
        report("skip hooks", "--no-pre-commit given")
    else:
        setup_pre_commit(has_git, made_by)
    if made_by is not None:
        initial_commit(made_by, context)
    if context.get("environment_manager") == "conda" and shutil.which("conda") is None:
        report("no conda", "conda not found: install Miniforge before make create_environment")


def finish(project: Path, context: dict[str, object]) -> int:
    """Run every post-generation step in ``project``, which must be the current folder;
    0, or 1 with the failure on stderr, or 130 on Ctrl-C. scaffold calls this directly."""
    git_identity.cache_clear()  # asked again for each project a process makes
    try:
        run_steps(project, context)
    except processes.Failed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the caller reports the interruption and cleans up
        return 130
    return 0


def main(argv: list[str]) -> int:
    """Run every post-generation step in the current folder."""
    return finish(Path.cwd(), read_context(argv))


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:  # Ctrl-C: the caller says so and cleans up; no traceback
        sys.exit(130)
