"""`scaffold graduate NOTEBOOK`: a production notebook becomes a module and a script stage.

The slow test graduates a real-looking production notebook (a pandas transform and a
scikit-learn fit writing a processed CSV and a pickled model) in a generated project with its
own environment, and proves equal outputs through `dvc repro` before and after.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.churn import OUTS, STEM, production_notebook
from tests.conftest import listing, project_venv, run_scaffold, scaffold_in_process
from tests.helpers import cell, write_notebook


@pytest.fixture
def production_lab(plain_lab: Path) -> Path:
    """``plain_lab`` with the production notebook ``STEM`` and its data."""
    production_notebook(plain_lab)
    return plain_lab


def test_dry_run_shows_the_module_stage_and_notebook_and_writes_nothing(production_lab: Path):
    before = listing(production_lab)
    dvc_before = (production_lab / "dvc.yaml").read_text()
    result = scaffold_in_process("graduate", STEM, "--dry-run", cwd=production_lab)
    assert (
        listing(production_lab) == before
        and (production_lab / "dvc.yaml").read_text() == dvc_before
    )
    out = result.stdout
    assert "+++ b/src/lab/pipelines/train_churn.py" in out
    assert "+def run(\n" in out or "+def run(*" in out
    assert "create src/lab/pipelines/__init__.py" in out
    assert "create tests/test_pipeline_train_churn.py" in out
    assert "update dvc.yaml" in out and f"update notebooks/{STEM}.ipynb" in out
    assert (
        "stage 2_1-ab-train-churn: python -m lab.pipelines.train_churn --cwd notebooks "
        f"--params params/{STEM}.yaml"
    ) in out
    assert "(dry run: nothing written)" in out


def test_the_module_lifts_imports_and_self_contained_functions(production_lab: Path):
    from scaffold.graduate import plan_graduate
    from scaffold.project import open_project

    plan = plan_graduate(open_project(production_lab), STEM, cwd=production_lab)
    module = next(w.text for w in plan.writes if w.path.name == "train_churn.py")
    compile(module, "train_churn.py", "exec")
    lines = module.splitlines()
    # session magics are gone; the imports are at the top, sorted
    assert not any(line.lstrip().startswith("%") for line in lines)
    assert lines.index("import pandas as pd") < lines.index(
        "def add_ratio(frame, numerator, denominator):"
    )
    # add_ratio needs nothing of the notebook: a module function, formatted (4 spaces)
    assert '    """Spend per visit (2-space indentation, as some notebooks have it)."""' in lines
    # standardised reads the global `clean`: it stays inside run, where `clean` is
    assert "    def standardised(column):" in lines
    assert "def run(" in module and "-> dict[str, Any]:" in module
    signature = module[module.index("def run(") : module.index("-> dict")]
    for part in ('input_file: str = "customers.csv"', "threshold: float = 10.0", "seed: int = 7"):
        assert part in signature
    assert "        threshold: spend per visit that counts as a high spender" in lines
    assert "        C: inverse regularisation strength, '''C''' in sklearn/docs" in lines
    assert "    return metrics" in lines
    assert lines[-2:] == ['if __name__ == "__main__":', "    main(run)"]
    stage = yaml.safe_load(next(w.text for w in plan.writes if w.path.name == "dvc.yaml"))
    new = stage["stages"]["2_1-ab-train-churn"]
    assert new["deps"] == ["src/lab", "data/raw"]  # the module is inside src/lab
    assert new["outs"] == list(OUTS)
    assert new["params"] == [{f"params/{STEM}.yaml": None}]


def test_refusals(production_lab: Path):
    write_notebook(production_lab / "notebooks" / "scratch.ipynb", [cell("x = 1", "a")])
    result = scaffold_in_process("graduate", "scratch", cwd=production_lab, check=False)
    assert result.returncode == 1
    assert "is not a production notebook" in result.stderr
    assert "scaffold promote scratch" in result.stderr
    notebook = production_lab / "notebooks" / f"{STEM}.ipynb"
    data = json.loads(notebook.read_text())
    data["cells"][5]["source"] = ["!ls data\n", "raw = 1\n"]
    notebook.write_text(json.dumps(data))
    before = listing(production_lab)
    shell = scaffold_in_process("graduate", STEM, cwd=production_lab, check=False)
    assert shell.returncode == 1 and "(cell 6) line 1 uses an IPython magic" in shell.stderr
    assert listing(production_lab) == before


def test_a_pipelines_package_of_the_teams_own_is_kept(production_lab: Path):
    """An empty ``pipelines/__init__.py`` (a package marker) gets graduate's helper; one with
    the team's code and no ``main()`` is refused, and nothing is written."""
    from scaffold.graduate import plan_graduate
    from scaffold.project import open_project

    marker = production_lab / "src" / "lab" / "pipelines" / "__init__.py"
    marker.parent.mkdir()
    marker.write_text("\n")
    plan = plan_graduate(open_project(production_lab), STEM, cwd=production_lab)
    assert [w.path for w in plan.writes if w.path == marker] == [marker]
    marker.write_text("STEPS = ['clean']\n")
    before = listing(production_lab)
    refused = scaffold_in_process("graduate", STEM, cwd=production_lab, check=False)
    assert refused.returncode == 1
    assert "src/lab/pipelines/__init__.py exists without main()" in refused.stderr
    assert listing(production_lab) == before and marker.read_text() == "STEPS = ['clean']\n"


