"""The team's threshold (`[tool.scaffold.threshold]`): `scaffold check` reports each line a
notebook crosses with the number, the limit and the command that moves it on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import scaffold_in_process
from tests.helpers import cell, write_notebook


def production(project: Path, stem: str, cells: list[dict[str, object]]) -> None:
    """A production notebook: its parameters cell first, and params/<stem>.yaml."""
    parameters = cell("seed: int = 1", "parameters", tags=["parameters"])
    write_notebook(project / "notebooks" / f"{stem}.ipynb", [parameters, *cells])
    (project / "params" / f"{stem}.yaml").write_text("seed: 1\n")


def findings(project: Path) -> list[str]:
    result = scaffold_in_process("check", "--select", "NB81", cwd=project, check=False)
    assert result.returncode in (0, 1), result.stderr
    return [line for line in result.stdout.splitlines() if ": NB81" in line]


def test_the_generated_project_is_under_its_threshold(plain_lab: Path):
    assert "[tool.scaffold.threshold]" in (plain_lab / "pyproject.toml").read_text()
    assert findings(plain_lab) == []


def test_a_long_production_notebook_is_told_to_graduate(plain_lab: Path):
    production(plain_lab, "2.1-ab-long", [cell(f"x{n} = {n}", f"c{n}") for n in range(30)])
    assert findings(plain_lab) == [
        "notebooks/2.1-ab-long.ipynb:0:0: NB811 production notebook with 31 code cells, past "
        "the team's threshold of 30 (production-code-cells); make it a module and script "
        "stage: scaffold graduate 2.1-ab-long"
    ]
    pyproject = plain_lab / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("production-code-cells = 30", "production-code-cells = 40")
    )
    assert findings(plain_lab) == []


def test_lines_functions_and_clusters(plain_lab: Path):
    body = "\n".join(f"y{n} = {n}" for n in range(150))
    helpers = "\n\n".join(f"def f{n}():\n    return {n}" for n in range(6))
    production(
        plain_lab,
        "2.2-ab-heavy",
        [cell(body, "body"), cell(helpers, "helpers"), cell("from pyspark.sql import F", "spark")],
    )
    found = findings(plain_lab)
    assert [line.split(": ")[1].split()[0] for line in found] == ["NB812", "NB813", "NB814"]
    assert "with 164 lines of code, past the team's threshold of 150" in found[0]
    assert found[1].startswith("notebooks/2.2-ab-heavy.ipynb:3:0: NB813 production notebook ")
    assert found[1].endswith(
        "defines 6 functions, past the team's threshold of 5 (production-functions); move them "
        "into the package: scaffold extract f0 f1 f2 f3 f4 f5"
    )
    assert "imports pyspark.sql" in found[2] and found[2].endswith("scaffold graduate 2.2-ab-heavy")
    pyproject = plain_lab / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("cluster-notebooks = false", "cluster-notebooks = true")
    )
    assert [line.split(": ")[1].split()[0] for line in findings(plain_lab)] == ["NB812", "NB813"]


def test_an_exploratory_notebook_that_writes_data_is_told_to_promote(plain_lab: Path):
    notebook = plain_lab / "notebooks" / "1.1-ab-explore.ipynb"
    write_notebook(notebook, [cell("import pandas as pd", "load")])
    assert findings(plain_lab) == []  # read once, cached by size and modification time
    write_notebook(
        plain_lab / "notebooks" / "1.1-ab-explore.ipynb",
        [
            cell("import pandas as pd\nframe = pd.DataFrame({'a': [1]})", "load"),
            cell("frame.plot()", "look"),
            cell("frame.to_csv('../data/processed/a.csv')", "save"),
        ],
    )
    assert findings(plain_lab) == [
        "notebooks/1.1-ab-explore.ipynb:3:0: NB815 exploratory notebook writes data 1 time(s) "
        "(to_csv), past the team's threshold of 0 (exploratory-writes); make it a pipeline "
        "step with parameters and a stage: scaffold promote 1.1-ab-explore"
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max-cells = 3", "[tool.scaffold.threshold] has unknown key 'max-cells'"),
        ("production-functions = -1", "production-functions must be a whole number (0 or more)"),
        ("cluster-notebooks = 1", "cluster-notebooks must be true or false"),
    ],
)
def test_a_bad_threshold_is_one_sentence(plain_lab: Path, line: str, message: str):
    pyproject = plain_lab / "pyproject.toml"
    text = pyproject.read_text().replace("[tool.scaffold.threshold]\n", "")
    pyproject.write_text(text + f"\n[tool.scaffold.threshold]\n{line}\n")
    result = scaffold_in_process("check", cwd=plain_lab, check=False)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr
