"""The Spark rules of ``scaffold check`` (NB41x), for notebooks that drive a Spark cluster.

- NB411 ``spark-undeclared``: the notebook imports ``pyspark`` and the project declares no
  distribution that provides it (pyspark, pyspark-client, pyspark-connect,
  databricks-connect). NB404 leaves ``pyspark`` to this rule, whose fix is an extra.
- NB412 ``pyspark-in-dependencies``: pyspark is in ``[project] dependencies`` instead of an
  extra; managed services (Databricks, EMR, Dataproc) bring their own Spark.
- NB413 ``spark-master-in-code``: a master URL written in the notebook (``.master("local[*]")``,
  ``.remote("sc://...")``, ``SparkContext("spark://...")``, ``.config("spark.master", ...)``).
- NB414 ``spark-credential-in-code``: a secret written in the notebook: a Spark/Hadoop setting
  or reader option named like one (``fs.s3a.secret.key``, ``password``), a URL with a
  password or token, or a credential environment variable set to a literal.
- NB415 ``unbounded-collect`` (warning): ``.toPandas()`` / ``.collect()`` of a frame read from
  storage (``spark.read``, ``spark.table``, ``spark.sql``, ``sc.textFile``) that nothing in
  between limited or aggregated. A frame the rule cannot trace (a function's argument, a
  name it never saw assigned) is left alone: the rule reports what it can show.

Only notebooks whose text mentions ``spark`` get these rules. ``facts`` runs on the cells
that check parsed while it read the notebook (``notebook.analyse``), and its findings are
cached with the rest of the notebook's summary; ``rules`` needs no notebook read again.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scaffold.check import imports
from scaffold.check.model import Config, Finding

if TYPE_CHECKING:
    from scaffold.check.notebook import Summary
    from scaffold.project import Project

CODES = ("NB411", "NB412", "NB413", "NB414", "NB415")
IMPORTS = {"pyspark"}  # import names NB404 leaves to NB411
PROVIDERS = {"pyspark", "pyspark-client", "pyspark-connect", "databricks-connect"}
EXTRA_HINT = 'spark = ["pyspark==<your cluster\'s Spark version>"]'

MASTER_URL = re.compile(
    r"^(?:local(?:\[[^\]]*\])?|local-cluster\[[^\]]*\]|yarn(?:-client|-cluster)?|"
    r"(?:spark|mesos|k8s|sc)://\S+)$"
)
MASTER_KEYS = {"spark.master", "spark.remote"}
MASTER_METHODS = {"master", "setMaster", "remote"}
MASTER_ENV = {"SPARK_MASTER", "SPARK_REMOTE", "MASTER"}
SECRET_KEY = re.compile(
    r"(?:access\.?key|secret|password|passwd|token|account\.key|sas\b|\.sas\.|api\.?key|"
    r"private\.key|credential)",
    re.IGNORECASE,
)
NOT_SECRET = re.compile(r"(?:provider|\.type$|\.class$|\.file$|keyfile|\.id$|\.endpoint$)", re.I)
SECRET_ENV = re.compile(
    r"^(?:AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN|[A-Z0-9_]*(?:PASSWORD|"
    r"SECRET|TOKEN|ACCOUNT_KEY|API_KEY|SAS_KEY|SAS_TOKEN))$"
)
URL_SECRET = re.compile(r"(?:://[^/\s:@]+:[^/\s@]+@|[?&;](?:password|token|pwd)=[^&;\s]+)", re.I)
SETTERS = {"config", "set", "option", "setIfMissing"}

# Methods after which a frame holds few rows: a limit, a sample, an aggregation.
BOUNDING = {
    "limit",
    "sample",
    "sampleBy",
    "agg",
    "groupBy",
    "groupby",
    "rollup",
    "cube",
    "count",
    "distinct",
    "dropDuplicates",
    "drop_duplicates",
    "describe",
    "summary",
    "reduceByKey",
    "aggregateByKey",
    "foldByKey",
    "combineByKey",
    "countByValue",
    "countByKey",
    "tail",
}
AGGREGATES = {
    "count",
    "countDistinct",
    "count_distinct",
    "approx_count_distinct",
    "sum",
    "sum_distinct",
    "avg",
    "mean",
    "min",
    "max",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "collect_list",
    "collect_set",
    "first",
    "last",
    "corr",
    "covar_pop",
    "covar_samp",
    "skewness",
    "kurtosis",
    "percentile_approx",
    "median",
    "mode",
    "min_by",
    "max_by",
    "any_value",
    "bool_and",
    "bool_or",
    "every",
    "some",
    "product",
}
SQL_BOUNDED = re.compile(
    r"\b(?:group\s+by|limit\s+\d|distinct|count\s*\(|sum\s*\(|avg\s*\(|min\s*\(|max\s*\()|"
    r"^\s*(?:show|describe|desc|explain)\b|"  # catalog statements
    r"\.(?:snapshots|history|refs|metadata_log_entries)\b",  # a table format's commit log
    re.IGNORECASE,
)
VIEW_METHODS = {
    "createOrReplaceTempView", "createTempView", "registerTempTable",
    "createOrReplaceGlobalTempView", "createGlobalTempView",
}  # fmt: skip
SQL_TABLE = re.compile(r"\b(?:from|join)\s+`?([A-Za-z_][\w.]*)", re.IGNORECASE)
READER_SETUP = {"format", "option", "options", "schema"}  # spark.read.format(...).load(...)
CONTEXT_SOURCES = {
    "textFile",
    "wholeTextFiles",
    "binaryFiles",
    "sequenceFile",
    "pickleFile",
    "hadoopFile",
    "newAPIHadoopFile",
    "objectFile",
}
LOCAL_SOURCES = {"createDataFrame", "parallelize"}  # data that came from this machine
SESSION_NAMES = {"spark", "sqlContext", "sqlCtx", "session"}
CONTEXT_NAMES = {"sc"}
SMALL_RANGE = 1_000_000
ACTIONS = {"toPandas", "collect"}


@dataclass(frozen=True)
class Cell:
    """A parsed code cell: its 1-based number and its syntax tree."""

    number: int
    tree: ast.Module


@dataclass
class SparkNotebook:
    """What the rules found in one notebook."""

    path: str
    cells: list[Cell]
    imports: list[tuple[int, int]] = field(default_factory=list)  # (cell, line) of pyspark


# -- reading ---------------------------------------------------------------------------------

HELPER = "{helper}"  # in NB413's message until the project's way to a session is known


def facts(path: str, cells: list[Cell]) -> tuple[list[tuple[int, int]], list[Finding]]:
    """The pyspark imports (cell, line) and the NB413-NB415 findings of one notebook's parsed
    code cells (NB413's message says ``HELPER`` where ``rules`` puts the project's helper)."""
    notebook = SparkNotebook(path, cells, _pyspark_imports(cells))
    return notebook.imports, [*literal_rules(notebook, HELPER), *collect_rules(notebook)]


def _pyspark_imports(cells: list[Cell]) -> list[tuple[int, int]]:
    """(cell, line) of each import of pyspark."""
    found = []
    for cell in cells:
        for node in ast.walk(cell.tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            if any(name.split(".")[0] in IMPORTS for name in names):
                found.append((cell.number, getattr(node, "lineno", 0)))
    return found


# -- NB413 / NB414: literals that belong in .env ---------------------------------------------


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _args(call: ast.Call, *names: str) -> list[ast.AST | None]:
    """The call's first arguments, positional or by keyword ``names``."""
    found: list[ast.AST | None] = []
    for index, name in enumerate(names):
        if index < len(call.args):
            found.append(call.args[index])
        else:
            found.append(next((k.value for k in call.keywords if k.arg == name), None))
    return found


