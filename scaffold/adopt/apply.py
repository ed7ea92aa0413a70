"""Carry out an adopt plan in place, all or nothing.

Every step is recorded; on any failure or interrupt (Ctrl-C, SIGTERM) the repository is put
back as it was: files renamed back, ``git reset --hard`` to the old commit (the branch moves
back too), the index lock of a killed git removed, and every path that did not exist before
removed (DVC's cache and config included). A plain folder loses the ``.git`` adopt made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scaffold import processes
from scaffold.adopt.plan import COMMIT_MESSAGE, Plan
from scaffold.adopt.survey import DATA
from scaffold.errors import ScaffoldError
from scaffold.resources import PACKAGED_TEMPLATE

TEMPLATE_REF = "refs/scaffold/template"
_SKIPPED = {".git"}


def _snapshot(root: Path) -> tuple[set[str], set[str]]:
    """Every file and folder under ``root`` (``.git`` excepted), relative."""
    files, folders = set(), set()
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not (folder == str(root) and d in _SKIPPED)]
        here = Path(folder).relative_to(root).as_posix()
        folders.add(here)
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
            files.add(f"{here}/{name}" if here != "." else name)
    return files, folders


@dataclass
class Journal:
    """What adopt changed so far, to undo it."""

    root: Path
    head: str | None  # the commit before (None: adopt made the repository)
    files: set[str]
    folders: set[str]
    renames: list[tuple[Path, Path]] = field(default_factory=list)
    saved: dict[Path, bytes] = field(default_factory=dict)
    had_lock: bool = False
    had_template_ref: bool = False

    @classmethod
    def start(cls, plan: Plan) -> Journal:
        """Record the state before anything changes."""
        root = plan.root
        head = processes.git_out("rev-parse", "HEAD", cwd=root) if plan.is_git else None
        files, folders = _snapshot(root)
        journal = cls(root, head, files, folders)
        journal.had_lock = (root / ".git" / "index.lock").exists()
        if plan.is_git:
            journal.had_template_ref = processes.git(
                "rev-parse", "--verify", "--quiet", TEMPLATE_REF, cwd=root, check=False
            ).ok
        return journal

    def rename(self, old: Path, new: Path) -> None:
        """Move a file (parents made), recorded."""
        if new.exists():
            raise ScaffoldError(f"{new} exists already; adopt never overwrites a file.")
        new.parent.mkdir(parents=True, exist_ok=True)
        os.rename(old, new)
        self.renames.append((old, new))

    def write(self, path: Path, text: str) -> None:
        """Write a file, its old bytes recorded; never through a link leading outside."""
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ScaffoldError(
                f"{path.relative_to(self.root)} leads outside the repository (a symbolic link); "
                "adopt writes only inside it."
            )
        if path.exists() and path not in self.saved:
            self.saved[path] = path.read_bytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")

    def undo(self) -> None:
        """Put everything back as it was (best effort, every step tried)."""
        root = self.root
        for old, new in reversed(self.renames):
            if new.exists() and not old.exists():
                with contextlib.suppress(OSError):
                    old.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(new, old)
        lock = root / ".git" / "index.lock"
        if lock.exists() and not self.had_lock:
            with contextlib.suppress(OSError):
                lock.unlink()
        if self.head is None:
            shutil.rmtree(root / ".git", ignore_errors=True)
        else:
            processes.git("reset", "--hard", "--quiet", self.head, cwd=root, check=False)
            if not self.had_template_ref:
                processes.git("update-ref", "-d", TEMPLATE_REF, cwd=root, check=False)
        for path, data in self.saved.items():
            with contextlib.suppress(OSError):
                path.write_bytes(data)
        self._remove_new()

    def _remove_new(self) -> None:
        files, folders = _snapshot(self.root)
        for name in sorted(files - self.files, reverse=True):
            path = self.root / name
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        for name in sorted(folders - self.folders, key=len, reverse=True):
            shutil.rmtree(self.root / name, ignore_errors=True)


def apply(plan: Plan) -> str:
    """Carry out ``plan``; return the new commit. All or nothing."""
    journal = Journal.start(plan)
    try:
        commit = _steps(plan, journal)
        plan.cleanup()  # the scratch render, while a signal still undoes the commit
        return commit
    except BaseException:
        journal.undo()
        raise


def _steps(plan: Plan, journal: Journal) -> str:
    root = plan.root
    if not plan.is_git:
        processes.git("init", "--quiet", "--initial-branch=main", cwd=root)
    data = [entry.path for entry in plan.entries if entry.kind == DATA]
    if plan.is_git and data:  # DVC tracks them from now on; git's history keeps the old copies
        listed = "\0".join(data) + "\0"
        processes.git("rm", "--cached", "--quiet", "--pathspec-from-file=-", "--pathspec-file-nul",
                      cwd=root, input=listed)  # fmt: skip
    for entry in plan.moves:
        old, new = root / entry.path, root / entry.target
        if plan.is_git and entry.kind != DATA:
            if new.exists():
                raise ScaffoldError(
                    f"{entry.target} exists already; adopt never overwrites a file."
                )
            new.parent.mkdir(parents=True, exist_ok=True)
            journal.renames.append((old, new))
            processes.git("mv", "--", entry.path, entry.target, cwd=root)
        else:
            journal.rename(old, new)
    _remove_emptied(root, [root / entry.path for entry in plan.moves])
    for rel, text in plan.writes.items():
        journal.write(root / rel, text)
    _track_data(plan)
    commit = _commit(plan)
    if plan.modernised:  # apart, so the team sees what changed in their code
        from scaffold.adopt.modernise import MESSAGE

        for rel, text in plan.modernised.items():
            journal.write(root / rel, text)
        commit_apart(root, plan.answers, list(plan.modernised), MESSAGE)
        commit = processes.git_out("rev-parse", "HEAD", cwd=root)
    return commit


def _remove_emptied(root: Path, moved: list[Path]) -> None:
    """Remove the folders the moves left empty (an undo makes them again)."""
    for folder in sorted({p.parent for p in moved}, key=lambda p: len(p.parts), reverse=True):
        while folder != root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def _track_data(plan: Plan) -> None:
    """``dvc init`` (unless there is a .dvc) and ``dvc add data/raw``."""
    root = plan.root
    if not plan.raw_data and not plan.stages:
        return
    if not (root / ".dvc").exists():
        _init_dvc(root)
    if plan.raw_data:
        processes.run(["dvc", "add", "data/raw"], cwd=root)  # --quiet hides its errors too


def _init_dvc(root: Path) -> None:
    """``dvc init`` and ``dvc config core.analytics false``: the files written as ``scaffold
    new`` writes them when it knows this DVC's (hooks/tool_files.py), else the commands."""
    tool_files = PACKAGED_TEMPLATE.hook("tool_files")
    dvc = processes.find_tool("dvc")

    def ignored(paths: list[str]) -> set[str]:
        found = processes.git("check-ignore", "--", *paths, cwd=root, check=False)
        return set(found.text.splitlines())

    if (
        dvc is None
        or not tool_files.knows_dvc_init(dvc)
        or not tool_files.write_dvc_init(root, ignored)
    ):
        processes.run(["dvc", "init"], cwd=root)
    config = PACKAGED_TEMPLATE.dvc_remote.ConfigFile(root / ".dvc" / "config")
    config.set("core", "analytics", "false")
    config.save()


