"""`scaffold add notebook`: names and numbers, the nbformat builder, production registration
(params file + dvc.yaml stage), the project's own template, concurrency and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from scaffold.errors import ScaffoldError
from scaffold.files import Write, apply
from scaffold.notebooks import (
    Cell,
    add_notebook,
    build_notebook,
    check_description,
    next_number,
    notebook_text,
)
from scaffold.parameters import Parameter, parse
from scaffold.pipeline import add_stage, new_dvc_yaml, parameters_file_text, stage_block
from scaffold.project import open_project
from tests.conftest import git, listing, run_cookiecutter, run_scaffold, scaffold_in_process

FIRST = "1.0-yn-initial-data-exploration"


@pytest.fixture
def anonymous_lab(plain_lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``plain_lab`` (package ``lab``, author initials ``yn``), used by someone without a git
    ``user.name``: notebooks get the author's initials."""
    empty = tmp_path / "no-identity.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    return plain_lab


def add(project: Path, description: str, **options: object) -> str:
    """Add a notebook through the API; return its stem."""
    return add_notebook(open_project(project), description, **options).stem  # type: ignore[arg-type]


def read(project: Path, stem: str) -> nbformat.NotebookNode:
    return nbformat.read(project / "notebooks" / f"{stem}.ipynb", as_version=4)


# -- names and numbers ----------------------------------------------------------------------


def test_cli_prints_status_lines_and_creates_the_next_notebook(anonymous_lab: Path):
    result = run_scaffold("add", "notebook", "Clean data", cwd=anonymous_lab / "src")
    assert result.stdout.splitlines() == ["create notebooks/1.1-yn-clean-data.ipynb"]
    assert (anonymous_lab / "notebooks" / "1.1-yn-clean-data.ipynb").is_file()
    assert not (anonymous_lab / "params" / "1.1-yn-clean-data.yaml").exists()  # not production


def test_numbering_follows_the_newest_phase_and_never_fills_gaps(anonymous_lab: Path):
    assert add(anonymous_lab, "second look") == "1.1-yn-second-look"
    assert add(anonymous_lab, "features", phase=2) == "2.0-yn-features"
    assert add(anonymous_lab, "more features") == "2.1-yn-more-features"  # newest phase is now 2
    assert add(anonymous_lab, "back to cleaning", phase=1) == "1.2-yn-back-to-cleaning"
    assert add(anonymous_lab, "after the gap", phase=2) == "2.2-yn-after-the-gap"
    (anonymous_lab / "notebooks" / "3.5-xy-someone-else.ipynb").write_text("{}")
    assert add(anonymous_lab, "modelling") == "3.6-yn-modelling"  # the highest phase is the newest
    (anonymous_lab / "notebooks" / "0.01-pjb-data-source-1.ipynb").write_text("{}")
    assert add(anonymous_lab, "source two", phase=0) == "0.02-yn-source-two"  # keeps zero-padding
    (anonymous_lab / "params" / "4.0-zz-orphan.yaml").write_text("a: 1\n")
    assert add(anonymous_lab, "report", phase=4) == "4.1-yn-report"  # a parameters file holds 4.0
    assert add(anonymous_lab, "not numbered", phase=7, author="JQP") == "7.0-jqp-not-numbered"


def test_next_number_in_an_empty_project(tmp_path: Path):
    assert next_number(tmp_path) == (1, "0")
    assert next_number(tmp_path, 3) == (3, "0")


@pytest.mark.parametrize(
    ("description", "title", "slug"),
    [
        ("clean data", "Clean data", "clean-data"),
        ("  Train   the model!  ", "Train the model!", "train-the-model"),
        ("Über Daten — eine Übersicht", "Über Daten — eine Übersicht", "uber-daten-eine-ubersicht"),
        ("v2: 10% sample", "V2: 10% sample", "v2-10-sample"),
    ],
)
def test_descriptions_are_slugified(description: str, title: str, slug: str):
    assert check_description(description) == (title, slug)


