"""The three output formats of ``scaffold check``: human, JSON, GitHub workflow annotations."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from scaffold.check.model import Finding

FORMATS = ("human", "json", "github", "sarif")


def summary_line(findings: Sequence[Finding], notebooks: int, ran: int = 0) -> str:
    """``Found 3 problems (2 errors, 1 warning) in 2 of 9 notebooks.`` or ``All ... passed``."""
    checked = f"{notebooks} notebook{'s' if notebooks != 1 else ''}"
    run = f", {ran} run top to bottom" if ran else ""
    if not findings:
        return f"All checks passed: {checked}{run}."
    kinds = Counter(finding.severity for finding in findings)
    parts = [
        f"{kinds[k]} {k}{'s' if kinds[k] != 1 else ''}" for k in ("error", "warning") if kinds[k]
    ]
    files = len({finding.path for finding in findings})
    total = len(findings)
    return (
        f"Found {total} problem{'s' if total != 1 else ''} ({', '.join(parts)}) in "
        f"{files} file{'s' if files != 1 else ''}; {checked} checked{run}."
    )


def human(findings: Sequence[Finding], notebooks: int, ran: int = 0, skipped: str = "") -> str:
    """``path:cell:line: CODE message`` lines grouped by file, then the summary line."""
    lines: list[str] = []
    previous = None
    for finding in findings:
        if previous is not None and finding.path != previous:
            lines.append("")
        lines.append(f"{finding.location()}: {finding.code} {finding.message}")
        previous = finding.path
    if lines:
        lines.append("")
    if skipped:
        lines.append(skipped)
    lines.append(summary_line(findings, notebooks, ran))
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], notebooks: int, ran: int = 0, skipped: str = "") -> str:
    """The findings and counts as one JSON object (``skipped``: the rules left out, if any)."""
    return json.dumps(
        {
            "findings": [finding.as_dict() for finding in findings],
            "notebooks": notebooks,
            "ran": ran,
            "summary": summary_line(findings, notebooks, ran),
            **({"skipped": skipped} if skipped else {}),
        },
        indent=2,
    )


def _escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github(
    findings: Sequence[Finding],
    notebooks: int,
    ran: int = 0,
    root: Path | None = None,
    skipped: str = "",
) -> str:
    """One ``::error``/``::warning`` workflow command per finding, then the summary line.

    With the project's ``root``, a finding in a notebook's cell also gets ``line=``: the line
    of the notebook's file that holds it, where GitHub shows the annotation.
    """
    lines = []
    located = _file_lines(findings, root) if root is not None else {}
    for finding in findings:
        where, line = _placed(finding, located)
        at = f",line={line}" if line else ""
        lines.append(
            f"::{finding.severity} file={_escape(finding.path, True)}{at},"
            f"title={_escape(finding.code, True)}::{_escape(where + finding.message)}"
        )
    if skipped:
        lines.append(f"::notice::{_escape(skipped)}")
    lines.append(summary_line(findings, notebooks, ran))
    return "\n".join(lines)


def _placed(finding: Finding, located: dict[tuple[str, int, int], int]) -> tuple[str, int | None]:
    """The ``cell 2, line 3: `` prefix of a finding's message, and its line in the notebook's
    file when known (github and sarif both show both)."""
    where = f"cell {finding.cell}, line {finding.line}: " if finding.cell else ""
    return where, located.get((finding.path, finding.cell, finding.line))


def _file_lines(findings: Sequence[Finding], root: Path) -> dict[tuple[str, int, int], int]:
    """(path, cell, line) -> the line of the notebook's file, for findings in cells."""
    from scaffold.check.notebook import file_lines

    places: dict[str, set[tuple[int, int]]] = {}
    for finding in findings:
        if finding.cell and finding.path.endswith(".ipynb"):
            places.setdefault(finding.path, set()).add((finding.cell, finding.line))
    found = {}
    for path, wanted in places.items():
        try:
            text = (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for (cell, line), row in file_lines(text, wanted).items():
            found[(path, cell, line)] = row
    return found


def sarif(
    findings: Sequence[Finding],
    notebooks: int,
    ran: int = 0,
    root: Path | None = None,
    skipped: str = "",
) -> str:
    """SARIF 2.1.0 for GitHub code scanning: one run, the rules used, one result per finding
    (the notebook's file line when known, the cell and line in the message)."""
    from scaffold import __version__
    from scaffold.check.model import RULES

    located = _file_lines(findings, root) if root is not None else {}
    used = sorted({finding.code for finding in findings})
    rules = [
        {
            "id": code,
            "name": RULES[code].name,
            "shortDescription": {"text": RULES[code].name.replace("-", " ")},
            "help": {"text": f"scaffold's docs/check.md, rule {code}"},
            "defaultConfiguration": {"level": RULES[code].severity},
        }
        for code in used
    ]
    results = []
    for finding in findings:
        where, line = _placed(finding, located)
        location: dict[str, object] = {
            "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"}
        }
        if line:
            location["region"] = {"startLine": line}
        results.append(
            {
                "ruleId": finding.code,
                "ruleIndex": used.index(finding.code),
                "level": finding.severity,
                "message": {"text": where + finding.message},
                "locations": [{"physicalLocation": location}],
            }
        )
    notes = [{"level": "note", "message": {"text": skipped}}] if skipped else []
    run = {
        "tool": {
            "driver": {
                "name": "scaffold check",
                "version": __version__,
                "rules": rules,
            }
        },
        "results": results,
        "invocations": [
            {"executionSuccessful": True, "toolExecutionNotifications": notes,
             "properties": {"summary": summary_line(findings, notebooks, ran)}}
        ],
    }  # fmt: skip
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    }
    return json.dumps(document, indent=2)


def render(
    fmt: str,
    findings: Sequence[Finding],
    notebooks: int,
    ran: int = 0,
    root: Path | None = None,
    skipped: str = "",
) -> str:
    """The findings in format ``fmt`` (one of FORMATS); ``root``: the project's (or the
    folder paths are relative to), for github; ``skipped``: the rules left out, if any."""
    if fmt == "github":
        return github(findings, notebooks, ran, root, skipped)
    if fmt == "sarif":
        return sarif(findings, notebooks, ran, root, skipped)
    return {"human": human, "json": as_json}[fmt](findings, notebooks, ran, skipped)
