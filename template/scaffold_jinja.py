"""Jinja extensions of the template: cookiecutter loads them through ``_extensions`` in
cookiecutter.json, copier through ``_jinja_extensions`` in copier.yml."""

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from jinja2 import Environment
from jinja2.ext import Extension


class RunningPythonExtension(Extension):
    """Expose ``running_python_version``: the major.minor of the interpreter rendering."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["running_python_version"] = "{}.{}".format(*sys.version_info[:2])


@cache
def _rules() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("scaffold_template_rules", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scaffold_problem(answers: dict, name: str, value: object) -> str:
    """The rule sentence for answer ``name`` = ``value`` given the earlier answers, or ''."""
    found = _rules().problems({**dict(answers), name: value})
    return str(found.get(name, ""))


class AnswerRulesExtension(Extension):
    """Expose ``scaffold_problem`` (hooks/pre_gen_project.py) for copier's question validators."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["scaffold_problem"] = scaffold_problem
