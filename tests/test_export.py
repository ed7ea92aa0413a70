"""`scaffold export airflow|dagster|kubeflow|prefect`: the dvc.yaml pipeline as an
orchestrator's file.

Fast tests read and write small projects in-process. The slow tests run the exports for real:
a real Airflow (SQLite metadata database in a temporary AIRFLOW_HOME, `airflow dags test`),
a real Dagster (`dagster asset materialize --select '*'`), the real kfp compiler and KFP's
local runner (`kfp.local.SubprocessRunner`, no cluster) and a real Prefect flow run (its
ephemeral API server on 127.0.0.1, no server to start), each in its own venv built once per
session with uv and the shared cache (kfp and Prefect resolve together and share one), and
compare what they executed with what `dvc repro` executed: the same notebooks with the same
injected parameters, and a graduated script stage (`python -m <pkg>.pipelines.<stem>`) run
as its cmd.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.errors import ScaffoldError
from scaffold.export import (
    AIRFLOW_PAPERMILL_VERSION,
    AIRFLOW_VERSION,
    DAGSTER_VERSION,
    KFP_VERSION,
    PREFECT_VERSION,
    TARGETS,
    export,
    is_untouched,
    plan_tasks,
)
from scaffold.pipeline import pipeline_notebooks, pipeline_stages
from scaffold.project import Project
from tests.churn import OUTS as CHURN_OUTS
from tests.churn import STEM as CHURN
from tests.churn import production_notebook
from tests.conftest import (
    UV_CACHE_DIR,
    fixture_git,
    isolated_environment,
    listing,
    new_project,
    project_venv,
    run_scaffold,
)

MAKE = "1.1-t-make-numbers"
SUM = "1.2-t-sum-numbers"

# Three stages, listed out of order: sum_numbers reads make_numbers' output, copy_total (a
# plain command) reads sum_numbers' output. cmd layouts: folded (>-), one line, plain multi-line.
DVC_YAML = f"""\
stages:
  make_numbers:
    cmd: >-
      papermill --no-progress-bar --cwd notebooks
      notebooks/{MAKE}.ipynb
      reports/{MAKE}.ipynb
      -f params/{MAKE}.yaml
    deps:
      - notebooks/{MAKE}.ipynb
    params:
      - params/{MAKE}.yaml:
    outs:
      - reports/{MAKE}.ipynb
      - data/interim/numbers.txt
  copy_total:
    cmd: cp data/processed/total.txt data/processed/total-copy.txt
    deps:
      - data/processed/total.txt
    outs:
      - data/processed/total-copy.txt
  sum_numbers:
    cmd: papermill --cwd notebooks notebooks/{SUM}.ipynb reports/{SUM}.ipynb
      -f params/{SUM}.yaml -p offset 1
    deps:
      - notebooks/{SUM}.ipynb
      - data/interim/numbers.txt
    params:
      - params/{SUM}.yaml:
    outs:
      - reports/{SUM}.ipynb
      - data/processed/total.txt
"""


def notebook(parameters: str, body: str) -> str:
    """A two-cell notebook: a `parameters` cell and a body, with the python3 kernelspec."""
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "parameters",
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": parameters,
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "body",
            "metadata": {},
            "outputs": [],
            "source": body,
        },
    ]
    metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5})


def make_pipeline(root: Path) -> None:
    """Two notebooks (stage 2 reads what stage 1 writes, from notebooks/ as cwd), their
    parameters files (one value looks like a Jinja template: it must arrive as written)."""
    (root / "notebooks").mkdir(exist_ok=True)
    (root / "params").mkdir(exist_ok=True)
    (root / "notebooks" / f"{MAKE}.ipynb").write_text(
        notebook(
            'n = 1\nlabel = "x"\n',
            "from pathlib import Path\n"
            'Path("../data/interim").mkdir(parents=True, exist_ok=True)\n'
            'Path("../data/interim/numbers.txt").write_text(" ".join(map(str, range(n))))\n'
            "print(label)\n",
        )
    )
    (root / "notebooks" / f"{SUM}.ipynb").write_text(
        notebook(
            "scale = 1\noffset = 0\n",
            "from pathlib import Path\n"
            'numbers = [int(x) for x in Path("../data/interim/numbers.txt").read_text().split()]\n'
            'Path("../data/processed").mkdir(parents=True, exist_ok=True)\n'
            'Path("../data/processed/total.txt").write_text(str(sum(numbers) * scale + offset))\n',
        )
    )
    (root / "params" / f"{MAKE}.yaml").write_text('n: 4\nlabel: "{{ ds }} raw"\n')
    (root / "params" / f"{SUM}.yaml").write_text("scale: 3\n")
    (root / "dvc.yaml").write_text(DVC_YAML)


@pytest.fixture
def flow_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A minimal project (pyproject.toml beside notebooks/) with the pipeline; the cwd."""
    root = tmp_path / "flow-lab"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "flow-lab"\n\n[tool.ruff]\nline-length = 99\n\n'
        '[tool.ruff.lint]\nextend-select = ["I"]\n'
    )
    make_pipeline(root)
    monkeypatch.chdir(root)
    return root


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="scaffold")
    return result.exit_code, result.stdout, result.stderr


