"""Where the template repo (root cookiecutter.json, template/, hooks/) lives."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from scaffold.errors import ScaffoldError

_PACKAGE = Path(__file__).resolve().parent


@cache
def template_repo() -> Path:
    """The folder holding ``template/`` and ``hooks/``: in the wheel or in a source checkout."""
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
