"""The `spark` template option (issue 27): what it renders, and real Spark runs of the example
notebook: `scaffold run` on local[2], a standalone master and worker on 127.0.0.1 started and
stopped by `make spark-start` / `make spark-stop`, and `dvc repro` of the Spark stage. One
project with one pyspark install (the uv cache) serves every slow test."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scaffold.errors import ScaffoldError
from scaffold.generate import new_project
from scaffold.options import resolve_answers
from tests.conftest import isolated_environment, project_venv, run_scaffold
from tests.helpers import free_port

SKIP_ALL = ("git", "dvc", "pre-commit")
STEM = "1.1-yn-spark-aggregation"
STAGE = "1_1-yn-spark-aggregation"


def render(where: Path, **given: str) -> Path:
    """A project rendered in-process without git, DVC or hooks: ``where/<repo_name>``."""
    where.mkdir(parents=True, exist_ok=True)
    return new_project(resolve_answers({"project_name": "Lab", **given}), where, skip=SKIP_ALL)


# -- what the option renders (quick) ----------------------------------------------------------


def test_spark_is_off_by_default_and_leaves_no_trace(tmp_path: Path):
    project = render(tmp_path)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["spark"] == "no"
    assert not (project / "src" / "lab" / "spark.py").exists()
    assert not (project / "tests" / "test_spark.py").exists()
    assert not list((project / "notebooks").glob("*spark*"))
    assert not list((project / "params").glob("*spark*"))
    assert not (project / "binder" / "apt.txt").exists()
    for name in ("pyproject.toml", "Makefile", "README.md", "dvc.yaml", ".gitignore"):
        text = (project / name).read_text().lower()
        # the threshold's comment names Spark as one kind of cluster; nothing else may
        assert "spark" not in text.replace("a spark session", ""), name
    assert "SPARK_MASTER" not in (project / ".env.example").read_text()


def test_spark_yes_renders_the_helper_the_extra_the_notebook_and_its_stage(tmp_path: Path):
    project = render(tmp_path, spark="yes", devcontainer="yes", binder="yes")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["spark"] == "yes"
    spark_py = (project / "src" / "lab" / "spark.py").read_text()
    assert 'APP_NAME = "lab"' in spark_py and 'os.environ.get("SPARK_MASTER"' in spark_py
    pyproject = (project / "pyproject.toml").read_text()
    assert '"pyspark[connect]==4.3.*"' in pyproject.split("spark = [")[1].split("]\n")[0]
    makefile = (project / "Makefile").read_text()
    assert 'pip install -e ".[dev,spark]"' in makefile
    assert "spark-start:" in makefile and "spark-stop:" in makefile
    assert "sbin/start-connect-server.sh" in makefile and "spark-connect-stop:" in makefile
    assert "org.apache.spark.deploy.worker.Worker 1 --host 127.0.0.1" in makefile
    assert (project / "binder" / "requirements.txt").read_text().splitlines()[-1] == (
        "-e .[dev,spark]"
    )
    assert "openjdk-17-jre-headless" in (project / "binder" / "apt.txt").read_text()
    devcontainer = json.loads((project / ".devcontainer" / "devcontainer.json").read_text())
    assert devcontainer["features"] == {"ghcr.io/devcontainers/features/java:1": {"version": "17"}}
    assert "SPARK_MASTER=spark://127.0.0.1:7077" in (project / ".env.example").read_text()
    readme = (project / "README.md").read_text()
    for where in ("local[*]", "spark://HOST:7077", "sc://HOST:15002", "Databricks", "EMR",
                  "Dataproc", "make spark-start"):  # fmt: skip
        assert where in readme.split("## Spark")[1].split("\n## ")[0], where

    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert stages[STAGE]["deps"] == [f"notebooks/{STEM}.ipynb", "src/lab", "data/raw"]
    assert stages[STAGE]["params"] == [{f"params/{STEM}.yaml": None}]
    notebook = json.loads((project / "notebooks" / f"{STEM}.ipynb").read_text())
    parameters = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1
    params = yaml.safe_load((project / "params" / f"{STEM}.yaml").read_text())
    assert set(params) == {"input_file", "group_column", "value_column", "top_groups"}
    assert all(f"{name}:" in "".join(parameters[0]["source"]) for name in params)
    code = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert "get_spark()" in code and "local[" not in code and "spark://" not in code


def test_spark_without_the_example_code_has_the_helper_and_no_notebook(tmp_path: Path):
    project = render(tmp_path, spark="yes", example_code="no", pydata_packages="none")
    assert (project / "src" / "lab" / "spark.py").is_file()
    assert not list((project / "notebooks").glob("*spark*"))
    assert "spark" not in (project / "dvc.yaml").read_text()


def test_spark_needs_a_python_pyspark_supports(tmp_path: Path):
    with pytest.raises(ScaffoldError, match=r"spark=yes needs python_version 3\.11 or newer"):
        render(tmp_path, spark="yes", python_version="3.10")
    assert list(tmp_path.iterdir()) == []


# -- real Spark (slow): one project, one pyspark install --------------------------------------


@pytest.fixture(scope="module")
def spark_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``scaffold new --set spark=yes`` (git and DVC) with .venv holding the dev and spark
    extras, and a small CSV in data/raw."""
    base = tmp_path_factory.mktemp("spark")
    with isolated_environment(tmp_path_factory):
        run_scaffold("new", "Spark Lab", "--no-input", "--no-pre-commit", "--set", "spark=yes",
                     cwd=base)  # fmt: skip
        project = base / "spark-lab"
        project_venv(project, "dev,spark")
        rows = ["group,value", *(f"{'abc'[i % 3]},{i}" for i in range(30))]
        (project / "data" / "raw" / "dataset.csv").write_text("\n".join(rows) + "\n")
    yield project


