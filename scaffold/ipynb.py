"""What a notebook file is in a project: its numbered name (``1.2-initials-slug``), the next
number, the metadata and parameters header scaffold writes, its JSON laid out as Jupyter writes
it, and what a pipeline notebook's stage depends on. Beneath ``add notebook``, promote,
graduate, extract and share."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError
from scaffold.files import relative
from scaffold.layout import NOTEBOOKS_DIR, PARAMS_DIR, RAW_DATA_DIR, Package

NAME = re.compile(r"^(?P<phase>\d+)\.(?P<seq>\d+)-(?P<rest>.+)$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
PARAMETERS_HEADER = (
    "# Parameters: defaults for interactive runs. papermill overrides them from\n"
    "# params/{stem}.yaml (if present) and `-p` options."
)


def numbered(folder: Path, suffix: str) -> list[tuple[int, int, str]]:
    """``(phase, seq, seq as written)`` of the numbered files in ``folder``."""
    found = []
    for path in folder.glob(f"*{suffix}") if folder.is_dir() else []:
        match = NAME.match(path.name[: -len(suffix)])
        if match:
            found.append((int(match["phase"]), int(match["seq"]), match["seq"]))
    return sorted(found)


def next_number(root: Path, phase: int | None = None) -> tuple[int, str]:
    """The phase (given, else the newest notebook's, else 1) and the next sequence number.

    The sequence continues after the highest number used in that phase by a notebook or a
    parameters file (gaps are not filled), keeping zero-padding such as ``0.01`` if present.
    """
    notebooks = numbered(root / NOTEBOOKS_DIR, ".ipynb")
    if phase is None:
        phase = notebooks[-1][0] if notebooks else 1
    if phase < 0:
        raise ScaffoldError(f"--phase must be 0 or more, got {phase}.")
    used = [
        entry for entry in notebooks + numbered(root / PARAMS_DIR, ".yaml") if entry[0] == phase
    ]
    if not used:
        return phase, "0"
    _, seq, written = max(used)
    width = len(written) if written.startswith("0") and len(written) > 1 else 0
    return phase, str(seq + 1).zfill(width)


def code_deps(root: Path, package: Package | None) -> list[str]:
    """What a pipeline notebook depends on besides itself: the package folder (or ``src/``)
    and the raw data folder it reads (``data/raw``, when the project has one)."""
    if package is not None:
        deps = [relative(package.folder, root)]
    else:
        deps = ["src"] if (root / "src").is_dir() else []
    return deps + ([RAW_DATA_DIR] if (root / RAW_DATA_DIR).is_dir() else [])


def dumped(original: str, data: Any) -> str:
    """``data`` as JSON laid out like ``original`` (Jupyter's indent and key order)."""
    second = original.split("\n", 2)[1] if "\n" in original else ""
    indent = len(second) - len(second.lstrip(" ")) or 1
    for sort_keys in (True, False):
        text = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
        if text.rstrip("\n") == original.rstrip("\n"):
            break
    return text + ("\n" if original.endswith("\n") else "")