def _line(node: ast.AST | None, default: ast.AST) -> int:
    """The line a finding points at: the literal's own (calls span lines in chains)."""
    line = getattr(node, "lineno", None) or getattr(default, "lineno", 0)
    return int(line or 0)


def _first(call: ast.Call) -> ast.expr | None:
    return call.args[0] if call.args else None


def _method(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


@dataclass
class _Literals:
    """The masters and secrets written in a notebook, as findings."""

    path: str
    helper: str
    constants: dict[str, str] = field(default_factory=dict)  # NAME = "text" at top level
    found: list[Finding] = field(default_factory=list)

    reported: set[str] = field(default_factory=set)  # constants already reported

    def value(self, node: ast.AST | None) -> str | None:
        """A string literal, or a name the notebook assigned one to (reported once)."""
        if isinstance(node, ast.Name):
            if node.id in self.reported:
                return None
            return self.constants.get(node.id)
        return _literal(node)

    def used(self, node: ast.AST | None) -> None:
        """A finding was made of ``node``: a constant is not reported again."""
        if isinstance(node, ast.Name):
            self.reported.add(node.id)

    def master(self, cell: int, line: int, value: str) -> None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        self.found.append(
            Finding(
                self.path,
                cell,
                line,
                "NB413",
                f"Spark master {shown!r} is written in the notebook; set "
                f"SPARK_MASTER={shown} in .env and {self.helper}",
            )
        )

    def secret(self, cell: int, line: int, what: str) -> None:
        self.found.append(
            Finding(
                self.path,
                cell,
                line,
                "NB414",
                f"{what} is written in the notebook; put it in the git-ignored .env (or "
                "the cluster's secret store) and read it from the environment",
            )
        )

    def call(self, cell: int, node: ast.Call) -> None:
        """A master or a secret passed to a call."""
        method = _method(node)
        if method in MASTER_METHODS or method == "SparkContext":
            given = _args(node, "master")[0] if method == "SparkContext" else _first(node)
            value = self.value(given)
            if value is not None and MASTER_URL.match(value.strip()):
                self.master(cell, _line(given, node), value.strip())
                self.used(given)
        self.settings(cell, node, method)
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            value = _literal(arg)
            if value and URL_SECRET.search(value) and "://" in value:
                self.secret(cell, _line(arg, node), "a URL with a password or token")

    def settings(self, cell: int, node: ast.Call, method: str) -> None:
        """``.config(key, value)``, ``.option(key, value)``, ``.options(key=value)``."""
        if method in SETTERS:
            key_node, value_node = _args(node, "key", "value")
            key, value = self.value(key_node), self.value(value_node)
            line = _line(value_node, node)
            if key is not None and value and self.setting(cell, line, key, value):
                self.used(value_node)
        if method == "options":
            for keyword in node.keywords:
                value = self.value(keyword.value)
                line = _line(keyword.value, node)
                if keyword.arg and value and self.setting(cell, line, keyword.arg, value):
                    self.used(keyword.value)

    def setting(self, cell: int, line: int, key: str, value: str) -> bool:
        """A master or a secret set by name; True when it was one."""
        if key in MASTER_KEYS and MASTER_URL.match(value.strip()):
            self.master(cell, line, value.strip())
            return True
        if SECRET_KEY.search(key) and not NOT_SECRET.search(key):
            self.secret(cell, line, f"the secret {key!r}")
            return True
        return False

    def environ(self, cell: int, node: ast.Assign) -> None:
        """``os.environ["NAME"] = "literal"``."""
        value = _literal(node.value)
        for target in node.targets:
            if not (isinstance(target, ast.Subscript) and value and _environ(target.value)):
                continue
            name = _literal(target.slice)
            if name in MASTER_ENV and MASTER_URL.match(value.strip()):
                self.master(cell, node.lineno, value.strip())
            elif name == "PYSPARK_SUBMIT_ARGS" and "--master " in value:
                self.master(cell, node.lineno, value.split("--master ", 1)[1].split()[0])
            elif name and SECRET_ENV.match(name):
                self.secret(cell, node.lineno, f"the credential {name}")


def _environ(node: ast.expr) -> bool:
    """``os.environ`` or ``environ``."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def literal_rules(notebook: SparkNotebook, helper: str) -> list[Finding]:
    """NB413 and NB414 of one notebook."""
    literals = _Literals(notebook.path, helper)
    for cell in notebook.cells:
        for statement in cell.tree.body:
            names, value = _assigned(statement)
            text = _literal(value)
            if len(names) == 1 and text is not None:
                literals.constants[names[0]] = text
    for cell in notebook.cells:
        for node in ast.walk(cell.tree):
            if isinstance(node, ast.Call):
                literals.call(cell.number, node)
            elif isinstance(node, ast.Assign):
                literals.environ(cell.number, node)
    return literals.found


# -- NB415: frames brought to the driver whole -----------------------------------------------

Position = tuple[int, int, int]  # (cell, line, column)


@dataclass
class _Frames:
    """Top-level assignments in notebook order, to trace a name back to where it came from."""

    assigned: dict[str, list[tuple[Position, ast.expr]]] = field(default_factory=dict)
    views: dict[str, list[tuple[Position, ast.expr]]] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=lambda: set(SESSION_NAMES))
    contexts: set[str] = field(default_factory=lambda: set(CONTEXT_NAMES))

    def record(self, name: str, where: Position, value: ast.expr) -> None:
        self.assigned.setdefault(name, []).append((where, value))
        text = ast.dump(value)
        if any(
            mark in text
            for mark in (
                "getOrCreate",
                "get_spark",
                "'SparkSession'",
                "'SQLContext'",
                "'HiveContext'",
            )
        ):
            self.sessions.add(name)
        if "'SparkContext'" in text or "attr='sparkContext'" in text:
            self.contexts.add(name)

    def before(
        self, name: str, where: Position, table: str = "assigned"
    ) -> tuple[Position, ast.expr] | None:
        """The latest assignment of ``name`` (or view, ``table="views"``) before ``where``."""
        entries = self.views if table == "views" else self.assigned
        earlier = [entry for entry in entries.get(name, []) if entry[0] < where]
        return earlier[-1] if earlier else None

    def register_views(self, cells: Sequence[Cell]) -> None:
        """``frame.createOrReplaceTempView("name")`` anywhere, even in a function or lambda."""
        for cell in cells:
            for node in ast.walk(cell.tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                name = _literal(_first(node))
                if node.func.attr in VIEW_METHODS and name:
                    where = (cell.number, node.lineno, node.col_offset)
                    self.views.setdefault(name.lower(), []).append((where, node.func.value))

    def tables(self, names: list[str], where: Position, depth: int) -> bool | None:
        """Whether every table of a query is small: views of small frames (False: a table of
        the catalog, i.e. storage)."""
        verdicts = []
        for name in names:
            view = self.before(name.lower().removeprefix("global_temp."), where, "views")
            if view is None:
                return False
            verdicts.append(self.bounded(view[1], view[0], depth + 1))
        if all(verdict is True for verdict in verdicts):
            return True
        return False if False in verdicts else None

    def bounded(self, node: ast.AST, where: Position, depth: int = 0) -> bool | None:
        """True: few rows (limited, aggregated, or local data); False: read from storage and
        never reduced; None: cannot tell."""
        if depth > 40:
            return None
        if isinstance(node, ast.Name):
            found = self.before(node.id, where)
            return None if found is None else self.bounded(found[1], found[0], depth + 1)
        if isinstance(node, ast.Attribute):  # df.rdd, df.write..., spark.read
            return self.bounded(node.value, where, depth + 1)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return None
        return self._call(node, node.func.attr, node.func.value, where, depth)

    def _call(
        self, node: ast.Call, method: str, receiver: ast.expr, where: Position, depth: int
    ) -> bool | None:
        if method in BOUNDING or (method in ("select", "selectExpr") and _aggregates(node)):
            return True
        source = self._source(node, method, receiver, where, depth)
        if source is not None:
            return source
        if _is_reader(receiver):  # spark.read.csv(...), spark.read.format(...).load(...)
            # spark.read.json(rdd) of an RDD made here reads nothing from storage
            return bool(node.args) and self.bounded(node.args[0], where, depth + 1) is True
        return self.bounded(receiver, where, depth + 1)

    def _query(self, text: str, where: Position, depth: int) -> bool | None:
        """Whether a SQL query returns few rows (None: its text is not in the notebook)."""
        if not text.strip():
            return None
        if SQL_BOUNDED.search(text):
            return True
        return self.tables(SQL_TABLE.findall(text), where, depth)

    def _source(
        self, node: ast.Call, method: str, receiver: ast.expr, where: Position, depth: int
    ) -> bool | None:
        """Whether a call on a session or context makes a small frame (None: not a source)."""
        owner = receiver.id if isinstance(receiver, ast.Name) else None
        is_session = owner in self.sessions
        is_context = owner in self.contexts or (
            isinstance(receiver, ast.Attribute) and receiver.attr == "sparkContext"
        )
        if not (is_session or is_context):
            return None
        if method in LOCAL_SOURCES:
            return True
        if method == "range":
            return _small_range(node)
        if is_session and method in ("table", "sql"):
            return self._catalog(node, method, where, depth)
        if is_context and method in CONTEXT_SOURCES:
            return False
        return None

    def _catalog(self, node: ast.Call, method: str, where: Position, depth: int) -> bool | None:
        """``spark.table("name")`` or ``spark.sql("...")``."""
        if method == "table":
            name = _literal(_first(node))
            return self.tables([name], where, depth) if name else False
        return self._query(_sql_text(node.args[0]) if node.args else "", where, depth)


def _is_reader(node: ast.expr) -> bool:
    """``X.read``, or ``X.read.format(...).option(...)``: a session's reader."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in READER_SETUP
    ):
        node = node.func.value
    return isinstance(node, ast.Attribute) and node.attr == "read"