def in_venv(project: Path, **extra: str) -> dict[str, str]:
    """The environment of a shell with the project's .venv activated (Spark on loopback)."""
    venv = project / ".venv"
    return {
        **os.environ,
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "SPARK_LOCAL_IP": "127.0.0.1",
        **extra,
    }


def executed(project: Path) -> dict[str, str]:
    """The executed copy's text outputs, by cell id."""
    nb = json.loads((project / "reports" / f"{STEM}.ipynb").read_text())
    found = {}
    for cell in nb["cells"]:
        outputs = cell.get("outputs", [])
        texts = ["".join(output.get("data", {}).get("text/plain", "")) for output in outputs]
        found[cell.get("id", "")] = "\n".join(texts)
    return found


@pytest.mark.slow
def test_the_spark_notebook_runs_under_scaffold_run_on_local_2(spark_lab: Path):
    env = in_venv(spark_lab, SPARK_MASTER="local[2]")
    result = run_scaffold("run", "1.1", cwd=spark_lab, env=env)
    assert f"reports/{STEM}.ipynb" in result.stdout
    outputs = executed(spark_lab)
    assert "'local[2]'" in outputs["session"] and "'spark-lab'" in outputs["session"]
    assert outputs["metrics"] == "{'rows': 30, 'groups': 3}"
    assert "Using a demo frame" not in json.dumps(executed(spark_lab))


def master_status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=5) as response:
        data: dict = json.loads(response.read())
        return data


