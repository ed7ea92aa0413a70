"""``scaffold export airflow|dagster|kubeflow|prefect``: the ``dvc.yaml`` pipeline as an
orchestrator's file.

One task (Airflow, Prefect), asset (Dagster) or component (Kubeflow) per stage, ordered by
the stages' ``deps``/``outs``; the targets are one table, ``TARGETS``.
A papermill stage runs its notebook with papermill, its parameters file (read when the
orchestrator loads the file, so editing ``params/*.yaml`` needs no re-export) and the same
working directory as under ``dvc repro``; any other stage runs its ``cmd`` in a shell in the
stage's ``wdir``, as DVC does (a graduated script stage too). Executed notebooks go to
``<reports>/<run id>/`` (Kubeflow: the component's ``notebook`` artifact).

The generated file starts with a header holding the hash of what follows: a re-export
replaces a file whose hash still matches, and refuses an edited one without ``force``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import string
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scaffold import processes
from scaffold.errors import ScaffoldError
from scaffold.files import Change, Write, apply, project_lock, relative, scratch_folder
from scaffold.layout import REPORTS_DIR
from scaffold.pipeline import Stage, pipeline_stages
from scaffold.project import Project

Target = Literal["airflow", "dagster", "kubeflow", "prefect"]

# The versions the export is tested with (tests/test_export.py builds these).
AIRFLOW_VERSION = "3.3.2"
AIRFLOW_PAPERMILL_VERSION = "3.13.3"
DAGSTER_VERSION = "1.13.28"
KFP_VERSION = "2.17.3"
PREFECT_VERSION = "3.9.1"
MARKER = "# scaffold-export:"
_SCRIPT = re.compile(r"(?:\S*/)?python[0-9.]*\s+-m\s+[A-Za-z_][\w.]*(?:\s|$)")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}")
_DAG_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@continuous"}
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?#LW-]+")
_CRON_RANGES: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
)


@dataclass(frozen=True)
class Task:
    """A stage as the orchestrator sees it: its id and the stages it waits for."""

    id: str
    stage: Stage
    upstream: tuple[str, ...]

    @property
    def kind(self) -> str:
        """notebook (a papermill stage), script (``python -m MODULE ...``, as ``scaffold
        graduate`` writes) or shell (any other cmd); all but notebooks run their cmd as is."""
        if self.stage.papermill is not None:
            return "notebook"
        return "script" if _SCRIPT.match(self.stage.cmd) else "shell"


@dataclass(frozen=True)
class Exported:
    """What an export did."""

    path: Path
    change: Change | None  # None: the file was already up to date
    tasks: tuple[Task, ...]
    missing: tuple[str, ...]  # distributions the project's Python lacks ("?" when unknown)
    install: str  # how to install them
    unit: str  # what a stage became: "tasks", "assets", ...
    next_step: str  # what to do with the file
    compiled: tuple[Path, Change | None] | None = None  # Kubeflow: the YAML, when compiled


@dataclass(frozen=True)
class Options:
    """What a writer needs besides the tasks."""

    repo: str
    depth: int  # how many folders the file is below the project root
    dag_id: str | None = None
    schedule: str | None = None
    image: str | None = None


def install_command(target: Target, python_version: str | None = None) -> str:
    """How to install the orchestrator, pinned the way its project recommends."""
    if target != "airflow":
        return TARGETS[target].install
    version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        f'pip install "apache-airflow=={AIRFLOW_VERSION}" '
        f'"apache-airflow-providers-papermill=={AIRFLOW_PAPERMILL_VERSION}" --constraint '
        '"https://raw.githubusercontent.com/apache/airflow/'
        f'constraints-{AIRFLOW_VERSION}/constraints-{version}.txt"'
    )


def plan_tasks(root: Path, target: Target) -> list[Task]:
    """The stages of ``dvc.yaml`` as tasks in an order that respects their dependencies."""
    stages = pipeline_stages(root)
    for stage in stages:
        _check_inputs(root, stage)
    ids = _task_ids(stages, target)
    upstream = {
        stage.name: tuple(
            other.name for other in stages if other is not stage and _feeds(other.outs, stage.deps)
        )
        for stage in stages
    }
    ordered = _topological(list(ids), upstream)
    by_name = {stage.name: stage for stage in stages}
    return [
        Task(ids[name], by_name[name], tuple(ids[up] for up in upstream[name])) for name in ordered
    ]


def _check_inputs(root: Path, stage: Stage) -> None:
    """Refuse a papermill stage whose notebook, parameters file or folder is missing."""
    call = stage.papermill
    if call is None:
        return
    if not (root / call.notebook).is_file():
        raise ScaffoldError(f"stage {stage.name} runs {call.notebook}, which is missing.")
    if call.params and not (root / call.params).is_file():
        raise ScaffoldError(f"stage {stage.name} reads {call.params}, which is missing.")
    if not (root / call.cwd).is_dir():
        raise ScaffoldError(f"stage {stage.name} runs in {call.cwd}/, which is missing.")


def _task_ids(stages: Sequence[Stage], target: Target) -> dict[str, str]:
    """Each stage's task id for ``target``; refuse stages whose ids would be the same."""
    ids = {stage.name: _task_id(stage.name, target) for stage in stages}
    clashes = [name for name in ids if list(ids.values()).count(ids[name]) > 1]
    if clashes:
        raise ScaffoldError(
            f"stages {', '.join(clashes)} would get the same {target} name; rename one."
        )
    return ids