def test_long_descriptions_are_cut_at_a_word(anonymous_lab: Path):
    stem = add(anonymous_lab, "a very long description " * 6)
    assert len(stem.split("-", 2)[2]) <= 60 and not stem.endswith("-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["notebook", ""], "needs a description"),
        (["notebook", "   "], "needs a description"),
        (["notebook", "notebooks/clean.ipynb"], "looks like a path"),
        (["notebook", "../escape"], "looks like a path"),
        (["notebook", "a\\b"], "looks like a path"),
        (["notebook", "clean.ipynb"], "looks like a path"),
        (["notebook", ".hidden"], "looks like a path"),
        (["notebook", "!!! ???"], "no letters or digits"),
        (["notebook", "ok", "--author", "J. Q."], "--author expects initials"),
        (["notebook", "ok", "--phase", "-1"], "--phase must be 0 or more"),
    ],
)
def test_bad_input_is_one_sentence_and_creates_nothing(
    anonymous_lab: Path, args: list[str], message: str
):
    before = listing(anonymous_lab)
    result = scaffold_in_process("add", *args, "--production", cwd=anonymous_lab, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert listing(anonymous_lab) == before


def test_outside_a_project_is_a_clear_error(workdir: Path):
    for args in (["add", "notebook", "x"], ["add", "module", "x"], ["run", "x"], ["run", "--all"]):
        result = scaffold_in_process(*args, cwd=workdir, check=False)
        assert result.returncode == 1, args
        assert "is not inside a project" in result.stderr and "Traceback" not in result.stderr
    assert listing(workdir) == []


def test_dry_run_prints_and_writes_nothing(anonymous_lab: Path):
    before = listing(anonymous_lab)
    dvc_yaml = (anonymous_lab / "dvc.yaml").read_text()
    result = run_scaffold(
        "add", "notebook", "clean data", "--production", "--dry-run", cwd=anonymous_lab
    )
    assert result.stdout.splitlines() == [
        "create notebooks/1.1-yn-clean-data.ipynb",
        "create params/1.1-yn-clean-data.yaml",
        "update dvc.yaml",
        "(dry run: nothing written)",
    ]
    assert listing(anonymous_lab) == before and (anonymous_lab / "dvc.yaml").read_text() == dvc_yaml


def test_a_stale_stage_with_the_same_name_stops_everything(anonymous_lab: Path):
    dvc_yaml = anonymous_lab / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text() + "  1_1-yn-clean-data:\n    cmd: echo stale\n")
    before = listing(anonymous_lab)
    result = scaffold_in_process(
        "add", "notebook", "clean data", "--production", cwd=anonymous_lab, check=False
    )
    assert result.returncode == 1
    assert "already has a stage named '1_1-yn-clean-data'" in result.stderr
    assert listing(anonymous_lab) == before  # the notebook was not left behind


def test_writes_never_replace_a_file_and_undo_on_failure(tmp_path: Path):
    existing = tmp_path / "b.txt"
    existing.write_text("keep")
    with pytest.raises(ScaffoldError, match="already exists"):
        apply([Write(tmp_path / "a.txt", "new"), Write(existing, "overwritten")])
    assert existing.read_text() == "keep"
    assert not (tmp_path / "a.txt").exists()  # the first write was undone


# -- content --------------------------------------------------------------------------------


