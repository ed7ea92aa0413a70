"""Template repos (root cookiecutter.json, template/, hooks/) and their hooks' modules.

A ``Template`` is passed explicitly to what renders or checks answers, as copier passes its
Template object: ``PACKAGED_TEMPLATE`` (scaffold's own, the default) or one that
``--template`` checked out (scaffold.sources). Its hooks/ modules are loaded by path, once per
file (``load_hook``), and typed by the Protocols of scaffold.hooks_api.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import cast

from scaffold.errors import ScaffoldError
from scaffold.hooks_api import (
    DvcConfigFile,
    DvcRemote,
    PostGeneration,
    Processes,
    Rules,
    TemplateSource,
)

_PACKAGE = Path(__file__).resolve().parent


@cache
def packaged_template_repo() -> Path:
    """The template repo in the wheel or in a source checkout."""
    for candidate in (_PACKAGE / "_data", _PACKAGE.parent):
        if (candidate / "template" / "cookiecutter.json").is_file():
            return candidate
    raise ScaffoldError(
        "scaffold's template is missing from this installation; reinstall nbscaffold."
    )


def _sibling_imports(path: Path) -> list[str]:
    """The hooks/ files that ``path`` imports by bare name at its top (``import processes``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = [
        alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names
    ]
    return [name for name in names if name != path.stem and path.with_name(f"{name}.py").is_file()]


@cache
def load_hook(path: Path) -> ModuleType:
    """The module of a hooks/ file, loaded by path once (the one loader of hooks/ modules).

    A hook run as a program imports its neighbours by bare name (``post_gen_project`` puts
    hooks/ on ``sys.path``); loaded here, it gets the neighbours this function loaded, so the
    process holds one copy of each, and ``sys.path`` and ``sys.modules`` are left as they were.
    """
    spec = importlib.util.spec_from_file_location(f"scaffold_hooks_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ScaffoldError(f"cannot load {path}; reinstall nbscaffold.")
    siblings = {name: load_hook(path.with_name(f"{name}.py")) for name in _sibling_imports(path)}
    module = importlib.util.module_from_spec(spec)
    saved_path, saved = list(sys.path), {name: sys.modules.get(name) for name in siblings}
    sys.modules.update(siblings)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved_path
        for name, before in saved.items():
            if before is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before
    return module


@dataclass(frozen=True)
class Template:
    """A template repo: ``template/`` (the option list and the files) and ``hooks/`` (the
    stdlib programs). ``Template()`` is the one packaged with scaffold, found on first use."""

    repo: Path | None = None

    @property
    def root(self) -> Path:
        """The folder holding ``template/`` and ``hooks/``."""
        return self.repo if self.repo is not None else packaged_template_repo()

    @property
    def is_packaged(self) -> bool:
        """True for the template packaged with scaffold (its hooks run in this process)."""
        return self.root == packaged_template_repo()

    @property
    def template_dir(self) -> Path:
        """The cookiecutter template folder (the one with the option list)."""
        return self.root / "template"

    @property
    def hooks_dir(self) -> Path:
        """The shared pre/post-generation programs."""
        return self.root / "hooks"

    def hook(self, name: str) -> ModuleType:
        """The hooks/ module ``name``, untyped (the typed ones are the properties below)."""
        return load_hook(self.hooks_dir / f"{name}.py")

    @property
    def rules(self) -> Rules:
        """hooks/pre_gen_project.py: the answer rules."""
        return cast("Rules", self.hook("pre_gen_project"))

    @property
    def dvc_remote(self) -> DvcRemote[DvcConfigFile]:
        """hooks/dvc_remote.py: DVC's config files."""
        return cast("DvcRemote[DvcConfigFile]", self.hook("dvc_remote"))

    @property
    def template_source(self) -> TemplateSource:
        """hooks/template_source.py: template sources as copier records them."""
        return cast("TemplateSource", self.hook("template_source"))

    @property
    def processes(self) -> Processes:
        """hooks/processes.py: running programs from the hooks (the git-identity fallback)."""
        return cast("Processes", self.hook("processes"))

    @property
    def post_generation(self) -> PostGeneration:
        """hooks/post_gen_project.py: the steps after rendering."""
        return cast("PostGeneration", self.hook("post_gen_project"))


PACKAGED_TEMPLATE = Template()
"""The template packaged with scaffold: the default wherever a template is taken."""
