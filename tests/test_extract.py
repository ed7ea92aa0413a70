"""`scaffold extract NAME...`: copied functions move into a module; the notebooks import them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import listing, project_venv, scaffold_in_process
from tests.helpers import (
    HELPERS,
    cell,
    cells_of,
    scaffold_command,
    source,
    start_and_signal,
    write_notebook,
)

SETUP = (
    "%load_ext autoreload\n%autoreload 2\nimport math\n"
    "import pandas as pd\nfrom pathlib import Path"
)
# the same helpers with other local names and formatting: a copy for scaffold check
HELPERS_RENAMED = """def clean(df):
    return df.dropna()

def scale(x, factor=2):
    return math.sqrt(x) * factor"""


@pytest.fixture
def copies_lab(plain_lab: Path) -> Path:
    """``plain_lab`` with two notebooks holding copies of the same helpers (one renamed)."""
    project = plain_lab
    notebooks = project / "notebooks"
    write_notebook(
        notebooks / "1.0-ab-explore.ipynb",
        [
            cell(SETUP, "setup"),
            cell("!echo hello\n" + HELPERS + "\nvalues = [scale(v) for v in (1, 4, 9)]", "helpers"),
            cell("%%bash\necho not python", "shell"),
            cell("print(values, scale(16, factor=3))", "use", tags=["keep"]),
        ],
    )
    write_notebook(
        notebooks / "1.1-ab-model.ipynb",
        [
            cell(SETUP, "setup"),
            cell(HELPERS_RENAMED, "only-helpers"),
            cell("%time total = scale(25)\nprint(scale(25))", "use"),
        ],
    )
    return project


def test_extract_moves_the_copies_and_both_notebooks_import_them(copies_lab: Path):
    first, second = (
        copies_lab / "notebooks" / "1.0-ab-explore.ipynb",
        copies_lab / "notebooks" / "1.1-ab-model.ipynb",
    )
    before_first, before_second = cells_of(first), cells_of(second)
    result = scaffold_in_process(
        "extract", "clean", "scale", "--to", "helpers", cwd=copies_lab / "notebooks"
    )
    assert result.stdout.splitlines() == [
        "create src/lab/helpers.py",
        "create tests/test_helpers.py",
        "update notebooks/1.0-ab-explore.ipynb",
        "update notebooks/1.1-ab-model.ipynb",
    ]
    module = (copies_lab / "src" / "lab" / "helpers.py").read_text()
    assert "import math\n" in module and "def clean(frame):" in module  # the first version
    assert "pandas" not in module and "Path" not in module  # only the imports it needs
    # a cell with other code keeps it; the import joins the notebook's import cell
    assert source(first, 1) == "!echo hello\n\nvalues = [scale(v) for v in (1, 4, 9)]"
    # a cell that held only the definitions is left empty: removed
    assert [c["id"] for c in cells_of(second)] == ["setup", "use"]
    # every other cell (ids, metadata, magics, shell escapes) is unchanged
    after_first, after_second = cells_of(first), cells_of(second)
    for index in (2, 3):
        assert after_first[index] == before_first[index]
    assert after_second[1] == before_second[2]
    # but for the import only the moved code used (ruff's F401 once it is gone)
    for path, after, before in (
        (first, after_first, before_first),
        (second, after_second, before_second),
    ):
        assert source(path, 0) == (
            SETUP.replace("import math\n", "") + "\n\nfrom lab.helpers import clean, scale"
        )
        assert {**after[0], "source": None} == {**before[0], "source": None}
    assert [c["id"] for c in after_first] == [c["id"] for c in before_first]
    # the notebook file is rewritten as Jupyter writes it: only the changed lines differ
    diff = [
        line for line in first.read_text().splitlines() if '"!echo' in line or "lab.helpers" in line
    ]
    assert len(diff) == 2
    # the module imports, passes ruff, and its test passes
    env_path = str(copies_lab / "src")
    imported = subprocess.run(
        [sys.executable, "-c", "from lab.helpers import scale; print(scale(16))"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": env_path, "PATH": ""},
    )
    assert imported.stdout.strip() == "8.0", imported.stderr
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests"],
        cwd=copies_lab,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-pno:cacheprovider", "tests/test_helpers.py"],
        cwd=copies_lab, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": env_path},
    )  # fmt: skip
    assert tested.returncode == 0 and "2 passed" in tested.stdout, tested.stdout
    # a real stub per moved function: its parameters pinned, no placeholder describe()
    stubs = (copies_lab / "tests" / "test_helpers.py").read_text()
    assert 'assert list(inspect.signature(scale).parameters) == ["value", "factor"]' in stubs
    assert "describe" not in stubs and "describe" not in module
    # scaffold check no longer reports the copies
    report = scaffold_in_process("check", "--select", "NB501,NB502", cwd=copies_lab, check=False)
    assert report.returncode == 0, report.stdout + report.stderr


def test_dry_run_prints_a_diff_and_writes_nothing(copies_lab: Path):
    before = {path: path.read_bytes() for path in (copies_lab / "notebooks").glob("*.ipynb")}
    files = listing(copies_lab)
    result = scaffold_in_process("extract", "scale", "--dry-run", cwd=copies_lab)
    assert "+def scale(value, factor=2):" in result.stdout
    assert "-def scale(x, factor=2):" in result.stdout
    assert "+from lab.utils import scale" in result.stdout
    assert "create src/lab/utils.py" in result.stdout and "dry run" in result.stdout
    # a cell without a final newline: its last line, then git's marker, then the new line
    assert "-    return math.sqrt(x) * factor\n\\ No newline at end of file\n+" in result.stdout
    diff = result.stdout.split("\ncreate src/lab/utils.py")[0].splitlines()
    assert all(line[:1] in " +-@\\" for line in diff)  # no line run into the next one
    assert listing(copies_lab) == files
    assert all(path.read_bytes() == data for path, data in before.items())


def test_appends_to_an_existing_module_after_its_imports(copies_lab: Path):
    scaffold_in_process("extract", "clean", "--to", "plots", cwd=copies_lab)
    scaffold_in_process("extract", "scale", "--to", "plots", cwd=copies_lab)
    module = (copies_lab / "src" / "lab" / "plots.py").read_text()
    assert module.count("import math") == 1 and "def clean(" in module and "def scale(" in module
    stubs = (copies_lab / "tests" / "test_plots.py").read_text()  # the template's plots has none
    assert stubs.count("def test_") == 2 and "def test_scale_takes_its_parameters" in stubs
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src/lab/plots.py"],
        cwd=copies_lab,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # the second import joins the first one (isort merges them; two would be I001)
    for name in ("1.1-ab-model", "1.0-ab-explore"):
        setup = source(copies_lab / "notebooks" / f"{name}.ipynb", 0)
        assert setup.endswith("\n\nfrom lab.plots import clean, scale")


def ruff(project: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    """ruff check with the project's configuration, E402 and isort (I) selected everywhere."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--extend-select", "E402,I", *paths],
        cwd=project,
        capture_output=True,
        text=True,
    )


