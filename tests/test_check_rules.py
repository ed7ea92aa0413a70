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
from scaffold.check.checker import check_anywhere
from scaffold.check.model import RULES, Config, Rule, codes_where, register
from tests.conftest import run_scaffold

DOCS = Path(__file__).resolve().parents[1] / "docs" / "check.md"


def test_every_rule_is_documented_in_docs_check_md():
    rows = re.findall(r"^\| (NB\d{3}) \| ([a-z0-9-]+)", DOCS.read_text(), re.MULTILINE)
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
