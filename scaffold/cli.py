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
    from scaffold.update import Update

app = typer.Typer(
    name="scaffold",
    help="Create and grow notebook data-science projects: layout, git, DVC, hooks, papermill.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's renderer costs ~0.4 s per call
)


add_app = typer.Typer(help="Add a component to the project you are in.", no_args_is_help=True)
app.add_typer(add_app, name="add")


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a ScaffoldError, or an OS error (full disk, read-only folder, missing program, a
    file that is not UTF-8), as one line on stderr and exit 1 (no traceback)."""
    from scaffold.errors import describe_decode_error, describe_os_error

    try:
        yield
    except ScaffoldError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except OSError as error:
        typer.echo(f"error: {describe_os_error(error)}", err=True)
        raise typer.Exit(1) from None
    except UnicodeDecodeError as error:
        typer.echo(f"error: {describe_decode_error(error)}", err=True)
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
    remote_access_key_id: Annotated[
        str,
        typer.Option(
            "--remote-access-key-id",
            metavar="ID",
            help="S3 access key id for the DVC remote (written only to .dvc/config.local).",
        ),
    ] = "",
    remote_secret_access_key: Annotated[
        str,
        typer.Option(
            "--remote-secret-access-key",
            metavar="KEY",
            help="S3 secret access key (written only to .dvc/config.local).",
        ),
    ] = "",
    remote_credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--remote-credentials-file",
            metavar="FILE",
            help="s3/gcs credentials file or ssh private key (path kept in .dvc/config.local).",
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            metavar="SRC",
            envvar="SCAFFOLD_TEMPLATE",
            help="Another template source, e.g. your team's fork (git URL or local git repo), "
            "at its newest version tag; recorded so that `scaffold update` follows it.",
        ),
    ] = None,
    vcs_ref: Annotated[
        str | None,
        typer.Option(
            "--vcs-ref", metavar="REF", help="Tag, branch or commit of --template to render."
        ),
    ] = None,
) -> None:
    """Create a new project from the scaffold template."""
    from scaffold.generate import create, plan_new
    from scaffold.remotes import Credentials
    from scaffold.sources import chosen_template

    with user_errors(), chosen_template(template, vcs_ref) as (chosen, source):
        if template is not None:
            typer.echo(f"Template {source.src_path} at {source.commit}")
        plan = plan_new(
            output_dir,
            project_name=project_name,
            answers_file=answers_file,
            assignments=assignments or [],
            ask=None if no_input else _ask,
            skip=[
                step
                for step, off in (("git", no_git), ("dvc", no_dvc), ("pre-commit", no_pre_commit))
                if off
            ],
            credentials=Credentials(
                remote_access_key_id, remote_secret_access_key, remote_credentials_file
            ),
            template=chosen,
        )
        typer.echo(f"Creating {_relative(plan.target)}")
        project = create(plan, source)
    if plan.secrets:
        typer.echo(
            f"  {'dvc secrets':<12} {', '.join(plan.secrets)} in .dvc/config.local (git-ignored)"
        )
    typer.echo(f"Done: {_relative(project)}")
    typer.echo(f"Next: cd {_relative(project)}, then make create_environment, make requirements")


# -- notebooks: scaffold add notebook, scaffold add module, scaffold run ----------------------


def _report(changes: list[object], dry_run: bool) -> None:
    for change in changes:
        typer.echo(str(change))
    if dry_run:
        typer.echo("(dry run: nothing written)")


@add_app.command("notebook")
def add_notebook(
    description: Annotated[
        str,
        typer.Argument(
            metavar="DESCRIPTION", help='What the notebook is about, in words, e.g. "clean data".'
        ),
    ],
    phase: Annotated[
        int | None,
        typer.Option(
            "--phase", metavar="N", help="Phase number (default: the newest notebook's, else 1)."
        ),
    ] = None,
    author: Annotated[
        str | None,
        typer.Option(
            "--author",
            metavar="INITIALS",
            help="Your initials (default: from git user.name, else the recorded author_name).",
        ),
    ] = None,
    production: Annotated[
        bool,
        typer.Option(
            "--production",
            help="Also register it for papermill runs: params/<name>.yaml and a dvc.yaml stage.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be created; write nothing.")
    ] = False,
) -> None:
    """Create the next numbered notebook in notebooks/ (<phase>.<seq>-<initials>-<description>)."""
    from scaffold.notebooks import add_notebook as add
    from scaffold.project import open_project

    with user_errors():
        added = add(
            open_project(),
            description,
            phase=phase,
            author=author,
            production=production,
            dry_run=dry_run,
        )
    _report(list(added.changes), dry_run)


@add_app.command("module")
def add_module(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Module name (snake_case), e.g. clean_data.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be created; write nothing.")
    ] = False,
) -> None:
    """Create a module in the project's package, and its test."""
    from scaffold.modules import add_module as add
    from scaffold.project import open_project

    with user_errors():
        changes = add(open_project(), name, dry_run=dry_run)
    _report(list(changes), dry_run)


