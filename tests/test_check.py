"""`scaffold check`: every static rule planted in real notebooks (nbformat), the output formats,
the configuration, bad input, and (slow) `--run` in a generated project's own environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from scaffold.check import duplicates
from scaffold.check.checker import check, summaries
from scaffold.check.imports import environment_map
from scaffold.check.model import Config, load_config
from scaffold.check.notebook import blank_magics, file_lines
from scaffold.errors import ScaffoldError
from scaffold.project import Project
from tests.conftest import listing, run_scaffold

PYPROJECT = """\
[project]
name = "lab"
version = "0.1.0"
dependencies = ["pandas", "numpy", "scikit-learn"]

[project.optional-dependencies]
dev = ["pytest", "PyYAML"]
"""


@pytest.fixture
def minimal_lab(tmp_path: Path) -> Path:
    """A minimal project laid out like ours: pyproject.toml, notebooks/, src/lab/."""
    root = tmp_path / "lab"
    (root / "notebooks").mkdir(parents=True)
    (root / "src" / "lab").mkdir(parents=True)
    (root / "src" / "lab" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


def code(source: str, count: int | None = None, outputs: list | None = None, **meta) -> dict:
    cell = new_code_cell(source, execution_count=count, metadata=meta)
    cell.outputs = [nbformat.from_dict(o) for o in outputs or []]
    return cell


def write(root: Path, name: str, *cells: dict, metadata: dict | None = None) -> Path:
    """A real notebook written with nbformat (cell ids included)."""
    nb = new_notebook(cells=list(cells), metadata=metadata or {})
    path = root / "notebooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def found(root: Path, *paths: Path, config: Config | None = None) -> list[str]:
    result = check(Project(root), list(paths), config, use_cache=False, cwd=root)
    return [f"{f.location()}: {f.code} {f.message}" for f in result.findings]


GOOD = "1.0-ab-explore.ipynb"


def test_a_clean_notebook_has_no_findings(minimal_lab: Path):
    write(minimal_lab, GOOD, new_markdown_cell("# Explore"), code("import pandas as pd\n\nx = 1"))
    assert found(minimal_lab) == []


# -- stored state and hidden state -------------------------------------------------------------


def test_stored_outputs_and_execution_counts(minimal_lab: Path):
    stream = {"output_type": "stream", "name": "stdout", "text": "1\n"}
    write(minimal_lab, GOOD, code("x = 1"), code("print(x)", 2, [stream]), code("y = 2", 3))
    assert found(minimal_lab) == [
        f"notebooks/{GOOD}:2:0: NB201 stored outputs (it has outputs); clear them before "
        "committing (nbstripout, or Restart Kernel and Clear Outputs)",
        f"notebooks/{GOOD}:2:0: NB202 stored execution counts (2 cells have one); strip them "
        "before committing (nbstripout)",
    ]


def test_out_of_order_and_skipped_cells(minimal_lab: Path):
    write(
        minimal_lab,
        GOOD,
        code("a = 1", 1),
        code("b = a + 1", 5),
        code("c = b * 2"),  # never run, between executed cells
        code("print(total)", 3),
    )
    lines = found(minimal_lab, config=Config(ignore=("NB2", "NB304")))
    assert lines == [
        f"notebooks/{GOOD}:3:0: NB302 cell 3 was skipped between executed cells; restart the "
        "kernel and run all, or delete the cell",
        f"notebooks/{GOOD}:4:0: NB301 cell 4 ran before cell 2 (execution count 3 after 5); "
        "restart the kernel and run all, top to bottom",
    ]


# -- reproducibility hazards ---------------------------------------------------------------------


def test_absolute_paths_and_paths_outside_the_project(minimal_lab: Path):
    write(
        minimal_lab,
        GOOD,
        code('import pandas as pd\n\nframe = pd.read_csv("/home/ada/data/raw.csv")'),
        code('other = r"C:\\Users\\ada\\x.csv"\n# "/home/ada" in a comment is fine'),
        code('inside = "../data/raw/x.csv"\noutside = "../../shared/x.csv"'),
    )
    assert found(minimal_lab) == [
        f"notebooks/{GOOD}:1:3: NB401 absolute path '/home/ada/data/raw.csv' works only on one "
        "machine; use a path relative to the project (e.g. the package's config: "
        "RAW_DATA_DIR / 'file.csv')",
        f"notebooks/{GOOD}:2:1: NB401 absolute path 'C:\\\\Users\\\\ada\\\\x.csv' works only on "
        "one machine; use a path relative to the project (e.g. the package's config: "
        "RAW_DATA_DIR / 'file.csv')",
        f"notebooks/{GOOD}:3:2: NB402 path '../../shared/x.csv' leaves the project; put the "
        "file under data/ (tracked with DVC) and refer to it there",
    ]


def test_pip_install_in_a_notebook(minimal_lab: Path):
    write(minimal_lab, GOOD, code("%pip install seaborn\n!python -m pip install -q plotly\n!ls"))
    assert found(minimal_lab) == [
        f"notebooks/{GOOD}:1:1: NB403 `%pip install seaborn` installs packages from the "
        "notebook; declare them in pyproject.toml and install the environment instead "
        "(make requirements)",
        f"notebooks/{GOOD}:1:2: NB403 `!python -m pip install -q plotly` installs packages "
        "from the notebook; declare them in pyproject.toml and install the environment "
        "instead (make requirements)",
    ]


def test_undeclared_imports_with_aliases_stdlib_and_local_code(minimal_lab: Path):
    (minimal_lab / "notebooks" / "helpers.py").write_text("X = 1\n")
    write(
        minimal_lab,
        GOOD,
        code(
            "import os, json\nfrom pathlib import Path\nimport sklearn.linear_model\n"
            "import yaml\nimport numpy as np\nimport lab.config\nimport helpers\nfrom . import x"
        ),
        code("def f():\n    import seaborn as sns\n    return sns"),
        code("from cv2 import imread"),
    )
    assert found(minimal_lab) == [
        f"notebooks/{GOOD}:2:2: NB404 imports 'seaborn' (cell:line 2:2), which pyproject.toml "
        "does not declare, and whose distribution is unknown (not in the project's environment "
        "nor in the mapping); declare the distribution that provides it",
        f"notebooks/{GOOD}:3:1: NB404 imports 'cv2' (cell:line 3:1) from distribution "
        "'opencv-python' (or 'opencv-python-headless', 'opencv-contrib-python'), which "
        "pyproject.toml does not declare; add 'opencv-python' to [project] dependencies",
    ]


def test_the_projects_environment_maps_import_names(minimal_lab: Path):
    # a real installed distribution whose import name differs from its name
    site = minimal_lab / ".venv" / "lib" / "python3.11" / "site-packages"
    dist = site / "Pretty_Widgets-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: Pretty_Widgets\nVersion: 1.0\n")
    (dist / "top_level.txt").write_text("prettyw\n")
    (site / "prettyw").mkdir()
    (minimal_lab / ".venv" / "bin").mkdir()
    python = minimal_lab / ".venv" / "bin" / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    assert environment_map([site])["prettyw"] == {"pretty-widgets"}
    write(minimal_lab, GOOD, code("import prettyw"))
    assert [line.split(": ", 1)[1][:5] for line in found(minimal_lab)] == ["NB404"]
    (minimal_lab / "pyproject.toml").write_text(
        PYPROJECT.replace('"pandas",', '"pandas", "pretty-widgets",')
    )
    assert found(minimal_lab) == []


# -- magics and bad input -----------------------------------------------------------------------


def test_magics_and_shell_escapes_never_cause_findings(minimal_lab: Path):
    write(
        minimal_lab,
        GOOD,
        code("%load_ext autoreload\n%autoreload 2\nimport pandas as pd"),
        code("%%time\ntotal = sum(range(10))"),
        code("%%bash\nls /home/ada | grep 'x' && cd ../../..\n"),
        code("files = !ls\nfor name in files:\n    !echo {name}\npd.DataFrame?"),
        code("%matplotlib inline\nresult = %timeit -o sum(range(3))"),
        code("%%writefile ../../outside.txt\nnot python at all ("),
    )
    assert found(minimal_lab) == []


def test_blank_magics_keeps_lines_and_blocks():
    source = "for x in y:\n    !echo $x\n%time f()\nz = !ls \\\n  -la\nok = 1"
    assert blank_magics(source) == "for x in y:\n    pass\npass\nz = None\n\nok = 1"
    assert blank_magics("%%bash\nls\nrm -rf x") == "\n\n"
    assert blank_magics("%%capture out\nprint(1)") == "\nprint(1)"


def test_bad_notebooks_are_findings_and_the_others_are_still_checked(minimal_lab: Path):
    folder = minimal_lab / "notebooks"
    (folder / "1.1-ab-broken.ipynb").write_text('{"cells": [,]}')
    (folder / "1.2-ab-empty.ipynb").write_text("")
    (folder / "1.3-ab-old.ipynb").write_text(json.dumps({"nbformat": 3, "worksheets": []}))
    write(minimal_lab, "1.4-ab-syntax.ipynb", code("x = (1,\n"), code('path = "/home/ada/x"'))
    write(minimal_lab, GOOD, code('open("/Users/ada/x.csv")'))
    lines = found(minimal_lab)
    assert lines[0].startswith(f"notebooks/{GOOD}:1:1: NB401 absolute path '/Users/ada/x.csv'")
    assert lines[1:] == [
        "notebooks/1.1-ab-broken.ipynb:0:0: NB101 notebooks/1.1-ab-broken.ipynb is not valid "
        "JSON (line 1, column 12); resolve merge conflicts or restore it from git",
        "notebooks/1.2-ab-empty.ipynb:0:0: NB102 notebooks/1.2-ab-empty.ipynb is empty; delete "
        "it or save a notebook from Jupyter over it",
        "notebooks/1.3-ab-old.ipynb:0:0: NB103 notebooks/1.3-ab-old.ipynb uses nbformat 3; only "
        "version 4 is supported: open it in Jupyter and save it",
        "notebooks/1.4-ab-syntax.ipynb:1:1: NB104 cell does not parse ('(' was never closed); "
        "fix the Python, or mark a non-Python cell with a cell magic such as %%bash",
        "notebooks/1.4-ab-syntax.ipynb:2:1: NB401 absolute path '/home/ada/x' works only on one "
        "machine; use a path relative to the project (e.g. the package's config: "
        "RAW_DATA_DIR / 'file.csv')",
    ]


# -- copies across notebooks ----------------------------------------------------------------------

CLEAN = '''\
def clean(frame, column="price"):
    """Drop the rows without a price."""
    kept = frame.dropna(subset=[column])
    return kept[kept[column] > 0]
'''
CLEAN_RENAMED = """\
def tidy(df,   col = 'price'):
    # same code, other names and formatting
    out = df.dropna(subset = [col])
    return out[out[col] > 0]
