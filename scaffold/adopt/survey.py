"""What an existing repository holds: every file classified, with the reason.

Notebooks, data (by type, size and use), Python modules the notebooks import, dependency
files, docs and their images; everything else stays where it is. Nothing here writes.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scaffold import processes
from scaffold.errors import ScaffoldError

NOTEBOOK = "notebook"
DATA = "data"
MODULE = "module"
PACKAGE = "package"
DEPENDENCIES = "dependencies"
DOCS = "docs"
OTHER = "other"

# Data by type: always data, wherever they are.
DATA_SUFFIXES = {
    ".csv", ".tsv", ".parquet", ".pq", ".feather", ".arrow", ".xlsx", ".xls", ".xlsm",
    ".ods", ".jsonl", ".ndjson", ".h5", ".hdf5", ".hdf", ".pkl", ".pickle", ".npy", ".npz",
    ".mat", ".sav", ".dta", ".sas7bdat", ".arff", ".sqlite", ".sqlite3", ".db", ".nc",
    ".avro", ".orc", ".shp", ".geojson", ".data", ".zip", ".gz", ".bz2", ".xz", ".tgz",
    ".tar", ".7z",
}  # fmt: skip
# Data only when a notebook uses them, they sit in a data folder, or they are big.
MAYBE_DATA_SUFFIXES = {".txt", ".json", ".xml", ".dat", ".png", ".jpg", ".jpeg", ".gif", ".tif",
                       ".tiff", ".bmp", ".wav", ".mp3"}  # fmt: skip
# The files that travel with a .shp of the same name (ESRI's shapefile is several files).
SHAPEFILE_PARTS = {".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".qpj", ".fix"}
DATA_FOLDERS = {"data", "dataset", "datasets", "input", "inputs", "raw", "raw_data"}
_NEVER_DATA = {".md", ".rst", ".py", ".ipynb", ".cfg", ".toml", ".yml", ".yaml", ".sh"}
BIG = 1_000_000  # bytes: a text file this big beside notebooks is data, not documentation
DEPENDENCY_FILES = re.compile(
    r"^(requirements[^/]*\.txt|environment\.ya?ml|setup\.py|setup\.cfg|pyproject\.toml|"
    r"Pipfile(\.lock)?)$"
)
DOC_SUFFIXES = {".md", ".rst", ".pdf", ".html", ".svg", ".png", ".jpg", ".jpeg", ".gif"}
SKIPPED_FOLDERS = {
    ".git",
    ".venv",
    "venv",
    "env",
    "__pycache__",
    ".ipynb_checkpoints",
    "node_modules",
}
# ``01_``, ``1.``, ``1-``, ``S01 -``, ``2.3 ``: the order a name implies.
_NUMBER = re.compile(r"^[A-Za-z]{0,2}?(\d+)(?:[._](\d+)(?=[ ._-]))?[ ._)-]*")


@dataclass(frozen=True)
class Entry:
    """One file of the repository and what adopt makes of it."""

    path: str  # relative, forward slashes
    kind: str  # NOTEBOOK, DATA, MODULE, PACKAGE, DEPENDENCIES, DOCS, OTHER
    reason: str
    target: str = ""  # where it goes ("" = it stays)
    module: str = ""  # a module's or package's import name ("helpers", "mglearn")

    @property
    def moves(self) -> bool:
        """True when the file changes place."""
        return bool(self.target) and self.target != self.path


def tracked_files(root: Path, is_git: bool) -> tuple[list[str], list[str]]:
    """The files to adopt: git's tracked files, or every file of a plain folder; and a plain
    folder's Python environments, by any name (left alone, for its .gitignore)."""
    if is_git:
        out = processes.git("ls-files", "-z", cwd=root).stdout.decode("utf-8", "surrogateescape")
        return sorted(name for name in out.split("\0") if name), []
    found, environments = [], []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        kept = []
        for name in sorted(dirs):
            if name in SKIPPED_FOLDERS:  # the template's .gitignore has the usual names
                continue
            if _is_environment(here / name):
                environments.append((here / name).relative_to(root).as_posix())
            else:
                kept.append(name)
        dirs[:] = kept
        found += [(here / name).relative_to(root).as_posix() for name in files]
    return sorted(found), sorted(environments)