def test_the_notebook_is_valid_typed_and_deterministic(
    anonymous_lab: Path, tmp_path: Path, rendered_plain_lab: Path
):
    stem = add(anonymous_lab, "clean data")
    nb = read(anonymous_lab, stem)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata.kernelspec == {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    assert nb.metadata.language_info.name == "python"
    assert [cell.id for cell in nb.cells] == [
        "title",
        "setup",
        "parameters",
        "inputs",
        "analysis",
        "metrics",
    ]
    title, setup, parameters = nb.cells[:3]
    assert title.source.startswith("# Clean data\n\n**Purpose:** ")
    assert setup.source.startswith("%load_ext autoreload\n%autoreload 2\n")
    assert "from lab.config import PROCESSED_DATA_DIR, RAW_DATA_DIR" in setup.source
    assert parameters.metadata.tags == ["parameters"]
    assert parse(parameters.source) == [
        Parameter("input_file", "str", "dataset.csv", "a file under data/raw/"),
        Parameter("seed", "int", 42, "random seed: the same seed gives the same results"),
    ]
    # the same name in another copy of the project gives the same bytes
    again = tmp_path / "again"
    shutil.copytree(rendered_plain_lab, again)
    assert add(again, "clean data") == stem
    assert (again / "notebooks" / f"{stem}.ipynb").read_bytes() == (
        anonymous_lab / "notebooks" / f"{stem}.ipynb"
    ).read_bytes()


def test_new_notebooks_pass_the_projects_ruff_checks(anonymous_lab: Path):
    add(anonymous_lab, "clean data")
    add(anonymous_lab, "train model", production=True)
    for args in (
        ["check", "--no-cache", "notebooks"],
        ["format", "--no-cache", "--check", "notebooks"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=anonymous_lab,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("production", [True, False])
@pytest.mark.parametrize("code_folder", ["src/lab/", None])
def test_built_notebooks_are_what_nbformat_makes_validates_and_writes(
    production: bool, code_folder: str | None
):
    """build_notebook writes JSON without nbformat (its import is most of the command's
    time): nbformat's constructors make the same cells, its schema accepts the notebook, and
    its writer writes the same bytes."""
    body = [
        Cell("load", "code", "frame = pd.read_csv(input_path)\nframe.head()"),
        Cell("notes", "markdown", '## Notes\n\nÉtude — 数据 🚀, "quotes" and \\ back'),
        Cell("empty", "code", ""),
    ]
    built = build_notebook(
        "2.3-ab-étude",
        title="Étude 🚀",
        purpose="a <b>first</b> look\r\nacross lines",
        imports=["import pandas as pd"],
        parameters=[Parameter("seed", "int", 42, "random seed"), Parameter("x", "str", "é", "")],
        body=body,
        code_folder=code_folder,
        run_command="scaffold run 2.3-ab-étude",
        production=production,
    )
    v4 = nbformat.v4
    for cell in built["cells"]:
        make = v4.new_code_cell if cell["cell_type"] == "code" else v4.new_markdown_cell
        fields = {k: v for k, v in cell.items() if k in ("id", "source", "metadata")}
        assert cell == make(**fields)
    text = notebook_text(built)
    nbformat.validate(json.loads(text), version=4, version_minor=5)
    node = nbformat.reads(text, as_version=4)
    nbformat.validate(node)
    assert nbformat.writes(node) + "\n" == text
    assert nbformat.writes(nbformat.from_dict(built)) + "\n" == text


def test_add_notebook_does_not_import_nbformat(anonymous_lab: Path):
    """nbformat (and jsonschema under it) is only for a project's own notebook template;
    pydantic comes with typer 0.29 on every command (pyproject.toml keeps typer below)."""
    code = (
        "import sys; from typer.testing import CliRunner; from scaffold.cli import app;"
        "r = CliRunner().invoke(app, ['add', 'notebook', 'clean data']);"
        "assert r.exit_code == 0, r.output;"
        "print(sorted(m for m in ('nbformat', 'jsonschema', 'pydantic', 'cookiecutter', 'dvc')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=anonymous_lab,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == "[]"
    assert (
        nbformat.validate(
            nbformat.read(next((anonymous_lab / "notebooks").glob("*clean-data.ipynb")), 4)
        )
        is None
    )


def test_the_template_notebook_is_the_builders_output(rendered_plain_lab: Path):
    """The notebook shape exists once: the template's first notebook is build_notebook's
    output for its own title, imports, parameters and analysis cells."""
    rendered = (rendered_plain_lab / "notebooks" / f"{FIRST}.ipynb").read_text()
    body = [
        Cell(cell["id"], cell["cell_type"], "".join(cell["source"]))
        for cell in json.loads(rendered)["cells"][3:-1]  # the builder adds the metrics cell
    ]
    assert [cell.id for cell in body] == ["load-data", "describe", "histograms"]
    parameters = [
        Parameter("input_file", "str", "dataset.csv", "a CSV file under data/raw/"),
        Parameter("preview_rows", "int", 5, "rows shown in the preview"),
    ]
    built = build_notebook(
        FIRST,
        title="Initial data exploration",
        purpose="a first look at the raw data: its shape, its columns and their distributions.",
        imports=[
            "import pandas as pd",
            "",
            "from lab import dataset, plots",
            "from lab.config import RAW_DATA_DIR",
        ],
        parameters=parameters,
        body=body,
        code_folder="src/lab/",
        run_command=f"make notebook NB={FIRST}",
        production=True,
    )
    assert notebook_text(built) == rendered
    params_file = (rendered_plain_lab / "params" / f"{FIRST}.yaml").read_text()
    assert parameters_file_text(FIRST, parameters) == params_file
    assert (
        new_dvc_yaml(stage_block(FIRST, ["src/lab", "data/raw"]))
        == (rendered_plain_lab / "dvc.yaml").read_text()
    )


def test_generic_and_template_notebooks_share_the_structure(anonymous_lab: Path):
    first = read(anonymous_lab, FIRST)
    stem = add(anonymous_lab, "train model", production=True)
    new = read(anonymous_lab, stem)
    assert new.metadata == first.metadata
    assert [(c.id, c.cell_type) for c in new.cells[:3]] == [
        ("title", "markdown"),
        ("setup", "code"),
        ("parameters", "code"),
    ]
    assert [(c.id, c.cell_type) for c in first.cells[:3]] == [
        (c.id, c.cell_type) for c in new.cells[:3]
    ]
    # the title cell's run instructions and code hint, and the parameters header, agree
    assert new.cells[0].source.split("\n\n")[2:] == [
        paragraph.replace(FIRST, stem) for paragraph in first.cells[0].source.split("\n\n")[2:]
    ]
    header = [line for line in first.cells[2].source.splitlines() if line.startswith("#")]
    assert [line.replace(FIRST, stem) for line in header] == [
        line for line in new.cells[2].source.splitlines() if line.startswith("#")
    ]
    first_setup, new_setup = first.cells[1].source, new.cells[1].source
    assert first_setup.split("\n\n")[0] == new_setup.split("\n\n")[0]  # the autoreload lines


# -- production -----------------------------------------------------------------------------


def test_production_adds_a_params_file_and_a_stage_and_keeps_the_first(anonymous_lab: Path):
    dvc_before = (anonymous_lab / "dvc.yaml").read_text()
    result = run_scaffold("add", "notebook", "train model", "--production", cwd=anonymous_lab)
    assert result.stdout.splitlines() == [
        "create notebooks/1.1-yn-train-model.ipynb",
        "create params/1.1-yn-train-model.yaml",
        "update dvc.yaml",
    ]
    stem = "1.1-yn-train-model"
    params_file = yaml.safe_load((anonymous_lab / "params" / f"{stem}.yaml").read_text())
    assert params_file == {"input_file": "dataset.csv", "seed": 42}
    assert set(params_file) == {p.name for p in parse(read(anonymous_lab, stem).cells[2].source)}
    text = (anonymous_lab / "dvc.yaml").read_text()
    assert text.startswith(dvc_before)  # comments and the first stage untouched
    stages = yaml.safe_load(text)["stages"]
    assert list(stages) == ["1_0-yn-initial-data-exploration", "1_1-yn-train-model"]
    assert stages["1_1-yn-train-model"] == {
        "cmd": f"papermill --no-progress-bar -k python3 --cwd notebooks notebooks/{stem}.ipynb "
        f"reports/{stem}.ipynb -f params/{stem}.yaml",
        "deps": [f"notebooks/{stem}.ipynb", "src/lab", "data/raw"],
        "params": [{f"params/{stem}.yaml": None}],
        "outs": [{f"reports/{stem}.ipynb": {"cache": False}}],
    }
    intro = read(anonymous_lab, stem).cells[0].source
    assert f"`make notebook NB={stem}` or `dvc repro`" in intro

    # a second production notebook leaves the first two stages exactly as they were
    add(anonymous_lab, "evaluate model", production=True)
    assert (anonymous_lab / "dvc.yaml").read_text().startswith(text)
    assert len(yaml.safe_load((anonymous_lab / "dvc.yaml").read_text())["stages"]) == 3


def test_makefile_runs_any_notebook_with_its_params_file_if_it_has_one(anonymous_lab: Path):
    plain = add(anonymous_lab, "explore")
    wired = add(anonymous_lab, "pipeline step", production=True)

    def dry(stem: str) -> str:
        # RUN=echo prints the papermill command the recipe's shell builds (NB is data there)
        return subprocess.run(
            ["make", "-s", "notebook", f"NB={stem}", "RUN=echo"],
            cwd=anonymous_lab,
            capture_output=True,
            text=True,
        ).stdout

    assert "-f" not in dry(plain) and f"reports/{plain}.ipynb" in dry(plain)
    assert f"-f params/{wired}.yaml" in dry(wired)


STAGES_AFTER_OTHER_KEYS = """\
vars:
  - seed: 1
stages:
    # the data stage
    prepare:
        cmd: python prepare.py
        deps: [prepare.py]

# plots of all stages
plots:
  - reports/plot.csv
"""


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "# just a comment\n",
        "stages: {}\n",
        "stages:\n",
        STAGES_AFTER_OTHER_KEYS,
        "stages:\n  a:\n    cmd: echo a\n  # a commented-out stage\n  #b:\n  #  cmd: echo b\n",
        "stages:\n  a:\n    cmd: echo a",  # no final newline
    ],
    ids=["no-file", "empty", "comment", "flow-empty", "null", "between-keys", "comments", "no-eol"],
)
def test_add_stage_keeps_everything_and_adds_one_stage(text: str | None):
    new = add_stage(text, "2.0-ab-fit", ["src/lab"])
    old = yaml.safe_load(text or "") or {}
    loaded = yaml.safe_load(new)
    for key, value in old.items():
        if key != "stages":
            assert loaded[key] == value
    assert list(loaded["stages"]) == [*(old.get("stages") or {}), "2_0-ab-fit"]
    for line in (text or "").splitlines():
        if line.strip() and line.strip() != "stages: {}":
            assert line in new  # every existing line (comments too) is still there
    if text == STAGES_AFTER_OTHER_KEYS:
        assert "\n        2_0-ab-fit:" not in new and "\n    2_0-ab-fit:\n" in new  # sibling indent
        assert new.index("2_0-ab-fit") < new.index("# plots of all stages")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stages: [oops\n", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("stages: [a, b]\n", "must be a mapping"),
        ("stages: {a: {cmd: echo}}\n", "add the stage by hand"),
        ("stages:\n  2_0-ab-fit:\n    cmd: echo\n", "already has a stage named"),
    ],
)
def test_add_stage_refuses_what_it_cannot_edit_safely(text: str, message: str):
    with pytest.raises(ScaffoldError, match=message):
        add_stage(text, "2.0-ab-fit", ["src/lab"])


def test_concurrent_adds_get_distinct_numbers(anonymous_lab: Path):
    count = 8
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "scaffold", "add", "notebook", f"parallel {i}", "--production"],
            cwd=anonymous_lab,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * count, outputs
    created = sorted((anonymous_lab / "notebooks").glob("1.*-yn-parallel-*.ipynb"))
    numbers = sorted(int(path.name.split("-")[0].split(".")[1]) for path in created)
    assert numbers == list(range(1, count + 1))
    descriptions = {path.stem.split("-", 2)[2] for path in created}
    assert descriptions == {f"parallel-{i}" for i in range(count)}  # nothing overwritten
    for path in created:
        nbformat.validate(nbformat.read(path, as_version=4))
        assert (anonymous_lab / "params" / f"{path.stem}.yaml").is_file()
    stages = yaml.safe_load((anonymous_lab / "dvc.yaml").read_text())["stages"]
    assert len(stages) == count + 1