def _task_id(name: str, target: Target) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name) if TARGETS[target].python_ids else name


def _feeds(outs: Sequence[str], deps: Sequence[str]) -> bool:
    return any(
        dep == out or dep.startswith(f"{out}/") or out.startswith(f"{dep}/")
        for out in outs
        for dep in deps
    )


def _topological(names: list[str], upstream: Mapping[str, Sequence[str]]) -> list[str]:
    done: list[str] = []
    finished: set[str] = set()
    waiting = list(names)
    while waiting:
        ready = [name for name in waiting if finished.issuperset(upstream[name])]
        if not ready:
            raise ScaffoldError(f"dvc.yaml has a dependency cycle: {_cycle(waiting, upstream)}.")
        done.extend(ready)
        finished.update(ready)
        waiting = [name for name in waiting if name not in finished]
    return done


def _cycle(waiting: Sequence[str], upstream: Mapping[str, Sequence[str]]) -> str:
    path = [waiting[0]]
    while True:
        following = next(up for up in upstream[path[-1]] if up in waiting)
        if following in path:
            loop = [*path[path.index(following) :], following]
            return " -> ".join(reversed(loop))
        path.append(following)


# -- the generated files ------------------------------------------------------------------


def _env_name(repo: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", repo).strip("_").upper() or "PROJECT"


def _report_name(report: str) -> str:
    prefix = f"{REPORTS_DIR}/"
    return report[len(prefix) :] if report.startswith(prefix) else report.rsplit("/", 1)[-1]


def _parameters_argument(params: str | None, inline: dict[str, object]) -> str:
    """The Airflow task's ``parameters=`` argument, split the way ruff splits it."""
    args = f"{literal(params)}, {literal(inline)}"
    if len(f"        parameters=parameters({args}),") <= 99:
        return f"        parameters=parameters({args}),"
    if 12 + len(args) <= 99:
        return f"        parameters=parameters(\n            {args}\n        ),"
    lines = [_item(12, "", params), _item(12, "", inline)]
    return "        parameters=parameters(\n" + "\n".join(lines) + "\n        ),"


def airflow_values(tasks: Sequence[Task], options: Options) -> dict[str, str]:
    """The DAG file's template values."""
    env, depth = _env_name(options.repo), options.depth
    dag_id = options.dag_id or options.repo
    lines = []
    for task in tasks:
        stage, call = task.stage, task.stage.papermill
        if call is None:
            lines.append(
                f"    tasks[{literal(task.id)}] = ShellStage(\n"
                f"        task_id={literal(task.id)},\n"
                f"        bash_command={literal(stage.cmd)},\n"
                f"        cwd=str(PROJECT_ROOT / {literal(stage.wdir)}),\n"
                "    )"
            )
            continue
        lines.append(
            f"    tasks[{literal(task.id)}] = NotebookStage(\n"
            f"        task_id={literal(task.id)},\n"
            f"        input_nb=str(PROJECT_ROOT / {literal(call.notebook)}),\n"
            f"        output_nb=str(REPORTS / RUN_ID / {literal(_report_name(call.report))}),\n"
            f"{_parameters_argument(call.params, call.inline)}\n"
            f"        kernel_name={literal(call.kernel)},\n"
            f"        language_name={literal(call.language)},\n"
            f"        cwd=str(PROJECT_ROOT / {literal(call.cwd)}),\n"
            "    )"
        )
    for task in tasks:
        lines.extend(
            f"    tasks[{literal(up)}] >> tasks[{literal(task.id)}]" for up in task.upstream
        )
    return dict(
        dag_id=literal(dag_id),
        dag_name=dag_id,
        schedule=literal(options.schedule),
        root_env_name=f"{env}_PROJECT_ROOT",
        root_variable_name=f"{env.lower()}_project_root",
        reports_env_name=f"{env}_REPORTS_DIR",
        settings=_settings(env, depth, variables=True),
        tasks="\n".join(lines),
    )


def dagster_values(tasks: Sequence[Task], options: Options) -> dict[str, str]:
    """The Dagster definitions module's template values."""
    env, depth = _env_name(options.repo), options.depth
    lines = []
    for task in tasks:
        stage, call = task.stage, task.stage.papermill
        deps = list(task.upstream)
        if call is None:
            lines.append(
                "        shell_asset(\n"
                f"            {literal(task.id)},\n"
                f"{_item(12, '', deps)}\n"
                f"            {literal(stage.cmd)},\n"
                f"            {literal(stage.wdir)},\n"
                "        ),"
            )
            continue
        lines.append(
            "        notebook_asset(\n"
            f"            {literal(task.id)},\n"
            f"{_item(12, '', deps)}\n"
            f"            notebook={literal(call.notebook)},\n"
            f"            report={literal(_report_name(call.report))},\n"
            f"            params_file={literal(call.params)},\n"
            f"{_item(12, 'inline=', call.inline)}\n"
            f"            cwd={literal(call.cwd)},\n"
            f"            kernel={literal(call.kernel)},\n"
            f"            language={literal(call.language)},\n"
            "        ),"
        )
    return dict(
        root_env_name=f"{env}_PROJECT_ROOT",
        reports_env_name=f"{env}_REPORTS_DIR",
        settings=_settings(env, depth),
        assets="\n".join(lines),
    )


def _pipeline_name(repo: str) -> str:
    """A KFP pipeline name: lower case letters, digits and '-'."""
    return re.sub(r"[^a-z0-9]+", "-", repo.lower()).strip("-")[:128] or "pipeline"


def _kfp_argument(upstream: str) -> str:
    """The argument that hands ``upstream``'s outs on, split the way ruff splits it."""
    line = f'        from_{upstream}=done[{literal(upstream)}].outputs["outs"],'
    if len(line) <= 99:
        return line
    return (
        f"        from_{upstream}=done[\n"
        f"            {literal(upstream)}\n"
        '        ].outputs["outs"],'
    )


def _kfp_spec(stage: Stage) -> dict[str, object]:
    """What a component needs to know about its stage, written into it as a literal."""
    call = stage.papermill
    spec: dict[str, object] = {"name": stage.name, "outs": list(stage.outs)}
    if call is None:
        spec.update(cmd=stage.cmd, wdir=stage.wdir)
    else:
        spec.update(
            notebook=call.notebook,
            report=call.report,
            params_file=call.params,
            inline=call.inline,
            cwd=call.cwd,
            kernel=call.kernel,
            language=call.language,
        )
    return spec


def _kfp_component(task: Task) -> str:
    """The component function of one stage."""
    notebook = task.stage.papermill is not None
    inputs = [f"from_{up}: Input[Artifact]" for up in task.upstream]
    outputs = ["outs: Output[Artifact]"] + (["notebook: Output[Artifact]"] if notebook else [])
    upstream = "[" + ", ".join(f"from_{up}" for up in task.upstream) + "]"
    if len(upstream) > 99 - len("    for upstream in :"):
        upstream = "[\n" + "".join(f"        from_{up},\n" for up in task.upstream) + "    ]"
    return _fill(
        _KFP_COMPONENT,
        function=f"stage_{task.id}",
        signature="".join(f"    {arg},\n" for arg in ["project_root: str", *inputs, *outputs]),
        stage="".join(
            f"{_item(8, f'{literal(k)}: ', v)}\n" for k, v in _kfp_spec(task.stage).items()
        ),
        restore=_fill(_KFP_RESTORE, upstream=upstream) if task.upstream else "",
        imports=_KFP_NOTEBOOK_IMPORTS if notebook else _KFP_COMMAND_IMPORTS,
        run=_KFP_NOTEBOOK if notebook else _KFP_COMMAND,
    )


def kubeflow_values(tasks: Sequence[Task], options: Options) -> dict[str, str]:
    """The KFP pipeline module's template values: one component function per stage."""
    calls = []
    for task in tasks:
        arguments = ["        project_root=project_root,"] + [
            _kfp_argument(up) for up in task.upstream
        ]
        calls.append(
            f"    done[{literal(task.id)}] = stage_{task.id}(\n"
            + "".join(f"{argument}\n" for argument in arguments)
            + "    )"
        )
    return {
        "pipeline_name": literal(_pipeline_name(options.repo)),
        "image": literal(options.image or f"{_pipeline_name(options.repo)}:latest"),
        "components": "\n\n\n".join(_kfp_component(task) for task in tasks),
        "calls": "\n".join(calls),
    }


def _flow_function(repo: str) -> str:
    """The flow's Python name: ``<repo>_flow``, which no name in the module shadows."""
    name = f"{_env_name(repo).lower()}_flow"
    return name if name[0].isalpha() else f"flow_{name}"


def prefect_values(tasks: Sequence[Task], options: Options) -> dict[str, str]:
    """The Prefect flow module's template values: one task call per stage, in order."""
    env = _env_name(options.repo)
    lines = []
    for task in tasks:
        stage, call = task.stage, task.stage.papermill
        name = f"name={literal(task.id)}, **retry"
        if call is None:
            lines.append(
                f"    run_command.with_options({name})(\n"
                f"        {literal(stage.cmd)},\n"
                f"        {literal(stage.wdir)},\n"
                "    )"
            )
            continue
        lines.append(
            f"    run_notebook.with_options({name})(\n"
            f"        notebook={literal(call.notebook)},\n"
            f"        report={literal(_report_name(call.report))},\n"
            f"        params_file={literal(call.params)},\n"
            f"{_item(8, 'inline=', call.inline)}\n"
            f"        cwd={literal(call.cwd)},\n"
            f"        kernel={literal(call.kernel)},\n"
            f"        language={literal(call.language)},\n"
            "    )"
        )
    return {
        "flow_name": literal(_pipeline_name(options.repo)),
        "function": _flow_function(options.repo),
        "root_env_name": f"{env}_PROJECT_ROOT",
        "reports_env_name": f"{env}_REPORTS_DIR",
        "settings": _settings(env, options.depth),
        "calls": "\n".join(lines),
    }


def literal(value: object) -> str:
    """``value`` as Python source, double-quoted the way ruff formats it."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{literal(key)}: {literal(item)}" for key, item in value.items())
        return "{" + items + "}"
    raise ScaffoldError(f"cannot write {value!r} as a parameter value; use plain literals.")


def _item(indent: int, prefix: str, value: object, suffix: str = ",") -> str:
    """``prefix`` + ``value`` as a literal on a line of its own, split over lines the way ruff
    formats a list or dict that is too long for one line."""
    pad = " " * indent
    flat = f"{pad}{prefix}{literal(value)}{suffix}"
    if len(flat) <= 99 or not isinstance(value, (list, tuple, dict)) or not value:
        return flat
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    pairs = (
        [(f"{literal(key)}: ", item) for key, item in value.items()]
        if isinstance(value, dict)
        else [("", item) for item in value]
    )
    body = ", ".join(f"{key}{literal(item)}" for key, item in pairs)
    if len(pad) + 4 + len(body) <= 99:
        return f"{pad}{prefix}{opening}\n{pad}    {body}\n{pad}{closing}{suffix}"
    inner = "\n".join(_item(indent + 4, key, item) for key, item in pairs)
    return f"{pad}{prefix}{opening}\n{inner}\n{pad}{closing}{suffix}"


def _call(prefix: str, args: Sequence[str], limit: int = 99) -> str:
    """A top-level call laid out the way ruff formats it."""
    flat = f"{prefix}({', '.join(args)})"
    if len(flat) <= limit:
        return flat
    inner = f"    {', '.join(args)}"
    if len(inner) <= limit and len(args) > 0:
        return f"{prefix}(\n{inner}\n)"
    return f"{prefix}(\n" + "".join(f"    {arg},\n" for arg in args) + ")"


def _settings(env: str, depth: int, variables: bool = False) -> str:
    """The ``PROJECT_ROOT`` and ``REPORTS`` lines of a generated file: the environment
    variable, else (``variables``: Airflow's ``setting``) an Airflow Variable, else the project
    the file is in and its reports/."""
    defaults = {
        "PROJECT_ROOT": ("PROJECT_ROOT", f"Path(__file__).resolve().parents[{depth}]"),
        "REPORTS": ("REPORTS_DIR", 'PROJECT_ROOT / "reports"'),
    }
    lines = []
    for name, (suffix, default) in defaults.items():
        variable = literal(f"{env}_{suffix}")
        if variables:
            args = [variable, literal(f"{env.lower()}_{suffix.lower()}"), default]
            lines.append(_call(f"{name} = setting", args))
        else:
            lines.append(_call(f"{name} = Path", [f"os.environ.get({variable}) or {default}"]))
    return "\n".join(lines)


def _fill(template: str, **values: str) -> str:
    return string.Template(template).substitute(values)


def source(target: Target, tasks: Sequence[Task], options: Options) -> str:
    """The generated file's body (without the header): the target's template, filled."""
    spec = TARGETS[target]
    # the helpers every target's file defines (each file stands alone), written once here
    shared = {"parameters": _PARAMETERS}
    return string.Template(spec.template).substitute(shared, **spec.writer(tasks, options))


def header(target: Target, body: str) -> str:
    """The first lines of a generated file: where it comes from and the hash of ``body``."""
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return (
        f"# Generated by `scaffold export {target}` from dvc.yaml: re-export after changing the\n"
        "# pipeline. Edits here make the next export stop (it overwrites them with --force).\n"
        f"{MARKER} {target} sha256={digest}\n"
    )


def is_untouched(text: str) -> bool:
    """True when ``text`` is a generated file whose body still matches its recorded hash."""
    lines = text.split("\n", 3)
    if len(lines) < 4 or not lines[2].startswith(MARKER):
        return False
    recorded = lines[2].rsplit("sha256=", 1)[-1].strip()
    return hashlib.sha256(lines[3].encode("utf-8")).hexdigest() == recorded


# -- the command --------------------------------------------------------------------------


def check_schedule(schedule: str | None) -> str | None:
    """A cron expression or an Airflow preset; None (or "none") for manual runs only."""
    if schedule is None or schedule.strip().lower() in ("", "none"):
        return None
    cleaned = schedule.strip()
    if cleaned in _PRESETS:
        return cleaned
    fields = cleaned.split()
    if len(fields) == 5 and all(_CRON_FIELD.fullmatch(field) for field in fields):
        problem = next(
            (
                f"{name} {field!r} is outside {low}-{high}"
                for field, (name, low, high) in zip(fields, _CRON_RANGES, strict=True)
                if not _in_range(field, low, high)
            ),
            None,
        ) or _croniter_problem(" ".join(fields))
        if problem:
            raise ScaffoldError(f"--schedule {schedule!r}: {problem}.")
        return " ".join(fields)
    raise ScaffoldError(
        f"--schedule expects a cron expression such as '0 3 * * *' or a preset "
        f"({', '.join(sorted(_PRESETS))}), got {schedule!r}."
    )


def _in_range(field: str, low: int, high: int) -> bool:
    """Whether every number in a cron field (lists, ranges, steps) lies in ``low``-``high``;
    names (JAN, MON) and the L/W/# extensions are left to the scheduler."""
    for item in field.split(","):
        values, _, step = item.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        numbers = [part for part in values.split("-") if part.isdigit()]
        if any(not low <= int(number) <= high for number in numbers):
            return False
    return True


def _croniter_problem(expression: str) -> str | None:
    """What croniter (the parser Airflow uses) says against ``expression``, when installed."""
    try:
        from croniter import croniter  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None
    return None if croniter.is_valid(expression) else "croniter cannot read it"


def check_dag_id(dag_id: str) -> str:
    """Refuse what Airflow refuses as a DAG id."""
    if not dag_id.strip():
        raise ScaffoldError(
            "--dag-id is empty; give an id, or leave the option out for the repo name."
        )
    if not _DAG_ID.fullmatch(dag_id):
        raise ScaffoldError(
            f"--dag-id {dag_id!r}: use letters, digits, '_', '-' and '.' (at most 250)."
        )
    return dag_id


def export(
    project: Project,
    target: Target,
    *,
    output: Path | None = None,
    dag_id: str | None = None,
    schedule: str | None = None,
    image: str | None = None,
    force: bool = False,
    python: str | None = None,
) -> Exported:
    """Write the pipeline of ``project`` for ``target``; see the module docstring.

    ``output`` is a folder inside the project (default: the target's folder); ``python`` is
    the interpreter to check for the orchestrator (default: the project's). Kubeflow's module
    is compiled to YAML with that interpreter's ``kfp`` when it has it.
    """
    root = project.root
    spec = TARGETS[target]
    repo = project.answers.get("repo_name") or root.name
    path = _output_folder(root, target, output) / spec.file_name.format(repo=repo)
    options = _options(target, repo, len(path.relative_to(root).parts) - 1, dag_id, schedule, image)
    missing = missing_packages(project, target, python)
    with project_lock(root):
        tasks = plan_tasks(root, target)
        body = source(target, tasks, options)
        files = {path: header(target, body) + body}
        if target == "kubeflow" and not missing:
            compiled = _compile_kfp(project, python, files[path])
            files[path.with_suffix(".yaml")] = header(target, compiled) + compiled
        changes = _write(root, files, force)
    yaml_path = path.with_suffix(".yaml")
    next_step = spec.next_step
    if target == "kubeflow" and yaml_path not in changes:
        next_step = "Next: where kfp is installed, python {path} compiles it to {yaml}; then " + (
            next_step.removeprefix("Next: ")
        )
    return Exported(
        path,
        changes[path],
        tuple(tasks),
        missing,
        install_command(target),
        spec.unit,
        next_step.format(
            path=relative(path, root),
            dag_id=options.dag_id,
            yaml=relative(yaml_path, root),
            function=_flow_function(repo),
        ),
        (yaml_path, changes[yaml_path]) if yaml_path in changes else None,
    )


def _options(
    target: Target,
    repo: str,
    depth: int,
    dag_id: str | None,
    schedule: str | None,
    image: str | None,
) -> Options:
    """The writer's options, checked: each option only for the target that has it."""
    schedule = check_schedule(schedule)
    if target == "airflow":
        dag_id = check_dag_id(repo if dag_id is None else dag_id)
    elif dag_id is not None or schedule is not None:
        raise ScaffoldError(f"--dag-id and --schedule are for airflow, not {target}.")
    if image is not None and target != "kubeflow":
        raise ScaffoldError(f"--image is for kubeflow, not {target}.")
    if image is not None and not _IMAGE.fullmatch(image):
        raise ScaffoldError(
            f"--image {image!r} is not an image reference such as "
            "registry.example.com/team/churn-model:1.0."
        )
    return Options(repo, depth, dag_id, schedule, image)


def _compile_kfp(project: Project, python: str | None, module: str) -> str:
    """The KFP pipeline ``module`` compiled to YAML by kfp's own compiler, in ``python``."""
    if python is None:
        from scaffold.interpreters import find_interpreter

        python = str(find_interpreter(project).python)
    with scratch_folder("scaffold-kfp-") as folder:
        program, compiled = Path(folder) / "pipeline.py", Path(folder) / "pipeline.yaml"
        apply([Write(program, module)], root=Path(folder))
        result = processes.run(
            [python, str(program), str(compiled)], check=False, cwd=Path(folder), timeout=300
        )
        if not result.ok or not compiled.is_file():
            raise ScaffoldError(f"kfp could not compile the pipeline: {result.message}.")
        return compiled.read_text(encoding="utf-8")


def _output_folder(root: Path, target: Target, output: Path | None) -> Path:
    """The folder to write into: ``output``, which must be a folder inside the project, else
    the target's default folder."""
    default = root / TARGETS[target].folder
    folder = Path(os.path.normpath(output.absolute() if output else default))
    if not folder.resolve().is_relative_to(root.resolve()):
        raise ScaffoldError(f"--output {output}: the folder must be inside the project {root}.")
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"--output {output} is a file; give a folder.")
    return folder


def _write(root: Path, files: Mapping[Path, str], force: bool) -> dict[Path, Change | None]:
    """Write each text to its path unless it holds it already (None); an existing file only
    when it is untouched since scaffold wrote it, or with ``force``. All or nothing."""
    writes: list[Write] = []
    changes: dict[Path, Change | None] = {}
    for path, text in files.items():
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        if old == text:
            changes[path] = None
            continue
        if old is not None and not force and not is_untouched(old):
            raise ScaffoldError(
                f"{relative(path, root)} was changed since scaffold wrote it (or scaffold "
                "did not write it); left it alone. Pass --force to overwrite it."
            )
        writes.append(Write(path, text, create=old is None))
        changes[path] = Change("create" if old is None else "update", relative(path, root))
    apply(writes)
    return changes


def missing_packages(
    project: Project, target: Target, python: str | None = None
) -> tuple[str, ...]:
    """The distributions ``target`` needs that the project's Python lacks (("?",) when there
    is no Python to ask)."""
    if python is None:
        from scaffold.interpreters import find_interpreter

        try:
            python = str(find_interpreter(project).python)
        except ScaffoldError:
            return ("?",)
    probe = (
        "import importlib.metadata as m\n"
        f"for name in {list(TARGETS[target].needs)!r}:\n"
        "    try: m.version(name)\n"
        "    except m.PackageNotFoundError: print(name)\n"
    )
    try:
        result = processes.run(
            [python, "-c", probe], check=False, cwd=Path(tempfile.gettempdir()), timeout=60
        )
    except ScaffoldError:  # the Python is missing, cannot start or hangs
        return ("?",)
    if not result.ok:
        return ("?",)
    return tuple(result.text.split())


_PARAMETERS = '''\
def parameters(params_file: str | None, inline: dict) -> dict:
    """The parameters dvc repro gives the notebook: its params file, then the cmd's -y/-p/-r."""
    values = {}
    if params_file:
        with open(PROJECT_ROOT / params_file, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
    return {**values, **inline}
'''

_AIRFLOW = '''\
"""Airflow DAG ${dag_name}: the notebook pipeline of dvc.yaml, one task per stage.

Project root: the environment variable ${root_env_name}, else the Airflow Variable
${root_variable_name}, else the project this file is in. Executed notebooks go to
<reports>/<run_id>/, where <reports> is ${reports_env_name} (environment variable or the
Variable of that name in lower case), else the project's reports/. Parameters are read from
params/*.yaml each time Airflow parses this file, so editing them needs no re-export. Each
notebook runs in the same working directory as under `dvc repro`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
import yaml
from airflow.providers.papermill.operators.papermill import PapermillOperator

try:  # Airflow 3
    from airflow.sdk import DAG, Variable
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models import Variable
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2 without the standard provider
    from airflow.operators.bash import BashOperator

DAG_ID = ${dag_id}
SCHEDULE = ${schedule}
RUN_ID = "{{ run_id }}"  # rendered by Airflow for each run


def setting(env: str, variable: str, default: Path) -> Path:
    """An environment variable, else an Airflow Variable, else ``default``."""
    value = os.environ.get(env)
    if not value:
        try:
            value = Variable.get(variable, default=None)
        except Exception:  # noqa: BLE001 (no metadata database or API server while parsing)
            value = None
    return Path(value) if value else default


${settings}


${parameters}

class NotebookStage(PapermillOperator):
    """PapermillOperator in the stage's working directory, into a per-run folder.

    Only output_nb is a Jinja template (it holds the run id). The notebook's name, its
    parameters and its kernel are data, as under dvc repro: a `{{ ... }}` in them stays as is.
    """

    template_fields = ("output_nb",)

    def __init__(self, *, cwd: str, **kwargs) -> None:
        super().__init__(log_output=True, **kwargs)
        self.cwd = cwd

    def execute(self, context):
        Path(self.output_nb).parent.mkdir(parents=True, exist_ok=True)
        previous = os.getcwd()
        os.chdir(self.cwd)  # what papermill --cwd does; a task runs in its own process
        try:
            super().execute(context)
        finally:
            os.chdir(previous)
        return str(self.output_nb.url)


class ShellStage(BashOperator):
    """A stage that is not a notebook: its cmd, as dvc repro runs it (not a Jinja template)."""

    template_fields = ("env",)
    template_ext = ()


with DAG(
    dag_id=DAG_ID,
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["scaffold", "notebooks"],
) as dag:
    tasks = {}
${tasks}
'''

_DAGSTER = '''\
"""Dagster definitions: the notebook pipeline of dvc.yaml, one asset per stage.

Project root: the environment variable ${root_env_name}, else the project this file is in.
Executed notebooks go to <reports>/<run_id>/, where <reports> is ${reports_env_name}, else the
project's reports/; each asset records its notebook's path as metadata. Parameters are read
from params/*.yaml when an asset runs. Each notebook runs with papermill (its parameters cell
stays as it is) in the same working directory as under `dvc repro`.

    dagster asset materialize -f THIS_FILE --select '*'
"""

import os
import subprocess
from pathlib import Path

import papermill
import yaml
from dagster import AssetExecutionContext, Definitions, MaterializeResult, MetadataValue, asset

${settings}


${parameters}

def notebook_asset(name, deps, *, notebook, report, params_file, inline, cwd, kernel, language):
    """An asset that executes ``notebook`` with papermill into the run's folder."""

    @asset(name=name, deps=deps, group_name="notebooks", description=f"papermill {notebook}")
    def run(context: AssetExecutionContext) -> MaterializeResult:
        output = REPORTS / context.run_id / report
        output.parent.mkdir(parents=True, exist_ok=True)
        values = parameters(params_file, inline)
        papermill.execute_notebook(
            str(PROJECT_ROOT / notebook),
            str(output),
            parameters=values,
            kernel_name=kernel,
            language=language,
            cwd=str(PROJECT_ROOT / cwd),
            progress_bar=False,
        )
        return MaterializeResult(
            metadata={"notebook": MetadataValue.path(str(output)), "parameters": values}
        )

    return run


def shell_asset(name, deps, cmd, wdir):
    """A stage that is not a notebook: its cmd in a shell, as dvc repro runs it."""

    @asset(name=name, deps=deps, group_name="notebooks", description=cmd)
    def run(context: AssetExecutionContext) -> MaterializeResult:
        subprocess.run(cmd, shell=True, cwd=PROJECT_ROOT / wdir, check=True)
        return MaterializeResult(metadata={"cmd": cmd})

    return run


defs = Definitions(
    assets=[
${assets}
    ]
)
'''


_KFP_COMPONENT = '''\
@dsl.component(base_image=IMAGE)
def ${function}(
${signature}) -> None:
    """A dvc.yaml stage, run in the project inside the image."""
${imports}
    stage = {
${stage}    }
    root = Path(project_root)
${restore}${run}
    kept = Path(outs.path)  # the stage's outs, for the stages that depend on them
    kept.mkdir(parents=True, exist_ok=True)
    for out in stage["outs"]:
        if out == stage.get("report"):
            continue  # the executed notebook is the notebook artifact
        source, target = root / out, kept / out
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)'''

_KFP_RESTORE = """\
    # the outs of the stages this one depends on, back into the project
    for upstream in ${upstream}:
        shutil.copytree(upstream.path, root, dirs_exist_ok=True)
"""

_KFP_NOTEBOOK_IMPORTS = """\
    import shutil
    from pathlib import Path

    import papermill
    import yaml
"""

_KFP_NOTEBOOK = """\
    values = {}
    if stage["params_file"]:  # read when the stage runs: the image's params/*.yaml
        with open(root / stage["params_file"], encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
    Path(notebook.path).parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(root / stage["notebook"]),
        notebook.path,
        parameters={**values, **stage["inline"]},
        kernel_name=stage["kernel"],
        language=stage["language"],
        cwd=str(root / stage["cwd"]),
        progress_bar=False,
    )"""

_KFP_COMMAND_IMPORTS = """\
    import shutil
    import subprocess
    from pathlib import Path
"""

_KFP_COMMAND = """\
    subprocess.run(stage["cmd"], shell=True, cwd=root / stage["wdir"], check=True)"""

_KUBEFLOW = '''\
"""Kubeflow Pipelines (v2): the notebook pipeline of dvc.yaml, one component per stage.

Every component runs in IMAGE, the project's image (built from binder/ with repo2docker,
which puts the repository in /home/jovyan: the pipeline parameter project_root). A notebook
stage runs its notebook with papermill and its params file, in the same working directory as
under `dvc repro`; any other stage runs its cmd in a shell in the stage's wdir. Each stage
hands its outs to the stages that depend on them as the artifact "outs"; the executed
notebook is the artifact "notebook".

    python THIS_FILE          # compile it, with kfp's compiler, to the .yaml beside it
"""

import sys
from pathlib import Path

from kfp import compiler, dsl
from kfp.dsl import Artifact, Input, Output

PIPELINE_NAME = ${pipeline_name}
IMAGE = ${image}
PROJECT_ROOT = "/home/jovyan"  # where repo2docker puts the repository in the image


${components}


@dsl.pipeline(name=PIPELINE_NAME, description="The notebook pipeline of dvc.yaml.")
def pipeline(project_root: str = PROJECT_ROOT) -> None:
    done = {}
${calls}


if __name__ == "__main__":
    target = sys.argv[1:] or [str(Path(__file__).with_suffix(".yaml"))]
    compiler.Compiler().compile(pipeline, target[0])
'''


_PREFECT = '''\
"""Prefect 3 flow ${flow_name}: the notebook pipeline of dvc.yaml, one task per stage.

The tasks run one after the other in the order `dvc repro` would run them.
Project root: the environment variable
${root_env_name}, else the project this file is in.
Executed notebooks go to <reports>/<flow run id>/, where <reports> is
${reports_env_name}, else the project's reports/.
Parameters are read from params/*.yaml when a task runs. Each notebook runs with papermill
in the same working directory as under `dvc repro`; any other stage runs its cmd in a shell
in the stage's wdir. A failed task is retried (the flow's `retries` parameter), then the
flow fails and the stages after it do not run.

    python THIS_FILE                              # one local run
    prefect deploy THIS_FILE:${function} -n NAME -p POOL     # a deployment on a work pool
"""

import os
import subprocess
from pathlib import Path

import papermill
import yaml
from prefect import flow, task
from prefect.runtime import flow_run

${settings}


${parameters}

@task
def run_notebook(*, notebook, report, params_file, inline, cwd, kernel, language) -> str:
    """Execute ``notebook`` with papermill into the flow run's folder; return that path."""
    output = REPORTS / str(flow_run.get_id()) / report
    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(PROJECT_ROOT / notebook),
        str(output),
        parameters=parameters(params_file, inline),
        kernel_name=kernel,
        language=language,
        cwd=str(PROJECT_ROOT / cwd),
        progress_bar=False,
    )
    return str(output)


@task
def run_command(cmd: str, wdir: str) -> None:
    """A stage that is not a notebook: its cmd in a shell, as dvc repro runs it."""
    subprocess.run(cmd, shell=True, cwd=PROJECT_ROOT / wdir, check=True)


@flow(name=${flow_name}, log_prints=True)
def ${function}(retries: int = 1, retry_delay: int = 30) -> None:
    """The stages of dvc.yaml, in dependency order; each retried ``retries`` times."""
    retry = {"retries": retries, "retry_delay_seconds": retry_delay}
${calls}


if __name__ == "__main__":
    ${function}()
'''


@dataclass(frozen=True)
class TargetSpec:
    """One export target: where its file goes, the template and the writer that fills it."""

    folder: str  # the default folder, inside the project
    file_name: str  # formatted with repo
    template: str  # string.Template source
    writer: Callable[[Sequence[Task], Options], dict[str, str]]  # the template's values
    needs: tuple[str, ...]  # distributions the file imports
    install: str  # how to install them (Airflow's needs the Python version: install_command)
    unit: str  # what one stage becomes
    next_step: str  # formatted with path and dag_id
    python_ids: bool  # task ids must be Python identifiers


TARGETS: dict[str, TargetSpec] = {
    "airflow": TargetSpec(
        folder="dags",
        file_name="{repo}.py",
        template=_AIRFLOW,
        writer=airflow_values,
        needs=("apache-airflow", "apache-airflow-providers-papermill", "pyyaml"),
        install="",
        unit="tasks",
        next_step=(
            "Next: put {path} in Airflow's DAGs folder (a link keeps the project root right), "
            "then: airflow dags test {dag_id}"
        ),
        python_ids=False,
    ),
    "kubeflow": TargetSpec(
        folder="kubeflow",
        file_name="{repo}.py",
        template=_KUBEFLOW,
        writer=kubeflow_values,
        needs=("kfp",),
        install=f'pip install "kfp=={KFP_VERSION}"',
        unit="components",
        next_step=(
            "Next: build and push the image (jupyter-repo2docker --no-run --image-name IMAGE .), "
            "then upload {yaml} to Kubeflow or submit it to Vertex AI (docs/orchestrators.md)"
        ),
        python_ids=True,
    ),
    "prefect": TargetSpec(
        folder="flows",
        file_name="{repo}.py",
        template=_PREFECT,
        writer=prefect_values,
        needs=("prefect", "papermill", "pyyaml", "ipykernel"),
        install=f'pip install "prefect=={PREFECT_VERSION}" papermill ipykernel pyyaml',
        unit="tasks",
        next_step=(
            "Next: python {path} runs it once; prefect deploy {path}:{function} -n NAME "
            "-p WORK_POOL makes a deployment"
        ),
        python_ids=False,
    ),
    "dagster": TargetSpec(
        folder="pipelines",
        file_name="{repo}.py",
        template=_DAGSTER,
        writer=dagster_values,
        needs=("dagster", "papermill", "pyyaml", "ipykernel"),
        install=f'pip install "dagster=={DAGSTER_VERSION}" papermill ipykernel pyyaml',
        unit="assets",
        next_step="Next: dagster dev -f {path}   (one run: dagster asset materialize -f {path} "
        "--select '*')",
        python_ids=True,
    ),
}
