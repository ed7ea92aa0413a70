"""Writing into an existing project: never overwrite, all or nothing, one writer at a time.

Commands plan their changes first (``Write``), then ``apply`` them: new files are created
exclusively (``O_EXCL``: an existing file is never replaced), changed files are replaced
atomically, and if any write fails the ones already done are undone. ``project_lock`` makes
concurrent commands in the same project take turns (numbering, dvc.yaml edits).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from scaffold.errors import ScaffoldError


@dataclass(frozen=True)
class Change:
    """One status line: ``create notebooks/1.1-ab-clean-data.ipynb``."""

    action: str  # create | update
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


def changes(writes: Sequence[Write], root: Path) -> list[Change]:
    """The status lines for planned writes."""
    return [
        Change("create" if write.create else "update", relative(write.path, root))
        for write in writes
    ]


def _create(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise ScaffoldError(f"{path} already exists; scaffold never overwrites a file.") from None
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
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


def apply(writes: Sequence[Write]) -> None:
    """Do the planned writes; on any failure undo those already done and re-raise."""
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
        yield
        return
    descriptor = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock
