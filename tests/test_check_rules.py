"""`scaffold check` on notebooks nobody here wrote (issue 25): the rule table as data, and a
minimal reproduction of each false positive found on public corpora, written here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from scaffold.check import checker
from scaffold.check.checker import check, check_anywhere
from scaffold.check.model import RULES, Config, Rule, codes_where, register
from scaffold.project import Project
from tests.conftest import run_scaffold

DOCS = Path(__file__).resolve().parents[1] / "docs" / "check.md"


def test_every_rule_is_documented_in_docs_check_md():
    rows = re.findall(r"^\| (NB\d{3}) \| ([a-z][a-z0-9-]+)", DOCS.read_text(), re.MULTILINE)
    documented = dict(rows)
    assert len(rows) == len(documented), "a code is documented twice"
    assert documented == {code: rule.name for code, rule in RULES.items()}


def test_scope_and_parsing_live_on_the_rule():
    assert "NB104" in checker.PARSED and "NB201" not in checker.PARSED
    assert set(checker.PARSED) == {c for c, r in RULES.items() if r.parsed}
    assert "NB404" in codes_where(scope="project") and "NB401" in codes_where(scope="notebook")
    with pytest.raises(ValueError):
        register(Rule("NB201", "again", "error"))
    with pytest.raises(ValueError):
        register(Rule("NB999", "nowhere", "error", scope="galaxy"))


def test_the_cache_key_follows_the_rules_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    package = Path(checker.__file__).parent
    for module in package.glob("*.py"):
        (tmp_path / module.name).write_bytes(module.read_bytes())
    monkeypatch.setattr(checker, "__file__", str(tmp_path / "checker.py"))
    checker.code_version.cache_clear()
    before = checker.code_version()
    with (tmp_path / "notebook.py").open("a") as module:
        module.write("\n# a rule changed\n")
    checker.code_version.cache_clear()
    assert checker.code_version() != before  # no manual bump needed
    monkeypatch.undo()
    checker.code_version.cache_clear()


# -- helpers --------------------------------------------------------------------------------------


def notebook(path: Path, *sources: str, counts: bool = False, **metadata: object) -> Path:
    """Code cells (markdown when a source starts with "# md:"), written by nbformat."""
    cells = []
    for number, source in enumerate(sources, start=1):
        if source.startswith("# md:"):
            cells.append(new_markdown_cell(source[5:]))
        else:
            cells.append(new_code_cell(source, execution_count=number if counts else None))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells, metadata=dict(metadata)), path)
    return path


def anywhere(folder: Path, *paths: Path, select: tuple[str, ...] = ("NB",)) -> list[str]:
    """``code cell:line`` of each finding of the per-notebook rules outside a project."""
    result = check_anywhere(list(paths) or [folder], Config(select=select), cwd=folder)
    return [f"{f.code} {f.cell}:{f.line}" for f in result.findings]


# -- anywhere ---------------------------------------------------------------------------


def test_outside_a_project_paths_get_the_per_notebook_rules(tmp_path: Path):
    notebook(tmp_path / "a" / "x.ipynb", "import sklearn\nprint(1)", counts=True)
    result = run_scaffold("check", "a", cwd=tmp_path, check=False)
    assert result.returncode == 1, result.stderr
    assert "a/x.ipynb:1:0: NB202" in result.stdout
    assert "NB404" not in result.stdout.replace("NB402, NB404", "")
    skipped = [line for line in result.stdout.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and "NB404" in skipped[0] and "NB501-NB502" in skipped[0]
    as_json = json.loads(run_scaffold("check", "a", "--format", "json", cwd=tmp_path,
                                      check=False).stdout)  # fmt: skip
    assert "NB404" in as_json["skipped"]
    clean = run_scaffold("check", "a", "--select", "NB1", cwd=tmp_path)
    assert clean.stdout.startswith("All checks passed")  # no project rule selected: none skipped
    assert run_scaffold("check", cwd=tmp_path, check=False).returncode == 2  # no paths: no guess


# -- NB104 as IPython runs a cell, NB105 conflict markers ---------------------------------


def test_syntax_is_judged_as_ipython_runs_the_cell(tmp_path: Path):
    notebook(
        tmp_path / "x.ipynb",
        "pip install watermark",  # automagic: runs %pip
        "share = (total\n         % parts)",  # modulo on a continuation line, not a magic
        "%timeit f(1,\n        2)",  # IPython ends a line magic at the line's end
        "ls",
    )
    assert anywhere(tmp_path) == ["NB403 1:1", "NB104 3:2"]


def test_notebooks_of_other_languages_are_not_parsed(tmp_path: Path):
    notebook(
        tmp_path / "r.ipynb",
        "library(dplyr)\nx <- c(1, 2)",
        kernelspec={"name": "ir", "display_name": "R", "language": "R"},
    )
    assert anywhere(tmp_path) == []


def test_merge_conflict_markers_git_and_nbdime(tmp_path: Path):
    cell = "<<<<<<< local\nrate = 0.1\n=======\nrate = 0.2\n>>>>>>> remote\nprint(rate)"
    notebook(tmp_path / "a.ipynb", "x = 1", cell)
    good = notebook(tmp_path / "b.ipynb", "x = 1").read_text()
    lines = good.splitlines()
    at = next(i for i, line in enumerate(lines) if '"source"' in line)
    lines[at:at] = ["<<<<<<< HEAD", '   "id": "a",', "=======", '   "id": "b",', ">>>>>>> other"]
    (tmp_path / "b.ipynb").write_text("\n".join(lines))
    result = check_anywhere([tmp_path], Config(), cwd=tmp_path).findings
    assert [(f.path, f.code, f.cell, f.line) for f in result] == [
        ("a.ipynb", "NB105", 2, 1),
        ("b.ipynb", "NB105", 0, 0),
    ]
    assert "git mergetool --tool nbdime -- b.ipynb" in result[1].message


# -- hidden state, statically (NB303, NB304) ------------------------------------------------


def test_a_name_defined_only_further_down_and_one_never_defined(tmp_path: Path):
    notebook(
        tmp_path / "x.ipynb",
        "# md: # Title",
        "import numpy as np\ntotal = np.sum(values)",  # values: defined in cell 4
        "plot(total)\nplt.show()",  # plot: cell 4; plt: nowhere
        "values = [1, 2]\ndef plot(data):\n    plt.plot(data)",
    )
    result = check_anywhere([tmp_path], Config(select=("NB3",)), cwd=tmp_path).findings
    assert [(f.code, f.cell, f.line) for f in result] == [
        ("NB303", 2, 2),
        ("NB303", 3, 1),
        ("NB304", 3, 2),
    ]
    assert "first defined in cell 4" in result[0].message
    assert "(here and in 1 more cell)" in result[2].message
    assert "`import matplotlib.pyplot as plt`" in result[2].message


def test_names_the_kernel_or_the_cell_provides_are_not_hidden_state(tmp_path: Path):
    notebook(
        tmp_path / "x.ipynb",
        "display(In[1], Out, _, _3, _i2, get_ipython(), __file__)",
        "def show():\n    from IPython.display import Markdown\n    return Markdown('x')",
        "%time fitted = sum([1, 2])\nprint(fitted)",
        "%%capture captured\nprint(1)",
        "captured.show()",
        "squares = [n * n for n in range(3)]\nif (size := len(squares)) > 2:\n    print(size)",
        "class Box:\n    side = 2\n    area = side * side\n    def grow(self):\n"
        "        return self.side + Box.area",
        "def setup():\n    global config\n    config = {}\nsetup()\nprint(config)",
        "try:\n    print(maybe)\nexcept NameError:\n    maybe = None",
        "with open('f') as handle:\n    for line in handle:\n        pass\nprint(line)",
    )
    assert anywhere(tmp_path, select=("NB3",)) == []


@pytest.mark.parametrize(
    "cell",
    [
        "from helpers import *",
        "%run setup.py",
        "%pylab inline",
        "exec('ghost = 1')",
        "globals()['ghost'] = 1",
        "%%cython\ndef ghost(): pass",
        "%store -r ghost",
    ],
)
def test_notebooks_that_define_names_out_of_sight_are_left_alone(tmp_path: Path, cell: str):
    notebook(tmp_path / "x.ipynb", cell, "print(ghost)")
    assert anywhere(tmp_path, select=("NB3",)) == []


def test_magic_outputs_define_names(tmp_path: Path):
    notebook(tmp_path / "x.ipynb", "%R -o frame\n", "%%sql rows <<\nselect 1", "print(frame, rows)")
    assert anywhere(tmp_path, select=("NB3",)) == []


# -- NB404 --------------------------------------------------------------------------------------


def project(tmp_path: Path, dependencies: str) -> Path:
    root = tmp_path / "lab"
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "lab"\nversion = "0.1.0"\ndependencies = [{dependencies}]\n'
    )
    return root


def nb404(root: Path) -> list[str]:
    found = check(Project(root), [], Config(select=("NB404",)), use_cache=False).findings
    return [f"{f.cell}:{f.line} {f.message}" for f in found]


def test_one_finding_per_notebook_and_distribution_with_its_lines(tmp_path: Path):
    root = project(tmp_path, '"pandas"')
    notebook(
        root / "notebooks" / "x.ipynb",
        "import sklearn\nfrom sklearn.linear_model import Ridge",
        "from sklearn import svm\nimport imblearn",
        "import sksurv, surprise, grpc, iris, googleapiclient, autosklearn",
        "import left_pad_ai",  # nobody knows its distribution
    )
    found = nb404(root)
    assert len(found) == 9
    assert found[0].startswith("1:1 imports 'sklearn' (cell:line 1:1, 1:2, 2:1) from ")
    assert "distribution 'scikit-learn'" in found[0]
    expected = {"imbalanced-learn", "scikit-survival", "scikit-surprise", "grpcio",
                "scitools-iris", "google-api-python-client", "auto-sklearn"}  # fmt: skip
    named = {re.search(r"add '([^']+)'", line).group(1) for line in found[1:8]}  # type: ignore[union-attr]
    assert named == expected
    assert "'left_pad_ai'" in found[-1] and "distribution is unknown" in found[-1]
    assert "add '" not in found[-1]  # never a guess


def test_imports_that_are_not_undeclared(tmp_path: Path):
    root = project(tmp_path, '"tensorflow-serving-api"')
    (root / "lib").mkdir()
    (root / "lib" / "helpers.py").write_text("X = 1\n")
    (root / "notebooks" / "beside.py").write_text("Y = 1\n")
    nb = notebook(
        root / "notebooks" / "x.ipynb",
        "import IPython\nfrom IPython.display import display\nimport ipykernel",
        "%%writefile mprun_demo.py\ndef f():\n    pass",
        "from mprun_demo import f",
        "!protoc person.proto --python_out=.",
        "from person_pb2 import Person",
        "try:\n    from kaggle_secrets import UserSecretsClient\nexcept ImportError:\n    pass",
        "import sys\nif 'google.colab' in sys.modules:\n    from google.colab import drive",
        "from google.colab import files",  # Colab only: no distribution to declare
        "import sys, os\nsys.path.append(os.path.join('..', 'lib'))\nimport helpers",
        "import beside",
        "from tensorflow_serving.apis import predict_pb2",
        "try:\n    import fast_json as json\nexcept ModuleNotFoundError:\n    import json",
    )
    assert nb404(root) == []
    nb.unlink()
    notebook(root / "notebooks" / "y.ipynb", "import sys\nsys.path.append(where())\nimport mine")
    assert nb404(root) == []  # a computed sys.path may hold it: not reported as unknown


# -- SARIF ------------------------------------------------------------------------------------


def test_sarif_for_code_scanning(tmp_path: Path):
    notebook(tmp_path / "a" / "x.ipynb", "import os", "print(ghost)", counts=True)
    out = run_scaffold("check", "a", "--format", "sarif", cwd=tmp_path, check=False)
    assert out.returncode == 1, out.stderr
    document = json.loads(out.stdout)
    assert document["version"] == "2.1.0" and len(document["runs"]) == 1
    run = document["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rules == ["NB202", "NB304"]
    ghost = next(r for r in run["results"] if r["ruleId"] == "NB304")
    assert ghost["level"] == "error" and ghost["ruleIndex"] == 1
    assert ghost["message"]["text"].startswith("cell 2, line 1: 'ghost' is used")
    location = ghost["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "a/x.ipynb"
    text = (tmp_path / "a" / "x.ipynb").read_text().splitlines()
    assert "print(ghost)" in text[location["region"]["startLine"] - 1]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "NB404" in notes[0]["message"]["text"]


# -- NB502: only real drift ---------------------------------------------------------------------

BUILD_A = "def build_model(n):\n    layers = [n] * 3\n    return Sequential(layers)\n"
BUILD_B = (
    "def build_model(n):\n    tree = Forest(n)\n    tree.fit(X, y)\n    print(tree.score(X, y))\n"
)
BUILD_C = "def build_model(data, target):\n    layers = [data] * 3\n    return Sequential(layers)\n"
BUILD_D = "def build_model(n):\n    layers = [n] * 4\n    return Sequential(layers)\n"


def test_drift_needs_the_same_parameters_and_a_close_structure(tmp_path: Path):
    root = project(tmp_path, '"pandas"')
    for name, source in (("a", BUILD_A), ("b", BUILD_B), ("c", BUILD_C)):
        notebook(root / "notebooks" / f"{name}.ipynb", source)
    found = check(Project(root), [], Config(select=("NB502",)), use_cache=False).findings
    assert found == []  # a generic name shared by unrelated functions is not drift
    notebook(root / "notebooks" / "d.ipynb", BUILD_D)
    found = check(Project(root), [], Config(select=("NB502",)), use_cache=False).findings
    assert [(f.path, f.code) for f in found] == [("notebooks/a.ipynb", "NB502"),
                                                 ("notebooks/d.ipynb", "NB502")]  # fmt: skip
    assert "- `layers = [n] * 4` + `layers = [n] * 3`" in found[0].message  # theirs, then ours
    assert found[0].as_dict()["diff"].splitlines()[2:] == [
        "@@ -2 +2 @@",
        "-    layers = [n] * 4",
        "+    layers = [n] * 3",
    ]


# -- --fix and --diff ------------------------------------------------------------------------------

HOOK = """\
repos:
  - repo: https://github.com/kynan/nbstripout
    rev: 0.9.1
    hooks:
      - id: nbstripout
        args: [--keep-id, --extra-keys, metadata.papermill]
