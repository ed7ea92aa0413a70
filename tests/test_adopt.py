"""scaffold adopt: a messy notebook repository brought into the layout, in place, in one commit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import git, run_scaffold, scaffold_in_process, tree

HELPER = "def clean(df):\n    return df.dropna()\n"


def notebook(path: Path, *cells: str) -> None:
    """A notebook of code cells (no outputs), as Jupyter saves it."""
    data = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": source.splitlines(keepends=True),
            }
            for source in cells
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def make_messy(root: Path, commit: bool = True) -> Path:
    """Numbered notebooks at the top, committed data, a stale requirements.txt (numpy and
    yaml missing), a helper pasted into three notebooks, A writes processed.csv for B, a
    module beside them, an absolute path (which adopt lists, and check still reports: only
    its owner knows where the file is)."""
    root.mkdir()
    notebook(
        root / "01_load data.ipynb",
        "import pandas as pd\nimport yaml\n",
        HELPER,
        "df = clean(pd.read_csv('data/sales.csv'))\n"
        "settings = yaml.safe_load('a: 1')\n"
        "df.to_csv('processed.csv', index=False)\n",
    )
    notebook(
        root / "02_model.ipynb",
        "import numpy as np\nimport pandas as pd\nfrom helpers import double\n",
        HELPER,
        "df = clean(pd.read_csv('processed.csv'))\nprint(double(np.mean(df['x'])))\n",
    )
    notebook(
        root / "3. Report.ipynb",
        "import pandas as pd\n",
        HELPER,
        "if False:\n    pd.read_csv('/Users/ana/Downloads/other.csv')\n"
        "lookup = pd.read_csv('lookup.csv')\nprint(len(lookup))\n",
    )
    (root / "data").mkdir()
    (root / "data" / "sales.csv").write_text("x,y\n1,2\n3,\n5,6\n")
    (root / "lookup.csv").write_text("k,v\na,1\n")
    (root / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "requirements.txt").write_text("pandas\n")
    (root / "README.md").write_text("# Messy\n\nMy notebooks.\n")
    if commit:
        commit_all(root, "notebooks")
    return root


def commit_all(repo: Path, message: str, author: str = "Ana Lopez") -> None:
    """``git init`` in ``repo`` and one commit of everything in it, by ``author`` (whom adopt
    takes the initials from)."""
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", "--all", cwd=repo)
    git("-c", f"user.name={author}", "commit", "--quiet", "-m", message, cwd=repo)


def state(root: Path) -> tuple[dict[str, bytes], str, str]:
    """Every file's bytes, HEAD, and the refs: what must not change."""
    refs = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=root)
    return tree(root), git("rev-parse", "HEAD", cwd=root), refs


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    repo = make_messy(tmp_path / "messy")
    before = state(repo)
    result = scaffold_in_process("adopt", str(repo), "--dry-run", cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    out = result.stdout
    assert "01_load data.ipynb -> notebooks/1.1-al-load-data.ipynb" in out
    assert "02_model.ipynb -> notebooks/1.2-al-model.ipynb" in out
    assert "3. Report.ipynb -> notebooks/1.3-al-report.ipynb" in out
    assert "data/sales.csv -> data/raw/sales.csv (DVC)" in out
    assert "helpers.py -> src/messy/helpers.py" in out
    assert "'data/sales.csv' -> RAW_DATA_DIR / \"sales.csv\"" in out
    assert "/Users/ana/Downloads/other.csv" in out
    assert "  numpy\n" in out and "  pyyaml\n" in out
    assert (
        "notebooks/1.1-al-load-data.ipynb -> data/processed/processed.csv -> "
        "notebooks/1.2-al-model.ipynb" in out
    )
    assert "git's history keeps the old copies" in out
    assert "clean is pasted into 3 notebooks" in out and "scaffold extract clean" in out
    assert state(repo) == before


def test_a_long_list_of_files_that_stay_is_cut_short(tmp_path: Path) -> None:
    repo = make_messy(tmp_path / "messy")
    for index in range(60):
        (repo / "assets").mkdir(exist_ok=True)
        (repo / "assets" / f"part{index:02}.xyz").write_text("x\n")
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "assets", cwd=repo)
    result = scaffold_in_process("adopt", str(repo), "--dry-run", cwd=tmp_path, check=False)
    out = result.stdout
    listed = [line for line in out.splitlines() if line.startswith("  ")]
    counted = int(out.split("\nother (", 1)[1].split(")", 1)[0])
    shown = [line for line in listed if line.startswith("  assets/part")]
    assert counted >= 60 and len(shown) <= 50 and "assets/part00.xyz" in shown[0], out
    assert f"  ... and {counted - 50} more, which stay where they are\n" in out
    assert "02_model.ipynb -> notebooks/1.2-al-model.ipynb" in out  # every move still shown


def test_adopt_lays_out_tracks_rewrites_and_declares(tmp_path: Path) -> None:
    repo = make_messy(tmp_path / "messy")
    scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    assert git("log", "-1", "--format=%s", cwd=repo) == "Adopt the scaffold layout"
    assert git("status", "--porcelain", cwd=repo) == ""
    files = git("ls-files", cwd=repo).splitlines()
    assert "notebooks/1.1-al-load-data.ipynb" in files
    assert "src/messy/helpers.py" in files and "src/messy/config.py" in files
    assert ".copier-answers.yml" in files and "Makefile" in files
    # data: moved, out of git, tracked by DVC
    assert (repo / "data/raw/sales.csv").read_text().startswith("x,y")
    assert "data/raw.dvc" in files
    assert not any(name.endswith(".csv") for name in files)
    # history follows the moves
    log = git("log", "--follow", "--format=%s", "--", "notebooks/1.2-al-model.ipynb", cwd=repo)
    assert log.splitlines() == ["Adopt the scaffold layout", "notebooks"]
    # paths and imports rewritten
    load = (repo / "notebooks/1.1-al-load-data.ipynb").read_text()
    assert 'RAW_DATA_DIR / \\"sales.csv\\"' in load
    assert 'PROCESSED_DATA_DIR / \\"processed.csv\\"' in load
    assert "from messy.config import PROCESSED_DATA_DIR, RAW_DATA_DIR" in load
    model = (repo / "notebooks/1.2-al-model.ipynb").read_text()
    assert "from messy.helpers import double" in model
    # dependencies: the old file's and the two it missed
    pyproject = (repo / "pyproject.toml").read_text()
    for name in ('"numpy"', '"pandas"', '"pyyaml"', '"python-dotenv"'):
        assert name in pyproject
    # the two-stage pipeline
    stages = (repo / "dvc.yaml").read_text()
    assert "data/processed/processed.csv" in stages
    # the README is merged, not replaced
    assert (repo / "README.md").read_text().startswith("# Messy\n\nMy notebooks.")
    # scaffold check: no path findings
    checked = scaffold_in_process("check", cwd=repo, check=False)
    paths = [line for line in checked.stdout.splitlines() if " NB40" in line]
    assert len(paths) == 1 and "/Users/ana/Downloads/other.csv" in paths[0], checked.stdout
    assert "NB6" not in checked.stdout, checked.stdout
    # and now it is a scaffold project
    again = scaffold_in_process("adopt", str(repo), "--dry-run", cwd=tmp_path)
    assert "nothing to adopt" in again.stdout


def test_a_dirty_tree_is_refused_with_its_files(tmp_path: Path) -> None:
    repo = make_messy(tmp_path / "messy")
    (repo / "lookup.csv").write_text("k,v\nb,2\n")
    (repo / "scratch.py").write_text("x = 1\n")
    before = tree(repo)
    result = scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "lookup.csv" in result.stderr and "scratch.py" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(repo) == before


@pytest.mark.parametrize("timeout", ["0", "-5"])
def test_a_timeout_below_a_second_is_refused_before_anything(tmp_path: Path, timeout: str) -> None:
    repo = make_messy(tmp_path / "messy")
    before = tree(repo)
    result = scaffold_in_process(
        "adopt", str(repo), "--yes", "--timeout", timeout, cwd=tmp_path, check=False
    )
    assert result.returncode == 2 and "--timeout" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "notebook" not in result.stdout
    assert tree(repo) == before


def test_a_scaffold_project_has_nothing_to_adopt(tmp_path: Path) -> None:
    scaffold_in_process("new", "Churn", "--no-input", cwd=tmp_path)
    result = scaffold_in_process("adopt", "churn", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0
    assert "nothing to adopt" in result.stdout


def test_a_plain_folder_gets_git(tmp_path: Path) -> None:
    repo = make_messy(tmp_path / "plain", commit=False)
    # Python environments by any name: a venv (pyvenv.cfg) and a conda one (conda-meta/)
    for env, marker in (("py311", "pyvenv.cfg"), ("envs/analysis", "conda-meta/history")):
        (repo / env / marker).parent.mkdir(parents=True, exist_ok=True)
        (repo / env / marker).write_text("home = /usr/bin\n")
        shipped = repo / env / "lib/python3.11/site-packages/demo"
        shipped.mkdir(parents=True)
        (shipped / "example.ipynb").write_text((repo / "02_model.ipynb").read_text())
        (shipped / "table.csv").write_text("a,b\n1,2\n")
    result = scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    assert git("log", "--format=%s", cwd=repo) == "Adopt the scaffold layout"
    assert (repo / "notebooks").is_dir() and (repo / "data/raw/lookup.csv").is_file()
    assert "demo/" not in result.stdout, result.stdout
    for env in ("py311", "envs/analysis"):
        assert (repo / env / "lib/python3.11/site-packages/demo/table.csv").is_file()
        assert git("ls-files", env, cwd=repo) == ""
        assert f"\n/{env}/\n" in (repo / ".gitignore").read_text()


def test_without_yes_and_no_terminal_it_asks_for_yes(tmp_path: Path) -> None:
    repo = make_messy(tmp_path / "messy")
    before = state(repo)
    result = scaffold_in_process("adopt", str(repo), "--no-run", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "--yes" in result.stderr
    assert state(repo) == before


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.5, 1.5, 3.0, 6.0])
def test_ctrl_c_at_any_moment_leaves_the_repository_as_it_was(tmp_path: Path, delay: float) -> None:
    repo = make_messy(tmp_path / "messy")
    before = state(repo)
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffold", "adopt", str(repo), "--yes", "--no-run"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # the plan is printed: the changes start now
        if line.startswith("all in one commit"):
            break
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    if process.returncode == 0:  # finished before the signal: nothing to check at this moment
        assert git("log", "-1", "--format=%s", cwd=repo) == "Adopt the scaffold layout"
        return
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert state(repo) == before
    assert git("status", "--porcelain", "--ignored", cwd=repo) == ""


@pytest.mark.slow
def test_adopted_notebooks_run_and_the_pipeline_reproduces(tmp_path: Path) -> None:
    repo = make_messy(tmp_path / "messy")
    result = run_scaffold("adopt", str(repo), "--yes", cwd=tmp_path)
    table = result.stdout[result.stdout.index("notebook  ") :]
    for name in ("1.1-al-load-data", "1.2-al-model", "1.3-al-report"):
        row = next(line for line in table.splitlines() if name in line)
        assert row.split()[1:3] == ["yes", "yes"], table
    assert "3 of 3 notebooks that need no network run now (before: 3)" in table
    env = {**os.environ, "PATH": f"{repo / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    repro = subprocess.run(
        [sys.executable, "-m", "dvc", "repro"], cwd=repo, capture_output=True, text=True, env=env
    )
    assert repro.returncode == 0, repro.stdout + repro.stderr
    order = [line for line in repro.stdout.splitlines() if line.startswith("Running stage")]
    assert [line.split("'")[1] for line in order] == ["1_1-al-load-data", "1_2-al-model"]
    assert (repo / "data/processed/processed.csv").read_text().startswith("x,y")