def test_the_imports_go_where_isort_wants_them_in_the_notebooks(copies_lab: Path):
    notebooks = copies_lab / "notebooks"
    for path in notebooks.glob("*.ipynb"):
        path.unlink()
    prep, fit = notebooks / "3.0-ab-prep.ipynb", notebooks / "3.1-ab-fit.ipynb"
    norm = (
        "def norm(values):\n    arr = np.asarray(values, dtype=float)\n"
        "    return arr / math.fsum(values)"
    )
    write_notebook(
        prep,
        [
            cell("%load_ext autoreload\n%autoreload 2\nimport math\n\nimport numpy as np", "setup"),
            # an import block, a constant, then the definition: the import joins the block
            cell(f"import json\n\nLIMIT = 2\n\n\n{norm}\n\n\nprint(json.dumps(LIMIT))", "mixed"),
            # code before the definition: the import goes to the top of the cell
            cell("total = 3\n\n\ndef twice(x):\n    return 2 * x\n\n\nprint(twice(total))", "pre"),
            # a definition after another one: two blank lines before the one left
            cell(f"{norm.replace('norm', 'half')}\n\n\ndef twice(x):\n    return 2 * x\n", "two"),
            cell("print(np.round(norm([1, 3]), 2), math.e, half([2]))", "use"),
        ],
    )
    write_notebook(
        fit,
        [
            cell("import math\n\nimport numpy as np\n\nfrom lab.config import PROJ_ROOT", "setup"),
            cell(f"%%time\n{norm}\n\n\ndef twice(y):\n    return 2 * y", "defs"),
            cell("print(np.round(norm([1, 3]), 2), math.e, twice(2), PROJ_ROOT.name)", "use"),
        ],
    )
    before = ruff(copies_lab, "notebooks")
    assert before.returncode == 0, before.stdout  # the notebooks are clean to begin with
    scaffold_in_process("extract", "norm", cwd=copies_lab)
    scaffold_in_process(
        "extract", "twice", cwd=copies_lab
    )  # into the same module: the imports merge
    # one import of both, merged into each notebook's import cell
    assert source(prep, 0).endswith("import numpy as np\n\nfrom lab.utils import norm, twice")
    assert source(prep, 1) == "import json\n\nLIMIT = 2\n\nprint(json.dumps(LIMIT))"
    assert source(prep, 2) == "total = 3\n\nprint(twice(total))"
    assert source(prep, 3) == (
        "def half(values):\n    arr = np.asarray(values, dtype=float)\n"
        "    return arr / math.fsum(values)\n"
    )
    assert source(fit, 0) == (
        "import math\n\nimport numpy as np\n\nfrom lab.config import PROJ_ROOT\n"
        "from lab.utils import norm, twice"
    )
    # the %%time cell held only the definitions: left with its magic alone, it is removed
    assert [c["id"] for c in cells_of(fit)] == ["setup", "use"]
    after = ruff(copies_lab, "notebooks", "src", "tests")
    assert after.returncode == 0, after.stdout


