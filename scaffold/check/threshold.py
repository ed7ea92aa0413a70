"""The team's threshold between the three stages, from ``[tool.scaffold.threshold]``.

Exploratory notebook -> production notebook (``scaffold promote``) -> module and script stage
(``scaffold graduate``), with ``scaffold extract`` moving functions into the package on the way.
Each rule here reports a line a notebook crossed: the number, the team's limit, and the command
that moves the notebook on. What it counts (code cells and lines, top-level functions, a
cluster import, data writes) is in each notebook's summary (``notebook.analyse``, cached by
check), so no notebook is read twice.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaffold.check.model import Finding, read_toml
from scaffold.errors import ScaffoldError

if TYPE_CHECKING:
    from scaffold.check.notebook import Summary

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
WRITES_BYTES = re.compile(WRITES.pattern.encode())
# A write whose first argument names a page, picture or video (a map's .save("map.html"), an
# animation's .save("x.mp4")): not data.
NOT_DATA_FILE = re.compile(
    r"""\s*[rRbBuUfF]{0,2}(['"])[^'"\n]*\.(?:html?|mp4|gif|png|jpe?g|svg|pdf|avi|mov|webm|webp)\1""",
    re.IGNORECASE,
)


def data_writes(source: str) -> list[str]:
    """The calls in ``source`` that write data files or models (``.to_csv(``, ``.save(``...)."""
    return [
        match.group()
        for match in WRITES.finditer(source)
        if not NOT_DATA_FILE.match(source, match.end())
    ]


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


def cluster_import(tree: ast.Module) -> str | None:
    """The first module of a cluster library that the parsed cell imports."""
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for module in modules:
            if any(module == m or module.startswith(m + ".") for m in CLUSTER_MODULES):
                return module
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

    ``enabled(code)`` says whether a rule is selected. What each notebook holds comes from
    its summary, which check made (or took from its cache) in the same read.
    """
    if not any(enabled(code) for code in CODES):
        return []
    threshold = load(root)
    production = _production(root)
    found: list[Finding] = []
    for summary in chosen:
        if not summary.readable:
            continue
        rel = summary.path
        stem = Path(rel).stem
        if os.path.normpath(rel) in production or f"__stem__/{stem}" in production:
            found += _production_rules(rel, stem, summary, threshold)
        elif enabled("NB815"):
            found += _exploratory_rule(rel, stem, summary.writes, threshold)
    return [finding for finding in found if enabled(finding.code)]


def _crossed(value: int, limit: int) -> bool:
    return value > limit


def _production_rules(rel: str, stem: str, facts: Summary, threshold: Threshold) -> list[Finding]:
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
    functions = facts.function_names
    if _crossed(len(functions), limit):
        names = " ".join(name for name, _ in functions)
        found.append(
            Finding(
                rel,
                functions[limit][1],
                0,
                "NB813",
                f"production notebook defines {len(functions)} functions, past the team's "
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


def _exploratory_rule(
    rel: str, stem: str, writes: tuple[int, str, int] | None, threshold: Threshold
) -> list[Finding]:
    limit = threshold["exploratory-writes"]
    if writes is None or not _crossed(writes[0], limit):
        return []
    count, call, cell = writes
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
