"""The documentation site builds cleanly and covers every option and every `scaffold new` flag."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from scaffold.cli import app
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def mentions(text: str, word: str) -> bool:
    """``word`` appears in ``text`` as a whole token (``dvc_remote`` is not ``dvc_remote_url``)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def test_the_site_builds_strictly(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--quiet",
            "-f",
            str(REPO_ROOT / "mkdocs.yml"),
            "-d",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_every_option_is_documented():
    config = json.loads((REPO_ROOT / "template" / "cookiecutter.json").read_text("utf-8"))
    options = [name for name in config if not name.startswith("_")]
    text = (DOCS / "options.md").read_text("utf-8")
    headings = set(re.findall(r"^#+\s+`?([\w-]+)`?\s*$", text, re.MULTILINE))
    undocumented = [name for name in options if name not in headings]
    assert not undocumented, f"docs/options.md has no section for: {undocumented}"


def test_every_new_flag_is_documented():
    help_text = CliRunner().invoke(app, ["new", "--help"], prog_name="scaffold").output
    flags = sorted(set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", help_text)))
    assert {"--no-input", "--set", "--help"} <= set(flags), help_text  # the help was read
    usage = re.search(r"new \[OPTIONS\](.*)", help_text)
    arguments = re.findall(r"[A-Za-z_]+", usage.group(1)) if usage else []
    assert "project_name" in arguments, help_text
    text = (DOCS / "commands.md").read_text("utf-8")
    words = [*flags, *(name.upper() for name in arguments)]
    missing = [word for word in words if not mentions(text, word)]
    assert not missing, f"docs/commands.md does not mention: {missing}"


def test_readme_links_to_existing_pages():
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert links
    assert [link for link in links if not (REPO_ROOT / link).is_file()] == []
