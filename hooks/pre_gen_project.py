"""Check a project's answers before anything is rendered (standard library only).

Run by cookiecutter (through template/hooks/pre_gen_project.py) with the answers as JSON on
stdin; imported by scaffold, which calls ``problems()`` before it renders. One list of
rules for every way in. Exit status 1 with one sentence per problem on stderr.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping

REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
PYTHON_VERSION = re.compile(r"3\.(\d{1,2})")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
REMOTE_SCHEMES = {"s3": "s3://", "gcs": "gs://", "azure": "azure://", "ssh": "ssh://"}
# Bucket (s3, gs) and container (azure) names as the stores accept them, and in words.
BUCKET = {
    "s3": (r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "3 to 63 lowercase letters, digits, '.' and '-'"),
    "gcs": (
        r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]",
        "3 to 222 lowercase letters, digits, '.', '_' and '-'",
    ),
    "azure": (r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", "3 to 63 lowercase letters, digits and '-'"),
}
PROFILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+@-]*")
# GitHub's own rules: an owner (user or organisation) is 1-39 letters, digits and single
# hyphens, not at either end; a repository name is letters, digits, '.', '_' and '-' (its
# length is left to the file system: the name is usually repo_name, a folder too).
GITHUB_REPO = re.compile(
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/(?P<name>[A-Za-z0-9._-]+)"
)
FREE_TEXT = (
    "project_name",
    "author_name",
    "author_email",
    "description",
    "dvc_remote_url",
    "dvc_remote_endpoint_url",
    "dvc_remote_profile",
    "github_repo",
)


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def remote_type(url: str) -> str | None:
    """The remote type a URL names ('local' for a folder path); None for an unknown scheme."""
    for remote, scheme in REMOTE_SCHEMES.items():
        if url.startswith(scheme):
            return remote
    return None if "://" in url or re.match(r"[A-Za-z][A-Za-z0-9+.-]+:", url) else "local"


def remote_url_problem(remote: str, url: str, subject: str = "dvc_remote_url") -> str | None:
    """One sentence if ``url`` is not a valid URL for a ``remote`` remote, else None."""
    if remote == "none":
        return None if not url else f"{subject} must be empty when dvc_remote is 'none'."
    if not url.strip():
        return f"{subject} must not be empty for a '{remote}' remote."
    if _has_control_characters(url) or url != url.strip():
        return f"{subject} {url!r} must be one line without leading or trailing spaces."
    if remote == "local":
        return _folder_problem(url, subject)
    scheme = REMOTE_SCHEMES.get(remote)
    if scheme is None:
        return None  # an unknown remote type is reported by the choice check
    return _store_url_problem(remote, scheme, url, subject)


def _folder_problem(url: str, subject: str) -> str | None:
    """A 'local' remote's folder path."""
    if "://" in url:
        return f"{subject} {url!r} is a URL; a 'local' remote takes a folder path."
    if "'" in url and '"' in url:
        return f"{subject} {url!r} must not contain both kinds of quotes."
    return None


def _store_url_problem(remote: str, scheme: str, url: str, subject: str) -> str | None:
    """An s3, gcs, azure or ssh remote's URL, which must start with ``scheme``."""
    if not url.startswith(scheme):
        return f"{subject} {url!r} must start with {scheme} for a '{remote}' remote."
    rest = url[len(scheme) :]
    if not rest or rest.startswith("/") or any(char.isspace() for char in url):
        return f"{subject} {url!r} must name a bucket or host after {scheme}, without spaces."
    if any(char in url for char in "'\",#?"):
        return f"{subject} {url!r} must not contain quotes, ',', '#' or '?'."
    if remote == "ssh":
        return _ssh_url_problem(url, subject)
    return _bucket_problem(remote, url, rest.split("/", 1)[0], subject)


def _ssh_url_problem(url: str, subject: str) -> str | None:
    """An ssh remote's URL names a host (and a valid port, if any)."""
    try:
        port = urllib.parse.urlsplit(url).port
    except ValueError:
        port = -1
    if not urllib.parse.urlsplit(url).hostname or port == -1:
        return f"{subject} {url!r} must be ssh://[user@]host[:port]/path."
    return None


def _bucket_problem(remote: str, url: str, host: str, subject: str) -> str | None:
    """The bucket (s3, gs) or container (azure) name is one the store accepts."""
    pattern, rule = BUCKET[remote]
    if not re.fullmatch(pattern, host):
        kind = "container" if remote == "azure" else "bucket"
        return f"{subject} {url!r} has an invalid {kind} name {host!r}: use {rule}."
    return None