@pytest.mark.slow
def test_older_versions_are_pinned_when_the_newest_break_a_notebook(tmp_path: Path) -> None:
    repo = tmp_path / "old"
    repo.mkdir()
    notebook(
        repo / "01_grow.ipynb",
        "import pandas as pd\n",
        # DataFrame.append went away in pandas 2.0 (April 2023)
        "df = pd.DataFrame({'x': [1]}).append({'x': 2}, ignore_index=True)\nprint(len(df))\n",
    )
    notebook(repo / "02_fine.ipynb", "import pandas as pd\nprint(pd.Series([1]).sum())\n")
    # past append, at the older pandas, it needs a desktop: no version (nor date) can run it
    notebook(
        repo / "03_copy.ipynb",
        "import os\nimport pandas as pd\n",
        "for name in ('DISPLAY', 'WAYLAND_DISPLAY'):\n    os.environ.pop(name, None)\n"
        "df = pd.DataFrame({'x': [1]}).append({'x': 2}, ignore_index=True)\ndf.to_clipboard()\n",
    )
    # pandas 3 refuses text into a float column; under an older pandas that works and the
    # notebook then stops on .ix, which adopt rewrites (.loc: the index is of integers)
    notebook(
        repo / "04_years.ipynb",
        "import pandas as pd\ndf = pd.DataFrame({'a': [1.0]})\ndf.loc[0, 'a'] = 'text'\n",
        "s = pd.Series([1, 2], index=[2009, 2013])\nprint(s.ix[2013])\n",
    )
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", "--all", cwd=repo)
    dated = {"GIT_COMMITTER_DATE": "2022-12-01T12:00:00", "GIT_AUTHOR_DATE": "2022-12-01T12:00:00"}
    subprocess.run(
        ["git", "commit", "--quiet", "-m", "notebooks"],
        cwd=repo,
        check=True,
        env={**os.environ, **dated},
    )
    result = run_scaffold("adopt", str(repo), "--yes", cwd=tmp_path)
    out = result.stdout
    assert "Pin the versions that run the notebooks" in out, out
    row = next(line for line in out.splitlines() if line.startswith("notebooks/1.1-tu-grow.ipynb "))
    assert row.split()[1:3] == ["no", "yes"] and "pinned" in row, out
    copy = next(line for line in out.splitlines() if line.startswith("notebooks/1.3-tu-copy"))
    assert copy.split()[1:3] == ["no", "no"], out
    assert "trying every library as of a date" not in out, out  # the clipboard needs no date
    years = next(line for line in out.splitlines() if line.startswith("notebooks/1.4-tu-years"))
    assert years.split()[1:3] == ["no", "yes"] and "pinned" in years, out
    cells = json.loads((repo / "notebooks/1.4-tu-years.ipynb").read_text())["cells"]
    assert "print(s.loc[2013])" in "".join(cells[-1]["source"])
    assert git("log", "--format=%s", cwd=repo).splitlines()[:3] == [
        "Pin the versions that run the notebooks",
        "Modernise removed APIs the runs named (mechanical rewrites)",
        "Adopt the scaffold layout",
    ]
    pyproject = (repo / "pyproject.toml").read_text()
    assert '"pandas==1.' in pyproject and "[tool.scaffold.adopt]" in pyproject
    assert "1.1-tu-grow.ipynb" in pyproject


def test_paths_become_config_paths_of_the_right_kind() -> None:
    from scaffold.adopt import code

    found = code.Code()
    source = (
        "import glob, pandas as pd\n"
        "a = pd.read_csv('../input/sales.csv')\n"
        "b = glob.glob('data/names/*.txt')\n"
        "c = 'data/names/' + name\n"
        "df['data'] = 1\n"
    )
    code.analyse_source(found, 0, source)
    by_value = {literal.value: literal for literal in found.literals}
    assert by_value["../input/sales.csv"].access == "read"
    known = {"data/sales.csv", "data", "data/names", "data/names/yob1880.txt"}
    basenames = {"sales.csv": "data/sales.csv"}
    root = Path("/nowhere")
    assert code.resolve("../input/sales.csv", "", root, known, basenames) == "data/sales.csv"
    assert not code.looks_like_path("data")  # a column name is not a path
    expression, name = code.config_expression("data/raw/sales.csv", by_value["../input/sales.csv"])
    assert (expression, name) == ('RAW_DATA_DIR / "sales.csv"', "RAW_DATA_DIR")
    glob_expression, _ = code.config_expression(
        "data/raw/names/*.txt", by_value["data/names/*.txt"]
    )
    assert glob_expression == 'f"{RAW_DATA_DIR}/names/*.txt"'
    prefix, _ = code.config_expression("data/raw/names", by_value["data/names/"])
    assert prefix == 'f"{RAW_DATA_DIR}/names/"'
    at = by_value["../input/sales.csv"]
    edits = [code.Edit(0, at.line, at.col, at.line, at.end_col, expression)]
    assert 'pd.read_csv(RAW_DATA_DIR / "sales.csv")' in code.apply_edits(source, edits)


def test_local_imports_come_from_the_package() -> None:
    import ast

    from scaffold.adopt.code import import_text

    def rewritten(line: str) -> str | None:
        node = ast.parse(line).body[0]
        assert isinstance(node, ast.Import | ast.ImportFrom)
        return import_text(node, {"helpers", "mglearn"}, "proj")

    assert rewritten("import helpers") == "from proj import helpers"
    assert rewritten("import os, helpers as h") == "import os; from proj import helpers as h"
    assert rewritten("from helpers import a, b as c") == "from proj.helpers import a, b as c"
    assert rewritten("from mglearn.plots import x") == "from proj.mglearn.plots import x"
    # the submodule loaded and the top name bound, as before
    assert (
        rewritten("import mglearn.plots") == "import proj.mglearn.plots; from proj import mglearn"
    )
    assert rewritten("import mglearn.plots as mp") == "import proj.mglearn.plots as mp"
    assert rewritten("import numpy") is None


def test_a_failure_midway_leaves_the_repository_as_it_was(tmp_path: Path) -> None:
    repo = make_messy(tmp_path / "messy")
    outside = tmp_path / "outside.md"
    outside.write_text("# not the repository's\n")
    (repo / "README.md").unlink()
    (repo / "README.md").symlink_to(outside)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "readme elsewhere", cwd=repo)
    before = state(repo)
    result = scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "README.md leads outside the repository" in result.stderr
    assert outside.read_text() == "# not the repository's\n"
    assert state(repo) == before
    assert git("status", "--porcelain", "--ignored", cwd=repo) == ""


def test_failures_are_classified() -> None:
    from scaffold.adopt.runs import reason

    def run_all(error: str) -> str:
        return f"fails on restart and run all: {error}; the notebook depends on state from cells"

    assert reason(
        run_all("URLError: <urlopen error [Errno -2] Name or service not known>")
    ).startswith("needs the network")
    assert reason(run_all("FileNotFoundError: [Errno 2] No such file")).startswith("missing data")
    assert reason(run_all("ImportError: cannot import name 'x'\n\nlong text")) == (
        "missing module (ImportError: cannot import name 'x')"
    )
    assert reason(run_all("NameError: name 'y' is not defined")).startswith("hidden state")
    assert reason(run_all("ValueError: bad")) == "an error in the code (ValueError: bad)"
    assert reason(
        run_all("PyperclipException: Pyperclip could not find a copy/paste mechanism")
    ).startswith("needs a desktop (the clipboard)")


# -- modernising removed APIs ------------------------------------------------------------------


def _modernised(*cells: str) -> tuple[list[str], list[str], list[str]]:
    """The cells after modernise (code cells only), its changes as text, what it left."""
    from scaffold.adopt.modernise import modernise

    data = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# title"},
            *(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for source in cells
            ),
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    done = modernise({"nb.ipynb": json.dumps(data)})
    if "nb.ipynb" not in done.texts:
        return list(cells), [], done.left
    new = json.loads(done.texts["nb.ipynb"])["cells"][1:]
    return ["".join(cell["source"]) for cell in new], [str(c) for c in done.changes], done.left


def test_modernise_rewrites_pandas_display_options_by_their_full_name() -> None:
    cells, changes, _ = _modernised(
        "import pandas as pd\npd.set_option('max_rows', 8)\n"
        'with pd.option_context("max_columns", 3, "display.width", 80, "precision", 2):\n'
        "    pass\npd.set_option('mode.chained_assignment', None)\n"
    )
    assert "pd.set_option('display.max_rows', 8)" in cells[0]
    assert 'option_context("display.max_columns", 3, "display.width", 80, ' in cells[0]
    assert '"display.precision", 2)' in cells[0]
    assert "'mode.chained_assignment'" in cells[0]
    assert len(changes) == 3 and changes[0].startswith("nb.ipynb: cell 2: 'max_rows' ->")


def test_modernise_renames_removed_keywords_keeping_the_meaning() -> None:
    cells, changes, _ = _modernised(
        "ax.hist(values, bins=5, normed=True)\nplt.hist(values, normed=1, density=0)\n",
        "a = pd.read_csv(path, delim_whitespace=True, header=None)\n"
        "b = pd.read_table(path, sep=',', delim_whitespace=True)\n",
        "c = pd.read_excel(\n    path,\n    sheetname='Cases')\n",
    )
    assert cells[0] == (
        "ax.hist(values, bins=5, density=True)\nplt.hist(values, normed=1, density=0)\n"
    )  # both given: not guessed
    assert 'pd.read_csv(path, sep=r"\\s+", header=None)' in cells[1]
    assert "sep=',', delim_whitespace=True" in cells[1]  # a separator given: left alone
    assert cells[2] == "c = pd.read_excel(\n    path,\n    sheet_name='Cases')\n"
    assert len(changes) == 3


def test_modernise_moves_imports_of_moved_functions() -> None:
    cells, changes, _ = _modernised(
        "%matplotlib inline\nfrom IPython.display import display, set_matplotlib_formats\n"
        "set_matplotlib_formats('svg')\n",
        "from pandas.tools.plotting import scatter_matrix as sm\n"
        "from sklearn.externals import joblib\n"
        "from sklearn.cross_validation import train_test_split, KFold\n"
        "pd.scatter_matrix(df, alpha=0.2)\n",
        "if True:\n    from IPython.core.display import set_matplotlib_formats\n",
    )
    assert cells[0] == (
        "%matplotlib inline\nfrom IPython.display import display\n"
        "from matplotlib_inline.backend_inline import set_matplotlib_formats\n"
        "set_matplotlib_formats('svg')\n"
    )
    assert cells[1] == (
        "from pandas.plotting import scatter_matrix as sm\nimport joblib\n"
        "from sklearn.cross_validation import KFold\n"  # KFold changed: not moved
        "from sklearn.model_selection import train_test_split\n"
        "pd.plotting.scatter_matrix(df, alpha=0.2)\n"
    )
    assert cells[2] == (
        "if True:\n    from matplotlib_inline.backend_inline import set_matplotlib_formats\n"
    )
    assert len(changes) == 6


def test_modernise_renames_the_seaborn_styles() -> None:
    cells, _, _ = _modernised(
        "plt.style.use('seaborn-whitegrid')\nplt.style.use(['seaborn', 'ggplot'])\n"
        "with plt.style.context('seaborn-v0_8-dark'):\n    pass\nsns.set_style('whitegrid')\n"
    )
    assert cells[0] == (
        "plt.style.use('seaborn-v0_8-whitegrid')\nplt.style.use(['seaborn-v0_8', 'ggplot'])\n"
        "with plt.style.context('seaborn-v0_8-dark'):\n    pass\nsns.set_style('whitegrid')\n"
    )