"""
CLEAN_DRIFTED = """\
def clean(frame, column="price"):
    kept = frame.dropna(subset=[column])
    return kept[kept[column] >= 0]
"""


def test_copies_across_notebooks_up_to_renaming_and_formatting(minimal_lab: Path):
    write(minimal_lab, "1.0-ab-one.ipynb", code("import pandas as pd"), code(CLEAN))
    write(minimal_lab, "1.1-ab-two.ipynb", code(CLEAN_RENAMED))
    write(minimal_lab, "1.2-ab-three.ipynb", code("x = 1"), code("y = 2"), code(CLEAN_DRIFTED))
    assert found(minimal_lab) == [
        "notebooks/1.0-ab-one.ipynb:2:1: NB501 function 'clean' is copied in "
        "notebooks/1.1-ab-two.ipynb:1; move it into src/lab/ and import it "
        "(scaffold extract clean)",
        "notebooks/1.0-ab-one.ipynb:2:1: NB502 function 'clean(frame, column)' has drifted from "
        "the one in notebooks/1.2-ab-three.ipynb:3 (99% alike): - `return kept[kept[column] >= 0]`"
        " + `return kept[kept[column] > 0]` (and 1 more changed lines); keep one version in "
        "src/lab/ (scaffold extract clean --from NOTEBOOK)",
        "notebooks/1.1-ab-two.ipynb:1:1: NB501 function 'tidy' is copied in "
        "notebooks/1.0-ab-one.ipynb:2; move it into src/lab/ and import it "
        "(scaffold extract tidy)",
        "notebooks/1.2-ab-three.ipynb:3:1: NB502 function 'clean(frame, column)' has drifted "
        "from the one in notebooks/1.0-ab-one.ipynb:2 (99% alike): - `return kept[kept[column] > "
        "0]` + `return kept[kept[column] >= 0]` (and 1 more changed lines); keep one version in "
        "src/lab/ (scaffold extract clean --from NOTEBOOK)",
    ]
    # given one notebook, it is still compared with the others, and only it is reported
    assert [
        line[:40] for line in found(minimal_lab, minimal_lab / "notebooks" / "1.1-ab-two.ipynb")
    ] == ["notebooks/1.1-ab-two.ipynb:1:1: NB501 fu"]


def test_every_copy_names_three_others_and_counts_the_rest(minimal_lab: Path):
    for k in range(6):
        write(minimal_lab, f"1.{k}-ab-n{k}.ipynb", code(CLEAN))
    write(minimal_lab, "1.6-ab-n6.ipynb", code(CLEAN_DRIFTED))
    assert found(minimal_lab, minimal_lab / "notebooks" / "1.0-ab-n0.ipynb") == [
        "notebooks/1.0-ab-n0.ipynb:1:1: NB501 function 'clean' is copied in "
        "notebooks/1.1-ab-n1.ipynb:1, notebooks/1.2-ab-n2.ipynb:1, notebooks/1.3-ab-n3.ipynb:1 "
        "and 2 more; move it into src/lab/ and import it (scaffold extract clean)",
        "notebooks/1.0-ab-n0.ipynb:1:1: NB502 function 'clean(frame, column)' has drifted from "
        "the one in notebooks/1.6-ab-n6.ipynb:1 (99% alike): - `return kept[kept[column] >= 0]` "
        "+ `return kept[kept[column] > 0]` (and 1 more changed lines); keep one version in "
        "src/lab/ (scaffold extract clean --from NOTEBOOK)",
    ]
    assert found(minimal_lab, minimal_lab / "notebooks" / "1.6-ab-n6.ipynb") == [
        "notebooks/1.6-ab-n6.ipynb:1:1: NB502 function 'clean(frame, column)' has drifted from "
        "the one in notebooks/1.0-ab-n0.ipynb:1 (99% alike): - `return kept[kept[column] > 0]` "
        "+ `return kept[kept[column] >= 0]` (and 1 more changed lines); keep one version in "
        "src/lab/ (scaffold extract clean --from NOTEBOOK)",
    ]


class CountedPath(str):
    """A notebook path that counts how often it is compared."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountedPath.comparisons += 1
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        CountedPath.comparisons += 1
        return str.__ne__(self, other)

    __hash__ = str.__hash__


