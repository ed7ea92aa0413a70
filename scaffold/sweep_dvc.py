"""A sweep of a DVC-stage notebook: the runs go through the local pool (``scaffold.pool``),
and each run that succeeds is recorded as a DVC experiment (``dvc exp save``), so ``dvc exp
show`` lists it with its params and the stage's metrics files, and ``dvc exp apply`` brings
it back into the workspace.

Why not DVC's experiment queue: measured in benchmarks/bench.py (``--only queue``, figures in
docs/development.md), the queue cost about 5x the pool per run (now 1.18x), all of it DVC's own
(``dvc exp run --queue`` once per run, the celery workers' start, a copy of the repository
and a ``dvc exp exec-run`` process per experiment, ``dvc queue status`` polls), none of it
the notebook. The pool runs the notebooks
with the core's driver (one driver per slot, the next kernel started while a run executes);
meanwhile one process in the project's interpreter imports DVC once and, as each run ends,
writes the run's parameters into the stage's params file and its executed notebook to the
stage's output, and saves the workspace as an experiment of the last commit (``dvc exp save`` with
the stage as target: ``dvc.lock`` gets the run's params and output hashes). The params file,
the output and ``dvc.lock`` are put back as they were afterwards, whatever happens.

What the experiment holds is what ``dvc exp save`` takes: the committed files plus the
workspace's changes to tracked files (as the queue took them), the run's params, and the
stage's outputs as the workspace holds them. The runs read a copy of the params file, so the
workspace's copy is free for the recorder, which records a run while the others go on.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from scaffold import processes
from scaffold.errors import ScaffoldError
from scaffold.files import project_lock, relative, scratch_folder
from scaffold.interpreters import Interpreter
from scaffold.pipeline import PipelineNotebook, pipeline_notebooks, pipeline_stages
from scaffold.pool import run_pool
from scaffold.project import Project
from scaffold.sweep import Outcome, Progress, Sweep, SweepRun

RECORDER = Path(__file__).with_name("_dvc_record.py")
LOCK = "dvc.lock"


def stage_of(project: Project, notebook: Path) -> PipelineNotebook | None:
    """The ``dvc.yaml`` stage that runs ``notebook`` with a parameters file, in a DVC repo."""
    root = project.root
    if not (root / ".dvc").is_dir():
        return None
    for stage in pipeline_notebooks(root):
        if stage.params and (root / stage.notebook).resolve() == notebook.resolve():
            return stage
    return None


def _tracked(root: Path, paths: Sequence[str]) -> set[str]:
    """Which of ``paths`` (files or folders) hold something committed to git."""
    listed = processes.git("ls-files", "--", *paths, cwd=root, check=False)
    if not listed.ok:
        raise ScaffoldError(
            "DVC records each run as an experiment of the last git commit, and this project "
            "is not a git repository with a commit; commit it first."
        )
    files = listed.text.splitlines()
    return {path for path in paths if any(f == path or f.startswith(f"{path}/") for f in files)}


def _untracked_inputs(root: Path, stage: PipelineNotebook) -> list[str]:
    """The stage's inputs (not made by another stage) with nothing in git or DVC."""
    stages = pipeline_stages(root)
    deps = next((s.deps for s in stages if s.name == stage.stage), ())
    outs = {out for s in stages for out in s.outs}
    candidates = [dep for dep in deps if dep not in outs]
    if not candidates:
        return []
    found = _tracked(root, candidates) | _tracked(root, [f"{dep}.dvc" for dep in candidates])
    return [dep for dep in candidates if dep not in found and f"{dep}.dvc" not in found]


def check_committed(root: Path, stage: PipelineNotebook) -> None:
    """Refuse a sweep that DVC cannot record: an experiment is the last commit plus the
    changes to tracked files, so the notebook, its params file, dvc.yaml and every input
    of the stage must be committed (data as DVC's ``.dvc`` pointer files)."""
    needed = [path for path in (stage.notebook, stage.params, "dvc.yaml") if path]
    tracked = _tracked(root, needed)
    missing = [path for path in needed if path not in tracked]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise ScaffoldError(
            "DVC records each run as an experiment of the last git commit, and "
            f"{', '.join(missing)} {verb} not committed; git add and commit first."
        )
    empty = _untracked_inputs(root, stage)
    if empty:
        raise ScaffoldError(
            f"stage {stage.stage} depends on {', '.join(empty)}, which has nothing in git or "
            "DVC, and DVC records each run as an experiment of the last commit; dvc add the data "
            "there and commit the .dvc file (or drop the dependency from dvc.yaml)."
        )


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR")]
    return (errors[-1] if errors else lines[-1] if lines else "no output").rstrip(".") + "."