def test_modernise_applies_ruffs_numpy_fixes_around_cells_that_are_not_python() -> None:
    cells, changes, left = _modernised(
        "import numpy as np\n",
        "print 'a Python 2 cell'\n",
        "!echo shell\nx = np.float(1) + np.NaN\ny = np.product([2, 3])\nz = np.in1d([1], [1])\n",
    )
    assert cells[1] == "print 'a Python 2 cell'\n"
    assert cells[2] == (
        "!echo shell\nx = float(1) + np.nan\ny = np.prod([2, 3])\nz = np.in1d([1], [1])\n"
    )
    assert sum("(ruff NPY" in change for change in changes) == 3
    assert any("cell 4" in change and "np.NaN" in change for change in changes)
    assert len(left) == 1 and "np.in1d" in left[0]  # no safe fix: listed, not rewritten


def test_modernise_reads_from_csv_with_read_csv_and_its_defaults() -> None:
    cells, changes, _ = _modernised(
        'quakes = pd.DataFrame.from_csv("../data/q.csv", index_col=None, parse_dates=["time"])\n'
        "frame = pandas.DataFrame.from_csv('x.csv')\n"
        "odd = pd.DataFrame.from_csv('x.csv', 0, ',')\n"  # positional: read_csv reads them apart
        "tup = pd.DataFrame.from_csv('x.csv', tupleize_cols=True)\n"
    )
    assert cells[0].splitlines() == [
        'quakes = pd.read_csv("../data/q.csv", index_col=None, parse_dates=["time"])',
        "frame = pandas.read_csv('x.csv', index_col=0, parse_dates=True)",
        "odd = pd.DataFrame.from_csv('x.csv', 0, ',')",
        "tup = pd.DataFrame.from_csv('x.csv', tupleize_cols=True)",
    ]
    assert len(changes) == 2 and "removed DataFrame.from_csv" in changes[0]


def test_modernise_leaves_modern_code_alone() -> None:
    source = "import numpy as np\nimport pandas as pd\npd.set_option('display.max_rows', 5)\n"
    cells, changes, left = _modernised(source)
    assert cells == [source] and changes == [] and left == []


@pytest.mark.slow  # a whole adopt; the rewrite itself has a quick test
def test_adopt_commits_the_rewrites_apart(tmp_path: Path) -> None:
    repo = tmp_path / "old"
    repo.mkdir()
    notebook(
        repo / "explore.ipynb",
        "import numpy as np\nimport pandas as pd\npd.set_option('max_rows', 5)\n",
        "print(np.float(1))\n",
    )
    commit_all(repo, "notebooks")
    head = git("rev-parse", "HEAD", cwd=repo)
    planned = run_scaffold("adopt", str(repo), "--dry-run", cwd=tmp_path, check=False)
    assert "removed APIs rewritten" in planned.stdout
    assert "'max_rows' -> 'display.max_rows'" in planned.stdout
    assert (
        f"all in two commits: 'Adopt the scaffold layout' (undo: git reset --hard {head[:10]})"
        in planned.stdout
    )
    run_scaffold("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    assert git("log", "--format=%s", cwd=repo).splitlines() == [
        "Modernise removed APIs (mechanical rewrites)",
        "Adopt the scaffold layout",
        "notebooks",
    ]
    diff = git("show", "--format=", "HEAD", cwd=repo)
    assert "+    \"pd.set_option('display.max_rows', 5)\\n\"" in diff
    assert '+    "print(float(1))\\n"' in diff
    assert git("status", "--porcelain", cwd=repo) == ""


# -- pins, library by library ------------------------------------------------------------------


def test_the_failure_names_the_library_that_broke() -> None:
    from scaffold.adopt.pins import culprits

    modules = {
        "pandas": {"pandas"},
        "numpy": {"numpy"},
        "sklearn": {"scikit-learn"},
        "matplotlib": {"matplotlib"},
        "IPython": {"ipython"},
    }
    appended = (
        "AttributeError: 'DataFrame' object has no attribute 'append'\n"
        "Cell In[2], line 1\n----> 1 frame.append(row)\n"
        "File /env/lib/python3.11/site-packages/IPython/core/interactiveshell.py:3577, in run\n"
        "File /env/lib/python3.11/site-packages/pandas/core/generic.py:6299, in __getattr__\n"
    )
    assert culprits(appended, modules) == ["pandas"]  # the kernel's frames blame nothing
    histogram = (
        "AttributeError: Rectangle.set() got an unexpected keyword argument 'normed'\n"
        "File /env/lib/python3.11/site-packages/pandas/plotting/_core.py:120, in hist_frame\n"
        "File /env/lib/python3.11/site-packages/matplotlib/artist.py:147, in set\n"
    )
    assert culprits(histogram, modules) == ["matplotlib", "pandas"]  # innermost first
    boston = (
        "ImportError: cannot import name 'load_boston' from 'sklearn.datasets' "
        "(/env/lib/python3.11/site-packages/sklearn/datasets/__init__.py)\n"
    )
    assert culprits(boston, modules) == ["scikit-learn"]
    assert culprits("AttributeError: module 'numpy' has no attribute 'float'\n", modules) == [
        "numpy"
    ]
    assert culprits("ModuleNotFoundError: No module named 'sklearn.cross_validation'", modules) == [
        "scikit-learn"
    ]
    # a module nobody installed, an error in the notebook's own code: no library to search
    assert culprits("ModuleNotFoundError: No module named 'mglearn'", modules) == []
    assert culprits("ZeroDivisionError: division by zero\nCell In[3], line 2\n", modules) == []


def _wheel(folder: Path, name: str, version: str, body: str, tag: str = "py3-none-any") -> None:
    """A minimal wheel of one module ``name`` whose code is ``body``."""
    import zipfile

    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": body,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n",
        f"{info}/top_level.txt": f"{name}\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-{tag}.whl", "w") as archive:
        for path, text in {**files, f"{info}/RECORD": record}.items():
            archive.writestr(path, text)


def test_the_search_takes_the_newest_older_series_with_a_wheel_for_this_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tarfile

    from scaffold.adopt.pins import Search
    from scaffold.adopt.plan import Plan

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0.0", "1.1.0", "1.1.2", "2.0.0", "2.1.0"):
        _wheel(wheels, "pinlib", version, f"VERSION = {version!r}\n")
    _wheel(wheels, "pinlib", "1.9.0", "", tag="cp27-cp27mu-manylinux1_x86_64")  # not this Python
    with tarfile.open(wheels / "pinlib-1.8.0.tar.gz", "w:gz"):  # source only: never built
        pass
    monkeypatch.setenv("UV_NO_INDEX", "1")
    monkeypatch.setenv("UV_FIND_LINKS", str(wheels))
    monkeypatch.setenv("UV_OFFLINE", "1")
    venv = tmp_path / "venv"
    from scaffold import processes

    subprocess.run([processes.find_tool("uv") or "uv", "venv", "--quiet", str(venv)], check=True)
    search = Search(Plan(tmp_path, False, "x", {}), venv, 60, print)
    assert search._install("pinlib")
    assert search.versions()["pinlib"] == "2.1.0"
    assert search._install_below("pinlib", "2.1.0") == "2.0.0"
    assert search._install_below("pinlib", "2.0.0") == "1.1.2"  # 1.9 and 1.8 skipped
    assert search._install_below("pinlib", "1.1.2") == "1.0.0"
    assert search._install_below("pinlib", "1.0.0") is None  # nothing older
    assert search.versions()["pinlib"] == "1.0.0"


def test_pins_are_written_with_their_reasons(tmp_path: Path) -> None:
    from scaffold.adopt.pins import Pin, Pinned, write_pins
    from scaffold.adopt.plan import Plan

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["pandas>=1", "seaborn"]\n'
    )
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "-m", "adopted", cwd=repo)
    plan = Plan(repo, True, "x", {"author_name": "A", "author_email": "a@b"})
    plan.dependencies = ["pandas>=1", "seaborn"]
    why = "pandas 2.2.3 breaks notebooks/1.1-a-b.ipynb (AttributeError: ...)"
    pins = [
        Pin("pandas", "1.5.3", why),
        Pin("numpy", "1.26.4", "pandas 1.5.3 was built for NumPy 1"),
    ]
    write_pins(plan, Pinned(pins, ["notebooks/1.1-a-b.ipynb"]))
    import tomllib

    data = tomllib.loads((repo / "pyproject.toml").read_text())
    assert data["project"]["dependencies"] == ["pandas==1.5.3", "seaborn", "numpy==1.26.4"]
    pinned = data["tool"]["scaffold"]["adopt"]["pinned"]
    assert pinned["pandas"] == f"1.5.3: {why}"
    assert pinned["numpy"].startswith("1.26.4: pandas 1.5.3 was built")
    assert "modernise" in data["tool"]["scaffold"]["adopt"]["why"]
    assert git("log", "-1", "--format=%s", cwd=repo) == "Pin the versions that run the notebooks"


def test_an_fstring_path_keeps_its_fields_and_gets_the_config_folder() -> None:
    from scaffold.adopt import code

    found = code.Code()
    source = (
        "for year in years:\n"
        "    a = pd.read_csv(f'data/names/yob{year}.txt')\n"
        '    b = rf"data/{year}\\{name}.csv"\n'
        '    c = f"{year}/data/"\n'
    )
    code.analyse_source(found, 0, source)
    inner = sorted((lit for lit in found.literals if lit.inner), key=lambda lit: lit.line)
    assert [lit.value for lit in inner] == ["data/names/", "data/"]  # not c: no folder first
    edits = []
    for literal, target in zip(inner, ["data/raw/names", "data/raw"], strict=True):
        expression, name = code.config_expression(target, literal)
        assert name == "RAW_DATA_DIR"
        edits.append(
            code.Edit(0, literal.line, literal.col, literal.line, literal.end_col, expression)
        )
    rewritten = code.apply_edits(source, edits)
    assert "pd.read_csv(f'{RAW_DATA_DIR}/names/yob{year}.txt')" in rewritten
    assert 'rf"{RAW_DATA_DIR}/{year}\\{name}.csv"' in rewritten
    assert 'c = f"{year}/data/"' in rewritten