def test_reporting_copies_is_linear_in_their_number():
    from scaffold.check.checker import _duplicate_rules
    from scaffold.check.notebook import Summary

    count = 3000
    every = []
    for i in range(count):
        path = CountedPath(f"nb{i}.ipynb")
        code = "one" if i % 2 else "two"  # two groups of copies, one name drifted apart
        definition = duplicates.Definition("f", "function", path, 1, 1, 5, code)
        every.append(Summary(path, definitions=[definition]))
    CountedPath.comparisons = 0
    found = _duplicate_rules(every, {s.path for s in every}, Config(), "src/lab/")
    assert sorted({f.code for f in found}) == ["NB501", "NB502"] and len(found) == 2 * count
    assert found[0].message.startswith(
        "function 'f' is copied in nb2.ipynb:1, nb4.ipynb:1, nb6.ipynb:1 and 1496 more;"
    )
    # Naming the others of each copy by scanning its group compared paths 1.3e7 times.
    assert CountedPath.comparisons <= 20 * count


def test_fingerprints_ignore_local_names_but_not_globals():
    import ast

    def fp(source: str) -> str:
        node = ast.parse(source).body[0]
        assert isinstance(node, (ast.FunctionDef, ast.ClassDef))
        return duplicates.fingerprint(node)

    base = "def f(a):\n    b = helper(a)\n    return [c for c in b]\n"
    assert fp(base) == fp(
        "def g(x):\n    '''doc'''\n    y = helper(x)  # c\n    return [z for z in y]\n"
    )
    assert fp(base) != fp(base.replace("helper", "other"))  # calls another function
    assert fp(base) != fp(base.replace("return", "yield"))
    assert fp("class A:\n    def m(self, v):\n        return v\n") == fp(
        "class B:\n    def m(me, w):\n        return w\n"
    )


