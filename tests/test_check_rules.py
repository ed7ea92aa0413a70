"""`scaffold check` on notebooks nobody here wrote (issue 25): the rule table as data, and a
minimal reproduction of each false positive found on public corpora, written here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scaffold.check import checker
from scaffold.check.model import RULES, Rule, codes_where, register

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