def _is_environment(folder: Path) -> bool:
    """``pyvenv.cfg`` marks a venv, ``conda-meta`` a conda environment."""
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def order_key(path: str) -> tuple[int, int, int, str]:
    """Sort key of a notebook: the numbers its name starts with, then its name."""
    stem = PurePosixPath(path).stem
    match = _NUMBER.match(stem)
    natural = re.sub(r"\d+", lambda m: m.group().zfill(12), path.lower())
    if not match or not match.group(1):
        return (1, 0, 0, natural)
    second = int(match.group(2)) if match.group(2) else -1
    return (0, int(match.group(1)), second, natural)


def slug_of(path: str) -> str:
    """The slug of a notebook's name, without the number it starts with."""
    from slugify import slugify

    from scaffold.notebooks import SLUG_MAX

    stem = PurePosixPath(path).stem
    match = _NUMBER.match(stem)
    rest = stem[match.end() :] if match and match.group(1) else stem
    return slugify(rest, max_length=SLUG_MAX, word_boundary=True) or "notebook"


def main_author(root: Path, path: str, is_git: bool) -> str:
    """The name of whoever made most of the commits that touched ``path`` ("" if none)."""
    if not is_git:
        return ""
    result = processes.git("log", "--follow", "--format=%an", "--", path, cwd=root, check=False)
    names = Counter(line for line in result.text.splitlines() if line.strip())
    return names.most_common(1)[0][0] if names else ""


def notebook_names(root: Path, notebooks: list[str], is_git: bool, fallback: str) -> dict[str, str]:
    """Old path -> ``notebooks/<phase>.<seq>-<initials>-<slug>.ipynb``, in the order the old
    names imply; the initials are each notebook's main git author's."""
    from scaffold.layout import initials_of

    ordered = sorted(notebooks, key=order_key)
    keys = [order_key(path) for path in ordered]
    two_level = all(key[0] == 0 and key[2] >= 0 for key in keys)
    width = len(str(len(ordered))) if len(ordered) >= 10 else 1
    names: dict[str, str] = {}
    used: set[str] = set()
    for rank, (path, key) in enumerate(zip(ordered, keys, strict=True), start=1):
        phase, seq = (key[1], str(key[2])) if two_level else (1, str(rank).zfill(width))
        initials = (initials_of(main_author(root, path, is_git)) or fallback)[:10]
        name = f"notebooks/{phase}.{seq}-{initials}-{slug_of(path)}.ipynb"
        while name in used:
            name = name.removesuffix(".ipynb") + "-2.ipynb"
        used.add(name)
        names[path] = name
    return names


def _in_data_folder(path: str) -> bool:
    return any(part.lower() in DATA_FOLDERS for part in PurePosixPath(path).parts[:-1])


def data_target(path: str, taken: set[str]) -> str:
    """Where a data file goes: ``data/raw/`` plus its path under its data folder, or else
    under its top folder (``output/states/states.shp`` -> ``data/raw/states/states.shp``, so
    a folder read whole stays one folder), or its name."""
    parts = PurePosixPath(path).parts
    under = [i for i, part in enumerate(parts[:-1]) if part.lower() in DATA_FOLDERS]
    rest = "/".join(parts[under[-1] + 1 :] if under else parts[1:] or parts)
    if parts[:2] == ("data", "raw"):
        rest = "/".join(parts[2:])
    target = f"data/raw/{rest}"
    if target in taken:
        target = f"data/raw/{path}"
    taken.add(target)
    return target


def data_reason(root: Path, path: str, used: set[str], files: set[str]) -> str | None:
    """Why ``path`` is data (None: it is not). ``files``: the repository's files, where a
    shapefile's other parts are found beside its ``.shp``."""
    pure = PurePosixPath(path)
    suffix = pure.suffix.lower()
    if suffix in DATA_SUFFIXES:
        return f"data ({suffix[1:]} file)"
    shapefile = pure.with_suffix(".shp").as_posix()
    if suffix in SHAPEFILE_PARTS and shapefile in files:
        return f"data (part of the shapefile {pure.with_suffix('.shp').name})"
    if suffix not in MAYBE_DATA_SUFFIXES:
        if _in_data_folder(path) and suffix not in _NEVER_DATA:
            return f"data ({suffix[1:] or 'a'} file in a data folder)"
        return (
            "data (a file a notebook reads)" if path in used and suffix not in _NEVER_DATA else None
        )
    if path in used:
        return f"data ({suffix[1:]} file a notebook reads)"
    if _in_data_folder(path):
        return f"data ({suffix[1:]} file in a data folder)"
    try:
        size = (root / path).stat().st_size
    except OSError:
        return None
    if suffix in {".txt", ".json", ".xml", ".dat"} and size >= BIG:
        return f"data ({suffix[1:]} file of {size // 1_000_000} MB)"
    return None


