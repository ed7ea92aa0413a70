"""`scaffold run`: papermill in the project's environment, parameters, failures, dvc repro.

The slow tests share ONE generated project (git + DVC) with its own .venv, built once for the
module; scaffold itself runs from the test interpreter, as an isolated tool would, so the
kernel must come from the project's .venv.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaffold.errors import ScaffoldError
from scaffold.interpreters import candidate_environments, check_interpreter, find_interpreter
from scaffold.project import Project
from tests.conftest import (
    copy_project,
    listing,
    new_project,
    run_scaffold,
    scaffold_in_process,
)
from tests.helpers import alive, cell, start_and_signal, wait_for

# -- the shared project ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``scaffold new "Run Lab"`` (git and DVC, no hooks) with its .venv, shared by the module."""
    yield new_project(tmp_path_factory, "run-lab", "Run Lab")


def add(project: Path, description: str, *cells: tuple[str, str], production: bool = False) -> str:
    """Add a notebook with ``scaffold add notebook``, append code cells ``(id, source)``."""
    flags = ["--production"] if production else []
    out = run_scaffold("add", "notebook", description, *flags, cwd=project).stdout
    stem = out.splitlines()[0].removeprefix("create notebooks/").removesuffix(".ipynb")
    path = project / "notebooks" / f"{stem}.ipynb"
    nb = json.loads(path.read_text())
    for cell_id, source in cells:
        nb["cells"].append(cell(source, cell_id))
    path.write_text(json.dumps(nb, indent=1) + "\n")
    return stem


def report(project: Path, stem: str) -> dict[str, dict]:
    """The executed copy's cells by id (the injected cell under "injected")."""
    nb = json.loads((project / "reports" / f"{stem}.ipynb").read_text())
    cells = {}
    for each in nb["cells"]:
        tags = each.get("metadata", {}).get("tags", [])
        cells["injected" if "injected-parameters" in tags else each["id"]] = each
    return cells


def printed(cell: dict) -> str:
    return "".join(
        "".join(output.get("text", "")) for output in cell.get("outputs", []) if "text" in output
    )


SHOW = ("show", 'print(f"seed={seed} input_file={input_file}")')


@pytest.mark.slow
def test_parameters_come_from_the_file_and_p_overrides_win(run_lab: Path):
    stem = add(run_lab, "params check", SHOW, production=True)
    params_file = run_lab / "params" / f"{stem}.yaml"
    params_file.write_text(params_file.read_text().replace("seed: 42", "seed: 7"))
    source = (run_lab / "notebooks" / f"{stem}.ipynb").read_bytes()

    result = run_scaffold("run", stem, "-p", "input_file=other.csv", "--progress", cwd=run_lab)
    assert "python .venv/bin/python (the project's .venv)" in result.stdout
    assert f"run notebooks/{stem}.ipynb -> reports/{stem}.ipynb" in result.stdout
    assert f"done reports/{stem}.ipynb" in result.stdout
    assert "Executing" in result.stderr  # papermill's progress bar
    assert "unknown parameter" not in result.stderr.lower()
    assert "without encryption" not in result.stderr  # ipykernel's warning at every start
    cells = report(run_lab, stem)
    assert 'input_file = "other.csv"' in "".join(cells["injected"]["source"])
    assert "seed = 7" in "".join(cells["injected"]["source"])
    assert printed(cells["show"]) == "seed=7 input_file=other.csv\n"

    run_scaffold("run", f"notebooks/{stem}.ipynb", "-p", "seed=9", "--no-progress", cwd=run_lab)
    assert printed(report(run_lab, stem)["show"]) == "seed=9 input_file=dataset.csv\n"
    assert (run_lab / "notebooks" / f"{stem}.ipynb").read_bytes() == source  # never overwritten


@pytest.mark.slow
def test_the_kernel_is_the_projects_environment(run_lab: Path):
    stem = add(run_lab, "which python", ("where", "import sys\n\nprint(sys.prefix)"))
    # scaffold runs from the test interpreter (like a pipx install); the kernel must not
    run_scaffold("run", f"{stem}.ipynb", cwd=run_lab / "notebooks")
    prefix = printed(report(run_lab, stem)["where"]).strip()
    assert Path(prefix).resolve() == (run_lab / ".venv").resolve()
    # the setup cell imported the project's own package in that kernel
    assert report(run_lab, stem)["setup"]["outputs"] == []


