"""Writing into an existing project: never overwrite, all or nothing, one writer at a time.

Commands plan their changes first (``Write``), then ``apply`` them: new files are created
exclusively (``O_EXCL``: an existing file is never replaced), changed files are replaced
atomically, and if any write fails the ones already done are undone. ``project_lock`` makes
concurrent commands in the same project take turns (numbering, dvc.yaml edits).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold.errors import ScaffoldError


@dataclass(frozen=True)
class Change:
    """One status line: ``create notebooks/1.1-ab-clean-data.ipynb``."""

    # create | update; for `scaffold update`: added, changed, removed, kept or conflict
    action: str
    path: str  # relative to the project root, with forward slashes

    def __str__(self) -> str:
        return f"{self.action} {self.path}"


@dataclass(frozen=True)
class Write:
    """A planned write: ``text`` into ``path``; ``create`` refuses an existing file."""

    path: Path
    text: str
    create: bool = True


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes (for status lines and YAML)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def read_text(path: Path, root: Path | None = None) -> str:
    """A UTF-8 text file's content; ScaffoldError naming the file when it is not text."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        shown = relative(path, root) if root else str(path)
        raise ScaffoldError(
            f"{shown} is not UTF-8 text; save it as UTF-8 or restore it from git."
        ) from None


def changes(writes: Sequence[Write], root: Path) -> list[Change]:
    """The status lines for planned writes."""
    return [
        Change("create" if write.create else "update", relative(write.path, root))
        for write in writes
    ]


_locked: list[Path] = []  # roots held by project_lock in this process, innermost last


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(
            (p for p in (path.parent, *path.parent.parents) if p.exists() and not p.is_dir()),
            path.parent,
        )
        raise ScaffoldError(f"{blocker} is a file, not a folder; move it away.") from None


def _target(path: Path, root: Path) -> Path:
    """Where a write to ``path`` lands: refuse one that a link takes outside ``root``.

    A link inside the project to a file inside it is written through (the link stays a link).
    """
    top = root.resolve()
    landing = path.resolve()
    if not landing.is_relative_to(top):
        raise ScaffoldError(
            f"{relative(path, root)} leads to {landing}, outside the project (a symbolic "
            "link); scaffold writes only inside the project."
        )
    return landing if path.is_symlink() else path


def refuse_outside(paths: Sequence[Path], root: Path) -> None:
    """ScaffoldError when a symbolic link takes one of ``paths`` outside ``root`` (the check
    ``apply`` makes, for commands that write by other means)."""
    for path in paths:
        _target(path, root)


def _create(path: Path, text: str) -> None:
    _make_parent(path)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise ScaffoldError(f"{path} already exists; scaffold never overwrites a file.") from None
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _replace(path: Path, text: str) -> None:
    _make_parent(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def apply(writes: Sequence[Write], root: Path | None = None) -> None:
    """Do the planned writes; on any failure undo those already done and re-raise.

    Every path must land inside ``root`` (default: the project held by ``project_lock``),
    symbolic links followed; nothing is written when one does not.
    """
    root = root or (_locked[-1] if _locked else None)
    if root is not None:
        writes = [Write(_target(w.path, root), w.text, w.create) for w in writes]
    done: list[tuple[Write, str | None]] = []
    try:
        for write in writes:
            if write.create:
                _create(write.path, write.text)
                done.append((write, None))
            else:
                old = write.path.read_text(encoding="utf-8") if write.path.exists() else None
                _replace(write.path, write.text)
                done.append((write, old))
    except BaseException:
        for write, old in reversed(done):
            with contextlib.suppress(OSError):
                if old is None:
                    write.path.unlink()
                else:
                    _replace(write.path, old)
        raise


@contextlib.contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the project folder (POSIX ``flock``; a no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # Windows: exclusive creation still prevents overwrites
        _locked.append(root)
        try:
            yield
        finally:
            _locked.pop()
        return
    descriptor = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        _locked.append(root)
        try:
            yield
        finally:
            _locked.pop()
    finally:
        os.close(descriptor)  # closing releases the lock


@contextlib.contextmanager
def scratch_folder(prefix: str, within: Path | None = None) -> Iterator[Path]:
    """A new private folder (in TMPDIR, or ``within``), removed with its contents at the end.

    Unlike ``tempfile.TemporaryDirectory``, the folder is made inside the ``try``: a signal
    that interrupts scaffold (scaffold.interrupts) just after the folder is made still
    removes it, where mkdtemp's folder would be left behind."""
    parent = within if within is not None else Path(tempfile.gettempdir())
    folder = parent / f"{prefix}{os.urandom(8).hex()}"  # 64 random bits: nobody else's
    try:
        folder.mkdir(mode=0o700)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
