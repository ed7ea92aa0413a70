"""``scaffold update``: bring a project to a newer version of its template, keeping its edits.

The project records its template in .copier-answers.yml (``_src_path``, ``_commit``), whichever
way it was made. The update is copier's three-way merge (``run_update``), done in a scratch
clone of the project so that the project itself is touched once, by one patch, at the end:

1. refuse uncommitted changes, naming the files; untracked files under data/ (data and the
   DVC pointer files being added) are ignored and left alone;
2. clone the project's HEAD into a temporary folder (``_clone``) and let copier update the
   clone (``_copier_update``): it renders the recorded version with the recorded answers, takes
   the difference to the project as the user's edits, renders the new version and re-applies
   those edits; where both changed the same lines it leaves inline conflict markers. Tasks
   (git init, dvc init) run on copy only;
3. put back files that the new version deletes but that the user had changed;
4. collect the result as a patch against HEAD (``_collect``): shown with ``pretend``, else
   applied to the working tree (``_apply``: unstaged, for review, all or nothing), with
   conflicted files marked unmerged so git refuses to commit them until they are resolved and
   ``git add``-ed.

A project of the template packaged with scaffold (``_src_path: pypi:nbscaffold``, before the
rename ``pypi:scaffold``) has no git
source to render the old version from. Its base is the project's own pristine render, kept by
the post-generation step as ``refs/scaffold/template`` (one commit per template version, on no
branch); when a clone lacks that ref, the old wheel from the package index. The new version is
the installed template, rendered with the recorded answers; git's own three-way merge
(``git merge-tree``) joins them, offline (``update_packaged``: ``_packaged_merge``, then
``_collect_packaged`` and the same ``_apply``).

SIGTERM and SIGHUP end an update as Ctrl-C does (scaffold.interrupts): the scratch folder is
removed once the children are gone.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold import processes
from scaffold.errors import ScaffoldError
from scaffold.files import Change, scratch_folder
from scaffold.layout import DATA_DIR
from scaffold.processes import git, git_out
from scaffold.project import ANSWERS_FILE, read_answers
from scaffold.resources import PACKAGED_TEMPLATE, Template
from scaffold.sources import (
    DISTRIBUTION,
    LEGACY_PACKAGED,
    PACKAGED,
    Source,
    clonable,
    is_packaged,
    newest_tag,
    packaged_source,
    parse_version,
    recorded_source,
    remote_tags,
)

TEMPLATE_REF = "refs/scaffold/template"
"""Pristine renders of the template, one commit per version (hooks/post_gen_project.py)."""
TEMPLATE_SUBJECT = "scaffold template {version}"

CONFLICT_MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
SHOWN_DIRTY = 10
_STATUS = {"A": "added", "M": "changed", "D": "removed", "T": "changed"}

_Stages = dict[str, list[tuple[str, str, str]]]
"""Conflicted paths with their index entries: (mode, blob sha, stage) each."""


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
    def up_to_date(self) -> bool:
        """True when the project already had the target version: nothing was to change."""
        return self.old == self.new and not self.changes

    @property
    def conflicts(self) -> list[str]:
        """Files with inline conflict markers to resolve."""
        return [change.path for change in self.changes if change.action == "conflict"]

    @property
    def kept(self) -> list[str]:
        """Files the new version deleted but the user had changed, so they stay."""
        return [change.path for change in self.changes if change.action == "kept"]


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
    if template is None and is_packaged(recorded.src_path):
        # the available version is the installed one: nothing to ask the network
        return Check(PACKAGED, recorded.commit, packaged_source().commit)
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
        top = git_out("rev-parse", "--show-toplevel", cwd=root)
    except ScaffoldError:
        raise ScaffoldError(
            f"{root} is not in a git repository; an update merges with git: "
            "run `git init && git add -A && git commit -m init` first."
        ) from None
    if not git("rev-parse", "--verify", "--quiet", "HEAD", cwd=root, check=False).text.strip():
        raise ScaffoldError("the project's repository has no commit yet; commit the project first.")
    return Path(top)


def dirty_files(root: Path) -> list[str]:
    """Uncommitted changes under ``root`` (paths relative to it), except untracked files
    under data/."""
    out = git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".", cwd=root).text
    entries = iter(out.split("\0"))
    prefix = git_out("rev-parse", "--show-prefix", cwd=root)
    dirty = []
    for entry in entries:
        if not entry:
            continue
        state, path = entry[:2], entry[3:]
        if state[0] in "RC":
            next(entries, None)  # the rename's source path
        relative = path.removeprefix(prefix)
        if state == "??" and relative.startswith(f"{DATA_DIR}/"):
            continue
        dirty.append(relative)
    return dirty


IN_PROGRESS = {
    "MERGE_HEAD": "a merge",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
    "REBASE_HEAD": "a rebase",
}


def refuse_in_progress(root: Path) -> None:
    """Raise ScaffoldError while git is in the middle of a merge (or cherry-pick, revert,
    rebase): an update on top would mix into it."""
    for ref, what in IN_PROGRESS.items():
        if git("rev-parse", "--quiet", "--verify", ref, cwd=root, check=False).ok:
            raise ScaffoldError(
                f"the project's repository is in the middle of {what} ({ref}); finish or "
                "abort it first (git status says how), then update."
            )


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
        f"{DATA_DIR}/ are fine)."
    )


@contextmanager
def _git_identity(cwd: Path) -> Iterator[None]:
    """copier commits in its scratch repos: give git an identity when it has none (the
    post-generation step's fallback, hooks/processes.py)."""
    identity = PACKAGED_TEMPLATE.processes.git_identity(processes.git_program(), "", "", cwd)
    if not identity:
        yield
        return
    name, email = identity["user.name"], identity["user.email"]
    given = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    saved = {variable: os.environ.get(variable) for variable in given}
    os.environ.update(given)
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


# -- steps shared by both update paths ------------------------------------------------------


def _subfolder(root: Path, top: Path) -> str:
    """The project's folder in its git repository, "" when it is the repository's top."""
    sub = root.resolve().relative_to(top.resolve()).as_posix()
    return "" if sub == "." else sub


def _status_pairs(out: str) -> list[tuple[str, str]]:
    """(status letter, path) pairs of git's ``--name-status -z`` output."""
    parts = [part for part in out.split("\0") if part]
    return list(zip(parts[::2], parts[1::2], strict=True))


def _add_stage(stages: _Stages, entry: str) -> None:
    """Add one index entry, ``<mode> <sha> <stage>\\t<path>``, to ``stages``."""
    meta, path = entry.split("\t", 1)
    mode, sha, stage = meta.split()
    stages.setdefault(path, []).append((mode, sha, stage))


def _changes(
    pairs: list[tuple[str, str]], conflicted: Collection[str], kept: list[str], sub: str = ""
) -> list[Change]:
    """The files of the update: each changed path (a conflict when ``conflicted`` has it), then
    the kept ones; paths relative to the project's folder ``sub``."""
    changes = [
        Change(
            "conflict" if path in conflicted else _STATUS.get(state[0], "changed"),
            _relative(path, sub),
        )
        for state, path in pairs
    ]
    return changes + [Change("kept", _relative(path, sub)) for path in kept]


def _new_answers(recorded: Recorded, after: Recorded) -> dict[str, Any]:
    """The options of the new version that the project had no answer for (their defaults)."""
    return {
        key: value
        for key, value in after.answers.items()
        if not key.startswith("_") and key not in recorded.answers
    }


def _apply(top: Path, patch: str, directory: str = "") -> None:
    """Apply ``patch`` to the working tree of ``top`` (its paths taken under ``directory``),
    all or nothing."""
    into = [f"--directory={directory}"] if directory else []
    applied = git(
        "apply", "--binary", "--whitespace=nowarn", *into, "-", cwd=top, input=patch, check=False
    )
    if not applied.ok:  # git apply is all or nothing
        reason = applied.stderr.decode(errors="replace").strip().splitlines()
        raise ScaffoldError(
            "the update could not be applied, so nothing was changed: "
            f"{reason[-1].removeprefix('error: ') if reason else 'git apply failed'}."
        )


def _mark_unmerged(top: Path, clone: Path, stages: _Stages) -> None:
    """Record conflicted files in the project's index as unmerged (as copier does), so that
    `git status` lists them and `git commit` refuses them until they are resolved."""
    lines = []
    for path, entries in stages.items():
        lines.append(f"0 {'0' * 40}\t{path}")
        for mode, sha, stage in entries:
            blob = git("cat-file", "blob", sha, cwd=clone).stdout
            copied = git("hash-object", "-w", "--stdin", cwd=top, input=blob).text.strip()
            lines.append(f"{mode} {copied} {stage}\t{path}")
    git("update-index", "--index-info", cwd=top, input=("\n".join(lines) + "\n").encode())


# -- a git template source: copier updates a scratch clone ----------------------------------


@dataclass(frozen=True)
class _Clone:
    """The scratch clone of the project's repository in which copier updates the project."""

    path: Path
    base: str  # the commit cloned: the project's HEAD
    sub: str  # the project's folder in the repository ("" at its top)

    @property
    def project(self) -> Path:
        """The project's folder in the clone."""
        return self.path / self.sub if self.sub else self.path

    @property
    def pathspec(self) -> str:
        """The project's files, for git commands run at the top of the clone."""
        return self.sub or "."


def update(
    root: Path, *, to: str | None = None, template: str | None = None, pretend: bool = False
) -> Update:
    """Update the project at ``root`` to ``to`` (default: the newest release of its template
    source, or of ``template``, which the project then records as its source)."""
    recorded = read_recorded(root)
    top = git_top(root)
    refuse_in_progress(root)
    if not pretend:  # --pretend writes nothing: it shows the update of the last commit
        refuse_dirty(root)
    if template is None and is_packaged(recorded.src_path):
        return update_packaged(root, top, recorded, to=to, pretend=pretend)
    source = _chosen_source(recorded, template)
    if template is None and to is None and not check(root).newer:
        return Update(source, recorded.commit, recorded.commit, pretend=pretend)
    sub = _subfolder(root, top)
    with _scratch() as scratch:
        clone = _clone(top, sub, scratch)
        with _git_identity(top):
            unmerged, kept = _copier_update(clone, recorded, source, to, scratch)
        result = _collect(clone, recorded, source, unmerged, kept, pretend)
        if pretend or not result.diff:
            return result
        _apply(top, result.diff)
        if unmerged:
            _mark_unmerged(top, clone.path, unmerged)
        return result


def _chosen_source(recorded: Recorded, template: str | None) -> str:
    """The source to update from: ``template`` (which the project then records), else the
    recorded one."""
    if template is None:
        return recorded.src_path
    clonable(template)  # a readable sentence for a missing or non-git local source
    return recorded_source(template)


def _clone(top: Path, sub: str, scratch: Path) -> _Clone:
    """Clone the project's repository at HEAD into ``scratch``."""
    base = git_out("rev-parse", "HEAD", cwd=top)
    clone = scratch / "project"
    git("clone", "--quiet", "--no-checkout", "--", str(top), str(clone), cwd=scratch)
    git("-c", "advice.detachedHead=false", "checkout", "--quiet", base, cwd=clone)
    return _Clone(clone, base, sub)


def _copier_update(
    clone: _Clone, recorded: Recorded, source: str, to: str | None, scratch: Path
) -> tuple[_Stages, list[str]]:
    """Let copier update the clone, pointed at ``source`` first when that is a new source;
    return the conflicted paths with their index stages, and the deleted files kept."""
    if source != recorded.src_path:
        _set_source(clone.project / ANSWERS_FILE, source)
        message = f"Point the template at {source}"
        git("-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m",
             message, "--", ANSWERS_FILE, cwd=clone.project)  # fmt: skip
    _run_copier_update(clone.project, to, source, recorded.commit)
    unmerged = _unmerged(clone.path)
    removed = [path for state, path in _name_status(clone, staged=False) if state == "D"]
    return unmerged, _keep_changed_deletions(clone, recorded, removed, scratch)


def _collect(
    clone: _Clone,
    recorded: Recorded,
    source: str,
    unmerged: _Stages,
    kept: list[str],
    pretend: bool,
) -> Update:
    """What copier's update of the clone changes: the clone's files staged and compared with
    the project's HEAD, as a list and as a patch."""
    git("add", "--all", "--", clone.pathspec, cwd=clone.path)
    changes = _changes(_name_status(clone, staged=True), unmerged, kept, clone.sub)
    after = read_recorded(clone.project)
    # copier replaces a recorded answer that breaks a rule of the new version by the default
    changed_answers = {
        key: (recorded.answers[key], value)
        for key, value in after.answers.items()
        if not key.startswith("_") and key in recorded.answers and recorded.answers[key] != value
    }
    patch = git(
        "diff", "--cached", "--binary", "--full-index", clone.base, "--", clone.pathspec,
        cwd=clone.path,
    ).text  # fmt: skip
    return Update(
        source=source,
        old=recorded.commit,
        new=after.commit,
        changes=changes,
        diff=patch,
        new_answers=_new_answers(recorded, after),
        pretend=pretend,
        changed_answers=changed_answers,
    )


def _name_status(clone: _Clone, staged: bool) -> list[tuple[str, str]]:
    """(status letter, path) of the clone's changes against its base: of its index when
    ``staged``, else of its working tree."""
    cached = ["--cached"] if staged else []
    out = git(
        "diff", *cached, "--name-status", "-z", "--no-renames", clone.base, "--", clone.pathspec,
        cwd=clone.path,
    ).text  # fmt: skip
    return _status_pairs(out)


def _unmerged(clone: Path) -> _Stages:
    """Conflicted paths with their index stages: (mode, blob sha, stage)."""
    stages: _Stages = {}
    for entry in git("ls-files", "--unmerged", "-z", cwd=clone).text.split("\0"):
        if entry:
            _add_stage(stages, entry)
    return stages


def _keep_changed_deletions(
    clone: _Clone, recorded: Recorded, removed: list[str], scratch: Path
) -> list[str]:
    """Put back the files the new version deletes that the user had changed; return them.

    copier deletes every file the new version no longer has; a changed one holds the user's
    work, so it stays (and is reported)."""
    if not removed:
        return []
    old = _render_old(recorded, scratch / "old")
    kept = []
    for path in removed:
        pristine = old / _relative(path, clone.sub)
        ours = git("show", f"{clone.base}:{path}", cwd=clone.path).stdout
        if not pristine.is_file() or pristine.read_bytes() != ours:
            git("checkout", clone.base, "--", path, cwd=clone.path)
            kept.append(path)
    return kept


def _relative(path: str, sub: str) -> str:
    return path[len(sub) + 1 :] if sub and path.startswith(f"{sub}/") else path


@contextmanager
def _scratch() -> Iterator[Path]:
    """A temporary folder, removed at the end, that also holds copier's scratch folders
    (``copier._vcs.clone.*``, ``copier._main.old_copy.*``). Under the CLI, SIGTERM and SIGHUP
    end the children (git, copier's tasks) first and then unwind like Ctrl-C
    (scaffold.interrupts), so nothing is still writing into it when it is removed."""
    previous = tempfile.tempdir
    with scratch_folder("scaffold-update-") as folder:
        try:
            (folder / "tmp").mkdir()
            # copier makes its clones and renders with tempfile: inside this folder, they go
            tempfile.tempdir = str(folder / "tmp")
            yield folder
        finally:
            tempfile.tempdir = previous


def trust_question(root: Path, template: str | None = None) -> str | None:
    """Why an update of ``root`` (to ``template``) would run template code the user has not
    vouched for, or None when it runs only scaffold's own installed template.

    copier renders a git source with its tasks, migrations and Jinja extensions, which are
    programs; a changed ``_src_path`` (a pull request can edit the answers file) or a new
    ``--template`` names someone else's programs."""
    recorded = read_recorded(root)
    if template is None and is_packaged(recorded.src_path):
        return None
    if template is not None:
        clonable(template)  # a missing or non-git source is refused before anyone is asked
    source = recorded_source(template) if template else recorded.src_path
    if source != recorded.src_path:
        return (
            f"the update would run the code of {source}, a template other than the recorded "
            f"one ({recorded.src_path}): its tasks, migrations and Jinja extensions"
        )
    return (
        f"the update renders {source} with copier, which runs that template's code (its "
        "tasks, migrations and Jinja extensions); check that .copier-answers.yml names a "
        "template you trust"
    )


def confirm_trust(
    root: Path, template: str | None, ask: Callable[[str], bool] | None = None
) -> None:
    """Refuse an update that would run template code nobody vouched for (``trust_question``)
    unless ``ask``, given the question, says yes; None: there is no one to ask (as in CI)."""
    question = trust_question(root, template)
    if question is None:
        return
    if ask is None:
        raise ScaffoldError(
            f"{question}; pass --trust to allow it (in CI), or run the update in a "
            "terminal to be asked."
        )
    if not ask(f"{question[0].upper()}{question[1:]}. Run it?"):
        raise ScaffoldError("update cancelled; nothing was changed.")


# -- the packaged template: git merges the pristine renders of two versions ----------------


@dataclass(frozen=True)
class _PackagedMerge:
    """The three-way merge of a project of the packaged template, in its repository."""

    rendered: Path  # the installed template rendered with the recorded answers
    ours_tree: str  # the project's folder at HEAD
    merged: str  # the merged tree
    theirs: str  # the commit of the new pristine render (refs/scaffold/template after)
    stages: _Stages  # conflicted paths (relative to the project's folder), their index stages
    kept: list[str]  # deleted by the template but changed by the user: kept


def update_packaged(
    root: Path, top: Path, recorded: Recorded, *, to: str | None = None, pretend: bool = False
) -> Update:
    """Update a project of the packaged template to the installed scaffold's template, offline.

    Three-way merge by git: base = the pristine render of the recorded version (the project's
    ``refs/scaffold/template``, else the old wheel), ours = HEAD, theirs = the installed
    template rendered with the recorded answers. Conflicts are left inline and unmerged."""
    target = packaged_source()
    if _packaged_is_current(recorded, target, to):
        return Update(PACKAGED, recorded.commit, recorded.commit, pretend=pretend)
    sub = _subfolder(root, top)
    with _scratch() as scratch, _git_identity(top):
        merge = _packaged_merge(top, sub, recorded, target, scratch)
        result = _collect_packaged(top, merge, recorded, target, pretend)
        if pretend or not result.diff:
            return result
        _apply(top, result.diff, directory=sub)
        if merge.stages:
            prefixed = {
                f"{sub}/{path}" if sub else path: entry for path, entry in merge.stages.items()
            }
            _mark_unmerged(top, top, prefixed)
        git("update-ref", TEMPLATE_REF, merge.theirs, cwd=top)
        return result


def _packaged_is_current(recorded: Recorded, target: Source, to: str | None) -> bool:
    """Whether the project has the installed template's version already; refuse ``--to``
    and a project newer than this scaffold."""
    if to is not None:
        raise ScaffoldError(
            "--to picks a version of a git template source; a project of the packaged template "
            f"moves to the installed scaffold's template ({target.commit}): install the scaffold "
            "version you want, then run `scaffold update`."
        )
    renamed = recorded.src_path in LEGACY_PACKAGED  # the update records the new name
    if target.commit == recorded.commit:
        return not renamed
    old_version, new_version = parse_version(recorded.commit), parse_version(target.commit)
    if old_version is None or new_version is None:
        return False
    if new_version < old_version:
        raise ScaffoldError(
            f"the project records template {recorded.commit}, newer than this scaffold's "
            f"{target.commit}; upgrade scaffold first (pip install -U {DISTRIBUTION})."
        )
    return new_version == old_version and not renamed


def _packaged_merge(
    top: Path, sub: str, recorded: Recorded, target: Source, scratch: Path
) -> _PackagedMerge:
    """Merge the project's folder at HEAD (ours) with ``target`` rendered with the recorded
    answers (theirs), both as children of the recorded version's pristine render (base)."""
    old = _pristine(top, recorded, scratch)
    rendered = _render(recorded.answers, target, scratch / "new")
    theirs_tree = _tree_of(top, rendered, scratch)
    subject = TEMPLATE_SUBJECT.format(version=target.commit)
    theirs = git_out("commit-tree", theirs_tree, "-p", old, "-m", subject, cwd=top)
    ours_tree = git_out("rev-parse", f"HEAD:{sub}" if sub else "HEAD^{tree}", cwd=top)
    ours = git_out("commit-tree", ours_tree, "-p", old, "-m", "project", cwd=top)
    merged, stages, kept = _merge(top, old, ours, theirs, recorded.commit, scratch)
    return _PackagedMerge(rendered, ours_tree, merged, theirs, stages, kept)


def _collect_packaged(
    top: Path, merge: _PackagedMerge, recorded: Recorded, target: Source, pretend: bool
) -> Update:
    """What the merge changes in the project's folder, as a list and as a patch."""
    listing = git(
        "diff-tree", "-r", "-z", "--name-status", "--no-renames", merge.ours_tree, merge.merged,
        cwd=top,
    ).text  # fmt: skip
    after = read_recorded(merge.rendered)
    patch = git("diff", "--binary", "--full-index", merge.ours_tree, merge.merged, cwd=top).text
    return Update(
        source=PACKAGED if is_packaged(target.src_path) else target.src_path,
        old=recorded.commit,
        new=after.commit,
        changes=_changes(_status_pairs(listing), merge.stages, merge.kept),
        diff=patch,
        new_answers=_new_answers(recorded, after),
        pretend=pretend,
    )


def _pristine(top: Path, recorded: Recorded, scratch: Path) -> str:
    """The commit holding the pristine render of the recorded version: from the project's
    ``refs/scaffold/template``, else rendered from that release's wheel (package index)."""
    subject = TEMPLATE_SUBJECT.format(version=recorded.commit)
    log = git("log", "--format=%H %s", TEMPLATE_REF, "--", cwd=top, check=False).text
    for line in log.splitlines():
        commit, _, found = line.partition(" ")
        if found == subject:
            return commit
    repo = _old_template_from_index(recorded.commit, scratch / "wheel")
    source = Source(recorded.src_path, recorded.commit)  # the base records what ours does
    rendered = _render(recorded.answers, source, scratch / "old", Template(repo))
    tree = _tree_of(top, rendered, scratch)
    return git_out("commit-tree", tree, "-m", subject, cwd=top)


def _old_template_from_index(version: str, into: Path) -> Path:
    """The template repo of scaffold release ``version``, taken from its nbscaffold wheel,
    which ``pip download`` fetches from the package index (as configured for pip)."""
    release = version.removeprefix("v")
    into.mkdir()
    downloaded = processes.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
         ":all:", "--dest", str(into), f"{DISTRIBUTION}=={release}"],
        check=False,
    )  # fmt: skip
    wheels = sorted(into.glob(f"{DISTRIBUTION}-*.whl"))
    if not downloaded.ok or not wheels:
        raise ScaffoldError(
            f"the project's pristine template render ({TEMPLATE_REF}, version {version}) is "
            f"not in this clone and {DISTRIBUTION} {release} could not be downloaded from the "
            f"package index; fetch the ref (`git fetch origin {TEMPLATE_REF}:{TEMPLATE_REF}`) "
            "or make pip reach the index, then run `scaffold update` again."
        )
    repo = into / "template-repo"
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in wheel.namelist():
            if name.startswith("scaffold/_data/") and not name.endswith("/"):
                target = repo / name.removeprefix("scaffold/_data/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(name))
    return repo


def _render(
    answers: dict[str, Any], source: Source, into: Path, template: Template = PACKAGED_TEMPLATE
) -> Path:
    """``template`` rendered with the recorded ``answers`` (new options take their
    defaults), pruned and with its answers file, without git, DVC or hooks; return it."""
    from scaffold.options import load_options, resolve_answers
    from scaffold.render import STEPS, new_project

    known = {option.name for option in load_options(template)}
    given = {key: str(value) for key, value in answers.items() if key in known}
    resolved = resolve_answers(given, template=template)
    into.mkdir()
    with _quiet_stdout():  # the post-generation step reports each skipped step
        return new_project(resolved, into, skip=STEPS, source=source, template=template)


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _tree_of(top: Path, folder: Path, scratch: Path) -> str:
    """Store ``folder`` in the project's repository as a tree, as `git add --all` would."""
    env = {"GIT_INDEX_FILE": str(scratch / "render.index"), "GIT_WORK_TREE": str(folder)}
    git_dir = git_out("rev-parse", "--absolute-git-dir", cwd=top)
    git("--git-dir", git_dir, "read-tree", "--empty", cwd=folder, env=env)
    git("--git-dir", git_dir, "add", "--all", cwd=folder, env=env)
    tree = git("--git-dir", git_dir, "write-tree", cwd=folder, env=env).text.strip()
    (scratch / "render.index").unlink()
    return tree


def _merge(
    top: Path, old: str, ours: str, theirs: str, old_version: str, scratch: Path
) -> tuple[str, _Stages, list[str]]:
    """Three-way merge of the commits ``ours`` and ``theirs`` (both children of ``old``).

    Returns the merged tree, the conflicted paths with their index stages, and the paths the
    template deleted that the user had changed (kept as the user's, not conflicts)."""
    tree, stages = _merge_tree(top, ours, theirs)
    labels = ("before updating", f"template {old_version}", "after updating")
    kept: list[str] = []
    edits: list[tuple[str, str, str]] = []
    for path, entries in list(stages.items()):
        by_stage = {stage: (mode, sha) for mode, sha, stage in entries}
        if "3" not in by_stage and "2" in by_stage:  # the template deleted it; you changed it
            kept.append(path)
            edits.append((*by_stage["2"], path))
            del stages[path]
        elif "2" in by_stage and "3" in by_stage:
            (mode, sha), clean = _merge_file(top, by_stage, labels, scratch)
            edits.append((mode, sha, path))
            if clean:
                del stages[path]
        # else you deleted it and the template changed it: git lists it, deleted by us
    return _with_edits(top, tree, edits, scratch), stages, kept


def _merge_tree(top: Path, ours: str, theirs: str) -> tuple[str, _Stages]:
    """`git merge-tree` of the two commits: the merged tree, the conflicted paths' stages."""
    out = git("merge-tree", "--write-tree", "-z", "--no-messages", ours, theirs,
              cwd=top, check=False).text  # fmt: skip
    parts = out.split("\0")
    stages: _Stages = {}
    for entry in parts[1:]:
        if "\t" in entry:
            _add_stage(stages, entry)
    if not re.fullmatch(r"[0-9a-f]{40,64}", parts[0]):
        raise ScaffoldError(f"`git merge-tree` failed in {top}: {out.strip() or 'no output'}.")
    return parts[0], stages


def _merge_file(
    top: Path, by_stage: dict[str, tuple[str, str]], labels: tuple[str, ...], scratch: Path
) -> tuple[tuple[str, str], bool]:
    """Merge one file's versions (yours, the old template's, the new one's) line by line, with
    labelled conflict markers: its (mode, blob) and whether it merged without conflicts. A
    binary file (or an error) keeps yours, as a conflict."""
    files = []
    for stage in ("2", "1", "3"):
        file = scratch / f"merge.{stage}"
        blob = by_stage[stage][1] if stage in by_stage else None
        file.write_bytes(git("cat-file", "blob", blob, cwd=top).stdout if blob else b"")
        files.append(str(file))
    merged = git(
        "merge-file", "-p", *(arg for label in labels for arg in ("-L", label)), *files,
        cwd=top, check=False,
    )  # fmt: skip
    if merged.returncode < 0 or merged.returncode > 127:  # binary or error: keep yours
        return by_stage["2"], False
    sha = git("hash-object", "-w", "--stdin", cwd=top, input=merged.stdout).text.strip()
    return (by_stage["2"][0], sha), merged.returncode == 0


def _with_edits(top: Path, tree: str, edits: list[tuple[str, str, str]], scratch: Path) -> str:
    """``tree`` with the files of ``edits`` (mode, blob, path) replaced."""
    if not edits:
        return tree
    env = {"GIT_INDEX_FILE": str(scratch / "merge.index")}
    git("read-tree", tree, cwd=top, env=env)
    info = "".join(f"{mode} {sha}\t{path}\n" for mode, sha, path in edits)
    git("update-index", "--index-info", cwd=top, input=info.encode(), env=env)
    return git("write-tree", cwd=top, env=env).text.strip()
