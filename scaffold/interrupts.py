"""SIGINT, SIGTERM and SIGHUP: stop the children first, then clean up like Ctrl-C.

A signal sent to scaffold alone (``kill``, ``timeout``, a closed terminal) does not reach the
processes it started: cookiecutter's hook programs, git, the papermill driver and its kernel.
Left running, they finish work in folders scaffold then removes, or write reports after it
exited. So the handler ends every descendant (SIGTERM, then SIGKILL after a grace period)
before it raises ``Interrupted``; the ``finally`` blocks that remove staging folders then run
with nothing left writing into them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from types import FrameType

from scaffold import processes
from scaffold.errors import ScaffoldError

GRACE_SECONDS = 5.0
SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(BaseException):
    """scaffold was stopped by a signal; its children are gone, cleanup runs as it unwinds.

    A BaseException (like KeyboardInterrupt) so that ``except Exception`` never swallows it,
    but not a KeyboardInterrupt, which click would turn into ``Aborted!`` before scaffold sees it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 for Ctrl-C)."""
        return 128 + self.signum

    @property
    def message(self) -> str:
        """What to tell the user."""
        if self.signum == signal.SIGINT:
            return "Interrupted."
        return f"Interrupted by {signal.Signals(self.signum).name}."


def _parents() -> dict[int, int]:
    """pid -> parent pid of every living (not zombie) process."""
    found: dict[int, int] = {}
    if os.path.isdir("/proc"):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] not in ("Z", "X"):
                found[int(entry)] = int(fields[1])
        return found
    try:
        listed = processes.run(
            ["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "stat="], check=False, timeout=5
        ).text
    except ScaffoldError:  # no ps, or it hangs
        return found
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit() and not parts[2].startswith("Z"):
            found[int(parts[0])] = int(parts[1])
    return found


def descendants(pid: int | None = None) -> list[int]:
    """The living processes started, directly or not, by ``pid`` (default: this one)."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    todo = [os.getpid() if pid is None else pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def end_children(grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every descendant, wait up to ``grace`` seconds, then SIGKILL what is left."""
    targets = set(descendants())
    for pid in targets:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while targets and time.monotonic() < deadline:
        # Grandchildren are re-parented when their parent dies: keep the ones seen before.
        started = set(descendants()) - targets
        for pid in started:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        targets = (targets | started) & set(_parents())
        if targets:
            time.sleep(0.05)
    for pid in targets:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _handle(signum: int, frame: FrameType | None) -> None:
    # A second signal while cleaning up must not cut the cleanup short.
    for other in SIGNALS:
        signal.signal(other, _ignore)
    end_children()
    raise Interrupted(signum)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Swallow a repeated signal (a handler, not SIG_IGN: children must not inherit it)."""


def install() -> None:
    """Make SIGINT, SIGTERM and SIGHUP end the children and raise ``Interrupted``."""
    for signum in SIGNALS:
        signal.signal(signum, _handle)


def settle() -> None:
    """Ignore SIGINT, SIGTERM and SIGHUP from now on: scaffold's outcome is decided (done, or
    cleaned up after a signal) and only Python's exit is left. Without this, a signal during
    the interpreter's shutdown, when Python has put the default handlers back, would kill
    scaffold with no message and a status that says nothing of the finished work. ``SIG_IGN``
    (unlike a handler) stays through the shutdown; no child is started after this. Only
    where ``install`` ran (the command line, not a test's in-process run)."""
    if signal.getsignal(signal.SIGINT) not in (_handle, _ignore):
        return
    for signum in SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            signal.signal(signum, signal.SIG_IGN)