def _aggregates(call: ast.Call) -> bool:
    """A select of aggregate functions only (one row), not over a window."""
    text = " ".join(ast.dump(arg) for arg in [*call.args, *(k.value for k in call.keywords)])
    if "attr='over'" in text or not call.args:
        return False
    for arg in call.args:
        value = _literal(arg)
        if value is not None:
            if not re.search(r"\b(?:count|sum|avg|mean|min|max)\s*\(", value, re.I):
                return False
            continue
        if not (isinstance(arg, ast.Call) and _name_of(arg) in AGGREGATES):
            inner = (
                arg.func.value
                if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute)
                else None
            )
            # F.sum("x").alias("total"): the aggregate under an alias
            if not (isinstance(inner, ast.Call) and _name_of(inner) in AGGREGATES):
                return False
    return True


def _name_of(call: ast.Call) -> str:
    return _method(call)


def _small_range(call: ast.Call) -> bool | None:
    values = [
        arg.value
        for arg in call.args
        if isinstance(arg, ast.Constant) and type(arg.value) is int  # not bool
    ]
    if len(values) != len(call.args) or not values:
        return None
    start, end = (0, values[0]) if len(values) == 1 else (values[0], values[1])
    return bool(end - start <= SMALL_RANGE)


def _sql_text(node: ast.expr) -> str:
    if isinstance(node, ast.JoinedStr):
        return " ".join(_literal(part) or "" for part in node.values)
    return _literal(node) or ""


