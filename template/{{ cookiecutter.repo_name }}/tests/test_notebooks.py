"""Every notebook is valid, and every papermill parameters file matches its notebook."""

import ast
from pathlib import Path

import nbformat
import pytest
import yaml

from {{ cookiecutter.module_name }}.config import NOTEBOOKS_DIR, PARAMS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
PARAMETER_FILES = sorted(PARAMS_DIR.glob("*.yaml"))


def parameter_names(notebook: Path) -> set[str]:
    """Names assigned in the cell tagged ``parameters``."""
    nb = nbformat.read(notebook, as_version=4)
    names: set[str] = set()
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_valid_and_parametrised(notebook):
    nbformat.validate(nbformat.read(notebook, as_version=4))
    assert parameter_names(notebook), f"{notebook.name} has no cell tagged 'parameters'"


@pytest.mark.parametrize("params", PARAMETER_FILES, ids=lambda path: path.name)
def test_parameters_file_matches_its_notebook(params):
    notebook = NOTEBOOKS_DIR / f"{params.stem}.ipynb"
    assert notebook.is_file(), f"{params.name} has no notebook {notebook.name}"
    unknown = set(yaml.safe_load(params.read_text()) or {}) - parameter_names(notebook)
    assert not unknown, f"{params.name} sets parameters the notebook lacks: {sorted(unknown)}"
