"""The one error type that scaffold's functions raise for the user to read, and the sentences
for the operating-system errors that reach the command line."""

from __future__ import annotations

import errno
import os


class ScaffoldError(Exception):
    """A problem the user can fix; ``str(error)`` is one readable sentence."""


def sentence(text: str) -> str:
    """``text`` ending in one full stop, however many it brought (papermill's and the
    kernels' messages often end in one already)."""
    return text.rstrip().rstrip(".") + "."


# What to do about an operating-system error, by errno.
_ADVICE = {
    errno.EACCES: "permission denied; check the folder's permissions and owner",
    errno.EPERM: "operation not permitted (an immutable file or folder?); check `lsattr` "
    "and the permissions",
    errno.EROFS: "the file system is read-only; work on a writable one",
    errno.ENOSPC: "no space left on the device; free some space and retry",
    errno.EDQUOT: "the disk quota is exceeded; free some space and retry",
    errno.ENAMETOOLONG: "the name is too long for the file system; choose a shorter one",
    errno.ENOTDIR: "a part of the path is a file, not a folder; move it away",
    errno.EISDIR: "it is a folder, where a file was expected; move it away",
    errno.EEXIST: "it already exists; move it away (scaffold never overwrites)",
    errno.ELOOP: "too many symbolic links; fix the link",
    errno.ENOENT: "it does not exist",
    errno.EIO: "an input/output error; check the disk",
}


def describe_os_error(error: OSError) -> str:
    """One sentence for an OSError: the path (or program) and what to do."""
    name = error.filename if error.filename is not None else error.filename2
    if isinstance(error, FileNotFoundError) and name and os.sep not in str(name):
        return f"{name} is not installed or not on PATH; install it and retry."
    advice = _ADVICE.get(error.errno or 0, error.strerror or str(error))
    where = f"{name}: " if name is not None else ""
    return f"{where}{advice}."


def describe_decode_error(error: UnicodeDecodeError) -> str:
    """One sentence for a file that is not UTF-8 text (the path is unknown here)."""
    return (
        f"a file scaffold read is not UTF-8 text (byte {error.start}: {error.reason}); "
        "save it as UTF-8 or restore it from git."
    )
