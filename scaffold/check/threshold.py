"""The team's threshold between the three stages, from ``[tool.scaffold.threshold]``.

Exploratory notebook -> production notebook (``scaffold promote``) -> module and script stage
(``scaffold graduate``), with ``scaffold extract`` moving functions into the package on the way.
Each rule here reports a line a notebook crossed: the number, the team's limit, and the command
that moves the notebook on. Production notebooks (a papermill stage in ``dvc.yaml``, or a
``params/<stem>.yaml``) are read again here, whole; they are few. Exploratory notebooks are
only searched as text for data writes, and parsed when the text has one.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold.check.model import Finding, read_toml
from scaffold.check.notebook import Summary
from scaffold.errors import ScaffoldError

# name: (default, why); the generated pyproject.toml carries the same with these comments.
DEFAULTS: dict[str, int | bool] = {
    "exploratory-writes": 0,
    "production-code-cells": 30,
    "production-code-lines": 150,
    "production-functions": 5,
    "cluster-notebooks": False,
}
CODES = ("NB811", "NB812", "NB813", "NB814", "NB815")
# Modules that mean the notebook drives a cluster.
CLUSTER_MODULES = (
    *("dask.distributed", "distributed", "dask_jobqueue", "dask_kubernetes"),
    *("pyspark", "ray", "coiled", "databricks"),
)
# Calls that write a data file or a model (pandas, numpy, pickle/joblib/dill, torch).
WRITES = re.compile(
    r"\.(?:to_csv|to_parquet|to_pickle|to_feather|to_excel|to_hdf|to_json|to_sql|savez?"
    r"|savez_compressed|dump|write_parquet|write_csv)\s*\("
)


@dataclass(frozen=True)
class Threshold:
    """``[tool.scaffold.threshold]``: the team's numbers."""

    values: Mapping[str, int | bool]

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key, DEFAULTS[key])


def load(root: Path) -> Threshold:
    """The project's threshold (the defaults without a table)."""
    path = root / "pyproject.toml"
    table = read_toml(path).get("tool", {}).get("scaffold", {}) if path.is_file() else {}
    table = table.get("threshold", {}) if isinstance(table, dict) else {}
    if not isinstance(table, dict):
        raise ScaffoldError("[tool.scaffold.threshold] in pyproject.toml must be a table.")
    for key, value in table.items():
        if key not in DEFAULTS:
            known = ", ".join(DEFAULTS)
            raise ScaffoldError(
                f"[tool.scaffold.threshold] has unknown key {key!r}; the keys are: {known}."
            )
        if isinstance(DEFAULTS[key], bool) and not isinstance(value, bool):
            raise ScaffoldError(f"[tool.scaffold.threshold] {key} must be true or false.")
        if not isinstance(DEFAULTS[key], bool) and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ScaffoldError(
                f"[tool.scaffold.threshold] {key} must be a whole number (0 or more), "
                f"got {value!r}."
            )
    return Threshold({**DEFAULTS, **table})


@dataclass
class _Facts:
    """What the threshold counts in one notebook."""

    code_cells: int = 0
    code_lines: int = 0
    functions: tuple[tuple[str, int], ...] = ()  # (name, cell)
    cluster: tuple[str, int] | None = None  # (module, cell)
    writes: tuple[str, int] | None = None  # (call, cell), the first one


