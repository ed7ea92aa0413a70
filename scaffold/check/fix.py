"""``scaffold check --fix`` / ``--diff``: the safe fixes of findings, planned as file writes.

- NB201/NB202: strip outputs and execution counts with nbstripout's own ``strip_output``,
  with the project's nbstripout settings (the ``nbstripout`` hook's ``args`` in
  ``.pre-commit-config.yaml``: ``--keep-id``, ``--keep-count``, ``--keep-output``,
  ``--extra-keys``, ``--drop-empty-cells``); without a hook, cell ids are kept.
- NB404 with a known distribution: add it to ``[project] dependencies`` of pyproject.toml
  (a text edit: the file's formatting and comments stay).

Everything else needs a person (which side of a conflict, which import). ``plan`` returns
the writes and what each fixes; ``--diff`` prints them as unified diffs, ``--fix`` applies
them (``scaffold.files.apply``: atomic, all or nothing).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold.check.model import Finding
from scaffold.errors import ScaffoldError
from scaffold.files import Write

STRIPPED = ("NB201", "NB202")


@dataclass
class Plan:
    """The writes that fix findings, and one line per fixed finding kind and file."""

    writes: list[Write] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)  # "notebooks/x.ipynb: NB201, NB202"
    before: dict[Path, str] = field(default_factory=dict)
    fixed_findings: list[Finding] = field(default_factory=list)

    def diff(self, root: Path) -> str:
        """The planned changes as unified diffs (paths relative to ``root``)."""
        out: list[str] = []
        for write in self.writes:
            name = _relative(write.path, root)
            out.extend(
                difflib.unified_diff(
                    self.before[write.path].splitlines(keepends=True),
                    write.text.splitlines(keepends=True),
                    f"a/{name}",
                    f"b/{name}",
                )
            )
        return "".join(out)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def nbstripout_settings(root: Path | None) -> dict[str, Any]:
    """``strip_output``'s keyword arguments from the project's nbstripout hook."""
    settings: dict[str, Any] = {"keep_output": False, "keep_count": False, "keep_id": True,
                                "extra_keys": [], "drop_empty_cells": False}  # fmt: skip
    args = _hook_args(root / ".pre-commit-config.yaml") if root is not None else None
    if args is None:
        return settings
    settings["keep_id"] = "--keep-id" in args
    settings["keep_count"] = "--keep-count" in args
    settings["keep_output"] = "--keep-output" in args
    settings["drop_empty_cells"] = "--drop-empty-cells" in args
    if "--extra-keys" in args and args.index("--extra-keys") + 1 < len(args):
        settings["extra_keys"] = args[args.index("--extra-keys") + 1].split()
    return settings


def _hook_args(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    for repo in (data or {}).get("repos") or [] if isinstance(data, dict) else []:
        for hook in (repo or {}).get("hooks") or [] if isinstance(repo, dict) else []:
            if isinstance(hook, dict) and hook.get("id") == "nbstripout":
                return [str(arg) for arg in hook.get("args") or []]
    return None


def _stripped(path: Path, settings: dict[str, Any]) -> tuple[str, str] | None:
    import nbformat
    from nbstripout import strip_output

    try:
        before = path.read_text(encoding="utf-8")
        notebook = nbformat.reads(before, as_version=nbformat.NO_CONVERT)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    strip_output(notebook, **settings)
    after = nbformat.writes(notebook) + ("\n" if before.endswith("\n") else "")
    return (before, after) if after != before else None


def plan(findings: Sequence[Finding], root: Path, pyproject: Path | None) -> Plan:
    """The safe fixes of ``findings`` (paths relative to ``root``)."""
    result = Plan()
    _strip(result, findings, root, nbstripout_settings(root if pyproject is not None else None))
    wanted = [f for f in findings if f.code == "NB404" and f.fix]
    if wanted and pyproject is not None:
        _declare(result, wanted, pyproject)
    return result


def _strip(result: Plan, findings: Sequence[Finding], root: Path, settings: dict[str, Any]) -> None:
    for rel in sorted({f.path for f in findings if f.code in STRIPPED}):
        path = root / rel
        change = _stripped(path, settings)
        if change is None:
            continue
        result.before[path] = change[0]
        result.writes.append(Write(path, change[1], create=False))
        codes = sorted({f.code for f in findings if f.path == rel and f.code in STRIPPED})
        result.fixed.append(f"{rel}: {', '.join(codes)} (outputs and counts stripped)")
        result.fixed_findings += [f for f in findings if f.path == rel and f.code in STRIPPED]


def _declare(result: Plan, wanted: list[Finding], pyproject: Path) -> None:
    names = list(dict.fromkeys(f.fix for f in wanted))
    before = pyproject.read_text(encoding="utf-8")
    after = add_dependencies(before, names)
    result.before[pyproject] = before
    result.writes.append(Write(pyproject, after, create=False))
    result.fixed.append(f"pyproject.toml: NB404 (declared {', '.join(names)})")
    result.fixed_findings += wanted


_PROJECT = re.compile(r"^\[project\]\s*$", re.MULTILINE)
_TABLE = re.compile(r"^\[", re.MULTILINE)
_DEPENDENCIES = re.compile(r"^dependencies\s*=\s*\[", re.MULTILINE)


def add_dependencies(text: str, names: Sequence[str]) -> str:
    """pyproject.toml's ``text`` with ``names`` appended to ``[project] dependencies``."""
    table = _PROJECT.search(text)
    if table is None:
        raise ScaffoldError("pyproject.toml has no [project] table to declare dependencies in.")
    end = _TABLE.search(text, table.end())
    limit = end.start() if end else len(text)
    key = _DEPENDENCIES.search(text, table.end(), limit)
    added = "".join(f'    "{name}",\n' for name in names)
    if key is None:
        return text[: table.end()] + f"\ndependencies = [\n{added}]" + text[table.end() :]
    close = _closing_bracket(text, key.end())
    inside = text[key.end() : close]
    last = _last_item_end(inside)
    if last >= 0 and not inside[last:].split("#")[0].strip().startswith(","):
        inside = inside[:last] + "," + inside[last:]
    if "\n" not in inside:  # one line: dependencies = ["a", "b"]
        items = inside.strip().rstrip(",")
        quoted = ", ".join(f'"{name}"' for name in names)
        return text[: key.end()] + (f"{items}, {quoted}" if items else quoted) + text[close:]
    body = inside if inside.endswith("\n") else inside + "\n"
    return text[: key.end()] + body + added + text[close:]


def _last_item_end(inside: str) -> int:
    """The index just after the last string of an array's ``inside`` (-1: none)."""
    quote, last, index = "", -1, 0
    while index < len(inside):
        char = inside[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote, last = "", index + 1
        elif char in "\"'":
            quote = char
        elif char == "#":
            newline = inside.find("\n", index)
            index = len(inside) if newline < 0 else newline
        index += 1
    return last


def _closing_bracket(text: str, start: int) -> int:
    """The index of the ``]`` that closes the array opened just before ``start``."""
    quote = ""
    index = start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            index = text.find("\n", index)
            if index < 0:
                break
        elif char == "]":
            return index
        index += 1
    raise ScaffoldError("pyproject.toml: [project] dependencies is not a closed list.")
