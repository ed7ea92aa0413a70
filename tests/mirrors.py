"""Local git mirrors of the pre-commit hook repositories a generated project names.

There is no GitHub here, only PyPI. Each hook repository is rebuilt as a local git repository
tagged with the exact ``rev`` of ``.pre-commit-config.yaml``: pre-commit-hooks and nbstripout
from their PyPI sdists (plus the ``.pre-commit-hooks.yaml`` their sdists lack), ruff-pre-commit
as the tiny package it is (a pin of ``ruff``). A test then points git at them with
``url.<mirror>.insteadOf <github url>``; pre-commit clones them and builds the hook
environments from PyPI as usual.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import yaml

# The hooks of pre-commit-hooks a template may use (upstream's id, name, entry and file types).
PRE_COMMIT_HOOKS = [
    {
        "id": hook_id,
        "name": name,
        "entry": entry or hook_id,
        "language": "python",
        **({"types": [types]} if types else {}),
    }
    for hook_id, name, entry, types in (
        ("check-added-large-files", "check for added large files", "", ""),
        ("check-ast", "check python ast", "", "python"),
        ("check-case-conflict", "check for case conflicts", "", ""),
        ("check-json", "check json", "", "json"),
        ("check-merge-conflict", "check for merge conflicts", "", "text"),
        ("check-toml", "check toml", "", "toml"),
        ("check-yaml", "check yaml", "", "yaml"),
        ("debug-statements", "debug statements (python)", "debug-statement-hook", "python"),
        ("detect-private-key", "detect private key", "", "text"),
        ("end-of-file-fixer", "fix end of files", "", "text"),
        ("mixed-line-ending", "mixed line ending", "", "text"),
        ("trailing-whitespace", "trim trailing whitespace", "trailing-whitespace-fixer", "text"),
    )
]

NBSTRIPOUT_HOOKS = [
    {
        "id": "nbstripout",
        "name": "nbstripout",
        "entry": "nbstripout",
        "language": "python",
        "types": ["jupyter"],
    },
]

RUFF_HOOKS = [
    {
        "id": hook_id,
        "name": f"ruff {command}",
        "entry": f"ruff {command} --force-exclude",
        "language": "python",
        "types_or": ["python", "pyi", "jupyter"],
        "require_serial": True,
    }
    for hook_id, command in (("ruff-check", "check"), ("ruff", "check"), ("ruff-format", "format"))
]

# ruff-pre-commit is only a pin: a package that depends on ruff at the tag's version.
PIN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}-pre-commit"
version = "{version}"
dependencies = ["{name}=={version}"]

[tool.setuptools]
py-modules = []
"""


@dataclass(frozen=True)
class Recipe:
    """How to rebuild one hook repository: its PyPI sdist (None: write a pin of ``pins``)."""

    sdist: str | None
    hooks: list[dict[str, object]]
    pins: str = ""


RECIPES = {
    "https://github.com/pre-commit/pre-commit-hooks": Recipe("pre-commit-hooks", PRE_COMMIT_HOOKS),
    "https://github.com/kynan/nbstripout": Recipe("nbstripout", NBSTRIPOUT_HOOKS),
    "https://github.com/astral-sh/ruff-pre-commit": Recipe(None, RUFF_HOOKS, pins="ruff"),
}


@dataclass(frozen=True)
class HookRepo:
    """One ``repos:`` entry of a pre-commit config: where it lives and which tag it pins."""

    url: str
    rev: str

    @property
    def version(self) -> str:
        """The PyPI version behind the tag (``v6.0.0`` -> ``6.0.0``)."""
        return self.rev.removeprefix("v")


def hook_repos(config: Path) -> list[HookRepo]:
    """The remote repositories (not ``local`` / ``meta``) a ``.pre-commit-config.yaml`` names."""
    repos = yaml.safe_load(config.read_text(encoding="utf-8"))["repos"]
    return [
        HookRepo(entry["repo"], str(entry["rev"]))
        for entry in repos
        if entry["repo"] not in {"local", "meta"}
    ]


def _git(*args: str, cwd: Path) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    identity = ["-c", "user.name=Mirror", "-c", "user.email=mirror@example.com"]
    subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True, env=env)


def download_sdists(requirements: list[str], dest: Path) -> dict[str, Path]:
    """``pip download`` the sdists of ``name==version`` requirements (cached in ``dest``)."""
    dest.mkdir(parents=True, exist_ok=True)
    missing = [req for req in requirements if _find_sdist(req, dest) is None]
    if missing:
        subprocess.run(
            [
                *_pip(),
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(dest),
                *missing,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    found = {req: _find_sdist(req, dest) for req in requirements}
    return {req: path for req, path in found.items() if path is not None}


def _pip() -> list[str]:
    """pip itself, or pip run by uv when this environment has none (a uv-made venv)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    return [sys.executable, "-m", "uv", "tool", "run", "pip"]


def _find_sdist(requirement: str, folder: Path) -> Path | None:
    name, version = requirement.split("==")
    normal = name.replace("-", "_").lower()
    for path in folder.glob("*.tar.gz"):
        if path.name.lower() in {f"{normal}-{version}.tar.gz", f"{name}-{version}.tar.gz"}:
            return path
    return None


def _unpack(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        archive.extractall(dest, filter="data")
    return dest / top


def _commit_and_tag(source: Path, rev: str) -> None:
    _git("init", "--quiet", "--initial-branch=main", cwd=source)
    _git("add", "--all", "--force", cwd=source)
    _git("commit", "--quiet", "--message", f"mirror {rev}", cwd=source)
    _git("tag", rev, cwd=source)


def build_mirrors(repos: list[HookRepo], root: Path) -> dict[str, Path]:
    """Build one tagged local git repository per hook repo; map each URL to its mirror."""
    unknown = [repo.url for repo in repos if repo.url not in RECIPES]
    if unknown:
        raise ValueError(f"no offline mirror recipe for {unknown}: add one to tests/mirrors.py")
    wanted = {
        repo.url: f"{RECIPES[repo.url].sdist}=={repo.version}"
        for repo in repos
        if RECIPES[repo.url].sdist
    }
    sdists = download_sdists(list(wanted.values()), root / "sdists")
    mirrors: dict[str, Path] = {}
    for repo in repos:
        recipe = RECIPES[repo.url]
        if repo.url in wanted:
            source = _unpack(sdists[wanted[repo.url]], root / "src")
        else:
            source = root / "src" / f"{repo.url.rsplit('/', 1)[1]}-{repo.version}"
            source.mkdir(parents=True)
            (source / "pyproject.toml").write_text(
                PIN_PYPROJECT.format(name=recipe.pins, version=repo.version)
            )
        hooks_file = source / ".pre-commit-hooks.yaml"
        if not hooks_file.exists():  # neither sdist ships one
            hooks_file.write_text(yaml.safe_dump(recipe.hooks, sort_keys=False))
        _commit_and_tag(source, repo.rev)
        mirrors[repo.url] = source
    return mirrors


def point_git_at_mirrors(gitconfig: Path, mirrors: dict[str, Path]) -> None:
    """Add ``url.<file:// mirror>.insteadOf <url>`` rules to a (test-only) git config file.

    pre-commit drops ``GIT_CONFIG_GLOBAL`` from the environment of the git it runs, so the
    file must be the one git also finds on its own: ``$HOME/.gitconfig``.
    """
    for url, mirror in mirrors.items():
        subprocess.run(
            [
                "git",
                "config",
                "--file",
                str(gitconfig),
                "--add",
                f"url.{mirror.as_uri()}.insteadOf",
                url,
            ],
            check=True,
        )
