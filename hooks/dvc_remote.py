"""DVC's config files, read and written the way DVC writes them (standard library only).

``.dvc/config`` is committed and holds what everyone shares (a remote's URL, its endpoint).
``.dvc/config.local`` is git-ignored and holds what belongs to one user (a profile, keys, a
credentials file). DVC reads both with configobj: ``[core]`` and ``['remote "NAME"']``
sections of ``key = value`` lines indented by four spaces. Editing changes only the lines it
sets, so comments and settings written by hand survive.

Used by post_gen_project.py (a new project's default remote, without extra ``dvc`` processes)
and by ``scaffold add remote`` (which then lets the real ``dvc`` check the result).
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

CONFIG = "config"
LOCAL_CONFIG = "config.local"
DEFAULT_REMOTE = "storage"
INDENT = "    "

_HEADER = re.compile(r"\s*\[\s*(?P<name>[^\[\]]*?)\s*\]\s*(?:#.*)?")
_KEY = re.compile(r"\s*(?P<key>[^\s=#\[][^=]*?)\s*=.*")
_URL = re.compile(r"\w+://")  # DVC's own test for "this is not a local path"
_EDGES = " \t\v'\""  # configobj quotes a value that starts or ends with one of these


def remote_section(name: str) -> str:
    """The section that holds remote ``name``."""
    return f'remote "{name}"'


def quote(value: str) -> str:
    """``value`` as configobj writes it; ValueError for a value DVC's config cannot hold."""
    if "\n" in value or "\r" in value or ("'" in value and '"' in value):
        raise ValueError(f"{value!r} cannot be written to a DVC config file")
    if not value:
        return '""'
    if value[0] in _EDGES or value[-1] in _EDGES or "," in value or "#" in value:
        return f"'{value}'" if '"' in value else f'"{value}"'
    return value


def stored_url(url: str, cwd: Path, dvc_dir: Path) -> str:
    """The ``url`` DVC stores for a remote added from ``cwd``: local paths relative to .dvc/."""
    if _URL.match(url):
        return url
    if os.path.expanduser(url) != url:  # ~/x stays as written
        return url.replace(os.sep, "/")
    if os.path.isabs(url):
        return url
    target = os.path.abspath(os.path.join(cwd, url))
    return os.path.relpath(target, os.path.abspath(dvc_dir)).replace(os.sep, "/")


class ConfigFile:
    """One DVC config file as lines, edited in place and saved atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []

    def _header(self, line: str) -> str | None:
        match = _HEADER.fullmatch(line)
        if match is None:
            return None
        name = match["name"]
        if len(name) > 1 and name[0] == name[-1] and name[0] in "'\"":
            name = name[1:-1]
        return name

    def _span(self, section: str) -> tuple[int, int] | None:
        """Index of the section's header and of the line after its last line."""
        start = None
        for index, line in enumerate(self.lines):
            name = self._header(line)
            if name is None:
                continue
            if start is not None:
                return start, index
            if name == section:
                start = index
        return None if start is None else (start, len(self.lines))

    def has_section(self, section: str) -> bool:
        """True when the file has ``section``."""
        return self._span(section) is not None

    def set(self, section: str, key: str, value: str) -> None:
        """Set ``key`` in ``section`` (created at the end of the file if missing)."""
        line = f"{INDENT}{key} = {quote(value)}"
        span = self._span(section)
        if span is None:
            header = f"'{section}'" if '"' in section else section
            self.lines += [f"[{header}]", line]
            return
        start, end = span
        for index in range(start + 1, end):
            match = _KEY.fullmatch(self.lines[index])
            if match is not None and match["key"] == key:
                self.lines[index] = line
                return
        while end > start + 1 and not self.lines[end - 1].strip():
            end -= 1
        self.lines.insert(end, line)

    def remove_section(self, section: str) -> None:
        """Drop ``section`` and its lines, if present."""
        span = self._span(section)
        if span is not None:
            del self.lines[span[0] : span[1]]

    def text(self) -> str:
        """The file's content."""
        return "\n".join(self.lines) + "\n" if self.lines else ""

    def save(self, private: bool = False) -> None:
        """Write the file in one rename; ``private`` makes it readable by its owner only."""
        save_together([(self, private)])


# Scratch files live in .dvc/tmp, which DVC's own .dvc/.gitignore ignores: a temporary copy
# of config.local (keys) must never be committable, whenever the process dies.
SCRATCH = "tmp"
JOURNAL = "scaffold-config.commit"
_STAGED = ".scaffold-new"


def _fsync_write(path: Path, text: str, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)


