"""The template's options: read the option list, take answers as data, derive and check them.

The option list is ``template/cookiecutter.json`` (names, defaults, choices, prompts); the
rules are in ``hooks/pre_gen_project.py`` so that plain cookiecutter enforces them too.
A value the user gives is never rendered as Jinja: only the template's own defaults are.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from scaffold.errors import ScaffoldError
from scaffold.files import read_text
from scaffold.resources import PACKAGED_TEMPLATE, Template


@dataclass(frozen=True)
class Option:
    """One question of the template."""

    name: str
    default: str  # raw: may be a Jinja expression over earlier answers
    choices: tuple[str, ...] = ()
    prompt: str = ""


Ask = Callable[[Option, str], str]
"""Ask the user for one option, given the rendered default; return the answer."""


def template_config(template: Template = PACKAGED_TEMPLATE) -> dict[str, Any]:
    """The parsed ``template/cookiecutter.json``."""
    return _config_in(template.template_dir)


@cache
def _config_in(folder: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((folder / "cookiecutter.json").read_text("utf-8"))
    return config


def load_options(template: Template = PACKAGED_TEMPLATE) -> list[Option]:
    """The user-facing options, in prompt order."""
    config = template_config(template)
    prompts = config.get("__prompts__", {})
    options = []
    for name, raw in config.items():
        if name.startswith("_"):
            continue
        if isinstance(raw, list):
            choices = tuple(str(choice) for choice in raw)
            options.append(Option(name, choices[0], choices, prompts.get(name, name)))
        else:
            options.append(Option(name, str(raw), (), prompts.get(name, name)))
    return options


def problems(
    answers: Mapping[str, object], template: Template = PACKAGED_TEMPLATE
) -> dict[str, str]:
    """Map each invalid option to one sentence saying what is wrong."""
    return template.rules.problems(dict(answers))


@contextmanager
def _jinja_environment(template: Template) -> Any:
    """Cookiecutter's environment with the template's extensions importable."""
    from cookiecutter.utils import create_env_with_context

    config = template_config(template)
    private = {key: value for key, value in config.items() if key.startswith("_")}
    folder = str(template.template_dir)
    sys.path.insert(0, folder)
    try:
        yield create_env_with_context({"cookiecutter": private})
    finally:
        sys.path.remove(folder)


def parse_assignments(assignments: Iterable[str], *, names: bool = False) -> dict[str, str]:
    """Turn ``KEY=VALUE`` strings into a mapping of raw values: ``new --set`` options, or
    with ``names`` ``run -p`` parameters, whose keys must be Python names."""
    values: dict[str, str] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        key = key.strip()
        if names and not (sep and key.isidentifier()):
            raise ScaffoldError(f"-p expects KEY=VALUE with a parameter name, got {assignment!r}.")
        if not sep or not key:
            raise ScaffoldError(f"--set expects KEY=VALUE, got {assignment!r}.")
        values[key] = value
    return values


def load_answers_file(path: Path) -> dict[str, str]:
    """Read answers from a YAML mapping; private keys (``_x``) such as a project's are ignored."""
    import yaml

    from scaffold.project import join_surrogates

    try:
        # BaseLoader keeps every scalar as written: `python_version: 3.10` stays "3.10".
        data = yaml.load(read_text(path), Loader=yaml.BaseLoader)
    except OSError as error:
        raise ScaffoldError(f"cannot read answers file {path}: {error.strerror}.") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ScaffoldError(f"answers file {path} is not valid YAML{where}.") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScaffoldError(f"answers file {path} must be a mapping of option: value.")
    answers: dict[str, str] = {}
    for key, value in data.items():
        if str(key).startswith("_"):
            continue
        if not isinstance(value, str):
            raise ScaffoldError(f"answers file {path}: {key!r} must be a single value.")
        answers[str(key)] = join_surrogates(value)
    return answers


def check_known(given: Mapping[str, str], template: Template = PACKAGED_TEMPLATE) -> None:
    """Refuse option names and choices the template does not have."""
    options = {option.name: option for option in load_options(template)}
    for key, value in given.items():
        option = options.get(key)
        if option is None:
            known = ", ".join(options)
            raise ScaffoldError(f"unknown option {key!r}; the options are: {known}.")
        if option.choices and value not in option.choices:
            raise ScaffoldError(
                f"{value!r} is not a choice for {key}; choose one of: {', '.join(option.choices)}."
            )


def resolve_answers(
    given: Mapping[str, str], ask: Ask | None = None, template: Template = PACKAGED_TEMPLATE
) -> dict[str, str]:
    """Complete the given answers with defaults (or by asking), derive and check them.

    Returns every option plus the derived ``__`` values, in template order. Raises
    ScaffoldError naming the first invalid answer.
    """
    check_known(given, template)
    answers: dict[str, str] = {}
    with _jinja_environment(template) as env:

        def render(raw: str) -> str:
            return str(env.from_string(raw).render(cookiecutter=answers))

        for option in load_options(template):
            if option.name in given:
                answers[option.name] = given[option.name]
                continue
            default = render(option.default)
            if ask is None or not template.rules.applies(option.name, answers):
                answers[option.name] = default
            else:
                answers[option.name] = _ask_until_valid(ask, option, default, answers, template)
        for name, raw in template_config(template).items():
            if name.startswith("__") and isinstance(raw, str):
                answers[name] = render(raw)
    _refuse_problems(answers, given, template)
    return answers


def _refuse_problems(answers: dict[str, str], given: Mapping[str, str], template: Template) -> None:
    """ScaffoldError with the first problem of the resolved answers, if any."""
    found = problems(answers, template)
    if not found:
        return
    key, sentence = next(iter(found.items()))
    if key not in given and key in {option.name for option in load_options(template)}:
        # A derived default (module_name from project_name): say how to choose it.
        sentence = (
            f"{sentence.rstrip('.')} (derived from the earlier answers); "
            f"choose one with --set {key}=VALUE."
        )
    raise ScaffoldError(sentence)


def _ask_until_valid(
    ask: Ask, option: Option, default: str, answers: dict[str, str], template: Template
) -> str:
    while True:
        value = ask(option, default)
        if option.choices and value not in option.choices:
            print(f"error: choose one of: {', '.join(option.choices)}.", file=sys.stderr)
            continue
        problem = problems({**answers, option.name: value}, template).get(option.name)
        if problem is None:
            return value
        print(f"error: {problem}", file=sys.stderr)