NO_ORCHESTRATOR = sys.executable  # scaffold's test interpreter has neither orchestrator


# -- reading the pipeline ---------------------------------------------------------------------


def test_stages_are_ordered_by_their_deps_and_outs(flow_lab: Path):
    tasks = plan_tasks(flow_lab, "airflow")
    assert [task.id for task in tasks] == ["make_numbers", "sum_numbers", "copy_total"]
    assert {task.id: task.upstream for task in tasks} == {
        "make_numbers": (),
        "sum_numbers": ("make_numbers",),
        "copy_total": ("sum_numbers",),
    }
    by_id = {task.id: task.stage for task in tasks}
    call = by_id["sum_numbers"].papermill
    assert call is not None
    assert (call.notebook, call.report, call.params, call.cwd) == (
        f"notebooks/{SUM}.ipynb",
        f"reports/{SUM}.ipynb",
        f"params/{SUM}.yaml",
        "notebooks",
    )
    assert call.inline == {"offset": 1}  # papermill -p reads 1 as an int
    assert by_id["copy_total"].papermill is None  # a plain command: a shell task


def test_the_richer_reader_agrees_with_pipeline_notebooks(flow_lab: Path):
    stages = [s for s in pipeline_stages(flow_lab) if s.papermill]
    old = pipeline_notebooks(flow_lab)
    assert [
        (s.name, s.papermill.notebook, s.papermill.report, s.papermill.params) for s in stages
    ] == [  # type: ignore[union-attr]
        (n.stage, n.notebook, n.report, n.params) for n in old
    ]


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        (
            "python -m papermill nb/a.ipynb out/a.ipynb --cwd=nb -k py3 -y '{a: 1, b: x}' "
            "-p a 2 -r b 007 -p c True --log-output",
            ("nb/a.ipynb", "out/a.ipynb", None, "nb", "py3", {"a": 2, "b": "007", "c": True}),
        ),
        (
            "uv run papermill a.ipynb b.ipynb --parameters_file p.yaml",
            ("a.ipynb", "b.ipynb", "p.yaml", ".", None, {}),
        ),
    ],
)
def test_papermill_commands_are_read_with_shlex(flow_lab: Path, cmd: str, expected: tuple):
    (flow_lab / "a.ipynb").write_text("{}")
    (flow_lab / "dvc.yaml").write_text(json.dumps({"stages": {"s": {"cmd": cmd}}}))
    call = pipeline_stages(flow_lab)[0].papermill
    assert call is not None
    assert (call.notebook, call.report, call.params, call.cwd, call.kernel, call.inline) == (
        expected
    )