# -- the project's own template ---------------------------------------------------------------


def write_override(project: Path, cells: list[dict[str, object]]) -> Path:
    path = project / ".scaffold" / "templates" / "notebook.ipynb"
    path.parent.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        (nbformat.v4.new_code_cell if cell["kind"] == "code" else nbformat.v4.new_markdown_cell)(
            cell["source"], metadata=cell.get("metadata", {})
        )
        for cell in cells
    ]
    for cell in nb.cells:
        del cell["id"]  # an nbformat 4.4-style file: ids are added
    nb.nbformat_minor = 4
    path.write_text(json.dumps(nb))
    return path


def test_a_project_template_overrides_the_builder(anonymous_lab: Path):
    write_override(
        anonymous_lab,
        [
            {
                "kind": "markdown",
                "source": "# {{ title }}\n\nTeam notebook `{{stem}}` by {{ initials }}.",
            },
            {"kind": "code", "source": "from {{ module }}.config import DATA_DIR\n\nDATA_DIR"},
            {
                "kind": "code",
                "source": 'team: str = "red"  # the team\nthreshold: float = 0.5',
                "metadata": {"tags": ["parameters"]},
            },
        ],
    )
    result = run_scaffold("add", "notebook", "team review", "--production", cwd=anonymous_lab)
    stem = "1.1-yn-team-review"
    assert f"create notebooks/{stem}.ipynb" in result.stdout
    nb = read(anonymous_lab, stem)
    nbformat.validate(nb)
    assert nb.cells[0].source == f"# Team review\n\nTeam notebook `{stem}` by yn."
    assert nb.cells[1].source == "from lab.config import DATA_DIR\n\nDATA_DIR"
    assert [cell.id for cell in nb.cells] == ["cell-1", "cell-2", "cell-3"]
    assert nb.metadata.kernelspec.name == "python3" and nb.metadata.language_info.name == "python"
    params_file = (anonymous_lab / "params" / f"{stem}.yaml").read_text()
    assert yaml.safe_load(params_file) == {"team": "red", "threshold": 0.5}
    assert "team: red  # the team" in params_file
    # the project's ruff (make lint, the pre-commit hook) skips the template's placeholders
    for paths in (["."], [".scaffold/templates/notebook.ipynb"]):
        checked = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", "--force-exclude", *paths],
            cwd=anonymous_lab,
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([{"kind": "markdown", "source": "# {{ titel }}"}], "unknown placeholder {{ titel }}"),
        ([{"kind": "code", "source": "x = 1"}], "has no cell tagged 'parameters'"),
    ],
)
def test_a_bad_project_template_creates_nothing(anonymous_lab: Path, cells, message: str):
    write_override(anonymous_lab, cells)
    before = listing(anonymous_lab)
    result = scaffold_in_process(
        "add", "notebook", "x", "--production", cwd=anonymous_lab, check=False
    )
    assert result.returncode == 1 and message in result.stderr
    assert listing(anonymous_lab) == before