"""


def test_fix_strips_as_the_project_hook_does_and_declares_known_imports(tmp_path: Path):
    root = project(tmp_path, '\n    "pandas",  # data frames\n')
    (root / ".pre-commit-config.yaml").write_text(HOOK)
    path = notebook(root / "notebooks" / "1.0-ab-x.ipynb", "import sklearn\nprint(1)", counts=True)
    data = json.loads(path.read_text())
    data["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]
    data["metadata"]["papermill"] = {"duration": 1.0}
    ids = [cell["id"] for cell in data["cells"]]
    path.write_text(json.dumps(data, indent=1) + "\n")
    before = path.read_text(), (root / "pyproject.toml").read_text()

    shown = run_scaffold("check", "--diff", cwd=root, check=False)
    assert shown.returncode == 1, shown.stderr
    assert '-   "execution_count": 1,' in shown.stdout and '+    "scikit-learn",' in shown.stdout
    assert (path.read_text(), (root / "pyproject.toml").read_text()) == before  # not written

    fixed = run_scaffold("check", "--fix", cwd=root, check=False)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fixed notebooks/1.0-ab-x.ipynb: NB201, NB202" in fixed.stdout
    assert "fixed pyproject.toml: NB404 (declared scikit-learn)" in fixed.stdout
    data = json.loads(path.read_text())
    assert data["cells"][0]["outputs"] == [] and data["cells"][0]["execution_count"] is None
    assert [cell["id"] for cell in data["cells"]] == ids and "papermill" not in data["metadata"]
    pyproject = (root / "pyproject.toml").read_text()
    assert '    "pandas",  # data frames\n    "scikit-learn",\n]' in pyproject
    assert run_scaffold("check", cwd=root).stdout.startswith("All checks passed")


def test_unknown_distributions_are_never_declared(tmp_path: Path):
    root = project(tmp_path, '"pandas"')
    notebook(root / "notebooks" / "1.0-ab-x.ipynb", "import left_pad_ai")
    fixed = run_scaffold("check", "--fix", cwd=root, check=False)
    assert fixed.returncode == 1 and "fixed" not in fixed.stdout
    assert "left_pad_ai" in fixed.stdout and "left" not in (root / "pyproject.toml").read_text()


def test_conflict_markers_shown_in_a_tutorial_or_alone_are_not_a_conflict(tmp_path: Path):
    block = "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> main"
    shown = f"# md:When git cannot merge, it writes:\n\n```\n{block}\n```"
    notebook(
        tmp_path / "x.ipynb",
        shown,  # a git tutorial's example, in a code fence of a markdown cell
        "# md:<<<<<<< HEAD is the first marker line",  # no whole block
        "# md:Intro\n<<<<<<< local\nold text\n=======\nnew text\n>>>>>>> remote",  # nbdime's
        "x = 1\n<<<<<<< HEAD\ny = 2\n",  # a broken cell, not a conflict block: NB104
    )
    assert anywhere(tmp_path, select=("NB104", "NB105")) == ["NB105 3:2", "NB104 4:2"]


# -- flat cells: names from the symbol table, no syntax tree (issue 25's speed) ------------

FLAT_CELLS = (
    'frame = pd.DataFrame({"x": np.arange(3)})\nframe["y"] = frame.x * 2\nframe.describe()',
    "total += step\ncount: int = 0\nlabel: str\nfirst, *rest = items\nobj.attr = value",
    "with open(path) as handle:\n    text = handle.read()\nif text:\n    print(f'{text!r}')",
    "while n > 0:\n    n -= 1\nelse:\n    done = True",
    "match point:\n    case (x, y):\n        where = x\n    case {'k': 1, **rest}:\n        pass",
    "model.fit(X_train, y_train)\ndelta = model.score(X_test, y_test)",  # del, for: in words
)
NOT_FLAT_CELLS = (
    "def f(a):\n    return a + b",
    "squares = [x * x for x in xs]",
    "f = lambda: y",
    "try:\n    z\nexcept NameError:\n    z = 1",
    "del frame",
    "global g\ng = 1",
    "if (n := len(a)) > 2:\n    pass",
    "import numpy as np",
    "class A:\n    pass",
    "x = (",  # does not compile: the walk's path reports it
    "x = 1\n" * 200,  # longer than FLAT_LIMIT
)


@pytest.mark.parametrize("code", FLAT_CELLS)
def test_a_flat_cells_names_are_the_walks(code: str):
    import ast

    from scaffold.check.names import cell_names, flat_names

    flat, walked = flat_names(code), cell_names(ast.parse(code))
    assert flat is not None and not walked.deferred
    assert (flat.defined, set(flat.used)) == (walked.defined, set(walked.used))
    assert set(flat.used.values()) == {0} and flat.code == code  # lines: found when asked


@pytest.mark.parametrize("code", NOT_FLAT_CELLS)
def test_cells_with_scopes_guards_or_declarations_are_walked(code: str):
    from scaffold.check.names import flat_names

    assert flat_names(code) is None


def test_hidden_state_finds_a_flat_cells_lines_as_the_walk_does():
    import ast

    from scaffold.check.names import cell_names, flat_names, hidden_state

    sources = ["a = 1\n\nprint(b)\nd = kernel_only", "b = 2\nprint(\n    c, a)", "c = 3"]
    walked = [(n, cell_names(ast.parse(s))) for n, s in enumerate(sources, start=1)]
    flat = [(n, flat_names(s)) for n, s in enumerate(sources, start=1)]
    assert all(names is not None for _, names in flat)
    expected = hidden_state(walked)
    assert hidden_state(flat) == expected  # type: ignore[arg-type]
    assert [(code, cell, line) for code, cell, line, _ in expected] == [
        ("NB303", 1, 3),
        ("NB303", 2, 3),
        ("NB304", 1, 4),
    ]


def test_a_flat_cell_in_a_notebook_reports_the_line_of_the_use(tmp_path: Path):
    notebook(
        tmp_path / "x.ipynb",
        "first = 1\n\nshown = later + first",  # flat: no tree is built for it
        "later = 2",
    )
    assert anywhere(tmp_path, select=("NB303",)) == ["NB303 1:3"]


def test_cells_that_repeat_are_parsed_once_and_keep_their_own_facts(tmp_path: Path):
    from scaffold.check import names
    from scaffold.check import notebook as read

    read.forget_cells()
    first = names.flat_names("shown = later + 1")
    assert first is not None
    first.defined.add("mutated")  # _names adds a magic's names to its cell's set
    again = names.flat_names("shown = later + 1")
    assert again is not None and again.defined == {"shown"} and again is not first
    assert "shown = later + 1" in names.FLAT_SEEN
    same = "def f(a):\n    return a\n"
    for name in ("x", "y"):  # the same cell in two notebooks: one tree, both findings
        notebook(tmp_path / f"{name}.ipynb", same, "print(undefined_here)")
    seen: list[bool] = []
    remember = read.remember

    def kept(memo: dict[str, object], key: str, value: object, size: int) -> object:
        seen.append(key == same)
        return remember(memo, key, value, size)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(read, "remember", kept)
        assert anywhere(tmp_path, select=("NB304",)) == ["NB304 2:1", "NB304 2:1"]
    assert seen.count(True) == 1  # parsed for the first notebook, found again for the second
    assert not read.TREES and not names.FLAT_SEEN  # forgotten after the analysis


def test_finding_a_flat_cells_line_prints_no_warning(tmp_path: Path):
    import warnings

    notebook(tmp_path / "x.ipynb", 'pattern = "\\d+"\nfound = later_name', "later_name = 1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert anywhere(tmp_path, select=("NB303",)) == ["NB303 1:2"]
    assert not [w for w in caught if issubclass(w.category, (SyntaxWarning, DeprecationWarning))]
