"""Template sources and versions: which template a project comes from, and at which version.

A source is a git repository laid out like scaffold's own (cookiecutter.json, copier.yml,
template/, hooks/): scaffold's repository or a team's fork, as a URL or a local path. A
version is a PEP 440 git tag such as ``v1.2.0``. Projects record both in .copier-answers.yml
as ``_src_path`` and ``_commit`` (copier's names), which is what ``scaffold update`` (copier)
needs to bring them to a newer version.

scaffold's version is its template's version: ``scaffold new`` without ``--template`` renders
the template packaged with it. From an installed wheel it records ``PACKAGED`` at
``v<scaffold version>`` (the release; ``scaffold update`` finds the old render in the project's
own history, see scaffold/update.py); from a source checkout (an editable install) it records
the checkout's path at its exact commit (``git describe --tags --always``), as cookiecutter
records a local checkout.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scaffold import __version__
from scaffold.errors import ScaffoldError
from scaffold.processes import find_tool, git_out
from scaffold.resources import PACKAGED_TEMPLATE, Template

if TYPE_CHECKING:
    from packaging.version import Version

DISTRIBUTION = "nbscaffold"
"""scaffold's name on the package index (``scaffold`` there is an unrelated project)."""
PACKAGED = f"pypi:{DISTRIBUTION}"
"""``_src_path`` of a project made from the template packaged in the scaffold wheel: the
template of release ``_commit`` of the nbscaffold distribution on the package index."""
LEGACY_PACKAGED = ("pypi:scaffold",)
"""What projects made before the rename recorded for the packaged template; an update
records ``PACKAGED`` instead."""

_SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
_DESCRIBED = re.compile(r"(?P<tag>.+)-(?P<count>\d+)-g(?P<hash>[0-9a-f]+)")


@dataclass(frozen=True)
class Source:
    """What a project records about its template: ``_src_path`` and ``_commit``."""

    src_path: str
    commit: str


def packaged_source() -> Source:
    """What a project made from the template packaged with this scaffold records: the
    release ``v<scaffold version>`` for a wheel, the checkout at its exact commit for a source
    checkout that is a git repository."""
    repo = PACKAGED_TEMPLATE.root
    git_program = find_tool("git")
    if repo.name != "_data" and git_program is not None:
        described = PACKAGED_TEMPLATE.template_source.describe(git_program, repo)
        if described:
            return Source(described["_src_path"], described["_commit"])
    return Source(PACKAGED, f"v{__version__}")


def is_packaged(src_path: str) -> bool:
    """True when ``src_path`` names the template packaged with scaffold (no git source),
    by its name or by the name projects recorded before the rename."""
    return src_path == PACKAGED or src_path in LEGACY_PACKAGED


def recorded_source(source: str) -> str:
    """``source`` as projects record it (hooks/template_source.py): a URL or absolute path."""
    return PACKAGED_TEMPLATE.template_source.recorded_source(source)


def git_url(source: str) -> str:
    """A location git can clone: ``gh:owner/name`` and ``gl:owner/name`` expanded."""
    source = PACKAGED_TEMPLATE.template_source.git_location(source)
    for shortcut, prefix in _SHORTCUTS.items():
        if source.startswith(shortcut):
            url = prefix + source[len(shortcut) :]
            return url if url.endswith(".git") else url + ".git"
    return source


def parse_version(commit: str) -> Version | None:
    """The PEP 440 version a recorded ``_commit`` stands for, read as copier reads it:
    ``v1.2`` is 1.2, ``v1.2-3-gabc1234`` (3 commits later) is 1.2.post3; None if neither."""
    from packaging.version import InvalidVersion, Version

    described = _DESCRIBED.fullmatch(commit)
    if described:
        commit = f"{described['tag']}.post{described['count']}+{described['hash']}"
    try:
        return Version(commit)
    except InvalidVersion:
        return None


def newest_tag(tags: list[str]) -> str | None:
    """The newest release among ``tags``: PEP 440 versions, pre-releases skipped (copier's
    choice of "the latest version")."""
    from packaging.version import InvalidVersion, Version

    releases = []
    for tag in tags:
        try:
            version = Version(tag)
        except InvalidVersion:
            continue
        if not version.is_prerelease:
            releases.append((version, tag))
    return max(releases)[1] if releases else None


