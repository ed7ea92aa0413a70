"""The rules of ``scaffold check``, its findings and its configuration.

Codes are stable: a code is never reused for another rule. ``docs/check.md`` documents each.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError


@dataclass(frozen=True)
class Rule:
    """One check: its stable code, a short name, error or warning, and where it applies.

    ``scope``: ``notebook`` (one notebook's own content: runs anywhere, even outside a
    project), ``project`` (needs the project: its declared dependencies, its other notebooks,
    its pipeline or its git repository) or ``run`` (``--run``). ``parsed``: the rule needs the
    code cells parsed (without one enabled, notebooks are only read).
    """

    code: str
    name: str
    severity: str  # "error" | "warning"
    scope: str = "notebook"  # "notebook" | "project" | "run"
    parsed: bool = False


SCOPES = ("notebook", "project", "run")
RULES: dict[str, Rule] = {}


def register(*rules: Rule) -> None:
    """Add rules to the table (each module of rules registers its own; codes are unique)."""
    for rule in rules:
        if rule.code in RULES or not re.fullmatch(r"NB\d{3}", rule.code):
            raise ValueError(f"rule code {rule.code!r} is taken or malformed")
        if rule.scope not in SCOPES or rule.severity not in ("error", "warning"):
            raise ValueError(f"rule {rule.code}: bad scope or severity")
        RULES[rule.code] = rule


_PROJECT, _RUN = "project", "run"
register(
    Rule("NB001", "fails-restart-run-all", "error", _RUN),
    Rule("NB002", "run-timeout", "error", _RUN),
    Rule("NB101", "invalid-json", "error"),
    Rule("NB102", "empty-file", "error"),
    Rule("NB103", "not-a-notebook", "error"),
    Rule("NB104", "syntax-error", "error", parsed=True),
    Rule("NB105", "merge-conflict-markers", "error"),
    Rule("NB201", "stored-outputs", "error"),
    Rule("NB202", "stored-execution-counts", "error"),
    Rule("NB301", "out-of-order-execution", "error"),
    Rule("NB302", "skipped-cell", "error"),
    Rule("NB303", "used-before-defined", "error", parsed=True),
    Rule("NB304", "undefined-name", "error", parsed=True),
    Rule("NB401", "absolute-path", "error", parsed=True),
    Rule("NB402", "path-outside-project", "error", _PROJECT, parsed=True),
    Rule("NB403", "pip-install-in-notebook", "error"),
    Rule("NB404", "undeclared-import", "error", _PROJECT, parsed=True),
    # NB41x: Spark notebooks (scaffold/check/spark.py)
    Rule("NB411", "spark-undeclared", "error", _PROJECT, parsed=True),
    Rule("NB412", "pyspark-in-dependencies", "warning", _PROJECT, parsed=True),
    Rule("NB413", "spark-master-in-code", "error", _PROJECT, parsed=True),
    Rule("NB414", "spark-credential-in-code", "error", _PROJECT, parsed=True),
    Rule("NB415", "unbounded-collect", "warning", _PROJECT, parsed=True),
    Rule("NB501", "duplicate-definition", "error", _PROJECT, parsed=True),
    Rule("NB502", "drifted-definition", "warning", _PROJECT, parsed=True),
    Rule("NB601", "parameters-cell-count", "error", _PROJECT),
    Rule("NB602", "parameter-missing", "error", _PROJECT, parsed=True),
    Rule("NB603", "parameter-type", "error", _PROJECT, parsed=True),
    Rule("NB604", "stage-dependencies", "error", _PROJECT),
    Rule("NB605", "unreadable-pipeline-file", "error", _PROJECT),
    Rule("NB701", "notebook-name", "error", _PROJECT),
    Rule("NB801", "too-many-cells", "warning"),
    Rule("NB802", "too-many-functions", "warning", parsed=True),
    # the team's threshold between the stages (scaffold/check/threshold.py)
    Rule("NB811", "threshold-code-cells", "warning", _PROJECT),
    Rule("NB812", "threshold-code-lines", "warning", _PROJECT),
    Rule("NB813", "threshold-functions", "warning", _PROJECT, parsed=True),
    Rule("NB814", "threshold-cluster", "warning", _PROJECT, parsed=True),
    Rule("NB815", "threshold-exploratory-writes", "warning", _PROJECT),
    Rule("NB901", "data-in-git", "error", _PROJECT),
    Rule("NB902", "large-file-in-git", "error", _PROJECT),
)


def codes_where(*, scope: str | None = None, parsed: bool | None = None) -> tuple[str, ...]:
    """The codes of the rules with this scope and/or parsing need, in table order."""
    return tuple(
        code
        for code, rule in RULES.items()
        if (scope is None or rule.scope == scope) and (parsed is None or rule.parsed == parsed)
    )


@dataclass(frozen=True)
class Finding:
    """One problem: where (``path:cell:line``; 0 = the whole notebook / cell), what, how to fix."""

    path: str  # relative to the project root, forward slashes
    cell: int  # 1-based cell number; 0 for the whole file
    line: int  # 1-based line in the cell; 0 for the whole cell
    code: str
    message: str
    diff: str = ""  # NB502: how the definition differs from its closest copy (unified diff)
    fix: str = ""  # what --fix would use: NB404's distribution to declare

    @property
    def severity(self) -> str:
        """``error`` or ``warning`` (from the rule)."""
        return RULES[self.code].severity

    def location(self) -> str:
        """``path:cell:line`` (zeros kept, so the format is always three fields)."""
        return f"{self.path}:{self.cell}:{self.line}"

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {
            "path": self.path,
            "cell": self.cell,
            "line": self.line,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            **({"diff": self.diff} if self.diff else {}),
            **({"fix": self.fix} if self.fix else {}),
        }


DEFAULTS: dict[str, int] = {
    # Pimentel et al. (EMSE 2021): notebooks of 37 or more cells reproduce 0.30 times as often.
    "max-cells": 36,
    "max-functions": 8,
    "max-data-kb": 1000,  # the template's check-added-large-files --maxkb
    "duplicate-min-lines": 3,
    "timeout": 600,
}
LIST_KEYS = ("select", "ignore", "exclude")
_CODE = re.compile(r"^NB\d{0,3}$")


@dataclass(frozen=True)
class Config:
    """``[tool.scaffold.check]``: which rules apply, the thresholds, the paths left out."""

    select: tuple[str, ...] = ("NB",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    thresholds: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULTS))

    def enabled(self, code: str) -> bool:
        """True when ``code`` is selected and not ignored (the longest matching prefix wins)."""
        chosen = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        dropped = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return chosen >= 0 and chosen > dropped

    def threshold(self, name: str) -> int:
        """A threshold by its pyproject key (e.g. ``max-cells``)."""
        return int(self.thresholds.get(name, DEFAULTS[name]))

    def with_codes(self, select: Sequence[str], ignore: Sequence[str]) -> Config:
        """This configuration with command-line ``--select`` / ``--ignore`` applied."""
        return Config(
            tuple(_codes(list(select), "--select")) if select else self.select,
            (*self.ignore, *_codes(list(ignore), "--ignore")),
            self.exclude,
            self.thresholds,
        )


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as data (tomllib, or tomli on Python 3.10)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ScaffoldError(f"{path.name} is not valid TOML ({error}); fix it.") from None
    except RecursionError:
        raise ScaffoldError(f"{path.name} is nested too deeply to read; fix it.") from None
    return data


def _codes(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ScaffoldError(f'{key} must be a list of rule codes such as ["NB401", "NB8"].')
    for code in value:
        if not _CODE.match(code) or (len(code) == 5 and code not in RULES):
            raise ScaffoldError(
                f"{key}: unknown rule code {code!r}; the codes are listed in docs/check.md."
            )
    return list(value)


def load_config(root: Path) -> Config:
    """The ``[tool.scaffold.check]`` table of ``root/pyproject.toml`` (defaults without one)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return Config()
    table = read_toml(path).get("tool", {}).get("scaffold", {}).get("check", {})
    if not isinstance(table, dict):
        raise ScaffoldError("[tool.scaffold.check] in pyproject.toml must be a table.")
    unknown = sorted(set(table) - set(LIST_KEYS) - set(DEFAULTS))
    if unknown:
        known = ", ".join([*LIST_KEYS, *DEFAULTS])
        raise ScaffoldError(
            f"[tool.scaffold.check] has unknown key {unknown[0]!r}; the keys are: {known}."
        )
    thresholds = dict(DEFAULTS)
    for key in DEFAULTS:
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScaffoldError(
                    f"[tool.scaffold.check] {key} must be a positive whole number, got {value!r}."
                )
            thresholds[key] = value
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(item, str) for item in exclude):
        raise ScaffoldError("[tool.scaffold.check] exclude must be a list of glob patterns.")
    return Config(
        select=tuple(_codes(table["select"], "[tool.scaffold.check] select"))
        if "select" in table
        else ("NB",),
        ignore=tuple(_codes(table.get("ignore", []), "[tool.scaffold.check] ignore")),
        exclude=tuple(exclude),
        thresholds=thresholds,
    )
