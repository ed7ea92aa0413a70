"""DVC remotes: ``scaffold add remote`` (the credentials, also given to ``scaffold new``, are
scaffold/credentials.py's).

One rule for where settings go: what everyone shares (the URL, an S3 endpoint) goes to the
committed ``.dvc/config``; what belongs to one user (a profile, keys, a credentials file) goes
to the git-ignored ``.dvc/config.local``. Credentials can also stay in the environment
(``AWS_ACCESS_KEY_ID`` ...), where DVC reads them itself; scaffold never copies them.

The files are edited with the template's stdlib helper (``hooks/dvc_remote.py``, the one the
post-generation hook uses); ``add_remote`` then has DVC's own config loader check the result in
a subprocess (``import dvc`` stays out of scaffold's process) before either file changes; both
are then saved as one change (``save_together``), under the project lock.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from scaffold import processes
from scaffold.credentials import Credentials, credential_options
from scaffold.errors import ScaffoldError
from scaffold.files import project_lock, read_text
from scaffold.hooks_api import DvcConfigFile, DvcRemote
from scaffold.project import find_root
from scaffold.resources import PACKAGED_TEMPLATE

REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# The DVC extra each remote type needs (``dvc[s3]`` ...); local remotes need none.
EXTRAS = {"s3": "s3", "gcs": "gs", "azure": "azure", "ssh": "ssh"}
SUPPORTED = "folder paths and s3://, gs://, azure:// or ssh:// URLs"
MEANT = {"gcs": "gs", "gc": "gs", "az": "azure", "sftp": "ssh"}  # schemes people try


@dataclass(frozen=True)
class AddedRemote:
    """What ``add_remote`` did (never holds a secret's value)."""

    name: str
    url: str  # as DVC stores it (a relative folder is relative to .dvc/)
    location: str  # the URL, or the local folder's absolute path
    remote_type: str
    default: bool
    shared_keys: tuple[str, ...]  # written to .dvc/config
    local_keys: tuple[str, ...]  # written to .dvc/config.local
    missing_extra: str  # a DVC extra (e.g. "s3") the project's pyproject.toml lacks, or ""
    clone_only: bool = False  # all of it in .dvc/config.local (``--local``)


def _check(name: str, url: str, endpoint_url: str, profile: str) -> tuple[str, list[str]]:
    """The remote type ``url`` names and the problems found (one sentence each)."""
    rules = PACKAGED_TEMPLATE.rules
    if not REMOTE_NAME.fullmatch(name):
        raise ScaffoldError(
            f"remote name {name!r} may only contain letters, digits, '.', '_' and '-', "
            "and must start with a letter or digit."
        )
    remote_type = rules.remote_type(url)
    if remote_type is None:
        scheme = url.split(":", 1)[0]
        known = MEANT.get(scheme.lower(), scheme.lower())
        if known in ("s3", "gs", "azure", "ssh"):
            raise ScaffoldError(f"URL {url!r} is malformed; write it as {known}://bucket/path.")
        raise ScaffoldError(
            f"unknown remote scheme {scheme!r} in {url!r}; scaffold adds {SUPPORTED} "
            "(use `dvc remote add` for other remote types)."
        )
    problems = [
        rules.remote_url_problem(remote_type, url, "URL"),
        rules.endpoint_url_problem(remote_type, endpoint_url, "--endpoint-url"),
        rules.profile_problem(remote_type, profile, "--profile"),
    ]
    return remote_type, [problem for problem in problems if problem]


def add_remote(
    name: str,
    url: str,
    *,
    default: bool = False,
    endpoint_url: str = "",
    profile: str = "",
    credentials: Credentials | None = None,
    force: bool = False,
    clone_only: bool = False,
    cwd: Path | None = None,
) -> AddedRemote:
    """Add DVC remote ``name`` to the project containing ``cwd`` (default: the current folder).

    A relative folder ``url`` is relative to ``cwd``, as with ``dvc remote add``. With
    ``clone_only`` (DVC's ``--local``) everything goes to the git-ignored .dvc/config.local,
    where it overrides a committed remote of the same name for this clone only. Raises
    ScaffoldError (and changes nothing) for bad input, an existing name without ``force``,
    or settings the real ``dvc`` rejects.
    """
    here = (cwd or Path.cwd()).resolve()
    remote_type, problems = _check(name, url, endpoint_url, profile)
    if problems:
        raise ScaffoldError(problems[0])
    local = credential_options(remote_type, credentials or Credentials(), here)
    if profile:
        local = {"profile": profile, **local}
    shared = {"endpointurl": endpoint_url} if endpoint_url else {}

    root = find_root(here)
    dvc_dir = root / ".dvc"
    module = PACKAGED_TEMPLATE.dvc_remote
    if not (dvc_dir / module.CONFIG).is_file():
        raise ScaffoldError(f"{root} has no DVC setup (no .dvc/config); run `dvc init` there.")
    with project_lock(root):
        config, local_config = _without_remote(module, root, name, force, clone_only)
        stored = module.stored_url(url, here, dvc_dir)
        target = local_config if clone_only else config
        module.set_remote(
            target, local_config, name, stored, default=default, shared=shared, local=local
        )
        _validate(dvc_dir, config.text(), local_config.text())
        keep_local = bool(local_config.lines) or local_config.path.is_file()
        shared_file = [] if clone_only else [(config, False)]
        module.save_together([*shared_file, *([(local_config, True)] if keep_local else [])])
    kept_shared = ("url", *shared)
    return AddedRemote(
        name=name,
        url=stored,
        location=(
            str((dvc_dir / os.path.expanduser(stored)).resolve()) if remote_type == "local" else url
        ),
        remote_type=remote_type,
        default=default,
        shared_keys=() if clone_only else kept_shared,
        local_keys=(*kept_shared, *local) if clone_only else tuple(local),
        missing_extra=_missing_extra(root, remote_type),
        clone_only=clone_only,
    )


def _without_remote(
    module: DvcRemote[DvcConfigFile], root: Path, name: str, force: bool, clone_only: bool
) -> tuple[DvcConfigFile, DvcConfigFile]:
    """The project's .dvc/config and .dvc/config.local (read under its lock), without remote
    ``name``; ScaffoldError if either has it and not ``force``. With ``clone_only`` only
    .dvc/config.local is looked at: the committed remote stays, overridden in this clone."""
    dvc_dir = root / ".dvc"
    module.recover(dvc_dir)
    paths = (dvc_dir / module.CONFIG, dvc_dir / module.LOCAL_CONFIG)
    for path in paths:
        if path.is_file():
            read_text(path, root)  # one sentence naming a file that is not text
    config, local_config = (module.ConfigFile(path) for path in paths)
    section = module.remote_section(name)
    for edited in (local_config,) if clone_only else (config, local_config):
        if edited.has_section(section) and not force:
            raise ScaffoldError(
                f"remote {name!r} already exists in {edited.path.relative_to(root)}; "
                "choose another name or give --force to replace it."
            )
        edited.remove_section(section)
    return config, local_config


def _missing_extra(root: Path, remote_type: str) -> str:
    """The DVC extra ``remote_type`` needs when the project's dependencies lack it."""
    extra = EXTRAS.get(remote_type, "")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    if not extra or re.search(rf"dvc\[[^\]]*\b{extra}\b[^\]]*\]", text):
        return ""
    return extra


# DVC's own loader checks every config file (system, global, .dvc/config, .dvc/config.local)
# against its schema. Its CLI has no read-only command that only does that: `dvc config` and
# `dvc remote` skip the check, and `dvc version` also imports the remote's plugin (dvc-gs ...).
_CHECK = """
import sys
try:
    from dvc.config import Config, ConfigError
except ImportError:
    sys.exit(3)
try:
    Config(dvc_dir=sys.argv[1])
except ConfigError as error:
    print(error, file=sys.stderr)
    sys.exit(1)
"""


def _validate(dvc_dir: Path, shared: str, local: str) -> None:
    """Let DVC read the new config files, in a subprocess; ScaffoldError with its message.

    The files are checked as copies in DVC's git-ignored scratch folder, so the real ones
    change only once DVC accepted them.
    """
    import tempfile

    scratch = Path(
        tempfile.mkdtemp(
            prefix="scaffold-check-", dir=PACKAGED_TEMPLATE.dvc_remote.scratch_dir(dvc_dir)
        )
    )
    try:
        (scratch / "config").write_text(shared, encoding="utf-8")
        if local:
            descriptor = os.open(scratch / "config.local", os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(local)
        result = processes.run(
            [sys.executable, "-c", _CHECK, str(scratch)],
            cwd=dvc_dir.parent,
            env={"DVC_NO_ANALYTICS": "1"},
            check=False,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result.returncode == 3:
        raise ScaffoldError("dvc is not installed beside scaffold; reinstall nbscaffold.")
    if not result.ok:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"]
        message = lines[-1].strip().rstrip(".")
        raise ScaffoldError(f"dvc rejected the remote settings ({message}); nothing was changed.")
