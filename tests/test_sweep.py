"""``scaffold run --grid``, without kernels: the grid, run names, bad input, --dry-run,
metrics and the summary. (Real runs: tests/test_sweep_local.py and test_sweep_cluster.py.)"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.errors import ScaffoldError
from scaffold.sweep import (
    Outcome,
    metrics_of,
    parse_grid,
    run_label,
    split_values,
    summary_lines,
    write_summary,
)
from tests.conftest import listing, new_project


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project without git or DVC, and a notebook with typed parameters (no kernel runs)."""
    project = new_project(
        tmp_path_factory, "sweep-plain", "Plain", "--no-git", "--no-dvc", extras=None
    )
    notebook = project / "notebooks" / "2.0-yn-train.ipynb"
    nb = json.loads((project / "notebooks" / "1.0-yn-initial-data-exploration.ipynb").read_text())
    for cell in nb["cells"]:
        if "parameters" in cell["metadata"].get("tags", []):
            cell["source"] = 'lr: float = 0.1\nseed: int = 0\nname: str = "a"\nflag: bool = False\n'
    notebook.write_text(json.dumps(nb))
    return project


def invoke(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, ["run", *args])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"unhandled: {result.exception!r}"
    return result.exit_code, result.stdout, result.stderr


LR = ",".join(map(str, range(101)))
SEEDS = ",".join(map(str, range(100)))


def test_values_split_on_commas_outside_brackets_and_quotes():
    assert split_values("1,2,3") == ["1", "2", "3"]
    assert split_values("[1,2],[3,4]") == ["[1,2]", "[3,4]"]
    assert split_values("'a,b',c") == ["'a,b'", "c"]
    assert parse_grid(["lr=0.1, 0.01", "seed=1"]) == {"lr": ["0.1", "0.01"], "seed": ["1"]}


def test_run_names_are_safe_file_names():
    assert run_label({"lr": 0.1, "seed": 1}) == "lr=0.1,seed=1"
    assert run_label({"name": "a/b", "flag": True}) == "name=a_b,flag=true"
    assert run_label({"x": ".hidden"}) == "x=.hidden"
    long = run_label({"text": "y" * 400})
    assert len(long) <= 150 and long.startswith("text=yyy")


def test_dry_run_prints_the_typed_cross_product_and_writes_nothing(
    made: Path, monkeypatch: pytest.MonkeyPatch
):
    before = listing(made)
    code, out, _ = invoke(
        made, monkeypatch, "2.0", "--grid", "lr=0.1,1e-3", "--grid", "name='x,y',z",
        "-p", "seed=7", "--dry-run",
    )  # fmt: skip
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == (
        "sweep notebooks/2.0-yn-train.ipynb: 4 runs (2 lr x 2 name) on a local pool, "
        f"{lines[0].rsplit(', ', 1)[1]}"
    )
    assert "  fixed -p seed=7" in lines
    assert [line.split()[-1] for line in lines[2:6]] == [
        "lr=0.1,name=x,y",
        "lr=0.1,name=z",
        "lr=1e-3,name=x,y",
        "lr=1e-3,name=z",
    ]
    assert lines[-1].startswith("  -> reports/sweeps/2.0-yn-train/")
    assert listing(made) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "nope=1,2"], "--grid nope: 2.0-yn-train.ipynb has no parameter 'nope'; "),
        (["--grid", "lr="], "--grid lr=: give a comma-separated list of values"),
        (["--grid", "lr=1,,2"], "give a comma-separated list of values (none is empty)"),
        (["--grid", "lr"], "--grid expects KEY=V1,V2,..."),
        (["--grid", "seed=1,x"], "--grid seed=x: seed is declared int."),
        (["--grid", "seed=abc"], "--grid seed=abc: seed is declared int."),  # not -p
        (["--grid", "lr=1", "--grid", "lr=2"], "--grid lr is given twice"),
        (["--grid", "lr=1", "-p", "lr=2"], "lr is in both -p and --grid"),
        (
            ["--grid", f"lr={LR}", "--grid", f"seed={SEEDS}"],
            "--grid makes 10,100 runs, over 10,000; pass --yes to run them all.",
        ),
        (["--grid", "lr=1", "--cluster", "localhost"], "--cluster localhost: a Dask scheduler"),
        (["--grid", "lr=1", "--cluster", "tcp://[::1"], "--cluster tcp://[::1: a Dask scheduler"),
        (["--grid", "lr=1", "--cluster", "tcp://[::1:8786"], "a Dask scheduler address looks"),
        (["-j", "2"], "-j, --cluster and --yes go with --grid"),
        (["--grid", "lr=1", "-j", "0"], "-j must be 1 or more"),
    ],
)  # fmt: skip
def test_bad_grids_are_one_sentence_and_change_nothing(
    made: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
):
    before = listing(made)
    code, out, err = invoke(made, monkeypatch, "2.0", *args)
    assert code == 1, out
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert listing(made) == before