@app.command()
def run(
    notebooks: Annotated[
        list[str] | None,
        typer.Argument(metavar="NOTEBOOK", help="Notebook stem, file, path or number (e.g. 1.2)."),
    ] = None,
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            metavar="KEY=VALUE",
            help="Override a parameter (repeatable); wins over params/<notebook>.yaml.",
        ),
    ] = None,
    run_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Run every production notebook in pipeline order (dvc repro in a DVC repo).",
        ),
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option(
            "--python",
            metavar="PATH",
            help="The project's Python (default: the project's .venv, then an activated env, ...).",
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Show papermill's progress bar, or a sweep's status line (default: when "
            "stderr is a terminal).",
        ),
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            "--grid",
            metavar="KEY=V1,V2,...",
            help="Sweep: run the notebook once per value (repeat for a cross product), into "
            "reports/sweeps/<notebook>/<sweep-id>/.",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", metavar="N", help="Sweep: runs at once (default: the number of cores)."
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="ADDRESS",
            help="Sweep: submit the runs to this Dask scheduler (tcp://HOST:PORT).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would run, and stop.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Sweep: allow a grid of more than 10,000 runs.")
    ] = False,
) -> None:
    """Execute notebooks with papermill in the project's environment, into reports/."""
    from scaffold import run as runner
    from scaffold.project import open_project

    with user_errors():
        request = runner.Request(
            notebooks=notebooks or [],
            assignments=assignments or [],
            run_all=run_all,
            python=python,
            progress=sys.stderr.isatty() if progress is None else progress,
            grid=grid or [],
            jobs=jobs,
            cluster=cluster,
            dry_run=dry_run,
            yes=yes,
        )
        code = runner.run(open_project(), request, typer.echo)
    if code:
        raise typer.Exit(code)


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


# --- scaffold add remote ----------------------------------------------------------------


@add_app.command("remote")
def add_remote(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Remote name, e.g. backup.")],
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL",
            help="s3://bucket/path, gs://bucket/path, azure://container/path, "
            "ssh://[user@]host/path, or a folder (relative to the current folder).",
        ),
    ],
    default: Annotated[
        bool, typer.Option("--default", "-d", help="Make it the project's default remote.")
    ] = False,
    endpoint_url: Annotated[
        str,
        typer.Option(
            "--endpoint-url",
            metavar="URL",
            help="S3-compatible store (MinIO, Ceph, R2): its http(s) address (committed).",
        ),
    ] = "",
    profile: Annotated[
        str,
        typer.Option(
            "--profile", metavar="NAME", help="AWS profile for s3 (in .dvc/config.local)."
        ),
    ] = "",
    access_key_id: Annotated[
        str,
        typer.Option(
            "--access-key-id", metavar="ID", help="S3 access key id (in .dvc/config.local)."
        ),
    ] = "",
    secret_access_key: Annotated[
        str,
        typer.Option(
            "--secret-access-key",
            metavar="KEY",
            help="S3 secret access key (in .dvc/config.local).",
        ),
    ] = "",
    credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--credentials-file",
            metavar="FILE",
            help="s3/gcs credentials file or ssh private key (path in .dvc/config.local).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Replace a remote of the same name.")
    ] = False,
) -> None:
    """Add a DVC remote to the project you are in; secrets go only to .dvc/config.local."""
    from scaffold.remotes import Credentials
    from scaffold.remotes import add_remote as add

    with user_errors():
        added = add(
            name,
            url,
            default=default,
            endpoint_url=endpoint_url,
            profile=profile,
            credentials=Credentials(access_key_id, secret_access_key, credentials_file),
            force=force,
        )
    typer.echo(
        f"  {'dvc remote':<12} {added.name} -> {added.location}"
        + (" (default)" if added.default else "")
    )
    typer.echo(f"  {'shared':<12} .dvc/config: {', '.join(added.shared_keys)} (commit it)")
    if added.local_keys:
        typer.echo(f"  {'git-ignored':<12} .dvc/config.local: {', '.join(added.local_keys)}")
    if added.missing_extra:
        typer.echo(f"Add dvc[{added.missing_extra}] to the project's dependencies to use it.")
    typer.echo(f"Next: dvc push{'' if added.default else f' -r {added.name}'}")


