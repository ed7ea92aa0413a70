"""Where a project's template came from, as copier records it (standard library only).

Copier updates a project from ``_src_path`` (a git URL or a local repo path; not ``file://``)
at ``_commit`` (``git describe --tags --always`` of the template). Copier records both itself;
post_gen_project.py records them for cookiecutter and scaffold, and scaffold loads this file to
record a ``--template`` source the same way.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
from pathlib import Path

# Characters YAML cannot hold raw in a double-quoted scalar (non-printable ones, and the line
# breaks YAML 1.1 folds): written as \uXXXX escapes, which JSON and YAML both read.
_YAML_UNSAFE = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def answer_json(value: object) -> str:
    """``value`` as a JSON scalar that YAML reads back unchanged, for the answers file.

    Any Unicode round-trips: astral-plane characters (emoji) are written as themselves, never
    as a surrogate pair, which YAML would read as two lone surrogates.
    """
    text = json.dumps(value, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


def read_answers(text: str) -> dict[str, object] | None:
    """The answers of an answers file in the format ``answer_json`` writes (``key: <JSON
    scalar>`` lines, comments and blank lines allowed), or None for a file in another format."""
    answers: dict[str, object] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(": ")
        if not sep or not key.isidentifier():
            return None
        try:
            answers[key] = json.loads(value)
        except ValueError:
            return None
    return answers


def git_location(source: str) -> str:
    """``source`` without the ``git+`` prefix that pip and cookiecutter accept (git does not)."""
    return source.removeprefix("git+")


def is_url(location: str) -> bool:
    """True when ``location`` names a remote repository (``ssh://host/x``, ``git@host:x``,
    ``gh:owner/name``) rather than a folder: it has a scheme, or a colon and no such path."""
    return "://" in location or (":" in location and not Path(location).expanduser().exists())


def recorded_source(source: str) -> str:
    """``source`` as copier reads it: a git URL or an absolute path.

    ``git+`` prefixes and credentials in https URLs are dropped, ``file://`` URLs become paths.
    """
    source = git_location(source)
    if source.startswith("file://"):
        return str(Path(urllib.parse.unquote(urllib.parse.urlsplit(source).path)).resolve())
    parts = urllib.parse.urlsplit(source)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    if is_url(source):
        return source
    return str(Path(source).expanduser().resolve())


def describe(git: str, repo: Path) -> dict[str, str]:
    """``_commit`` and ``_src_path`` of the git repo ``repo`` (empty if it is not one).

    The version is ``git describe --tags --always`` of its checkout: a tag, or a tag and the
    exact commit. The source is the repo's ``origin`` remote (the URL cookiecutter cloned from)
    when origin has that commit, else the repo's own path (a local checkout with unpushed
    commits): the pair always names a version that can be fetched.
    """

    def ask(*args: str) -> str:
        result = subprocess.run([git, *args], cwd=repo, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    top = ask("rev-parse", "--show-toplevel")
    if not top or Path(top).resolve() != repo.resolve():
        return {}  # not a git repo of its own: there is no version to record
    commit = ask("describe", "--tags", "--always")
    if not commit:
        return {}
    origin = ask("config", "--get", "remote.origin.url")
    if origin and not ask("branch", "--remotes", "--contains", "HEAD", "--list", "origin/*"):
        origin = ""  # HEAD is not on origin (as far as this checkout knows)
    return {"_commit": commit, "_src_path": recorded_source(origin or str(repo.resolve()))}


def from_context(context: dict[str, object], git: str | None) -> dict[str, str]:
    """``_commit`` and ``_src_path`` for a rendering context (may be empty).

    scaffold passes both; under cookiecutter they are found from the template repo, the parent
    of ``_repo_dir`` or else of this file's folder (copier renders its own answers file, so it
    never gets here).
    """
    if context.get("_src_path") and context.get("_commit"):
        return {"_commit": str(context["_commit"]), "_src_path": str(context["_src_path"])}
    if git is None:
        return {}
    if context.get("_repo_dir"):
        return describe(git, Path(str(context["_repo_dir"])).resolve().parent)
    # cruft (and other callers of cookiecutter's generate_files) set no _repo_dir: the
    # template repo is the one holding this program.
    return describe(git, Path(__file__).resolve().parent.parent)
