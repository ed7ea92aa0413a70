"""Check a project's answers before anything is rendered (standard library only).

Run by cookiecutter (through template/hooks/pre_gen_project.py) with the answers as a JSON
argument; imported by scaffold, which calls ``problems()`` before it renders. One list of
rules for every way in. Exit status 1 with one sentence per problem on stderr.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import unicodedata

REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
PYTHON_VERSION = re.compile(r"3\.(\d{1,2})")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
REMOTE_SCHEMES = {"s3": "s3://", "gcs": "gs://", "azure": "azure://", "ssh": "ssh://"}
FREE_TEXT = ("project_name", "author_name", "author_email", "description", "dvc_remote_url")


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def _remote_url_problem(remote: str, url: str) -> str | None:
    if remote == "none":
        return None if not url else "dvc_remote_url must be empty when dvc_remote is 'none'."
    if not url.strip():
        return f"dvc_remote_url must not be empty for a '{remote}' remote."
    if remote == "local":
        if "://" in url:
            return f"dvc_remote_url {url!r} is a URL; a 'local' remote takes a folder path."
        return None
    scheme = REMOTE_SCHEMES.get(remote)
    if scheme is None:
        return None  # an unknown remote type is reported by the choice check
    rest = url[len(scheme) :] if url.startswith(scheme) else None
    if rest is None:
        return f"dvc_remote_url {url!r} must start with {scheme} for a '{remote}' remote."
    if not rest or rest.startswith("/") or " " in url:
        return f"dvc_remote_url {url!r} must name a bucket or host after {scheme}."
    return None


def problems(answers: dict[str, object]) -> dict[str, str]:
    """Map each invalid answer's option name to one readable sentence (empty: all valid)."""
    found: dict[str, str] = {}
    text = {key: str(value) for key, value in answers.items() if isinstance(value, str)}

    for key in FREE_TEXT:
        if _has_control_characters(text.get(key, "")):
            found[key] = f"{key} must be a single line without control characters."

    if not text.get("project_name", "").strip():
        found.setdefault("project_name", "project_name must not be empty.")

    repo_name = text.get("repo_name", "")
    if not repo_name:
        found["repo_name"] = "repo_name must not be empty."
    elif "/" in repo_name or "\\" in repo_name or ".." in repo_name:
        found["repo_name"] = (
            f"repo_name {repo_name!r} must be a single folder name (no '/', '\\' or '..')."
        )
    elif not REPO_NAME.fullmatch(repo_name):
        found["repo_name"] = (
            f"repo_name {repo_name!r} may only contain letters, digits, '.', '_' and '-', "
            "and must start with a letter or digit."
        )

    module_name = text.get("module_name", "")
    if not module_name.isidentifier() or not module_name.isascii():
        found["module_name"] = f"module_name {module_name!r} is not a valid Python identifier."
    elif keyword.iskeyword(module_name) or keyword.issoftkeyword(module_name):
        found["module_name"] = f"module_name {module_name!r} is a Python keyword."
    elif module_name in sys.stdlib_module_names:
        found["module_name"] = (
            f"module_name {module_name!r} would shadow the standard-library module."
        )

    if not any(char.isalnum() for char in text.get("author_name", "")):
        found.setdefault("author_name", "author_name must contain at least one letter or digit.")
    if not EMAIL.fullmatch(text.get("author_email", "")):
        found.setdefault(
            "author_email",
            f"author_email {text.get('author_email', '')!r} is not an email address.",
        )

    version = PYTHON_VERSION.fullmatch(text.get("python_version", ""))
    if version is None or int(version.group(1)) < 9:
        found["python_version"] = (
            f"python_version {text.get('python_version', '')!r} must be 3.9 or newer, "
            "written as major.minor."
        )

    url_problem = _remote_url_problem(
        text.get("dvc_remote", "none"), text.get("dvc_remote_url", "")
    )
    if url_problem:
        found.setdefault("dvc_remote_url", url_problem)
    return found


def main(argv: list[str]) -> int:
    """Validate the JSON answers in argv[1]; print problems to stderr."""
    found = problems(json.loads(argv[1]))
    for problem in found.values():
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
