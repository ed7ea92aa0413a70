"""``scaffold add module NAME``: a module in the project's package and a test that passes."""

from __future__ import annotations

from scaffold.errors import ScaffoldError
from scaffold.files import Change, Write, apply, changes, project_lock, relative
from scaffold.layout import check_module_name, find_package
from scaffold.project import Project

MODULE = '''\
"""{title}: code moved out of the notebooks.

Import it in a notebook's setup cell with ``from {package} import {name}``; ``%autoreload``
picks up your edits without restarting the kernel.
"""

from __future__ import annotations


def describe() -> str:
    """Say what this module is for (replace it with the code your notebooks repeat)."""
    return "{name}: code moved out of the notebooks"
'''

TEST = '''\
"""Tests of {package}.{name}."""

from {package} import {name}


def test_{name}_describes_itself():
    assert {name}.describe().startswith("{name}:")
'''


def add_module(project: Project, name: str, *, dry_run: bool = False) -> list[Change]:
    """Create ``<package>/<name>.py`` and ``tests/test_<name>.py``; refuse existing ones."""
    check_module_name(name)
    package = find_package(project)
    if package is None:
        raise ScaffoldError(
            f"cannot find the project's Python package under {project.root} (looked for "
            "src/<name>/__init__.py and <name>/__init__.py)."
        )
    root = project.root
    module = package.folder / f"{name}.py"
    test = root / "tests" / f"test_{name}.py"
    for taken in (module, package.folder / name, test):
        if taken.exists():
            raise ScaffoldError(
                f"{relative(taken, root)} already exists; choose another name "
                "(scaffold never overwrites a file)."
            )
    values = {"title": name.replace("_", " ").capitalize(), "package": package.name, "name": name}
    writes = [Write(module, MODULE.format(**values)), Write(test, TEST.format(**values))]
    if not dry_run:
        with project_lock(root):
            apply(writes)
    return changes(writes, root)