def test_imports_only_the_moved_code_used_leave_the_notebook(copies_lab: Path):
    notebooks = copies_lab / "notebooks"
    for path in notebooks.glob("*.ipynb"):
        path.unlink()
    first, second = notebooks / "3.0-ab-one.ipynb", notebooks / "3.1-ab-two.ipynb"
    body = "def spread(values):\n    return np.ptp(values) / sqrt(len(values)) + pi"
    write_notebook(
        first,
        [
            cell("import numpy as np", "numpy"),  # np: only spread used it
            cell("from math import pi, sqrt, tau\n\nprint(tau)", "math"),  # tau is still used
            cell(body, "spread"),
            cell("print(spread([1, 2, 3]))", "use"),
        ],
    )
    write_notebook(
        second,
        [
            cell("%load_ext autoreload\nfrom math import pi, sqrt\n\nimport numpy as np", "setup"),
            cell(f"{body}\n\n\nprint(spread([4]))", "spread"),
            cell("%timeit np.zeros(3)", "magic"),  # np still used, by a magic
        ],
    )
    assert ruff(copies_lab, "notebooks/3.0-ab-one.ipynb").returncode == 0
    result = scaffold_in_process("extract", "spread", "--dry-run", cwd=copies_lab)
    assert "(cell 3 of notebooks/3.0-ab-one.ipynb is left empty: removed)" in result.stdout
    scaffold_in_process("extract", "spread", cwd=copies_lab)
    # the import joins the import cell (whose numpy import only spread used); the emptied
    # definition cell is gone; the other import keeps the name still used
    assert [c["id"] for c in cells_of(first)] == ["numpy", "math", "use"]
    assert source(first, 0) == "from lab.utils import spread"
    assert source(first, 1) == "from math import tau\n\nprint(tau)"
    assert source(second, 0) == (
        "%load_ext autoreload\n\nimport numpy as np\n\nfrom lab.utils import spread"
    )
    assert source(second, 1) == "print(spread([4]))"
    assert source(second, 2) == "%timeit np.zeros(3)"
    # (ruff does not see the magic's use of np: it would remove the import; extract does not)
    checked = ruff(copies_lab, "notebooks/3.0-ab-one.ipynb", "src")
    assert checked.returncode == 0, checked.stdout