def test_a_grid_of_many_runs_is_allowed_with_yes(made: Path, monkeypatch: pytest.MonkeyPatch):
    grid = [f"lr={LR}", f"seed={SEEDS}"]
    code, out, _ = invoke(
        made, monkeypatch, "2.0", "--grid", grid[0], "--grid", grid[1], "--yes", "--dry-run"
    )
    assert code == 0 and "10100 runs" in out.splitlines()[0]


def test_sweeping_two_notebooks_is_refused(made: Path, monkeypatch: pytest.MonkeyPatch):
    code, _, err = invoke(made, monkeypatch, "2.0", "1.0", "--grid", "lr=1")
    assert code == 1 and "--grid sweeps one notebook; name only one." in err


def executed(path: Path, *outputs: dict, tag: bool = True) -> Path:
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "id": "metrics" if not tag else "abc",
        "metadata": {"tags": ["metrics"]} if tag else {},
        "outputs": list(outputs),
        "source": "metrics",
    }
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4}))
    return path


def result(data: dict) -> dict:
    return {"output_type": "execute_result", "execution_count": 1, "data": data, "metadata": {}}


def test_metrics_come_from_the_metrics_cell(tmp_path: Path):
    shown = result({"text/plain": "{'accuracy': 0.93, 'rows': 10, 'loss': np.float64(0.25)}"})
    assert metrics_of(executed(tmp_path / "a.ipynb", shown)) == {
        "accuracy": 0.93,
        "rows": 10,
        "loss": 0.25,
    }
    as_json = result({"application/json": {"f1": 0.5}, "text/plain": "<IPython.core.display.JSON>"})
    assert metrics_of(executed(tmp_path / "b.ipynb", as_json, tag=False)) == {"f1": 0.5}
    assert metrics_of(executed(tmp_path / "c.ipynb", result({"text/plain": "42"}))) == {}
    assert metrics_of(tmp_path / "missing.ipynb") == {}


def test_the_summary_has_parameters_status_seconds_metrics_and_errors(made: Path, tmp_path: Path):
    from scaffold.project import open_project
    from scaffold.run import Request
    from scaffold.sweep import plan_sweep

    project = open_project(made)
    sweep = plan_sweep(project, Request(notebooks=["2.0"], grid=["seed=1,2"]), cwd=made)
    first, second = sweep.runs
    outcomes = [
        Outcome(second, "failed", 1.5, "cell 4 (id 'x'): ValueError: bad"),
        Outcome(first, "done", 2.25, metrics={"accuracy": 0.9}),
    ]
    path = write_summary(sweep, outcomes)
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
        assert rows == [
            ["run", "seed", "status", "seconds", "accuracy", "error"],
            ["seed=1", "1", "done", "2.25", "0.9", ""],
            ["seed=2", "2", "failed", "1.50", "", "cell 4 (id 'x'): ValueError: bad"],
        ]
        lines = summary_lines(sweep, outcomes)
        assert lines[0].split() == ["run", "status", "seconds", "accuracy"]
        assert lines[1].split() == ["seed=1", "done", "2.2", "0.9"]
        assert "failed seed=2: cell 4 (id 'x'): ValueError: bad" in lines
        assert lines[-1].startswith("1 of 2 runs done, 1 failed; summary in reports/sweeps/")
    finally:
        import shutil

        shutil.rmtree(made / "reports" / "sweeps")