@pytest.mark.slow  # a whole adopt; the rewrite itself has a quick test
def test_adopt_rewrites_fstring_paths_in_a_notebook(tmp_path: Path) -> None:
    repo = tmp_path / "names"
    repo.mkdir()
    (repo / "data").mkdir()
    for year in (1880, 1881):
        (repo / "data" / f"yob{year}.txt").write_text("Mary,F,7065\n")
    notebook(
        repo / "babynames.ipynb",
        "import pandas as pd\n",
        "frames = [pd.read_csv(f'data/yob{year}.txt', names=['name', 'sex', 'births'])\n"
        "          for year in (1880, 1881)]\nprint(len(frames))\n",
    )
    commit_all(repo, "notebooks")
    planned = run_scaffold("adopt", str(repo), "--dry-run", cwd=tmp_path, check=False)
    assert "'data/' -> {RAW_DATA_DIR}/" in planned.stdout, planned.stdout
    run_scaffold("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    text = (repo / "notebooks/1.1-al-babynames.ipynb").read_text()
    assert "pd.read_csv(f'{RAW_DATA_DIR}/yob{year}.txt'" in text
    assert "from names.config import RAW_DATA_DIR" in text


def test_the_failure_names_the_library_that_is_absent() -> None:
    from scaffold.adopt.pins import absent_modules

    assert absent_modules("AttributeError: The '.style' accessor requires jinja2") == ["jinja2"]
    assert absent_modules(
        "ImportError: Missing optional dependency 'openpyxl'.  Use pip or conda to install it."
    ) == ["openpyxl"]
    assert absent_modules("ModuleNotFoundError: No module named 'statsmodels.api'") == [
        "statsmodels"
    ]
    assert absent_modules("ValueError: bad\nNo module named 'later'") == []  # the message only
    assert absent_modules(
        "ImportError: Unable to find a usable engine; tried using: 'pyarrow', 'fastparquet'."
    ) == ["pyarrow"]  # pandas' first choice for parquet
    # an old library's `import pkg_resources`, which setuptools provides (not in new venvs)
    from scaffold.check.imports import missing

    assert absent_modules("ModuleNotFoundError: No module named 'pkg_resources'") == [
        "pkg_resources"
    ]
    assert missing("pkg_resources", set(), set(), None) == ("setuptools",)


def test_an_absent_module_a_library_imports_is_installed_only_by_a_known_name() -> None:
    """A notebook's own ``import foo`` that fails may get ``foo`` installed; a library's
    import of a name no mapping knows may not (an index name can be someone else's)."""
    from scaffold.adopt.pins import absent_distribution
    from scaffold.adopt.runs import raised_in_library

    own = (
        "ModuleNotFoundError: No module named 'tablib'\nCell In[2], line 1\n----> 1 import tablib\n"
    )
    deep = (
        "ModuleNotFoundError: No module named 'tablib'\n"
        "Cell In[2], line 1\n----> 1 import styles\n"
        "File /v/lib/python3.11/site-packages/styles/__init__.py:3\n----> 3 import tablib\n"
    )
    assert not raised_in_library(own) and raised_in_library(deep)
    assert absent_distribution("tablib", own) == "tablib"
    assert absent_distribution("tablib", deep) is None
    assert absent_distribution("yaml", deep.replace("tablib", "yaml")) == "pyyaml"


@pytest.mark.slow  # a whole adopt; the rewrite itself has a quick test
def test_adopt_modernises_the_moved_modules_too(tmp_path: Path) -> None:
    repo = tmp_path / "book"
    repo.mkdir()
    (repo / "preamble.py").write_text(
        "from IPython.display import set_matplotlib_formats, display\n"
        "set_matplotlib_formats('png')\n"
    )
    notebook(repo / "01-intro.ipynb", "from preamble import *\n", "display(1)\n")
    commit_all(repo, "notebooks")
    planned = run_scaffold("adopt", str(repo), "--dry-run", cwd=tmp_path, check=False)
    assert (
        "src/book/preamble.py: from IPython.display import set_matplotlib_formats, display -> "
        "from IPython.display import display; "
        "from matplotlib_inline.backend_inline import set_matplotlib_formats (IPython 8"
    ) in planned.stdout, planned.stdout
    run_scaffold("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    assert (repo / "src/book/preamble.py").read_text() == (
        "from IPython.display import display\n"
        "from matplotlib_inline.backend_inline import set_matplotlib_formats\n"
        "set_matplotlib_formats('png')\n"
    )
    changed = git("show", "--name-only", "--format=%s", "HEAD", cwd=repo).splitlines()
    assert changed == ["Modernise removed APIs (mechanical rewrites)", "", "src/book/preamble.py"]


def test_the_line_a_notebook_failed_on_is_tried_alone() -> None:
    from scaffold.adopt.pins import probe

    removed = (
        "ImportError: `load_boston` has been removed from scikit-learn since version 1.2.\n"
        "Cell In[4], line 1\n----> 1 from sklearn.datasets import load_boston\n"
        "      2 boston = load_boston()\n"
        "File /env/lib/python3.11/site-packages/sklearn/datasets/__init__.py:156, in __getattr__\n"
    )
    assert probe(removed) == "from sklearn.datasets import load_boston"
    assert probe("AttributeError: module 'numpy' has no attribute 'float'\n") == (
        "import numpy; numpy.float"
    )
    called = "TypeError: bad\nCell In[2], line 3\n----> 3 frame.hist(normed=True)\n"
    assert probe(called) is None  # not an import: the notebook itself is run
    assert probe("ImportError: x\n----> 1 from .local import thing\n") is None


@pytest.mark.parametrize(
    ("method", "runs"), [("append", False), ("limit_denominator", True), ("absent_class", True)]
)
def test_a_method_a_librarys_class_lacks_is_tried_alone(method: str, runs: bool) -> None:
    """``df.append(...)`` failed: a version whose class still lacks the method is not run."""
    from scaffold.adopt.pins import probe

    kind = "Spline" if method == "absent_class" else "Fraction"  # fractions has no Spline
    trace = (
        f"AttributeError: '{kind}' object has no attribute '{method}'\n"
        f"Cell In[3], line 1\n----> 1 total = share.{method}(7)\n"
        "File /env/lib/python3.11/site-packages/fractions/__init__.py:9, in __getattr__\n"
    )
    line = probe(trace)
    assert line is not None
    assert (subprocess.run([sys.executable, "-c", line]).returncode == 0) is runs
    column = trace.replace(f"share.{method}(7)", f"share.{method}")  # a column, not a call
    assert probe(column) is None


def _ran(source: str, count: int, error: str | None = None) -> dict[str, object]:
    """A code cell as a committed notebook holds it after a run (its error, if it raised)."""
    outputs = [{"output_type": "error", "ename": error, "evalue": "", "traceback": []}]
    return {
        "cell_type": "code",
        "execution_count": count,
        "metadata": {},
        "outputs": outputs if error else [],
        "source": source,
    }


def test_a_cell_that_raised_and_was_run_past_is_expected_to_raise() -> None:
    from scaffold.adopt.code import expected_errors

    shown = {"cells": [_ran("x = 1", 1), _ran("'5' + 5", 2, "TypeError"), _ran("x", 3)]}
    assert expected_errors(shown) == [1]
    last = {"cells": [_ran("x = 1", 1), _ran("1 / 0", 2, "ZeroDivisionError")]}
    assert expected_errors(last) == []  # nothing ran after it: the notebook stopped there
    rerun = {"cells": [_ran("x = 1", 5), _ran("1 / 0", 4, "ZeroDivisionError")]}
    assert expected_errors(rerun) == []  # the later cell ran before it, not past it
    stripped = {"cells": [_ran("'5' + 5", 1), _ran("x = 1", 2)]}
    assert expected_errors(stripped) == []  # no error shown: nothing to go by


def test_the_runner_passes_a_notebook_whose_only_errors_are_tagged(tmp_path: Path) -> None:
    from scaffold._papermill_driver import _only_expected_errors

    def executed(*cells: dict[str, object]) -> str:
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.ipynb"
        path.write_text(json.dumps({"cells": list(cells)}), encoding="utf-8")
        return str(path)

    tagged = _ran("'5' + 5", 1, "TypeError")
    tagged["metadata"] = {"tags": ["raises-exception"]}
    assert _only_expected_errors(executed(tagged, _ran("x = 1", 2)))
    assert not _only_expected_errors(executed(tagged, _ran("y", 2, "NameError")))
    assert not _only_expected_errors(executed(_ran("'5' + 5", 1, "TypeError")))
    assert not _only_expected_errors(str(tmp_path / "absent.ipynb"))


def test_dates_start_where_the_python_has_wheels_and_end_before_today() -> None:
    import datetime

    from scaffold.adopt.dates import candidate_dates

    day = datetime.date
    old = candidate_dates(day(2016, 10, 28), (3, 11), day(2026, 12, 6))
    assert old[0] == day(2022, 10, 24)  # Python 3.11's release: no older wheels for it
    assert old[1:3] == [day(2022, 11, 8), day(2022, 11, 23)]
    recent = candidate_dates(day(2026, 10, 1), (3, 11), day(2026, 12, 6))
    assert recent[0] == day(2026, 10, 1) and all(d < day(2026, 12, 6) for d in recent)
    assert len(recent) == 4  # 0, 15, 30 and 61 days on


def test_compiled_libraries_are_those_installed_from_platform_wheels(tmp_path: Path) -> None:
    from scaffold.adopt.dates import compiled

    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for name, tag in (
        ("numpy-2.4.0", "cp311-cp311-manylinux_2_17_x86_64"),
        ("scikit_learn-1.8.0", "cp311-cp311-manylinux_2_17_x86_64"),
        ("seaborn-0.13.2", "py3-none-any"),
    ):
        (site / f"{name}.dist-info").mkdir(parents=True)
        (site / f"{name}.dist-info" / "WHEEL").write_text(f"Wheel-Version: 1.0\nTag: {tag}\n")
    assert compiled(tmp_path / "venv" / "bin" / "python") == ["numpy", "scikit_learn"]


@pytest.mark.slow
def test_a_cell_that_raises_on_purpose_is_tagged_and_run_past(tmp_path: Path) -> None:
    repo = tmp_path / "demo"
    repo.mkdir()
    data = {
        "cells": [_ran("x = 1\n", 1), _ran("'5' + 5\n", 2, "TypeError"), _ran("print(x)\n", 3)],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    (repo / "01_demo.ipynb").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    commit_all(repo, "demo")
    out = run_scaffold("adopt", str(repo), "--yes", cwd=tmp_path).stdout
    assert "cell(s) 2 raise on purpose" in out, out
    row = next(line for line in out.splitlines() if line.startswith("notebooks/1.1-al-demo"))
    assert row.split()[1:3] == ["no", "yes"], out  # as it was, the run stopped at cell 2
    cells = json.loads((repo / "notebooks/1.1-al-demo.ipynb").read_text())["cells"]
    assert [c["metadata"].get("tags", []) for c in cells] == [[], ["raises-exception"], []]


def test_a_dates_versions_replace_the_single_library_pins(tmp_path: Path) -> None:
    from scaffold.adopt.dates import Dated
    from scaffold.adopt.pins import Pin, Pinned, Search, _dated_pins
    from scaffold.adopt.plan import Plan
    from scaffold.adopt.prove import Proof, _pin_lines

    plan = Plan(tmp_path, True, "x", {})
    plan.dependencies = ["pandas>=1", "scikit-learn", "seaborn"]
    search = Search(plan, tmp_path / "venv", 60, print)
    search.newest = {"pandas": "3.1.1", "scikit-learn": "1.9.1", "seaborn": "0.13.2",
                     "numpy": "2.4.6", "matplotlib-inline": "0.2.2"}  # fmt: skip
    search.first = {"notebooks/1.2-a-b.ipynb": "ImportError: `load_boston` has been removed"}
    single = Pinned([Pin("pandas", "2.3.3", "pandas 3.1.1 breaks 1.1"), Pin("jinja2", "", "1.1")],
                    ["notebooks/1.1-a-a.ipynb"])  # fmt: skip
    versions = {"pandas": "1.5.2", "scikit-learn": "1.1.3", "seaborn": "0.13.2", "numpy": "1.23.5",
                "matplotlib-inline": "0.1.6", "only-then": "1.0"}  # fmt: skip
    dated = Dated("2022-11-08", versions, ["notebooks/1.2-a-b.ipynb"])
    found = _dated_pins(plan, dated, search, single)
    assert found is not None
    assert [(p.name, p.version) for p in found.pins] == [
        ("jinja2", ""),  # the library the single-library search added stays
        ("pandas", "1.5.2"),
        ("scikit-learn", "1.1.3"),  # seaborn is at its newest: not pinned
        ("numpy", "1.23.5"),
        ("matplotlib-inline", "0.1.6"),  # the rest of that environment too (ipykernel's)
    ]
    assert found.fixed == ["notebooks/1.1-a-a.ipynb", "notebooks/1.2-a-b.ipynb"]
    assert "every library as of 2022-11-08" in found.pins[1].why
    assert "load_boston" in found.pins[1].why
    lines = _pin_lines(Proof([], found).pinned or found)
    assert lines[0] == "  jinja2 (added): 1.1"
    assert lines[1].startswith("  pandas==1.5.2, scikit-learn==1.1.3, numpy==1.23.5, matplotlib")
    # a library taken newer on top of the date is pinned too, though at its newest
    search.newest["mglearn"] = versions["mglearn"] = "0.2.0"
    why = "every library as of 2022-11-08 but mglearn: mglearn 0.1.9 of then breaks 1.2"
    lifted = Dated("2022-11-08", versions, ["notebooks/1.2-a-b.ipynb"], {"mglearn": why})
    both = _dated_pins(plan, lifted, search, None)
    assert both is not None and ("mglearn", "0.2.0", why) in [
        (p.name, p.version, p.why) for p in both.pins
    ]
    assert ("scikit-learn", "1.1.3") in [(p.name, p.version) for p in both.pins]


def test_files_a_notebook_makes_in_a_moved_folder_follow_it(tmp_path: Path) -> None:
    from scaffold.adopt.plan import plan_adopt

    repo = tmp_path / "book"
    repo.mkdir()
    notebook(
        repo / "ch06.ipynb",
        "import pandas as pd\nframe = pd.read_csv('examples/ex1.csv')\n",
        "frame.to_pickle('examples/frame_pickle')\npd.read_pickle('examples/frame_pickle')\n",
        "writer = pd.ExcelWriter('examples/ex2.xlsx')\n",
    )
    (repo / "notebooks").mkdir()  # a notebook in a folder: 'display.max_rows' is no file there
    notebook(repo / "notebooks" / "ch07.ipynb", "import pandas as pd\n",
             "pd.set_option('display.max_rows', 25)\nprint('report.txt')\n")  # fmt: skip
    (repo / "examples").mkdir()
    (repo / "examples" / "ex1.csv").write_text("a,b\n1,2\n")
    commit_all(repo, "book", author="Wes M")
    plan = plan_adopt(repo)
    try:
        rewrites = {(old, new) for _, old, new in plan.rewrites}
    finally:
        plan.cleanup()
    assert ("'examples/frame_pickle'", 'RAW_DATA_DIR / "frame_pickle"') in rewrites
    assert ("'examples/ex2.xlsx'", 'RAW_DATA_DIR / "ex2.xlsx"') in rewrites  # an unknown call
    assert not [old for old, _ in rewrites if "display" in old or "report" in old]  # no files


def test_an_option_name_gets_the_meaning_it_had_when_the_notebook_last_changed() -> None:
    import datetime

    from scaffold.adopt.modernise import modernise

    cell = {"cell_type": "code", "source": "import pandas as pd\npd.set_option('html', False)\n"}
    text = json.dumps({"cells": [cell]})
    old = modernise({"nb": text}, {"nb": datetime.date(2015, 4, 27)})
    assert "'display.notebook_repr_html'" in old.texts["nb"]
    assert "when the notebook last changed (2015-04-27)" in str(old.changes[0])
    new = modernise({"nb": text}, {"nb": datetime.date(2017, 1, 1)})
    assert new.texts == {}  # ambiguous by then: what it meant is not known
    assert modernise({"nb": text}).texts == {}  # nor without a date


def test_a_version_3_notebook_is_read_and_its_paths_rewritten(tmp_path: Path) -> None:
    from scaffold.adopt.plan import plan_adopt

    repo = tmp_path / "old"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "data").mkdir()
    (repo / "data" / "info.csv").write_text("a,b\n1,2\n")
    cell = {"cell_type": "code", "collapsed": False, "input": "import pandas as pd\n"
            "info = pd.read_csv('../data/info.csv')", "language": "python",
            "metadata": {}, "outputs": [], "prompt_number": 1}  # fmt: skip
    v3 = {"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0,
          "worksheets": [{"cells": [cell], "metadata": {}}]}  # fmt: skip
    (repo / "notebooks" / "analysis.ipynb").write_text(json.dumps(v3), encoding="utf-8")
    commit_all(repo, "2015", author="Jo Vine")
    plan = plan_adopt(repo)
    try:
        assert ("notebooks/1.1-jv-analysis.ipynb", "'../data/info.csv'",
                'RAW_DATA_DIR / "info.csv"') in plan.rewrites  # fmt: skip
        written = json.loads(plan.writes["notebooks/1.1-jv-analysis.ipynb"])
        assert written["nbformat"] == 4 and "pandas" in plan.dependencies
    finally:
        plan.cleanup()


def test_a_library_with_no_release_before_the_date_is_taken_at_its_newest() -> None:
    from scaffold.adopt.dates import _FILTERED

    hint = (
        "hint: `codecov` was filtered by `exclude-newer` to only include packages uploaded "
        "before 2022-11-24T00:00:00Z. The latest version satisfying the requirement is v2.1.13"
    )
    assert _FILTERED.findall(hint) == ["codecov"]


def _failure(trace: str, source: str, why: str = "an error in the code (see)") -> object:
    from scaffold.adopt.runs import Failure

    return Failure(why, trace, 3, source)


CELL_TRACE = (
    "TypeError: 'tuple' object does not support item assignment\n"
    "---------------------------------------------------------------------------\n"
    "TypeError                                 Traceback (most recent call last)\n"
    "Cell In[4], line 2\n      1 t = (1, 2)\n----> 2 t[0] = 5\n\n"
    "TypeError: 'tuple' object does not support item assignment"
)


def test_a_short_cell_whose_own_last_line_raises_is_on_purpose() -> None:
    from scaffold.adopt.raises import on_purpose

    assert on_purpose(_failure(CELL_TRACE, "t = (1, 2)\nt[0] = 5\n"))  # type: ignore[arg-type]
    # a function an earlier cell defined raised it: still the notebook's own code
    own = CELL_TRACE.replace(
        "\n\nTypeError:", "\nCell In[2], line 4, in attempt(x)\n----> 4 x[0] = 1\n\nTypeError:"
    )
    assert on_purpose(_failure(own, "t = (1, 2)\nt[0] = 5\n"))  # type: ignore[arg-type]
    old_ipython = CELL_TRACE.replace("Cell In[4], line 2", "<ipython-input-4-ab12> in <module>")
    assert on_purpose(_failure(old_ipython, "t = (1, 2)\nt[0] = 5"))  # type: ignore[arg-type]


def test_library_rot_and_hidden_state_are_not_on_purpose() -> None:
    from scaffold.adopt.raises import on_purpose

    def ok(trace: str, source: str, why: str = "an error in the code (x)") -> bool:
        return on_purpose(_failure(trace, source, why))  # type: ignore[arg-type]

    source = "t = (1, 2)\nt[0] = 5\n"
    # raised deep in a library (pandas' positional fallback, which an older pandas cures)
    deep = CELL_TRACE.replace(
        "\n\nTypeError:", "\nFile ~/.venv/lib/python3.11/site-packages/pandas/core/series.py"
        ":1121, in Series.__getitem__(self, key)\n-> 1121 raise KeyError(key)\n\nTypeError:"
    )  # fmt: skip
    assert not ok(deep, source)
    # a changed signature raises in the cell's own frame: a removed keyword is library rot
    kwarg = "TypeError: DataFrame.groupby() got an unexpected keyword argument 'axis'\n" + (
        "Cell In[4], line 2\n----> 2 t[0] = 5"
    )
    assert not ok(kwarg, source)
    removed = CELL_TRACE.replace("TypeError: 'tuple'", "AttributeError: 'Series'", 1)
    assert not ok(removed, source)  # a missing attribute: an API that went away
    assert not ok(CELL_TRACE, source, "hidden state (a name defined out of order) (NameError)")
    assert not ok(CELL_TRACE, source, "missing module (ImportError: x)")
    assert not ok(CELL_TRACE, "t = (1, 2)\nt[0] = 5\nu = t\n")  # the raising line is not last
    assert not ok(CELL_TRACE, "a = 1\nb = 2\nt = (1, 2)\nt[0] = 5\n")  # too long to be a demo
    assert not ok(CELL_TRACE.replace("----> 2", "  --> 2"), source)  # no line to go by


def test_tags_are_taken_back_when_the_notebook_still_fails(tmp_path: Path) -> None:
    from scaffold.adopt.raises import _tag_rounds
    from scaffold.adopt.runs import Failure

    source = "t = (1, 2)\nt[0] = 5\n"
    for name in ("clean", "cascades"):
        notebook(tmp_path / f"{name}.ipynb", "x = 1\n", "y = 2\n", "z = 3\n", source, "print(t)")
    before = (tmp_path / "cascades.ipynb").read_text()
    failing = {
        name: Failure("an error in the code (TypeError)", CELL_TRACE, 3, source)
        for name in ("clean.ipynb", "cascades.ipynb")
    }
    later = Failure("hidden state (a name defined out of order) (NameError)", "NameError: t", 4)
    seen: list[list[str]] = []

    def run(names: list[str]) -> dict[str, Failure]:
        seen.append(names)
        return {"cascades.ipynb": later}  # the tagged cell's failure cascades in this one

    tagged = _tag_rounds(tmp_path, failing, run)
    assert seen == [["clean.ipynb", "cascades.ipynb"]]
    assert [str(cell) for cell in tagged["clean.ipynb"]] == [
        "cell 4 raises TypeError: 'tuple' object does not support item assignment on purpose? "
        "tagged raises-exception - review"
    ]
    assert "cascades.ipynb" not in tagged
    assert (tmp_path / "cascades.ipynb").read_text() == before  # its tag taken back
    cells = json.loads((tmp_path / "clean.ipynb").read_text())["cells"]
    assert [c["metadata"].get("tags", []) for c in cells][3] == ["raises-exception"]


@pytest.mark.slow
def test_cells_that_raise_on_purpose_are_tagged_in_notebooks_without_outputs(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "course"
    repo.mkdir()
    demo = "t = (1, 2)\nt[0] = 5  # tuples are immutable\n"
    notebook(repo / "01_tuples.ipynb", "x = 1\n", demo, "print(x + 1)\n")
    # the raising cell defines nothing, but the next cell needs what it would have made
    notebook(repo / "02_cascade.ipynb", "y = int('seven')\n", "print(y)\n")
    notebook(repo / "03_hidden.ipynb", "print(z)\n", "z = 1\n")  # a name out of order
    commit_all(repo, "course")
    out = run_scaffold("adopt", str(repo), "--yes", cwd=tmp_path).stdout
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("notebooks/")}
    tuples = rows["notebooks/1.1-al-tuples.ipynb"]
    assert tuples.split()[1:3] == ["no", "yes"], out
    assert "cell 2 raises TypeError" in tuples and "review" in tuples, out
    assert rows["notebooks/1.2-al-cascade.ipynb"].split()[1:3] == ["no", "no"], out
    assert rows["notebooks/1.3-al-hidden.ipynb"].split()[1:3] == ["no", "no"], out
    assert "1 of 3 notebooks that need no network run now (before: 0)" in out, out
    assert "1 of them with cells adopt tagged 'raises-exception'" in out, out
    assert git("log", "--format=%s", cwd=repo).splitlines()[0] == (
        "Tag the cells that raise on purpose (review them)"
    )
    pyproject = (repo / "pyproject.toml").read_text()
    assert "[tool.scaffold.adopt.raises]" in pyproject and "1.1-al-tuples.ipynb" in pyproject
    for name in ("1.2-al-cascade", "1.3-al-hidden"):
        cells = json.loads((repo / f"notebooks/{name}.ipynb").read_text())["cells"]
        assert all("raises-exception" not in c["metadata"].get("tags", []) for c in cells)


def _probe_wheel(folder: Path, version: str, body: str) -> None:
    """A one-module wheel of ``scaffold_lift_probe`` at ``version`` (RECORD with hashes)."""
    import base64
    import hashlib
    import zipfile

    info = f"scaffold_lift_probe-{version}.dist-info"
    files = {
        "scaffold_lift_probe/__init__.py": body,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: scaffold-lift-probe\n"
        f"Version: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = folder / f"scaffold_lift_probe-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)


@pytest.mark.slow
def test_a_library_the_dates_failure_names_is_tried_newer_on_top_of_the_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime
    import types

    from scaffold import processes
    from scaffold.adopt.dates import Trial, _lift
    from scaffold.adopt.runs import failures
    from scaffold.project import Project

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    # 1.0 passes a keyword its dependency later dropped; 2.0 does not: the newer one runs
    _probe_wheel(wheels, "1.0", "def go():\n    return dict(cachedir=1)['dir']\n")
    _probe_wheel(wheels, "2.0", "def go():\n    return 'ok'\n")
    root = tmp_path / "project"
    root.mkdir()
    notebook(
        root / "uses.ipynb", "import scaffold_lift_probe\n", "print(scaffold_lift_probe.go())\n"
    )
    python = _kernel_venv(tmp_path)
    uv = processes.find_tool("uv") or "uv"
    monkeypatch.setenv("UV_FIND_LINKS", str(wheels))
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python),
                    "scaffold-lift-probe==1.0"], check=True)  # fmt: skip
    still = failures(Project(root), [root / "uses.ipynb"], python, 120)
    assert "KeyError" in still["uses.ipynb"].trace
    plan = types.SimpleNamespace(root=root, answers={})
    trial = Trial(["uses.ipynb"], [], [], [], 120, {"scaffold-lift-probe": "2.0"})
    said: list[str] = []
    ran, why = _lift(plan, python, datetime.date(2022, 11, 8), still, trial, said.append)  # type: ignore[arg-type]
    assert ran == ["uses.ipynb"], said
    assert list(why) == ["scaffold-lift-probe"]
    assert (
        "scaffold-lift-probe 1.0 of then breaks uses.ipynb (KeyError" in why["scaffold-lift-probe"]
    )
    assert any("with scaffold-lift-probe 2.0 runs uses.ipynb" in line for line in said), said


