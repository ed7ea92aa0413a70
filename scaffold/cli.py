"""The ``scaffold`` command line: parse, call one function, print, map errors to exit codes.

Nothing heavy is imported at start-up: cookiecutter and friends load inside the commands.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scaffold import __version__
from scaffold.errors import ScaffoldError

if TYPE_CHECKING:
    from scaffold.options import Option

app = typer.Typer(
    name="scaffold",
    help="Create and grow notebook data-science projects: layout, git, DVC, hooks, papermill.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's renderer costs ~0.4 s per call
)


add_app = typer.Typer(
    help="Add a component to the project you are in.", no_args_is_help=True
)
app.add_typer(add_app, name="add")


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a ScaffoldError as one line on stderr and exit 1 (no traceback)."""
    try:
        yield
    except ScaffoldError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"scaffold {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Create and grow notebook data-science projects: layout, git, DVC, hooks, papermill."""


def _ask(option: Option, default: str) -> str:
    label = f"{option.prompt} ({'/'.join(option.choices)})" if option.choices else option.prompt
    answer: str = typer.prompt(label, default=default)
    return answer


@app.command()
def new(
    project_name: Annotated[
        str | None, typer.Argument(help='Human-readable name, e.g. "Churn Model".')
    ] = None,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Do not prompt; use defaults for what is not given.")
    ] = False,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Folder to create the project in.")
    ] = Path("."),
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Answer one option (repeatable)."),
    ] = None,
    answers_file: Annotated[
        Path | None,
        typer.Option("--answers-file", metavar="FILE.yml", help="Read answers from a YAML file."),
    ] = None,
    no_git: Annotated[bool, typer.Option("--no-git", help="Do not run git init.")] = False,
    no_dvc: Annotated[bool, typer.Option("--no-dvc", help="Do not set up DVC.")] = False,
    no_pre_commit: Annotated[
        bool, typer.Option("--no-pre-commit", help="Do not install the pre-commit hooks.")
    ] = False,
) -> None:
    """Create a new project from the scaffold template."""
    from scaffold.generate import destination, new_project
    from scaffold.options import load_answers_file, parse_assignments, resolve_answers

    with user_errors():
        given = load_answers_file(answers_file) if answers_file else {}
        if project_name is not None:
            given["project_name"] = project_name
        given.update(parse_assignments(assignments or []))
        answers = resolve_answers(given, ask=None if no_input else _ask)
        skip = [
            step
            for step, off in (("git", no_git), ("dvc", no_dvc), ("pre-commit", no_pre_commit))
            if off
        ]
        typer.echo(f"Creating {_relative(destination(answers, output_dir))}")
        project = new_project(answers, output_dir, skip=skip)
    typer.echo(f"Done: {_relative(project)}")
    typer.echo(f"Next: cd {_relative(project)} && make requirements && make help")


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as error:  # a bug, not bad input: short report unless debugging
        if os.environ.get("SCAFFOLD_DEBUG"):
            raise
        typer.echo(
            f"scaffold {__version__}: unexpected error: {type(error).__name__}: {error} "
            "(rerun with SCAFFOLD_DEBUG=1 for the traceback and report it).",
            err=True,
        )
        sys.exit(3)
