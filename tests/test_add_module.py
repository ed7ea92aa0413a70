"""`scaffold add module NAME`: a module in the project's package and a test that passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import listing, run_scaffold, scaffold_in_process


def test_module_and_test_are_created_and_the_test_passes(plain_lab: Path):
    result = run_scaffold("add", "module", "clean_data", cwd=plain_lab / "notebooks")
    assert result.stdout.splitlines() == [
        "create src/lab/clean_data.py",
        "create tests/test_clean_data.py",
    ]
    module = (plain_lab / "src" / "lab" / "clean_data.py").read_text()
    assert "from lab import clean_data" in module  # how to import it from a notebook
    # the new test really runs and passes against the new module (the package is on the path)
    passed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-pno:cacheprovider", "tests/test_clean_data.py"],
        cwd=plain_lab,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(plain_lab / "src")},
    )
    assert passed.returncode == 0 and "1 passed" in passed.stdout, passed.stdout + passed.stderr
    # and both files pass the project's ruff settings
    for args in (["check"], ["format", "--check"]):
        checked = subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--no-cache", "src", "tests/test_clean_data.py"],
            cwd=plain_lab,
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dry_run_writes_nothing(plain_lab: Path):
    before = listing(plain_lab)
    result = run_scaffold("add", "module", "features2", "--dry-run", cwd=plain_lab)
    assert "create src/lab/features2.py" in result.stdout and "dry run" in result.stdout
    assert listing(plain_lab) == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Clean-Data", "not a valid module name; use lower-case letters, digits and underscores"),
        ("clean data", "(e.g. 'clean_data')"),
        ("1st", "not a valid module name"),
        ("_private", "not a valid module name"),
        ("class", "is a Python keyword"),
        ("../evil", "not a valid module name"),
        ("", "not a valid module name"),
        ("dataset", "src/lab/dataset.py already exists"),
        ("modeling", "src/lab/modeling already exists"),
        ("lab", "tests/test_lab.py already exists"),
    ],
)
def test_bad_or_taken_names_are_refused_and_nothing_is_created(
    plain_lab: Path, name: str, message: str
):
    before = listing(plain_lab)
    dataset = (plain_lab / "src" / "lab" / "dataset.py").read_text()
    result = scaffold_in_process("add", "module", name, cwd=plain_lab, check=False)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert listing(plain_lab) == before
    assert (plain_lab / "src" / "lab" / "dataset.py").read_text() == dataset


def test_a_cookiecutter_data_science_layout_gets_the_module_beside_its_package(tmp_path: Path):
    project = tmp_path / "ccds"
    (project / "mylab").mkdir(parents=True)
    (project / "notebooks").mkdir()
    (project / "mylab" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text('[project]\nname = "mylab"\nversion = "0"\n')
    result = run_scaffold("add", "module", "load", cwd=project)
    assert result.stdout.splitlines() == ["create mylab/load.py", "create tests/test_load.py"]


def test_a_project_without_a_package_is_told_so(tmp_path: Path):
    project = tmp_path / "bare"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    result = scaffold_in_process("add", "module", "load", cwd=project, check=False)
    assert result.returncode == 1 and "cannot find the project's Python package" in result.stderr