def test_a_removed_method_is_rewritten_on_the_line_the_traceback_names() -> None:
    from scaffold.adopt.callsites import named, rewrite_line
    from scaffold.adopt.runs import Failure

    source = "def rates(m):\n    top = m.order(ascending=False)\n    return top.order()\n"
    assert rewrite_line(source, "order", "sort_values", 2) == source.replace(
        "m.order(", "m.sort_values(", 1
    )
    assert rewrite_line(source, "order", "sort_values", 3) == source.replace(
        "top.order(", "top.sort_values("
    )
    assert rewrite_line("s.order(False)\n", "order", "sort_values", 1) is None  # positional
    assert rewrite_line("s.order() + t.order()\n", "order", "sort_values", 1) is None  # which?
    assert rewrite_line("s.sort()\n", "order", "sort_values", 1) is None
    trace = (
        "AttributeError: 'Series' object has no attribute 'order'\n"
        "Cell In[7], line 1\n----> 1 rates(s)\n"
        "Cell In[5], line 2, in rates(m)\n----> 2     top = m.order(ascending=False)\n"
        "File ~/.venv/lib/python3.11/site-packages/pandas/core/generic.py:6299, in __getattr__\n"
    )
    failure = Failure("an error in the code (AttributeError)", trace, 6, "rates(s)", {5: 4, 7: 6})
    assert named(failure) == ("Series", "order", 4, 2)  # the innermost cell frame
    ix = trace.replace("'order'", "'ix'")
    assert named(Failure("an error in the code", ix, 6, "", {5: 4})) is None  # not unambiguous


