"""`scaffold new` asks for every option in a terminal, re-asking until an answer is valid."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import yaml


def test_prompts_derive_defaults_and_reask_invalid_answers(workdir: Path):
    child = pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", "new", "--no-git", "--no-dvc", "--no-pre-commit"],
        cwd=str(workdir),
        encoding="utf-8",
        timeout=30,
    )
    child.expect_exact("Project name (human readable) [My Project]: ")
    child.sendline("Churn Lab")
    child.expect_exact("Repository / folder name [churn-lab]: ")  # derived from the name
    child.sendline("")
    child.expect_exact("Python module name (under src/) [churn_lab]: ")
    child.sendline("class")
    child.expect_exact("module_name 'class' is a Python keyword.")
    child.expect_exact("Python module name (under src/) [churn_lab]: ")
    child.sendline("churn")
    child.expect_exact("Author name (or team) [Your Name]: ")
    child.sendline("Ada Lovelace")
    child.expect_exact("[you@example.com]: ")
    child.sendline("ada@example.com")
    env_prompt = "Environment manager (pip/uv/conda/poetry/pipenv/virtualenv/none) [pip]: "
    while child.expect_exact([env_prompt, "]: "]) == 1:  # description, python version
        child.sendline("")
    child.sendline("pixi")
    child.expect_exact("choose one of: pip, uv, conda, poetry, pipenv, virtualenv, none.")
    child.expect_exact(env_prompt)
    child.sendline("uv")
    # every remaining question: accept the default
    while child.expect([r"\]: ", pexpect.EOF]) == 0:
        child.sendline("")
    child.close()
    assert child.exitstatus == 0, child.before

    answers = yaml.safe_load((workdir / "churn-lab" / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "Churn Lab"
    assert answers["module_name"] == "churn"
    assert answers["author_email"] == "ada@example.com"
    assert answers["environment_manager"] == "uv"
    assert (workdir / "churn-lab" / "notebooks" / "1.0-al-initial-data-exploration.ipynb").exists()


def test_given_answers_are_not_asked_again(workdir: Path):
    child = pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", "new", "Named", "--set", "docs=none", "--no-git"],
        cwd=str(workdir),
        encoding="utf-8",
        timeout=30,
    )
    seen = []
    while child.expect([r"\n?([^\n]*)\]: ", pexpect.EOF]) == 0:
        seen.append(child.match.group(1))
        child.sendline("")
    child.close()
    assert child.exitstatus == 0
    assert not any(line.startswith("Project name") for line in seen)
    assert not any(line.startswith("Documentation site") for line in seen)
    assert any(line.startswith("Repository / folder name [named") for line in seen)
    # the default remote is local: the S3-only questions are not asked
    assert not any(line.startswith(("Endpoint URL", "Credentials profile")) for line in seen)
