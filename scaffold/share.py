"""scaffold share jupyterhub: the nbgitpuller link that pulls a project into a hub user's server.

nbgitpuller's link (``<hub>/hub/user-redirect/git-pull?repo=...&branch=...&urlpath=...``)
clones the repository into the user's home on the first click and merges later changes on the
next clicks without overwriting the user's edits. The link names the folder it clones into
(``targetpath``: the repository's name without ``.git``; nbgitpuller's own default keeps the
suffix), so ``urlpath`` opens ``lab/tree/<name>/<notebook>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from scaffold.errors import ScaffoldError
from scaffold.execution import resolve_notebook
from scaffold.files import Change, Write, apply, project_lock, read_text, relative
from scaffold.ipynb import NAME
from scaffold.layout import NOTEBOOKS_DIR
from scaffold.processes import git
from scaffold.project import Project

BADGE_ALT = "Open in JupyterHub"
BADGE_IMAGE = "https://img.shields.io/badge/JupyterHub-open-F37626?logo=jupyter"
_SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>[^/].*)$")


@dataclass(frozen=True)
class HubLink:
    """The link, what it pulls, and the README change ``--badge`` made (if any)."""

    url: str
    repo: str
    branch: str
    notebook: str  # the path the link opens, relative to the repository
    badge: str  # the Markdown badge line
    changes: tuple[Change, ...] = ()


def hub_base(hub: str) -> str:
    """The hub's base URL (``https://hub.example.org`` or with a prefix), without ``/hub``."""
    parts = urlsplit(hub.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScaffoldError(f"--hub {hub!r} is not an http(s) URL such as https://hub.example.org.")
    if parts.query or parts.fragment:
        raise ScaffoldError(f"--hub {hub!r} has a query or fragment; give the hub's address only.")
    path = parts.path.rstrip("/")
    path = path.removesuffix("/hub/home").removesuffix("/hub")
    return f"{parts.scheme}://{parts.netloc}{path}"


def public_url(remote: str) -> str:
    """A remote as the hub can clone it: ``git@host:owner/name.git`` becomes https."""
    match = _SCP_LIKE.match(remote)
    if match:
        return f"https://{match['host']}/{match['path']}"
    if remote.startswith("ssh://"):
        parts = urlsplit(remote)
        return f"https://{parts.hostname}{parts.path}"
    return remote


def repository(project: Project, repo: str | None) -> str:
    """The repository to pull: ``repo``, else the ``origin`` remote, else ``github_repo``."""
    if repo:
        return repo
    origin = git("remote", "get-url", "origin", cwd=project.root, check=False)
    if origin.ok and origin.text.strip():
        return public_url(origin.text.strip())
    github_repo = project.answers.get("github_repo", "")
    if github_repo:
        return f"https://github.com/{github_repo}"
    raise ScaffoldError(
        "the project has no git remote 'origin' and no recorded github_repo; "
        "give the repository with --repo URL."
    )


def current_branch(root: Path) -> str:
    """The checked-out branch (``main`` when there is none, e.g. outside git)."""
    found = git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=root, check=False)
    return found.text.strip() if found.ok and found.text.strip() else "main"


def notebook_path(root: Path, name: str | None, cwd: Path | None = None) -> str:
    """The notebook to open, relative to ``root``: ``name`` as ``scaffold run`` reads it (a
    path, a stem, or ``1.2``; ``cwd``: where a relative path starts, the root by default),
    else the first numbered notebook."""
    if name is not None:
        return relative(resolve_notebook(root, name, cwd or root), root)
    numbered = sorted(
        (int(m["phase"]), int(m["seq"]), path.name)
        for path in (root / NOTEBOOKS_DIR).glob("*.ipynb")
        if (m := NAME.match(path.stem))
    )
    if not numbered:
        raise ScaffoldError(f"{NOTEBOOKS_DIR}/ has no numbered notebook; name one with --notebook.")
    return f"{NOTEBOOKS_DIR}/{numbered[0][2]}"


def with_badge(readme: str, badge: str) -> str:
    """The README with the hub badge among the badges under its title (replacing an old one)."""
    lines = readme.splitlines()
    kept = [line for line in lines if not line.startswith(f"[![{BADGE_ALT}]")]
    title = 1 if kept and kept[0].startswith("# ") else 0
    last = None
    at = title
    while at < len(kept) and (not kept[at].strip() or kept[at].startswith("[![")):
        if kept[at].startswith("[!["):
            last = at
        at += 1
    if last is not None:
        kept.insert(last + 1, badge)
    else:
        kept[title:title] = ["", badge] if title else [badge, ""]
    return "\n".join(kept) + "\n"


def jupyterhub_link(
    project: Project,
    hub: str,
    *,
    notebook: str | None = None,
    branch: str | None = None,
    repo: str | None = None,
    badge: bool = False,
    cwd: Path | None = None,
) -> HubLink:
    """The nbgitpuller link for ``project`` on ``hub``; with ``badge``, add it to README.md
    (``cwd``: where a relative ``notebook`` path starts)."""
    root = project.root
    url_of_repo = repository(project, repo)
    name = url_of_repo.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or root.name
    opened = notebook_path(root, notebook, cwd)
    chosen = branch or current_branch(root)
    query = urlencode(
        {
            "repo": url_of_repo,
            "branch": chosen,
            "targetpath": name,
            "urlpath": f"lab/tree/{name}/{opened}",
        },
        quote_via=quote,
        safe="",
    )
    url = f"{hub_base(hub)}/hub/user-redirect/git-pull?{query}"
    line = f"[![{BADGE_ALT}]({BADGE_IMAGE})]({url})"
    changes: tuple[Change, ...] = ()
    if badge:
        path = root / "README.md"
        with project_lock(root):
            existed = path.is_file()
            old = read_text(path, root) if existed else f"# {root.name}\n"
            new = with_badge(old, line)
            if new != old or not existed:
                apply([Write(path, new, create=not existed)], root)
                changes = (Change("update" if existed else "create", "README.md"),)
    return HubLink(url, url_of_repo, chosen, opened, line, changes)