# -- other projects ---------------------------------------------------------------------------


def test_a_project_made_by_plain_cookiecutter(
    template_git_repo: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    scratch = workdir.parent / "tmpdir"
    scratch.mkdir()
    run_cookiecutter(
        f"git+file://{template_git_repo}", "--no-input", "author_name=Ada Lovelace", cwd=workdir,
        env={"TMPDIR": str(scratch)},
    )  # fmt: skip
    project = workdir / "my-project"
    # cookiecutter leaves its rendered copies of the hook entry points; they remove themselves
    assert list(scratch.iterdir()) == []
    # No git identity: the initials come from the recorded author (the answers were found).
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(workdir / "no-identity.gitconfig"))
    result = run_scaffold(
        "add", "notebook", "clean data", "--production", cwd=project / "notebooks"
    )
    assert "create notebooks/1.1-al-clean-data.ipynb" in result.stdout
    assert "from my_project.config import" in read(project, "1.1-al-clean-data").cells[1].source
    assert "1_1-al-clean-data" in yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert git("status", "--porcelain", cwd=project)  # left for the user to commit


def ccds_project(root: Path, package: bool = True) -> Path:
    """A cookiecutter-data-science (v2) style project: no recorded answers, package at root."""
    (root / "notebooks").mkdir(parents=True)
    (root / "data" / "raw").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "mylab"\nversion = "0.1.0"\n')
    (root / "notebooks" / "0.01-pjb-data-source-1.ipynb").write_text("{}")
    if package:
        (root / "mylab").mkdir()
        (root / "mylab" / "__init__.py").write_text("")
        (root / "mylab" / "config.py").write_text(
            "from pathlib import Path\nPROJ_ROOT = Path(__file__).resolve().parents[1]\n"
            'RAW_DATA_DIR = PROJ_ROOT / "data" / "raw"\n'
            'PROCESSED_DATA_DIR = PROJ_ROOT / "data" / "processed"\n'
        )
    git("init", "--quiet", cwd=root)
    return root