# --- end scaffold add remote ------------------------------------------------------------


# --- scaffold update --------------------------------------------------------------------

UPDATED_WITH_CONFLICTS = 4
"""Exit status of an update that left conflicts to resolve."""
UPDATE_AVAILABLE = 2
"""Exit status of ``update --check`` when a newer version exists (copier's check-update)."""


@app.command()
def update(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only check: exit 2 when a newer template version exists, 0 when up to date.",
        ),
    ] = False,
    pretend: Annotated[
        bool, typer.Option("--pretend", help="Show the changes as a diff; change nothing.")
    ] = False,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="REF", help="A tag, branch or commit instead of the newest version."
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            metavar="SRC",
            help="Follow another template source from now on, e.g. a fork (git URL or path).",
        ),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Run a git template's code (copier tasks, migrations, extensions) without "
            "asking; for CI.",
        ),
    ] = False,
) -> None:
    """Bring the project you are in to the newest template version, keeping your edits.

    Exit status: 0 updated (or up to date), 1 refused or failed (nothing changed), 2 with
    --check: a newer version exists, 4 updated with conflicts to resolve.
    """
    from scaffold import update as updating
    from scaffold.project import find_root

    with user_errors():
        root = find_root()
        if check:
            status = updating.check(root, template)
            if status.newer:
                typer.echo(
                    f"{root.name}: template {status.current} -> {status.latest} available "
                    f"({status.source}); run `scaffold update`."
                )
                raise typer.Exit(UPDATE_AVAILABLE)
            typer.echo(f"{root.name} is up to date with its template ({status.current}).")
            return
        if not trust:
            updating.confirm_trust(root, template, _confirm if sys.stdin.isatty() else None)
        result = updating.update(root, to=to, template=template, pretend=pretend)
    _report_update(result)
    if result.conflicts and not result.pretend:
        raise typer.Exit(UPDATED_WITH_CONFLICTS)


def _confirm(question: str) -> bool:
    answer: bool = typer.confirm(question, default=False)
    return answer


def _report_update(result: Update) -> None:
    if result.up_to_date:
        typer.echo(f"Up to date: template {result.new} ({result.source}).")
        return
    verb = "Would update" if result.pretend else "Updating"
    typer.echo(f"{verb} from template {result.old} to {result.new} ({result.source})")
    if result.pretend and result.diff:
        typer.echo(result.diff, nl=not result.diff.endswith("\n"))
    _report_changes(result)
    if result.pretend:
        typer.echo("Pretend: nothing was changed.")
        return
    typer.echo(f"Updated to {result.new}; review with `git diff`, then commit.")
    if result.conflicts:
        typer.echo(
            f"{len(result.conflicts)} file(s) have conflicts: keep what you want between "
            "<<<<<<< before updating and >>>>>>> after updating, then `git add` them:"
        )
        for path in result.conflicts:
            typer.echo(f"  {path}")


def _report_changes(result: Update) -> None:
    """One line per file, new option and changed answer."""
    for change in result.changes:
        note = " (removed by the template; you had changed it)" if change.action == "kept" else ""
        typer.echo(f"  {change.action:<10} {change.path}{note}")
    for key, value in result.new_answers.items():
        typer.echo(f"  {'new option':<10} {key} = {value!r} (the default; edit it in the files)")
    for key, (old, value) in result.changed_answers.items():
        typer.echo(
            f"  {'answer':<10} {key}: {old!r} -> {value!r} (the new version's rules reject "
            "the old answer)"
        )


CHECK_USAGE_ERROR = 2
"""Exit status of ``scaffold check`` when it could not check (bad path, option or config)."""