def _kernel_venv(tmp_path: Path) -> Path:
    """The Python of a fresh venv with papermill and ipykernel, to run notebooks in."""
    from scaffold import processes

    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    uv = processes.find_tool("uv") or "uv"
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), "papermill",
                    "ipykernel"], check=True)  # fmt: skip
    return python


@pytest.mark.slow
def test_a_removed_method_named_by_a_run_is_rewritten_and_committed(tmp_path: Path) -> None:
    import types

    from scaffold.adopt.callsites import MESSAGE, rewrite
    from scaffold.adopt.runs import Outcome

    root = tmp_path / "repo"
    root.mkdir()
    # a stand-in for pandas' Series: order() went away, sort_values() takes the same keywords
    notebook(
        root / "rates.ipynb",
        "class Series:\n    def sort_values(self, ascending=True):\n        return 'sorted'\n",
        "def top(s):\n    return s.order(ascending=False)\n",
        "print(top(Series()))\n",
    )
    commit_all(root, "rates")
    python = _kernel_venv(tmp_path)
    trace = "AttributeError: 'Series' object has no attribute 'order'\n"
    outcomes = [Outcome("rates.ipynb", False, False, "an error in the code", trace=trace)]
    plan = types.SimpleNamespace(root=root, answers={"author_name": "Ana Lopez"})
    said: list[str] = []
    after = rewrite(plan, outcomes, python, 120, said.append)  # type: ignore[arg-type]
    assert after[0].now and after[0].rewritten == (
        "cell 2 line 2: Series.order() -> sort_values() (rewritten)",
    ), said
    cells = json.loads((root / "rates.ipynb").read_text())["cells"]
    assert "".join(cells[1]["source"]) == "def top(s):\n    return s.sort_values(ascending=False)\n"
    assert git("log", "--format=%s", cwd=root).splitlines()[0] == MESSAGE


def test_ix_on_a_line_is_found_and_renamed_there() -> None:
    from scaffold.adopt.callsites import ix_spans, renamed_at

    source = "x = 1\nr = (years.ix[2013]['n'] - years.ix[2009]['n']) / 2\n"
    spans = ix_spans(source, 2)
    assert spans == [(11, 13), (33, 35)]
    assert renamed_at(source, 2, spans, "loc") == source.replace(".ix[", ".loc[")
    assert ix_spans(source, 1) is None  # no .ix there
    assert ix_spans("a.ix[1] + b.ix[2]\n", 1) is None  # two objects: which index?
    assert ix_spans("y = 'é' + s.ix[1]\n", 1) == [(12, 14)]  # characters, not bytes


@pytest.mark.slow
def test_ix_with_an_integer_is_tried_as_loc_then_iloc_then_put_back(tmp_path: Path) -> None:
    """``.ix[2013]`` on an index of integers was ``.loc``; ``.ix[1]`` on one of strings was
    ``.iloc``; a line that fails both ways is put back as it was."""
    import types

    from scaffold.adopt.callsites import rewrite
    from scaffold.adopt.runs import Outcome

    root = tmp_path / "repo"
    root.mkdir()
    # a stand-in for pandas' DataFrame, with .loc (labels) and .iloc (positions) and no .ix
    frame = (
        "class DataFrame:\n    def __init__(self, data):\n        self.data = data\n"
        "    loc = property(lambda self: self.data)\n"
        "    iloc = property(lambda self: list(self.data.values()))\n"
    )
    notebook(
        root / "years.ipynb",
        frame,
        "years = DataFrame({2009: 'a', 2013: 'b'})\nprint(years.ix[2013])\n",
        "names = DataFrame({'x': 'p', 'y': 'q'})\nprint(names.ix[1], names.loc['x'])\n",
    )
    notebook(root / "wrong.ipynb", frame, "names = DataFrame({'x': 'p'})\nprint(names.ix[5])\n")
    commit_all(root, "notebooks")
    committed = (root / "wrong.ipynb").read_bytes()
    python = _kernel_venv(tmp_path)
    trace = "AttributeError: 'DataFrame' object has no attribute 'ix'\n"
    outcomes = [
        Outcome(name, False, False, "an error in the code", trace=trace)
        for name in ("years.ipynb", "wrong.ipynb")
    ]
    plan = types.SimpleNamespace(root=root, answers={"author_name": "Ana Lopez"})
    said: list[str] = []
    after = rewrite(plan, outcomes, python, 120, said.append)  # type: ignore[arg-type]
    assert after[0].now and after[0].rewritten == (
        "cell 2 line 2: .ix[] -> .loc[] (rewritten)",
        "cell 3 line 2: .ix[] -> .iloc[] (rewritten)",
    ), said
    cells = json.loads((root / "years.ipynb").read_text())["cells"]
    assert "print(years.loc[2013])" in "".join(cells[1]["source"])
    assert "print(names.iloc[1], names.loc['x'])" in "".join(cells[2]["source"])
    assert not after[1].now and after[1].trace == trace and not after[1].rewritten
    assert (root / "wrong.ipynb").read_bytes() == committed  # put back, byte for byte
    assert git("status", "--porcelain", cwd=root) == ""


def test_a_glob_that_matches_nothing_is_missing_data(tmp_path: Path) -> None:
    """A notebook that globs a folder never committed (git-ignored) fails further on, on
    an empty list (``pd.concat([])``): that is missing data, not an error in the code, and
    no version search is started for it."""
    from scaffold.adopt.code import empty_glob

    root = tmp_path / "repo"
    (root / "data" / "pages").mkdir(parents=True)
    (root / "data" / "pages" / "a.csv").write_text("x\n1\n")
    (root / "notebooks").mkdir()
    path = root / "notebooks" / "merge.ipynb"
    notebook(
        path,
        "from glob import glob\nfrom pathlib import Path\n",
        "pages = [open(p).read() for p in glob('../data/pages/*.csv')]\n",
        "statuses = glob('../data/statuses/*.csv')\n",
        "longest = max(len(open(p).read()) for p in statuses)\n",
    )
    assert empty_glob(path, root) == "../data/statuses/*.csv"
    assert empty_glob(path, root, 1) == ""  # up to the second cell, every pattern matches a file
    other = root / "notebooks" / "other.ipynb"
    notebook(other, "from pathlib import Path\nfound = list(Path('../data/none').rglob('*.csv'))\n")
    assert empty_glob(other, root) == "../data/none/**/*.csv"
    notebook(other, "import glob\nnames = glob.glob('../data/pages/*.csv') + glob.glob(name)\n")
    assert empty_glob(other, root) == ""  # a pattern that is not literal text is not judged
    notebook(other, "import glob\nnames = glob.glob('/srv/**/*.csv') + glob.glob('../../*.csv')\n")
    assert empty_glob(other, root) == ""  # outside the repository: not judged
    # a config path adopt wrote is read as the folder it names, seen from the notebook
    (root / "data" / "raw" / "pages").mkdir(parents=True)
    (root / "data" / "raw" / "pages" / "a.csv").write_text("x\n1\n")
    notebook(other, "from glob import glob\nold = glob(f'{RAW_DATA_DIR}/pages/*.csv')\n")
    assert empty_glob(other, root) == ""
    notebook(other, "from glob import glob\nold = glob(f'{RAW_DATA_DIR}/contributions/*.csv')\n")
    assert empty_glob(other, root) == "../data/raw/contributions/*.csv"


@pytest.mark.slow
def test_a_failure_after_an_empty_glob_is_classed_missing_data(tmp_path: Path) -> None:
    from scaffold import processes
    from scaffold.adopt.runs import failures
    from scaffold.project import Project

    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    path = root / "notebooks" / "merge.ipynb"
    notebook(
        path,
        "from glob import glob\nstatuses = glob('../data/statuses/*.csv')\n",
        "longest = max(len(open(p).read()) for p in statuses)\n",
    )
    venv = tmp_path / "venv"
    uv = processes.find_tool("uv") or "uv"
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                    "papermill", "ipykernel"], check=True)  # fmt: skip
    found = failures(Project(root), [path], venv / "bin" / "python", 120)
    assert found["notebooks/merge.ipynb"].why == (
        "missing data (no file matches ../data/statuses/*.csv)"
    )
    assert "ValueError" in found["notebooks/merge.ipynb"].trace