def test_a_cookiecutter_data_science_project_without_answers(workdir: Path):
    project = ccds_project(workdir / "ccds")
    git("config", "user.name", "Grace Brewster Hopper", cwd=project)
    result = run_scaffold("add", "notebook", "source two", "--production", cwd=project)
    assert result.stdout.splitlines() == [
        "create notebooks/0.02-gbh-source-two.ipynb",
        "create params/0.02-gbh-source-two.yaml",
        "create dvc.yaml",
    ]
    nb = read(project, "0.02-gbh-source-two")
    assert "from mylab.config import PROCESSED_DATA_DIR, RAW_DATA_DIR" in nb.cells[1].source
    assert "`scaffold run 0.02-gbh-source-two` or `dvc repro`" in nb.cells[0].source  # no Makefile
    stage = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["0_02-gbh-source-two"]
    assert stage["deps"] == ["notebooks/0.02-gbh-source-two.ipynb", "mylab", "data/raw"]


def test_a_project_without_package_or_author(workdir: Path, tmp_path: Path):
    project = ccds_project(workdir / "bare", package=False)
    no_identity = tmp_path / "empty-gitconfig"
    no_identity.write_text("")
    env = {"GIT_CONFIG_GLOBAL": str(no_identity)}
    result = scaffold_in_process("add", "notebook", "first", cwd=project, check=False, env=env)
    assert result.returncode == 1 and "pass --author INITIALS" in result.stderr
    run_scaffold("add", "notebook", "first", "--author", "zz", "--phase", "1", cwd=project)
    nb = read(project, "1.0-zz-first")
    nbformat.validate(nb)
    assert 'RAW_DATA_DIR = Path("..", "data", "raw").resolve()' in nb.cells[1].source


