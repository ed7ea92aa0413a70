"""``scaffold run NOTEBOOK --grid KEY=V1,V2,...``: one notebook, many parameter sets.

A sweep is planned here (the grid's cross product, typed as ``-p`` types values, checked
against the notebook's parameters cell) and run by one of three backends:

- the notebook is a DVC stage: the local pool, each run then recorded as a DVC experiment
  (``scaffold.sweep_dvc``) that ``dvc exp show`` lists with its params;
- ``--cluster ADDRESS``: a Dask scheduler (``scaffold.sweep_cluster``);
- otherwise a local pool of papermill processes (``scaffold.pool``).

Every backend leaves the same results: ``reports/sweeps/<stem>/<sweep-id>/<k=v,...>.ipynb``
per run and ``summary.csv`` beside them (parameters, status, seconds, metrics, error). A
notebook records metrics in a cell tagged (or with the id) ``metrics`` whose result is a
dict of names to values (``metrics_of`` reads it from the executed notebook).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import product
from pathlib import Path
from typing import Any, Protocol, TextIO

from scaffold import parameters as params
from scaffold.errors import ScaffoldError
from scaffold.execution import (
    Echo,
    RunPlan,
    convert,
    read_params_file,
    resolve_notebook,
    run_failure,
    unknown_key,
)
from scaffold.files import relative
from scaffold.interpreters import Interpreter
from scaffold.layout import PARAMS_DIR, REPORTS_DIR
from scaffold.options import parse_assignments
from scaffold.project import Project

MAX_RUNS = 10_000
SWEEPS_DIR = "sweeps"
METRICS = "metrics"  # the tag (or cell id) of the cell whose result is the run's metrics
NAME_MAX = 150  # characters of a run's file name before it is shortened with a hash


@dataclass(frozen=True)
class SweepRun:
    """One parameter set of a sweep."""

    index: int
    values: dict[str, Any]  # the grid's values for this run
    name: str  # "lr=0.1,seed=1": its file name without .ipynb
    plan: RunPlan  # notebook, output, params file, overrides (-p and the grid values)


@dataclass(frozen=True)
class Sweep:
    """A planned sweep: the notebook, the grid and where the results go."""

    root: Path
    notebook: Path
    keys: list[str]
    grid: dict[str, list[Any]]
    fixed: dict[str, Any]  # -p values
    parameters_file: Path | None
    folder: Path  # reports/sweeps/<stem>/<sweep-id>
    runs: list[SweepRun]
    backend: str  # "pool", "dvc" or "cluster"
    jobs: int
    cluster: str | None = None


@dataclass
class Outcome:
    """What became of one run."""

    run: SweepRun
    status: str  # "done", "failed" or "not run"
    seconds: float = 0.0
    error: str = ""  # one sentence: the failing cell and its error, or why it did not run
    metrics: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # e.g. "retried after its worker died"


# -- the grid -------------------------------------------------------------------------------


def split_values(text: str) -> list[str]:
    """``1,2,[3,4],'a,b'`` -> ``["1", "2", "[3,4]", "'a,b'"]``: commas inside brackets or
    quotes do not split."""
    values, current, depth, quote = [], "", 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(current)
            current = ""
            continue
        current += char
    values.append(current)
    return values


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``--grid KEY=V1,V2`` options as ``{KEY: [raw values]}``, in the order given."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ScaffoldError(
                f"--grid expects KEY=V1,V2,... with a parameter name, got {item!r}."
            )
        if key in grid:
            raise ScaffoldError(f"--grid {key} is given twice; put all its values in one list.")
        values = [value.strip() for value in split_values(text)]
        if not text.strip() or any(value == "" for value in values):
            raise ScaffoldError(
                f"--grid {item}: give a comma-separated list of values (none is empty)."
            )
        grid[key] = values
    return grid


def _typed(raw: str, declared: params.Parameter | None, key: str) -> Any:
    """A grid value typed as ``-p`` types it; quotes keep commas in a text value."""
    quoted = len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "'\""
    if quoted and declared is not None and declared.annotation == "str":
        return raw[1:-1]
    return convert(raw, declared, key, flag="--grid")


def run_label(values: Mapping[str, Any]) -> str:
    """``lr=0.1,seed=1``: a run's name, safe as a file name."""
    parts = []
    for key, value in values.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={shown}")
    label = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "_", ",".join(parts))
    label = "_" + label[1:] if label.startswith(".") else label
    if len(label) > NAME_MAX:
        digest = hashlib.sha256(label.encode()).hexdigest()[:10]
        label = f"{label[: NAME_MAX - 11]}-{digest}"
    return label