def scratch_dir(dvc_dir: Path) -> Path:
    """DVC's git-ignored scratch folder (``.dvc/tmp``), created if missing."""
    folder = dvc_dir / SCRATCH
    folder.mkdir(exist_ok=True)
    return folder


def recover(dvc_dir: Path) -> None:
    """Finish or undo a save that a killed process left half done.

    A journal in the scratch folder means every staged file was complete: move the rest into
    place. Without one, the config files were never touched: drop the staged copies.
    """
    folder = dvc_dir / SCRATCH
    if not folder.is_dir():
        return
    journal = folder / JOURNAL
    if journal.is_file():
        for line in journal.read_text(encoding="utf-8").splitlines():
            staged, _, name = line.partition("\t")
            if staged and name and (folder / staged).is_file():
                os.replace(folder / staged, dvc_dir / name)
        journal.unlink()
    for leftover in folder.glob(f"*{_STAGED}"):
        leftover.unlink(missing_ok=True)


class _SignalsHeld:
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends (POSIX; nothing elsewhere)."""

    SIGNALS = tuple(
        getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
    )

    def __enter__(self) -> None:
        self.held = hasattr(signal, "pthread_sigmask")
        if self.held:
            signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)

    def __exit__(self, *exc: object) -> None:
        if self.held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)


def save_together(files: Sequence[tuple[ConfigFile, bool]]) -> None:
    """Save config files of one .dvc folder as one change: all as before or all as after.

    Each ``(file, private)`` is staged complete in the git-ignored scratch folder (private ones
    readable by their owner only), then a journal is written and the files are renamed into
    place with interrupting signals held. A SIGKILL between the renames leaves the journal,
    and the next save (``recover``) finishes the change.
    """
    if not files:
        return
    dvc_dir = files[0][0].path.parent
    recover(dvc_dir)
    folder = scratch_dir(dvc_dir)
    staged: list[tuple[Path, Path]] = []
    journal = folder / JOURNAL
    try:
        for config, private in files:
            mode = 0o600 if private else 0o644
            if config.path.is_file() and not private:
                mode = config.path.stat().st_mode & 0o777
            temporary = folder / f"{config.path.name}.{os.getpid()}{_STAGED}"
            _fsync_write(temporary, config.text(), mode)
            staged.append((temporary, config.path))
        with _SignalsHeld():
            if len(staged) > 1:
                lines = "".join(f"{temp.name}\t{final.name}\n" for temp, final in staged)
                _fsync_write(folder / f"{JOURNAL}{_STAGED}", lines, 0o600)
                os.replace(folder / f"{JOURNAL}{_STAGED}", journal)
            for temporary, final in staged:
                os.replace(temporary, final)
            journal.unlink(missing_ok=True)
    except BaseException:
        if not journal.is_file():
            for temporary, _ in staged:
                temporary.unlink(missing_ok=True)
        raise


def set_remote(
    config: ConfigFile,
    local_config: ConfigFile,
    name: str,
    url: str,
    *,
    default: bool = False,
    shared: Mapping[str, str] | None = None,
    local: Mapping[str, str] | None = None,
) -> None:
    """Add remote ``name`` in memory: ``shared`` options to ``config``, ``local`` ones (per
    user, secrets) to ``local_config``."""
    section = remote_section(name)
    if default:
        config.set("core", "remote", name)
    config.set(section, "url", url)
    for key, value in (shared or {}).items():
        config.set(section, key, value)
    for key, value in (local or {}).items():
        local_config.set(section, key, value)


def write_remote(
    dvc_dir: Path,
    name: str,
    url: str,
    *,
    default: bool = False,
    shared: Mapping[str, str] | None = None,
    local: Mapping[str, str] | None = None,
) -> None:
    """Add remote ``name`` (``url`` as DVC stores it): ``shared`` options to .dvc/config,
    ``local`` ones (per user, secrets) to .dvc/config.local, saved as one change."""
    config = ConfigFile(dvc_dir / CONFIG)
    local_config = ConfigFile(dvc_dir / LOCAL_CONFIG)
    set_remote(config, local_config, name, url, default=default, shared=shared, local=local)
    save_together([(config, False), *([(local_config, True)] if local else [])])


def write_local(dvc_dir: Path, name: str, options: Mapping[str, str]) -> None:
    """Set per-user ``options`` of remote ``name`` in the git-ignored .dvc/config.local."""
    config = ConfigFile(dvc_dir / LOCAL_CONFIG)
    for key, value in options.items():
        config.set(remote_section(name), key, value)
    config.save(private=True)