@app.command("check")
def check_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="[PATHS]...", help="Notebooks or folders (default: the project)."),
    ] = None,
    run: Annotated[
        bool,
        typer.Option("--run", help="Also restart and run all: each notebook in a fresh kernel."),
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="With --run: notebooks run at once.")
    ] = 1,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=1, metavar="SECONDS", help="With --run: per-notebook limit."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="human (default), json or github.")
    ] = "human",
    select: Annotated[
        list[str] | None,
        typer.Option("--select", metavar="CODES", help="Only these rules (e.g. NB4,NB501)."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", metavar="CODES", help="Skip these rules (e.g. NB8)."),
    ] = None,
    python: Annotated[
        Path | None,
        typer.Option(
            "--python", metavar="PATH", help="The project's Python for --run (as scaffold run)."
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Re-read every notebook (ignore the cache).")
    ] = False,
) -> None:
    """Check notebooks: stored state, hidden state, reproducibility, copies, pipeline contract.

    Exit status: 0 no findings, 1 findings, 2 could not check (usage or configuration error).
    """
    from scaffold.check import report
    from scaffold.check.checker import check as run_checks
    from scaffold.check.model import load_config
    from scaffold.project import open_project

    def codes(values: list[str] | None) -> list[str]:
        return [code.strip() for value in values or [] for code in value.split(",") if code]

    try:
        if output_format not in report.FORMATS:
            raise ScaffoldError(
                f"--format must be one of {', '.join(report.FORMATS)}, got {output_format!r}."
            )
        project = open_project()
        config = load_config(project.root).with_codes(codes(select), codes(ignore))
        result = run_checks(project, paths or [], config, use_cache=not no_cache, python=python)
        findings, ran = result.findings, 0
        if run:
            from scaffold.check.checker import keep, notebook_paths, summaries
            from scaffold.check.execute import run_notebooks

            chosen = notebook_paths(project.root, paths or [], config)
            found = summaries(project.root, chosen, use_cache=not no_cache)
            readable = [s for s in found if s.readable]
            limit = timeout if timeout is not None else config.threshold("timeout")
            targets = [project.root / s.path for s in readable]
            ran_findings = run_notebooks(
                project,
                targets,
                jobs=jobs,
                timeout=limit,
                python=python,
                notice=lambda line: typer.echo(line, err=True),
            )
            findings = keep([*findings, *ran_findings], readable, config)
            ran = len(targets)
    except ScaffoldError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(CHECK_USAGE_ERROR) from None
    typer.echo(report.render(output_format, findings, result.notebooks, ran, project.root))
    if findings:
        raise typer.Exit(1)


# --- scaffold export --------------------------------------------------------------------

export_app = typer.Typer(
    help="Write the dvc.yaml notebook pipeline as an orchestrator's file (Airflow, Dagster).",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")

_OUTPUT_HELP = "Folder inside the project for the file (default: {})."
_FORCE_HELP = "Overwrite the file even if it was edited since it was exported."

if TYPE_CHECKING:
    from scaffold.export import Exported


def _report_export(exported: Exported, what: str) -> None:
    if exported.change is None:
        typer.echo(f"unchanged {_relative(exported.path)}")
    else:
        typer.echo(f"{exported.change.action} {_relative(exported.path)}")
    notebooks = sum(1 for task in exported.tasks if task.stage.papermill is not None)
    shell = len(exported.tasks) - notebooks
    extra = f", {shell} shell" if shell else ""
    plural = "" if notebooks == 1 else "s"
    typer.echo(
        f"  {len(exported.tasks)} {what} ({notebooks} notebook{plural}{extra}) from dvc.yaml"
    )
    if exported.missing == ("?",):
        typer.echo(f"Not checked whether the project's Python has them; needs: {exported.install}")
    elif exported.missing:
        typer.echo(
            f"The project's Python lacks {', '.join(exported.missing)}; where the orchestrator "
            f"runs it, install the project and: {exported.install}"
        )


@export_app.command("airflow")
def export_airflow(
    output: Annotated[
        Path | None,
        typer.Option("--output", metavar="DIR", help=_OUTPUT_HELP.format("dags/")),
    ] = None,
    dag_id: Annotated[
        str | None,
        typer.Option("--dag-id", metavar="ID", help="The DAG id (default: the repo name)."),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            metavar="CRON",
            help="Cron expression or preset such as @daily (default: manual runs only).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=_FORCE_HELP)] = False,
) -> None:
    """One Airflow DAG file: a PapermillOperator task per notebook stage of dvc.yaml."""
    from scaffold.export import export
    from scaffold.project import open_project

    with user_errors():
        exported = export(
            open_project(), "airflow", output=output, dag_id=dag_id, schedule=schedule, force=force
        )
    _report_export(exported, "tasks")


@export_app.command("dagster")
def export_dagster(
    output: Annotated[
        Path | None,
        typer.Option("--output", metavar="DIR", help=_OUTPUT_HELP.format("pipelines/")),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=_FORCE_HELP)] = False,
) -> None:
    """One Dagster definitions module: an asset per notebook stage of dvc.yaml (papermill)."""
    from scaffold.export import export
    from scaffold.project import open_project

    with user_errors():
        exported = export(open_project(), "dagster", output=output, force=force)
    _report_export(exported, "assets")


# --- end scaffold export ----------------------------------------------------------------


# -- scaffold extract: copied functions into a module ----------------------------------------


@app.command("extract")
def extract_command(
    names: Annotated[
        list[str],
        typer.Argument(metavar="NAME...", help="Functions or classes defined in the notebooks."),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="MODULE", help="Module of the package to move them into (new or not)."
        ),
    ] = "utils",
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            metavar="NOTEBOOK",
            help="Keep this notebook's version when the copies differ (repeatable).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the changes as a diff; write nothing.")
    ] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Run each changed notebook after; undo all if one fails."),
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option("--python", metavar="PATH", help="The project's Python for --verify."),
    ] = None,
) -> None:
    """Move functions copied between notebooks into a module, and import them there."""
    from scaffold.extract import extract
    from scaffold.project import open_project

    with user_errors():
        done = extract(
            open_project(),
            names,
            to=to,
            keep=keep or [],
            dry_run=dry_run,
            verify=verify,
            python=python,
        )
    if dry_run:
        typer.echo(done.diff, nl=False)
    _report(list(done.changes), dry_run)
    if verify and not dry_run:
        typer.echo(f"verified {len(done.notebooks)} notebooks run top to bottom")


