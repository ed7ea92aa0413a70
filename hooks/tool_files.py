"""What ``dvc init`` and ``pre-commit install`` write, written without starting them (standard
library only).

Starting ``dvc`` costs about 0.7 s and ``pre-commit`` about 0.3 s, most of ``scaffold new``.
Both only write a few files whose contents their installed version fixes, so
post_gen_project.py writes those files itself when it can tell they would be exactly what the
tool writes: the tool is installed for this interpreter (found beside it), at a version whose
output is known (DVC 3; pre-commit's own hook template, read from its package). Otherwise it
runs the real command. tests/test_tool_files.py runs the real tools in scratch folders and
compares the files byte for byte and mode for mode.

Not written, on purpose: ``dvc init`` also makes DVC's site cache for the folder it runs in
(``/var/tmp/dvc/repo/<hash of the path>``), and ``pre-commit install`` records the config's
path in its store (``~/.cache/pre-commit``, for ``pre-commit gc``). Both are made again on the
first real use, and both would name the staging folder the project is made in, not the
project.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

# `dvc init` of DVC 3 (dvc/repo/init.py, dvc/ignore.py, dvc/config.py, dvc/repo/__init__.py).
DVC_MAJOR = "3"
DVC_CONFIG = ".dvc/config"  # empty
DVC_GITIGNORE = ".dvc/.gitignore"  # what git should ignore and does not already (DVC_IGNORED)
DVC_IGNORED = {".dvc/config.local": "/config.local", ".dvc/tmp": "/tmp", ".dvc/cache": "/cache"}
DVCIGNORE = ".dvcignore"  # only when the project has none
DVCIGNORE_TEXT = (
    "# Add patterns of files dvc should ignore, which could improve\n"
    "# the performance. Learn more at\n"
    "# https://dvc.org/doc/user-guide/dvcignore\n"
)
DVC_BTIME = ".dvc/tmp/btime"  # empty; its mtime tells this repository from an older one there

# `pre-commit install` (pre_commit/commands/install_uninstall.py): the package's hook template
# with two lines filled in between these markers.
PRE_COMMIT_TEMPLATE = ("resources", "hook-tmpl")
PRE_COMMIT_HASH = "138fd403232d2ddd5efb44317e38bf03"  # the template this was checked against
TEMPLATE_START = "# start templated\n"
TEMPLATE_END = "# end templated\n"
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"

_VERSION = re.compile(r"-(?P<version>[^-]+)\.dist-info$")


def installed_here(tool: str, package: str, distribution: str) -> tuple[Path, str] | None:
    """``(package folder, version)`` when the program ``tool`` (a path) belongs to this
    interpreter's environment (it sits beside ``sys.executable``) and ``package`` is
    installed there; None otherwise. Nothing is imported."""
    if Path(tool).parent != Path(sys.executable).parent:
        return None
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    for info in folder.parent.glob(f"{distribution}-*.dist-info"):
        found = _VERSION.search(info.name)
        if found:
            return folder, found["version"]
    return None


def knows_dvc_init(dvc: str) -> bool:
    """Whether ``dvc init`` of the ``dvc`` program writes exactly DVC_FILES."""
    found = installed_here(dvc, "dvc", "dvc")
    return found is not None and found[1].split(".")[0] == DVC_MAJOR


def write_dvc_init(project: Path, ignored: Callable[[list[str]], set[str]]) -> bool:
    """Write what ``dvc init`` writes in ``project``, a git repository's top folder without
    ``.dvc/``, in DVC's order; ``ignored(paths)`` says which of ``paths`` git ignores there.
    False, with nothing written, when git ignores ``.dvc`` (dvc init refuses that)."""
    if ignored([".dvc"]):
        return False
    (project / ".dvc" / "tmp").mkdir(parents=True)
    (project / DVC_CONFIG).write_text("", encoding="utf-8")
    dvcignore = project / DVCIGNORE
    if not dvcignore.exists():
        dvcignore.write_text(DVCIGNORE_TEXT, encoding="utf-8")
    skipped = ignored(list(DVC_IGNORED))  # asked once .dvc/tmp exists, as DVC asks
    lines = [f"{entry}\n" for path, entry in DVC_IGNORED.items() if path not in skipped]
    if lines:
        (project / DVC_GITIGNORE).write_text("".join(lines), encoding="utf-8")
    (project / DVC_BTIME).touch()
    return True


def pre_commit_hook(pre_commit: str) -> str | None:
    """The ``.git/hooks/pre-commit`` that ``pre-commit install`` of the ``pre-commit`` program
    writes (hook type pre-commit, the default config), or None when it cannot be known here."""
    found = installed_here(pre_commit, "pre_commit", "pre_commit")
    python = _script_interpreter(Path(pre_commit))
    if found is None or python is None:
        return None
    try:
        template = found[0].joinpath(*PRE_COMMIT_TEMPLATE).read_text(encoding="utf-8")
    except OSError:
        return None
    if f"# ID: {PRE_COMMIT_HASH}\n" not in template or template.count(TEMPLATE_START) != 1:
        return None
    before, rest = template.split(TEMPLATE_START)
    _, after = rest.split(TEMPLATE_END)
    args = ["hook-impl", f"--config={PRE_COMMIT_CONFIG}", "--hook-type=pre-commit"]
    filled = f"INSTALL_PYTHON={shlex.quote(python)}\nARGS=({shlex.join(args)})\n"
    return before + TEMPLATE_START + filled + TEMPLATE_END + after


def _script_interpreter(script: Path) -> str | None:
    """The Python on a console script's ``#!`` line, beside the script (what the script runs
    as ``sys.executable``), or None for any other kind of launcher."""
    try:
        with script.open("rb") as file:
            first = file.readline(4096).decode("utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return None
    python = first.removeprefix("#!")
    if (
        python == first
        or any(char.isspace() for char in python)
        or not os.path.isabs(python)
        or Path(python).parent != script.parent
        or not Path(python).name.startswith("python")
    ):
        return None
    return python


def write_pre_commit_hook(hooks_dir: Path, text: str) -> None:
    """Write the hook as ``pre-commit install`` does: created with the umask's mode, then made
    executable (``mode | 0o111``)."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    hook = hooks_dir / "pre-commit"
    with open(hook, "w", encoding="utf-8") as file:
        file.write(text)
    hook.chmod(hook.stat().st_mode | 0o111)
