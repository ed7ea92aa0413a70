"""``scaffold new``: gather and check the answers, then render the project (scaffold/render.py)
with the remote's credentials written before it is moved into place."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scaffold.credentials import credential_options, store_credentials
from scaffold.errors import ScaffoldError
from scaffold.render import STEPS as STEPS
from scaffold.render import destination
from scaffold.render import new_project as new_project
from scaffold.resources import PACKAGED_TEMPLATE, Template
from scaffold.sources import Source

if TYPE_CHECKING:
    from scaffold.credentials import Credentials
    from scaffold.options import Ask


@dataclass(frozen=True)
class NewPlan:
    """A checked ``scaffold new``: the answers, where the project goes, what is skipped."""

    answers: dict[str, str]
    output_dir: Path
    target: Path  # the project's folder (it does not exist yet)
    skip: tuple[str, ...]  # post-generation steps not to run (see STEPS)
    secrets: dict[str, str]  # the remote's .dvc/config.local options; never in the template
    template: Template = PACKAGED_TEMPLATE


def plan_new(
    output_dir: Path,
    *,
    project_name: str | None = None,
    answers_file: Path | None = None,
    assignments: Collection[str] = (),
    ask: Ask | None = None,
    skip: Collection[str] = (),
    credentials: Credentials | None = None,
    template: Template = PACKAGED_TEMPLATE,
) -> NewPlan:
    """Gather the answers (``answers_file``, then ``project_name``, then the KEY=VALUE
    ``assignments``; ``ask`` for the rest, else their defaults) and check them, the remote's
    ``credentials`` and the destination, by ``template``'s rules (``sources.chosen_template``
    gives a chosen one)."""
    from scaffold.options import load_answers_file, parse_assignments, resolve_answers

    given = load_answers_file(answers_file) if answers_file else {}
    if project_name is not None:
        given["project_name"] = project_name
    given.update(parse_assignments(assignments))
    answers = resolve_answers(given, ask=ask, template=template)
    secrets = credential_options(answers["dvc_remote"], credentials) if credentials else {}
    if secrets and ("git" in skip or "dvc" in skip):
        raise ScaffoldError(
            "remote credentials need DVC set up; drop --no-git/--no-dvc or the credentials."
        )
    target = destination(answers, output_dir)
    return NewPlan(answers, output_dir, target, tuple(skip), secrets, template)


def next_steps(answers: dict[str, str]) -> str:
    """The commands that set a new project's environment up, in the order its Makefile
    expects them: pip's and virtualenv's ``requirements`` install into the active Python, so
    ``.venv`` is activated first (conda's environment too)."""
    manager = answers.get("environment_manager", "")
    if manager == "none":
        version = answers.get("python_version", "")
        return f"make an environment with Python {version} your way, activate it, make requirements"
    activate = {
        "pip": ["source .venv/bin/activate"],
        "virtualenv": ["source .venv/bin/activate"],
        "conda": [f"conda activate {answers.get('repo_name', '')}"],
    }.get(manager, [])
    return ", ".join(["make create_environment", *activate, "make requirements"])


def create(plan: NewPlan, source: Source | None = None) -> Path:
    """Create the planned project (see ``new_project``), its remote's credentials written
    before it is moved into place; return its folder."""
    secrets, template = plan.secrets, plan.template
    return new_project(
        plan.answers,
        plan.output_dir,
        skip=plan.skip,
        finish=(lambda folder: store_credentials(folder, secrets, template)) if secrets else None,
        source=source,
        template=template,
    )
