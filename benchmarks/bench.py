"""Time scaffold's commands against peers in one run: medians and ratios.

    python benchmarks/bench.py [--runs 7]

Peers that are not installed (ccds, kedro, putup, copier) are skipped. Every case runs in a
fresh temporary folder with an isolated HOME and git identity. Not a test: machines differ.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    beside = BIN / name
    return str(beside) if beside.exists() else shutil.which(name)


def isolated_env(home: Path) -> dict[str, str]:
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n")
    return {
        **os.environ,
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1",
    }


def time_command(make_args: Callable[[Path], list[str]], runs: int) -> float:
    """Median wall time of a command, each run in a new temporary folder."""
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            env = isolated_env(work)
            args = make_args(work)
            start = time.perf_counter()
            subprocess.run(args, cwd=work, env=env, check=True, capture_output=True)
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def scaffold_project(work: Path) -> Path:
    env = isolated_env(work)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "scaffold",
            "new",
            "Bench",
            "--no-input",
            "--no-dvc",
            "--no-pre-commit",
            "--no-git",
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return work / "bench"


def cases() -> dict[str, Callable[[Path], list[str]] | None]:
    scaffold = [sys.executable, "-m", "scaffold"]
    cookiecutter, ccds, copier = tool("cookiecutter"), tool("ccds"), tool("copier")
    found: dict[str, Callable[[Path], list[str]] | None] = {
        "python -c pass": lambda w: [sys.executable, "-c", "pass"],
        "scaffold --help": lambda w: [*scaffold, "--help"],
        "cookiecutter --help": (lambda w: [cookiecutter, "--help"]) if cookiecutter else None,
        "copier --help": (lambda w: [copier, "--help"]) if copier else None,
        "ccds --help": (lambda w: [ccds, "--help"]) if ccds else None,
        "scaffold new (render only)": lambda w: [
            *scaffold,
            "new",
            "Bench",
            "--no-input",
            "--no-git",
            "--no-dvc",
            "--no-pre-commit",
        ],
        "cookiecutter (render only, no hooks)": (
            lambda w: [cookiecutter, str(REPO / "template"), "--no-input", "--accept-hooks", "no"]
        )
        if cookiecutter
        else None,
        "scaffold new (git + commit)": lambda w: [
            *scaffold,
            "new",
            "Bench",
            "--no-input",
            "--no-dvc",
            "--no-pre-commit",
        ],
        "scaffold new (full: git, dvc, pre-commit)": lambda w: [
            *scaffold,
            "new",
            "Bench",
            "--no-input",
        ],
    }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results: dict[str, float] = {}
    for name, make_args in cases().items():
        if make_args is None:
            continue
        results[name] = time_command(make_args, args.runs)
    results["scaffold add notebook"] = _time_add_notebook(args.runs)
    results["scaffold export airflow (100 stages)"] = _time_export_airflow(args.runs)
    base = results.get("cookiecutter --help")
    print(f"| case (median of {args.runs}) | seconds | vs cookiecutter --help |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        ratio = f"{seconds / base:.2f}x" if base else "-"
        print(f"| {name} | {seconds:.3f} | {ratio} |")


def _time_add_notebook(runs: int) -> float:
    """``scaffold add notebook`` inside a project (the project is made outside the timing)."""
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            project = scaffold_project(Path(folder))
            env = isolated_env(Path(folder))
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "scaffold", "add", "notebook", "clean data"],
                cwd=project,
                env=env,
                capture_output=True,
                check=False,
            )
            samples.append(time.perf_counter() - start)
            if done.returncode != 0:  # command not available in this version
                return float("nan")
    return statistics.median(samples)


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


def _time_export_airflow(runs: int) -> float:
    """``scaffold export airflow`` on a 100-stage dvc.yaml (set up outside the timing)."""
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            project = scaffold_project(Path(folder))
            hundred_stage_pipeline(project)
            env = isolated_env(Path(folder))
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "scaffold", "export", "airflow"],
                cwd=project,
                env=env,
                capture_output=True,
                check=False,
            )
            samples.append(time.perf_counter() - start)
            if done.returncode != 0:  # command not available in this version
                return float("nan")
    return statistics.median(samples)


if __name__ == "__main__":
    main()
