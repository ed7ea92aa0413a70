"""`scaffold promote NOTEBOOK`: an exploratory notebook becomes a production one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import listing, project_venv, run_scaffold, scaffold_in_process
from tests.helpers import cell, cells_of, source, write_notebook

SETUP = "%load_ext autoreload\n%autoreload 2\nimport math"
CONSTANTS = 'SEED = 7\nrate: float = 0.5\nlabel = "train"\nsizes = [1, 2, 3]\nframe = make(SEED)'


@pytest.fixture
def churn_lab(plain_lab: Path) -> Path:
    """``plain_lab`` with the exploration notebook ``explore_churn`` to promote."""
    project = plain_lab
    write_notebook(
        project / "notebooks" / "explore_churn.ipynb",
        [
            cell(SETUP, "setup"),
            cell("!echo start\n" + CONSTANTS, "constants"),
            cell("counter = 0\ncounter = counter + 1\nprint(math.sqrt(SEED) * rate, label)", "use"),
            cell("%%bash\necho shell", "shell", tags=["keep"]),
        ],
    )
    return project


def test_promote_builds_the_parameters_cell_params_file_and_stage(churn_lab: Path):
    notebook = churn_lab / "notebooks" / "explore_churn.ipynb"
    before = cells_of(notebook)
    result = scaffold_in_process("promote", "explore_churn", "--no-run", cwd=churn_lab)
    assert result.stdout.splitlines()[:3] == [
        "update notebooks/explore_churn.ipynb",
        "create params/explore_churn.yaml",
        "update dvc.yaml",
    ]
    cells = cells_of(notebook)
    # the parameters cell comes right after the imports, typed as add notebook writes it
    assert cells[1]["metadata"] == {"tags": ["parameters"]} and cells[1]["id"] == "parameters"
    assert source(notebook, 1).splitlines()[2:] == [
        "SEED: int = 7",
        "rate: float = 0.5",
        "sizes: list = [1, 2, 3]",
    ]
    # the clear inputs left their cell; the rest (a shell escape, a non-literal, and a
    # literal that is not clearly an input, suggested) stayed
    assert source(notebook, 2) == '!echo start\nlabel = "train"\nframe = make(SEED)'
    assert 'not lifted, maybe parameters (add with --param NAME): \n  label: str = "train"' in (
        result.stdout
    )
    assert cells[0] == before[0] and cells[3] == before[2] and cells[4] == before[3]
    assert yaml.safe_load((churn_lab / "params" / "explore_churn.yaml").read_text()) == {
        "SEED": 7,
        "rate": 0.5,
        "sizes": [1, 2, 3],
    }
    assert "papermill" in (churn_lab / "dvc.yaml").read_text()
    # the name does not follow the convention: a conventional one is proposed
    assert "the naming convention would call it 1.1-" in result.stdout
    # promoting it again is refused
    again = scaffold_in_process("promote", "explore_churn", "--no-run", cwd=churn_lab, check=False)
    assert again.returncode == 1 and "already a production notebook" in again.stderr


def test_only_the_named_params(churn_lab: Path):
    scaffold_in_process("promote", "explore_churn", "--no-run", "--param", "rate", cwd=churn_lab)
    params = yaml.safe_load((churn_lab / "params" / "explore_churn.yaml").read_text())
    assert params == {"rate": 0.5}
    assert "SEED = 7" in source(churn_lab / "notebooks" / "explore_churn.ipynb", 2)


def test_named_params_join_a_parameters_cell_the_notebook_already_has(churn_lab: Path):
    # every notebook `scaffold add notebook` makes already has one (input_file, seed)
    scaffold_in_process("add", "notebook", "tune", "--author", "ab", cwd=churn_lab)
    notebook = next((churn_lab / "notebooks").glob("*-ab-tune.ipynb"))
    data = json.loads(notebook.read_text())
    data["cells"].append(cell("FACTOR = 3\nprint(FACTOR)", "use-factor"))
    data["cells"].append(cell('NAME = "x"', "only-name"))
    notebook.write_text(json.dumps(data, indent=1) + "\n")
    result = scaffold_in_process("promote", notebook.stem, "--no-run", "--param", "FACTOR",
                          "--param", "NAME", "--param", "seed", cwd=churn_lab)  # fmt: skip
    assert result.stdout.splitlines()[3] == (  # the comments stay in the cell
        'parameters: input_file: str = "dataset.csv", seed: int = 42, FACTOR: int = 3, '
        'NAME: str = "x"'
    )
    cells = cells_of(notebook)
    parameters = next(c for c in cells if c["metadata"].get("tags") == ["parameters"])
    assert "".join(parameters["source"]).splitlines()[-3:] == [
        "seed: int = 42  # random seed: the same seed gives the same results",
        "FACTOR: int = 3",
        'NAME: str = "x"',
    ]
    assert [c["id"] for c in cells][-2:] == ["metrics", "use-factor"]  # only-name was emptied
    assert "".join(cells[-1]["source"]) == "print(FACTOR)"
    params = yaml.safe_load((churn_lab / "params" / f"{notebook.stem}.yaml").read_text())
    assert params == {"input_file": "dataset.csv", "seed": 42, "FACTOR": 3, "NAME": "x"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing", "'missing' is not a top-level assignment"),
        ("counter", "'counter' is assigned more than once or not to a literal value"),
        ("frame", "'frame' is assigned more than once or not to a literal value"),
    ],
)
def test_a_param_that_is_not_a_literal_top_level_assignment_is_refused(
    churn_lab: Path, name: str, message: str
):
    files = listing(churn_lab)
    before = (churn_lab / "notebooks" / "explore_churn.ipynb").read_bytes()
    result = scaffold_in_process(
        "promote", "explore_churn", "--no-run", "--param", name, cwd=churn_lab, check=False
    )
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert listing(churn_lab) == files
    assert (churn_lab / "notebooks" / "explore_churn.ipynb").read_bytes() == before


def test_an_already_production_notebook_is_refused(churn_lab: Path):
    scaffold_in_process(
        "add", "notebook", "train model", "--production", "--author", "ab", cwd=churn_lab
    )
    stem = next(p.stem for p in (churn_lab / "notebooks").glob("*train-model.ipynb"))
    result = scaffold_in_process("promote", stem, "--no-run", cwd=churn_lab, check=False)
    assert result.returncode == 1 and "already a production notebook" in result.stderr


def test_paths_of_literals_become_string_parameters_the_cell_turns_back_into_paths(churn_lab: Path):
    notebook = churn_lab / "notebooks" / "explore_paths.ipynb"
    write_notebook(
        notebook,
        [
            cell("import pathlib\nfrom pathlib import Path", "setup"),
            cell(
                'RAW = Path("data", "raw") / "x.csv"\nOUT = pathlib.Path("reports/out.txt")\n'
                "rate: float = 1\ncount: int | None = 4\nhome = Path.home()\n"
                'mixed = Path("data") / RAW.name',
                "paths",
            ),
        ],
    )
    result = scaffold_in_process("promote", "explore_paths", "--no-run", cwd=churn_lab)
    assert source(notebook, 1).splitlines()[2:] == [
        'RAW: str = "data/raw/x.csv"',
        'OUT: str = "reports/out.txt"',
        "rate: float = 1",  # the type written, when it is a plain one that fits the value
        "count: int = 4",  # never a union: the parameters cell runs on the project's Python
    ]
    # a path is a string parameter (papermill and the params file hold strings); its cell
    # makes it a path again, with the class it was built with
    assert source(notebook, 2) == (
        "RAW = Path(RAW)\nOUT = pathlib.Path(OUT)\nhome = Path.home()\n"
        'mixed = Path("data") / RAW.name'
    )
    assert yaml.safe_load((churn_lab / "params" / "explore_paths.yaml").read_text()) == {
        "RAW": "data/raw/x.csv",
        "OUT": "reports/out.txt",
        "rate": 1,
        "count": 4,
    }
    assert "|" not in result.stdout


def test_a_notebook_without_kernel_metadata_gets_pythons(churn_lab: Path):
    notebook = churn_lab / "notebooks" / "explore_churn.ipynb"
    data = json.loads(notebook.read_text())
    data["metadata"] = {}  # as some editors and generators save it: papermill cannot run it
    notebook.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    scaffold_in_process("promote", "explore_churn", "--no-run", cwd=churn_lab)
    metadata = json.loads(notebook.read_text())["metadata"]
    assert metadata["kernelspec"]["name"] == "python3"
    assert metadata["kernelspec"]["language"] == metadata["language_info"]["name"] == "python"


def test_a_notebook_with_another_language_is_refused(churn_lab: Path):
    notebook = churn_lab / "notebooks" / "explore_churn.ipynb"
    data = json.loads(notebook.read_text())
    data["metadata"] = {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}
    notebook.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    files, before = listing(churn_lab), notebook.read_bytes()
    result = scaffold_in_process("promote", "explore_churn", "--no-run", cwd=churn_lab, check=False)
    assert result.returncode == 1 and "is a R notebook" in result.stderr
    assert listing(churn_lab) == files and notebook.read_bytes() == before


@pytest.mark.slow
def test_promote_runs_it_and_undoes_everything_when_it_fails(churn_lab: Path):
    python = project_venv(churn_lab)
    notebook = churn_lab / "notebooks" / "explore_churn.ipynb"
    data = cells_of(notebook)
    write_notebook(notebook, [c for c in data if c["id"] != "shell"])
    saved = json.loads(notebook.read_text())
    saved["metadata"] = {}  # no kernel metadata: promote gives it Python's, papermill runs it
    notebook.write_text(json.dumps(saved, indent=1, sort_keys=True) + "\n")
    files, before = listing(churn_lab), notebook.read_bytes()
    failed = scaffold_in_process(
        "promote", "explore_churn", "--python", str(python), cwd=churn_lab, check=False
    )
    assert failed.returncode == 1 and "NameError" in failed.stderr and "undone" in failed.stderr
    assert "id 'constants'" in failed.stderr  # the failing cell is named
    assert listing(churn_lab) == files and notebook.read_bytes() == before
    # fixed, it runs, and scaffold run -p feeds the new parameter
    text = notebook.read_text().replace("frame = make(SEED)", "frame = [SEED]")
    notebook.write_text(text)
    done = scaffold_in_process("promote", "explore_churn", "--python", str(python), cwd=churn_lab)
    assert "ran it top to bottom" in done.stdout
    scaffold_in_process(
        "run", "explore_churn", "-p", "rate=2", "--python", str(python), cwd=churn_lab
    )
    report = cells_of(churn_lab / "reports" / "explore_churn.ipynb")
    printed = "".join("".join(o.get("text", "")) for c in report for o in c.get("outputs", []))
    assert "5.291502622129181 train" in printed


@pytest.mark.slow
def test_a_promoted_notebook_is_a_dvc_stage_whose_params_dvc_tracks(tmp_path: Path):
    import subprocess

    scaffold_in_process("new", "Pipe", "--no-input", "--no-pre-commit", cwd=tmp_path)
    project = tmp_path / "pipe"
    python = project_venv(project)
    notebook = project / "notebooks" / "1.1-ab-churn.ipynb"
    write_notebook(
        notebook,
        [cell("import math", "setup"), cell("seed = 3\nprint(f'root={math.sqrt(seed):.2f}')", "a")],
    )
    scaffold_in_process("promote", "1.1-ab-churn", "--python", str(python), cwd=project)
    git = ["git", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "add", "-A"], cwd=project, check=True, capture_output=True)
    subprocess.run([*git, "commit", "-qm", "promote"], cwd=project, check=True)
    # a separate process: the output of dvc repro, which scaffold passes on, is checked
    first = run_scaffold("run", "--all", cwd=project)
    assert "Running stage '1_1-ab-churn'" in first.stdout
    printed = str(cells_of(project / "reports" / "1.1-ab-churn.ipynb"))
    assert "root=1.73" in printed
    scaffold_in_process("run", "1.1-ab-churn", "-p", "seed=16", cwd=project)
    assert "root=4.00" in str(cells_of(project / "reports" / "1.1-ab-churn.ipynb"))
    params = project / "params" / "1.1-ab-churn.yaml"
    params.write_text(params.read_text().replace("seed: 3", "seed: 9"))
    diff = subprocess.run(
        [str(python), "-m", "dvc", "params", "diff"],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "seed" in diff.stdout and "3" in diff.stdout and "9" in diff.stdout


def test_rename_gives_the_conventional_name_and_updates_references(churn_lab: Path):
    readme = churn_lab / "README.md"
    readme.write_text(readme.read_text() + "\nSee notebooks/explore_churn.ipynb.\n")
    result = scaffold_in_process("promote", "explore_churn", "--no-run", "--rename", cwd=churn_lab)
    assert not (churn_lab / "notebooks" / "explore_churn.ipynb").exists()
    # The initials are those of whoever renames it (git user.name "Test User"), as for add notebook.
    renamed = churn_lab / "notebooks" / "1.1-tu-explore-churn.ipynb"
    assert "create notebooks/1.1-tu-explore-churn.ipynb" in result.stdout
    assert source(renamed, 1).startswith("# Parameters") and "SEED: int = 7" in source(renamed, 1)
    assert (churn_lab / "params" / "1.1-tu-explore-churn.yaml").is_file()
    assert "notebooks/1.1-tu-explore-churn.ipynb" in (churn_lab / "dvc.yaml").read_text()
    assert "See notebooks/1.1-tu-explore-churn.ipynb." in readme.read_text()
    assert "naming convention" not in result.stdout


def test_promote_ranks_inputs_first_and_never_lifts_cosmetics_or_accumulators(churn_lab: Path):
    # a minimal reproduction of a long real notebook: inputs, plot cosmetics, an accumulator
    notebook = churn_lab / "notebooks" / "explore_housing.ipynb"
    write_notebook(
        notebook,
        [
            cell("import matplotlib.pyplot as plt\nimport pandas as pd", "setup"),
            cell(
                'DATA_PATH = "../data/raw/housing.csv"\nTEST_SIZE = 0.2\nrandom_state = 42\n'
                'income_threshold = 5.0\nn_estimators = 100\nregion = "north"\n'
                'color = "blue"\nline = "--"\nfilename = "income.png"\nstrat_splits: list = []',
                "constants",
            ),
            cell(
                "frame = pd.read_csv(DATA_PATH)\n"
                "for seed in range(3):\n    strat_splits.append(frame.sample(frac=TEST_SIZE))\n"
                "ax = frame.plot(color=color, linestyle=line)\nplt.savefig(filename)\n"
                "print(random_state, income_threshold, n_estimators, region)",
                "work",
            ),
        ],
    )
    result = scaffold_in_process("promote", "explore_housing", "--no-run", cwd=churn_lab)
    assert source(notebook, 1).splitlines()[2:] == [
        'DATA_PATH: str = "../data/raw/housing.csv"',
        "TEST_SIZE: float = 0.2",
        "random_state: int = 42",
        "income_threshold: float = 5.0",
        "n_estimators: int = 100",
    ]
    lines = result.stdout.splitlines()
    assert '  region: str = "north"' in lines  # suggested, not lifted
    assert lines[-1] == (
        "never parameters: color (a style argument), line (a style argument), "
        "filename (a style argument), strat_splits (filled later (.append))"
    )
    assert source(notebook, 2) == (
        'region = "north"\ncolor = "blue"\nline = "--"\nfilename = "income.png"\n'
        "strat_splits: list = []"
    )


def test_an_explicit_param_list_wins_over_the_ranking(churn_lab: Path):
    notebook = churn_lab / "notebooks" / "explore_plot.ipynb"
    write_notebook(
        notebook,
        [cell('color = "blue"\nseed = 1\nprint(dict(color=color), seed)', "a")],
    )
    scaffold_in_process("promote", "explore_plot", "--no-run", "--param", "color", cwd=churn_lab)
    assert source(notebook, 0).splitlines()[2:] == ['color: str = "blue"']
    write_notebook(notebook, [cell('color = "blue"\nprint(dict(color=color))', "a")])
    (churn_lab / "params" / "explore_plot.yaml").unlink()
    (churn_lab / "dvc.yaml").write_text(
        (churn_lab / "dvc.yaml").read_text().split("  explore_plot:")[0]
    )
    refused = scaffold_in_process("promote", "explore_plot", "--no-run", cwd=churn_lab, check=False)
    assert refused.returncode == 1
    assert "has no literal that is clearly an input" in refused.stderr
