"""``scaffold adopt``'s plan: every move, rewrite, new file, dependency and stage, decided
before anything is written (``--dry-run`` prints it; ``apply`` carries it out)."""

from __future__ import annotations

import ast
import contextlib
import datetime
import itertools
import json
import posixpath
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from scaffold import processes, pycode
from scaffold.adopt import code, deps, survey
from scaffold.adopt.survey import DATA, MODULE, NOTEBOOK, OTHER, PACKAGE, Entry
from scaffold.errors import ScaffoldError

COMMIT_MESSAGE = "Adopt the scaffold layout"
# Template files adopt never adds: the example notebook and its parameters, and the empty
# data folders' placeholders (the data is DVC's).
_SKIP_TEMPLATE = ("notebooks/", "params/", "data/", "dvc.yaml")
_MERGED = ("README.md", ".gitignore", "pyproject.toml")
_PAPERMILL = "papermill --no-progress-bar -k python3 --cwd notebooks"


@dataclass(frozen=True)
class Stage:
    """A dvc.yaml stage: a notebook that writes what another reads."""

    notebook: str  # its new path
    deps: tuple[str, ...]
    outs: tuple[str, ...]


@dataclass
class Plan:
    """Everything ``scaffold adopt`` would do in ``root``."""

    root: Path
    is_git: bool
    package: str
    answers: dict[str, str]
    # a plain folder's Python environments (a venv by any name): left alone, git-ignored
    environments: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    writes: dict[str, str] = field(default_factory=dict)  # new path -> text (after moves)
    added: list[str] = field(default_factory=list)  # template files that were absent
    merged: dict[str, str] = field(default_factory=dict)  # path -> what changes in it
    rewrites: list[tuple[str, str, str]] = field(default_factory=list)  # (notebook, old, new)
    outside: list[tuple[str, str]] = field(default_factory=list)  # (notebook, absolute path)
    dependencies: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # imports no distribution provides
    notes: list[str] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    processed: dict[str, str] = field(default_factory=dict)  # pipeline files: old -> new
    render: Path | None = None  # the pristine template render (a scratch folder)
    head: str = ""  # the commit adopted (empty: a plain folder)
    modernised: dict[str, str] = field(default_factory=dict)  # notebook -> removed APIs rewritten
    modern: list[str] = field(default_factory=list)  # each rewrite, for the plan
    left: list[str] = field(default_factory=list)  # removed APIs with no safe rewrite

    @property
    def moves(self) -> list[Entry]:
        """Files that change place (notebooks, modules, data)."""
        return [entry for entry in self.entries if entry.moves]

    @property
    def raw_data(self) -> list[Entry]:
        """Data that DVC tracks under data/raw."""
        return [e for e in self.entries if e.kind == DATA and e.target.startswith("data/raw/")]

    @property
    def notebooks(self) -> list[Entry]:
        """The notebooks, in their new order."""
        return sorted((e for e in self.entries if e.kind == NOTEBOOK), key=lambda e: e.target)

    def cleanup(self) -> None:
        """Remove the scratch render."""
        if self.render is not None:
            shutil.rmtree(self.render.parent, ignore_errors=True)
            self.render = None


def already_adopted(root: Path) -> bool:
    """True for a scaffold project (recorded answers, or the layout with a package)."""
    from scaffold.project import ANSWERS_FILE

    return (root / ANSWERS_FILE).is_file()


def check_preconditions(root: Path) -> bool:
    """Refuse what adopt cannot take; True when ``root`` is a git repository."""
    if not root.is_dir():
        raise ScaffoldError(f"{root} is not a folder.")
    if already_adopted(root):
        raise NothingToAdopt(
            f"{root} is already a scaffold project (it has .copier-answers.yml); nothing to adopt."
        )
    is_git = survey.git_state(root) if (root / ".git").exists() else False
    if (root / ".git").exists() and not is_git:
        raise ScaffoldError(
            f"{root} is a git repository without a commit; commit its files first (or remove "
            ".git to adopt it as a plain folder)."
        )
    if is_git:
        dirty = survey.dirty_files(root)
        if dirty:
            shown = ", ".join(dirty[:10]) + (
                f" and {len(dirty) - 10} more" if len(dirty) > 10 else ""
            )
            raise ScaffoldError(
                f"the working tree has uncommitted changes ({shown}); commit or stash them, "
                "then adopt (adopt makes one commit you can undo with git reset)."
            )
    return is_git


class NothingToAdopt(ScaffoldError):
    """The folder is a scaffold project already."""


def plan_adopt(root: Path) -> Plan:
    """Survey ``root`` and decide everything adopt does there."""
    root = root.resolve()
    is_git = check_preconditions(root)
    files, environments = survey.tracked_files(root, is_git)
    if not any(name.endswith(".ipynb") for name in files):
        raise ScaffoldError(f"{root} has no notebook (.ipynb) to adopt.")
    answers = _answers(root, is_git)
    plan = Plan(root, is_git, answers["module_name"], answers, environments=environments)
    if is_git:
        plan.head = processes.git_out("rev-parse", "HEAD", cwd=root)
    notebooks = {name: code.load(root / name) for name in files if name.endswith(".ipynb")}
    analysed = {name: code.analyse_notebook(nb) for name, nb in notebooks.items() if nb}
    known = set(files) | {str(p) for name in files for p in PurePosixPath(name).parents} - {"."}
    basenames = _unique_basenames(files)
    used = _used_files(root, analysed, known, basenames)
    imported = _imported(root, files, analysed)
    plan.entries = survey.classify(root, files, used, imported)
    fallback = _initials(answers["author_name"])
    names = survey.notebook_names(
        root, [e.path for e in plan.entries if e.kind == NOTEBOOK], is_git, fallback
    )
    _assign_targets(plan, names)
    _pipeline(plan, analysed, known, basenames)
    places = _places(plan, known, basenames)
    _rewrite_notebooks(plan, notebooks, analysed, places)
    _rewrite_modules(plan, places)
    _expected_errors(plan, notebooks)
    _copies(plan, analysed)
    _modernise(plan, analysed)
    plan.render = _render(answers)
    try:
        _template_files(plan)
        deps.declare(plan, analysed)
        _unignore(plan)
    except BaseException:  # the scratch render never outlives the plan
        plan.cleanup()
        raise
    return plan