def _modules_repo(root: Path) -> Path:
    """A notebook at the top importing a module beside it that reads data by a path from the
    top, and one in analysis/ importing a module beside it that reads it from there."""
    (root / "analysis").mkdir(parents=True)
    (root / "data").mkdir()
    notebook(root / "01_top.ipynb", "import helpers\nprint(helpers.load())\n")
    notebook(root / "analysis" / "02_sub.ipynb", "import loader\nprint(loader.rows())\n")
    (root / "helpers.py").write_text(
        '"""Helpers."""\nfrom __future__ import annotations\ndef load():\n'
        "    return open('data/x.csv').read()\n"
    )
    (root / "analysis" / "loader.py").write_text(
        "def rows():\n    return open('../data/x.csv').read().splitlines()\n"
    )
    (root / "data" / "x.csv").write_text("a,b\n1,2\n")
    commit_all(root, "notebooks")
    return root


def test_modules_beside_notebooks_move_with_their_paths_rewritten(tmp_path: Path) -> None:
    """A notebook runs in its own folder, so ``import loader`` in analysis/ finds
    analysis/loader.py: the module goes into the package as a top-level one does, and the
    paths modules read (relative to that folder) become config paths, since the notebooks
    now run from notebooks/ and the data is in data/raw/."""
    repo = _modules_repo(tmp_path / "mods")
    shown = scaffold_in_process("adopt", str(repo), "--dry-run", cwd=tmp_path, check=False)
    assert "analysis/loader.py -> src/mods/loader.py  [module the notebooks import" in shown.stdout
    assert "src/mods/helpers.py: 'data/x.csv' -> RAW_DATA_DIR / \"x.csv\"" in shown.stdout
    scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    files = git("ls-files", cwd=repo).splitlines()
    assert "src/mods/loader.py" in files and "analysis/loader.py" not in files
    assert (repo / "src/mods/helpers.py").read_text() == (
        '"""Helpers."""\nfrom __future__ import annotations\n\n'
        "from mods.config import RAW_DATA_DIR\n\n\ndef load():\n"
        '    return open(RAW_DATA_DIR / "x.csv").read()\n'
    )
    assert (repo / "src/mods/loader.py").read_text() == (
        "from mods.config import RAW_DATA_DIR\n\n\ndef rows():\n"
        '    return open(RAW_DATA_DIR / "x.csv").read().splitlines()\n'
    )
    assert "from mods import loader" in (repo / "notebooks/1.2-al-sub.ipynb").read_text()


def test_two_modules_of_one_name_for_two_folders_are_refused(tmp_path: Path) -> None:
    """Two different helpers.py for notebooks in two folders cannot both become the
    package's helpers.py; an identical copy (pasted) stays, and both import the one moved."""
    same = tmp_path / "same"
    for folder in ("a", "b"):
        (same / folder).mkdir(parents=True)
        notebook(same / folder / "nb.ipynb", "import helpers\n")
        (same / folder / "helpers.py").write_text("X = 1\n")
    commit_all(same, "notebooks")
    shown = scaffold_in_process("adopt", str(same), "--dry-run", cwd=tmp_path, check=False).stdout
    assert "a/helpers.py -> src/same/helpers.py  [module the notebooks import" in shown
    assert "b/helpers.py  [a copy of a/helpers.py (identical), which moves into" in shown

    repo = tmp_path / "twice"
    for folder in ("a", "b"):
        (repo / folder).mkdir(parents=True)
        notebook(repo / folder / "nb.ipynb", "import helpers\n")
        (repo / folder / "helpers.py").write_text(f"X = {folder!r}\n")
    commit_all(repo, "notebooks")
    before = state(repo)
    done = scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    assert "a/helpers.py and b/helpers.py would both become src/twice/helpers.py" in done.stderr
    assert state(repo) == before


@pytest.mark.slow
def test_notebooks_importing_modules_beside_them_still_run(tmp_path: Path) -> None:
    repo = _modules_repo(tmp_path / "mods")
    done = run_scaffold("adopt", "--yes", cwd=repo)
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("notebooks/")]
    assert rows == [
        ["notebooks/1.1-al-top.ipynb", "yes", "yes"],
        ["notebooks/1.2-al-sub.ipynb", "yes", "yes"],
    ], done.stdout


def test_a_shapefile_moves_whole_and_its_folder_stays_one(tmp_path: Path) -> None:
    """A shapefile is several files (.shp, .shx, .dbf, .prj, .cpg) read as one, often by its
    folder: they move together, into a folder of their own under data/raw/."""
    repo = tmp_path / "maps"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "output" / "states").mkdir(parents=True)
    for suffix in ("shp", "shx", "dbf", "prj", "cpg"):
        (repo / "output" / "states" / f"states.{suffix}").write_bytes(b"\0" * 8)
    (repo / "output" / "notes.prj").write_text("not a shapefile's part: no states.shp here\n")
    notebook(repo / "notebooks" / "map.ipynb", "import geopandas as gpd\n",
             "states = gpd.read_file('../output/states')\n")  # fmt: skip
    commit_all(repo, "maps")
    shown = scaffold_in_process("adopt", str(repo), "--dry-run", cwd=tmp_path, check=False).stdout
    for suffix in ("shp", "shx", "dbf", "prj", "cpg"):
        assert f"output/states/states.{suffix} -> data/raw/states/states.{suffix} (DVC)" in shown
    assert "[data (part of the shapefile states.shp)]" in shown
    assert "output/notes.prj  [not a notebook, data" in shown
    assert "'../output/states' -> RAW_DATA_DIR / \"states\"" in shown


def test_a_gitignore_that_hides_what_adopt_commits_is_commented_out(tmp_path: Path) -> None:
    """A team that kept downloaded data out of git with ``data`` in .gitignore: that line
    would hide data/raw.dvc, which ``dvc add`` refuses to write; it is commented out, and
    the template's rules keep the data itself out of git."""
    repo = tmp_path / "ignored"
    (repo / "output").mkdir(parents=True)
    (repo / "output" / "rows.csv").write_text("a\n1\n")
    notebook(repo / "read.ipynb", "print(open('output/rows.csv').read())\n")
    (repo / ".gitignore").write_text("data\n.ipynb_checkpoints\ndocs\n.env\n")
    commit_all(repo, "notebooks")
    done = scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    assert "`data` commented out (it hid data/.gitignore, data/raw.dvc)" in done.stdout
    # a template file the team's rules hide is not added; the rule stays
    assert "your .gitignore's `docs` ignores docs/README.md" in done.stdout
    assert not (repo / "docs").exists()
    assert (repo / ".env").is_file()
    assert ".env" not in git("ls-files", cwd=repo).splitlines()  # by design
    ignore = (repo / ".gitignore").read_text()
    assert ignore.startswith(
        "# data  (scaffold adopt: it hid data/.gitignore)\n.ipynb_checkpoints\ndocs\n.env\n"
    )
    files = git("ls-files", cwd=repo).splitlines()
    assert "data/raw.dvc" in files and "data/raw/rows.csv" not in files
    assert git("check-ignore", "data/raw/rows.csv", cwd=repo) == "data/raw/rows.csv"


def test_a_gitignore_rule_that_hides_the_package_is_commented_out(tmp_path: Path) -> None:
    """``ignored/`` (an environment's name, say) also hides the package ``src/ignored/``:
    its config, which the rewritten paths import, and the moved helper are committed, and
    the rule is commented out, once."""
    repo = tmp_path / "ignored"
    repo.mkdir()
    (repo / "rows.csv").write_text("a\n1\n")
    (repo / "helpers.py").write_text("def one():\n    return 1\n")
    notebook(repo / "read.ipynb", "import helpers\n", "print(open('rows.csv').read())\n")
    (repo / ".gitignore").write_text("ignored/\n")
    commit_all(repo, "notebooks")
    done = scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    assert "the template's were not added" not in done.stdout, done.stdout
    files = git("ls-files", cwd=repo).splitlines()
    for name in ("__init__.py", "config.py", "helpers.py"):
        assert f"src/ignored/{name}" in files, files
    assert (repo / ".gitignore").read_text().startswith("# ignored/  (scaffold adopt: it hid ")


def test_files_the_template_has_under_another_case_are_the_teams(tmp_path: Path) -> None:
    """A repository's ``makefile`` (which make reads before ``Makefile``) and ``readme.md``
    are its Makefile and README: adding the template's beside them would overwrite them on a
    case-insensitive file system (macOS) and put two of each in git."""
    repo = tmp_path / "cased"
    repo.mkdir()
    notebook(repo / "nb.ipynb", "x = 1\n")
    (repo / "makefile").write_text("all:\n\techo mine\n")
    (repo / "readme.md").write_text("# Mine\n")
    commit_all(repo, "notebooks")
    done = scaffold_in_process("adopt", str(repo), "--yes", "--no-run", cwd=tmp_path)
    assert "kept your makefile; the template's was not added" in done.stdout
    files = git("ls-files", cwd=repo).splitlines()
    assert "Makefile" not in files and "README.md" not in files
    assert (repo / "makefile").read_text() == "all:\n\techo mine\n"
    assert (repo / "readme.md").read_text().startswith("# Mine\n\n## Working on this project")


def test_modernise_spells_pandas_np_as_numpy() -> None:
    """``pd.np`` (gone in pandas 2.0) was NumPy: ``np`` where the notebook imports it, and
    ``import numpy as np`` before its ``import pandas as pd`` where it does not."""
    cells, changes, _ = _modernised(
        "import numpy as np\nimport pandas as pd\n", "x = pd.np.nan\ny = pd.np.where(a, 1, 2)\n"
    )
    assert cells[1] == "x = np.nan\ny = np.where(a, 1, 2)\n" and len(changes) == 2
    cells, changes, _ = _modernised(
        "import pandas as pd\nimport os\n", "df.replace('', pd.np.nan)\n", "import pandas as pd\n"
    )
    assert cells == [
        "import numpy as np\nimport pandas as pd\nimport os\n",
        "df.replace('', np.nan)\n",
        "import pandas as pd\n",
    ]
    assert changes[0].endswith("(pandas 2.0 removed pandas.np, its alias of NumPy)")
    # np is something else, or used before pandas is imported: left alone
    assert _modernised("import pandas as pd\nnp = 3\n", "pd.np.nan\n")[1] == []
    assert _modernised("x = pd.np.nan\n", "import pandas as pd\n")[1] == []


@pytest.mark.slow
@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the dates are Python 3.11's")
def test_a_date_in_a_pythons_first_months_gets_its_compiled_libraries_later(
    tmp_path: Path,
) -> None:
    """MarkupSafe had no wheel for Python 3.11 until January 2023: as of 2022-11-01 the
    project does not install from wheels; with the compiled libraries as of three months
    after 3.11's release, it does, and the pure ones stay as of the date."""
    import datetime
    from types import SimpleNamespace
    from typing import cast

    from scaffold.adopt import dates
    from scaffold.adopt.plan import Plan

    root = tmp_path / "old"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "old"\nversion = "0"\ndependencies = ["jinja2", "markupsafe"]\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        "[tool.hatch.build.targets.wheel]\nbypass-selection = true\n"
    )
    plan = cast(Plan, SimpleNamespace(root=root))
    day = datetime.date(2022, 11, 1)
    later = dates.PYTHON_RELEASED[(3, 11)] + dates.WHEELS_AFTER
    assert isinstance(dates.environment(plan, tmp_path / "a", day, ["MarkupSafe"], []), str)
    python = dates.environment(plan, tmp_path / "b", day, ["MarkupSafe"], [], later)
    assert not isinstance(python, str), python
    found = dates.versions(python)
    assert found["markupsafe"] == "2.1.2", found  # January 2023's, with wheels for 3.11
    assert found["jinja2"] == "3.1.2", found  # as of the date (3.1.3 came in 2024)


