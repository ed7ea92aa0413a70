"""The ``scaffold`` command line: parse, call one function, print, map errors to exit codes.

Nothing heavy is imported at start-up: cookiecutter and friends load inside the commands.
"""

from __future__ import annotations

import os
import shlex
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
    from scaffold.remotes import AddedRemote
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
    from scaffold.credentials import Credentials
    from scaffold.generate import create, next_steps, plan_new
    from scaffold.interrupts import settle
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
        settle()  # the project is complete: a signal from here on does not undo or cut it
    if plan.secrets:
        typer.echo(
            f"  {'dvc secrets':<12} {', '.join(plan.secrets)} in .dvc/config.local (git-ignored)"
        )
    typer.echo(f"Done: {_relative(project)}")
    typer.echo(f"Next: cd {_relative(project)}, then {next_steps(plan.answers)}")
    if "git" not in plan.skip and _git_knows_nobody(project):
        name, email = (
            shlex.quote(plan.answers.get(key, "")) for key in ("author_name", "author_email")
        )
        typer.echo(
            "      git has no name and email for your commits yet (the first one used the "
            f"author's); set them once: git config --global user.name {name} && "
            f"git config --global user.email {email}"
        )


def _git_knows_nobody(project: Path) -> bool:
    """True when git has no identity to commit with in ``project`` ("Author identity
    unknown" on the user's first commit)."""
    from scaffold.processes import find_tool, git

    if find_tool("git") is None or not (project / ".git").exists():
        return False
    return not git("var", "GIT_COMMITTER_IDENT", cwd=project, check=False).ok


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
    clone_only: Annotated[
        bool,
        typer.Option(
            "--local",
            help="For this clone only: write it all to the git-ignored .dvc/config.local "
            "(DVC's --local), overriding a committed remote of the same name.",
        ),
    ] = False,
) -> None:
    """Add a DVC remote to the project you are in; secrets go only to .dvc/config.local."""
    from scaffold.credentials import Credentials
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
            clone_only=clone_only,
        )
    _report_remote(added)


def _report_remote(added: AddedRemote) -> None:
    typer.echo(
        f"  {'dvc remote':<12} {added.name} -> {added.location}"
        + (" (default)" if added.default else "")
    )
    if added.shared_keys:
        typer.echo(f"  {'shared':<12} .dvc/config: {', '.join(added.shared_keys)} (commit it)")
    if added.local_keys:
        only = " (this clone only)" if added.clone_only else ""
        typer.echo(f"  {'git-ignored':<12} .dvc/config.local: {', '.join(added.local_keys)}{only}")
    if added.missing_extra:
        typer.echo(f"Add dvc[{added.missing_extra}] to the project's dependencies to use it.")
    step = "pull" if added.clone_only else "push"
    typer.echo(f"Next: dvc {step}{'' if added.default else f' -r {added.name}'}")


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
        uncommitted = updating.dirty_files(root) if pretend else []
    _report_update(result)
    if uncommitted:
        more = f" and {len(uncommitted) - 5} more" if len(uncommitted) > 5 else ""
        shown = ", ".join(uncommitted[:5]) + more
        typer.echo(
            f"That is the update of the last commit; your uncommitted changes ({shown}) are "
            "not in it. Commit or stash them before `scaffold update`."
        )
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
        str,
        typer.Option("--format", metavar="FORMAT", help="human (default), json, github or sarif."),
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
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Fix what is safe: strip outputs, declare known imports."),
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show what --fix would change, without writing.")
    ] = False,
) -> None:
    """Check notebooks: stored state, hidden state, reproducibility, copies, pipeline contract.

    Exit status: 0 no findings, 1 findings, 2 could not check (usage or configuration error).
    """
    from scaffold.check import report

    def codes(values: list[str] | None) -> list[str]:
        return [code.strip() for value in values or [] for code in value.split(",") if code]

    try:
        if output_format not in report.FORMATS:
            raise ScaffoldError(
                f"--format must be one of {', '.join(report.FORMATS)}, got {output_format!r}."
            )
        project, config, result = _static_check(
            paths or [], codes(select), codes(ignore), not no_cache, python, run
        )
        if fix or diff:
            result = _fixed(result, project, diff, output_format)
        findings, ran = result.findings, 0
        if run:
            from scaffold.check.checker import keep, notebook_paths, summaries
            from scaffold.check.execute import run_notebooks

            assert project is not None
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
    root = project.root if project is not None else result.root
    typer.echo(report.render(output_format, findings, result.notebooks, ran, root, result.skipped))
    if findings:
        raise typer.Exit(1)


