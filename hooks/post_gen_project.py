"""Finish a freshly rendered project (standard library only).

Run with the project folder as the working directory and the answers as a JSON argument, by
cookiecutter (through template/hooks/post_gen_project.py), by scaffold (the same way) and by
copier (as a task). Steps, each reported on one line as it happens:

1. drop the files of options that were turned off, record the answers with the template's
   source and version (template_source.py; copier renders this file itself);
2. ``git init`` on branch main;
3. ``dvc init`` (analytics off) and the default DVC remote;
4. ``pre-commit install``;
5. one initial commit.

A tool that is not installed is skipped with a note that names the command to run later.
A step that fails exits non-zero, and the caller removes the half-made project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # dvc_remote, template_source
import dvc_remote
import template_source

ANSWERS_FILE = ".copier-answers.yml"
COMMIT_MESSAGE = "Initial commit from the scaffold template"
DVC_REMOTE_NAME = dvc_remote.DEFAULT_REMOTE

# Paths that exist only when an option has a given value: (option, keep-when, paths).
OPTIONAL_PATHS: list[tuple[str, set[str], list[str]]] = [
    ("docs", {"mkdocs"}, ["docs"]),
    ("ci", {"github"}, [".github"]),
    ("open_source_license", {"MIT", "BSD-3-Clause", "Apache-2.0"}, ["LICENSE"]),
    ("environment_manager", {"conda"}, ["environment.yml"]),
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
            path = project / relative
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


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
    lines += [f"{key}: {json.dumps(value)}" for key, value in sorted(recorded.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


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


def main(argv: list[str]) -> int:
    """Run every post-generation step in the current folder."""
    context = json.loads(argv[1])
    skip = set(context.get("_scaffold_skip", []))
    project = Path.cwd()
    try:
        prune_optional_paths(project, context)
        write_answers(project, context)
        git = None if "git" in skip else find_tool("git")
        if "git" in skip:
            report("skip git", "--no-git given")
        has_git = setup_git(git) if "git" not in skip else False
        if "dvc" in skip:
            report("skip dvc", "--no-dvc given")
        else:
            setup_dvc(context, has_git)
        if "pre-commit" in skip:
            report("skip hooks", "--no-pre-commit given")
        else:
            setup_pre_commit(has_git)
        if has_git and git is not None:
            initial_commit(git, context)
        if context.get("environment_manager") == "conda" and shutil.which("conda") is None:
            report("no conda", "conda not found: install Miniforge before make create_environment")
    except StepFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