def _statements(cells: Sequence[Cell]) -> Iterator[tuple[int, ast.stmt]]:
    """Every statement outside functions and classes, in notebook order."""

    def walk(body: list[ast.stmt]) -> Iterator[ast.stmt]:
        for statement in body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            yield statement
            for name in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(statement, name, None)
                if isinstance(inner, list):
                    yield from walk([s for s in inner if isinstance(s, ast.stmt)])
                    for handler in inner:
                        if isinstance(handler, ast.ExceptHandler):
                            yield from walk(handler.body)

    for cell in cells:
        for statement in walk(cell.tree.body):
            yield cell.number, statement


def _assigned(statement: ast.stmt) -> tuple[list[str], ast.expr | None]:
    if isinstance(statement, ast.Assign):
        names: list[str] = []
        for target in statement.targets:
            elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            names.extend(e.id for e in elements if isinstance(e, ast.Name))
        return names, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [statement.target.id], statement.value
    return [], None


def _own_calls(statement: ast.stmt) -> Iterator[ast.Call]:
    """The calls of a statement itself (not of the statements nested in it)."""
    nested = {
        id(inner)
        for name in ("body", "orelse", "finalbody", "handlers")
        for inner in getattr(statement, name, None) or []
    }
    stack: list[ast.AST] = [statement]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if id(child) in nested or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
            ):
                continue
            if isinstance(child, ast.Call):
                yield child
            stack.append(child)


