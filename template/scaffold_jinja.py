"""Jinja extension loaded by cookiecutter (``_extensions``) for template defaults."""

import sys

from jinja2 import Environment
from jinja2.ext import Extension


class RunningPythonExtension(Extension):
    """Expose ``running_python_version``: the major.minor of the interpreter rendering."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["running_python_version"] = "{}.{}".format(*sys.version_info[:2])
