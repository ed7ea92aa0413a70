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
from scaffold.check.notebook import Summary, read_regular
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
WRITES_BYTES = re.compile(WRITES.pattern.encode())


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

    def dump(self) -> dict[str, Any]:
        """The facts as JSON data (for the cache)."""
        return {
            "code_cells": self.code_cells,
            "code_lines": self.code_lines,
            "functions": [list(f) for f in self.functions],
            "cluster": list(self.cluster) if self.cluster else None,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> _Facts:
        """The facts back from ``dump``."""
        cluster = data.get("cluster")
        return cls(
            data["code_cells"],
            data["code_lines"],
            tuple((str(n), int(c)) for n, c in data["functions"]),
            (str(cluster[0]), int(cluster[1])) if cluster else None,
        )


def _cells(path: Path) -> list[str] | None:
    try:
        raw = read_regular(path)  # never waits on a FIFO named like a notebook
        data = json.loads(raw) if raw is not None else None
    except (OSError, ValueError, RecursionError):
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
        if facts.cluster is None and any(m.split(".")[0] in source for m in CLUSTER_MODULES):
            facts.cluster = _cluster(tree, number)
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

    ``enabled(code)`` says whether a rule is selected. What each notebook holds is cached by
    its size and modification time, as check caches its own reading.
    """
    if not any(enabled(code) for code in CODES):
        return []
    paths = [summary.path for summary in chosen if summary.readable]
    threshold = load(root)
    production = _production(root)
    cache = _Cache(root)
    found: list[Finding] = []
    for rel in paths:
        stem = Path(rel).stem
        if os.path.normpath(rel) in production or f"__stem__/{stem}" in production:
            facts = cache.get(rel, "facts", lambda rel=rel: _facts_of(root / rel))
            if facts is not None:
                found += _production_rules(rel, stem, _Facts.load(facts), threshold)
        elif enabled("NB815"):
            writes = cache.get(rel, "writes", lambda rel=rel: _writes(root / rel))
            found += _exploratory_rule(rel, stem, writes, threshold)
    cache.save()
    return [finding for finding in found if enabled(finding.code)]


class _Cache:
    """Facts per notebook, kept while its size and modification time stay the same."""

    VERSION = 1

    def __init__(self, root: Path) -> None:
        import hashlib

        from scaffold import __version__

        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
        self.path = base / "scaffold" / "threshold" / f"{digest}.json"
        self.root, self.version = root, [self.VERSION, __version__]
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        valid = isinstance(data, dict) and data.get("version") == self.version
        self.old: dict[str, Any] = data.get("entries", {}) if valid else {}
        self.new: dict[str, Any] = {}

    def get(self, rel: str, kind: str, compute: Any) -> Any:
        """The cached value of ``kind`` for notebook ``rel``, else ``compute()``."""
        try:
            stat = (self.root / rel).stat()
        except OSError:
            return None
        key, name = [stat.st_size, stat.st_mtime_ns], f"{kind}:{rel}"
        entry = self.old.get(name)
        value = entry[1] if isinstance(entry, list) and entry[0] == key else compute()
        self.new[name] = [key, value]
        return value

    def save(self) -> None:
        """Write the cache when it changed (a cache that cannot be written only costs time)."""
        if self.new == self.old:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_suffix(f".{os.getpid()}.tmp")
            text = json.dumps({"version": self.version, "entries": self.new})
            scratch.write_text(text, encoding="utf-8")
            os.replace(scratch, self.path)
        except OSError:
            pass


def _facts_of(path: Path) -> dict[str, Any] | None:
    sources = _cells(path)
    return None if sources is None else _facts(sources).dump()


def _writes(path: Path) -> list[Any] | None:
    """How many data writes the notebook's code makes, the first call and its cell."""
    try:
        data = read_regular(path)
    except OSError:
        return None
    if data is None or not WRITES_BYTES.search(data):  # most notebooks: no JSON parsed
        return None
    sources = _cells(path)
    if sources is None:
        return None
    found = [(n, WRITES.findall(source)) for n, source in enumerate(sources, 1)]
    count = sum(len(calls) for _, calls in found)
    if not count:
        return None
    cell, calls = next((n, calls) for n, calls in found if calls)
    return [count, calls[0].rstrip("( ").lstrip("."), cell]


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


def _exploratory_rule(
    rel: str, stem: str, writes: list[Any] | None, threshold: Threshold
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