@pytest.mark.parametrize(
    ("dvc_yaml", "message"),
    [
        (None, "no dvc.yaml in the project"),
        ("stages:\n  a: [unclosed\n", "dvc.yaml is not valid YAML (line"),
        (
            "stages:\n  a:\n    cmd: papermill notebooks/gone.ipynb reports/gone.ipynb\n",
            "stage a runs notebooks/gone.ipynb, which is missing.",
        ),
        (
            f"stages:\n  a:\n    cmd: papermill notebooks/{MAKE}.ipynb r/a.ipynb\n"
            "    deps: [data/b]\n    outs: [data/a]\n"
            f"  b:\n    cmd: papermill notebooks/{SUM}.ipynb r/b.ipynb\n"
            "    deps: [data/a/part]\n    outs: [data/b]\n",
            "dvc.yaml has a dependency cycle: a -> b -> a.",
        ),
        (
            "stages:\n  a:\n    foreach: [1, 2]\n    do:\n      cmd: echo ${item}\n",
            "stage a uses foreach/matrix",
        ),
        (
            "stages:\n  a:\n    cmd: papermill x.ipynb y.ipynb --engine odd\n",
            "stage a: scaffold cannot export papermill's --engine option",
        ),
        (
            "stages:\n  a:\n    cmd: echo hi\n    deps: [../../etc/passwd]\n",
            "stage a names '../../etc/passwd', which is outside the project.",
        ),
    ],
)
def test_bad_pipelines_get_one_sentence_and_nothing_is_written(
    flow_lab: Path, dvc_yaml: str | None, message: str
):
    if dvc_yaml is None:
        (flow_lab / "dvc.yaml").unlink()
    else:
        (flow_lab / "dvc.yaml").write_text(dvc_yaml)
    before = listing(flow_lab)
    for target in TARGETS:
        code, out, err = cli("export", target)
        assert code == 1, out
        assert err.startswith("error: ") and message in err, err
        assert "Traceback" not in err and err.count("\n") == 1
    assert listing(flow_lab) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schedule", "every day"], "--schedule expects a cron expression"),
        (["--schedule", "60 25 * * *"], "--schedule '60 25 * * *': minute '60' is outside 0-59."),
        (["--schedule", "0 3 0 * *"], "day '0' is outside 1-31."),
        (["--schedule", "*/0 * * * *"], "minute '*/0'"),
        (["--dag-id", ""], "--dag-id is empty; give an id, or leave the option out"),
        (["--dag-id", "my dag"], "--dag-id 'my dag': use letters"),
        (["--output", "../elsewhere"], "must be inside the project"),
    ],
)
def test_bad_options_are_refused(flow_lab: Path, args: list[str], message: str):
    code, _, err = cli("export", "airflow", *args)
    assert code == 1 and message in err, err
    assert not (flow_lab / "dags").exists() and not (flow_lab.parent / "elsewhere").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--image", "my image"], "--image 'my image' is not an image reference"),
        (["--image", "$(touch PWNED)"], "is not an image reference"),
        (["--output", "../elsewhere"], "must be inside the project"),
    ],
)
def test_bad_kubeflow_options_are_refused(flow_lab: Path, args: list[str], message: str):
    before = listing(flow_lab)
    code, _, err = cli("export", "kubeflow", *args)
    assert code == 1 and message in err, err
    assert listing(flow_lab) == before and not (flow_lab / "PWNED").exists()


# -- the files --------------------------------------------------------------------------------


def test_the_airflow_file_names_its_tasks_and_says_where_the_project_is(flow_lab: Path):
    result = export(
        Project(flow_lab), "airflow", dag_id="nightly", schedule="0 3 * * *", python=NO_ORCHESTRATOR
    )
    assert result.path == flow_lab / "dags" / "flow-lab.py"
    text = result.path.read_text()
    tree = ast.parse(text)
    assigned = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    assert assigned["DAG_ID"] == "nightly" and assigned["SCHEDULE"] == "0 3 * * *"
    assert "FLOW_LAB_PROJECT_ROOT" in text and "flow_lab_project_root" in text
    assert "Path(__file__).resolve().parents[1]" in text
    assert text.count("NotebookStage(\n") == 2 and text.count("ShellStage(\n") == 1
    assert 'tasks["make_numbers"] >> tasks["sum_numbers"]' in text
    assert 'tasks["sum_numbers"] >> tasks["copy_total"]' in text
    assert result.missing[:2] == ("apache-airflow", "apache-airflow-providers-papermill")
    assert f"apache-airflow=={AIRFLOW_VERSION}" in result.install
    assert f"apache-airflow-providers-papermill=={AIRFLOW_PAPERMILL_VERSION}" in result.install
    assert "constraints-" in result.install


def test_the_export_says_how_to_install_a_missing_orchestrator(flow_lab: Path):
    venv = flow_lab / ".venv"  # the project's own environment, without Dagster
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    code, out, _ = cli("export", "dagster")
    assert code == 0
    assert "create pipelines/flow-lab.py" in out
    assert "3 assets (2 notebooks, 1 shell) from dvc.yaml" in out
    assert "The project's Python lacks dagster, papermill, pyyaml, ipykernel" in out
    assert f'pip install "dagster=={DAGSTER_VERSION}"' in out
    assert out.splitlines()[-1].startswith("Next: dagster dev -f pipelines/flow-lab.py")


def test_every_target_says_what_it_wrote_and_what_comes_next(flow_lab: Path):
    for target in TARGETS:
        code, out, _ = cli("export", target)
        assert code == 0, out
        lines = out.splitlines()
        assert lines[0].startswith("create "), out
        assert (flow_lab / lines[0].split()[1]).is_file()
        assert lines[-1].startswith("Next: ") and lines[0].split()[1] in lines[-1], out


def test_only_the_executed_notebooks_name_is_an_airflow_template(flow_lab: Path):
    """A `{{ ... }}` in a notebook's file name must not be rendered by Airflow at run time."""
    text = export(Project(flow_lab), "airflow", python=NO_ORCHESTRATOR).path.read_text()
    stage_class = next(
        node
        for node in ast.parse(text).body
        if isinstance(node, ast.ClassDef) and node.name == "NotebookStage"
    )
    fields = next(
        node.value
        for node in stage_class.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "template_fields"
    )
    assert ast.literal_eval(fields) == ("output_nb",)