def test_an_import_from_a_module_the_module_imports_from_joins_that_import(copies_lab: Path):
    write_notebook(
        copies_lab / "notebooks" / "2.0-ab-paths.ipynb",
        [
            cell("from pathlib import PurePath", "setup"),
            cell("def stem(name):\n    return PurePath(name).stem", "a"),
        ],
    )
    scaffold_in_process("extract", "stem", "--to", "config", cwd=copies_lab)
    module = (copies_lab / "src" / "lab" / "config.py").read_text()
    assert "from pathlib import Path, PurePath\n" in module and module.count("from pathlib") == 1
    checked = ruff(copies_lab, "src")
    assert checked.returncode == 0, checked.stdout


def refused(lab: Path, *args: str) -> str:
    before = {path: path.read_bytes() for path in (lab / "notebooks").glob("*.ipynb")}
    files = listing(lab)
    result = scaffold_in_process("extract", *args, cwd=lab, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert listing(lab) == files
    assert all(path.read_bytes() == data for path, data in before.items())
    return result.stderr


def test_a_function_reading_a_notebook_global_is_refused(copies_lab: Path):
    write_notebook(
        copies_lab / "notebooks" / "2.0-ab-global.ipynb",
        [
            cell(
                "THRESHOLD = 3\n\ndef above(values):\n"
                "    return [v for v in values if v > THRESHOLD]",
                "a",
            )
        ],
    )
    message = refused(copies_lab, "above")
    assert message == (
        "error: 'above' in notebooks/2.0-ab-global.ipynb reads the notebook global "
        "'THRESHOLD'; make it a parameter that every call passes: "
        "scaffold extract above --param THRESHOLD\n"
    )


def test_differing_copies_are_refused_naming_the_notebooks_unless_from_picks_one(copies_lab: Path):
    write_notebook(
        copies_lab / "notebooks" / "2.0-ab-other.ipynb",
        [cell(SETUP, "s"), cell("def scale(value, factor=2):\n    return value * factor", "a")],
    )
    message = refused(copies_lab, "scale")
    assert "differ in more than renaming" in message
    # which notebooks hold which version (the first two are copies of each other)
    assert (
        "(version 1 in notebooks/1.0-ab-explore.ipynb, notebooks/1.1-ab-model.ipynb; "
        "version 2 in notebooks/2.0-ab-other.ipynb)" in message
    )
    # a --from notebook that does not define it picks nothing: said so
    write_notebook(copies_lab / "notebooks" / "2.1-ab-none.ipynb", [cell("x = 1", "a")])
    message = refused(copies_lab, "scale", "--from", "2.1-ab-none")
    assert "none of the --from notebooks defines it; pick one that does" in message
    scaffold_in_process("extract", "scale", "--from", "2.0-ab-other", cwd=copies_lab)
    module = (copies_lab / "src" / "lab" / "utils.py").read_text()
    assert "return value * factor" in module and "import math" not in module
    assert "from lab.utils import scale" in source(
        copies_lab / "notebooks" / "1.0-ab-explore.ipynb", 0
    )


def test_a_function_calling_another_notebook_function_says_to_extract_both(copies_lab: Path):
    write_notebook(
        copies_lab / "notebooks" / "2.0-ab-pair.ipynb",
        [cell("def inner(x):\n    return x + 1\n\n\ndef outer(x):\n    return inner(x) * 2", "a")],
    )
    assert "calls 'inner', defined in the notebook; extract both at once" in refused(
        copies_lab, "outer"
    )
    scaffold_in_process("extract", "outer", "inner", cwd=copies_lab)
    assert (
        source(copies_lab / "notebooks" / "2.0-ab-pair.ipynb", 0)
        == "from lab.utils import inner, outer"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing"], "no notebook defines 'missing'"),
        (["scale", "--to", "Bad-Name"], "not a valid module name"),
        (["clean", "--to", "lab"], "tests/test_lab.py already exists"),
    ],
)
def test_bad_input_is_one_sentence(copies_lab: Path, args: list[str], message: str):
    assert message in refused(copies_lab, *args)


