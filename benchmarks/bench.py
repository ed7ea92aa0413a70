"""Time scaffold's commands against peers in one run: medians and ratios.

    python benchmarks/bench.py [--runs 5] [--only speed|check|extract|sweep|queue]

The cases of one table run interleaved (one round runs every case once), so a change of the
machine's load touches them all alike; the ratios are the figures to compare, the seconds
depend on the machine and its load (printed). Every run gets a fresh temporary folder with
an isolated HOME and git identity, and imports from ``.pyc`` files as an installed tool does
(one untimed warm-up round writes them).

Peers: ``ccds`` (cookiecutter-data-science, pinned in PEERS) is installed once by uv into a
cached venv under ``$XDG_CACHE_HOME/scaffold-bench/`` and renders its own template, kept in
benchmarks/peers/ (its package does not ship it). Plain cookiecutter and copier are the ones
scaffold depends on, rendering scaffold's template with the same post-generation program.
Not a test: machines differ.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEERS = ("cookiecutter-data-science==2.3.0",)
CCDS_TEMPLATE = REPO / "benchmarks" / "peers" / "ccds-2.3.0"
TEMPLATE_REPO_FILES = ("cookiecutter.json", "copier.yml", "template", "hooks")
SCAFFOLD = [sys.executable, "-m", "scaffold"]
NEW = [*SCAFFOLD, "new", "Bench", "--no-input"]
RENDER_ONLY = ["--no-git", "--no-dvc", "--no-pre-commit"]
GOALS = {  # issue 11: case -> (limit, what the limit is measured against)
    "scaffold new (full)": (1.0, "ccds --no-input"),
    "scaffold add notebook": (0.2, "seconds"),
    "scaffold --help": (0.1, "seconds"),
}


def tool(name: str) -> str | None:
    beside = BIN / name
    return str(beside) if beside.exists() else shutil.which(name)


def isolated_env(home: Path) -> dict[str, str]:
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: imports from .pyc files
    return env


def peers_bin() -> Path | None:
    """bin/ of a cached venv with the pinned peers, made once with uv; None if uv cannot."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256("\n".join([sys.version, *PEERS]).encode()).hexdigest()[:12]
    venv = cache / "scaffold-bench" / f"peers-{key}"
    if (venv / "bin" / "ccds").exists():
        return venv / "bin"
    uv = [sys.executable, "-m", "uv"]
    try:
        subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run([*uv, "pip", "install", "-q", "--python", python, *PEERS], check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"peers not installed ({error}); their cases are skipped", file=sys.stderr)
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return venv / "bin"


def template_snapshot(repo: Path) -> Path:
    """The template repo (working tree, uncommitted edits included) as a tagged git repo, as
    copier reads a template (the tests' template_git_repo does the same)."""
    repo.mkdir()
    for name in TEMPLATE_REPO_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, repo / name)
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A", "-f"], ["commit", "-qm", "v"],
                 ["tag", "v1.0.0"]):  # fmt: skip
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


@dataclass
class Timing:
    """Medians of one case's runs: wall-clock and CPU (user + system, all processes)."""

    wall: float
    cpu: float
    fastest: float


@dataclass
class Case:
    """One command to time; ``args`` gets the run's folder, ``prepare`` (untimed) may make
    the folder to run it in (e.g. a project)."""

    name: str
    args: Callable[[Path], list[str]]
    prepare: Callable[[Path], Path] | None = None