def endpoint_url_problem(
    remote: str, endpoint: str, subject: str = "dvc_remote_endpoint_url"
) -> str | None:
    """One sentence if ``endpoint`` (an S3-compatible store's address) is not usable."""
    if not endpoint:
        return None
    if remote != "s3":
        return (
            f"{subject} is only for s3 remotes (S3-compatible stores such as MinIO, Ceph, R2); "
            f"leave it empty for a '{remote}' remote."
        )
    parts = urllib.parse.urlsplit(endpoint)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.query
        or parts.fragment
        or any(char.isspace() or char in "'\",#" for char in endpoint)
    ):
        return (
            f"{subject} {endpoint!r} must be an http:// or https:// URL such as "
            "http://127.0.0.1:9000."
        )
    return None


def profile_problem(remote: str, profile: str, subject: str = "dvc_remote_profile") -> str | None:
    """One sentence if ``profile`` (an AWS credentials profile name) is not usable."""
    if not profile:
        return None
    if remote != "s3":
        return (
            f"{subject} is only for s3 remotes (an AWS profile name); "
            f"leave it empty for a '{remote}' remote."
        )
    if not PROFILE.fullmatch(profile):
        return (
            f"{subject} {profile!r} must be a profile name: letters, digits, "
            "'.', '_', '-', '+' and '@'."
        )
    return None


def github_repo_problem(text: dict[str, str]) -> str | None:
    """github_repo is OWNER/NAME as on GitHub (badge links, Colab's clone)."""
    github_repo = text.get("github_repo", "")
    match = GITHUB_REPO.fullmatch(github_repo)
    if match is None or match["name"] in (".", ".."):
        return (
            f"github_repo {github_repo!r} must be OWNER/NAME as on GitHub, e.g. "
            "acme/churn-model (the owner: letters, digits and single '-'; the name: letters, "
            "digits, '.', '_' and '-')."
        )
    return None


def app_problem(text: dict[str, str]) -> str | None:
    """The Streamlit app shows data through the example code."""
    if text.get("app") == "streamlit" and text.get("example_code") == "no":
        return (
            "app=streamlit needs example_code=yes: the app shows data through the package's "
            "dataset and plots modules (app=voila serves a notebook instead)."
        )
    return None


def sharing_problems(text: dict[str, str]) -> dict[str, str]:
    """The rules of the sharing options: github_repo (badge links, Colab's clone) and app."""
    found = {"github_repo": github_repo_problem(text), "app": app_problem(text)}
    return {key: problem for key, problem in found.items() if problem}


SHARING = ("binder", "colab", "devcontainer", "sagemaker", "vertex")


def applies(option: str, answers: Mapping[str, object]) -> bool:
    """Whether a question means anything given the earlier answers (else: keep its default)."""
    if option == "github_repo":  # only the badges and Colab's clone use it
        return any(answers.get(name) == "yes" for name in SHARING)
    remote = str(answers.get("dvc_remote", "none"))
    if option in ("dvc_remote_endpoint_url", "dvc_remote_profile"):
        return remote == "s3"
    if option == "dvc_remote_url":
        return remote != "none"
    return True


JINJA_MARKUP = ("{{", "{%", "{#")