@pytest.mark.slow
def test_extract_verify_runs_both_notebooks_with_the_same_outputs(copies_lab: Path):
    python = project_venv(copies_lab)
    for path in (copies_lab / "notebooks").glob("*.ipynb"):  # papermill needs only Python cells
        data = json.loads(path.read_text())
        data["cells"] = [c for c in data["cells"] if not "".join(c["source"]).startswith("%%bash")]
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")

    def outputs() -> list[str]:
        scaffold_in_process(
            "run", "1.0-ab-explore", "1.1-ab-model", "--python", str(python), cwd=copies_lab
        )
        found = []
        for name in ("1.0-ab-explore", "1.1-ab-model"):
            for executed in cells_of(copies_lab / "reports" / f"{name}.ipynb"):
                found += [
                    o.get("text", "") for o in executed["outputs"] if o.get("name") == "stdout"
                ]
        lines = "".join("".join(text) for text in found).splitlines()
        return [line for line in lines if "time" not in line]  # %time's timings vary

    before = outputs()
    result = scaffold_in_process(
        "extract", "clean", "scale", "--verify", "--python", str(python), cwd=copies_lab
    )
    assert "verified 2 notebooks" in result.stdout
    assert outputs() == before and before == ["hello", "[2.0, 4.0, 6.0] 12.0", "10.0"]
    report = scaffold_in_process("check", "--select", "NB501,NB502", cwd=copies_lab, check=False)
    assert report.returncode == 0, report.stdout
    # a failing notebook undoes everything
    files = {path: path.read_bytes() for path in (copies_lab / "notebooks").glob("*.ipynb")}
    write_notebook(
        copies_lab / "notebooks" / "2.0-ab-fails.ipynb",
        [cell("def twice(x):\n    return 2 * x", "a"), cell("raise ValueError('boom')", "b")],
    )
    write_notebook(
        copies_lab / "notebooks" / "2.1-ab-twice.ipynb",
        [cell("def twice(y):\n    return 2 * y", "a")],
    )
    failed = scaffold_in_process(
        "extract", "twice", "--verify", "--python", str(python), cwd=copies_lab, check=False
    )
    assert failed.returncode == 1 and "boom" in failed.stderr and "undone" in failed.stderr
    assert "def twice" not in (copies_lab / "src" / "lab" / "utils.py").read_text()
    assert all(path.read_bytes() == data for path, data in files.items())


@pytest.mark.slow
def test_ctrl_c_during_verify_undoes_everything(copies_lab: Path):
    import signal

    def files() -> list[str]:  # what the kernels compile is no change of the project's
        return [f for f in listing(copies_lab) if ".venv" not in f and "__pycache__" not in f]

    python = project_venv(copies_lab)
    write_notebook(
        copies_lab / "notebooks" / "2.0-ab-slow.ipynb",
        [cell(HELPERS_RENAMED, "defs"), cell("import time\n\ntime.sleep(120)", "sleep")],
    )
    listed = files()
    before = {path: path.read_bytes() for path in (copies_lab / "notebooks").glob("*.ipynb")}
    command = scaffold_command("extract", "clean", "--verify", "--python", str(python))
    result, _ = start_and_signal(command, copies_lab, signal.SIGINT, "ipykernel")
    assert result.returncode == 130 and "Interrupted" in result.stderr, result.stderr
    assert files() == listed  # the module and its test are gone again
    assert all(path.read_bytes() == data for path, data in before.items())


# A minimal reproduction of the most-copied helper in a public book's notebooks: a figure
# saver reading the notebook's IMAGES_PATH, in two notebooks, written with 2-space indents.
SAVE_FIG = """def save_fig(fig_id, tight_layout=True, fig_extension="png"):
  path = IMAGES_PATH / f"{fig_id}.{fig_extension}"
  if tight_layout:
    print("tight")
  return path"""