def test_values_are_data_in_the_generated_source(flow_lab: Path):
    tricky = 'echo "it\'s {{ ds }}" """ \\n done'
    (flow_lab / "dvc.yaml").write_text(json.dumps({"stages": {"odd": {"cmd": tricky}}}))
    for target in TARGETS:
        path = export(Project(flow_lab), target, python=NO_ORCHESTRATOR).path  # type: ignore[arg-type]
        constants = {
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant)
        }
        assert tricky in constants


def test_names_paths_and_parameters_are_literals_in_every_target(flow_lab: Path):
    """A stage name, a notebook file name and a -p value that look like code stay data."""
    odd_name = 'nb"); import os; os.system("touch PWNED") #'
    (flow_lab / "notebooks" / f"{odd_name}.ipynb").write_text(notebook("x = 1\n", "print(x)\n"))
    value = "'''; __import__('os').system('touch PWNED') #"
    cmd = f"papermill 'notebooks/{odd_name}.ipynb' 'reports/{odd_name}.ipynb' -p x \"{value}\""
    stage = {"cmd": cmd, "outs": [f"data/{odd_name}"]}
    (flow_lab / "dvc.yaml").write_text(json.dumps({"stages": {'odd"stage': stage}}))
    for target in TARGETS:
        path = export(Project(flow_lab), target, python=NO_ORCHESTRATOR).path  # type: ignore[arg-type]
        tree = ast.parse(path.read_text())
        constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert {f"notebooks/{odd_name}.ipynb", value} <= constants, target
        calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert not any("system" in call or "__import__" in call for call in calls), target
    assert not (flow_lab / "PWNED").exists()


def test_a_graduated_script_stage_runs_its_cmd_as_is_in_every_target(flow_lab: Path):
    cmd = "python -m flow_lab.pipelines.double_total --params params/double-total.yaml"
    with (flow_lab / "dvc.yaml").open("a") as handle:
        handle.write(
            f"  double_total:\n    cmd: {cmd}\n    deps: [data/processed/total.txt]\n"
            "    outs: [data/processed/double.txt]\n"
        )
    for target in TARGETS:
        code, out, _ = cli("export", target)
        assert code == 0 and "4 " in out and "(2 notebooks, 1 script, 1 shell)" in out, out
        path = flow_lab / out.split()[1]
        constants = [
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant)
        ]
        assert cmd in constants, target
    tasks = {task.id: task for task in plan_tasks(flow_lab, "prefect")}
    assert tasks["double_total"].kind == "script"
    assert tasks["double_total"].upstream == ("sum_numbers",)


