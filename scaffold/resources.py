"""Where the template repo (root cookiecutter.json, template/, hooks/) lives."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType

from scaffold.errors import ScaffoldError

_PACKAGE = Path(__file__).resolve().parent
_chosen: list[Path] = []  # template repos chosen with ``using_template_repo``, innermost last


def template_repo() -> Path:
    """The folder holding ``template/`` and ``hooks/``: a chosen one (``--template``), else
    the one packaged with scaffold."""
    return _chosen[-1] if _chosen else packaged_template_repo()


@contextmanager
def using_template_repo(root: Path) -> Iterator[Path]:
    """Take the template (options, rules, files, hooks) from ``root`` inside this block."""
    _chosen.append(root)
    try:
        yield root
    finally:
        _chosen.pop()


@cache
def packaged_template_repo() -> Path:
    """The template repo in the wheel or in a source checkout."""
    for candidate in (_PACKAGE / "_data", _PACKAGE.parent):
        if (candidate / "template" / "cookiecutter.json").is_file():
            return candidate
    raise ScaffoldError(
        "scaffold's template is missing from this installation; reinstall scaffold."
    )


def template_dir() -> Path:
    """The cookiecutter template folder (the one with the option list)."""
    return template_repo() / "template"


def hooks_dir() -> Path:
    """The shared pre/post-generation programs."""
    return template_repo() / "hooks"


def hook_module(name: str, folder: Path | None = None) -> ModuleType:
    """A stdlib module of a template's hooks/ folder (default: the active template's)."""
    return _load_hook((folder or hooks_dir()) / f"{name}.py")


@cache
def _load_hook(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"scaffold_hooks_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ScaffoldError(f"cannot load {path}; reinstall scaffold.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