if TYPE_CHECKING:
    from scaffold.check.checker import Result as CheckResult
    from scaffold.check.model import Config, Finding
    from scaffold.project import Project


def _fixed(
    result: CheckResult, project: Project | None, diff: bool, output_format: str
) -> CheckResult:
    """The check's result after ``--fix`` (or as it is, with ``--diff`` printed)."""
    import dataclasses

    root = project.root if project is not None else result.root or Path.cwd()
    left = _fix_findings(result.findings, root, project is not None, diff, output_format)
    return dataclasses.replace(result, findings=left)


def _fix_findings(
    findings: list[Finding], root: Path, in_project: bool, diff: bool, output_format: str
) -> list[Finding]:
    """``--diff``: print the safe fixes; ``--fix``: apply them and say what was fixed. The
    findings left (all of them with --diff)."""
    from scaffold.check import fix
    from scaffold.files import apply

    planned = fix.plan(findings, root, root / "pyproject.toml" if in_project else None)
    to_stdout = output_format == "human"
    if diff:
        typer.echo(planned.diff(root), nl=False, err=not to_stdout)
        return findings
    apply(planned.writes, root)
    for line in planned.fixed:
        typer.echo(f"fixed {line}", err=not to_stdout)
    done = set(planned.fixed_findings)
    return [finding for finding in findings if finding not in done]


def _static_check(
    paths: list[Path],
    select: list[str],
    ignore: list[str],
    use_cache: bool,
    python: Path | None,
    run: bool,
) -> tuple[Project | None, Config, CheckResult]:
    """The static rules: the project's, or outside one (explicit paths) the per-notebook ones."""
    from scaffold.check.checker import check, check_anywhere
    from scaffold.check.model import Config, load_config

    project = _check_project(paths)
    if project is None:
        if run:
            raise ScaffoldError("--run needs a project (its environment runs the notebooks).")
        config = Config().with_codes(select, ignore)
        return None, config, check_anywhere(paths, config, use_cache=use_cache)
    config = load_config(project.root).with_codes(select, ignore)
    return project, config, check(project, paths, config, use_cache=use_cache, python=python)


def _check_project(paths: list[Path]) -> Project | None:
    """The project around the working folder, else around the first path; None when paths
    were given outside any project (they are checked anywhere)."""
    from scaffold.project import find_root, open_project

    first = [path if path.is_dir() else path.parent for path in paths[:1]]
    for start in (None, *first):
        try:
            root = find_root(start)
        except ScaffoldError:
            continue
        return open_project(root)
    if not paths:
        find_root()  # raises: not inside a project
    return None


# --- scaffold export --------------------------------------------------------------------