def timed_run(args: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one command; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout!r}\n{done.stderr!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def time_cases(cases: Sequence[Case], runs: int) -> dict[str, Timing]:
    """Every case ``runs`` times, interleaved, after one untimed warm-up round."""
    samples: dict[str, list[tuple[float, float]]] = {case.name: [] for case in cases}
    for round_ in range(runs + 1):
        for case in cases:
            with tempfile.TemporaryDirectory() as folder:
                work = Path(folder)
                env = isolated_env(work)
                cwd = case.prepare(work) if case.prepare else work
                sample = timed_run(case.args(work), cwd, env)
                if round_:
                    samples[case.name].append(sample)
    return {
        name: Timing(
            statistics.median(w for w, _ in found),
            statistics.median(c for _, c in found),
            min(w for w, _ in found),
        )
        for name, found in samples.items()
    }


def time_in_project(
    args: list[str], runs: int, prepare: Callable[[Path], None] | None = None
) -> Timing:
    """``args`` run inside a freshly generated project (made, and ``prepare``d, untimed)."""

    def project(work: Path) -> Path:
        made = scaffold_project(work)
        if prepare is not None:
            prepare(made)
        return made

    name = " ".join(args)
    return time_cases([Case(name, lambda _: args, project)], runs)[name]


def scaffold_project(work: Path) -> Path:
    """A project rendered by scaffold without git, DVC or hooks (set-up for other cases)."""
    subprocess.run(
        [*NEW, *RENDER_ONLY],
        cwd=work,
        env=isolated_env(work),
        check=True,
        capture_output=True,
    )
    return work / "bench"


def startup_cases(peers: Path | None) -> list[Case]:
    cases = [
        Case("python -c pass", lambda w: [sys.executable, "-c", "pass"]),
        Case("scaffold --help", lambda w: [*SCAFFOLD, "--help"]),
        Case("scaffold new --help", lambda w: [*SCAFFOLD, "new", "--help"]),
    ]
    if peers is not None:
        cases.append(Case("ccds --help", lambda w: [str(peers / "ccds"), "--help"]))
    for name in ("cookiecutter", "copier"):
        found = tool(name)
        if found:
            cases.append(Case(f"{name} --help", lambda w, found=found: [found, "--help"]))
    return cases


def new_cases(peers: Path | None, snapshot: Path) -> list[Case]:
    """Making a project: scaffold, ccds, and scaffold's template under cookiecutter and copier
    (the same post-generation program: git, DVC, pre-commit, commit)."""
    cases = []
    if peers is not None:
        ccds = str(peers / "ccds")
        cases.append(Case("ccds --no-input", lambda w: [ccds, str(CCDS_TEMPLATE), "--no-input"]))
    cases += [
        Case("scaffold new (full)", lambda w: NEW),
        Case("scaffold new (render only)", lambda w: [*NEW, *RENDER_ONLY]),
    ]
    cookiecutter, copier = tool("cookiecutter"), tool("copier")
    if cookiecutter:
        template = str(snapshot / "template")
        cases += [
            Case("cookiecutter (full)", lambda w: [cookiecutter, template, "--no-input"]),
            Case(
                "cookiecutter (render only)",
                lambda w: [cookiecutter, template, "--no-input", "--accept-hooks", "no"],
            ),
        ]
    if copier:
        copy = [copier, "copy", "--trust", "--defaults", "--quiet", str(snapshot)]
        cases.append(Case("copier copy (full)", lambda w: [*copy, str(w / "bench")]))
    return cases


def print_table(title: str, results: dict[str, Timing], base: str | None, runs: int) -> None:
    against = f"vs {base}" if base in results else "vs -"
    print(f"\n| {title} (median of {runs}) | wall s | fastest s | cpu s | {against} |")
    print("|---|---:|---:|---:|---:|")
    for name, found in results.items():
        ratio = f"{found.wall / results[base].wall:.2f}x" if base in results else "-"
        print(f"| {name} | {found.wall:.3f} | {found.fastest:.3f} | {found.cpu:.3f} | {ratio} |")


def print_goals(results: dict[str, Timing]) -> None:
    print("\n| goal (issue 11) | limit | measured | met |")
    print("|---|---:|---:|---|")
    for name, (limit, against) in GOALS.items():
        if name not in results:
            continue
        if against == "seconds":  # on a loaded machine, CPU seconds say more than wall
            value = results[name].wall
            shown = f"{value:.3f} s (cpu {results[name].cpu:.3f} s)"
        elif against in results:
            value = results[name].wall / results[against].wall
            shown = f"{value:.2f}x {against}"
        else:
            continue
        unit = " s" if against == "seconds" else f"x {against}"
        print(f"| {name} | {limit}{unit} | {shown} | {'yes' if value <= limit else 'no'} |")


def speed(runs: int) -> dict[str, Timing]:
    """The cases where people wait: start-up, making a project, adding a notebook."""
    peers = peers_bin()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        snapshot = template_snapshot(Path(folder) / "template-repo")
        startup = time_cases(startup_cases(peers), runs)
        made = time_cases(new_cases(peers, snapshot), runs)
    notebook = {
        "scaffold add notebook": time_in_project([*SCAFFOLD, "add", "notebook", "clean data"], runs)
    }
    print(
        f"\nMachine: {os.cpu_count()} cores; load average (1 min) {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; Python {sys.version.split()[0]}"
    )
    print_table("start-up", startup, "ccds --help", runs)
    print_table("making a project", made, "ccds --no-input", runs)
    print_table("in a project", notebook, None, runs)
    results = {**startup, **made, **notebook}
    print_goals(results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--run-notebooks", type=int, default=8, help="notebooks for --run")
    parser.add_argument(
        "--only",
        choices=["speed", "check", "extract", "sweep", "queue"],
        help="only start-up, new and add notebook; or the scaffold check cases (static and "
        "--run); or extract and promote; or the sweep cases (scaffold run --grid, and the DVC "
        "queue against the local pool); or that last case alone",
    )
    args = parser.parse_args()
    if args.only in (None, "speed"):
        speed(args.runs)
    if args.only in (None, "check"):
        check_static(args.runs)
        check_run(args.runs, args.run_notebooks)
    if args.only in (None, "extract"):
        extract_bench(args.runs)
    if args.only in (None, "sweep"):
        sweep_bench(args.runs)
    if args.only in (None, "sweep", "queue"):
        queue_bench(args.runs)
    if args.only is None:
        others = {
            "scaffold update --check (current project)": _time_update_check(args.runs),
            "scaffold export airflow (100 stages)": _time_export_airflow(args.runs),
        }
        print_table("other commands", others, None, args.runs)


# -- scaffold check -----------------------------------------------------------------------------


def _bench_cell(i: int, k: int, unique: bool = False) -> dict[str, object]:
    """Cell ``i`` of benchmark notebook ``k``: markdown, imports, functions, pandas code.

    The pandas cells are the same in every notebook (as copied notebooks and common steps
    repeat), unless ``unique``: then no code cell but the imports repeats.
    """
    size = i + 1000 * k if unique else i
    if i % 3 == 0:
        return {
            "cell_type": "markdown",
            "id": f"m{i}",
            "metadata": {},
            "source": [f"## Step {i}\n", "What this step does and why."],
        }
    if i == 1:
        source = "import numpy as np\nimport pandas as pd\n\nfrom bench import config"
    elif i % 7 == 0:
        source = (
            f'def step_{i}_{k}(frame, column="x"):\n'
            "    kept = frame.dropna(subset=[column])\n"
            f"    return kept[kept[column] > {i}]"
        )
    else:
        source = (
            f'frame_{i} = pd.DataFrame({{"x": np.arange({size}), "y": np.arange({size}) * 2}})\n'
            f'frame_{i}["z"] = frame_{i}["x"] + frame_{i}["y"]\n'
            f"frame_{i}.describe()"
        )
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"c{i}",
        "metadata": {},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def write_bench_project(root: Path, notebooks: int, cells: int = 30, unique: bool = False) -> None:
    """A project of ``notebooks`` clean notebooks of ``cells`` cells (2/3 code; ``unique``:
    see ``_bench_cell``)."""
    import json

    (root / "notebooks").mkdir(parents=True)
    (root / "src" / "bench").mkdir(parents=True)
    (root / "src" / "bench" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "0"\ndependencies = ["pandas", "numpy"]\n'
    )
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for k in range(notebooks):
        nb = {
            "cells": [_bench_cell(i, k, unique) for i in range(cells)],
            "metadata": metadata,
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        name = f"{k // 100}.{k % 100}-ab-step-{k}.ipynb"
        (root / "notebooks" / name).write_text(json.dumps(nb, indent=1) + "\n")


def _median_run(args: list[str], cwd: Path, env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _timed_median(args: list[str], cwd: Path, env: dict[str, str], runs: int) -> Timing:
    """Medians of ``runs`` runs of a command that may exit non-zero (check finds things)."""
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        samples.append((wall, cpu))
    return Timing(
        statistics.median(w for w, _ in samples),
        statistics.median(c for _, c in samples),
        min(w for w, _ in samples),
    )


def _print_check_table(title: str, results: dict[str, Timing], base: str | None) -> None:
    """Wall and CPU seconds (user + system, every process), each as a ratio to ``base``."""
    against = "vs -" if base is None else f"vs {base.split(' (')[0]}"
    print(f"\n| {title} | wall s | fastest s | cpu s | wall {against} | cpu {against} |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, found in results.items():
        if base is None:
            wall = cpu = "-"
        else:
            wall = f"{found.wall / results[base].wall:.2f}x"
            cpu = f"{found.cpu / results[base].cpu:.2f}x"
        seconds = f"{found.wall:.3f} | {found.fastest:.3f} | {found.cpu:.3f}"
        print(f"| {name} | {seconds} | {wall} | {cpu} |")


def _static_cases(
    cases: dict[str, tuple[list[str], Path]], project: Path, size: str, label: str
) -> tuple[str | None, list[str]]:
    """Add the cases of one set of notebooks to ``cases``: (the base, the case names)."""
    scaffold = [sys.executable, "-m", "scaffold", "check"]
    names = [f"scaffold check --no-cache ({size}, cold)"]
    cases[names[0]] = ([*scaffold, "--no-cache"], project)
    if not label:
        names.append(f"scaffold check ({size}, warm cache)")
        cases[names[1]] = (scaffold, project)
    nbstripout = tool("nbstripout")
    if not nbstripout:
        return None, names
    files = sorted(str(p) for p in (project / "notebooks").glob("*.ipynb"))
    base = f"nbstripout --verify --keep-id (same files{label})"
    cases[base] = ([nbstripout, "--verify", "--keep-id", *files], project)
    return base, [*names, base]


def check_static(runs: int, notebooks: int = 1000) -> None:
    """``scaffold check`` (cold: --no-cache; warm: cache) vs ``nbstripout --verify``.

    Interleaved as the other tables are: each round runs every case once. Wall and CPU
    seconds both: the cold check uses both cores, nbstripout one. Two sets of notebooks:
    the usual one, whose pandas cells repeat from notebook to notebook (a check parses a
    repeated cell once), and one where no code cell but the imports repeats.
    """
    nbstripout = tool("nbstripout")
    load = os.getloadavg()[0]
    tables: dict[str, tuple[str | None, list[str]]] = {}
    cases: dict[str, tuple[list[str], Path]] = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = isolated_env(work)
        for label, unique in (("", False), (", every cell unique", True)):
            project = work / ("unique" if unique else "bench")
            write_bench_project(project, notebooks, unique=unique)
            base, names = _static_cases(cases, project, f"{notebooks} x 30 cells{label}", label)
            tables[f"static checks{label} (median of {runs})"] = (base, names)
        for args, project in cases.values():  # untimed: .pyc files, the cache
            subprocess.run(args, cwd=project, env=env, capture_output=True, check=False)
        samples: dict[str, list[Timing]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, (args, project) in cases.items():
                samples[name].append(_timed_median(args, project, env, 1))
    results = {
        name: Timing(
            statistics.median(t.wall for t in found),
            statistics.median(t.cpu for t in found),
            min(t.fastest for t in found),
        )
        for name, found in samples.items()
    }
    print(
        f"\nMachine: {os.cpu_count()} cores; load average (1 min) {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )
    if not nbstripout:
        print("(nbstripout is not installed: no ratios)")
    for title, (base, names) in tables.items():
        _print_check_table(title, {name: results[name] for name in names}, base)


def check_run(runs: int, notebooks: int = 8) -> None:
    """``scaffold check --run -j 2`` vs ``pytest --nbmake -n 2`` on the same notebooks.

    A generated project gets its own .venv with nbmake and pytest-xdist (uv, from PyPI); the
    floor is notebooks / 2 times the start-up of one kernel that runs ``pass``.
    """
    import json

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        project = scaffold_project(work)
        env = isolated_env(work)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("VIRTUAL_ENV", None)
        uv = [sys.executable, "-m", "uv"]
        python = project / ".venv" / "bin" / "python"
        subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(project / ".venv")],
                       env=env, check=True)  # fmt: skip
        subprocess.run(
            [*uv, "pip", "install", "-q", "--python", str(python), "-e", f"{project}[dev]",
             "nbmake", "pytest-xdist"],
            env=env, check=True, cwd=project,
        )  # fmt: skip
        for old in (project / "notebooks").glob("*.ipynb"):
            old.unlink()
        for k in range(notebooks):
            nb = {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "id": f"c{i}",
                        "metadata": {},
                        "outputs": [],
                        "source": source,
                    }
                    for i, source in enumerate(
                        ["import math", f"value = math.sqrt({k})", "print(value)"]
                    )
                ],
                "metadata": {
                    "kernelspec": {
                        "display_name": "Python 3",
                        "language": "python",
                        "name": "python3",
                    },
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
            path = project / "notebooks" / f"1.{k}-ab-run-{k}.ipynb"
            path.write_text(json.dumps(nb, indent=1) + "\n")
        scaffold = [sys.executable, "-m", "scaffold", "check", "--run", "-j", "2"]
        done = subprocess.run(scaffold, cwd=project, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"scaffold check --run failed:\n{done.stdout}{done.stderr}")
            return
        kernel = (
            "from jupyter_client.manager import start_new_kernel; "
            "km, kc = start_new_kernel(kernel_name='python3'); "
            "kc.execute_interactive('pass', timeout=60); kc.stop_channels(); "
            "km.shutdown_kernel(now=True)"
        )
        one = _timed_median([str(python), "-c", kernel], project / "notebooks", env, runs)
        slots = notebooks / 2
        results = {
            f"floor: {notebooks} kernel start-ups / 2": Timing(
                one.wall * slots, one.cpu * notebooks, one.fastest * slots
            ),
            f"scaffold check --run -j 2 ({notebooks} notebooks)": _timed_median(
                scaffold, project, env, runs
            ),
            f"pytest --nbmake -n 2 ({notebooks} notebooks)": _timed_median(
                [
                    str(python),
                    "-m",
                    "pytest",
                    "-q",
                    "--nbmake",
                    "-n",
                    "2",
                    "-p",
                    "no:cacheprovider",
                    "notebooks",
                ],
                project,
                env,
                runs,
            ),
        }
    base = f"pytest --nbmake -n 2 ({notebooks} notebooks)"
    _print_check_table(f"--run (median of {runs})", results, base)


def _time_update_check(runs: int) -> Timing:
    """``scaffold update --check`` in a project of the packaged template at the installed
    version: offline, the answer is "up to date" (exit 0)."""
    from scaffold import __version__

    def as_from_a_wheel(project: Path) -> None:
        answers = project / ".copier-answers.yml"
        lines = [
            line
            for line in answers.read_text(encoding="utf-8").splitlines()
            if not line.startswith(("_src_path:", "_commit:"))
        ]
        # What a wheel install records (an editable install records its checkout).
        lines[1:1] = [f'_commit: "v{__version__}"', '_src_path: "pypi:scaffold"']
        answers.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return time_in_project([*SCAFFOLD, "update", "--check"], runs, as_from_a_wheel)


def hundred_stage_pipeline(project: Path, stages: int = 100) -> None:
    """``stages`` papermill stages in a chain: each reads the previous stage's output."""
    source = next((project / "notebooks").glob("*.ipynb")).read_text(encoding="utf-8")
    lines = ["stages:"]
    for index in range(stages):
        stem = f"2.{index}-bb-step"
        (project / "notebooks" / f"{stem}.ipynb").write_text(source, encoding="utf-8")
        (project / "params" / f"{stem}.yaml").write_text(f"seed: {index}\n", encoding="utf-8")
        lines += [
            f"  step_{index}:",
            "    cmd: >-",
            "      papermill --no-progress-bar --cwd notebooks",
            f"      notebooks/{stem}.ipynb reports/{stem}.ipynb -f params/{stem}.yaml",
            "    deps:",
            f"      - notebooks/{stem}.ipynb",
            *([f"      - data/interim/step-{index - 1}.csv"] if index else []),
            "    params:",
            f"      - params/{stem}.yaml:",
            "    outs:",
            f"      - reports/{stem}.ipynb",
            f"      - data/interim/step-{index}.csv",
        ]
    (project / "dvc.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _time_export_airflow(runs: int) -> Timing:
    """``scaffold export airflow`` on a 100-stage dvc.yaml (set up untimed)."""
    return time_in_project([*SCAFFOLD, "export", "airflow"], runs, hundred_stage_pipeline)


def extract_bench(runs: int, notebooks: int = 200) -> None:
    """``scaffold extract`` of a helper copied in ``notebooks`` notebooks of 30 cells, and
    ``scaffold promote --no-run`` of one notebook in that project."""
    import json
    import shutil

    helper = (
        'def shared_total(frame, column="x"):\n'
        "    values = np.asarray(frame[column])\n"
        "    return values.sum()"
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pristine = work / "pristine"
        write_bench_project(pristine, notebooks)
        for path in (pristine / "notebooks").glob("*.ipynb"):
            data = json.loads(path.read_text())
            data["cells"][2]["source"] = helper.splitlines(keepends=True)
            data["cells"][4]["source"] = ["SEED = 42\n", 'LABEL = "train"']  # for promote
            path.write_text(json.dumps(data, indent=1) + "\n")
        env = isolated_env(work)
        samples = {"--dry-run": [], "": []}
        for _ in range(runs):
            for flag, found in samples.items():
                project = work / "bench"
                shutil.rmtree(project, ignore_errors=True)
                shutil.copytree(pristine, project)
                args = [sys.executable, "-m", "scaffold", "extract", "shared_total", "--to", "core"]
                start = time.perf_counter()
                done = subprocess.run(
                    [*args, *([flag] if flag else [])], cwd=project, env=env,
                    capture_output=True, check=False,
                )  # fmt: skip
                found.append(time.perf_counter() - start)
                if done.returncode != 0:
                    print(f"scaffold extract failed:\n{done.stdout!r}{done.stderr!r}")
                    return
        promote = []
        for _ in range(runs):
            project = work / "bench"
            shutil.rmtree(project, ignore_errors=True)
            shutil.copytree(pristine, project)
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "scaffold", "promote", "0.5", "--no-run"],
                cwd=project, env=env, capture_output=True, check=False,
            )  # fmt: skip
            promote.append(time.perf_counter() - start)
            if done.returncode != 0:
                print(f"scaffold promote failed:\n{done.stdout!r}{done.stderr!r}")
                return
        samples["promote --no-run"] = promote
    print(f"\n| scaffold extract (median of {runs}) | seconds |")
    print("|---|---:|")
    for flag, found in samples.items():
        command = flag if flag.startswith("promote") else f"extract {flag}"
        label = f"scaffold {command} ({notebooks} notebooks x 30 cells)".replace("  ", " ")
        print(f"| {label} | {statistics.median(found):.3f} |")


SERIAL_LOOP = """
import sys, papermill
for k in range(int(sys.argv[1])):
    papermill.execute_notebook(sys.argv[2], f"{sys.argv[3]}/{k}.ipynb", parameters={"x": k},
                               kernel_name="python3", progress_bar=False, cwd=sys.argv[4])
"""

PAIRS = """
import subprocess, sys
from concurrent.futures import ThreadPoolExecutor
papermill, notebook, out, cwd, runs = sys.argv[1:6]
def one(k):
    subprocess.run([papermill, "--no-progress-bar", "-k", "python3", "--cwd", cwd, notebook,
                    f"{out}/{k}.ipynb", "-p", "x", str(k)], check=True, capture_output=True)
with ThreadPoolExecutor(2) as pool:
    list(pool.map(one, range(int(runs))))
"""


def sweep_bench(runs: int, count: int = 8) -> None:
    """``scaffold run NB --grid x=0..7 -j 2`` vs a serial loop of papermill calls (one
    process) and vs 8 ``papermill`` processes run 2 at a time, on a short notebook in a
    generated project's .venv; the floor is 8 kernel start-ups / 2."""
    import json

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        project = scaffold_project(work)
        env = isolated_env(work)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("VIRTUAL_ENV", None)
        uv = [sys.executable, "-m", "uv"]
        python = project / ".venv" / "bin" / "python"
        subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(project / ".venv")],
                       env=env, check=True)  # fmt: skip
        subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), "-e",
                        f"{project}[dev]"], env=env, check=True, cwd=project)  # fmt: skip
        sources = ["x: int = 0", "import math", "value = math.sqrt(x)", "print(value)"]
        nb = {
            "cells": [
                {"cell_type": "code", "execution_count": None, "id": f"c{i}",
                 "metadata": {"tags": ["parameters"]} if i == 0 else {}, "outputs": [],
                 "source": source}
                for i, source in enumerate(sources)
            ],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }  # fmt: skip
        notebook = project / "notebooks" / "2.0-ab-short.ipynb"
        notebook.write_text(json.dumps(nb, indent=1) + "\n")
        out = work / "out"
        out.mkdir()
        grid = ",".join(str(k) for k in range(count))
        scaffold = [
            sys.executable,
            "-m",
            "scaffold",
            "run",
            "2.0",
            "--grid",
            f"x={grid}",
            "-j",
            "2",
        ]
        done = subprocess.run(scaffold, cwd=project, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"scaffold run --grid failed:\n{done.stdout}{done.stderr}")
            return
        kernel = (
            "from jupyter_client.manager import start_new_kernel; "
            "km, kc = start_new_kernel(kernel_name='python3'); "
            "kc.execute_interactive('pass', timeout=60); kc.stop_channels(); "
            "km.shutdown_kernel(now=True)"
        )
        cwd = str(project / "notebooks")
        one_kernel = _median_run([str(python), "-c", kernel], project / "notebooks", env, runs)
        papermill = str(project / ".venv" / "bin" / "papermill")
        cases = {
            f"floor: {count} kernel start-ups / 2": one_kernel * count / 2,
            f"scaffold run --grid ({count} runs) -j 2": _median_run(scaffold, project, env, runs),
            f"{count} papermill processes, 2 at a time": _median_run(
                [str(python), "-c", PAIRS, papermill, str(notebook), str(out), cwd, str(count)],
                project, env, runs,
            ),
            f"serial loop of {count} papermill calls (one process)": _median_run(
                [str(python), "-c", SERIAL_LOOP, str(count), str(notebook), str(out), cwd],
                project, env, runs,
            ),
            f"scaffold run --grid ({count} runs) -j 1": _median_run(
                [*scaffold[:-1], "1"], project, env, runs
            ),
            "scaffold run --grid --dry-run (planning only)": _median_run(
                [*scaffold, "--dry-run"], project, env, runs
            ),
        }  # fmt: skip
    base = cases[f"{count} papermill processes, 2 at a time"]
    print(f"\n| sweeps (median of {runs}) | seconds | vs papermill x{count}, 2 at a time |")
    print("|---|---:|---:|")
    for name, seconds in cases.items():
        print(f"| {name} | {seconds:.3f} | {seconds / base:.2f}x |")
    # scaffold -j 1 against the same runs in one papermill process (each a kernel start and
    # its cells): what scaffold adds per run, beyond its fixed start (the dry run)
    serial = cases[f"serial loop of {count} papermill calls (one process)"]
    single = cases[f"scaffold run --grid ({count} runs) -j 1"]
    fixed = cases["scaffold run --grid --dry-run (planning only)"]
    print(f"one kernel start-up (new process): {one_kernel:.3f} s; one run in the serial "
          f"papermill loop: {serial / count:.3f} s; scaffold -j 1 per run beyond that: "
          f"{(single - fixed - serial) / count:.3f} s; load {os.getloadavg()[0]:.1f}")  # fmt: skip