def _dvc(project: Path, python: Path, *args: str) -> str:
    done = subprocess.run(
        [str(python), "-m", "dvc", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={
            **__import__("os").environ,
            "PATH": f"{python.parent}:{__import__('os').environ['PATH']}",
        },
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _files(project: Path) -> dict[str, bytes]:
    skipped = (".git/", ".dvc/", ".venv/")
    return {
        path: (project / path).read_bytes()
        for path in listing(project)
        if (project / path).is_file() and not path.startswith(skipped) and "__pycache__" not in path
    }


@pytest.mark.slow
def test_graduate_keeps_the_outputs_through_dvc_repro(tmp_path: Path):
    run_scaffold("new", "Lab", "--no-input", "--no-pre-commit", cwd=tmp_path)
    project = tmp_path / "lab"
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"python-dotenv",', '"python-dotenv",\n    "scikit-learn",')
    )
    notebook = production_notebook(project)
    python = project_venv(project)
    _dvc(project, python, "repro")
    before = {out: (project / out).read_bytes() for out in OUTS}

    result = run_scaffold("graduate", STEM, "--python", str(python), cwd=project)
    assert "same data/processed/customers.csv: identical" in result.stdout
    assert "same models/churn.pkl: identical" in result.stdout
    for out in OUTS:
        (project / out).unlink()
    shown = _dvc(project, python, "repro")
    assert "python -m lab.pipelines.train_churn" in shown
    assert {out: (project / out).read_bytes() for out in OUTS} == before
    # the module runs on its own with -p overrides, as scaffold run -p has them
    done = subprocess.run(
        [str(python), "-m", "lab.pipelines.train_churn", "--cwd", "notebooks",
         "--params", f"params/{STEM}.yaml", "-p", "threshold=5"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (project / OUTS[0]).read_bytes() != before[OUTS[0]]  # other labels
    # the notebook stays runnable: it calls the module with its parameters
    cells = json.loads(notebook.read_text())["cells"]
    assert [c["id"] for c in cells] == ["title", "graduated", "parameters", "run"]
    run_scaffold("run", STEM, "--python", str(python), cwd=project)
    # the generated test passes, and the project lints clean
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "tests/test_pipeline_train_churn.py"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout
    lint = subprocess.run(
        [str(python), "-m", "ruff", "check", "src", "tests"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout

    # a notebook whose output differs from run to run (a run id): the proof fails, all undone
    whoami = project / "notebooks" / "2.2-ab-whoami.ipynb"
    write_notebook(
        whoami,
        [
            cell("# Parameters\nname: str = 'who.txt'", "parameters", tags=["parameters"]),
            cell(
                "import uuid\n\nopen('../data/processed/' + name, 'w').write(str(uuid.uuid4()))",
                "w",
            ),
        ],
    )
    (project / "params" / "2.2-ab-whoami.yaml").write_text("name: who.txt\n")
    dvc = project / "dvc.yaml"
    dvc.write_text(
        dvc.read_text() + "  2_2-ab-whoami:\n    cmd: papermill -k python3 --cwd notebooks "
        "notebooks/2.2-ab-whoami.ipynb reports/2.2-ab-whoami.ipynb -f params/2.2-ab-whoami.yaml\n"
        "    outs:\n      - data/processed/who.txt\n"
    )
    (project / "data" / "processed" / "who.txt").write_text("left by hand\n")
    before = _files(project)
    failed = run_scaffold("graduate", "2.2", "--python", str(python), cwd=project, check=False)
    assert failed.returncode == 1
    assert "data/processed/who.txt differs at line 1: '" in failed.stderr
    assert "the graduation is undone" in failed.stderr
    after = _files(project)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert changed == set()  # the outputs too, the executed notebook included
    assert not (project / "src" / "lab" / "pipelines" / "whoami.py").exists()


def test_outputs_compare_bytes_then_numbers_within_the_tolerance(tmp_path: Path):
    from scaffold.graduate import compare

    def pair(a: str | bytes, b: str | bytes, suffix: str = ".csv") -> tuple[Path, Path]:
        one, two = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        for path, value in ((one, a), (two, b)):
            path.write_bytes(value.encode() if isinstance(value, str) else value)
        return one, two

    assert compare(*pair("x,1.5\n", "x,1.5\n")) == "identical"
    last_digits = compare(*pair("x,0.30000000000000004\n", "x,0.3\n"))
    assert last_digits.startswith("equal within rtol 1e-09")
    assert compare(*pair("x,0.31\n", "x,0.3\n")) == (
        "differs at line 1: 0.31 before, 0.3 after (beyond rtol 1e-09)"
    )
    assert compare(*pair("x,0.31\n", "x,0.3\n"), rtol=0.1).startswith("equal within rtol 0.1")
    assert compare(*pair("a,1\n", "b,1\n")).startswith("differs at line 1: 'a,1' before")
    assert compare(*pair(b"\x00\x01", b"\x00\x02", ".pkl")) == (
        "differs (binary file, bytes not identical)"
    )
    one, _ = pair("x", "x")
    assert compare(one, tmp_path / "gone.csv") == "missing after graduating"


def test_the_exports_run_the_graduated_stage_by_its_command(production_lab: Path):
    from scaffold.export import TARGETS
    from scaffold.files import apply, project_lock
    from scaffold.graduate import plan_graduate
    from scaffold.project import open_project

    plan = plan_graduate(open_project(production_lab), STEM, cwd=production_lab)
    with project_lock(production_lab):
        apply(plan.writes)  # as graduate writes them once the outputs are proven equal
    command = f"python -m lab.pipelines.train_churn --cwd notebooks --params params/{STEM}.yaml"
    for engine in ("airflow", "dagster"):
        scaffold_in_process("export", engine, cwd=production_lab)
        folder = production_lab / TARGETS[engine].folder
        written = "\n".join(p.read_text() for p in folder.rglob("*.py"))
        assert command in written, engine


def test_variables_left_to_look_at_keep_the_module_lint_clean(production_lab: Path):
    from scaffold.graduate import UNUSED_NOTE, module_text
    from scaffold.parameters import Parameter

    data = {
        "cells": [
            cell("n: int = 3", "parameters", tags=["parameters"]),
            cell("total = sum(range(n))\nsummary = {'total': total}", "a"),  # summary: unread
        ]
    }
    text, _ = module_text(
        data, "notebooks/x.ipynb", [Parameter("n", "int", 3)], module="lab.pipelines.x",
        package="lab", stage="x", command="python -m lab.pipelines.x",
    )  # fmt: skip
    assert UNUSED_NOTE in text
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "-"],
        input=text, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout
    data["cells"][1]["source"] = ["total = sum(range(n))\n", "print(total)"]
    assert UNUSED_NOTE not in module_text(
        data, "notebooks/x.ipynb", [Parameter("n", "int", 3)], module="lab.pipelines.x",
        package="lab", stage="x", command="python -m lab.pipelines.x",
    )[0]  # fmt: skip