def test_modernise_reads_ix_with_labels_as_loc() -> None:
    """``.ix`` (gone in pandas 1.0) read a string key as a label on any index, as ``.loc``
    does; an integer or a name was a position or a label by the index: left alone."""
    cells, changes, _ = _modernised(
        'a = df.ix[:"2014-06"]["x"]\nb = df.ix["2011-01":"2011-06", ["x", "y"]]\n'
        'df.ix["Port Arthur", "n"] = 3\n',
        "c = df.ix[3]\nd = df.ix[key]\ne = df.ix[:, 'x']\nf = df.ix[0:5, 'x']\ng = df.ix[:]\n",
    )
    assert cells[0] == (
        'a = df.loc[:"2014-06"]["x"]\nb = df.loc["2011-01":"2011-06", ["x", "y"]]\n'
        'df.loc["Port Arthur", "n"] = 3\n'
    )
    assert cells[1] == (
        "c = df.ix[3]\nd = df.ix[key]\ne = df.loc[:, 'x']\nf = df.ix[0:5, 'x']\ng = df.ix[:]\n"
    )
    assert len(changes) == 4 and "(pandas 1.0 removed .ix;" in changes[0]


def test_an_ix_line_still_failing_on_its_key_when_the_rounds_end_is_put_back(
    tmp_path: Path,
) -> None:
    """The rounds can end between ``.loc`` and ``.iloc``: a line left failing on its key is
    not committed as ``.loc``; it goes back to ``.ix``, with the notebook's old failure."""
    from scaffold.adopt import callsites
    from scaffold.adopt.runs import Failure

    path = tmp_path / "nb.ipynb"
    notebook(path, "print(names.loc[5])\n")
    trace = "AttributeError: 'DataFrame' object has no attribute 'ix'"
    old = Failure("an error in the code", trace)
    trials = callsites.IxTrials()
    trials.lines[("nb.ipynb", 0, 1)] = callsites.IxTrial("print(names.ix[5])\n", 1, "loc", old)
    now = Failure("an error in the code", "KeyError: 5\nCell In[1], line 1\n", 0, "", {1: 0})
    callsites.put_back_unfinished(tmp_path, {"nb.ipynb": now}, trials)
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[0]["source"]) == "print(names.ix[5])\n"
    assert trials.put_back == {"nb.ipynb": old} and not trials.lines


# ``ser[-1]`` on a Series of integers: KeyError in pandas, raised from range.index's ValueError
LIBRARY_TRACE = (
    "KeyError: -1\n"
    "---------------------------------------------------------------------------\n"
    "ValueError                                Traceback (most recent call last)\n"
    "File ~/.venv/lib/python3.11/site-packages/pandas/core/indexes/range.py:413, in get_loc\n"
    "--> 413     return self._range.index(new_key)\n\nValueError: -1 is not in range\n\n"
    "The above exception was the direct cause of the following exception:\n\n"
    "KeyError                                  Traceback (most recent call last)\n"
    "Cell In[70], line 3\n      1 ser = pd.Series(np.arange(3.))\n      2 ser\n"
    "----> 3 ser[-1]\n\n"
    "File ~/.venv/lib/python3.11/site-packages/pandas/core/series.py:1121, in __getitem__\n"
    "-> 1121     return self._get_value(key)\n\n"
    "File ~/.venv/lib/python3.11/site-packages/pandas/core/indexes/range.py:415, in get_loc\n"
    "--> 415     raise KeyError(key) from err\n\nKeyError: -1"
)


def test_a_librarys_error_on_a_cells_bare_last_expression_may_be_on_purpose() -> None:
    """``ser[-1]`` shows pandas' KeyError: a candidate, for the library's oldest to confirm;
    an assignment, another library's frame, or a changed API's message is not."""
    from scaffold.adopt.raises import in_library, on_purpose

    source = "ser = pd.Series(np.arange(3.))\nser\nser[-1]"
    shown = _failure(LIBRARY_TRACE, source)
    assert in_library(shown) == "pandas"  # type: ignore[arg-type]
    assert not on_purpose(shown)  # type: ignore[arg-type]  # not the notebook's own frames
    assigned = source.replace("ser[-1]", "x = ser[-1]")
    assert in_library(_failure(LIBRARY_TRACE.replace("ser[-1]", "x = ser[-1]"), assigned)) is None  # type: ignore[arg-type]
    numpy = LIBRARY_TRACE.replace("pandas/core/indexes/range.py:415", "numpy/core/x.py:415")
    assert in_library(_failure(numpy, source)) is None  # type: ignore[arg-type]  # two libraries
    rot = LIBRARY_TRACE.replace("KeyError: -1\n", "KeyError: 'no longer supported'\n", 1)
    assert in_library(_failure(rot, source)) is None  # type: ignore[arg-type]
    assert in_library(_failure(CELL_TRACE, "t = (1, 2)\nt[0] = 5\n")) is None  # type: ignore[arg-type]
    assert in_library(_failure(LIBRARY_TRACE, source, "missing data (x)")) is None  # type: ignore[arg-type]


def test_a_librarys_error_is_tagged_only_when_its_oldest_raises_it_too(tmp_path: Path) -> None:
    from scaffold.adopt.raises import _tag_rounds
    from scaffold.adopt.runs import Failure

    source = "ser = pd.Series(np.arange(3.))\nser\nser[-1]"
    for name in ("alike", "differs"):
        notebook(tmp_path / f"{name}.ipynb", "x = 1\n", "y = 2\n", "z = 3\n", source, "print(x)")
    failing = {
        name: Failure("an error in the code (KeyError: -1)", LIBRARY_TRACE, 3, source)
        for name in ("alike.ipynb", "differs.ipynb")
    }
    asked: list[tuple[str, str]] = []

    def same(name: str, failure: Failure, library: str) -> str:
        asked.append((name, library))
        return "pandas 1.5.0" if name == "alike.ipynb" else ""

    tagged = _tag_rounds(tmp_path, failing, lambda names: {}, same)
    assert set(asked) == {("alike.ipynb", "pandas"), ("differs.ipynb", "pandas")}
    assert [str(cell) for cell in tagged["alike.ipynb"]] == [
        "cell 4 raises KeyError: -1 in pandas, as pandas 1.5.0 does, on purpose? tagged "
        "raises-exception - review"
    ]
    assert "differs.ipynb" not in tagged
    cells = json.loads((tmp_path / "differs.ipynb").read_text())["cells"]
    assert all("tags" not in cell["metadata"] for cell in cells)
    notebook(tmp_path / "unasked.ipynb", "x = 1\n", "y = 2\n", "z = 3\n", source)
    unasked = {"unasked.ipynb": failing["alike.ipynb"]}
    assert _tag_rounds(tmp_path, unasked, lambda names: {}) == {}  # no oldest to ask: no tag


@pytest.mark.slow
def test_the_oldest_release_of_the_library_shows_whether_it_raised_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the library at its oldest release in a scratch copy of the project's
    environment, the same cell raises the same error (its behaviour) or not (its rot)."""
    from types import SimpleNamespace
    from typing import cast

    from scaffold.adopt.plan import Plan
    from scaffold.adopt.raises import Oldest
    from scaffold.adopt.runs import failures
    from scaffold.project import Project

    raising = "def lookup(key):\n    return {'a': 1}[key]\n"
    cases = {
        "alike": (raising, "scaffold-lift-probe 1.0"),
        "differs": ("def lookup(key):\n    return 0\n", ""),
    }
    for case, (old, expected) in cases.items():
        wheels = tmp_path / case / "wheels"
        wheels.mkdir(parents=True)
        _probe_wheel(wheels, "1.0", old)
        _probe_wheel(wheels, "2.0", raising)
        root = tmp_path / case / "project"
        root.mkdir()
        (root / "pyproject.toml").write_text(
            '[project]\nname = "demo"\nversion = "0"\ndependencies = ["scaffold-lift-probe"]\n'
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
            "[tool.hatch.build.targets.wheel]\nbypass-selection = true\n"
        )
        notebook(root / "shows.ipynb", "import scaffold_lift_probe as p\n", "p\np.lookup('b')\n")
        monkeypatch.setenv("UV_FIND_LINKS", str(wheels))
        oldest = Oldest(
            cast(Plan, SimpleNamespace(root=root, answers={})), tmp_path / case / "venv", 120, print
        )
        search = oldest._made()
        assert search is not None and search.versions()["scaffold-lift-probe"] == "2.0"
        failure = failures(Project(root), [root / "shows.ipynb"], search.python, 120)["shows.ipynb"]
        assert failure.trace.startswith("KeyError: 'b'"), failure.trace
        assert oldest.same("shows.ipynb", failure, "scaffold_lift_probe") == expected


def test_a_changed_default_is_restored_on_the_call_the_traceback_names(tmp_path: Path) -> None:
    """geopandas 0.8 took a plot's aspect from its latitude (not degrees: it raises);
    before, every plot was "equal": the named call gets ``aspect="equal"``, once."""
    from scaffold.adopt.callsites import IxTrials, _apply, add_keyword, rewritable
    from scaffold.adopt.runs import Failure

    chained = (
        "def draw(df, ax):\n    (\n        df\n        .plot(\n            ax = ax,\n"
        "        )\n    )\n"
    )
    added = add_keyword(chained, "plot", 4, "aspect", '"equal"')
    assert added is not None and 'ax = ax, aspect="equal",\n' in added
    compile(added, "cell", "exec")  # still Python, the trailing comma kept
    assert (
        add_keyword("gdf.plot()\n", "plot", 1, "aspect", '"equal"') == 'gdf.plot(aspect="equal")\n'
    )
    assert add_keyword("g.plot(aspect=1)\n", "plot", 1, "aspect", '"equal"') is None
    assert add_keyword("g.plot(**style)\n", "plot", 1, "aspect", '"equal"') is None
    assert add_keyword("g.plot(); h.plot()\n", "plot", 1, "aspect", '"equal"') is None
    trace = (
        "ValueError: aspect must be finite and positive \n"
        "Cell In[9], line 1\n----> 1 draw(frame, ax)\n"
        "Cell In[7], line 4, in draw(df, ax)\n----> 4         .plot(\n"
        "File ~/.venv/lib/python3.11/site-packages/geopandas/plotting.py:679, in plot_dataframe\n"
        "File ~/.venv/lib/python3.11/site-packages/matplotlib/axes/_base.py:1669, in set_aspect\n"
    )
    assert rewritable(trace)
    assert not rewritable(trace.replace("geopandas/plotting.py", "seaborn/axisgrid.py"))
    notebook(tmp_path / "maps.ipynb", "import geopandas\n", chained, "draw(frame, ax)\n")
    failure = Failure(
        "an error in the code (ValueError)", trace, 2, "draw(frame, ax)", {7: 1, 9: 2}
    )
    change = _apply(tmp_path / "maps.ipynb", failure, "maps.ipynb", IxTrials())
    assert str(change) == 'cell 2 line 4: .plot() -> .plot(aspect="equal") (rewritten)'
    cells = json.loads((tmp_path / "maps.ipynb").read_text())["cells"]
    assert "".join(cells[1]["source"]) == added
    assert _apply(tmp_path / "maps.ipynb", failure, "maps.ipynb", IxTrials()) is None  # given