def test_the_summary_neutralises_spreadsheet_formulas(made: Path):
    """OWASP's CSV rule: a cell starting with = + - @, tab or CR gets a leading quote;
    numbers (a negative learning rate) stay numbers."""
    from scaffold.project import open_project
    from scaffold.run import Request
    from scaffold.sweep import plan_sweep

    project = open_project(made)
    grid = ['name==HYPERLINK("http://x.example"),@SUM(1),+1,ok', "lr=-0.5"]
    sweep = plan_sweep(project, Request(notebooks=["2.0"], grid=grid), cwd=made)
    metrics = {"note": "=1+1", "tab": "\tx", "cr": "\rx", "score": -1.5}
    outcomes = [Outcome(run, "done", 1.0, metrics=metrics) for run in sweep.runs[:3]]
    outcomes.append(Outcome(sweep.runs[3], "failed", 1.0, "-cmd|' /C calc'!A0"))
    try:
        with write_summary(sweep, outcomes).open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["name"] for row in rows] == [
            '\'=HYPERLINK("http://x.example")',
            "'@SUM(1)",
            "'+1",
            "ok",
        ]
        assert {row["lr"] for row in rows} == {"-0.5"}
        assert rows[0]["note"] == "'=1+1" and rows[0]["tab"] == "'\tx" and rows[0]["cr"] == "'\rx"
        assert rows[0]["score"] == "-1.5"
        assert rows[3]["error"] == "'-cmd|' /C calc'!A0"
        assert all(
            not cell.startswith(("=", "+", "-", "@"))
            for row in rows
            for key, cell in row.items()
            if key not in ("lr", "score")
        )
    finally:
        import shutil

        shutil.rmtree(made / "reports" / "sweeps")


def test_a_parameter_error_is_a_scaffold_error(made: Path):
    with pytest.raises(ScaffoldError):
        parse_grid(["=1"])


def test_progress_is_a_status_line_on_a_terminal_and_plain_lines_otherwise(made: Path):
    import io

    from scaffold.project import open_project
    from scaffold.run import Request
    from scaffold.sweep import Progress, plan_sweep

    sweep = plan_sweep(open_project(made), Request(notebooks=["2.0"], grid=["seed=1,2"]), made)
    lines: list[str] = []
    plain = Progress(2, lines.append, live=False, stream=io.StringIO())
    plain.update(2)
    plain.finished(Outcome(sweep.runs[0], "done", 1.0))
    plain.finished(Outcome(sweep.runs[1], "failed", 2.0, "boom"))
    assert lines[0].startswith("done seed=1 (1.0 s) [1/2 done, 1 running, 0 failed, ")
    assert lines[1].startswith("failed seed=2 (2.0 s) [2/2 done, 0 running, 1 failed, ")
    assert plain.stream.getvalue() == ""  # type: ignore[attr-defined]

    screen = io.StringIO()
    live = Progress(2, lines.append, live=True, stream=screen)
    live.update(2)
    assert screen.getvalue().endswith("0/2 done, 2 running, 0 failed, 0 s")
    live.finished(Outcome(sweep.runs[0], "done", 1.0))
    live.close()
    assert screen.getvalue().endswith("\r\x1b[K")  # the status line is gone at the end


def test_distributed_is_an_optional_cluster_extra_of_the_project(made: Path):
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((made / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["cluster"] == ["distributed"]
    everywhere = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    assert not any(requirement.startswith(("distributed", "dask")) for requirement in everywhere)