def collect_rules(notebook: SparkNotebook) -> list[Finding]:
    """NB415 of one notebook."""
    frames = _Frames()
    frames.register_views(notebook.cells)
    found = []
    for cell, statement in _statements(notebook.cells):
        where = (cell, statement.lineno, statement.col_offset)
        for call in _own_calls(statement):
            func = call.func
            if not (isinstance(func, ast.Attribute) and func.attr in ACTIONS and not call.args):
                continue
            if frames.bounded(func.value, where) is False:
                found.append(
                    Finding(
                        notebook.path,
                        cell,
                        call.lineno,
                        "NB415",
                        f".{func.attr}() brings every row of a frame read from storage to "
                        "this machine (nothing limited or aggregated it); aggregate or "
                        ".limit(n) first, or .write the result",
                    )
                )
        names, value = _assigned(statement)
        for name in names:
            if value is not None:
                frames.record(name, where, value)
    return found


# -- NB411 / NB412: where pyspark is declared ------------------------------------------------


def _in_dependencies(root: Path) -> bool:
    """pyspark (or a provider) in ``[project] dependencies`` of pyproject.toml."""
    from scaffold.check.model import read_toml

    path = root / "pyproject.toml"
    if not path.is_file():
        return False
    project = read_toml(path).get("project", {})
    listed = project.get("dependencies") if isinstance(project, dict) else None
    names = {
        imports.normalise(match.group(1))
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, str) and (match := re.match(r"\s*([A-Za-z0-9][\w.-]*)", item))
    }
    return bool(names & PROVIDERS)