# -- planning -------------------------------------------------------------------------------


def _typed_grid(
    raw: Mapping[str, list[str]], declared: Sequence[params.Parameter], notebook: Path
) -> dict[str, list[Any]]:
    by_name = {parameter.name: parameter for parameter in declared}
    grid: dict[str, list[Any]] = {}
    for key, values in raw.items():
        if key not in by_name:
            raise ScaffoldError("--grid " + unknown_key(key, [notebook], declared))
        grid[key] = [_typed(value, by_name[key], key) for value in values]
    return grid


def _fixed(
    assignments: Sequence[str],
    grid: Mapping[str, list[str]],
    declared: Sequence[params.Parameter],
    notebook: Path,
) -> dict[str, Any]:
    """The ``-p`` values every run shares, typed and checked against the grid."""
    by_name = {parameter.name: parameter for parameter in declared}
    fixed = {}
    for key, value in parse_assignments(assignments, names=True).items():
        if key in grid:
            raise ScaffoldError(f"{key} is in both -p and --grid; give it in one of them.")
        if key not in by_name:
            raise ScaffoldError("-p " + unknown_key(key, [notebook], declared))
        fixed[key] = convert(value, by_name[key], key)
    return fixed


def _new_folder(root: Path, stem: str) -> Path:
    base = root / REPORTS_DIR / SWEEPS_DIR / stem
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, number = base / stamp, 1
    while candidate.exists():
        number += 1
        candidate = base / f"{stamp}-{number}"
    return candidate


def _as_typed(raw: str) -> str:
    """A value as the user typed it, for a run's name (without the quotes that kept a comma)."""
    quoted = len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "'\""
    return raw[1:-1] if quoted else raw


def _runs(
    root: Path,
    notebook: Path,
    grid: dict[str, list[Any]],
    raw: Mapping[str, list[str]],
    fixed: dict[str, Any],
    folder: Path,
) -> list[SweepRun]:
    params_file = root / PARAMS_DIR / f"{notebook.stem}.yaml"
    runs, used = [], set()
    positions = product(*(range(len(values)) for values in grid.values()))
    for index, picked in enumerate(positions, start=1):
        values = {key: grid[key][i] for key, i in zip(grid, picked, strict=True)}
        name = run_label({key: _as_typed(raw[key][i]) for key, i in zip(grid, picked, strict=True)})
        if name in used:
            name = f"{name}-{index}"
        used.add(name)
        plan = RunPlan(
            notebook,
            folder / f"{name}.ipynb",
            params_file if params_file.is_file() else None,
            {**fixed, **values},
        )
        runs.append(SweepRun(index, values, name, plan))
    return runs


class SweepRequest(Protocol):
    """What a sweep was asked (``scaffold.run.Request`` is one)."""

    @property
    def notebooks(self) -> Sequence[str]: ...
    @property
    def assignments(self) -> Sequence[str]: ...
    @property
    def grid(self) -> Sequence[str]: ...
    @property
    def jobs(self) -> int | None: ...
    @property
    def cluster(self) -> str | None: ...
    @property
    def yes(self) -> bool: ...