def wait_for(condition, seconds: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = condition()
        except OSError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


def daemon_pids(project: Path) -> list[int]:
    return [int(path.read_text().strip()) for path in (project / ".spark" / "run").glob("*.pid")]


@pytest.fixture
def cluster(spark_lab: Path) -> Iterator[dict[str, int]]:
    """A standalone master and one worker on 127.0.0.1 (make spark-start), stopped after."""
    ports = {"SPARK_PORT": free_port(), "SPARK_UI_PORT": free_port(),
             "SPARK_WORKER_UI_PORT": free_port()}  # fmt: skip
    make_vars = [f"{key}={value}" for key, value in ports.items()]
    env = in_venv(spark_lab, SPARK_WORKER_CORES="1", SPARK_WORKER_MEMORY="1g")
    subprocess.run(["make", "spark-start", *make_vars], cwd=spark_lab, env=env, check=True,
                   capture_output=True, text=True)  # fmt: skip
    started = daemon_pids(spark_lab)
    try:
        yield ports
    finally:
        subprocess.run(["make", "spark-stop", *make_vars], cwd=spark_lab, env=env, check=False,
                       capture_output=True)  # fmt: skip
        for pid in started:  # only if spark-stop did not end them (and the pid is still theirs)
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"org.apache.spark.deploy" in command and str(spark_lab).encode() in command:
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_standalone_cluster_on_loopback_runs_the_same_notebook(
    spark_lab: Path, cluster: dict[str, int]
):
    ui = cluster["SPARK_UI_PORT"]
    wait_for(lambda: master_status(ui)["aliveworkers"] == 1, 180, "the worker to register")
    master = f"spark://127.0.0.1:{cluster['SPARK_PORT']}"
    run_scaffold("run", "1.1", cwd=spark_lab, env=in_venv(spark_lab, SPARK_MASTER=master))
    assert f"'{master}'" in executed(spark_lab)["session"]
    assert executed(spark_lab)["metrics"] == "{'rows': 30, 'groups': 3}"

    apps = wait_for(lambda: master_status(ui)["completedapps"], 60, "the finished application")
    assert [(app["name"], app["state"]) for app in apps] == [("spark-lab", "FINISHED")]
    worker_ui = cluster["SPARK_WORKER_UI_PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{worker_ui}/json/", timeout=5) as response:
        worker = json.loads(response.read())
    assert [e["appid"] for e in worker["finishedexecutors"]] == [apps[0]["id"]]  # ran there


@pytest.mark.slow
def test_dvc_repro_runs_the_spark_stage(spark_lab: Path):
    env = in_venv(spark_lab, SPARK_MASTER="local[2]")
    result = subprocess.run([str(spark_lab / ".venv" / "bin" / "dvc"), "repro", STAGE],
                            cwd=spark_lab, env=env, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Running stage '{STAGE}'" in result.stdout
    lock = yaml.safe_load((spark_lab / "dvc.lock").read_text())
    assert lock["stages"][STAGE]["params"][f"params/{STEM}.yaml"]["top_groups"] == 20
    assert executed(spark_lab)["metrics"] == "{'rows': 30, 'groups': 3}"


@pytest.mark.slow
def test_the_spark_project_passes_its_own_tests_and_checks(spark_lab: Path):
    python = str(spark_lab / ".venv" / "bin" / "python")
    env = in_venv(spark_lab)
    tests = subprocess.run([python, "-m", "pytest", "-q", "-pno:cacheprovider"], cwd=spark_lab,
                           env=env, capture_output=True, text=True)  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "skipped" not in tests.stdout  # the real-session test ran (java is here)
    for lint in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        subprocess.run([python, "-m", *lint], cwd=spark_lab, env=env, check=True)
    checked = run_scaffold("check", cwd=spark_lab, env=env, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_check_run_runs_the_spark_notebook_on_the_master_from_the_environment(spark_lab: Path):
    notebook = f"notebooks/{STEM}.ipynb"
    bad = in_venv(spark_lab, SPARK_MASTER="nosuch://cluster")
    failed = run_scaffold("check", "--run", notebook, cwd=spark_lab, env=bad, check=False)
    # the kernel saw SPARK_MASTER: Spark refused it in the session cell (cell 4)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"{notebook}:4:0: NB001" in failed.stdout
    good = in_venv(spark_lab, SPARK_MASTER="local[1]")
    passed = run_scaffold("check", "--run", notebook, cwd=spark_lab, env=good, check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr


def stop_daemons(project: Path, started: list[int]) -> None:
    """End the Spark daemons a test started that a make target left running (pids checked)."""
    for pid in started:
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"org.apache.spark" in command and str(project).encode() in command:
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_spark_connect_on_loopback_runs_the_same_notebook(spark_lab: Path):
    port = free_port()
    make_vars = [f"SPARK_CONNECT_PORT={port}", "SPARK_CONNECT_MASTER=local[1]"]
    env = in_venv(spark_lab)
    subprocess.run(["make", "spark-connect-start", *make_vars], cwd=spark_lab, env=env,
                   check=True, capture_output=True)  # fmt: skip
    started = daemon_pids(spark_lab)
    try:
        wait_for(lambda: _listening(port), 180, "the Spark Connect server")
        remote = in_venv(spark_lab, SPARK_MASTER=f"sc://127.0.0.1:{port}")
        run_scaffold("run", "1.1", cwd=spark_lab, env=remote)
        outputs = executed(spark_lab)
        assert "'local[1]'" in outputs["session"]  # the server's master, seen through Connect
        assert outputs["metrics"] == "{'rows': 30, 'groups': 3}"
    finally:
        subprocess.run(["make", "spark-connect-stop"], cwd=spark_lab, env=env, check=False,
                       capture_output=True)  # fmt: skip
        stop_daemons(spark_lab, started)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