@pytest.mark.slow
def test_papermill_shows_the_typed_parameters(run_lab: Path):
    stem = add(run_lab, "typed")
    result = subprocess.run(
        [
            str(run_lab / ".venv" / "bin" / "papermill"),
            "--help-notebook",
            f"notebooks/{stem}.ipynb",
        ],
        cwd=run_lab,
        capture_output=True,
        text=True,
        check=True,
    )
    assert 'input_file: str (default "dataset.csv")' in result.stdout
    assert "seed: int (default 42)" in result.stdout
    assert "a file under data/raw/" in result.stdout


@pytest.mark.slow
def test_a_failing_cell_names_the_notebook_the_cell_and_the_error(run_lab: Path):
    stem = add(
        run_lab,
        "boom",
        # what ipykernel itself logs to its process's stderr (a ZMQ traceback as it stops, at
        # times) is not the user's error: it stays out of scaffold's output
        (
            "before",
            'import sys\nsys.__stderr__.write("Traceback (kernel noise)\\n")\n'
            'sys.__stderr__.flush()\nprint("before the failure")',
        ),
        ("explode", "ratio = 1 / (seed - seed)"),
        ("after", 'print("never")'),
    )
    result = run_scaffold("run", stem, cwd=run_lab, check=False)
    assert result.returncode == 1
    assert (
        f"error: notebooks/{stem}.ipynb failed in cell 8 (id 'explode', "
        "`ratio = 1 / (seed - seed)`): ZeroDivisionError: division by zero. "
        f"The partial output is in reports/{stem}.ipynb." in result.stderr
    )
    assert "Traceback" not in result.stderr
    cells = report(run_lab, stem)  # kept for inspection
    assert printed(cells["before"]) == "before the failure\n"
    assert cells["explode"]["outputs"][0]["ename"] == "ZeroDivisionError"
    assert cells["after"]["outputs"] == []


@pytest.mark.slow
def test_run_all_is_dvc_repro_which_skips_unchanged_stages(run_lab: Path):
    stem = add(run_lab, "pipeline step", SHOW, production=True)
    stage = stem.replace(".", "_")
    first = run_scaffold("run", "--all", cwd=run_lab)
    assert "run dvc repro" in first.stdout
    assert f"Running stage '{stage}'" in first.stdout
    assert printed(report(run_lab, stem)["show"]) == "seed=42 input_file=dataset.csv\n"

    again = run_scaffold("run", "--all", cwd=run_lab)
    assert f"Stage '{stage}' didn't change, skipping" in again.stdout
    assert "Running stage" not in again.stdout

    params_file = run_lab / "params" / f"{stem}.yaml"
    params_file.write_text(params_file.read_text().replace("seed: 42", "seed: 5"))
    changed = run_scaffold("run", "--all", cwd=run_lab)
    assert [line for line in changed.stdout.splitlines() if line.startswith("Running stage")] == [
        f"Running stage '{stage}':"
    ]
    assert printed(report(run_lab, stem)["show"]) == "seed=5 input_file=dataset.csv\n"

    # a failing stage: non-zero, named; then put the pipeline back for the other tests
    dvc_yaml = (run_lab / "dvc.yaml").read_text()
    broken = add(
        run_lab, "broken step", ("explode", "raise ValueError('bad data')"), production=True
    )
    try:
        failed = run_scaffold("run", "--all", cwd=run_lab, check=False)
        assert failed.returncode == 1
        assert f"notebooks/{broken}.ipynb failed in cell 7 (id 'explode'" in failed.stderr
        assert "ValueError: bad data" in failed.stderr
    finally:
        (run_lab / "dvc.yaml").write_text(dvc_yaml)
        for path in (f"notebooks/{broken}.ipynb", f"params/{broken}.yaml"):
            (run_lab / path).unlink()


