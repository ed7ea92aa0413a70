"""``scaffold check``: which notebooks, the per-notebook facts (cached), the project-wide rules.

Per-notebook facts (``notebook.analyse``) are cached in the user's cache folder
(``$XDG_CACHE_HOME/scaffold/check/``), keyed by each file's size and modification time, so
nothing is written inside the project. Project-wide rules (copies across notebooks, imports
against pyproject.toml, the production contract, data in git) run on every call.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import itertools
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import __version__
from scaffold.check import duplicates, imports, spark, threshold
from scaffold.check.model import Config, Finding, codes_where
from scaffold.check.notebook import Summary, analyse, forget_cells, forget_folders
from scaffold.errors import ScaffoldError
from scaffold.files import relative
from scaffold.processes import git
from scaffold.project import Project

NOTEBOOK_NAME = r"^\d+\.\d+-[a-z0-9]+-[a-z0-9]+(?:-[a-z0-9]+)*$"
# Folders never searched for notebooks: executed copies, environments, data, tool caches.
PRUNED = {"reports", "data", "models", "node_modules", "__pycache__", "site", "venv", "env"}
DATA_SUFFIXES = {
    ".csv", ".tsv", ".parquet", ".feather", ".arrow", ".h5", ".hdf5", ".hdf", ".pkl",
    ".pickle", ".joblib", ".npy", ".npz", ".xlsx", ".xls", ".json", ".jsonl", ".zip",
    ".gz", ".bz2", ".xz", ".tar", ".db", ".sqlite", ".pt", ".pth", ".onnx", ".ckpt", ".avro",
    ".orc", ".sav", ".dta", ".mat", ".nc", ".tif", ".tiff",
}  # fmt: skip
NOT_DATA = {".gitkeep", ".gitignore", ".keep", "README.md", "README"}
TYPES: dict[str, tuple[str, ...]] = {
    "int": ("int",),
    "float": ("float", "int"),
    "str": ("str",),
    "bool": ("bool",),
    "list": ("list",),
    "dict": ("dict",),
}


@dataclass(frozen=True)
class Result:
    """What a check found, and how many notebooks it looked at (and ran)."""

    findings: list[Finding]
    notebooks: int
    ran: int = 0
    skipped: str = ""  # outside a project: the one line saying which rules were left out
    root: Path | None = None  # outside a project: the folder the paths are relative to


# -- which notebooks -------------------------------------------------------------------------


def _walk(folder: Path, root: Path, config: Config) -> list[Path]:
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and d not in PRUNED)
        for name in sorted(files):
            if name.endswith(".ipynb"):
                path = Path(current, name)
                if not _excluded(path, root, config):
                    found.append(path)
    return found


def _excluded(path: Path, root: Path, config: Config) -> bool:
    if not config.exclude:  # the usual case: no relative path to make for each notebook
        return False
    rel = relative(path, root)
    return any(fnmatch.fnmatch(rel, pattern) for pattern in config.exclude)


def notebook_paths(
    root: Path, paths: Sequence[Path], config: Config, cwd: Path | None = None
) -> list[Path]:
    """The notebooks to check: those under ``paths`` (default: the whole project)."""
    if not paths:
        return _walk(root, root, config)
    chosen: list[Path] = []
    for given in paths:
        path = ((cwd or Path.cwd()) / given).resolve()
        if not path.is_relative_to(root):
            raise ScaffoldError(f"{given} is outside the project {root}.")
        if path.is_dir():
            chosen.extend(_walk(path, root, config))
        elif not path.exists():
            raise ScaffoldError(f"{given}: no such file or folder.")
        elif path.suffix != ".ipynb":
            raise ScaffoldError(f"{given} is not a notebook (.ipynb).")
        elif not _excluded(path, root, config):
            chosen.append(path)
    return list(dict.fromkeys(chosen))


# -- the cache -------------------------------------------------------------------------------


def _cache_file(root: Path) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    return base / "scaffold" / "check" / f"{digest}.json"


@functools.cache
def code_version() -> str:
    """A hash of the code that makes the cached facts (this package's modules): the cache key
    follows the rules' code, so a changed rule never meets facts an older one cached."""
    digest = hashlib.blake2b(__version__.encode(), digest_size=12)
    for module in sorted(Path(__file__).parent.glob("*.py")):
        try:
            digest.update(module.name.encode() + module.read_bytes())
        except OSError:
            digest.update(module.name.encode())
    return digest.hexdigest()


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != code_version():
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save_cache(path: Path, entries: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(
            json.dumps({"version": code_version(), "entries": entries}),
            encoding="utf-8",
        )
        os.replace(scratch, path)
    except OSError:
        pass  # a cache that cannot be written only costs time


PARALLEL_FROM = 200  # notebooks to (re)read before a second process pays off


Analyse = Callable[[Path], Summary]  # notebook.analyse of one project, parsing or not


def _analyse_many(analyse_one: Analyse, paths: Sequence[Path]) -> list[Summary]:
    """``analyse_one`` each path; shared with forked children (one per extra core) when many.

    Every ``shares``-th notebook goes to each process, and this one analyses its own share
    meanwhile. Cheaper than a process pool, whose workers all start, import and are fed
    while this process waits: on 1,000 notebooks it costs a few percent more CPU in all than
    one process does, for about half the wait on two idle cores.
    """
    import gc

    # The analysis makes and drops many small trees and keeps few of them: the cyclic
    # collector would mostly traverse live objects (in a forked child, also touching and so
    # copying the parent's pages). Reference counting frees the trees.
    enabled = gc.isenabled()
    gc.disable()
    gc.freeze()
    try:
        return _analyse_shared(analyse_one, paths)
    finally:
        forget_cells()  # before the collector runs again: it would walk the kept trees
        gc.unfreeze()
        if enabled:
            gc.enable()


def _analyse_shared(analyse_one: Analyse, paths: Sequence[Path]) -> list[Summary]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    shares = min(cores, 8)
    if len(paths) < PARALLEL_FROM or shares < 2 or sys.platform != "linux":
        return [analyse_one(path) for path in paths]
    children = [(index, _fork(analyse_one, paths[index::shares])) for index in range(1, shares)]
    found: list[Summary | None] = [None] * len(paths)
    found[0::shares] = [analyse_one(path) for path in paths[0::shares]]
    for index, child in children:
        found[index::shares] = _collect(analyse_one, child, paths[index::shares])
    return [summary for summary in found if summary is not None]


def _fork(analyse_one: Analyse, share: Sequence[Path]) -> tuple[int, int] | None:
    """Analyse ``share`` in a forked child: (its pid, the pipe it answers on), None if no fork."""
    import pickle

    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: answer, then leave without running the parent's exit handlers
        status = 1
        try:
            os.close(read_end)
            found = [analyse_one(path) for path in share]
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _collect(
    analyse_one: Analyse, child: tuple[int, int] | None, share: Sequence[Path]
) -> list[Summary]:
    """A child's summaries of ``share``; analysed here instead when the child failed."""
    import pickle

    if child is not None:
        pid, read_end = child
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        try:
            found = pickle.loads(data) if status == 0 else None
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError):
            found = None
        if isinstance(found, list) and len(found) == len(share):
            return found
    return [analyse_one(path) for path in share]


Key = list[int] | None  # a notebook's [size, mtime_ns] in the cache; None: cannot stat it


def _key(path: Path) -> Key:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def _cached(entry: Any, key: Key, parse: bool) -> Summary | None:
    """The cached summary when the cache entry is for this very file (same size and mtime),
    and was parsed if ``parse``."""
    if key is None or not (isinstance(entry, list) and len(entry) == 2 and entry[0] == key):
        return None
    try:
        summary = Summary.from_json(entry[1])
    except (KeyError, TypeError, ValueError):
        return None
    return summary if summary.parsed or not parse else None


def summaries(
    root: Path, paths: Sequence[Path], use_cache: bool = True, parse: bool = True
) -> list[Summary]:
    """``analyse`` of each notebook, from the cache when its size and mtime are unchanged.

    ``parse=False`` when no enabled rule needs the code parsed (see ``PARSED``).
    """
    analyse_one = functools.partial(analyse, root, parse=parse)
    forget_folders()  # links may have changed since the last check of this process
    if not use_cache:
        return _analyse_many(analyse_one, paths)
    cache_path = _cache_file(root)
    old = _load_cache(cache_path)
    keys = {path: _key(path) for path in paths}
    found: dict[Path, Summary] = {}
    for path in paths if old else ():
        summary = _cached(old.get(relative(path, root)), keys[path], parse)
        if summary is not None:
            found[path] = summary
    missing = [path for path in paths if path not in found]
    found.update(zip(missing, _analyse_many(analyse_one, missing), strict=True))
    if missing or len(old) != len(paths):
        # other notebooks stay cached when only some are checked
        entries = {k: v for k, v in old.items() if (root / k).exists()}
        for path in missing:
            if keys[path] is not None:
                entries[relative(path, root)] = [keys[path], found[path].to_json()]
        _save_cache(cache_path, entries)
    return [found[path] for path in paths]


# -- project-wide rules ----------------------------------------------------------------------


def _module_hint(project: Project) -> str:
    from scaffold.layout import find_package

    package = find_package(project)
    return f"src/{package.name}/" if package else "a module of the project's package"


def _name_rule(summary: Summary) -> list[Finding]:
    import re

    path = Path(summary.path)
    if path.parts[:1] != ("notebooks",) or re.match(NOTEBOOK_NAME, path.stem):
        return []
    return [
        Finding(
            summary.path,
            0,
            0,
            "NB701",
            f"name {path.name!r} does not follow <phase>.<seq>-<initials>-<description> "
            "(e.g. 1.2-ab-clean-data.ipynb); rename it (git mv)",
        )
    ]


def _size_rules(summary: Summary, config: Config, where: str) -> list[Finding]:
    found = []
    max_cells, max_functions = config.threshold("max-cells"), config.threshold("max-functions")
    if summary.cells > max_cells:
        found.append(
            Finding(
                summary.path,
                0,
                0,
                "NB801",
                f"{summary.cells} cells (more than {max_cells}); long notebooks rarely "
                f"reproduce: move steps into {where} or split the notebook",
            )
        )
    if summary.functions > max_functions:
        found.append(
            Finding(
                summary.path,
                0,
                0,
                "NB802",
                f"defines {summary.functions} functions (more than {max_functions}); move them "
                f"into {where} and import them (scaffold add module NAME)",
            )
        )
    return found


class _Elsewhere:
    """For each definition of a group, the others to name: in another notebook (and, for
    drifted ones, with other code). Counted, and the first three found, in linear time."""

    SHOWN = 3

    def __init__(self, members: Sequence[duplicates.Definition], drifted: bool) -> None:
        self.members = members
        self.drifted = drifted
        self.by_path = Counter(d.path for d in members)
        self.by_code = Counter(d.fingerprint for d in members)
        self.by_both = Counter((d.path, d.fingerprint) for d in members)
        # enough candidates that SHOWN remain after dropping one notebook's own
        self.enough = self.SHOWN + max(self.by_path.values(), default=0)
        self.first: dict[str | None, list[duplicates.Definition]] = {}

    def count(self, definition: duplicates.Definition) -> int:
        """How many others there are."""
        count = len(self.members) - self.by_path[definition.path]
        if self.drifted:
            same = self.by_code[definition.fingerprint]
            count -= same - self.by_both[(definition.path, definition.fingerprint)]
        return count

    def where(self, definition: duplicates.Definition) -> str:
        """``path:cell, path:cell, path:cell and N more``."""
        code = definition.fingerprint if self.drifted else None
        if code not in self.first:
            other = (d for d in self.members if d.fingerprint != code)
            self.first[code] = list(itertools.islice(other, self.enough))
        shown = [d for d in self.first[code] if d.path != definition.path][: self.SHOWN]
        more = self.count(definition) - self.SHOWN
        return ", ".join(f"{d.path}:{d.cell}" for d in shown) + (
            f" and {more} more" if more > 0 else ""
        )


def _duplicate_rules(
    every: Sequence[Summary], selected: set[str], config: Config, where: str
) -> list[Finding]:
    defs = [d for summary in every for d in summary.definitions]
    groups = duplicates.group(defs, config.threshold("duplicate-min-lines"))
    found: list[Finding] = []
    for copies in groups.copies:
        elsewhere = _Elsewhere(copies, drifted=False)
        found.extend(
            Finding(
                d.path,
                d.cell,
                d.line,
                "NB501",
                f"{d.kind} {d.name!r} is copied in {elsewhere.where(d)}; move it into {where} "
                f"and import it (scaffold extract {d.name})",
            )
            for d in copies
            if d.path in selected
        )
    for same_name in groups.drifted:
        for d, other, alike in _drifts(same_name, selected):
            found.append(
                Finding(
                    d.path,
                    d.cell,
                    d.line,
                    "NB502",
                    f"{d.kind} {_signature(d)!r} has drifted from the one "
                    f"in {other.path}:{other.cell} ({alike:.0%} alike): "
                    f"{_changed_lines(d, other)}; keep one version in {where} "
                    f"(scaffold extract {d.name} --from NOTEBOOK)",
                    duplicates.difference(d, other),
                )
            )
    return found


DRIFT_SIMILARITY = 0.7  # chosen on the corpora: docs/check.md, NB502


def _drifts(
    same_name: Sequence[duplicates.Definition], selected: set[str]
) -> list[tuple[duplicates.Definition, duplicates.Definition, float]]:
    """(definition, its closest drifted copy, similarity) for real drift: the same
    parameters, another notebook, other code, and a structure at least DRIFT_SIMILARITY alike.

    Compared once per pair of distinct versions (fingerprints), not per pair of copies.
    """
    versions: dict[tuple[str, str], list[duplicates.Definition]] = {}
    for d in same_name:
        versions.setdefault((d.parameters, d.fingerprint), []).append(d)
    scores: dict[tuple[str, str], float] = {}
    found = []
    for d in same_name:
        if d.path not in selected:
            continue
        best: tuple[float, duplicates.Definition] | None = None
        for (parameters, fingerprint), copies in versions.items():
            if parameters != d.parameters or fingerprint == d.fingerprint:
                continue
            other = next((c for c in copies if c.path != d.path), None)
            if other is None:
                continue
            key = (min(d.fingerprint, fingerprint), max(d.fingerprint, fingerprint))
            if key not in scores:
                scores[key] = duplicates.similarity(d, other)
            if scores[key] >= DRIFT_SIMILARITY and (best is None or scores[key] > best[0]):
                best = (scores[key], other)
        if best is not None:
            found.append((d, best[1], best[0]))
    return found


def _signature(d: duplicates.Definition) -> str:
    return f"{d.name}({d.parameters})" if d.kind == "function" else d.name


def _hunks(diff: str) -> list[list[str]]:
    """The changed lines of a unified diff, hunk by hunk."""
    hunks: list[list[str]] = []
    for line in diff.splitlines()[2:]:
        if line.startswith("@@"):
            hunks.append([])
        elif hunks and line[:1] in "+-":
            hunks[-1].append(line)
    return hunks


def _changed_lines(d: duplicates.Definition, other: duplicates.Definition) -> str:
    """``- `old` + `new``` of the first hunk that changes a line (else the first change)."""
    hunks = _hunks(duplicates.difference(d, other))
    changed = [line for hunk in hunks for line in hunk]
    first = next((h for h in hunks if {x[0] for x in h} == {"+", "-"}), hunks[0] if hunks else [])
    picked = [next((line for line in first if line[0] == sign), "") for sign in "-+"]
    shown = [f"{line[0]} `{line[1:].strip()[:60]}`" for line in picked if line]
    more = len(changed) - len(shown)
    return " ".join(shown) + (f" (and {more} more changed lines)" if more > 0 else "")


def _import_rules(
    project: Project, chosen: Sequence[Summary], python: Path | None
) -> list[Finding]:
    """NB404: one finding per notebook and undeclared distribution (or unknown module)."""
    root = project.root
    wanted = imports.declared(root)
    if wanted is None:
        return []
    from scaffold.layout import find_package

    package = find_package(project)
    own = {package.name} if package else set()
    environment = _Environment(project, python)
    found: list[Finding] = []
    folders: dict[Path, set[str]] = {}  # local modules by folder, globbed once each
    for summary in chosen:
        local = _local_names(root, summary, folders) | own
        missing: dict[tuple[str, ...] | str, list[tuple[str, int, int]]] = {}
        for module, cell, line, guarded in summary.imports:
            if guarded:
                continue
            if module.split(".")[0] in spark.IMPORTS or module in spark.IMPORTS:
                continue  # NB411 says where Spark is declared
            needed = imports.missing(module, wanted, local, None)
            if needed != ():
                needed = imports.missing(module, wanted, local, environment.installed())
            if needed is None and summary.path_computed:
                continue  # may be the notebook's own code, on a sys.path it computes
            if needed != ():
                missing.setdefault(needed or module.split(".")[0], []).append((module, cell, line))
        found.extend(_undeclared(summary.path, key, places) for key, places in missing.items())
    return found


class _Environment:
    """The project's environment's import names, read once and only when needed."""

    def __init__(self, project: Project, python: Path | None) -> None:
        self.project, self.python = project, python
        self.mapping: dict[str, set[str]] | None = None

    def installed(self) -> dict[str, set[str]]:
        if self.mapping is None:
            self.mapping = _installed(self.project, self.python)
        return self.mapping


def _local_names(root: Path, summary: Summary, folders: dict[Path, set[str]]) -> set[str]:
    folder = (root / summary.path).parent
    if folder not in folders:
        folders[folder] = imports.local_modules(root, folder)
    local = folders[folder] | set(summary.written)
    for edit in summary.path_edits:
        place = Path(os.path.expanduser(edit))
        place = place if place.is_absolute() else folder / place
        if place not in folders:
            folders[place] = imports.local_modules(place, place) if place.is_dir() else set()
        local |= folders[place]
    return local


def _undeclared(
    path: str, key: tuple[str, ...] | str, places: list[tuple[str, int, int]]
) -> Finding:
    places = sorted(places, key=lambda place: place[1:])
    modules = sorted({module.split(".")[0] for module, _, _ in places})
    lines = ", ".join(f"{cell}:{line}" for _, cell, line in places[:6])
    lines += f" and {len(places) - 6} more" if len(places) > 6 else ""
    names = ", ".join(repr(module) for module in modules)
    first = places[0]
    if isinstance(key, str):
        return Finding(
            path, first[1], first[2], "NB404",
            f"imports {names} (cell:line {lines}), which pyproject.toml does not declare, and "
            "whose distribution is unknown (not in the project's environment nor in the "
            "mapping); declare the distribution that provides it",
        )  # fmt: skip
    other = f" (or {', '.join(repr(k) for k in key[1:])})" if len(key) > 1 else ""
    return Finding(
        path, first[1], first[2], "NB404",
        f"imports {names} (cell:line {lines}) from distribution {key[0]!r}{other}, which "
        f"pyproject.toml does not declare; add {key[0]!r} to [project] dependencies",
        fix=key[0],
    )  # fmt: skip


def _installed(project: Project, python: Path | None) -> dict[str, set[str]]:
    from scaffold.interpreters import find_interpreter

    try:
        interpreter = find_interpreter(project, python)
    except ScaffoldError:
        return {}
    return imports.environment_map(imports.site_packages(interpreter.python))


def _yaml(path: Path, root: Path) -> tuple[Any, Finding | None]:
    import yaml

    rel = relative(path, root)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        return None, Finding(rel, 0, 0, "NB605", f"{rel} is not valid YAML{at}; fix it")


def _stages(root: Path) -> tuple[dict[str, Any], list[Finding]]:
    """dvc.yaml's stages by the notebook (relative path) each runs with papermill."""
    from scaffold.pipeline import DVC_YAML, pipeline_notebooks

    path = root / DVC_YAML
    if not path.is_file():
        return {}, []
    data, problem = _yaml(path, root)
    if problem:
        return {}, [problem]
    stages = (data or {}).get("stages") if isinstance(data, dict) else None
    by_notebook: dict[str, Any] = {}
    for stage in pipeline_notebooks(root):
        raw = (stages or {}).get(stage.stage)
        by_notebook[os.path.normpath(stage.notebook)] = (
            stage,
            raw if isinstance(raw, dict) else {},
        )
    return by_notebook, []


def _entries(values: Any) -> set[str]:
    found: set[str] = set()
    for value in values if isinstance(values, list) else []:
        if isinstance(value, str):
            found.add(os.path.normpath(value))
        elif isinstance(value, dict):
            found.update(os.path.normpath(str(key)) for key in value)
    return found


def _production_rules(project: Project, chosen: Sequence[Summary]) -> list[Finding]:
    from scaffold.layout import PARAMS_DIR

    root = project.root
    stages, found = _stages(root)
    params = (root / PARAMS_DIR).is_dir()  # else no notebook has a params file to look for
    for summary in chosen:
        if not summary.readable:
            continue
        stem = Path(summary.path).stem
        params_path = root / PARAMS_DIR / f"{stem}.yaml"
        stage_info = stages.get(os.path.normpath(summary.path))
        if stage_info is None and not (params and params_path.is_file()):
            continue
        found.extend(_parameters_cell_rules(summary, root, params_path))
        if stage_info is not None:
            stage, raw = stage_info
            found.extend(_stage_rules(summary, stage, raw, params_path, root))
    return found


def _parameters_cell_rules(summary: Summary, root: Path, params_path: Path) -> list[Finding]:
    count = len(summary.parameters_cells)
    if count != 1:
        where = summary.parameters_cells[1] if count > 1 else 0
        what = (
            f"{count} cells are tagged 'parameters'; keep the tag on one"
            if count
            else "no cell is tagged 'parameters'; tag the cell that holds the defaults "
            "(papermill injects the parameters after it)"
        )
        return [Finding(summary.path, where, 0, "NB601", f"production notebook: {what}")]
    if not params_path.is_file():
        return []
    values, unreadable = _params_file(params_path, root)
    if unreadable:
        return [unreadable]
    rel = relative(params_path, root)
    declared = {name: (annotation, kind, line) for name, annotation, kind, _, line in
                summary.parameters}  # fmt: skip
    cell = summary.parameters_cells[0]
    found = []
    for key, value in values.items():
        mismatch = _parameter_rule(str(key), value, declared, rel)
        if mismatch is not None:
            line, code, message = mismatch
            found.append(Finding(summary.path, cell, line, code, message))
    return found


def _params_file(path: Path, root: Path) -> tuple[dict[Any, Any], Finding | None]:
    """A params file's mapping, or the NB605 finding that says why it is not one."""
    values, problem = _yaml(path, root)
    if problem:
        return {}, problem
    if values is None:
        return {}, None
    if not isinstance(values, dict):
        rel = relative(path, root)
        return {}, Finding(rel, 0, 0, "NB605", f"{rel} must map parameter names to values")
    return values, None


def _parameter_rule(
    key: str, value: Any, declared: dict[str, tuple[str, str, int]], rel: str
) -> tuple[int, str, str] | None:
    """(line, code, message) when the params file's ``key: value`` does not fit the cell."""
    if key not in declared:
        import difflib

        close = difflib.get_close_matches(key, list(declared), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return (
            0,
            "NB602",
            f"{rel} sets {key!r}, which the parameters cell does not define{hint}; "
            "rename the key or add the parameter",
        )
    annotation, kind, line = declared[key]
    expected = annotation.split("[")[0].strip() if annotation else kind
    accepted = TYPES.get(expected)
    actual = type(value).__name__
    if value is None or kind == "NoneType" or accepted is None or actual in accepted:
        return None
    return (
        line,
        "NB603",
        f"{key!r} is {expected} in the parameters cell but {actual} in {rel}; make them agree",
    )


def _stage_rules(
    summary: Summary, stage: Any, raw: dict[str, Any], params_path: Path, root: Path
) -> list[Finding]:
    deps = _entries(raw.get("deps"))
    params = _entries(raw.get("params"))
    found = []
    wanted = [(os.path.normpath(summary.path), deps, "deps")]
    if params_path.is_file():
        wanted.append((os.path.normpath(relative(params_path, root)), deps | params, "params"))
    for path, listed, key in wanted:
        if path not in listed:
            found.append(
                Finding(
                    summary.path,
                    0,
                    0,
                    "NB604",
                    f"dvc.yaml stage {stage.stage!r} does not depend on {Path(path).as_posix()}; "
                    f"add it to the stage's {key} so dvc repro re-runs when it changes",
                )
            )
    return found


def _data_rules(root: Path, config: Config) -> list[Finding]:
    try:
        listed = git("ls-files", "-z", "--cached", cwd=root, check=False, timeout=60)
    except ScaffoldError:  # no git, or it hung: the data rules need the git index
        return []
    if not listed.ok:
        return []
    limit = config.threshold("max-data-kb") * 1024
    found = []
    for raw_name in listed.stdout.split(b"\0"):
        if not raw_name:
            continue
        name = os.fsdecode(raw_name)
        path = Path(name)
        if path.name in NOT_DATA or path.suffix == ".dvc":
            continue
        if path.parts[:1] == ("data",):
            found.append(
                Finding(
                    name,
                    0,
                    0,
                    "NB901",
                    f"{name} is in git; track data with DVC: git rm --cached {name} && "
                    f"dvc add {name}",
                )
            )
            continue
        if path.suffix.lower() in DATA_SUFFIXES:
            try:
                size = (root / path).stat().st_size
            except OSError:
                continue
            if size > limit:
                found.append(
                    Finding(
                        name,
                        0,
                        0,
                        "NB902",
                        f"{name} ({size // 1024} kB) is in git; track it with DVC: "
                        f"git rm --cached {name} && dvc add {name}",
                    )
                )
    return found


# -- the whole check -------------------------------------------------------------------------


def _code_ranges(codes: Sequence[str]) -> str:
    """``NB402, NB501-NB502, NB601-NB605`` (consecutive codes of one hundred joined)."""
    runs: list[list[str]] = []
    for code in codes:
        last = runs[-1][-1] if runs else ""
        if last and last[:3] == code[:3] and int(code[2:]) == int(last[2:]) + 1:
            runs[-1].append(code)
        else:
            runs.append([code])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)


def check_anywhere(
    paths: Sequence[Path], config: Config | None = None, *, use_cache: bool = True,
    cwd: Path | None = None,
) -> Result:  # fmt: skip
    """The per-notebook rules on ``paths`` outside any project (as ruff or nbstripout do).

    Paths are shown relative to ``cwd`` when under it. The rules that need a project
    (scope ``project``) are skipped, and ``Result.skipped`` says which.
    """
    config = config or Config()
    here = (cwd or Path.cwd()).resolve()
    chosen: list[Path] = []
    for given in paths:
        path = (here / given).resolve()
        if path.is_dir():
            chosen.extend(_walk(path, path, config))
        elif not path.exists():
            raise ScaffoldError(f"{given}: no such file or folder.")
        elif path.suffix != ".ipynb":
            raise ScaffoldError(f"{given} is not a notebook (.ipynb).")
        else:
            chosen.append(path)
    chosen = list(dict.fromkeys(chosen))
    folders = [str(path.parent) for path in chosen]
    common = Path(os.path.commonpath(folders)) if folders else here
    root = here if common.is_relative_to(here) else common
    project_codes = [code for code in codes_where(scope="project") if config.enabled(code)]
    local = Config(config.select, (*config.ignore, *project_codes), config.exclude,
                   config.thresholds)  # fmt: skip
    parse = any(local.enabled(code) for code in PARSED)
    found = summaries(root, chosen, use_cache, parse)
    findings = _notebook_rules(found, local, "a module")
    skipped = (
        f"Not in a project: skipped the project rules {_code_ranges(project_codes)} "
        "(declared dependencies, copies across notebooks, pipeline contract, names, data in git)."
        if project_codes
        else ""
    )
    return Result(keep(findings, found, local), len(found), skipped=skipped, root=root)


def check(
    project: Project,
    paths: Sequence[Path] = (),
    config: Config | None = None,
    *,
    use_cache: bool = True,
    python: Path | None = None,
    cwd: Path | None = None,
) -> Result:
    """Every static rule on the notebooks under ``paths`` (default: the whole project)."""
    from scaffold.check.model import load_config

    root = project.root
    config = config or load_config(root)
    chosen_paths = notebook_paths(root, paths, config, cwd)
    every_paths = notebook_paths(root, (), config) if paths else chosen_paths
    parse = any(config.enabled(code) for code in PARSED)
    every = summaries(root, list(dict.fromkeys([*every_paths, *chosen_paths])), use_cache, parse)
    selected = {relative(path, root) for path in chosen_paths}
    chosen = [summary for summary in every if summary.path in selected]
    where = _module_hint(project)
    findings = _notebook_rules(chosen, config, where)
    if config.enabled("NB501") or config.enabled("NB502"):
        findings.extend(_duplicate_rules(every, selected, config, where))
    if config.enabled("NB404"):
        findings.extend(_import_rules(project, chosen, python))
    if any(config.enabled(code) for code in PRODUCTION_CODES):
        findings.extend(_production_rules(project, chosen))
    if not paths and (config.enabled("NB901") or config.enabled("NB902")):
        findings.extend(_data_rules(root, config))
    findings.extend(threshold.rules(root, chosen, config.enabled))
    findings.extend(spark.rules(project, chosen, config))
    return Result(keep(findings, chosen, config), len(chosen))


PRODUCTION_CODES = ("NB601", "NB602", "NB603", "NB604", "NB605")
# The rules that need the code cells parsed; without them, notebooks are only read.
PARSED = codes_where(parsed=True)


def _notebook_rules(chosen: Sequence[Summary], config: Config, where: str) -> list[Finding]:
    """Each notebook's own findings, its name and its size."""
    findings: list[Finding] = []
    for summary in chosen:
        findings.extend(summary.findings)
        findings.extend(_name_rule(summary))
        if summary.readable:
            findings.extend(_size_rules(summary, config, where))
    return findings


def keep(findings: Sequence[Finding], chosen: Sequence[Summary], config: Config) -> list[Finding]:
    """The findings that are enabled and not silenced, sorted by place, without repeats."""
    by_path = {summary.path: summary for summary in chosen}
    kept = []
    for finding in dict.fromkeys(findings):
        if not config.enabled(finding.code):
            continue
        summary = by_path.get(finding.path)
        if summary is not None and summary.silenced(finding):
            continue
        kept.append(finding)
    return sorted(kept, key=lambda f: (f.path, f.cell, f.line, f.code))