def dependency_rules(
    root: Path, notebooks: Sequence[tuple[str, list[tuple[int, int]]]]
) -> list[Finding]:
    """NB411 for each notebook (path, its pyspark imports) that imports pyspark undeclared;
    NB412 once for the project."""
    users = [(path, places) for path, places in notebooks if places]
    if not users:
        return []
    declared = imports.declared(root)
    if declared is None:
        return []  # a project that declares nothing is not checked (as NB404)
    if not declared & PROVIDERS:
        return [
            Finding(
                path,
                cell,
                line,
                "NB411",
                "imports pyspark, which the project does not declare; add it to an extra "
                f"in pyproject.toml, [project.optional-dependencies] {EXTRA_HINT}",
            )
            for path, places in users
            for cell, line in places[:1]
        ]
    if _in_dependencies(root):
        return [
            Finding(
                "pyproject.toml",
                0,
                0,
                "NB412",
                "pyspark is in [project] dependencies; move it to an extra "
                f"([project.optional-dependencies] {EXTRA_HINT}): Databricks, EMR and "
                "Dataproc bring their own Spark, which a second pyspark breaks",
            )
        ]
    return []


# -- the rules -------------------------------------------------------------------------------


def _helper(project: Project) -> str:
    """How the project's notebooks should get their session."""
    from scaffold.layout import find_package

    package = find_package(project)
    if package is not None and (package.folder / "spark.py").is_file():
        return f"take the session from {package.name}.spark.get_spark()"
    return "build the session with the master read from the environment (os.environ)"


def rules(project: Project, chosen: Sequence[Summary], config: Config) -> list[Finding]:
    """Every enabled Spark rule on the ``chosen`` notebooks' summaries."""
    root = project.root
    found = [summary for summary in chosen if summary.spark_imports or summary.spark_findings]
    findings: list[Finding] = []
    if any(summary.spark_findings for summary in found):
        helper = _helper(project)
        findings += [
            Finding(f.path, f.cell, f.line, f.code, f.message.replace(HELPER, helper))
            for summary in found
            for f in summary.spark_findings
            if config.enabled(f.code)
        ]
    if config.enabled("NB411") or config.enabled("NB412"):
        users = [(summary.path, summary.spark_imports) for summary in found]
        findings.extend(dependency_rules(root, users))
    return findings