def plan_sweep(
    project: Project, request: SweepRequest, cwd: Path | None = None, backend: str = "pool"
) -> Sweep:
    """The runs of ``scaffold run NOTEBOOK --grid ...`` on ``backend`` (``run`` chooses it),
    checked before anything runs."""
    root = project.root
    notebook = resolve_notebook(root, request.notebooks[0], cwd or Path.cwd())
    declared = params.of_notebook(notebook)
    if declared is None:
        raise ScaffoldError(
            f"{relative(notebook, root)} has no cell tagged 'parameters'; a sweep sets "
            "parameters (scaffold promote adds the cell)."
        )
    raw_grid = parse_grid(request.grid)
    count = math.prod(len(values) for values in raw_grid.values())
    if count > MAX_RUNS and not request.yes:
        raise ScaffoldError(
            f"--grid makes {count:,} runs, over {MAX_RUNS:,}; pass --yes to run them all."
        )
    grid = _typed_grid(raw_grid, declared, notebook)
    fixed = _fixed(request.assignments, raw_grid, declared, notebook)
    params_file = root / PARAMS_DIR / f"{notebook.stem}.yaml"
    read_params_file(params_file, root)  # refuse a broken one now
    folder = _new_folder(root, notebook.stem)
    jobs = request.jobs or os.cpu_count() or 1
    return Sweep(
        root=root,
        notebook=notebook,
        keys=list(grid),
        grid=grid,
        fixed=fixed,
        parameters_file=params_file if params_file.is_file() else None,
        folder=folder,
        runs=_runs(root, notebook, grid, raw_grid, fixed, folder),
        backend=backend,
        jobs=jobs,
        cluster=request.cluster,
    )


def describe(sweep: Sweep) -> list[str]:
    """The run list printed before a sweep starts (and all that ``--dry-run`` prints)."""
    root = sweep.root
    sizes = " x ".join(f"{len(values)} {key}" for key, values in sweep.grid.items())
    where = {
        "pool": f"a local pool, {sweep.jobs} at a time",
        "dvc": f"a local pool, {sweep.jobs} at a time, each recorded as a DVC experiment",
        "cluster": f"the Dask scheduler at {sweep.cluster}",
    }[sweep.backend]
    noun = "run" if len(sweep.runs) == 1 else "runs"
    lines = [
        f"sweep {relative(sweep.notebook, root)}: {len(sweep.runs)} {noun} ({sizes}) on {where}"
    ]
    if sweep.parameters_file:
        lines.append(f"  parameters from {relative(sweep.parameters_file, root)}")
    if sweep.fixed:
        fixed = " ".join(f"-p {key}={json.dumps(value)}" for key, value in sweep.fixed.items())
        lines.append(f"  fixed {fixed}")
    width = len(str(len(sweep.runs)))
    lines += [f"  {run.index:>{width}}  {run.name}" for run in sweep.runs]
    lines.append(f"  -> {relative(sweep.folder, root)}/")
    return lines


# -- results --------------------------------------------------------------------------------


def _metric_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    return str(value)


