"""What is where in a project: its folders, its Python package, the paths its config defines,
the author.

Projects made from our template record their answers; projects laid out like
cookiecutter-data-science without them are read from their files (``src/<pkg>/`` or
``<pkg>/`` beside ``pyproject.toml``), with git's ``user.name`` for the author.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scaffold import processes
from scaffold.errors import ScaffoldError

if TYPE_CHECKING:
    from scaffold.project import Project  # project.py imports the folder names below

# The folders of a project (cookiecutter-data-science's), relative to its root.
NOTEBOOKS_DIR = "notebooks"
PARAMS_DIR = "params"  # one parameters file per production notebook (papermill -f)
REPORTS_DIR = "reports"  # executed copies of the notebooks
DATA_DIR = "data"
RAW_DATA_DIR = f"{DATA_DIR}/raw"

# Folders at a project's top level that are never its package.
NOT_PACKAGES = {
    "tests",
    "test",
    "docs",
    NOTEBOOKS_DIR,
    DATA_DIR,
    "models",
    REPORTS_DIR,
    "references",
}
MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Package:
    """The project's importable package."""

    name: str  # import name, e.g. ``churn_model``
    folder: Path  # absolute path of the package folder

    def defines(self, module: str) -> set[str]:
        """Top-level names assigned in ``<package>/<module>.py`` (empty if it is missing)."""
        path = self.folder / f"{module}.py"
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            return set()
        names: set[str] = set()
        for node in tree.body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            names.update(target.id for target in targets if isinstance(target, ast.Name))
        return names


def find_package(project: Project) -> Package | None:
    """The project's package: the recorded ``module_name``, else the only one in the tree.

    Looks in ``src/<name>/`` (our template, src layout), then ``<name>/`` at the root
    (cookiecutter-data-science v2), then ``src/`` itself as a package (its v1).
    """
    root = project.root
    recorded = project.answers.get("module_name", "")
    if recorded:
        for folder in (root / "src" / recorded, root / recorded):
            if (folder / "__init__.py").is_file():
                return Package(recorded, folder)
    for parent in (root / "src", root):
        found = sorted(
            child
            for child in parent.glob("*/__init__.py")
            if child.parent.name not in NOT_PACKAGES and child.parent.name.isidentifier()
        )
        if len(found) == 1:
            return Package(found[0].parent.name, found[0].parent)
    if (root / "src" / "__init__.py").is_file():
        return Package("src", root / "src")
    return None


def initials_of(name: str) -> str:
    """Initials the way the template derives them: ``"Ada King-Lovelace"`` -> ``"akl"``."""
    from slugify import slugify  # python-slugify: cookiecutter's own slugify filter

    return "".join(word[0] for word in slugify(name).split("-") if word)


def check_initials(initials: str) -> str:
    """Lower-case ``initials``; refuse anything but letters and digits."""
    cleaned = initials.strip().lower()
    if not re.fullmatch(r"[a-z0-9]{1,10}", cleaned):
        raise ScaffoldError(
            f"--author expects initials (1-10 letters or digits, e.g. 'jqp'), got {initials!r}."
        )
    return cleaned


def git_user_name(root: Path) -> str:
    """``git config user.name`` as seen from ``root`` (empty when unset or git is missing)."""
    try:
        result = processes.git("config", "user.name", cwd=root, check=False)
    except ScaffoldError:  # git is missing or cannot start
        return ""
    return result.text.strip() if result.ok else ""


def default_initials(project: Project) -> str:
    """The initials of whoever runs scaffold: from git's ``user.name``, else from the project's
    recorded ``author_name`` (a teammate's notebooks carry their own initials)."""
    for name in (git_user_name(project.root), project.answers.get("author_name", "")):
        initials = initials_of(name) if name.strip() else ""
        if initials:
            return initials[:10]
    raise ScaffoldError(
        "cannot tell the author's initials (no recorded author_name and no git user.name); "
        "pass --author INITIALS."
    )


def check_module_name(name: str) -> str:
    """Refuse a name that is not a lower-case Python identifier (snake_case)."""
    if keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r} is a Python keyword; choose another module name.")
    if not MODULE_NAME.fullmatch(name):
        suggestion = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_").lstrip("0123456789_")
        hint = (
            f" (e.g. {suggestion!r})"
            if suggestion and MODULE_NAME.fullmatch(suggestion) and suggestion != name
            else ""
        )
        raise ScaffoldError(
            f"{name!r} is not a valid module name; use lower-case letters, digits and "
            f"underscores, starting with a letter{hint}."
        )
    return name