export_app = typer.Typer(
    help=(
        "Write the dvc.yaml notebook pipeline as an orchestrator's file "
        "(Airflow, Dagster, Kubeflow, Prefect)."
    ),
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")

_OUTPUT_HELP = "Folder inside the project for the file (default: {})."
_FORCE_HELP = "Overwrite the file even if it was edited since it was exported."

if TYPE_CHECKING:
    from scaffold.export import Exported


def _report_export(exported: Exported) -> None:
    if exported.change is None:
        typer.echo(f"unchanged {_relative(exported.path)}")
    else:
        typer.echo(f"{exported.change.action} {_relative(exported.path)}")
    if exported.compiled is not None:
        compiled, change = exported.compiled
        typer.echo(f"{change.action if change else 'unchanged'} {_relative(compiled)}")
    kinds = [task.kind for task in exported.tasks]
    notebooks, scripts, shell = (kinds.count(kind) for kind in ("notebook", "script", "shell"))
    extra = (f", {scripts} script{'' if scripts == 1 else 's'}" if scripts else "") + (
        f", {shell} shell" if shell else ""
    )
    plural = "" if notebooks == 1 else "s"
    typer.echo(
        f"  {len(exported.tasks)} {exported.unit} ({notebooks} notebook{plural}{extra}) "
        "from dvc.yaml"
    )
    if exported.missing == ("?",):
        typer.echo(f"Not checked whether the project's Python has them; needs: {exported.install}")
    elif exported.missing:
        typer.echo(
            f"The project's Python lacks {', '.join(exported.missing)}; where the orchestrator "
            f"runs it, install the project and: {exported.install}"
        )
    typer.echo(exported.next_step)


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
    _report_export(exported)


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
    _report_export(exported)


@export_app.command("kubeflow")
def export_kubeflow(
    output: Annotated[
        Path | None,
        typer.Option("--output", metavar="DIR", help=_OUTPUT_HELP.format("kubeflow/")),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            metavar="IMAGE",
            help="The project's image the components run in (default: <repo_name>:latest).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=_FORCE_HELP)] = False,
) -> None:
    """A Kubeflow Pipelines (v2) module and its compiled YAML: a component per stage."""
    from scaffold.export import export
    from scaffold.project import open_project

    with user_errors():
        exported = export(open_project(), "kubeflow", output=output, image=image, force=force)
    _report_export(exported)


@export_app.command("prefect")
def export_prefect(
    output: Annotated[
        Path | None,
        typer.Option("--output", metavar="DIR", help=_OUTPUT_HELP.format("flows/")),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=_FORCE_HELP)] = False,
) -> None:
    """A Prefect 3 flow: a task per stage of dvc.yaml, in dependency order, with retries."""
    from scaffold.export import export
    from scaffold.project import open_project

    with user_errors():
        exported = export(open_project(), "prefect", output=output, force=force)
    _report_export(exported)


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
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            metavar="GLOBAL",
            help="A notebook global the function reads becomes its parameter; every call "
            "passes the notebook's value (repeatable).",
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
            params=params or [],
            dry_run=dry_run,
            verify=verify,
            python=python,
        )
    if dry_run:
        typer.echo(done.diff, nl=False)
    _report(list(done.changes), dry_run)
    for note in done.notes:
        typer.echo(f"note: {note}")
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
    if done.suggestions:
        typer.echo("not lifted, maybe parameters (add with --param NAME): ")
        typer.echo("".join(f"  {line}\n" for line in done.suggestions), nl=False)
    if done.left:
        typer.echo("never parameters: " + ", ".join(done.left))


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


share_app = typer.Typer(
    help="Links that open the project on a team notebook server.", no_args_is_help=True
)
app.add_typer(share_app, name="share")


@share_app.command("jupyterhub")
def share_jupyterhub(
    hub: Annotated[
        str,
        typer.Option(
            "--hub", metavar="URL", help="The hub's address, e.g. https://hub.example.org."
        ),
    ],
    notebook: Annotated[
        str | None,
        typer.Option(
            "--notebook", metavar="NB", help="The notebook the link opens (default: the first one)."
        ),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch", metavar="B", help="The branch to pull (default: the current one)."
        ),
    ] = None,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            metavar="URL",
            help="The repository to pull (default: the origin remote, else github_repo).",
        ),
    ] = None,
    badge: Annotated[
        bool, typer.Option("--badge", help="Also put an 'Open in JupyterHub' badge in README.md.")
    ] = False,
) -> None:
    """Print the nbgitpuller link that pulls this project into a JupyterHub user's server."""
    from scaffold.project import open_project
    from scaffold.share import jupyterhub_link

    with user_errors():
        link = jupyterhub_link(
            open_project(),
            hub,
            notebook=notebook,
            branch=branch,
            repo=repo,
            badge=badge,
            cwd=Path.cwd(),
        )
    typer.echo(link.url)
    for change in link.changes:
        typer.echo(str(change), err=True)
    typer.echo(
        f"Pulls {link.repo} ({link.branch}) and opens {link.notebook}; once pulled, run "
        "`make hub-setup` there for the project's kernel.",
        err=True,
    )