# -- scaffold promote: an exploratory notebook becomes a production one -----------------------


@app.command("promote")
def promote_command(
    notebook: Annotated[
        str, typer.Argument(metavar="NOTEBOOK", help="Notebook stem, file, path or number.")
    ],
    names: Annotated[
        list[str] | None,
        typer.Option(
            "--param", metavar="NAME", help="Only these top-level assignments (repeatable)."
        ),
    ] = None,
    no_run: Annotated[
        bool, typer.Option("--no-run", help="Do not run it once with papermill after.")
    ] = False,
    rename: Annotated[
        bool,
        typer.Option("--rename", help="Give it the conventional name; update references."),
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option("--python", metavar="PATH", help="The project's Python for the run."),
    ] = None,
) -> None:
    """Make a notebook production: parameters cell, params/<stem>.yaml, dvc.yaml stage, a run."""
    from dataclasses import replace

    from scaffold.project import open_project
    from scaffold.promote import promote

    with user_errors():
        done = promote(
            open_project(), notebook, names or [], run=not no_run, rename=rename, python=python
        )
    _report(list(done.changes), False)
    shown = (replace(p, comment="").line() for p in done.parameters)  # comments: in the cell
    typer.echo("parameters: " + ", ".join(shown))
    if not no_run:
        typer.echo("ran it top to bottom with papermill")
    if done.proposed_name:
        typer.echo(f"note: the naming convention would call it {done.proposed_name}.ipynb")


# -- scaffold report: an executed notebook for readers ---------------------------------------


@app.command("report")
def report_command(
    notebook: Annotated[
        str, typer.Argument(metavar="NOTEBOOK", help="Notebook stem, file, path or number.")
    ],
    to: Annotated[
        str,
        typer.Option("--to", metavar="FORMAT", help="html (default), markdown or slides."),
    ] = "html",
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Hide the code: outputs and text only.")
    ] = False,
    execute: Annotated[
        bool,
        typer.Option("--execute", help="Run the notebook first (as scaffold run), then convert."),
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option("--python", metavar="PATH", help="The project's Python (as scaffold run)."),
    ] = None,
) -> None:
    """Convert a notebook's executed copy in reports/ with nbconvert: reports/<stem>.<ext>."""
    from scaffold.project import open_project
    from scaffold.report import make_report, plan_report

    with user_errors():
        project = open_project()
        plan = plan_report(project, notebook, to=to, no_input=no_input, execute=execute)
        if plan.run is not None:
            typer.echo(f"run {plan.run.describe(project.root)}")
        elif plan.stale:
            typer.echo(
                f"note: {_relative(plan.notebook)} changed after {_relative(plan.executed)} "
                "was made; --execute runs it again."
            )
        written = make_report(project, plan, python=python, progress=sys.stderr.isatty())
    _report(list(written), False)


def main() -> None:
    """Console entry point."""
    from scaffold.interrupts import Interrupted, install

    install()
    try:
        app()
    except Interrupted as interrupted:
        typer.echo(interrupted.message, err=True)
        sys.exit(interrupted.exit_code)
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