def _queue_project(work: Path, env: dict[str, str]) -> tuple[Path, str]:
    """A project with git, DVC and its .venv, and one committed production notebook (a DVC
    stage) whose parameters cell has ``x``, which its params file does not (yet)."""
    import json

    subprocess.run([*NEW, "--no-pre-commit"], cwd=work, env=env, check=True, capture_output=True)
    project = work / "bench"
    uv = [sys.executable, "-m", "uv"]
    python = project / ".venv" / "bin" / "python"
    subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(project / ".venv")],
                   env=env, check=True)  # fmt: skip
    subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), "-e",
                    f"{project}[dev]"], env=env, check=True, cwd=project)  # fmt: skip
    made = subprocess.run([*SCAFFOLD, "add", "notebook", "--production", "queued"], cwd=project,
                          env=env, check=True, capture_output=True, text=True)  # fmt: skip
    stem = made.stdout.splitlines()[0].removeprefix("create notebooks/").removesuffix(".ipynb")
    path = project / "notebooks" / f"{stem}.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["id"] == "parameters":
            cell["source"] = "".join(cell["source"]) + "\nx: int = 0\n"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    # the same notebook outside the pipeline: the local pool runs it
    (project / "notebooks" / "9.0-ab-pooled.ipynb").write_text(path.read_text())
    if os.environ.get("BENCH_X_IN_PARAMS"):  # for a scaffold whose queue needs it there
        with (project / "params" / f"{stem}.yaml").open("a") as params:
            params.write("x: 0\n")
    (project / "data" / "raw" / "sample.csv").write_text("x,y\n1,2\n")
    subprocess.run([str(python), "-m", "dvc", "add", "-q", "data/raw/sample.csv"], cwd=project,
                   env=env, check=True)  # fmt: skip
    for args in (["add", "-A"], ["commit", "-q", "-m", "a stage"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True)
    return project, stem


def queue_bench(runs: int, count: int = 4) -> None:
    """Per-run cost of a sweep of a DVC stage (each run a DVC experiment; through DVC's
    experiment queue before, now the pool and ``dvc exp save``) against the local pool, the
    same notebook (a production notebook of a fresh project) at -j 2."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = isolated_env(work)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("VIRTUAL_ENV", None)
        project, stem = _queue_project(work, env)
        grid = ["--grid", "x=" + ",".join(str(k) for k in range(count)), "-j", "2"]
        queue = [*SCAFFOLD, "run", stem, *grid]
        done = subprocess.run(queue, cwd=project, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"scaffold run --grid (DVC stage) failed:\n{done.stdout}{done.stderr}")
            return
        cases = {
            f"local pool, {count} runs -j 2": _median_run(
                [*SCAFFOLD, "run", "9.0", *grid], project, env, runs
            ),
            f"DVC stage (each run a DVC experiment), {count} runs -j 2": _median_run(
                queue, project, env, runs
            ),
        }
    print(f"\n| sweep backends (median of {runs}) | seconds | per run | vs local pool |")
    print("|---|---:|---:|---:|")
    base = cases[f"local pool, {count} runs -j 2"]
    for name, seconds in cases.items():
        print(f"| {name} | {seconds:.2f} | {seconds / count:.2f} | {seconds / base:.2f}x |")
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