class CountedFingerprint(str):
    """A fingerprint that counts how often it is compared for equality."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountedFingerprint.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_grouping_is_by_bucket_not_pairwise():
    count = 20_000
    defs = [
        duplicates.Definition(
            f"f{i}", "function", f"nb{i % 7}.ipynb", 1, 1, 5, CountedFingerprint(f"h{i % 1000}")
        )
        for i in range(count)
    ]
    CountedFingerprint.comparisons = 0
    groups = duplicates.group(defs)
    # Buckets compare each fingerprint a few times; pairs would compare 2e8 times.
    assert CountedFingerprint.comparisons <= 10 * count
    assert len(groups.copies) == 1000
    assert groups.drifted == []


# -- production contract ----------------------------------------------------------------------

STAGE = """\
stages:
  1_0-ab-train:
    cmd: >-
      papermill --cwd notebooks notebooks/1.0-ab-train.ipynb reports/1.0-ab-train.ipynb
      -f params/1.0-ab-train.yaml
    deps:
      - src/lab
    outs:
      - reports/1.0-ab-train.ipynb
"""


def test_production_notebooks_keep_their_contract(minimal_lab: Path):
    (minimal_lab / "params").mkdir()
    (minimal_lab / "params" / "1.0-ab-train.yaml").write_text(
        "learning_rat: 0.1\nepochs: ten\nseed: 3\nratio: 1\n"
    )
    (minimal_lab / "dvc.yaml").write_text(STAGE)
    parameters = code(
        "learning_rate: float = 0.01\nepochs: int = 10\nseed = 1\nratio: float = 0.5",
        tags=["parameters"],
    )
    write(minimal_lab, "1.0-ab-train.ipynb", code("import pandas as pd"), parameters)
    assert found(minimal_lab) == [
        "notebooks/1.0-ab-train.ipynb:0:0: NB604 dvc.yaml stage '1_0-ab-train' does not depend "
        "on notebooks/1.0-ab-train.ipynb; add it to the stage's deps so dvc repro re-runs when "
        "it changes",
        "notebooks/1.0-ab-train.ipynb:0:0: NB604 dvc.yaml stage '1_0-ab-train' does not depend "
        "on params/1.0-ab-train.yaml; add it to the stage's params so dvc repro re-runs when "
        "it changes",
        "notebooks/1.0-ab-train.ipynb:2:0: NB602 params/1.0-ab-train.yaml sets 'learning_rat', "
        "which the parameters cell does not define (did you mean 'learning_rate'?); rename the "
        "key or add the parameter",
        "notebooks/1.0-ab-train.ipynb:2:2: NB603 'epochs' is int in the parameters cell but str "
        "in params/1.0-ab-train.yaml; make them agree",
    ]


def test_a_production_notebook_needs_exactly_one_parameters_cell(minimal_lab: Path):
    (minimal_lab / "params").mkdir()
    (minimal_lab / "params" / "1.0-ab-none.yaml").write_text("seed: 1\n")
    (minimal_lab / "params" / "1.1-ab-two.yaml").write_text("seed: 1\n")
    (minimal_lab / "params" / "1.2-ab-bad.yaml").write_text("seed: [1\n")
    write(minimal_lab, "1.0-ab-none.ipynb", code("seed = 1"))
    write(
        minimal_lab,
        "1.1-ab-two.ipynb",
        code("seed = 1", tags=["parameters"]),
        code("x = 2", tags=["parameters"]),
    )
    write(minimal_lab, "1.2-ab-bad.ipynb", code("seed = 1", tags=["parameters"]))
    write(minimal_lab, "1.3-ab-free.ipynb", code("seed = 1"))  # not production: no params, no stage
    assert found(minimal_lab) == [
        "notebooks/1.0-ab-none.ipynb:0:0: NB601 production notebook: no cell is tagged "
        "'parameters'; tag the cell that holds the defaults (papermill injects the parameters "
        "after it)",
        "notebooks/1.1-ab-two.ipynb:2:0: NB601 production notebook: 2 cells are tagged "
        "'parameters'; keep the tag on one",
        "params/1.2-ab-bad.yaml:0:0: NB605 params/1.2-ab-bad.yaml is not valid YAML (line 2); "
        "fix it",
    ]


# -- conventions, size, data ------------------------------------------------------------------


def test_notebook_names_follow_the_convention(minimal_lab: Path):
    write(minimal_lab, "Untitled1.ipynb", code("x = 1"))
    write(minimal_lab, "2.1-ab-Clean_Data.ipynb", code("x = 1"))
    write(minimal_lab, "2.2-ab-clean-data.ipynb", code("x = 1"))
    assert found(minimal_lab) == [
        "notebooks/2.1-ab-Clean_Data.ipynb:0:0: NB701 name '2.1-ab-Clean_Data.ipynb' does not "
        "follow <phase>.<seq>-<initials>-<description> (e.g. 1.2-ab-clean-data.ipynb); rename "
        "it (git mv)",
        "notebooks/Untitled1.ipynb:0:0: NB701 name 'Untitled1.ipynb' does not follow "
        "<phase>.<seq>-<initials>-<description> (e.g. 1.2-ab-clean-data.ipynb); rename it "
        "(git mv)",
    ]


def test_long_notebooks_and_many_functions_get_a_hint(minimal_lab: Path):
    write(minimal_lab, GOOD, *[code(f"def f{i}(x):\n    return x + {i}") for i in range(37)])
    assert found(minimal_lab) == [
        f"notebooks/{GOOD}:0:0: NB801 37 cells (more than 36); long notebooks rarely reproduce:"
        " move steps into src/lab/ or split the notebook",
        f"notebooks/{GOOD}:0:0: NB802 defines 37 functions (more than 8); move them into "
        "src/lab/ and import them (scaffold add module NAME)",
    ]
    (minimal_lab / "pyproject.toml").write_text(
        PYPROJECT + "\n[tool.scaffold.check]\nmax-cells = 40\nmax-functions = 37\n"
    )
    assert found(minimal_lab, config=load_config(minimal_lab)) == []


def test_data_files_in_git(minimal_lab: Path):
    (minimal_lab / "data" / "raw").mkdir(parents=True)
    (minimal_lab / "data" / "raw" / ".gitkeep").write_text("")
    (minimal_lab / "data" / "raw" / "sales.csv").write_text("a,b\n1,2\n")
    (minimal_lab / "data" / "raw" / "big.csv.dvc").write_text("outs: []\n")
    (minimal_lab / "references").mkdir()
    (minimal_lab / "references" / "dump.parquet").write_bytes(b"\0" * 1100 * 1024)
    (minimal_lab / "references" / "small.parquet").write_bytes(b"\0" * 10)
    subprocess.run(["git", "init", "-q"], cwd=minimal_lab, check=True)
    subprocess.run(["git", "add", "-A"], cwd=minimal_lab, check=True)
    assert found(minimal_lab) == [
        "data/raw/sales.csv:0:0: NB901 data/raw/sales.csv is in git; track data with DVC: "
        "git rm --cached data/raw/sales.csv && dvc add data/raw/sales.csv",
        "references/dump.parquet:0:0: NB902 references/dump.parquet (1100 kB) is in git; track"
        " it with DVC: git rm --cached references/dump.parquet && dvc add "
        "references/dump.parquet",
    ]


# -- silencing and configuration ----------------------------------------------------------------


def test_a_noqa_comment_silences_one_finding_in_its_cell(minimal_lab: Path):
    write(
        minimal_lab,
        GOOD,
        code('a = "/home/ada/x.csv"  # scaffold: noqa NB401\nimport seaborn'),
        code('b = "/home/ada/y.csv"'),
        code('c = "/home/ada/z.csv"\nimport plotly  # scaffold: noqa'),
    )
    lines = found(minimal_lab)
    assert [line.split(" ", 2)[:2] for line in lines] == [
        [f"notebooks/{GOOD}:1:2:", "NB404"],
        [f"notebooks/{GOOD}:2:1:", "NB401"],
    ]


def test_notebook_metadata_silences_whole_notebook_rules(minimal_lab: Path):
    write(minimal_lab, "Scratch.ipynb", code("x = 1"), metadata={"scaffold": {"noqa": ["NB701"]}})
    assert found(minimal_lab) == []


def test_select_and_ignore_as_ruff_does(minimal_lab: Path):
    write(minimal_lab, "Scratch.ipynb", code('import seaborn\np = "/home/a/x"'))
    codes = lambda config: [line.split()[1] for line in found(minimal_lab, config=config)]  # noqa: E731
    assert codes(Config()) == ["NB701", "NB404", "NB401"]
    assert codes(Config(select=("NB4",))) == ["NB404", "NB401"]
    assert codes(Config(select=("NB4",), ignore=("NB404",))) == ["NB401"]
    assert codes(Config(ignore=("NB4",)).with_codes([], ["NB7"])) == []
    assert codes(Config(ignore=("NB4",)).with_codes(["NB401"], [])) == ["NB401"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("select = ['XX1']", "[tool.scaffold.check] select: unknown rule code 'XX1'"),
        ("ignore = ['NB999']", "[tool.scaffold.check] ignore: unknown rule code 'NB999'"),
        ("max-cells = 0", "[tool.scaffold.check] max-cells must be a positive whole number"),
        ("colour = 'red'", "[tool.scaffold.check] has unknown key 'colour'"),
    ],
)
def test_bad_configuration_is_one_sentence(minimal_lab: Path, table: str, message: str):
    (minimal_lab / "pyproject.toml").write_text(PYPROJECT + f"\n[tool.scaffold.check]\n{table}\n")
    with pytest.raises(ScaffoldError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(minimal_lab)


def test_rules_that_need_no_parsing_do_not_parse(minimal_lab: Path):
    path = write(minimal_lab, GOOD, code("x = (", 2), code('p = "/home/a/x"', 1))
    everything = ["NB202", "NB104", "NB301", "NB401"]
    codes = lambda config: [f.code for f in check(Project(minimal_lab), [], config).findings]  # noqa: E731
    stored = Config(select=("NB2", "NB301", "NB302"))  # what nbstripout --verify, counts show
    assert codes(stored) == ["NB202", "NB301"]
    unparsed = summaries(minimal_lab, [path], parse=False)[0]  # as cached by that check
    assert not unparsed.parsed
    assert [f.code for f in unparsed.findings] == ["NB202", "NB301"]  # no NB104: not parsed
    assert codes(Config()) == everything  # the unparsed summary in the cache is not used
    assert codes(stored) == ["NB202", "NB301"]


def test_the_cache_is_used_and_refreshed(minimal_lab: Path, tmp_path: Path):
    path = write(minimal_lab, GOOD, code('p = "/home/a/x"'))
    project = Project(minimal_lab)
    first = check(project).findings
    assert [f.code for f in first] == ["NB401"]
    assert check(project).findings == first  # from the cache
    write(minimal_lab, GOOD, code("p = 1"))
    assert check(project).findings == []
    assert path.is_file()
    assert not any(
        ".cache" in name for name in listing(minimal_lab)
    )  # nothing written in the project


# -- the command ----------------------------------------------------------------------------------


def test_the_command_output_formats_and_exit_codes(minimal_lab: Path):
    path = write(minimal_lab, GOOD, code('p = "/home/a/x"\nq = 1'))
    human = run_scaffold("check", cwd=minimal_lab / "notebooks", check=False)
    assert human.returncode == 1
    assert human.stdout.splitlines()[0].startswith(f"notebooks/{GOOD}:1:1: NB401 absolute path")
    assert human.stdout.splitlines()[-1] == (
        "Found 1 problem (1 error) in 1 file; 1 notebook checked."
    )
    as_json = json.loads(
        run_scaffold("check", "--format", "json", cwd=minimal_lab, check=False).stdout
    )
    assert as_json["findings"][0] == {
        "path": f"notebooks/{GOOD}",
        "cell": 1,
        "line": 1,
        "code": "NB401",
        "severity": "error",
        "message": as_json["findings"][0]["message"],
    }
    github = run_scaffold("check", "--format", "github", cwd=minimal_lab / "notebooks", check=False)
    # line=: the line of the .ipynb file that holds the cell's line, where GitHub shows it
    row = path.read_text().splitlines().index('    "p = \\"/home/a/x\\"\\n",') + 1
    assert github.stdout.splitlines()[0].startswith(
        f"::error file=notebooks/{GOOD},line={row},title=NB401::cell 1, line 1: absolute path"
    )
    clean = run_scaffold("check", "--ignore", "NB401", cwd=minimal_lab)
    assert clean.stdout == "All checks passed: 1 notebook.\n"


def test_file_lines_find_a_cells_line_in_the_notebooks_json(minimal_lab: Path):
    path = write(
        minimal_lab,
        GOOD,
        new_markdown_cell("# Title\ntext"),
        new_code_cell('import os\n\np = "/home/a/x"', metadata={"source": "a key named source"}),
        code(""),
    )
    text = path.read_text()
    rows = text.splitlines()
    found = file_lines(text, [(2, 3), (2, 0), (1, 2), (3, 1), (9, 1)])
    assert {place: rows[row - 1].strip() for place, row in found.items()} == {
        (2, 3): '"p = \\"/home/a/x\\""',
        (2, 0): '"import os\\n",',  # line 0: the cell's first line
        (1, 2): '"text"',
        (3, 1): '"source": []',
    }  # cell 9 does not exist
    assert file_lines(json.dumps(json.loads(text)), [(2, 3)]) == {(2, 3): 1}  # one line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--format", "xml"],
            "error: --format must be one of human, json, github, sarif, got 'xml'.",
        ),
        (["../elsewhere.ipynb"], "error: ../elsewhere.ipynb is outside the project"),
        (["notebooks/missing.ipynb"], "error: notebooks/missing.ipynb: no such file or folder."),
        (["pyproject.toml"], "error: pyproject.toml is not a notebook (.ipynb)."),
        (["--select", "NB9999"], "error: --select: unknown rule code 'NB9999'"),
    ],
)
def test_usage_errors_exit_2_with_one_sentence(minimal_lab: Path, args: list[str], message: str):
    (minimal_lab.parent / "elsewhere.ipynb").write_text("{}")
    result = run_scaffold("check", *args, cwd=minimal_lab, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_outside_any_project_exits_2(tmp_path: Path):
    result = run_scaffold("check", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "is not inside a project" in result.stderr


def test_check_help_and_static_checks_stay_light(minimal_lab: Path):
    write(minimal_lab, GOOD, code("%time x = 1"))
    probe = (
        "import sys, os; from typer.testing import CliRunner; from scaffold.cli import app;"
        "r = CliRunner().invoke(app, sys.argv[1:]); print(r.exit_code);"
        "print(sorted(m for m in ('cookiecutter', 'copier', 'dvc', 'nbformat', 'IPython',"
        " 'papermill', 'rich') if m in sys.modules))"
    )
    for args in (["check", "--help"], ["check"]):
        out = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=minimal_lab,
        ).stdout.split("\n")
        assert out[:2] == ["0", "[]"], (args, out)


def test_a_warm_check_reads_no_notebook_and_the_spark_and_threshold_rules_use_the_cache(
    minimal_lab: Path, monkeypatch: pytest.MonkeyPatch
):
    from scaffold.check import notebook

    (minimal_lab / "params").mkdir()
    (minimal_lab / "params" / "1.1-ab-prod.yaml").write_text("seed: 1\n")
    functions = [code(f"def f{i}(x):\n    return x + {i}") for i in range(6)]
    write(minimal_lab, "1.1-ab-prod.ipynb", code("seed = 1", tags=["parameters"]), *functions)
    write(
        minimal_lab,
        "1.2-ab-writes.ipynb",
        code("import pandas as pd"),
        code("pd.DataFrame().to_csv('x')"),
    )
    write(
        minimal_lab,
        "1.3-ab-spark.ipynb",
        code("from pyspark.sql import SparkSession"),
        code('spark = SparkSession.builder.master("local[2]").getOrCreate()'),
        code('spark.read.parquet("s3a://b/e").toPandas()'),
    )
    reads: list[str] = []
    real = notebook.read_regular

    def counted(path: Path) -> bytes | None:
        reads.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(notebook, "read_regular", counted)
    expected = {
        ("1.1-ab-prod.ipynb", "NB813"),
        ("1.2-ab-writes.ipynb", "NB815"),
        ("1.3-ab-spark.ipynb", "NB411"),
        ("1.3-ab-spark.ipynb", "NB413"),
        ("1.3-ab-spark.ipynb", "NB415"),
    }
    cold = check(Project(minimal_lab), cwd=minimal_lab)
    assert sorted(reads) == ["1.1-ab-prod.ipynb", "1.2-ab-writes.ipynb", "1.3-ab-spark.ipynb"]
    found = {(Path(f.path).name, f.code) for f in cold.findings if f.code[:4] in ("NB41", "NB81")}
    assert found == expected
    master = next(f.message for f in cold.findings if f.code == "NB413")
    assert master.endswith(
        "build the session with the master read from the environment (os.environ)"
    )
    reads.clear()
    warm = check(Project(minimal_lab), cwd=minimal_lab)
    assert reads == []  # every rule, Spark's and the threshold's included, used the cache
    assert warm.findings == cold.findings


def test_saving_a_page_or_a_video_is_not_a_data_write(minimal_lab: Path):
    write(
        minimal_lab,
        "1.0-ab-maps.ipynb",
        code('m = folium.Map()\nm.save("map.html")'),
        code("ani.save('wiggle.mp4', writer=w)\nplt.savefig('a.png')"),
    )
    config = Config(select=("NB815",))
    assert check(Project(minimal_lab), [], config, cwd=minimal_lab).findings == []
    write(minimal_lab, "1.1-ab-arrays.ipynb", code('np.save("an_array", x)\nm.save("map.html")'))
    found = check(Project(minimal_lab), [], config, cwd=minimal_lab).findings
    assert [(Path(f.path).name, f.code) for f in found] == [("1.1-ab-arrays.ipynb", "NB815")]
    assert "writes data 1 time(s) (save)" in found[0].message
