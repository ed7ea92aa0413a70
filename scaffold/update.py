"""``scaffold update``: bring a project to a newer version of its template, keeping its edits.

The project records its template in .copier-answers.yml (``_src_path``, ``_commit``), whichever
way it was made. The update is copier's three-way merge (``run_update``), done in a scratch
clone of the project so that the project itself is touched once, by one patch, at the end:

1. refuse uncommitted changes, naming the files; untracked files under data/ (data and the
   DVC pointer files being added) are ignored and left alone;
2. clone the project's HEAD into a temporary folder and let copier update the clone: it renders
   the recorded version with the recorded answers, takes the difference to the project as the
   user's edits, renders the new version and re-applies those edits; where both changed the
   same lines it leaves inline conflict markers. Tasks (git init, dvc init) run on copy only;
3. put back files that the new version deletes but that the user had changed;
4. the result is a patch against HEAD: shown with ``pretend``, else applied to the working tree
   (unstaged, for review), with conflicted files marked unmerged so git refuses to commit them
   until they are resolved and ``git add``-ed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError
from scaffold.project import ANSWERS_FILE, read_answers
from scaffold.sources import (
    clonable,
    newest_tag,
    parse_version,
    recorded_source,
    remote_tags,
)

DATA_FOLDER = "data"
"""Untracked files under this folder of the project never block an update."""

CONFLICT_MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
SHOWN_DIRTY = 10
_STATUS = {"A": "added", "M": "changed", "D": "removed", "T": "changed"}


@dataclass(frozen=True)
class Recorded:
    """What a project's answers file says about its template."""

    src_path: str
    commit: str
    answers: dict[str, Any]


@dataclass(frozen=True)
class Check:
    """The result of ``check``: the recorded version against the newest one of the source."""

    source: str
    current: str
    latest: str

    @property
    def newer(self) -> bool:
        """True when the source has a newer release than the project."""
        current, latest = parse_version(self.current), parse_version(self.latest)
        return current is not None and latest is not None and latest > current


@dataclass(frozen=True)
class Change:
    """One file of the update: added, changed, removed, kept (see ``kept``) or conflict."""

    status: str
    path: str


@dataclass
class Update:
    """What ``update`` did (or, with ``pretend``, would do)."""

    source: str
    old: str
    new: str
    changes: list[Change] = field(default_factory=list)
    diff: str = ""
    new_answers: dict[str, Any] = field(default_factory=dict)
    pretend: bool = False
    changed_answers: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def conflicts(self) -> list[str]:
        """Files with inline conflict markers to resolve."""
        return [change.path for change in self.changes if change.status == "conflict"]

    @property
    def kept(self) -> list[str]:
        """Files the new version deleted but the user had changed, so they stay."""
        return [change.path for change in self.changes if change.status == "kept"]


def _git(*args: str, cwd: Path, stdin: bytes | None = None, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if check and result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        message = lines[-1].removeprefix("error: ").removeprefix("fatal: ") if lines else "?"
        command = next(arg for arg in args if not arg.startswith("-") and "=" not in arg)
        raise ScaffoldError(f"`git {command}` failed in {cwd}: {message.rstrip('.')}.")
    return result.stdout.decode(errors="surrogateescape")


def read_recorded(root: Path) -> Recorded:
    """The template source, version and answers recorded in ``root``'s answers file."""
    if not (root / ANSWERS_FILE).is_file():
        raise ScaffoldError(
            f"{root} has no {ANSWERS_FILE}: scaffold cannot tell which template made it."
        )
    data = read_answers(root)
    missing = [key for key in ("_src_path", "_commit") if not data.get(key)]
    if missing:
        raise ScaffoldError(
            f"{ANSWERS_FILE} does not record the template's {' and '.join(missing)}, which an "
            "update needs (the project was made from a template that was not a git repository)."
        )
    return Recorded(data["_src_path"], data["_commit"], data)


def check(root: Path, template: str | None = None) -> Check:
    """Compare the project's recorded template version with the newest release of its source
    (or of ``template``); reads tags with ``git ls-remote``, clones nothing."""
    recorded = read_recorded(root)
    source = recorded_source(template) if template else recorded.src_path
    latest = newest_tag(remote_tags(source))
    if latest is None:
        raise ScaffoldError(f"template source {source} has no version tags (such as v1.0.0).")
    if parse_version(recorded.commit) is None:
        raise ScaffoldError(
            f"the recorded template version {recorded.commit!r} is not a version tag; "
            "update once with `scaffold update` to record one."
        )
    return Check(source, recorded.commit, latest)


def git_top(root: Path) -> Path:
    """The top of the git repository holding the project."""
    try:
        top = _git("rev-parse", "--show-toplevel", cwd=root).strip()
    except ScaffoldError:
        raise ScaffoldError(
            f"{root} is not in a git repository; an update merges with git: "
            "run `git init && git add -A && git commit -m init` first."
        ) from None
    if not _git("rev-parse", "--verify", "--quiet", "HEAD", cwd=root, check=False).strip():
        raise ScaffoldError("the project's repository has no commit yet; commit the project first.")
    return Path(top)


def dirty_files(root: Path) -> list[str]:
    """Uncommitted changes under ``root`` (paths relative to it), except untracked files
    under data/."""
    out = _git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".", cwd=root)
    entries = iter(out.split("\0"))
    prefix = _git("rev-parse", "--show-prefix", cwd=root).strip()
    dirty = []
    for entry in entries:
        if not entry:
            continue
        state, path = entry[:2], entry[3:]
        if state[0] in "RC":
            next(entries, None)  # the rename's source path
        relative = path.removeprefix(prefix)
        if state == "??" and relative.startswith(f"{DATA_FOLDER}/"):
            continue
        dirty.append(relative)
    return dirty