def classify(
    root: Path,
    files: list[str],
    used: set[str],
    imported: dict[str, set[str]],
) -> list[Entry]:
    """Every file with its kind and reason (targets of notebooks are filled in later; those
    of modules and packages are their paths inside the package).

    ``used`` are the files the notebooks' code names; ``imported`` the top-level module
    names the notebooks in each folder import.
    """
    entries: list[Entry] = []
    taken: set[str] = set()
    everything = set(files)
    nearest_first = sorted(imported.items(), key=lambda item: -len(PurePosixPath(item[0]).parts))
    for path in files:
        pure = PurePosixPath(path)
        hidden = any(part.startswith(".") for part in pure.parts)
        reason = None if hidden else data_reason(root, path, used, everything)
        if hidden:
            entries.append(Entry(path, OTHER, "tool configuration (a dot folder or file); stays"))
        elif pure.suffix == ".ipynb":
            entries.append(Entry(path, NOTEBOOK, "Jupyter notebook"))
        elif reason:
            entries.append(Entry(path, DATA, reason, data_target(path, taken)))
        elif DEPENDENCY_FILES.match(path):
            entries.append(Entry(path, DEPENDENCIES, "dependency file; merged into pyproject.toml"))
        else:
            entries.append(_code_or_docs(path, nearest_first))
    return entries


def _code_or_docs(path: str, imported: list[tuple[str, set[str]]]) -> Entry:
    pure = PurePosixPath(path)
    if pure.suffix == ".py":
        return _python_file(path, imported)
    if pure.suffix.lower() in DOC_SUFFIXES or pure.name.upper().startswith(("README", "LICENSE")):
        return Entry(path, DOCS, "documentation or an image it shows; stays")
    return Entry(path, OTHER, "not a notebook, data, code or dependency file; stays")


def _python_file(path: str, imported: list[tuple[str, set[str]]]) -> Entry:
    """A module or a package's file that notebooks import, or a script. A notebook runs in
    its own folder, so ``import helpers`` finds ``helpers.py`` (or a ``helpers/`` package)
    beside it: the nearest folder of notebooks that imports it (``imported``: each folder
    and the names its notebooks import, deepest first) claims it."""
    for folder, names in imported:
        prefix = f"{folder}/" if folder else ""
        if not path.startswith(prefix):
            continue
        inside = PurePosixPath(path[len(prefix) :])
        parts = inside.parts
        if len(parts) == 1 and inside.stem in names:
            reason = f"module the notebooks import ({inside.stem})"
            return Entry(path, MODULE, reason, inside.as_posix(), inside.stem)
        if len(parts) > 1 and parts[0] in names:
            reason = f"part of the package {parts[0]} the notebooks import"
            return Entry(path, PACKAGE, reason, inside.as_posix(), parts[0])
    return Entry(path, OTHER, "Python file no notebook imports (a script); stays")


def git_state(root: Path) -> bool:
    """True when ``root`` is the top of a git repository with a commit; ScaffoldError when it
    is inside another repository, or has no commit yet but has staged changes."""
    probe = processes.git("rev-parse", "--show-toplevel", cwd=root, check=False)
    if not probe.ok:
        return False
    top = Path(probe.text.strip()).resolve()
    if top != root.resolve():
        raise ScaffoldError(
            f"{root} is inside the git repository {top}; run adopt at that repository's top."
        )
    return processes.git("rev-parse", "--verify", "--quiet", "HEAD", cwd=root, check=False).ok


def dirty_files(root: Path) -> list[str]:
    """Files with changes git has not committed (untracked ones included)."""
    out = processes.git("status", "--porcelain", "-z", cwd=root).stdout.decode(
        "utf-8", "surrogateescape"
    )
    return [entry[3:] for entry in out.split("\0") if len(entry) > 3]