@contextlib.contextmanager
def undone_on_failure(root: Path, names: Sequence[str]) -> Iterator[None]:
    """If the block raises (Ctrl-C included), the files ``names`` (relative to ``root``) are
    put back as they were and unstaged."""
    originals = {name: (root / name).read_bytes() for name in names}
    try:
        yield
    except BaseException:
        for name, data in originals.items():
            (root / name).write_bytes(data)
        processes.git("reset", "--quiet", "--", *names, cwd=root, check=False)
        raise


def identity_args(root: Path, answers: dict[str, str]) -> list[str]:
    """``-c user.name=.. -c user.email=..`` when git has no identity."""
    if processes.git("var", "GIT_COMMITTER_IDENT", cwd=root, check=False).ok:
        return []
    name = answers.get("author_name") or "scaffold"
    email = answers.get("author_email") or "scaffold@localhost"
    return ["-c", f"user.name={name}", "-c", f"user.email={email}"]


def commit_apart(root: Path, answers: dict[str, str], paths: list[str], *message: str) -> None:
    """Stage ``paths`` and commit them on their own (each of ``message`` a paragraph): the
    commits after adoption's own, so the team sees each kind of change apart."""
    processes.git("add", "--", *paths, cwd=root)
    paragraphs = [arg for text in message for arg in ("-m", text)]
    identity = identity_args(root, answers)
    processes.git(*identity, "commit", "--quiet", "--no-verify", *paragraphs, cwd=root)


def _commit(plan: Plan) -> str:
    """Stage everything, commit once, and keep the pristine render as the template ref."""
    root = plan.root
    identity = identity_args(root, plan.answers)
    processes.git("add", "--all", cwd=root)
    processes.git(*identity, "commit", "--quiet", "--no-verify", "-m", COMMIT_MESSAGE, cwd=root)
    _record_template(plan, identity)
    return processes.git_out("rev-parse", "HEAD", cwd=root)


def _record_template(plan: Plan, identity: list[str]) -> None:
    """``refs/scaffold/template``: the pristine render as a commit on no branch, which
    ``scaffold update`` merges from (as a project made by ``scaffold new`` has it)."""
    from scaffold.project import read_answers

    assert plan.render is not None
    version = read_answers(plan.render).get("_commit")
    if not version:
        return
    index = plan.root / ".git" / "scaffold-adopt-index"
    env = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(plan.render)}
    try:
        processes.git(
            "add",
            "--all",
            "--force",
            ".",
            cwd=plan.render,
            env={**env, "GIT_DIR": str(plan.root / ".git")},
        )
        tree = processes.git("write-tree", cwd=plan.root, env=env).text.strip()
    finally:
        with contextlib.suppress(OSError):
            index.unlink()
    message = f"scaffold template {version}"
    commit = processes.git(
        *identity, "commit-tree", tree, "-m", message, cwd=plan.root
    ).text.strip()
    processes.git("update-ref", TEMPLATE_REF, commit, cwd=plan.root)