def _modernise(plan: Plan, analysed: dict[str, code.Code]) -> None:
    """Removed APIs rewritten where the new spelling means the same, in the notebooks and the
    moved modules (a commit of its own); the modules the rewrites import are declared."""
    from scaffold.adopt import modernise

    texts, sources, modules = {}, {}, set()
    for entry in plan.entries:
        python = entry.kind in (MODULE, PACKAGE) and entry.path.endswith(".py")
        if entry.kind != NOTEBOOK and not python:
            continue
        text = plan.writes.get(entry.target)
        if text is None:
            try:
                text = (plan.root / entry.path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
        if python:  # a module is rewritten as a notebook of one cell
            modules.add(entry.target)
            text = json.dumps({"cells": [{"cell_type": "code", "source": text}]})
        texts[entry.target] = text
        sources[entry.target] = entry.path
    done = modernise.modernise(texts, _last_changed(plan, sources))
    for target, text in done.texts.items():
        plan.modernised[target] = (
            code.source_of(json.loads(text)["cells"][0]) if target in modules else text
        )
    for change in done.changes:
        shown = str(change)
        if change.notebook in modules:
            shown = shown.replace(f"{change.notebook}: cell 1:", f"{change.notebook}:")
        plan.modern.append(shown)
    plan.left = done.left
    for target, imported in done.modules.items():  # declared as the notebooks' imports are
        found = analysed.setdefault(f"modernised:{sources[target]}", code.Code())
        found.modules |= {module for module in imported if module}


def _last_changed(plan: Plan, sources: dict[str, str]) -> dict[str, datetime.date]:
    """New path -> the day its file last changed in git (none for a plain folder)."""
    found = {}
    for target, path in sources.items() if plan.is_git and plan.head else ():
        stamp = processes.git_out("log", "-1", "--format=%cs", plan.head, "--", path,
                                  cwd=plan.root)  # fmt: skip
        if stamp:
            found[target] = datetime.date.fromisoformat(stamp)
    return found


def _copies(plan: Plan, analysed: dict[str, code.Code]) -> None:
    """Functions and classes pasted into several notebooks: a note to extract them."""
    from dataclasses import replace

    from scaffold.check.duplicates import group

    targets = {e.path: e.target for e in plan.entries}
    found = [
        replace(definition, path=targets.get(name, name))
        for name, analysed_one in analysed.items()
        for definition in analysed_one.definitions
    ]
    for copies in group(found, min_lines=2).copies:
        where = sorted({definition.path for definition in copies})
        name = copies[0].name
        plan.notes.append(
            f"{name} is pasted into {len(where)} notebooks ({', '.join(where)}); after adopt, "
            f"`scaffold extract {name} --verify` moves it into the package"
        )


def _imported(root: Path, files: list[str], analysed: dict[str, code.Code]) -> dict[str, set[str]]:
    """For each folder of notebooks: the top-level names its notebooks import, and those the
    repository's own modules there import in turn (``from preamble import *`` whose
    preamble imports ``mglearn``). A notebook runs in its folder: that is where its
    ``import helpers`` finds ``helpers.py``."""
    by_folder: dict[str, set[str]] = defaultdict(set)
    for name, found in analysed.items():
        by_folder[posixpath.dirname(name)] |= found.modules
    python = [name for name in files if name.endswith(".py")]
    for folder, imported in by_folder.items():
        sources: dict[str, list[str]] = defaultdict(list)
        prefix = f"{folder}/" if folder else ""
        for name in python:
            if name.startswith(prefix):
                inside = PurePosixPath(name[len(prefix) :])
                sources[inside.stem if len(inside.parts) == 1 else inside.parts[0]].append(name)
        done: set[str] = set()
        while todo := (imported & set(sources)) - done:
            for module in todo:
                done.add(module)
                for name in sources[module]:
                    found = code.Code()
                    with contextlib.suppress(OSError, UnicodeDecodeError):
                        code.analyse_source(found, 0, (root / name).read_text(encoding="utf-8"))
                    imported |= found.modules
    return dict(by_folder)


def _unique_basenames(files: list[str]) -> dict[str, str]:
    seen: dict[str, list[str]] = defaultdict(list)
    for name in files:
        seen[posixpath.basename(name)].append(name)
    return {base: paths[0] for base, paths in seen.items() if len(paths) == 1}


def _used_files(
    root: Path, analysed: dict[str, code.Code], known: set[str], basenames: dict[str, str]
) -> set[str]:
    used = set()
    for name, found in analysed.items():
        folder = posixpath.dirname(name)
        for literal in found.literals:
            target = code.resolve(literal.value, folder, root, known, basenames)
            if target:
                used.add(target)
    return used


def _initials(name: str) -> str:
    from scaffold.layout import initials_of

    return (initials_of(name) or "xx")[:10]


def _answers(root: Path, is_git: bool) -> dict[str, str]:
    """The template answers for this repository: its folder's name, its main author."""
    from slugify import slugify

    from scaffold import processes
    from scaffold.options import resolve_answers

    author, email = "", ""
    if is_git:
        log = processes.git("log", "--format=%an\t%ae", cwd=root, check=False).text.splitlines()
        if log:
            from collections import Counter

            author, _, email = Counter(log).most_common(1)[0][0].partition("\t")
    name = root.name
    module = slugify(name, separator="_") or "project"
    if not module[0].isalpha():
        module = f"project_{module}"
    given = {
        "project_name": name,
        "repo_name": slugify(name) or "project",
        "module_name": module,
        "description": f"{name}: notebooks adopted into the scaffold layout.",
        "open_source_license": "none",  # a license is the authors' choice, never adopt's
        "dvc_remote": "none",
        "example_code": "no",
        "pydata_packages": "none",
        "binder": "no",
        "devcontainer": "no",
    }
    if author.strip():
        given["author_name"] = author.strip()
    if "@" in email:
        given["author_email"] = email.strip()
    try:
        return resolve_answers(given)
    except ScaffoldError:
        given.pop("author_name", None)
        given.pop("author_email", None)
        return resolve_answers(given)


def _assign_targets(plan: Plan, names: dict[str, str]) -> None:
    """Notebooks get their new names; modules and packages go into src/<package>/."""
    package = plan.package
    entries = []
    for entry in plan.entries:
        if entry.kind == NOTEBOOK:
            entry = Entry(entry.path, NOTEBOOK, entry.reason, names[entry.path])
        elif entry.kind in (MODULE, PACKAGE):
            target = f"src/{package}/{entry.target}"
            entry = Entry(entry.path, entry.kind, entry.reason, target, entry.module)
        entries.append(entry)
    plan.entries = _one_module_per_name(plan.root, entries)


def _one_module_per_name(root: Path, entries: list[Entry]) -> list[Entry]:
    """Where notebooks in two folders import a module of one name, which would become one
    file of the package: an identical copy stays where it is (the notebooks import the one
    that moved); different ones are refused."""
    claimed: dict[str, str] = {}
    kept = []
    for entry in entries:
        first = (
            claimed.setdefault(entry.target, entry.path)
            if entry.kind in (MODULE, PACKAGE)
            else None
        )
        if first is None or first == entry.path:
            kept.append(entry)
        elif (root / first).read_bytes() == (root / entry.path).read_bytes():
            reason = f"a copy of {first} (identical), which moves into the package; stays"
            kept.append(Entry(entry.path, OTHER, reason))
        else:
            raise ScaffoldError(
                f"{first} and {entry.path} would both become {entry.target} "
                "(notebooks in two folders import a module of one name): rename one, commit, "
                "and run adopt again."
            )
    return kept


def _pipeline(
    plan: Plan, analysed: dict[str, code.Code], known: set[str], basenames: dict[str, str]
) -> dict[str, tuple[set[str], set[str]]]:
    """Which notebook reads and writes which file (old paths); the stages; ambiguous cases.

    A file one notebook writes and another reads goes to data/processed/ and becomes the
    writer's stage ``outs`` and the reader's ``deps``."""
    io: dict[str, tuple[set[str], set[str]]] = {}
    for name, found in analysed.items():
        folder = posixpath.dirname(name)
        reads, writes = set(), set()
        for literal in found.literals:
            if literal.access == "write":
                target = code.written_path(literal.value, folder)
                if target:
                    writes.add(target)
            elif literal.access == "read":
                target = code.resolve(literal.value, folder, plan.root, known, basenames)
                target = target or code.written_path(literal.value, folder)
                if target:
                    reads.add(target)
        io[name] = (reads, writes)
    writers: dict[str, list[str]] = defaultdict(list)
    for name, (_, writes) in io.items():
        for path in writes:
            writers[path].append(name)
    _connect(plan, io, writers)
    return io


def _connect(
    plan: Plan, io: dict[str, tuple[set[str], set[str]]], writers: dict[str, list[str]]
) -> None:
    targets = {e.path: e.target for e in plan.entries}
    processed: dict[str, str] = {}
    for path, names in sorted(writers.items()):
        readers = sorted(n for n, (reads, _) in io.items() if path in reads and n not in names)
        if not readers:
            continue
        if len(names) > 1:
            plan.ambiguous.append(f"{path} is written by {', '.join(sorted(names))}: no stage made")
            continue
        processed[path] = f"data/processed/{posixpath.basename(path)}"
    plan.entries = [
        Entry(e.path, DATA, "data a notebook writes (a pipeline output)", processed[e.path])
        if e.path in processed
        else e
        for e in plan.entries
    ]
    plan.processed = processed
    _stages(plan, io, targets)


def _stages(plan: Plan, io: dict[str, tuple[set[str], set[str]]], targets: dict[str, str]) -> None:
    """One stage per notebook that writes or reads a pipeline file."""
    processed = plan.processed
    stages: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for path, out in processed.items():
        for name, (reads, writes) in io.items():
            if path in writes:
                stages[name][1].add(out)
            elif path in reads:
                stages[name][0].add(out)
    for name, (stage_deps, outs) in sorted(stages.items(), key=lambda item: targets[item[0]]):
        raw = {targets[r] for r in io[name][0] if targets.get(r, "").startswith("data/raw/")}
        plan.stages.append(
            Stage(targets[name], tuple(sorted(stage_deps | raw)), tuple(sorted(outs)))
        )


@dataclass(frozen=True)
class _Places:
    """What a path literal is resolved against: the repository's files and where they go."""

    known: set[str]
    basenames: dict[str, str]
    targets: dict[str, str]  # old path -> new path
    folders: dict[str, str]  # old folder -> new folder


def _places(plan: Plan, known: set[str], basenames: dict[str, str]) -> _Places:
    targets = {e.path: e.target for e in plan.entries}
    return _Places(known, basenames, targets, _folder_targets(plan.entries))


def _path_edits(
    plan: Plan, found: code.Code, folder: str, where: str, places: _Places
) -> tuple[list[code.Edit], set[str], set[str]]:
    """Edits that make the path literals of code run in ``folder`` config paths; the config
    names they use, and those of the folders they write into (made if missing)."""
    edits: list[code.Edit] = []
    needed: set[str] = set()
    made: set[str] = set()
    for literal in found.literals:
        new = _new_place(literal, folder, plan.root, places.known, places.basenames,
                         places.targets, places.folders, plan.processed)  # fmt: skip
        if new is None:
            if _outside(literal):
                plan.outside.append((where, literal.value))
            continue
        expression, config = code.config_expression(new, literal)
        needed.add(config)
        if literal.access == "write" and config != "PROJ_ROOT":
            made.add(config)
        edits.append(code.Edit(literal.cell, literal.line, literal.col, literal.line,
                               literal.end_col, expression, repr(literal.value)))  # fmt: skip
        plan.rewrites.append((where, repr(literal.value), expression))
    return edits, needed, made


def _rewrite_notebooks(
    plan: Plan,
    notebooks: dict[str, dict[str, Any] | None],
    analysed: dict[str, code.Code],
    places: _Places,
) -> None:
    """Paths to config paths, local imports to the package, for every notebook that moves."""
    local = {e.module for e in plan.entries if e.kind in (MODULE, PACKAGE)}
    for name, notebook in notebooks.items():
        if notebook is None or name not in analysed:
            continue
        where = places.targets[name]
        edits, needed, made = _path_edits(
            plan, analysed[name], posixpath.dirname(name), where, places
        )
        edits += _import_edits(plan, analysed[name], local, where)
        if edits:
            header = _header(plan.package, needed, made)
            staged = any(stage.notebook == where for stage in plan.stages)
            copy = json.loads(json.dumps(notebook))
            changed = code.edit_notebook(copy, edits, header, parameters=staged)
            plan.writes[where] = code.dump(changed)


def _expected_errors(plan: Plan, notebooks: dict[str, dict[str, Any] | None]) -> None:
    """Cells that raise on purpose (the committed notebook shows their error and ran on past
    it) get the ``raises-exception`` tag, so a run top to bottom goes on past them too."""
    targets = {e.path: e.target for e in plan.entries}
    for name, notebook in notebooks.items():
        target = targets.get(name)
        if notebook is None or target is None:
            continue
        text = plan.writes.get(target)
        current = json.loads(text) if text else json.loads(json.dumps(notebook))
        found = code.expected_errors(current)
        if not found:
            continue
        for index in found:
            metadata = current["cells"][index].setdefault("metadata", {})
            metadata["tags"] = [*metadata.get("tags", []), code.RAISES]
        plan.writes[target] = code.dump(current)
        numbers = ", ".join(str(index + 1) for index in found)
        plan.notes.append(
            f"{target}: cell(s) {numbers} raise on purpose (the notebook shows the error and "
            f"ran on past it): tagged {code.RAISES!r}, so a run top to bottom goes on past them"
        )


def _outside(literal: code.Literal) -> bool:
    """True for an absolute path to a file (outside the repository, or it would resolve)."""
    value = literal.value
    if not code.is_absolute(value) or not ("/" in value[1:] or "\\" in value):
        return False
    return bool(posixpath.splitext(value)[1]) or bool(literal.access)


def _header(package: str, needed: set[str], made: set[str]) -> str:
    """The first cell adopt adds: the config paths the notebook uses, its output folders made."""
    if not needed:
        return ""
    lines = [f"from {package}.config import {', '.join(sorted(needed))}"]
    lines += [f"{name}.mkdir(parents=True, exist_ok=True)" for name in sorted(made)]
    return "\n".join(lines) + "\n"


def _folder_targets(entries: list[Entry]) -> dict[str, str]:
    """Old folder -> new folder, for folders all of whose files move the same way."""
    found: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.kind != DATA:
            continue
        old, new = PurePosixPath(entry.path), PurePosixPath(entry.target)
        for depth, parent in enumerate(old.parents):
            if str(parent) == ".":
                break
            tail_parts = len(old.parts) - len(parent.parts)
            if len(new.parts) <= tail_parts or old.parts[-tail_parts:] != new.parts[-tail_parts:]:
                found[str(parent)].add("")
                continue
            found[str(parent)].add(str(PurePosixPath(*new.parts[:-tail_parts])))
            del depth
    return {old: next(iter(new)) for old, new in found.items() if len(new) == 1 and "" not in new}


def _new_place(
    literal: code.Literal,
    folder: str,
    root: Path,
    known: set[str],
    basenames: dict[str, str],
    targets: dict[str, str],
    folders: dict[str, str],
    processed: dict[str, str],
) -> str | None:
    """The project path the literal should name after adopt (None: leave it alone)."""
    if not (literal.access or code.looks_like_path(literal.value)):
        return None
    old = code.resolve(literal.value, folder, root, known, basenames)
    if old is None and not literal.access and "/" not in literal.value.replace("\\", "/"):
        return None  # 'display.max_rows' has a suffix, yet it is no file
    if old is None:  # a file the notebook makes (written, or opened by a call adopt can't tell)
        path = code.written_path(literal.value, folder, bare=bool(literal.access))
        return _unknown_file(path, known, folders, processed)
    if old in processed:
        return processed[old]
    target = targets.get(old)
    if target and old.endswith(".ipynb"):
        return None  # a notebook naming another: left as it is
    if target:
        return target
    if old in folders:
        return folders[old]
    return old if old != "." else None


def _unknown_file(
    path: str | None, known: set[str], folders: dict[str, str], processed: dict[str, str]
) -> str | None:
    """Where a file the repository does not hold (a notebook makes it) goes: a pipeline file
    to data/processed; one in a folder that moved, into that folder's new place; one in a
    folder that stays, where it was (from the project root). None: leave the literal alone."""
    if path is None:
        return None
    if path in processed:
        return processed[path]
    parent, name = posixpath.split(path)
    if parent in folders:
        return f"{folders[parent]}/{name}"
    return path if parent and parent in known else None


def _import_edits(plan: Plan, found: code.Code, local: set[str], where: str) -> list[code.Edit]:
    edits = []
    for cell, node in found.imports:
        text = code.import_text(node, local, plan.package)
        if text is None:
            continue
        assert node.end_lineno is not None and node.end_col_offset is not None
        edits.append(
            code.Edit(
                cell, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text
            )
        )
        plan.rewrites.append((where, f"import of {', '.join(sorted(local & _names(node)))}", text))
    return edits


def _names(node: Any) -> set[str]:
    if hasattr(node, "module") and node.module:
        return {node.module.split(".")[0]}
    return {alias.name.split(".")[0] for alias in node.names}


def _rewrite_modules(plan: Plan, places: _Places) -> None:
    """Moved modules import each other from the package, and name the files they read and
    write by config paths, as the notebooks do: they run in the folder of the notebooks
    that import them, which is where their relative paths were read from."""
    local = {e.module for e in plan.entries if e.kind in (MODULE, PACKAGE)}
    for entry in plan.entries:
        if entry.kind not in (MODULE, PACKAGE) or not entry.path.endswith(".py"):
            continue
        try:
            source = (plan.root / entry.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found = code.Code()
        code.analyse_source(found, 0, source)
        edits = []
        for _, node in found.imports:
            text = code.import_text(node, local, plan.package)
            if text is not None:
                assert node.end_lineno is not None and node.end_col_offset is not None
                edits.append(
                    code.Edit(
                        0, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text
                    )
                )
        inside = entry.target.removeprefix(f"src/{plan.package}/")
        folder = entry.path[: len(entry.path) - len(inside)].rstrip("/")
        moved, needed, made = _path_edits(plan, found, folder, entry.target, places)
        if edits or moved:
            text = code.apply_edits(source, edits + moved)
            plan.writes[entry.target] = _with_config(text, plan.package, needed, made)


def _with_config(source: str, package: str, needed: set[str], made: set[str]) -> str:
    """A moved module's ``source`` importing the config paths it uses, where ruff's isort
    rules put the import, and making the folders it writes into after its imports."""
    if not needed or code.parse(source) is None:
        return source
    names = ", ".join(sorted(needed))
    text = pycode.add_import(source, f"from {package}.config import {names}", package)
    if not made:
        return text
    head = list(
        itertools.takewhile(
            lambda node: (
                isinstance(node, (ast.Import, ast.ImportFrom))
                or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
            ),
            ast.parse(text).body,
        )
    )
    at = head[-1].end_lineno or head[-1].lineno
    lines = text.splitlines(keepends=True)
    made_lines = "".join(f"{name}.mkdir(parents=True, exist_ok=True)\n" for name in sorted(made))
    return "".join(lines[:at]) + made_lines + "".join(lines[at:])


def _render(answers: dict[str, str]) -> Path:
    """The template rendered for these answers in a scratch folder (no git, DVC or hooks)."""
    import contextlib
    import io

    from scaffold.generate import STEPS, new_project

    scratch = Path(tempfile.mkdtemp(prefix="scaffold-adopt-"))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return new_project(answers, scratch, skip=STEPS)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _template_files(plan: Plan) -> None:
    """The template's files that are absent (added), and the merges of those present."""
    assert plan.render is not None
    render = plan.render
    present = {e.path for e in plan.entries} | {e.target for e in plan.entries} | set(plan.writes)
    moved = {e.path for e in plan.moves}
    for path in sorted(p for p in render.rglob("*") if p.is_file()):
        rel = path.relative_to(render).as_posix()
        if rel.startswith(_SKIP_TEMPLATE) or rel in _MERGED:
            continue
        yours = _same_file(plan, rel, present)
        if yours and yours not in moved:
            plan.notes.append(f"kept your {yours}; the template's was not added")
            continue
        plan.added.append(rel)
        plan.writes[rel] = path.read_text(encoding="utf-8")
    _merge_readme(plan)
    _merge_gitignore(plan)
    if plan.stages:
        _dvc_yaml(plan)


# Names that stand for the template's file of that name: GNU make reads any of these first.
_ALIASES = {"makefile": ("gnumakefile", "makefile")}


def _same_file(plan: Plan, rel: str, present: set[str]) -> str:
    """The repository's file that is the template's ``rel`` (in ``present``, on disk, or
    under another case: ``makefile`` for ``Makefile``, ``readme.md``, which a
    case-insensitive file system, macOS or Windows, would overwrite and git would hold
    twice); "" when there is none."""
    if rel in present or (plan.root / rel).exists():
        return rel
    wanted = set(_ALIASES.get(rel.lower(), (rel.lower(),)))
    return next((e.path for e in plan.entries if e.path.lower() in wanted), "")


def _merge_readme(plan: Plan) -> None:
    assert plan.render is not None
    template = (plan.render / "README.md").read_text(encoding="utf-8")
    name = _same_file(plan, "README.md", set()) or "README.md"
    mine = plan.root / name
    if not mine.is_file():
        plan.added.append("README.md")
        plan.writes["README.md"] = template
        return
    body = template.split("\n", 1)[1].lstrip("\n") if "\n" in template else ""
    text = mine.read_text(encoding="utf-8", errors="replace").rstrip("\n")
    plan.writes[name] = f"{text}\n\n## Working on this project (scaffold)\n\n{body}"
    plan.merged[name] = "the template's set-up and layout sections appended under yours"


def _merge_gitignore(plan: Plan) -> None:
    assert plan.render is not None
    template = (plan.render / ".gitignore").read_text(encoding="utf-8").splitlines()
    mine = plan.root / ".gitignore"
    text = mine.read_text(encoding="utf-8", errors="replace") if mine.is_file() else ""
    have = {line.strip() for line in text.splitlines()}
    missing = [
        line
        for line in template
        if line.strip() and not line.startswith("#") and line.strip() not in have
    ]
    environments, ignored = _ignored_environments(plan, have)
    if not text:
        plan.added.append(".gitignore")
        plan.writes[".gitignore"] = "\n".join(template) + "\n" + ignored
        return
    if missing or environments:
        joined = "\n".join(missing)
        appended = f"\n\n# scaffold adopt: the template's entries\n{joined}\n" if missing else "\n"
        plan.writes[".gitignore"] = f"{text.rstrip()}{appended}{ignored}"
        said = [f"{len(missing)} entries of the template appended"] if missing else []
        said += [f"Python environments ignored: {', '.join(environments)}"] if environments else []
        plan.merged[".gitignore"] = "; ".join(said)


def _ignored_environments(plan: Plan, have: set[str]) -> tuple[list[str], str]:
    """A plain folder's Python environments (a venv by any name), which never go into the
    commit: their folders, and the .gitignore lines that keep them out ("" for none)."""
    new = [folder for folder in plan.environments if f"/{folder}/" not in have]
    if not new:
        return [], ""
    lines = "\n".join(f"/{folder}/" for folder in new)
    return new, f"\n# scaffold adopt: Python environments in this folder\n{lines}\n"


# What scaffold update needs, even where the team's .gitignore would hide it.
_NEEDED_TEMPLATE_FILES = {".copier-answers.yml", "dvc.yaml"}


def _unignore(plan: Plan) -> None:
    """Settle what the repository's own .gitignore would hide of what adopt commits. A
    template file it hides (``docs`` hides the template's docs/) is not added, and the plan
    says so. A line that hides what adopt must commit is commented out: a team that kept
    data out of git with ``data`` also hides ``data/raw.dvc``, DVC's pointer (``dvc add``
    refuses a git-ignored one); the template's ``/data/**`` keeps the data out of git."""
    import pathspec

    path = plan.root / ".gitignore"
    if ".gitignore" in plan.added or not path.is_file():
        return
    mine = path.read_text(encoding="utf-8", errors="replace").splitlines()
    lines = plan.writes.get(".gitignore", "\n".join(mine)).splitlines()
    assert plan.render is not None
    template = (plan.render / ".gitignore").read_text(encoding="utf-8").splitlines()
    by_design = pathspec.GitIgnoreSpec.from_lines(template)  # .env: written, never committed
    committed = {name for name in _committed(plan) if not by_design.match_file(name)}
    said = []
    for number, line in enumerate(lines[: len(mine)]):
        rule = line.strip()
        if not rule or rule.startswith(("#", "!")):
            continue
        spec = pathspec.GitIgnoreSpec.from_lines([rule])
        hidden = sorted(name for name in committed if spec.match_file(name))
        kept = _drop_hidden_template_files(plan, rule, hidden)
        if kept:
            lines[number] = f"# {line}  (scaffold adopt: it hid {kept[0]})"
            said.append(f"`{rule}` commented out (it hid {', '.join(kept[:2])})")
        else:
            committed -= set(hidden)  # dropped: no later rule judges them
    if said:
        plan.writes[".gitignore"] = "\n".join(lines) + "\n"
        merged = [plan.merged[".gitignore"]] if ".gitignore" in plan.merged else []
        plan.merged[".gitignore"] = "; ".join([*merged, *said])


def _drop_hidden_template_files(plan: Plan, rule: str, hidden: list[str]) -> list[str]:
    """``hidden`` (a .gitignore ``rule`` hides them) when adopt must commit one of them: the
    rule is then commented out, and every file it hid is committed. Else (only template
    files adopt may leave out) they are left out, saying so, and nothing is returned."""
    package = f"src/{plan.package}"
    needed = {*_NEEDED_TEMPLATE_FILES, f"{package}/__init__.py", f"{package}/config.py"}
    optional = set(plan.added) - needed  # the package and its config: notebooks import them
    if any(name not in optional for name in hidden):
        return hidden
    for name in hidden:
        plan.added.remove(name)
        del plan.writes[name]
    if hidden:
        more = " and more" if len(hidden) > 3 else ""
        plan.notes.append(
            f"your .gitignore's `{rule}` ignores {', '.join(hidden[:3])}{more}: "
            "the template's were not added"
        )
    return []


def _committed(plan: Plan) -> set[str]:
    """The paths adopt commits: moved notebooks and code, written files, DVC's pointer."""
    kept = {e.target for e in plan.entries if e.target and e.kind != DATA} | set(plan.writes)
    if plan.raw_data:
        kept |= {"data/raw.dvc", "data/.gitignore"}
    return kept


def _dvc_yaml(plan: Plan) -> None:
    import yaml

    if (plan.root / "dvc.yaml").exists():
        plan.notes.append("kept your dvc.yaml; the inferred stages below were not written")
        return
    stages: dict[str, Any] = {}
    for stage in plan.stages:
        stem = PurePosixPath(stage.notebook).stem
        report = f"reports/{stem}.ipynb"
        stages[stem.replace(".", "_")] = {
            "cmd": f"{_PAPERMILL} {stage.notebook} {report}",
            "deps": [stage.notebook, f"src/{plan.package}", *stage.deps],
            "outs": [*stage.outs, {report: {"cache": False}}],
        }
    plan.writes["dvc.yaml"] = yaml.safe_dump({"stages": stages}, sort_keys=False, width=200)
    plan.added.append("dvc.yaml")


def python_of_scaffold() -> Path:
    """scaffold's own interpreter (its installed distributions name imports)."""
    return Path(sys.executable)