def test_help_stays_light():
    code = (
        "import sys; from typer.testing import CliRunner; from scaffold.cli import app\n"
        "for args in (['add', 'notebook', '--help'], ['add', 'module', '--help'], "
        "['run', '--help']):\n"
        "    r = CliRunner().invoke(app, args); assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('nbformat', 'yaml', 'papermill', 'dvc', 'cookiecutter', "
        "'slugify') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    ).stdout.strip()
    assert out == "[]"


def test_initials_come_from_whoever_adds_the_notebook(
    anonymous_lab: Path, monkeypatch: pytest.MonkeyPatch
):
    """A teammate (git user.name "New User") gets their own initials, not the author's."""
    subprocess.run(["git", "init", "--quiet", str(anonymous_lab)], check=True)
    subprocess.run(["git", "config", "user.name", "New User"], cwd=anonymous_lab, check=True)
    assert add(anonymous_lab, "clean data") == "1.1-nu-clean-data"
    result = run_scaffold("add", "notebook", "more cleaning", "--production", cwd=anonymous_lab)
    assert result.stdout.splitlines()[0] == "create notebooks/1.2-nu-more-cleaning.ipynb"
    # without a git identity, the project's author (recorded answers) is the fallback
    subprocess.run(["git", "config", "--unset", "user.name"], cwd=anonymous_lab, check=True)
    assert add(anonymous_lab, "fallback") == "1.3-yn-fallback"


def test_a_scratch_folder_is_private_and_goes_however_the_block_ends(tmp_path: Path):
    from scaffold.files import scratch_folder

    with pytest.raises(KeyboardInterrupt), scratch_folder("x-", within=tmp_path) as folder:
        assert folder.parent == tmp_path and folder.name.startswith("x-")
        assert folder.stat().st_mode & 0o777 == 0o700
        (folder / "inner").mkdir()
        (folder / "inner" / "file").write_text("partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