@pytest.mark.slow
def test_the_projects_own_tests_pass_with_what_was_added(run_lab: Path):
    add(run_lab, "checked by the project", production=True)
    run_scaffold("add", "module", "cleaning", cwd=run_lab)
    result = subprocess.run(
        [str(run_lab / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-pno:cacheprovider"],
        cwd=run_lab,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_cleaning_describes_itself" not in result.stdout  # -q: only failures named


# -- checks before anything runs (no kernel needed) -------------------------------------------


@pytest.fixture(scope="module")
def made_plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project without git, DVC or hooks, made once; ``plain`` copies it."""
    return new_project(tmp_path_factory, "plain", "Plain", "--no-git", "--no-dvc", extras=None)


@pytest.fixture
def plain(made_plain: Path, tmp_path: Path) -> Path:
    return copy_project(made_plain, tmp_path / "plain")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "name the notebooks to run"),
        (["--all", "-p", "seed=1"], "--all runs the pipeline with its parameters files"),
        (["1.0", "--all"], "--all runs the pipeline"),
        (["9.9"], "no notebook '9.9' in notebooks/; the notebooks are: 1.0-yn-"),
        (["1.0", "-p", "seed"], "-p expects KEY=VALUE"),
        (["1.0", "-p", "nope=1"], "has no parameter 'nope'; its parameters: input_file, preview"),
        (["1.0", "-p", "preview_rows=many"], "preview_rows is declared int"),
        (["reports/x.ipynb"], "is an executed copy"),
        (["1.0", "--python", "/nonexistent/python"], "--python /nonexistent/python: no such"),
    ],
)
def test_bad_run_requests_are_one_sentence(plain: Path, args: list[str], message: str):
    (plain / "reports" / "x.ipynb").write_text("{}")
    before = listing(plain)
    result = scaffold_in_process("run", *args, cwd=plain, check=False)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert listing(plain) == before


# -- which interpreter (fake environments) ----------------------------------------------------


def fake_python(prefix: Path, prints: str = "") -> Path:
    """An executable ``<prefix>/bin/python`` that prints ``prints`` (the missing modules)."""
    python = prefix / "bin" / "python"
    python.parent.mkdir(parents=True, exist_ok=True)
    python.write_text(f"#!/bin/sh\necho '{prints}'\n")
    python.chmod(0o755)
    return python


@pytest.fixture
def envs(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "proj"
    root.mkdir()
    return {
        "root": root,
        "venv": fake_python(root / ".venv").parent.parent,
        "active": fake_python(tmp_path / "active-venv").parent.parent,
        "conda": fake_python(tmp_path / "conda" / "envs" / "analysis").parent.parent,
        "named": fake_python(tmp_path / "conda" / "envs" / "proj").parent.parent,
        "path": fake_python(tmp_path / "usr").parent,  # a folder on PATH
    }


def found(envs: dict[str, Path], **environ: str) -> tuple[Path, str]:
    project = Project(envs["root"], {})
    interpreter = find_interpreter(project, environ={"PATH": str(envs["path"]), **environ})
    return interpreter.python.parent.parent, interpreter.origin


def test_the_projects_venv_wins_over_an_activated_one(envs: dict[str, Path]):
    # e.g. scaffold's own venv activated: the project's .venv (where it is installed) runs it
    prefix, origin = found(envs, VIRTUAL_ENV=str(envs["active"]), CONDA_PREFIX=str(envs["conda"]))
    assert prefix == envs["venv"] and origin == "the project's .venv"
    shutil.rmtree(envs["venv"])
    prefix, origin = found(envs, VIRTUAL_ENV=str(envs["active"]), CONDA_PREFIX=str(envs["conda"]))
    assert prefix == envs["active"] and "activated virtualenv" in origin


def test_an_activated_conda_env_when_the_project_has_none(envs: dict[str, Path]):
    prefix, _ = found(envs, CONDA_PREFIX=str(envs["conda"]), CONDA_DEFAULT_ENV="analysis")
    assert prefix == envs["venv"]
    shutil.rmtree(envs["venv"])
    prefix, origin = found(envs, CONDA_PREFIX=str(envs["conda"]), CONDA_DEFAULT_ENV="analysis")
    assert prefix == envs["conda"] and "conda env 'analysis'" in origin


def test_the_projects_venv_when_nothing_is_activated(envs: dict[str, Path]):
    assert found(envs) == (envs["venv"], "the project's .venv")
    # conda's base env, often activated by default, does not hide the project's .venv
    base = envs["root"].parent / "conda"
    (base / "condabin").mkdir(parents=True)
    fake_python(base)
    prefix, _ = found(envs, CONDA_PREFIX=str(base), CONDA_DEFAULT_ENV="base")
    assert prefix == envs["venv"]


def test_a_conda_env_named_after_the_project(envs: dict[str, Path]):
    shutil.rmtree(envs["venv"])
    conda_exe = envs["root"].parent / "conda" / "bin" / "conda"
    prefix, origin = found(envs, CONDA_EXE=str(conda_exe))
    assert prefix == envs["named"] and origin == "the conda env 'proj'"


def test_python_on_path_is_the_last_resort_and_must_have_papermill(envs: dict[str, Path]):
    shutil.rmtree(envs["venv"])
    project = Project(envs["root"], {})
    interpreter = find_interpreter(project, environ={"PATH": str(envs["path"])})
    assert interpreter.python == envs["path"] / "python"
    assert interpreter.origin.endswith("on PATH (no project environment found)")
    fake_python(envs["path"].parent, prints="papermill ipykernel")  # lacks both
    with pytest.raises(ScaffoldError, match=r"no project environment found .* lacks papermill"):
        check_interpreter(interpreter, project)
    with pytest.raises(ScaffoldError, match="no Python environment found for this project"):
        find_interpreter(project, environ={"PATH": str(envs["root"] / "nothing")})


def test_an_environment_without_papermill_is_named_with_the_fix(envs: dict[str, Path]):
    fake_python(envs["venv"], prints="papermill")
    project = Project(envs["root"], {})
    interpreter = find_interpreter(project, environ={"PATH": ""})
    with pytest.raises(ScaffoldError, match=r"\.venv/bin/python \(the project's \.venv\) lacks"):
        check_interpreter(interpreter, project)


def test_the_order_is_documented(envs: dict[str, Path]):
    origins = [
        origin
        for origin, _ in candidate_environments(
            Project(envs["root"], {}),
            {
                "VIRTUAL_ENV": "/v",
                "CONDA_PREFIX": "/c/envs/x",
                "CONDA_DEFAULT_ENV": "x",
                "CONDA_EXE": "/c/bin/conda",
            },
        )
    ]
    assert origins == [
        "the project's .venv",
        "the conda env 'proj'",
        "the activated virtualenv ($VIRTUAL_ENV)",
        "the activated conda env 'x'",
    ]
    docs = (Path(__file__).parents[1] / "docs" / "notebooks.md").read_text()
    for phrase in ("VIRTUAL_ENV", "CONDA_PREFIX", ".venv", "--python", "PATH"):
        assert phrase in docs


# -- interrupted and killed runs (issue 9) ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "group"),
    [(15, False), (1, False), (2, True)],
    ids=["SIGTERM", "SIGHUP", "ctrl-c-to-the-group"],
)
def test_a_signal_during_run_ends_driver_and_kernel_quietly(
    run_lab: Path, signum: int, group: bool
):
    stem = add(run_lab, f"sleepy {signum}", ("nap", "import time\ntime.sleep(60)"))
    # Once the kernel itself runs the sleeping cell (the interpreter probe before it also
    # names ipykernel), scaffold alone, or its whole group as Ctrl-C in a terminal, is signalled.
    result, children = start_and_signal(
        [sys.executable, "-m", "scaffold", "run", stem],
        run_lab,
        signum,
        "ipykernel_launcher",
        group=group,
        settle=2.0,
    )
    err = result.stderr
    assert result.returncode == 128 + signum, err
    assert err.strip().splitlines()[-1].startswith("Interrupted")
    assert "Traceback" not in err and "asyncio" not in err
    assert wait_for(lambda: not any(alive(pid) for pid in children), 15)
    written = run_lab / "reports" / f"{stem}.ipynb"
    before = written.stat().st_mtime_ns if written.exists() else None
    time.sleep(2.0)
    assert (written.stat().st_mtime_ns if written.exists() else None) == before


@pytest.mark.slow
def test_a_killed_kernel_names_the_cell_and_the_partial_output(run_lab: Path):
    stem = add(
        run_lab,
        "kernel killer",
        ("fine", "print('before')"),
        (
            "kill",
            "import os, signal, sys\nsys.__stderr__.write('last words\\n')\n"
            "sys.__stderr__.flush()\nos.kill(os.getpid(), signal.SIGKILL)",
        ),
        ("never", "print('after')"),
    )
    result = run_scaffold("run", stem, cwd=run_lab, check=False)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: notebooks/{stem}.ipynb stopped in cell ")
    assert "id 'kill'" in last and "the kernel died" in last
    assert "Its last line on stderr: `last words`." in last  # what it said, once, in the error
    assert result.stderr.count("last words") == 1
    assert last.endswith(f"The partial output is in reports/{stem}.ipynb.")
    assert "Traceback" not in result.stderr
    assert "before" in printed(report(run_lab, stem)["fine"])