def _template_defaults() -> dict[str, object]:
    """The template's own option defaults (some are Jinja, on purpose)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "template" / "cookiecutter.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def evaluated_answers(answers: Mapping[str, object]) -> dict[str, str]:
    """Answers that plain cookiecutter evaluated as Jinja (its ``key=value`` extra context).

    The hook gets the values as typed in ``_unrendered`` (cookiecutter's ``_cookiecutter``):
    a typed value with Jinja markup that differs from the rendered one was run as template
    code. scaffold and copier pass values literally, so for them nothing differs.
    """
    raw = answers.get("_unrendered")
    if not isinstance(raw, dict):
        return {}
    defaults = _template_defaults()
    found = {}
    for key in FREE_TEXT:
        typed, rendered = raw.get(key), answers.get(key)
        if (
            isinstance(typed, str)
            and any(mark in typed for mark in JINJA_MARKUP)
            and typed != rendered
            and typed != defaults.get(key)
        ):
            found[key] = (
                f"{key} was evaluated as a Jinja template by cookiecutter ({typed!r} became "
                f"{str(rendered)!r}); plain cookiecutter runs code in key=value input, so pass "
                "such values to scaffold new or copier, which take them literally."
            )
    return found


def control_character_problems(text: dict[str, str]) -> dict[str, str]:
    """Free-text answers are single lines without control characters."""
    return {
        key: f"{key} must be a single line without control characters."
        for key in FREE_TEXT
        if _has_control_characters(text.get(key, ""))
    }


def project_name_problem(text: dict[str, str]) -> str | None:
    """project_name is not blank."""
    return None if text.get("project_name", "").strip() else "project_name must not be empty."


def repo_name_problem(text: dict[str, str]) -> str | None:
    """repo_name is one folder name of safe characters."""
    repo_name = text.get("repo_name", "")
    if not repo_name:
        return "repo_name must not be empty."
    if "/" in repo_name or "\\" in repo_name or ".." in repo_name:
        return f"repo_name {repo_name!r} must be a single folder name (no '/', '\\' or '..')."
    if not REPO_NAME.fullmatch(repo_name):
        return (
            f"repo_name {repo_name!r} may only contain letters, digits, '.', '_' and '-', "
            "and must start with a letter or digit."
        )
    return None


def module_name_problem(text: dict[str, str]) -> str | None:
    """module_name is an importable name that shadows nothing."""
    module_name = text.get("module_name", "")
    if not module_name.isidentifier() or not module_name.isascii():
        return f"module_name {module_name!r} is not a valid Python identifier."
    if keyword.iskeyword(module_name) or keyword.issoftkeyword(module_name):
        return f"module_name {module_name!r} is a Python keyword."
    if module_name in sys.stdlib_module_names:
        return f"module_name {module_name!r} would shadow the standard-library module."
    return None


def author_name_problem(text: dict[str, str]) -> str | None:
    """author_name has a letter or digit."""
    if not any(char.isalnum() for char in text.get("author_name", "")):
        return "author_name must contain at least one letter or digit."
    return None


def author_email_problem(text: dict[str, str]) -> str | None:
    """author_email looks like an email address."""
    if not EMAIL.fullmatch(text.get("author_email", "")):
        return f"author_email {text.get('author_email', '')!r} is not an email address."
    return None


def python_version_problem(text: dict[str, str]) -> str | None:
    """python_version is major.minor, 3.9 or newer."""
    version = PYTHON_VERSION.fullmatch(text.get("python_version", ""))
    if version is None or int(version.group(1)) < 9:
        return (
            f"python_version {text.get('python_version', '')!r} must be 3.9 or newer, "
            "written as major.minor."
        )
    return None


def pydata_packages_problem(text: dict[str, str]) -> str | None:
    """The example code and its tests use pandas, numpy and matplotlib."""
    if text.get("example_code") == "yes" and text.get("pydata_packages") == "none":
        return (
            "pydata_packages=none needs example_code=no: the example code uses pandas, numpy "
            "and matplotlib."
        )
    return None


SPARK_PYTHON = 11  # pyspark 4.3 (the spark extra's pin) needs Python 3.11 or newer


def spark_problem(text: dict[str, str]) -> str | None:
    """The spark extra's pyspark supports the project's Python."""
    version = PYTHON_VERSION.fullmatch(text.get("python_version", ""))
    if text.get("spark") == "yes" and version and int(version.group(1)) < SPARK_PYTHON:
        return (
            f"spark=yes needs python_version 3.{SPARK_PYTHON} or newer: the spark extra's "
            f"pyspark 4.3 supports no older Python (got {text.get('python_version')})."
        )
    return None


def _remote(text: dict[str, str]) -> str:
    return text.get("dvc_remote", "none")


# One rule per option, in the order problems are reported (the first one is the error).
RULES: dict[str, Callable[[dict[str, str]], str | None]] = {
    "project_name": project_name_problem,
    "repo_name": repo_name_problem,
    "module_name": module_name_problem,
    "author_name": author_name_problem,
    "author_email": author_email_problem,
    "python_version": python_version_problem,
    "dvc_remote_url": lambda text: remote_url_problem(
        _remote(text), text.get("dvc_remote_url", "")
    ),
    "dvc_remote_endpoint_url": lambda text: endpoint_url_problem(
        _remote(text), text.get("dvc_remote_endpoint_url", "")
    ),
    "dvc_remote_profile": lambda text: profile_problem(
        _remote(text), text.get("dvc_remote_profile", "")
    ),
    "pydata_packages": pydata_packages_problem,
    "github_repo": github_repo_problem,
    "app": app_problem,
    "spark": spark_problem,
}


def problems(answers: Mapping[str, object]) -> dict[str, str]:
    """Map each invalid answer's option name to one readable sentence (empty: all valid).

    An option keeps its first problem: an evaluated answer, then control characters, then
    its rule in ``RULES``."""
    found: dict[str, str] = evaluated_answers(answers)
    text = {key: str(value) for key, value in answers.items() if isinstance(value, str)}
    found.update(control_character_problems(text))
    for option, rule in RULES.items():
        problem = rule(text)
        if problem:
            found.setdefault(option, problem)
    return found


def main(argv: list[str]) -> int:
    """Validate the JSON answers on stdin (argv[1] ``-``) or in argv[1]; print problems to
    stderr."""
    try:
        text = sys.stdin.buffer.read().decode("utf-8") if argv[1] == "-" else argv[1]
        found = problems(json.loads(text))
    except KeyboardInterrupt:  # the caller reports the interruption and cleans up
        return 130
    for problem in found.values():
        print(f"error: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:  # Ctrl-C: the caller says so and cleans up; no traceback
        sys.exit(130)
