"""Reading a project's recorded answers: the hook's format without YAML, anything else with it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from scaffold.errors import ScaffoldError
from scaffold.project import ANSWERS_FILE, _scalar_lines, read_answers
from scaffold.resources import PACKAGED_TEMPLATE

TRICKY = ["", "yes", "no", "null", "~", "1e3", "0o17", "3.10", "a: b", "# x", '"', "\\", "\t",
          "\u2028", "\x85", "\ufeff", "🚀", "\ud83d", "line\nbreak", "{{ 7*7 }}",
          "- item"]  # fmt: skip


def _answers_text(answers: dict[str, str]) -> str:
    answer_json = PACKAGED_TEMPLATE.template_source.answer_json
    lines = ["# Answers that made this project; read by scaffold. Do not edit by hand."]
    lines += [f"{key}: {answer_json(value)}" for key, value in sorted(answers.items())]
    return "\n".join(lines) + "\n"


def _random_text(rng: random.Random) -> str:
    pool = [chr(rng.randrange(0x20, 0x3000)) for _ in range(40)] + TRICKY
    return "".join(rng.choice(pool) for _ in range(rng.randrange(0, 12)))


def test_the_hooks_format_reads_as_yaml_reads_it():
    rng = random.Random(20261206)
    for trial in range(300):
        answers = {f"option_{n}": _random_text(rng) for n in range(5)}
        answers["tricky"] = TRICKY[trial % len(TRICKY)]
        text = _answers_text(answers)
        fast = _scalar_lines(text)
        assert fast is not None, text  # the hook's own format never needs YAML
        assert fast == yaml.safe_load(text)


def read_answers_by_yaml(root: Path) -> dict[str, str]:
    data = yaml.safe_load((root / ANSWERS_FILE).read_text(encoding="utf-8"))
    return {key: "" if value is None else str(value) for key, value in data.items()}


@pytest.mark.parametrize(
    "text",
    [
        "_commit: a503879\nproject_name: Churn Model\n",  # copier writes plain scalars
        "python_version: 3.10\n",  # a number: YAML's reading is kept
        'project_name: "A" # a comment\n',
        "project_name: >-\n  folded\n",
    ],
)
def test_other_yaml_is_read_by_yaml(tmp_path: Path, text: str):
    (tmp_path / ANSWERS_FILE).write_text(text, encoding="utf-8")
    assert _scalar_lines(text) is None
    assert read_answers(tmp_path) == read_answers_by_yaml(tmp_path)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a list\n"])
def test_an_answers_file_that_is_no_mapping_is_refused(tmp_path: Path, text: str):
    (tmp_path / ANSWERS_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ScaffoldError, match="must be a mapping"):
        read_answers(tmp_path)