def _reading_a_copy(sweep: Sweep, scratch: Path) -> Sweep:
    """``sweep`` with every run reading a copy of the params file (the recorder writes the
    workspace's)."""
    if sweep.parameters_file is None:
        return sweep
    copy = scratch / sweep.parameters_file.name
    copy.write_bytes(sweep.parameters_file.read_bytes())
    runs = [
        dataclasses.replace(run, plan=dataclasses.replace(run.plan, parameters_file=copy))
        for run in sweep.runs
    ]
    return dataclasses.replace(sweep, runs=runs, parameters_file=copy)


def run_experiments(
    sweep: Sweep, interpreter: Interpreter, progress: Progress
) -> Iterator[Outcome]:
    """Run the sweep in the local pool and yield each outcome; each run that succeeds is
    recorded as a DVC experiment while the others go on (``_dvc_record.py`` in the project's
    interpreter, under the project lock). The params file, the stage's output and dvc.lock
    are put back as they were, however the sweep ends."""
    stage = stage_of(Project(sweep.root), sweep.notebook)
    assert stage is not None and stage.params
    root = sweep.root
    done: list[SweepRun] = []
    with scratch_folder("scaffold-dvc-") as folder, project_lock(root):
        scratch = Path(folder)
        pooled = _reading_a_copy(sweep, scratch)
        kept = {path: _content(root / path) for path in (stage.params, stage.report, LOCK)}
        recorder = _start_recorder(interpreter, stage, root, scratch)
        try:
            for outcome in run_pool(pooled, interpreter, progress):
                if outcome.status == "done":
                    done.append(outcome.run)
                    _send(recorder, outcome.run)
                yield outcome
            if done:
                progress.echo(f"recording {len(done)} run(s) as DVC experiments (dvc exp save)")
            if recorder.stdin is not None:
                recorder.stdin.close()
            recorder.wait()
        finally:
            if recorder.poll() is None:  # interrupted: the runs not yet recorded are not
                recorder.kill()
                recorder.wait()
            for path, content in kept.items():
                _put_back(root / path, content)
        results = (scratch / "recorded.jsonl").read_text(encoding="utf-8", errors="replace")
        errors = (scratch / "recorder.log").read_text(encoding="utf-8", errors="replace")
        for problem in _problems(results, errors, done, root):
            progress.echo(problem)


def _start_recorder(
    interpreter: Interpreter, stage: PipelineNotebook, root: Path, scratch: Path
) -> subprocess.Popen[bytes]:
    """``_dvc_record.py`` waiting for runs on its stdin (one JSON line each); it writes one
    line per run to recorded.jsonl and its errors to recorder.log in ``scratch``. A
    long-lived process, so subprocess directly (processes.run is for programs that end)."""
    spec = {"stage": stage.stage, "params": stage.params, "output": stage.report}
    (scratch / "record.json").write_text(json.dumps(spec), encoding="utf-8")
    results = scratch / "recorded.jsonl"
    results.touch()
    with (scratch / "recorder.log").open("wb") as log:
        try:
            return subprocess.Popen(
                [
                    str(interpreter.python),
                    str(RECORDER),
                    str(scratch / "record.json"),
                    str(results),
                ],
                cwd=root,
                env=interpreter.environment(),
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        except OSError as error:
            raise ScaffoldError(f"cannot start {interpreter.python}: {error}.") from None


def _send(recorder: subprocess.Popen[bytes], run: SweepRun) -> None:
    line = {"name": run.name, "parameters": run.plan.overrides, "executed": str(run.plan.output)}
    if recorder.stdin is None or recorder.poll() is not None:
        return  # it ended early: the runs it did not record are named at the end
    try:
        recorder.stdin.write((json.dumps(line) + "\n").encode("utf-8"))
        recorder.stdin.flush()
    except (BrokenPipeError, OSError):
        return


def _content(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _put_back(path: Path, content: bytes | None) -> None:
    """What ``path`` held before the recorder ran (nothing: no file)."""
    if content is None:
        path.unlink(missing_ok=True)
    elif not path.is_file() or path.read_bytes() != content:
        path.write_bytes(content)


def _problems(out: str, err: str, runs: Sequence[SweepRun], root: Path) -> list[str]:
    recorded: dict[str, str] = {}
    problems = []
    for line in out.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("error"):
            problems.append(f"DVC did not record {item.get('run')}: {item['error']}")
        elif isinstance(item, dict):
            recorded[str(item.get("run"))] = str(item.get("experiment"))
    missing = [run.name for run in runs if run.name not in recorded]
    if missing and not problems:
        where = relative(runs[0].plan.output.parent, root)
        problems.append(
            f"DVC did not record {', '.join(missing)} as experiments ({_last_error(err)[:-1]}); "
            f"the executed notebooks are in {where}."
        )
    return problems