def test_the_generated_files_are_ruff_clean(flow_lab: Path):
    folders = []
    for target, spec in TARGETS.items():
        export(Project(flow_lab), target, python=NO_ORCHESTRATOR)  # type: ignore[arg-type]
        folders.append(spec.folder)
    ruff = [sys.executable, "-m", "ruff"]
    for args in (["format", "--check", "--diff"], ["check"]):
        done = subprocess.run(
            [*ruff, *args, *folders], cwd=flow_lab, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_many_long_upstream_stages_stay_ruff_clean(flow_lab: Path):
    """Real pipelines have stages with several upstream stages and long names."""
    firsts = [f"prepare_the_{what}_data_for_training" for what in ("image", "label", "split")]
    stages: dict[str, dict[str, object]] = {
        name: {"cmd": f"python src/{name}.py", "outs": [f"artifacts/{name}"]} for name in firsts
    }
    stages["train"] = {
        "cmd": "python src/train.py",
        "deps": [f"artifacts/{name}" for name in firsts],
        "outs": ["models/model.pkl"],
    }
    values = " ".join(f"-p a_rather_long_parameter_name_{i} {i}" for i in range(6))
    stages["report"] = {
        "cmd": f"papermill notebooks/{MAKE}.ipynb reports/{MAKE}.ipynb {values}",
        "deps": ["models/model.pkl"],
        "outs": [f"reports/figures/a_rather_long_figure_name_{i}.png" for i in range(4)],
    }
    (flow_lab / "dvc.yaml").write_text(json.dumps({"stages": stages}))
    folders = []
    for target, spec in TARGETS.items():
        export(Project(flow_lab), target, python=NO_ORCHESTRATOR)  # type: ignore[arg-type]
        folders.append(spec.folder)
    for args in (["format", "--check", "--diff"], ["check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args, *folders],
            cwd=flow_lab,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    upstream = {task.id: task.upstream for task in plan_tasks(flow_lab, "kubeflow")}
    assert upstream["train"] == tuple(firsts) and upstream["report"] == ("train",)


def test_re_export_replaces_only_an_untouched_file(flow_lab: Path):
    code, out, _ = cli("export", "airflow")
    assert code == 0 and out.startswith("create dags/flow-lab.py")
    path = flow_lab / "dags" / "flow-lab.py"
    first = path.read_text()
    assert is_untouched(first)

    code, out, _ = cli("export", "airflow")
    assert code == 0 and out.startswith("unchanged dags/flow-lab.py")

    (flow_lab / "params" / f"{SUM}.yaml").write_text("scale: 5\n")  # parameters: no re-export
    assert cli("export", "airflow")[1].startswith("unchanged")

    code, out, _ = cli("export", "airflow", "--schedule", "@daily")  # the pipeline changed
    assert code == 0 and out.startswith("update dags/flow-lab.py")
    assert is_untouched(path.read_text()) and path.read_text() != first

    edited = path.read_text().replace("catchup=False", "catchup=True")
    path.write_text(edited)
    assert not is_untouched(edited)
    code, _, err = cli("export", "airflow")
    assert code == 1
    assert err == (
        "error: dags/flow-lab.py was changed since scaffold wrote it (or scaffold did not "
        "write it); left it alone. Pass --force to overwrite it.\n"
    )
    assert path.read_text() == edited

    code, out, _ = cli("export", "airflow", "--force")
    assert code == 0 and out.startswith("update dags/flow-lab.py")
    assert path.read_text() == first


def test_a_file_scaffold_did_not_write_is_never_replaced(flow_lab: Path):
    mine = flow_lab / "pipelines" / "flow-lab.py"
    mine.parent.mkdir()
    mine.write_text("# my own definitions\n")
    code, _, err = cli("export", "dagster")
    assert code == 1 and "left it alone" in err
    assert mine.read_text() == "# my own definitions\n"


def test_output_folder_sets_where_the_root_is_found(flow_lab: Path):
    code, out, _ = cli("export", "airflow", "--output", "deploy/airflow/dags")
    assert code == 0 and out.startswith("create deploy/airflow/dags/flow-lab.py")
    text = (flow_lab / "deploy" / "airflow" / "dags" / "flow-lab.py").read_text()
    assert "Path(__file__).resolve().parents[3]" in text


# -- for real: dvc repro, Airflow, Dagster ----------------------------------------------------


def build_venv(folder: Path, *requirements: str) -> Path:
    """A venv with ``requirements`` (uv, shared cache); return its bin folder."""
    uv = [sys.executable, "-m", "uv"]
    env = {**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR}
    subprocess.run([*uv, "venv", "--quiet", "--python", sys.executable, str(folder)], check=True)
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(folder / "bin" / "python"),
            *requirements,
        ],
        check=True,
        env=env,
    )
    return folder / "bin"


CHURN_COMMAND = (
    f"python -m flow_lab.pipelines.train_churn --cwd notebooks --params params/{CHURN}.yaml"
)
# What the graduated churn stage imports (the project is installed without its dependencies).
GRADUATED_NEEDS = ("pandas", "scikit-learn", "python-dotenv")


@pytest.fixture(scope="session")
def airflow_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Airflow and its papermill provider at the versions the export pins."""
    return build_venv(
        tmp_path_factory.mktemp("airflow-venv") / "venv",
        f"apache-airflow=={AIRFLOW_VERSION}",
        f"apache-airflow-providers-papermill=={AIRFLOW_PAPERMILL_VERSION}",
        "ipykernel",
        *GRADUATED_NEEDS,
    )


@pytest.fixture(scope="session")
def kfp_prefect_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kfp and Prefect at the pinned versions (uv resolves them together, so one venv serves
    both tests), with what the stages import; pip, because a lightweight KFP component checks
    its kfp with pip before it starts."""
    return build_venv(
        tmp_path_factory.mktemp("kfp-prefect-venv") / "venv",
        f"kfp=={KFP_VERSION}",
        f"prefect=={PREFECT_VERSION}",
        "papermill",
        "ipykernel",
        "pyyaml",
        "pip",
        *GRADUATED_NEEDS,
    )


def install_project(bin_folder: Path, root: Path) -> None:
    """The project, editable and without its dependencies, into an orchestrator's venv (as
    the deployment docs say), so that a script stage's `python -m <pkg>...` finds it."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python",
            str(bin_folder / "python"),
            "-e",
            str(root),
        ],
        check=True,
        env={**os.environ, "UV_CACHE_DIR": UV_CACHE_DIR},
    )


@pytest.fixture(scope="session")
def dagster_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dagster at the pinned version, with papermill and a kernel (no dagstermill)."""
    return build_venv(
        tmp_path_factory.mktemp("dagster-venv") / "venv",
        f"dagster=={DAGSTER_VERSION}",
        "papermill",
        "ipykernel",
        "pyyaml",
        *GRADUATED_NEEDS,
    )


@dataclass(frozen=True)
class Flow:
    """A generated project whose pipeline ``dvc repro`` ran, with its injected cells."""

    root: Path
    injected: dict[str, str]  # notebook stem -> the injected-parameters cell's source
    churn: dict[str, bytes]  # the graduated churn stage's outputs, as `dvc repro` wrote them


def injected_cell(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    found = [
        "".join(cell["source"])
        for cell in cells
        if "injected-parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    assert len(found) == 1, path
    return found[0]


SCRIPT_STAGE = """\
  double_total:
    cmd: python -m flow_lab.pipelines.double_total --params params/double-total.yaml
    deps:
      - data/processed/total.txt
      - src/flow_lab/pipelines/double_total.py
    params:
      - params/double-total.yaml:
    outs:
      - data/processed/double.txt
"""


def add_script_stage(root: Path) -> None:
    """A graduated stage: a module of the project's package run with its params file."""
    package = root / "src" / "flow_lab" / "pipelines"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "double_total.py").write_text(
        "import argparse\n"
        "from pathlib import Path\n\n"
        "import yaml\n\n"
        "parser = argparse.ArgumentParser()\n"
        'parser.add_argument("--params", required=True)\n'
        "params = yaml.safe_load(Path(parser.parse_args().params).read_text())\n"
        'total = int(Path("data/processed/total.txt").read_text())\n'
        'Path("data/processed/double.txt").write_text(str(total * params["factor"]))\n'
    )
    (root / "params" / "double-total.yaml").write_text("factor: 2\n")
    with (root / "dvc.yaml").open("a") as handle:
        handle.write(SCRIPT_STAGE)


def clear_outputs(root: Path) -> None:
    for folder in ("data/interim", "data/processed"):
        for path in (root / folder).glob("*.txt"):
            path.unlink()
    for out in CHURN_OUTS:
        (root / out).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    """``scaffold new`` (git + DVC), the pipeline committed, its .venv, ``dvc repro`` run."""
    root = new_project(tmp_path_factory, "export-flow", "Flow Lab", extras=None)
    with isolated_environment(tmp_path_factory):
        for stale in (root / "notebooks").glob("*.ipynb"):
            stale.unlink()
        make_pipeline(root)
        add_script_stage(root)
        # the churn notebook (pandas and scikit-learn), graduated below by `scaffold graduate`
        pyproject = root / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text().replace(
                '"python-dotenv",', '"python-dotenv",\n    "scikit-learn",'
            )
        )
        production_notebook(root, "flow_lab")
        fixture_git("add", "--all", cwd=root)
        fixture_git("commit", "--quiet", "--no-verify", "-m", "pipeline", cwd=root)
        python = project_venv(root)
        run_scaffold("run", "--all", cwd=root)
        assert (root / "data" / "processed" / "total.txt").read_text() == "19"
        assert (root / "data" / "processed" / "double.txt").read_text() == "38"
        injected = {stem: injected_cell(root / "reports" / f"{stem}.ipynb") for stem in (MAKE, SUM)}
        assert injected[MAKE] == '# Parameters\nn = 4\nlabel = "{{ ds }} raw"\n'
        assert injected[SUM] == "# Parameters\nscale = 3\noffset = 1\n"
        graduated = run_scaffold("graduate", CHURN, "--python", str(python), cwd=root)
        assert "same data/processed/customers.csv: identical" in graduated.stdout
        assert CHURN_COMMAND in (root / "dvc.yaml").read_text()
        fixture_git("add", "--all", cwd=root)
        fixture_git("commit", "--quiet", "--no-verify", "-m", "graduate churn", cwd=root)
        churn = {out: (root / out).read_bytes() for out in CHURN_OUTS}
        clear_outputs(root)
        yield Flow(root, injected, churn)


def run_reports(reports: Path, known: set[str]) -> Path:
    """The one per-run folder of executed notebooks in ``reports`` that is not in ``known``."""
    runs = [p for p in reports.iterdir() if p.is_dir() and p.name not in known]
    assert len(runs) == 1, runs
    return runs[0]


def assert_same_as_dvc_repro(flow: Flow, run: Path) -> None:
    assert sorted(p.name for p in run.glob("*.ipynb")) == [f"{MAKE}.ipynb", f"{SUM}.ipynb"]
    for stem, source in flow.injected.items():
        assert injected_cell(run / f"{stem}.ipynb") == source
    assert (flow.root / "data" / "processed" / "total.txt").read_text() == "19"
    assert (flow.root / "data" / "processed" / "total-copy.txt").read_text() == "19"
    assert (flow.root / "data" / "processed" / "double.txt").read_text() == "38"
    assert_churn_as_dvc_repro(flow.root, flow)


def assert_churn_as_dvc_repro(outputs: Path, flow: Flow) -> None:
    """The graduated churn stage ran: its processed CSV as `dvc repro` wrote it (numbers
    within graduate's tolerance: the orchestrator's venv may hold other library versions) and
    a model written anew."""
    from scaffold.graduate import compare

    reference = outputs.parent / "churn-reference.csv"
    reference.write_bytes(flow.churn[CHURN_OUTS[0]])
    try:
        same = compare(reference, outputs / CHURN_OUTS[0])
    finally:
        reference.unlink()
    assert same == "identical" or same.startswith("equal within"), same
    assert (outputs / CHURN_OUTS[1]).stat().st_size > 0


def last_json(output: str) -> list[dict[str, str]]:
    """The JSON list an Airflow command prints after its log lines."""
    line = output.strip().splitlines()[-1] if output.strip() else ""
    return [] if line == "No data found" else list(json.loads(line))


@pytest.mark.slow
def test_airflow_runs_the_exported_dag(flow: Flow, airflow_bin: Path, tmp_path: Path):
    root = flow.root
    install_project(airflow_bin, root)
    run_scaffold("export", "airflow", "--dag-id", "flow_lab", cwd=root)
    known = {p.name for p in (root / "reports").iterdir()}
    env = {
        **os.environ,
        "PATH": f"{airflow_bin}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # a loaded machine takes minutes to import Airflow itself; the default budget is 30 s
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "900",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": "http://127.0.0.1:8080",
    }
    env.pop("VIRTUAL_ENV", None)

    def airflow(*args: str) -> str:
        done = subprocess.run(
            [str(airflow_bin / "airflow"), *args],
            env=env,
            cwd=tmp_path,  # not the project: the DAG must find it by itself
            capture_output=True,
            text=True,
            timeout=900,  # a loaded machine: 8 engineers share 2 cores
        )
        assert done.returncode == 0, (
            f"airflow {args}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
        return done.stdout

    airflow("db", "migrate")
    airflow("dags", "reserialize")
    errors = last_json(airflow("dags", "list-import-errors", "-o", "json"))
    assert errors == [], errors
    assert [dag["dag_id"] for dag in last_json(airflow("dags", "list", "-o", "json"))] == [
        "flow_lab"
    ]
    airflow("dags", "test", "flow_lab")
    assert_same_as_dvc_repro(flow, run_reports(root / "reports", known))
    clear_outputs(root)

    # A copy outside the project finds it through the Airflow Variable (here from the
    # environment, as Airflow's AIRFLOW_VAR_* convention allows), read while parsing.
    elsewhere = tmp_path / "elsewhere" / "flow_lab_dag.py"
    elsewhere.parent.mkdir()
    shutil.copy(root / "dags" / "flow-lab.py", elsewhere)
    probe = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('dag_copy', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.PROJECT_ROOT)\n"
    )
    shown = subprocess.run(
        [str(airflow_bin / "python"), "-c", probe, str(elsewhere)],
        env={**env, "AIRFLOW_VAR_FLOW_LAB_PROJECT_ROOT": str(root)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert shown.stdout.strip().splitlines()[-1:] == [str(root)], shown.stderr[-2000:]


@pytest.mark.slow
def test_dagster_materializes_the_exported_assets(flow: Flow, dagster_bin: Path, tmp_path: Path):
    root = flow.root
    install_project(dagster_bin, root)
    run_scaffold("export", "dagster", cwd=root)
    runs = tmp_path / "runs"  # the reports folder from the environment, not reports/
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    env = {
        **os.environ,
        "PATH": f"{dagster_bin}{os.pathsep}{os.environ['PATH']}",
        "DAGSTER_HOME": str(dagster_home),
        "FLOW_LAB_REPORTS_DIR": str(runs),
    }
    env.pop("VIRTUAL_ENV", None)
    definitions = root / "pipelines" / "flow-lab.py"
    done = subprocess.run(
        [str(dagster_bin / "dagster"), "asset", "materialize", "--select", "*", "-f", definitions],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    run = run_reports(runs, set())
    assert_same_as_dvc_repro(flow, run)
    # The executed notebook's path is each asset's metadata.
    probe = (
        "from dagster import AssetKey, DagsterInstance\n"
        "instance = DagsterInstance.get()\n"
        "for name in ('make_numbers', 'sum_numbers'):\n"
        "    event = instance.get_latest_materialization_event(AssetKey(name))\n"
        "    print(event.asset_materialization.metadata['notebook'].value)\n"
    )
    shown = subprocess.run(
        [str(dagster_bin / "python"), "-c", probe], env=env, capture_output=True, text=True
    )
    assert shown.stdout.split() == [str(run / f"{MAKE}.ipynb"), str(run / f"{SUM}.ipynb")], (
        shown.stderr
    )
    clear_outputs(root)


@pytest.mark.slow
def test_the_generated_project_exports_with_make(flow: Flow):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for target, spec in TARGETS.items():
        path = f"{spec.folder}/flow-lab.py"
        done = subprocess.run(
            ["make", f"export-{target}"],
            cwd=flow.root,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            },
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert is_untouched((flow.root / path).read_text())


KFP_LOCAL_RUN = """\
import importlib.util, sys
from kfp import local

spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[3])
module.pipeline(project_root=sys.argv[2])
"""


@pytest.mark.slow
def test_kubeflow_compiles_and_runs_with_kfps_local_runner(
    flow: Flow, kfp_prefect_bin: Path, tmp_path: Path
):
    root = flow.root
    install_project(kfp_prefect_bin, root)
    exported = export(Project(root), "kubeflow", python=str(kfp_prefect_bin / "python"))
    assert exported.missing == () and exported.compiled is not None
    compiled = exported.compiled[0]
    assert compiled == root / "kubeflow" / "flow-lab.yaml" and is_untouched(compiled.read_text())
    import yaml

    dag = yaml.safe_load(compiled.read_text())["root"]["dag"]["tasks"]
    assert dag["stage-sum-numbers"]["dependentTasks"] == ["stage-make-numbers"]
    handed = dag["stage-sum-numbers"]["inputs"]["artifacts"]["from_make_numbers"]
    assert handed["taskOutputArtifact"] == {
        "outputArtifactKey": "outs",
        "producerTask": "stage-make-numbers",
    }
    assert dag["stage-double-total"]["dependentTasks"] == ["stage-sum-numbers"]

    pipeline_root = tmp_path / "kfp-outputs"
    env = {**os.environ, "PATH": f"{kfp_prefect_bin}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        [
            str(kfp_prefect_bin / "python"),
            "-c",
            KFP_LOCAL_RUN,
            str(exported.path),
            root,
            pipeline_root,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    # Stage 2 starts after stage 1 finished, and gets stage 1's outs as its input artifact.
    finished = log.index("'stage-make-numbers'\x1b[0m finished with status")
    assert log.index("Executing task \x1b[96m'stage-sum-numbers'") > finished
    (run,) = pipeline_root.iterdir()
    outs = run / "stage-make-numbers" / "outs" / "data" / "interim" / "numbers.txt"
    assert outs.read_text() == "0 1 2 3"
    assert (run / "stage-sum-numbers" / "outs/data/processed/total.txt").read_text() == "19"
    assert (run / "stage-double-total" / "outs/data/processed/double.txt").read_text() == "38"
    for stem, stage in ((MAKE, "stage-make-numbers"), (SUM, "stage-sum-numbers")):
        assert injected_cell(run / stage / "notebook") == flow.injected[stem]
    (churn,) = (stage for stage in run.iterdir() if stage.name.endswith("train-churn"))
    assert_churn_as_dvc_repro(churn / "outs", flow)
    clear_outputs(root)

    # The compiled YAML is guarded like the module: an edit stops the next export.
    compiled.write_text(compiled.read_text().replace("flow-lab", "edited"))
    edited = compiled.read_text()
    with pytest.raises(ScaffoldError, match=r"kubeflow/flow-lab\.yaml was changed"):
        export(Project(root), "kubeflow", python=str(kfp_prefect_bin / "python"))
    assert compiled.read_text() == edited
    export(Project(root), "kubeflow", python=str(kfp_prefect_bin / "python"), force=True)
    assert is_untouched(compiled.read_text())


@pytest.mark.slow
def test_prefect_runs_the_exported_flow(flow: Flow, kfp_prefect_bin: Path, tmp_path: Path):
    root = flow.root
    install_project(kfp_prefect_bin, root)
    run_scaffold("export", "prefect", cwd=root)
    runs = tmp_path / "runs"
    env = {
        **os.environ,
        "PATH": f"{kfp_prefect_bin}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        # the ephemeral API server starts slowly on a loaded machine
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "FLOW_LAB_REPORTS_DIR": str(runs),
    }
    for name in ("VIRTUAL_ENV", "PREFECT_API_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [str(kfp_prefect_bin / "python"), str(root / "flows" / "flow-lab.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    order = re.findall(r"Task run '(\w+)-\w+' - Finished in state Completed", log)
    assert order == ["make_numbers", "sum_numbers", "copy_total", "double_total"], log[-3000:]
    assert_same_as_dvc_repro(flow, run_reports(runs, set()))
    clear_outputs(root)