def refuse_dirty(root: Path) -> None:
    """Raise ScaffoldError naming the uncommitted files, if any."""
    dirty = dirty_files(root)
    if not dirty:
        return
    shown = ", ".join(dirty[:SHOWN_DIRTY])
    more = f" and {len(dirty) - SHOWN_DIRTY} more" if len(dirty) > SHOWN_DIRTY else ""
    raise ScaffoldError(
        f"the project has uncommitted changes ({shown}{more}); commit or stash them first, "
        f"so that the update can be reviewed and undone (untracked files under "
        f"{DATA_FOLDER}/ are fine)."
    )


@contextmanager
def _git_identity(cwd: Path) -> Iterator[None]:
    """copier commits in its scratch repos: give git an identity when it has none."""
    known = subprocess.run(["git", "var", "GIT_COMMITTER_IDENT"], cwd=cwd, capture_output=True)
    names = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL")
    if known.returncode == 0:
        yield
        return
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict(zip(names, ("scaffold", "scaffold@localhost") * 2, strict=True)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _set_source(answers_file: Path, source: str) -> None:
    """Point ``_src_path`` at ``source``, leaving the other lines as they are."""
    import json

    line = f"_src_path: {json.dumps(source)}"
    text = answers_file.read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^_src_path:.*$", lambda _: line, text)
    if not count:
        text = text.rstrip("\n") + f"\n{line}\n"
    answers_file.write_text(text, encoding="utf-8")


def _run_copier_update(project: Path, to: str | None, source: str, recorded: str) -> None:
    from copier import run_update
    from copier.errors import CopierError, UserMessageError
    from plumbum import ProcessExecutionError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_update(
                project,
                answers_file=ANSWERS_FILE,
                vcs_ref=to,
                overwrite=True,
                defaults=True,
                skip_answered=True,
                unsafe=True,  # the project's own template (or the fork it was pointed at)
                quiet=True,
                conflict="inline",
            )
    except UserMessageError as error:
        raise ScaffoldError(f"copier refused the update: {error.message}") from error
    except ProcessExecutionError as error:
        detail = (error.stderr or "").strip().splitlines()
        raise ScaffoldError(
            f"git failed while updating from {source}: {detail[-1] if detail else error}"
        ) from error
    except (CopierError, ValueError) as error:
        unknown = re.fullmatch(r"Unknown revision: '(.*)'", str(error))
        if unknown and unknown[1] == to:
            raise ScaffoldError(f"{to!r} is not a tag, branch or commit of {source}.") from error
        if unknown and unknown[1] == recorded:
            raise ScaffoldError(
                f"{source} does not have {recorded}, the template version the project records; "
                "a fork must keep upstream's tags (git push --tags)."
            ) from error
        raise ScaffoldError(f"the template could not be rendered: {error}") from error


def _render_old(recorded: Recorded, into: Path) -> Path:
    """The recorded template version rendered with the recorded answers (no tasks)."""
    from copier import run_copy

    data = {key: value for key, value in recorded.answers.items() if not key.startswith("_")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(
            recorded.src_path,
            into,
            data=data,
            vcs_ref=recorded.commit,
            defaults=True,
            quiet=True,
            unsafe=True,
            skip_tasks=True,
        )
    return into


def _name_status(clone: Path, base: str, sub: str, staged: bool) -> list[tuple[str, str]]:
    """(status letter, path) of the clone's changes against ``base``: of its index when
    ``staged``, else of its working tree."""
    cached = ["--cached"] if staged else []
    out = _git(
        "diff", *cached, "--name-status", "-z", "--no-renames", base, "--", sub or ".", cwd=clone
    )
    parts = [part for part in out.split("\0") if part]
    return list(zip(parts[::2], parts[1::2], strict=True))


def _unmerged(clone: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Conflicted paths with their index stages: (mode, blob sha, stage)."""
    stages: dict[str, list[tuple[str, str, str]]] = {}
    for entry in _git("ls-files", "--unmerged", "-z", cwd=clone).split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            mode, sha, stage = meta.split()
            stages.setdefault(path, []).append((mode, sha, stage))
    return stages


def _mark_unmerged(top: Path, clone: Path, stages: dict[str, list[tuple[str, str, str]]]) -> None:
    """Record conflicted files in the project's index as unmerged (as copier does), so that
    `git status` lists them and `git commit` refuses them until they are resolved."""
    lines = []
    for path, entries in stages.items():
        lines.append(f"0 {'0' * 40}\t{path}")
        for mode, sha, stage in entries:
            blob = subprocess.run(
                ["git", "cat-file", "blob", sha], cwd=clone, capture_output=True, check=True
            ).stdout
            copied = _git("hash-object", "-w", "--stdin", cwd=top, stdin=blob).strip()
            lines.append(f"{mode} {copied} {stage}\t{path}")
    _git("update-index", "--index-info", cwd=top, stdin=("\n".join(lines) + "\n").encode())


def update(
    root: Path, *, to: str | None = None, template: str | None = None, pretend: bool = False
) -> Update:
    """Update the project at ``root`` to ``to`` (default: the newest release of its template
    source, or of ``template``, which the project then records as its source)."""
    recorded = read_recorded(root)
    top = git_top(root)
    refuse_dirty(root)
    source = recorded.src_path
    if template is not None:
        clonable(template)  # a readable sentence for a missing or non-git local source
        source = recorded_source(template)
    elif to is None:
        status = check(root)
        if not status.newer:
            return Update(source, recorded.commit, recorded.commit, pretend=pretend)
    sub = root.resolve().relative_to(top.resolve()).as_posix()
    sub = "" if sub == "." else sub
    base = _git("rev-parse", "HEAD", cwd=top).strip()
    scratch = Path(tempfile.mkdtemp(prefix="scaffold-update-"))
    try:
        clone = scratch / "project"
        _git("clone", "--quiet", "--no-checkout", "--", str(top), str(clone), cwd=scratch)
        _git("-c", "advice.detachedHead=false", "checkout", "--quiet", base, cwd=clone)
        project = clone / sub if sub else clone
        with _git_identity(top):
            if source != recorded.src_path:
                _set_source(project / ANSWERS_FILE, source)
                message = f"Point the template at {source}"
                _git("-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m",
                     message, "--", ANSWERS_FILE, cwd=project)  # fmt: skip
            _run_copier_update(project, to, source, recorded.commit)
            unmerged = _unmerged(clone)
            removed = [
                path for state, path in _name_status(clone, base, sub, staged=False) if state == "D"
            ]
            kept = _keep_changed_deletions(clone, base, sub, recorded, removed, scratch)
        _git("add", "--all", "--", sub or ".", cwd=clone)
        changes = [
            Change(
                "conflict" if path in unmerged else _STATUS.get(state[0], "changed"),
                _relative(path, sub),
            )
            for state, path in _name_status(clone, base, sub, staged=True)
        ]
        changes += [Change("kept", _relative(path, sub)) for path in kept]
        after = read_recorded(project)
        new_answers = {
            key: value
            for key, value in after.answers.items()
            if not key.startswith("_") and key not in recorded.answers
        }
        # copier replaces a recorded answer that breaks a rule of the new version by the default
        changed_answers = {
            key: (recorded.answers[key], value)
            for key, value in after.answers.items()
            if not key.startswith("_")
            and key in recorded.answers
            and recorded.answers[key] != value
        }
        patch = _git(
            "diff", "--cached", "--binary", "--full-index", base, "--", sub or ".", cwd=clone
        )
        result = Update(
            source=source,
            old=recorded.commit,
            new=after.commit,
            changes=changes,
            diff=patch,
            new_answers=new_answers,
            pretend=pretend,
            changed_answers=changed_answers,
        )
        if pretend or not patch:
            return result
        applied = subprocess.run(
            ["git", "apply", "--binary", "--whitespace=nowarn", "-"],
            cwd=top,
            input=patch.encode(errors="surrogateescape"),
            capture_output=True,
            check=False,
        )
        if applied.returncode != 0:  # git apply is all or nothing
            reason = applied.stderr.decode(errors="replace").strip().splitlines()
            raise ScaffoldError(
                "the update could not be applied, so nothing was changed: "
                f"{reason[-1].removeprefix('error: ') if reason else 'git apply failed'}."
            )
        if unmerged:
            _mark_unmerged(top, clone, unmerged)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _keep_changed_deletions(
    clone: Path, base: str, sub: str, recorded: Recorded, removed: list[str], scratch: Path
) -> list[str]:
    """Put back the files the new version deletes that the user had changed; return them.

    copier deletes every file the new version no longer has; a changed one holds the user's
    work, so it stays (and is reported)."""
    if not removed:
        return []
    old = _render_old(recorded, scratch / "old")
    kept = []
    for path in removed:
        pristine = old / _relative(path, sub)
        ours = subprocess.run(
            ["git", "show", f"{base}:{path}"], cwd=clone, capture_output=True, check=True
        ).stdout
        if not pristine.is_file() or pristine.read_bytes() != ours:
            _git("checkout", base, "--", path, cwd=clone)
            kept.append(path)
    return kept


def _relative(path: str, sub: str) -> str:
    return path[len(sub) + 1 :] if sub and path.startswith(f"{sub}/") else path