def remote_tags(source: str) -> list[str]:
    """The tag names of a template source (``git ls-remote``: nothing is cloned)."""
    out = git_out("ls-remote", "--tags", "--refs", "--", clonable(source))
    return [line.split("\t", 1)[1].removeprefix("refs/tags/") for line in out.splitlines()]


def clonable(source: str) -> str:
    """``source`` as git clones it; a local source (a path or a ``file://`` URL) must be the
    top of a git repository, with a work tree or bare (``repo.git``)."""
    if is_packaged(source):
        raise ScaffoldError(
            f"{source} is the template packaged with scaffold, not a git repository; "
            "update such a project with `scaffold update` (no --template needed)."
        )
    location = git_url(source)
    if location.startswith("file://"):
        location = recorded_source(location)
    if PACKAGED_TEMPLATE.template_source.is_url(location):
        return location
    path = Path(location).expanduser()
    if not path.is_dir():
        raise ScaffoldError(f"template source {source} does not exist.")
    if find_tool("git") is None:
        raise ScaffoldError(
            f"git is not installed; scaffold needs it to read template source {source}."
        )
    if not _is_repository_top(path):
        raise ScaffoldError(
            f"template source {source} is not a git repository; scaffold reads template "
            "versions from its git tags."
        )
    return str(path.resolve())


def _is_repository_top(path: Path) -> bool:
    """True when ``path`` is the top of a work tree, or a bare repository itself."""
    try:
        bare = git_out("rev-parse", "--is-bare-repository", cwd=path) == "true"
        top = git_out("rev-parse", "--absolute-git-dir" if bare else "--show-toplevel", cwd=path)
    except ScaffoldError:
        return False
    return Path(top).resolve() == path.resolve()


@contextmanager
def checkout(source: str, ref: str | None = None) -> Iterator[tuple[Path, Source]]:
    """A temporary checkout of ``source`` at ``ref`` (default: its newest version tag, or
    its default branch when it has none), with what a project made from it records."""
    location = clonable(source)
    folder = Path(tempfile.mkdtemp(prefix="scaffold-template-"))
    try:
        repo = folder / "template-repo"
        git_out("clone", "--quiet", "--no-checkout", "--", location, str(repo))
        if not git_out("rev-parse", "--all", cwd=repo):
            raise ScaffoldError(
                f"template source {source} is an empty repository (no commits); "
                "push the template to it first."
            )
        wanted = ref or newest_tag(git_out("tag", "--list", cwd=repo).splitlines()) or "HEAD"
        commit = _resolve(repo, wanted)
        if commit is None:
            raise ScaffoldError(f"{ref or wanted!r} is not a tag, branch or commit of {source}.")
        git_out("-c", "advice.detachedHead=false", "checkout", "--quiet", commit, cwd=repo)
        if not (repo / "template" / "cookiecutter.json").is_file():
            raise ScaffoldError(
                f"{source} at {wanted} is not a scaffold template (no template/cookiecutter.json)."
            )
        described = git_out("describe", "--tags", "--always", cwd=repo)
        yield repo, Source(recorded_source(source), described)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _resolve(repo: Path, ref: str) -> str | None:
    if ref.startswith("-"):
        return None
    for candidate in (ref, f"origin/{ref}"):
        try:
            return git_out("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", cwd=repo)
        except ScaffoldError:
            continue
    return None


@contextmanager
def chosen_template(
    source: str | None, ref: str | None = None
) -> Iterator[tuple[Template, Source]]:
    """The template to render, ``source`` at ``ref`` (None: the packaged template), and
    what a project made from it records; a checkout lasts as long as this block."""
    if source is None:
        if ref is not None:
            raise ScaffoldError("--vcs-ref needs --template (it picks a version of that source).")
        yield PACKAGED_TEMPLATE, packaged_source()
        return
    with checkout(source, ref) as (repo, recorded):
        yield Template(repo), recorded