def _cells(path: Path) -> list[str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # NB101 and friends report it
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        return None
    found = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            found.append("".join(source) if isinstance(source, list) else str(source))
        else:
            found.append("")  # keeps the cell numbers
    return found


def _facts(sources: Sequence[str]) -> _Facts:
    from scaffold.check.notebook import blank_magics

    facts = _Facts()
    functions: list[tuple[str, int]] = []
    for number, source in enumerate(sources, start=1):
        lines = [line for line in source.split("\n") if line.strip()]
        code = [line for line in lines if not line.lstrip().startswith("#")]
        if not code:
            continue
        facts.code_cells += 1
        facts.code_lines += len(code)
        try:
            tree = ast.parse(blank_magics(source))
        except (SyntaxError, ValueError):
            continue
        functions += [
            (node.name, number)
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        if facts.cluster is None:
            facts.cluster = _cluster(tree, number)
        if facts.writes is None:
            call = WRITES.search(blank_magics(source))
            facts.writes = (call.group(0).rstrip("( ").lstrip("."), number) if call else None
    facts.functions = tuple(functions)
    return facts


def _cluster(tree: ast.Module, number: int) -> tuple[str, int] | None:
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for module in modules:
            if any(module == m or module.startswith(m + ".") for m in CLUSTER_MODULES):
                return module, number
    return None


def _production(root: Path) -> set[str]:
    from scaffold.layout import PARAMS_DIR
    from scaffold.pipeline import pipeline_notebooks

    try:
        staged = {os.path.normpath(stage.notebook) for stage in pipeline_notebooks(root)}
    except ScaffoldError:
        staged = set()  # NB605 reports an unreadable dvc.yaml
    params = root / PARAMS_DIR
    stems = {p.stem for p in params.glob("*.yaml")} if params.is_dir() else set()
    return staged | {f"__stem__/{stem}" for stem in stems}


def rules(root: Path, chosen: Sequence[Summary], enabled: Any) -> list[Finding]:
    """The threshold's findings for the ``chosen`` notebooks (those that could be read).

    ``enabled(code)`` says whether a rule is selected.
    """
    if not any(enabled(code) for code in CODES):
        return []
    paths = [summary.path for summary in chosen if summary.readable]
    threshold = load(root)
    production = _production(root)
    found: list[Finding] = []
    for rel in paths:
        stem = Path(rel).stem
        if os.path.normpath(rel) in production or f"__stem__/{stem}" in production:
            sources = _cells(root / rel)
            if sources is not None:
                found += _production_rules(rel, stem, _facts(sources), threshold)
        elif enabled("NB815"):
            found += _exploratory_rule(root, rel, stem, threshold)
    return [finding for finding in found if enabled(finding.code)]


def _crossed(value: int, limit: int) -> bool:
    return value > limit


def _production_rules(rel: str, stem: str, facts: _Facts, threshold: Threshold) -> list[Finding]:
    found = []
    graduate = f"scaffold graduate {stem}"
    for code, key, count, what in (
        ("NB811", "production-code-cells", facts.code_cells, "code cells"),
        ("NB812", "production-code-lines", facts.code_lines, "lines of code"),
    ):
        limit = threshold[key]
        if _crossed(count, limit):
            found.append(
                Finding(
                    rel,
                    0,
                    0,
                    code,
                    f"production notebook with {count} {what}, past the team's threshold of "
                    f"{limit} ({key}); make it a module and script stage: {graduate}",
                )
            )
    limit = threshold["production-functions"]
    if _crossed(len(facts.functions), limit):
        names = " ".join(name for name, _ in facts.functions)
        found.append(
            Finding(
                rel,
                facts.functions[limit][1],
                0,
                "NB813",
                f"production notebook defines {len(facts.functions)} functions, past the team's "
                f"threshold of {limit} (production-functions); move them into the package: "
                f"scaffold extract {names}",
            )
        )
    if facts.cluster is not None and not threshold["cluster-notebooks"]:
        module, cell = facts.cluster
        found.append(
            Finding(
                rel,
                cell,
                0,
                "NB814",
                f"production notebook runs on a cluster (imports {module}), and the team's "
                "threshold keeps cluster stages as modules (cluster-notebooks = false): "
                + graduate,
            )
        )
    return found


def _exploratory_rule(root: Path, rel: str, stem: str, threshold: Threshold) -> list[Finding]:
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if not WRITES.search(text):
        return []
    sources = _cells(root / rel)
    if sources is None:
        return []
    count = sum(len(WRITES.findall(source)) for source in sources)
    facts = _facts(sources)
    limit = threshold["exploratory-writes"]
    if facts.writes is None or not _crossed(count, limit):
        return []
    call, cell = facts.writes
    return [
        Finding(
            rel,
            cell,
            0,
            "NB815",
            f"exploratory notebook writes data {count} time(s) ({call}), past the team's "
            f"threshold of {limit} (exploratory-writes); make it a pipeline step with "
            f"parameters and a stage: scaffold promote {stem}",
        )
    ]