# -- scaffold graduate: a production notebook becomes a module and a script stage ------------


@app.command("graduate")
def graduate_command(
    notebook: Annotated[
        str, typer.Argument(metavar="NOTEBOOK", help="Notebook stem, file, path or number.")
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="MODULE",
            help="Module name under <package>/pipelines/ (default: the notebook's description).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and the diff; write nothing.")
    ] = False,
    rtol: Annotated[
        float,
        typer.Option(
            "--rtol",
            metavar="R",
            help="Numbers in text outputs may differ by this relative amount (default 1e-9).",
        ),
    ] = 1e-9,
    python: Annotated[
        Path | None,
        typer.Option("--python", metavar="PATH", help="The project's Python (as scaffold run)."),
    ] = None,
) -> None:
    """Turn a production notebook into src/<package>/pipelines/<name>.py and a script stage;
    prove the stage's outputs unchanged, or undo everything."""
    from scaffold.graduate import graduate
    from scaffold.project import open_project

    with user_errors():
        done = graduate(
            open_project(), notebook, name=name, dry_run=dry_run, rtol=rtol, python=python
        )
    if dry_run:
        typer.echo(done.diff, nl=False)
    _report(list(done.changes), dry_run)
    typer.echo(f"stage {done.stage}: {done.command}")
    for outcome in done.compared:
        typer.echo(f"same {outcome.path}: {outcome.verdict}")
    if not dry_run and not done.compared:
        typer.echo("note: the stage has no outputs besides the executed notebook to compare")


# -- scaffold adopt: an existing repository into the layout ----------------------------------


@app.command("adopt")
def adopt_command(
    path: Annotated[
        Path, typer.Argument(metavar="[PATH]", help="The repository or folder (default: here).")
    ] = Path("."),
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the plan; write nothing. Exit 2 if there is something to do."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    no_run: Annotated[
        bool, typer.Option("--no-run", help="Do not run the notebooks before and after.")
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option("--python", metavar="PATH", help="The Python that runs the notebooks."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, metavar="SECONDS", help="Per notebook run.")
    ] = 600,
    no_pin: Annotated[
        bool,
        typer.Option("--no-pin", help="Do not try older versions for notebooks the newest break."),
    ] = False,
) -> None:
    """Bring an existing notebook repository into the scaffold layout, in one commit."""
    from scaffold import adopt
    from scaffold.interrupts import settle

    with user_errors():
        try:
            plan = adopt.plan_adopt(path)
        except adopt.NothingToAdopt as nothing:
            typer.echo(str(nothing))
            return
        try:
            for line in adopt.describe(plan):
                typer.echo(line)
            if dry_run:
                raise typer.Exit(2)
            if not yes and not _confirm_adopt():
                raise typer.Exit(1)
            commit = adopt.apply(plan)
            if no_run:
                settle()  # the commit is made and nothing follows: a signal cannot undo it now
        finally:
            plan.cleanup()
        typer.echo(f"committed {commit[:10]} {adopt.COMMIT_MESSAGE!r}")
        if not no_run:
            from scaffold.adopt.prove import prove, table

            proof = prove(plan, python=python, timeout=timeout, echo=typer.echo, pin=not no_pin)
            for line in table(proof):
                typer.echo(line)


def _confirm_adopt() -> bool:
    if not sys.stdin.isatty():
        raise ScaffoldError("adopt asks before it changes the repository; pass --yes to agree.")
    return _confirm("Adopt this repository as planned above?")


def main() -> None:
    """Console entry point."""
    from scaffold.interrupts import Interrupted, install, settle

    install()
    try:
        _main()
    except Interrupted as interrupted:  # it landed as scaffold was leaving with its outcome
        settle()
        typer.echo(interrupted.message, err=True)
        sys.exit(interrupted.exit_code)
    finally:
        settle()  # the outcome is decided: a signal from here on cannot cut the exit short


def _main() -> None:
    from scaffold.interrupts import Interrupted

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
