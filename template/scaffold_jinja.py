"""Jinja extensions of the template: cookiecutter loads them through ``_extensions`` in
cookiecutter.json, copier through ``_jinja_extensions`` in copier.yml."""

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from jinja2 import Environment
from jinja2.ext import Extension

TEMPLATE_DIR = str(Path(__file__).resolve().parent)


@cache
def _hook(name: str) -> ModuleType:
    # scaffold.resources.load_hook's twin: copier and plain cookiecutter import this file in
    # environments without scaffold, so it cannot import scaffold.
    path = Path(TEMPLATE_DIR).parent / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"scaffold_template_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer_json(value: object) -> str:
    """``value`` as the answers file writes it (hooks/template_source.py): a JSON scalar that
    YAML reads back unchanged, whatever Unicode it holds."""
    return str(_hook("template_source").answer_json(value))


class RunningPythonExtension(Extension):
    """Expose ``running_python_version``: the major.minor of the interpreter rendering;
    ``scaffold_template_dir``: this template folder (the hooks find the repo from it under
    every cookiecutter-based tool, cruft included, which do not all set ``_repo_dir``);
    and the ``answer_json`` filter."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["running_python_version"] = "{}.{}".format(*sys.version_info[:2])
        environment.globals["scaffold_template_dir"] = TEMPLATE_DIR
        environment.filters["answer_json"] = answer_json


def scaffold_problem(answers: dict, name: str, value: object) -> str:
    """The rule sentence for answer ``name`` = ``value`` given the earlier answers, or ''."""
    found = _hook("pre_gen_project").problems({**dict(answers), name: value})
    return str(found.get(name, ""))


class AnswerRulesExtension(Extension):
    """Expose ``scaffold_problem`` (hooks/pre_gen_project.py) for copier's question validators."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["scaffold_problem"] = scaffold_problem
