"""The three output formats of ``scaffold check``: human, JSON, GitHub workflow annotations."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from scaffold.check.model import Finding

FORMATS = ("human", "json", "github")


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


def human(findings: Sequence[Finding], notebooks: int, ran: int = 0) -> str:
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
    lines.append(summary_line(findings, notebooks, ran))
    return "\n".join(lines)


def as_json(findings: Sequence[Finding], notebooks: int, ran: int = 0) -> str:
    """The findings and counts as one JSON object."""
    return json.dumps(
        {
            "findings": [finding.as_dict() for finding in findings],
            "notebooks": notebooks,
            "ran": ran,
            "summary": summary_line(findings, notebooks, ran),
        },
        indent=2,
    )


def _escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github(findings: Sequence[Finding], notebooks: int, ran: int = 0) -> str:
    """One ``::error``/``::warning`` workflow command per finding, then the summary line."""
    lines = []
    for finding in findings:
        where = f"cell {finding.cell}, line {finding.line}: " if finding.cell else ""
        lines.append(
            f"::{finding.severity} file={_escape(finding.path, True)},"
            f"title={_escape(finding.code, True)}::{_escape(where + finding.message)}"
        )
    lines.append(summary_line(findings, notebooks, ran))
    return "\n".join(lines)


def render(fmt: str, findings: Sequence[Finding], notebooks: int, ran: int = 0) -> str:
    """The findings in format ``fmt`` (one of FORMATS)."""
    return {"human": human, "json": as_json, "github": github}[fmt](findings, notebooks, ran)