def test_param_turns_a_read_global_into_a_parameter_every_call_passes(copies_lab: Path):
    notebooks = copies_lab / "notebooks"
    for name, folder in (("4.0-ab-ch1", "ch1"), ("4.1-ab-ch2", "ch2")):
        write_notebook(
            notebooks / f"{name}.ipynb",
            [
                cell("from pathlib import Path", "imports"),
                cell(f'IMAGES_PATH = Path("images") / "{folder}"', "paths"),
                cell(SAVE_FIG, "helper"),
                cell(
                    'print(save_fig("a"))\nprint(save_fig(\n    "b",\n    tight_layout=False,\n))',
                    "use",
                ),
            ],
        )
    message = refused(copies_lab, "save_fig", "--to", "figures")
    assert message.endswith(
        "reads the notebook global 'IMAGES_PATH'; make it a parameter that every call passes: "
        "scaffold extract save_fig --to figures --param IMAGES_PATH\n"
    )
    scaffold_in_process(
        "extract", "save_fig", "--to", "figures", "--param", "IMAGES_PATH", cwd=copies_lab
    )
    module = (copies_lab / "src" / "lab" / "figures.py").read_text()
    # the global is a keyword-only parameter; the 2-space indentation is ruff format's 4
    assert (
        'def save_fig(fig_id, tight_layout=True, fig_extension="png", *, images_path):\n'
        '    path = images_path / f"{fig_id}.{fig_extension}"\n'
        "    if tight_layout:\n"
        '        print("tight")\n'
    ) in module
    for name in ("4.0-ab-ch1", "4.1-ab-ch2"):
        path = notebooks / f"{name}.ipynb"
        assert source(path, 0) == "from pathlib import Path\n\nfrom lab.figures import save_fig"
        assert source(path, 2) == (  # every call passes the notebook's own value
            'print(save_fig("a", images_path=IMAGES_PATH))\n'
            'print(save_fig(\n    "b",\n    tight_layout=False, images_path=IMAGES_PATH\n))'
        )
        assert [c["id"] for c in cells_of(path)] == ["imports", "paths", "use"]
    # each notebook still gets its own folder: run the cells with the module importable
    code = "\n".join(source(notebooks / "4.1-ab-ch2.ipynb", i) for i in range(3))
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(copies_lab / "src")},
    )  # fmt: skip
    assert ran.stdout.split() == ["tight", "images/ch2/a.png", "images/ch2/b.png"], ran.stderr
    stubs = (copies_lab / "tests" / "test_figures.py").read_text()
    assert '"fig_extension",\n        "images_path",\n    ]' in stubs  # formatted by ruff


def test_param_refusals(copies_lab: Path):
    write_notebook(
        copies_lab / "notebooks" / "4.0-ab-g.ipynb",
        [cell("LIMIT = 3\n\ndef above(v):\n    return v > LIMIT\n\nprint(above(4))", "a")],
    )
    assert "--param OTHER: none of the moved definitions reads a notebook global" in refused(
        copies_lab, "above", "--param", "LIMIT", "--param", "OTHER"
    )


DISTANCE = """def distance_between(a, b):
    d = (a * b).sum()
    return math.acos(d)"""
CLAMPED = """def distance_between(a, b):
    d = (a * b).sum()
    d = min(max(d, -1.0), 1.0)  # rounding pushes d past 1: NaN
    return math.acos(d)"""


def test_drifted_copies_show_their_diff_and_which_copy_has_which_lines(copies_lab: Path):
    notebooks = copies_lab / "notebooks"
    write_notebook(notebooks / "5.0-ab-a.ipynb", [cell("import math", "i"), cell(DISTANCE, "d")])
    write_notebook(notebooks / "5.1-ab-b.ipynb", [cell("import math", "i"), cell(CLAMPED, "d")])
    message = refused(copies_lab, "distance_between")
    first, *rest = message.splitlines()
    assert first == (
        "error: the copies of 'distance_between' differ in more than renaming (version 1 in "
        "notebooks/5.0-ab-a.ipynb; version 2 in notebooks/5.1-ab-b.ipynb); make them the same, "
        "or pick the one to keep with --from NOTEBOOK."
    )
    assert rest[0] == (
        "only notebooks/5.1-ab-b.ipynb has: "
        "`d = min(max(d, -1.0), 1.0)  # rounding pushes d past 1: NaN`"
    )
    assert "--- version 1 (notebooks/5.0-ab-a.ipynb)" in rest
    assert "+    d = min(max(d, -1.0), 1.0)  # rounding pushes d past 1: NaN" in rest
    # --from the copy without the clamp: done, but not silently
    result = scaffold_in_process(
        "extract", "distance_between", "--from", "5.0-ab-a", cwd=copies_lab
    )
    assert result.stdout.splitlines()[-1] == (
        "note: kept 'distance_between' from notebooks/5.0-ab-a.ipynb; the copy in "
        "notebooks/5.1-ab-b.ipynb has lines it lacks: "
        "d = min(max(d, -1.0), 1.0)  # rounding pushes d past 1: NaN"
    )