def _parse_metrics(output: Mapping[str, Any]) -> dict[str, Any] | None:
    data = output.get("data") or {}
    if "application/json" in data and isinstance(data["application/json"], dict):
        return {str(k): _metric_value(v) for k, v in data["application/json"].items()}
    text = data.get("text/plain")
    if text is None:
        return None
    text = "".join(text) if isinstance(text, list) else str(text)
    # numpy 2 shows np.float64(0.5): keep the number
    text = re.sub(r"\b(?:np|numpy)\.\w+\(([^()]*)\)", r"\1", text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return {str(k): _metric_value(v) for k, v in value.items()} if isinstance(value, dict) else None


def metrics_of(executed: Path) -> dict[str, Any]:
    """The metrics an executed notebook recorded: the dict shown by its ``metrics`` cell."""
    try:
        cells = json.loads(executed.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return {}
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags") or []
        if METRICS not in tags and cell.get("id") != METRICS:
            continue
        for output in reversed(cell.get("outputs", [])):
            found = _parse_metrics(output)
            if found is not None:
                return found
    return {}


def failure_of(sweep: Sweep, run: SweepRun, outcome: Mapping[str, Any]) -> str:
    """Why a run failed, in one sentence (its failing cell when it has one)."""
    return run_failure(sweep.notebook, run.plan.output, outcome)


def write_summary(sweep: Sweep, outcomes: Sequence[Outcome]) -> Path:
    """``summary.csv`` beside the notebooks: run, parameters, status, seconds, metrics, error."""
    metric_names = list(dict.fromkeys(name for o in outcomes for name in o.metrics))
    buffer = io.StringIO()
    # RFC 4180's CRLF rows: with "\n" rows, csv leaves a value's lone CR unquoted
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["run", *sweep.keys, "status", "seconds", *metric_names, "error"])
    for outcome in sorted(outcomes, key=lambda o: o.run.index):
        values = [_csv_value(outcome.run.values[key]) for key in sweep.keys]
        metrics = [_csv_value(outcome.metrics.get(name, "")) for name in metric_names]
        seconds = f"{outcome.seconds:.2f}" if outcome.status != "not run" else ""
        name, error = _inert(outcome.run.name), _inert(outcome.error)
        writer.writerow([name, *values, outcome.status, seconds, *metrics, error])
    path = sweep.folder / "summary.csv"
    sweep.folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def _csv_value(value: Any) -> str:
    if isinstance(value, str):
        return _inert(value)
    return json.dumps(value, ensure_ascii=False)  # a number stays a number


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(text: str) -> str:
    """Text a spreadsheet shows as text, never runs as a formula (OWASP's CSV injection rule:
    a leading ``'`` before ``= + - @``, tab or carriage return)."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _table(ordered: Sequence[Outcome], metric_names: Sequence[str]) -> list[str]:
    header = ["run", "status", "seconds", *metric_names]
    rows = [
        [
            o.run.name,
            o.status,
            f"{o.seconds:.1f}" if o.status != "not run" else "",
            *(_short(o.metrics.get(name, "")) for name in metric_names),
        ]
        for o in ordered
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def summary_lines(sweep: Sweep, outcomes: Sequence[Outcome]) -> list[str]:
    """The terminal summary: a table of the runs, then the failed runs with their cells."""
    ordered = sorted(outcomes, key=lambda o: o.run.index)
    metric_names = list(dict.fromkeys(name for o in ordered for name in o.metrics))
    lines = _table(ordered, metric_names)
    failed = [o for o in ordered if o.status != "done"]
    lines += [f"{o.run.name}: {o.note}" for o in ordered if o.note and o.status == "done"]
    for outcome in failed:
        note = f" ({outcome.note})" if outcome.note else ""
        lines.append(f"{outcome.status} {outcome.run.name}{note}: {outcome.error}")
    done = len(ordered) - len(failed)
    lines.append(
        f"{done} of {len(ordered)} runs done, {len(failed)} failed; "
        f"summary in {relative(sweep.folder / 'summary.csv', sweep.root)}"
    )
    return lines


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# -- progress -------------------------------------------------------------------------------


class Progress:
    """Runs done / running / failed and the time so far: one status line redrawn on a
    terminal, plain lines (one per finished run) otherwise."""

    def __init__(
        self, total: int, echo: Echo, live: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.total = total
        self.echo = echo
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.started = time.monotonic()
        self.done = self.failed = self.running = 0
        self.drawn = False

    def status(self) -> str:
        """``3/16 done, 4 running, 1 failed, 12 s``."""
        elapsed = time.monotonic() - self.started
        return (
            f"{self.done + self.failed}/{self.total} done, {self.running} running, "
            f"{self.failed} failed, {elapsed:.0f} s"
        )

    def update(self, running: int) -> None:
        """A new count of running runs (redraws the status line on a terminal)."""
        self.running = running
        self._draw()

    def finished(self, outcome: Outcome) -> None:
        """One run ended: a line for it, and the counts move on."""
        self.running = max(0, self.running - 1)
        if outcome.status == "done":
            self.done += 1
        else:
            self.failed += 1
        self._clear()
        word = "done" if outcome.status == "done" else outcome.status
        self.echo(f"{word} {outcome.run.name} ({outcome.seconds:.1f} s) [{self.status()}]")
        self._draw()

    def _draw(self) -> None:
        if self.live:
            self.stream.write(f"\r\x1b[K{self.status()}")
            self.stream.flush()
            self.drawn = True

    def _clear(self) -> None:
        if self.live and self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False

    def close(self) -> None:
        """Remove the status line."""
        self._clear()


# -- running ---------------------------------------------------------------------------------

# A backend: runs a sweep's runs in the project's interpreter, yields each outcome as it ends.
Runner = Callable[[Sweep, Interpreter, Progress], Iterator[Outcome]]
