"""The plan as text: every file with its reason, every move, rewrite, new file, dependency
and stage (what ``--dry-run`` prints and the confirmation shows)."""

from __future__ import annotations

from collections import defaultdict

from scaffold.adopt.plan import Plan
from scaffold.adopt.survey import DATA, NOTEBOOK

STAYING_SHOWN = 50  # files of "other" listed one by one: they stay as they are


def describe(plan: Plan) -> list[str]:
    """The plan, one line per fact, grouped under headings."""
    lines: list[str] = []
    if not plan.is_git:
        lines.append("git init: the folder becomes a git repository (branch main)")
    lines += _files(plan)
    lines += _section(
        "rewrites in notebooks and modules",
        [f"{nb}: {old} -> {new}" for nb, old, new in plan.rewrites],
    )
    lines += _section(
        "absolute paths outside the repository (not guessed: move the files into data/raw "
        "and use RAW_DATA_DIR)",
        [f"{nb}: {path}" for nb, path in plan.outside],
    )
    lines += _section("template files added", plan.added)
    lines += _section("merged", [f"{path}: {what}" for path, what in plan.merged.items()])
    lines += _section("dependencies (pyproject.toml)", plan.dependencies)
    lines += _section("imports no known distribution provides (not declared)", plan.unknown)
    lines += _section("pipeline (dvc.yaml)", graph(plan))
    lines += _section("ambiguous (no stage made)", plan.ambiguous)
    lines += _section("notes", plan.notes)
    lines += _section(
        "removed APIs rewritten (the same meaning; a commit of its own, "
        "'Modernise removed APIs (mechanical rewrites)')",
        plan.modern,
    )
    lines += _section("removed APIs with no safe rewrite (left for you)", plan.left)
    if plan.raw_data:
        lines.append(
            f"\n{len(plan.raw_data)} data files leave git for DVC (dvc add data/raw); git's "
            "history keeps the old copies (rewrite it, e.g. git filter-repo, to drop them)."
        )
    undo = f"git reset --hard {plan.head[:10]}" if plan.head else "rm -rf .git"
    commits = "two commits" if plan.modernised else "one commit"
    lines.append(f"\nall in {commits}: 'Adopt the scaffold layout' (undo: {undo})")
    return lines


def _section(title: str, items: list[str]) -> list[str]:
    return [f"\n{title}:", *(f"  {item}" for item in items)] if items else []


def _files(plan: Plan) -> list[str]:
    groups: dict[str, list[str]] = defaultdict(list)
    for entry in plan.entries:
        where = f" -> {entry.target}" if entry.moves else ""
        tracked = " (DVC)" if entry.kind == DATA and entry.target.startswith("data/raw/") else ""
        groups[entry.kind].append(f"{entry.path}{where}{tracked}  [{entry.reason}]")
    lines: list[str] = []
    for kind in (NOTEBOOK, DATA, "module", "package", "dependencies", "docs", "other"):
        if groups.get(kind):
            items = sorted(groups[kind])
            if kind == "other" and len(items) > STAYING_SHOWN:  # nothing happens to them
                rest = len(items) - STAYING_SHOWN
                items = [*items[:STAYING_SHOWN], f"... and {rest} more, which stay where they are"]
            lines += _section(f"{kind} ({len(groups[kind])})", items)
    return lines


def graph(plan: Plan) -> list[str]:
    """The inferred pipeline: writer -> file -> reader."""
    writers = {out: stage.notebook for stage in plan.stages for out in stage.outs}
    lines = []
    for stage in plan.stages:
        for dep in stage.deps:
            if dep in writers:
                lines.append(f"{writers[dep]} -> {dep} -> {stage.notebook}")
    return lines
